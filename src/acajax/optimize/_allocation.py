"""Splitting a total budget among M collectives (SPEC §7).

:func:`allocation_value` is the exact S_min or S_w of the clipped bounds of
an allocation; :func:`allocate_masses` maximises it over the simplex of
masses summing to a budget, through masses = budget * softmax(logits) and
the shared optax loop, and scores the simplex vertices for S_w.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from acajax import _checks
from acajax.optimize._common import (
    OBJECTIVES,
    STRATEGIES,
    _check_int,
    _check_scalar,
    _check_strategy_params,
    _check_targets_values,
    _float_dtype,
    _metric,
    _nan_to_neg_inf,
    _num_collectives,
    _problem,
    _scenario_bounds,
    _smooth_metric,
)
from acajax.optimize._restarts import (
    Schedule,
    _optimizer,
    _run_restarts,
    _schedule,
    _static_search_args,
)


class Allocation(NamedTuple):
  """Result of :func:`allocate_masses`.

  Attributes:
    masses: (M,) the chosen masses, non-negative, summing to ``budget``.
    value: () the exact objective (S_min or S_w of the clipped bounds) at
      ``masses``.
    history: (steps,) the best exact objective of the gradient iterates so
      far, per step (the best over restarts); a vertex chosen for S_w is
      scored after the run, so ``value`` can exceed ``history[-1]``.
  """
  masses: jax.Array
  value: jax.Array
  history: jax.Array


@functools.partial(jax.jit, static_argnames=("objective", "strategy"))
def _allocation_value_core(masses, problem, *, objective, strategy):
  return _metric(masses, _scenario_bounds(masses, problem, strategy, True), objective)


def allocation_value(masses: ArrayLike, *, targets: ArrayLike, xi_c: ArrayLike, xi: ArrayLike,
                     eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                     objective: str = "min", strategy: str = "feature_label") -> jax.Array:
  """The exact objective of an allocation: S_min or S_w of the clipped bounds (SPEC §7).

  Zero masses are allowed (the boundary of the simplex): a collective without
  members weighs nothing in S_w and counts as 0 in S_min.

  Args:
    masses: (M,) non-negative masses with sum < 1.
    targets: (M,) integer labels or (M, K) soft one-hot targets.
    xi_c, xi: rarity and uniqueness, scalars or (M,).
    eps: suboptimality, a scalar.
    delta: difficulty (feature-label), scalar or (M,).
    p: positivity (feature-only), scalar or (M,).
    objective: ``"min"`` (S_min) or ``"weighted"`` (S_w).
    strategy: ``"feature_label"`` or ``"feature_only"``.

  Returns:
    () the exact objective; NaN out of domain.

  Raises:
    ValueError, TypeError: bad names, shapes or dtypes, naming the argument.

  Examples:
    SPEC §10 (S_min bound .375, S_w bound .62125):

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> kw = dict(targets=jnp.array([1, 0, 1]), xi_c=jnp.array([.01, .02, .005]),
    ...           xi=.05, delta=jnp.array([.6, .4, .8]), eps=.1)
    >>> alpha = jnp.array([.05, .03, .02])
    >>> round(float(optimize.allocation_value(alpha, **kw)), 5)
    0.375
    >>> round(float(optimize.allocation_value(alpha, objective="weighted", **kw)), 5)
    0.62125
  """
  _checks.check_choice("objective", objective, OBJECTIVES)
  _checks.check_choice("strategy", strategy, STRATEGIES)
  _check_strategy_params(strategy, delta, p)
  num = _num_collectives(targets)
  _checks.dtype_of("masses", masses)
  if tuple(jnp.shape(masses)) != (num,):
    raise ValueError(f"masses must have shape ({num},) to match targets, got {jnp.shape(masses)}")
  dtype = _float_dtype(masses=masses, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p)
  problem = _problem(num, targets=targets, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                     dtype=dtype)
  return _allocation_value_core(jnp.asarray(masses, dtype), problem, objective=objective,
                                strategy=strategy)


class _AllocationRun(NamedTuple):
  """What :func:`_allocate_core` returns; root finding also needs the logits."""
  masses: jax.Array
  value: jax.Array
  history: jax.Array
  logits: jax.Array      # logits of the chosen restart (meaningless for a vertex)


@functools.partial(jax.jit, static_argnames=("objective", "strategy", "steps", "restarts",
                                             "optimizer", "temperature"))
def _allocate_core(budget, problem, key, *, objective, strategy, steps, restarts, optimizer,
                   temperature) -> _AllocationRun:
  """One allocation; ``optimizer`` and ``temperature`` come as ``Static`` (hyperparameter keys)."""
  num = problem.xi_c.shape[0]
  dtype = problem.xi_c.dtype
  budget = jnp.asarray(budget, dtype)
  valid = (budget > 0) & (budget < 1)
  # Out of domain: optimise a harmless stand-in, report NaN (SPEC §11).
  safe_budget = jnp.where(valid, budget, 0.5)
  opt = _optimizer(optimizer, steps)
  tau_at = _schedule(temperature, steps)

  def masses_of(logits):
    return safe_budget * jax.nn.softmax(logits)

  def exact(logits):
    masses = masses_of(logits)
    return _metric(masses, _scenario_bounds(masses, problem, strategy, True), objective)

  def loss(logits, tau):
    masses = masses_of(logits)
    raw = _scenario_bounds(masses, problem, strategy, False)
    # The exact objective comes with the forward pass: the clipped bounds are
    # the raw ones clipped to [0, 1] (NaN stays NaN).
    exact_value = _metric(masses, jnp.clip(raw, 0, 1), objective)
    return -_smooth_metric(masses, raw, objective, tau), exact_value

  # Restart 0 is the uniform split; the others start at random splits. Each
  # restart keeps its best iterate (its logits) by the exact objective.
  logits = jax.random.normal(key, (restarts, num), dtype).at[0].set(0)
  best_logits, best_value, _, history = _run_restarts(loss, exact, lambda z: z, logits, opt,
                                                      tau_at, steps, loss_scores=True)
  candidates = jax.vmap(masses_of)(best_logits)
  values = best_value
  if objective == "weighted":
    # With abar fixed, alpha_c max(0, B_c) is convex in the masses (B_c alpha_c
    # is affine, SPEC §7), so S_w is maximised at a vertex of the simplex, where
    # gradients through a softmax only creep: score the M vertices exactly.
    vertices = safe_budget * jnp.eye(num, dtype=dtype)
    vertex_values = jax.vmap(lambda m: _metric(m, _scenario_bounds(m, problem, strategy, True),
                                               objective))(vertices)
    candidates = jnp.concatenate([candidates, vertices])
    values = jnp.concatenate([values, _nan_to_neg_inf(vertex_values)])
  index = jnp.argmax(values)
  nan = jnp.asarray(jnp.nan, dtype)
  valid = valid & jnp.isfinite(values[index])
  return _AllocationRun(
      masses=jnp.where(valid, candidates[index], nan),
      value=jnp.where(valid, values[index], nan),
      history=jnp.where(valid, history, nan),
      logits=best_logits[jnp.minimum(index, restarts - 1)])


def _check_budget(budget) -> None:
  _check_scalar("budget", budget)
  if _checks.is_concrete(budget):
    value = float(np.asarray(budget))
    if not 0 < value < 1:
      raise ValueError(f"budget must lie in (0, 1) (the total mass abar < 1, SPEC §1), "
                       f"got {value!r}")


def allocate_masses(budget: ArrayLike, *, targets: ArrayLike, xi_c: ArrayLike, xi: ArrayLike,
                    eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                    objective: str = "min", strategy: str = "feature_label",
                    optimizer: optax.GradientTransformation | None = None, steps: int = 200,
                    restarts: int = 4, temperature: tuple[float, float] | Schedule = (0.1, 1e-3),
                    seed: ArrayLike = 0) -> Allocation:
  r"""Splits a total budget among M collectives to maximise S_min or S_w (SPEC §7).

  Maximises, over masses alpha on the simplex {alpha >= 0, sum alpha =
  ``budget``}, the S_min bound min_c B_c (``objective="min"``) or the S_w
  bound sum_c alpha_c B_c / abar (``"weighted"``) of the clipped closed-form
  bounds B_c (Theorem 1 or the sound Theorem 2, :func:`bounds.scenario_bounds`).

  Method: masses = budget * softmax(logits); a smooth objective (a soft-min of
  the raw bounds for S_min, a softplus envelope for S_w; the sharpness ``tau``
  follows ``temperature``) is maximised by ``optimizer`` from ``restarts``
  starts at once (the uniform split and random splits, vmapped). Each
  restart's best iterate by the *exact* objective is kept; for S_w the M
  vertices of the simplex are scored too (S_w is convex in the masses at
  fixed abar, so its maximum is a vertex: everyone joins the one collective
  with the best bound). The best candidate is returned with its exact value.
  The raw S_min is quasi-concave in the masses (each B_c is linear-fractional
  in alpha), so a local optimum is global and restarts guard the rest.

  Args:
    budget: total mass abar, a scalar in (0, 1).
    targets: (M,) integer labels, or (M, K) soft one-hot targets.
    xi_c: rarity per collective, scalar or (M,).
    xi: global uniqueness, scalar or (M,).
    eps: suboptimality, a scalar in [0, 1/2).
    delta: difficulty (required for ``strategy="feature_label"``), scalar or (M,).
    p: positivity (required for ``strategy="feature_only"``), scalar or (M,).
    objective: ``"min"`` or ``"weighted"``.
    strategy: ``"feature_label"`` (Theorem 1) or ``"feature_only"`` (sound Theorem 2).
    optimizer: any optax optimiser; default Adam, step size 0.1 cosine-decayed.
    steps: optimisation steps.
    restarts: parallel starts (restart 0 is the uniform split).
    temperature: soft-min sharpness schedule: ``(start, end)`` for geometric
      decay over ``steps``, or a callable ``step -> tau``.
    seed: seed of the random starts (an int, or a traced integer).

  Returns:
    An :class:`Allocation`; NaN fields when ``budget`` or a parameter is out
    of domain under tracing.

  Raises:
    ValueError: ``budget`` outside (0, 1) (when concrete), unknown
      ``objective``/``strategy``, a missing ``delta``/``p``, shapes that do
      not match the targets, bad ``steps``/``restarts``/``temperature``.
    TypeError: non-numeric arguments, or an ``optimizer`` that is not an
      optax transformation.

  Examples:
    The SPEC §10 scenario with a budget of 0.1: the best split for S_min
    raises the worst bound from .375 (masses .05, .03, .02) to about .61.

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> out = optimize.allocate_masses(.1, targets=jnp.array([1, 0, 1]),
    ...     xi_c=jnp.array([.01, .02, .005]), xi=.05, delta=jnp.array([.6, .4, .8]),
    ...     eps=.1)
    >>> print(out.masses.round(3), round(float(out.value), 2))
    [0.032 0.045 0.023] 0.61
  """
  _checks.check_choice("objective", objective, OBJECTIVES)
  _checks.check_choice("strategy", strategy, STRATEGIES)
  _check_strategy_params(strategy, delta, p)
  _check_budget(budget)
  num = _num_collectives(targets)
  _check_targets_values(targets)
  steps = _check_int("steps", steps, 1)
  restarts = _check_int("restarts", restarts, 1)
  optimizer, temperature = _static_search_args(optimizer, temperature)
  dtype = _float_dtype(budget=budget, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                       targets=targets if jnp.ndim(targets) == 2 else None)
  problem = _problem(num, targets=targets, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                     dtype=dtype)
  run = _allocate_core(jnp.asarray(budget, dtype), problem, jax.random.key(seed),
                       objective=objective, strategy=strategy, steps=steps, restarts=restarts,
                       optimizer=optimizer, temperature=temperature)
  return Allocation(masses=run.masses, value=run.value, history=run.history)

