"""Strategy optimisation: masses, critical budgets, signal points, targets.

Four questions a group of collectives can ask, each answered by one function
built on the closed-form bounds (:mod:`acajax.bounds`, SPEC §4–§8) or on the
exact engine (:mod:`acajax.mixtures`, SPEC §2):

* :func:`allocate_masses` — how to split a total participation budget among M
  collectives to maximise the S_min or S_w bound (SPEC §7);
* :func:`critical_budget` — the smallest total budget at which every
  collective's bound reaches a target s, for given or optimised shares
  (SPEC §8);
* :func:`place_signals` — which point of a finite X each collective should
  send its members to, maximising the exact S_min or S_w of worst-case
  success (SPEC §2);
* :func:`choose_targets`, :func:`enumerate_targets` and
  :func:`coalition_gains` — which targets to pick, and who gains from joining
  whom (alignment, SPEC §3–§4).

Each optimiser follows one recipe: a smooth relaxation (softmax masses, soft
one-hot targets, softmax signal choices; a soft-min or softplus in place of
``min`` and ``clip``) is optimised by an optax optimiser from several
restarts at once (``vmap``), the sharpness follows a schedule (annealed), and
the answer is scored **exactly**: the reported ``value`` is the exact
clipped metric of the returned choice, and every candidate (each restart's
best iterate, the vertices of the simplex, a coordinate-ascent polish of the
discrete choices) is compared on that exact value.

Every function takes **one problem** and is jittable and vmappable; batching
is the caller's ``jax.vmap`` (1,000 allocation problems are one call, see
``benchmarks/bench_optimize.py``). Hyperparameters are keyword-only; the
optimiser is any ``optax.GradientTransformation`` (default: Adam with a
cosine-decayed step size), the temperature any schedule (a ``(start, end)``
pair for geometric decay, or a callable of the step). Static mistakes (names,
shapes, dtypes) raise ``ValueError``/``TypeError`` naming the argument;
values are checked when concrete (a ``budget`` outside (0, 1) raises) and give
NaN when traced (SPEC §11).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from acajax import _checks, bounds, mixtures

__all__ = [
    "Allocation",
    "CoalitionGains",
    "CriticalBudget",
    "Placement",
    "TargetChoice",
    "allocate_masses",
    "allocation_value",
    "choose_targets",
    "coalition_gains",
    "critical_budget",
    "enumerate_targets",
    "place_signals",
    "placement_value",
    "targets_value",
]

OBJECTIVES = ("min", "weighted")
STRATEGIES = bounds.STRATEGIES
METHODS = ("auto", "closed_form", "root")

# Logits are kept in [-30, 30]: softmax weights stay above e^-60 (positive in
# float32, so every mass stays in the bounds' domain alpha > 0) whatever the
# optimiser does.
_LOGIT_LIMIT = 30.0

Schedule = Callable[[jax.Array], jax.Array]


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


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


class CriticalBudget(NamedTuple):
  """Result of :func:`critical_budget`.

  Attributes:
    budget: () the smallest total mass at which every bound reaches the
      target; ``inf`` when no budget below 1 does, NaN out of domain, 0 when
      every positive budget does (0 is then the infimum).
    masses: (M,) masses at ``budget`` that reach the target (the given shares
      times ``budget``, or the optimised split); NaN when infeasible. With
      optimised shares an entry can be 0: that collective needs no members
      (any positive mass reaches s; ``budget`` is then an infimum).
    feasible: () bool, True where ``budget`` is finite.
  """
  budget: jax.Array
  masses: jax.Array
  feasible: jax.Array


class Placement(NamedTuple):
  """Result of :func:`place_signals`.

  Attributes:
    signal_points: (M,) int, the point each collective sends all its members'
      features to.
    value: () the exact S_min or S_w of worst-case success at these points.
    history: (steps,) the best exact objective of the rounded (argmax) choice
      found so far, per step (the best over restarts).
  """
  signal_points: jax.Array
  value: jax.Array
  history: jax.Array


class TargetChoice(NamedTuple):
  """Result of :func:`choose_targets`.

  Attributes:
    targets: (M,) int, the chosen target labels.
    value: () the exact objective (S_min or S_w of the clipped bounds) at
      ``targets``.
    soft_targets: (M, K) the relaxed (soft one-hot) targets of the restart
      the choice came from, at the end of optimisation.
    history: (steps,) the best exact objective of the rounded choice found
      so far, per step (the best over restarts).
  """
  targets: jax.Array
  value: jax.Array
  soft_targets: jax.Array
  history: jax.Array


class CoalitionGains(NamedTuple):
  """Result of :func:`coalition_gains`.

  Attributes:
    value: () the objective at the given targets.
    bounds: (M,) the clipped bounds at the given targets.
    joined_bounds: (M, M, M); ``[i, j]`` holds every collective's bound when
      collective j adopts collective i's target (``[i, i]`` is ``bounds``).
    gain: (M, M); ``[i, j]`` the change of the objective when j joins i (adopts
      i's target); 0 on the diagonal and where the two already share a target.
  """
  value: jax.Array
  bounds: jax.Array
  joined_bounds: jax.Array
  gain: jax.Array


# --------------------------------------------------------------------------
# Problems and checks
# --------------------------------------------------------------------------


class _Problem(NamedTuple):
  """The closed-form parameters of one scenario, as arrays (SPEC §3)."""
  targets: jax.Array        # (M,) int or (M, K) soft one-hot
  xi_c: jax.Array           # (M,)
  xi: jax.Array             # (M,)
  eps: jax.Array            # ()
  delta: jax.Array | None   # (M,) or, for target choice, (M, K)
  p: jax.Array | None       # (M,) or, for target choice, (M, K)


def _is_concrete(*values) -> bool:
  leaves = jax.tree_util.tree_leaves(values)
  return not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def _check_scalar(name: str, value) -> None:
  _checks.dtype_of(name, value)
  if jnp.ndim(value) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")


def _check_int(name: str, value, minimum: int) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
  return int(value)


def _check_optimizer(optimizer) -> None:
  if optimizer is not None and not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
    raise TypeError("optimizer must be an optax.GradientTransformation or None, got "
                    f"{type(optimizer).__name__}")


def _check_temperature(temperature) -> None:
  if callable(temperature):
    return
  if (not isinstance(temperature, tuple) or len(temperature) != 2
      or not all(isinstance(t, (int, float)) and t > 0 for t in temperature)):
    raise ValueError("temperature must be a (start, end) pair of positive floats or a "
                     f"callable schedule step -> temperature, got {temperature!r}")


def _check_strategy_params(strategy: str, delta, p) -> None:
  if strategy == "feature_label":
    if delta is None:
      raise ValueError("delta is required when strategy='feature_label'")
    if p is not None:
      raise ValueError("p is only used when strategy='feature_only'; pass delta instead")
  else:
    if p is None:
      raise ValueError("p is required when strategy='feature_only'")
    if delta is not None:
      raise ValueError("delta is only used when strategy='feature_label'; pass p instead")


def _num_collectives(targets, *, soft_ok: bool = True) -> int:
  """M from the targets; checks their shape and dtype."""
  dtype = _checks.dtype_of("targets", targets)
  shape = tuple(jnp.shape(targets))
  if len(shape) == 1 and jnp.issubdtype(dtype, jnp.integer) and shape[0] >= 1:
    return shape[0]
  if soft_ok and len(shape) == 2 and jnp.issubdtype(dtype, jnp.floating) and shape[0] >= 1:
    return shape[0]
  allowed = "(M,) integer labels" + (" or (M, K) float soft one-hot weights" if soft_ok else "")
  raise ValueError(f"targets must be {allowed}; got shape {shape} and dtype {dtype}")


def _check_targets_values(targets, num_labels: int | None = None) -> None:
  if not _is_concrete(targets):
    return
  array = np.asarray(targets)
  if np.issubdtype(array.dtype, np.integer):
    top = num_labels if num_labels is not None else np.inf
    if np.any(array < 0) or np.any(array >= top):
      raise ValueError(f"targets must be labels in [0, {top}), got {array.tolist()}")
    return
  if not np.all(np.isfinite(array)) or np.any(array < 0):
    raise ValueError("soft targets must be finite and non-negative")
  if np.any(np.abs(array.sum(axis=-1) - 1) > 1e-5):
    raise ValueError("soft targets rows must sum to 1 (tolerance 1e-5), got row sums "
                     f"{array.sum(axis=-1).round(6).tolist()}")


def _problem(num: int, *, targets, xi_c, xi, eps, delta, p, dtype,
             per_label: int | None = None) -> _Problem:
  """Checks per-collective shapes and returns the arrays in ``dtype``.

  ``per_label`` (K) also allows (M, K) ``delta`` and ``p``: a difficulty or
  positivity per collective and candidate label (target choice).
  """
  _check_scalar("eps", eps)
  fields = {}
  for name, value in dict(xi_c=xi_c, xi=xi, delta=delta, p=p).items():
    if value is None:
      fields[name] = None
      continue
    _checks.dtype_of(name, value)
    shape = tuple(jnp.shape(value))
    if per_label is not None and name in ("delta", "p") and shape == (num, per_label):
      fields[name] = jnp.asarray(value, dtype)
      continue
    if shape not in ((), (num,)):
      per = per_label is not None and name in ("delta", "p")
      extra = f" or ({num}, {per_label})" if per else ""
      raise ValueError(f"{name} must be a scalar or have shape ({num},){extra}; got shape {shape}")
    fields[name] = jnp.broadcast_to(jnp.asarray(value, dtype), (num,))
  targets = jnp.asarray(targets)
  if jnp.issubdtype(targets.dtype, jnp.floating):
    targets = targets.astype(dtype)
  return _Problem(targets=targets, eps=jnp.asarray(eps, dtype), **fields)


def _float_dtype(**named):
  """The float dtype of the arguments (checked first, so errors name them)."""
  values = [v for v in named.values() if v is not None]
  for name, value in named.items():
    if value is not None:
      _checks.dtype_of(name, value)
  return _checks.float_dtype(*values)


def _schedule(temperature, steps: int) -> Schedule:
  """A (start, end) pair -> geometric decay over ``steps``; callables unchanged."""
  if callable(temperature):
    return temperature
  start, end = (float(t) for t in temperature)

  def schedule(step):
    return start * (end / start) ** (step / max(steps - 1, 1))
  return schedule


def _default_optimizer(steps: int, learning_rate: float) -> optax.GradientTransformation:
  return optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01))


def _nan_to_neg_inf(values: jax.Array) -> jax.Array:
  return jnp.where(jnp.isnan(values), -jnp.inf, values)


# --------------------------------------------------------------------------
# Objectives (SPEC §7)
# --------------------------------------------------------------------------


def _scenario_bounds(masses, problem: _Problem, strategy: str, clip: bool) -> jax.Array:
  return bounds.scenario_bounds(masses, problem.targets, xi_c=problem.xi_c, xi=problem.xi,
                                eps=problem.eps, delta=problem.delta, p=problem.p,
                                strategy=strategy, clip=clip)


def _metric(masses: jax.Array, values: jax.Array, objective: str) -> jax.Array:
  """Exact S_min or S_w of per-collective values (SPEC §7).

  A collective with zero mass has no members: it weighs nothing in S_w and
  counts as 0 in S_min (its bound, defined for alpha > 0 only, is NaN).
  """
  alive = masses > 0
  values = jnp.where(alive, values, 0)
  if objective == "min":
    return jnp.min(values)
  return jnp.sum(jnp.where(alive, masses * values, 0)) / jnp.sum(masses)


def _smooth_metric(masses: jax.Array, raw: jax.Array, objective: str, tau) -> jax.Array:
  """Smooth stand-in for :func:`_metric` of the clipped bounds, from raw bounds.

  S_min: a soft-min, -tau logsumexp(-B/tau), of the *raw* bounds. Clipping
  is monotone, so the raw and the clipped min have the same maximisers
  wherever the optimum is positive (and where it is not, every split scores
  0); the raw bound keeps a gradient where the clipped one is flat at 0, and
  (being below 1 always) is never cut at the top.
  S_w: sum_c alpha_c tau softplus(B_c / tau) / abar, a smooth upper envelope
  of alpha_c max(0, B_c): here the clipping matters (the raw S_w only
  rewards merging targets, SPEC §7), so it is smoothed rather than dropped.
  """
  if objective == "min":
    return -tau * jax.nn.logsumexp(-raw / tau)
  return jnp.sum(masses * tau * jax.nn.softplus(raw / tau)) / jnp.sum(masses)


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


# --------------------------------------------------------------------------
# Allocation of a budget (SPEC §7)
# --------------------------------------------------------------------------


class _AllocationRun(NamedTuple):
  masses: jax.Array
  value: jax.Array
  history: jax.Array
  logits: jax.Array      # logits of the chosen restart (meaningless for a vertex)


@functools.partial(jax.jit, static_argnames=("objective", "strategy", "steps", "restarts",
                                             "optimizer", "temperature"))
def _allocate_core(budget, problem, key, *, objective, strategy, steps, restarts, optimizer,
                   temperature) -> _AllocationRun:
  num = problem.xi_c.shape[0]
  dtype = problem.xi_c.dtype
  budget = jnp.asarray(budget, dtype)
  valid = (budget > 0) & (budget < 1)
  # Out of domain: optimise a harmless stand-in, report NaN (SPEC §11).
  safe_budget = jnp.where(valid, budget, 0.5)
  opt = optimizer if optimizer is not None else _default_optimizer(steps, 0.1)
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

  grad = jax.vmap(jax.grad(loss, has_aux=True), in_axes=(0, None))
  # Restart 0 is the uniform split; the others start at random splits.
  logits = jax.random.normal(key, (restarts, num), dtype).at[0].set(0)
  state = jax.vmap(opt.init)(logits)
  best = (logits, jnp.full((restarts,), -jnp.inf, dtype))

  def keep_best(best, logits, value=None):
    if value is None:
      value = jax.vmap(exact)(logits)
    value = _nan_to_neg_inf(value)
    better = value > best[1]
    return (jnp.where(better[:, None], logits, best[0]), jnp.where(better, value, best[1]))

  def step(carry, i):
    logits, state, best = carry
    grads, value = grad(logits, jnp.asarray(tau_at(i), dtype))
    best = keep_best(best, logits, value)
    updates, state = jax.vmap(opt.update)(grads, state, logits)
    logits = jnp.clip(optax.apply_updates(logits, updates), -_LOGIT_LIMIT, _LOGIT_LIMIT)
    return (logits, state, best), jnp.max(best[1])

  (logits, _, best), history = jax.lax.scan(step, (logits, state, best), jnp.arange(steps))
  best_logits, best_value = keep_best(best, logits)
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
  if _is_concrete(budget):
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
  _check_optimizer(optimizer)
  _check_temperature(temperature)
  dtype = _float_dtype(budget=budget, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                       targets=targets if jnp.ndim(targets) == 2 else None)
  problem = _problem(num, targets=targets, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                     dtype=dtype)
  run = _allocate_core(jnp.asarray(budget, dtype), problem, jax.random.key(seed),
                       objective=objective, strategy=strategy, steps=steps, restarts=restarts,
                       optimizer=optimizer, temperature=temperature)
  return Allocation(masses=run.masses, value=run.value, history=run.history)


# --------------------------------------------------------------------------
# Critical budget (SPEC §8)
# --------------------------------------------------------------------------


def _alignment(targets: jax.Array, num: int, dtype) -> jax.Array:
  """a[j, c]: 1[y_j = y_c] (or <w_j, w_c> for soft targets), zero diagonal."""
  if jnp.issubdtype(targets.dtype, jnp.integer):
    same = (targets[:, None] == targets[None, :]).astype(dtype)
  else:
    same = targets @ targets.T
  return same * (1 - jnp.eye(num, dtype=dtype))


def _smallest_in_intervals(const: jax.Array, slope: jax.Array) -> jax.Array:
  """Smallest b in [0, 1) with const_i + slope_i b <= 0 for every i, else inf.

  The conditions hold on an interval; 0 is returned when it is (0, u) with
  u > 0 (0 is then the infimum, every small positive budget works).
  """
  inf = jnp.asarray(jnp.inf, const.dtype)
  negative, positive = slope < 0, slope > 0
  ratio = -const / jnp.where(slope == 0, 1, slope)
  lower = jnp.max(jnp.where(negative, ratio, 0), initial=0.0)
  upper = jnp.min(jnp.where(positive, ratio, inf), initial=inf)
  flat_ok = jnp.all(jnp.where(slope == 0, const <= 0, True))
  # Budgets are positive: an interval that ends at 0 is empty.
  return jnp.where(flat_ok & (lower <= upper) & (upper > 0) & (lower < 1), lower, inf)


def _first_root_convex(fn, points: jax.Array) -> jax.Array:
  """Smallest b in [0, 1) with fn(b) <= 0, for fn convex and linear between ``points``.

  ``points`` must contain 0, 1 and every kink of ``fn`` in between.
  """
  points = jnp.sort(points)
  values = jax.vmap(fn)(points)
  hit = values <= 0
  first = jnp.argmax(hit)
  prev = jnp.maximum(first - 1, 0)
  width = points[first] - points[prev]
  drop = values[prev] - values[first]
  step = jnp.where(drop > 0, values[prev] / jnp.where(drop > 0, drop, 1), 0)
  root = jnp.where(first == 0, points[0], points[prev] + step * width)
  return jnp.where(jnp.any(hit) & (root < 1), root, jnp.inf)


def _critical_terms(target, problem: _Problem, strategy: str):
  """Per-collective coefficients of 'B_c >= s' at total b with own mass a, misaligned m.

  B_c >= s  <=>  rarity_c(b) + compete_c * m <= need_c * a, with rarity_c(b)
  = scale_c * max(0, kink_const_c + kink_slope_c * b) (a plain line for FL).
  """
  eps = problem.eps
  s = target
  if strategy == "feature_label":
    # FL (SPEC §4): A_c (1 - b) + B_c m <= (1 - s) a.
    rarity = problem.xi_c * (problem.delta + 2 * eps) / (1 - 2 * eps)
    compete = problem.xi * (1 + 2 * eps) / (1 - 2 * eps)
    need = jnp.broadcast_to(1 - s, rarity.shape)
    return dict(kind="line", rarity_const=rarity, rarity_slope=-rarity, compete=compete,
                need=need)
  # FO sound (SPEC §5): xi_c max(0, 1 + 2 eps - (2 - b) p) + xi (1 + 2 eps) m
  #                     <= (1 - s)(1 - 2 eps) p a.
  compete = problem.xi * (1 + 2 * eps)
  need = (1 - s) * (1 - 2 * eps) * problem.p
  return dict(kind="kink", scale=problem.xi_c, kink_const=1 + 2 * eps - 2 * problem.p,
              kink_slope=problem.p, compete=compete, need=need)


def _rarity_at(terms, b):
  if terms["kind"] == "line":
    return terms["rarity_const"] + terms["rarity_slope"] * b
  return terms["scale"] * jnp.maximum(0, terms["kink_const"] + terms["kink_slope"] * b)


def _critical_valid(target, problem: _Problem, strategy: str) -> jax.Array:
  par = problem.delta if strategy == "feature_label" else problem.p
  ok = ((target >= 0) & (target < 1) & (problem.eps >= 0) & (problem.eps < 0.5)
        & jnp.all((problem.xi_c >= 0) & (problem.xi_c <= 1) & (problem.xi >= 0)
                  & (problem.xi <= 1) & (par >= 0) & (par <= 1)))
  if strategy == "feature_only":
    ok = ok & jnp.all(par > 0)
  return ok


def _critical_with_shares(target, shares, problem: _Problem, strategy: str):
  """Closed form for fixed shares w: each 'B_c(b w) >= s' is a half-line in b."""
  num = shares.shape[0]
  dtype = shares.dtype
  terms = _critical_terms(target, problem, strategy)
  misaligned = 1 - shares - _alignment(problem.targets, num, dtype).T @ shares   # m_c / b
  room = terms["need"] * shares - terms["compete"] * misaligned                  # per unit b
  if terms["kind"] == "line":
    # A_c + b (-A_c - room_c) <= 0.
    const, slope = terms["rarity_const"], terms["rarity_slope"] - room
  else:
    # max(0, L) <= b room  <=>  0 <= b room  and  L <= b room.
    const = jnp.concatenate([jnp.zeros_like(room), terms["scale"] * terms["kink_const"]])
    slope = jnp.concatenate([-room, terms["scale"] * terms["kink_slope"] - room])
  budget = _smallest_in_intervals(const, slope)
  return budget, budget * shares


def _critical_optimised(target, problem: _Problem, strategy: str):
  """Closed form for optimised shares, integer targets (SPEC §8 generalised).

  With groups of equal targets, the misaligned mass of c is b - G (G its
  group's mass), so 'B_c >= s for all c' splits into alpha_c >= l_c(b, G),
  and a group can meet its members' needs iff G >= L_g(b), an affine (FL) or
  convex piecewise-linear (FO) function of b. The smallest budget solves
  sum_g L_g(b) <= b.
  """
  dtype = problem.xi_c.dtype
  terms = _critical_terms(target, problem, strategy)
  same = (problem.targets[:, None] == problem.targets[None, :]).astype(dtype)   # with diagonal
  size = jnp.sum(same, axis=1)
  per_need = terms["compete"] / terms["need"]                  # e_c

  def group_need(b):
    """L_{g(c)}(b) for every c: the least mass of c's group."""
    rarity = _rarity_at(terms, b) / terms["need"]
    return (same @ rarity + b * (same @ per_need)) / (1 + same @ per_need)

  def excess(b):
    return jnp.sum(group_need(b) / size) - b

  if terms["kind"] == "line":
    points = jnp.array([0.0, 1.0], dtype)
  else:
    kinks = -terms["kink_const"] / terms["kink_slope"]
    points = jnp.concatenate([jnp.array([0.0, 1.0], dtype), jnp.clip(kinks, 0, 1)])
  budget = _first_root_convex(excess, points)
  # Masses at the critical budget: each group gets its need plus an equal
  # part of the slack (zero at an interior root), then each member its own
  # need plus an equal part of the group's slack.
  b = jnp.where(jnp.isfinite(budget), budget, 0.5)
  need_g = group_need(b)
  groups = jnp.sum(1 / size)
  slack = jnp.maximum(b - jnp.sum(need_g / size), 0)
  group_mass = need_g + slack / groups
  own = (_rarity_at(terms, b) + terms["compete"] * (b - group_mass)) / terms["need"]
  masses = own + (group_mass - same @ own) / size
  return budget, jnp.where(jnp.isfinite(budget), masses, jnp.nan)


class _RootConfig(NamedTuple):
  strategy: str
  steps: int
  restarts: int
  optimizer: object
  temperature: object
  grid: int
  iterations: int


def _best_raw_min(budget, problem, key, config: _RootConfig):
  """max over splits of min_c raw B_c at ``budget`` (allocation, exact value)."""
  run = _allocate_core(budget, problem, key, objective="min", strategy=config.strategy,
                       steps=config.steps, restarts=config.restarts,
                       optimizer=config.optimizer, temperature=config.temperature)
  masses = jnp.where(jnp.isfinite(run.masses), run.masses, budget / run.masses.shape[0])
  raw = jnp.min(_scenario_bounds(masses, problem, config.strategy, False))
  return raw, run.logits


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _root_budget(config: _RootConfig, target, problem, key):
  """Smallest budget whose best split reaches ``target``, by repeated sectioning.

  Each step scores ``grid`` equally spaced budgets inside the bracket (one
  vmapped allocation) and keeps the interval before the first that reaches
  the target; the bracket shrinks by a factor ``grid`` per step. The upper
  end is always a budget where a split reaching the target was verified.
  """
  dtype = problem.xi_c.dtype
  num = problem.xi_c.shape[0]
  fractions = jnp.arange(1, config.grid + 1, dtype=dtype) / config.grid

  def section(_, carry):
    lo, hi, logits, found = carry
    trial = lo + (hi - lo) * fractions
    values, trial_logits = jax.vmap(lambda b: _best_raw_min(b, problem, key, config))(trial)
    hit = values >= target
    first = jnp.argmax(hit)
    any_hit = jnp.any(hit)
    new_lo = jnp.where(first > 0, trial[jnp.maximum(first - 1, 0)], lo)
    return (jnp.where(any_hit, new_lo, hi), jnp.where(any_hit, trial[first], hi),
            jnp.where(any_hit, trial_logits[first], logits), found | any_hit)

  # Every budget below 1 (a bound needs abar < 1): the top is just below it.
  top = jnp.asarray(1 - 1e-6, dtype)
  carry = (jnp.zeros((), dtype), top, jnp.zeros((num,), dtype), jnp.zeros((), bool))
  # The first step must find a feasible budget; after that the bracket
  # only narrows (a step without a hit would mean the root was lost).
  lo, hi, logits, found = jax.lax.fori_loop(0, config.iterations, section, carry)
  return jnp.where(found, hi, jnp.inf), logits


@_root_budget.defjvp
def _root_budget_jvp(config, primals, tangents):
  # Implicit function theorem on h(b, theta) = V(b, theta) - s = 0, with V the
  # smoothed max-min at the optimal split (envelope theorem: the split's own
  # derivative vanishes at the optimum; the soft-min weights play the role of
  # the max-min's dual multipliers). db = -(dh/dtheta . dtheta) / (dh/db).
  target, problem, key = primals
  target_dot, problem_dot, _ = tangents
  budget, logits = _root_budget(config, target, problem, key)
  tau = jnp.asarray(_schedule(config.temperature, config.steps)(config.steps - 1),
                    problem.xi_c.dtype)
  shares = jax.nn.softmax(jax.lax.stop_gradient(logits))
  safe_budget = jnp.where(jnp.isfinite(budget), budget, 0.5)

  def h(b, target, problem):
    raw = _scenario_bounds(b * shares, problem, config.strategy, False)
    return -tau * jax.nn.logsumexp(-raw / tau) - target

  dh_db = jax.grad(h)(safe_budget, target, problem)
  _, dh = jax.jvp(lambda t, pr: h(safe_budget, t, pr), (target, problem),
                  (target_dot, problem_dot))
  budget_dot = jnp.where(jnp.isfinite(budget) & (dh_db != 0), -dh / jnp.where(dh_db != 0, dh_db, 1),
                         0)
  return (budget, logits), (budget_dot, jnp.zeros_like(logits))


_root_core = jax.jit(_root_budget, static_argnums=0)


@functools.partial(jax.jit, static_argnames=("strategy",))
def _closed_form_core(target, shares, problem, *, strategy):
  valid = _critical_valid(target, problem, strategy)
  safe_target = jnp.where(valid, target, 0.5)
  if shares is not None:
    valid = valid & jnp.all(shares > 0)
    shares = jnp.where(valid, shares, 1.0) / jnp.sum(jnp.where(valid, shares, 1.0))
    budget, masses = _critical_with_shares(safe_target, shares, problem, strategy)
  else:
    budget, masses = _critical_optimised(safe_target, problem, strategy)
  budget = jnp.where(valid, budget, jnp.nan)
  masses = jnp.where(valid & jnp.isfinite(budget), masses, jnp.nan)
  return budget, masses


def critical_budget(target: ArrayLike, *, targets: ArrayLike, xi_c: ArrayLike, xi: ArrayLike,
                    eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                    strategy: str = "feature_label", shares: ArrayLike | None = None,
                    method: str = "auto", optimizer: optax.GradientTransformation | None = None,
                    steps: int = 200, restarts: int = 4,
                    temperature: tuple[float, float] | Schedule = (0.1, 1e-3),
                    grid: int = 8, iterations: int = 14, seed: ArrayLike = 0) -> CriticalBudget:
  r"""Smallest total budget at which every collective's bound reaches ``target`` (SPEC §8).

  "Reaches" means the raw bound is at least s (for s > 0 the same as the
  clipped bound; s = 0 asks for non-vacuous bounds).

  * ``shares`` given (positive weights, normalised to sum 1; masses
    b * shares): closed form. For fixed shares each condition B_c(b w) >= s
    is a half-line in b (two for feature-only, whose sound bound has a kink),
    so the answer is the left end of their intersection; it generalises
    SPEC §8, which holds the other collectives' masses fixed instead.
  * ``shares=None``: the shares are optimised too. With integer targets this
    is closed form as well: collectives with one target share their
    misaligned mass, so the condition becomes one per group, G_g >= L_g(b),
    and the budget is the smallest root of sum_g L_g(b) = b (affine for
    feature-label, convex piecewise linear for feature-only). With soft
    targets (or ``method="root"``) the budget is found by root finding on
    b -> max over splits of min_c B_c (:func:`allocate_masses` at each
    trial budget; ``iterations`` steps that each score ``grid`` budgets
    spread over the bracket and keep the part before the first that reaches
    s, so the bracket shrinks by ``grid`` per step), differentiable through
    the implicit function theorem.

  Args:
    target: the success level s, in [0, 1).
    targets: (M,) integer labels or (M, K) soft one-hot targets.
    xi_c, xi: rarity and uniqueness, scalars or (M,).
    eps: suboptimality, a scalar.
    delta: difficulty (feature-label), scalar or (M,).
    p: positivity (feature-only), scalar or (M,).
    strategy: ``"feature_label"`` or ``"feature_only"`` (sound form).
    shares: optional (M,) positive weights of the split.
    method: ``"auto"`` (closed form where it applies), ``"closed_form"``
      or ``"root"`` (root finding; for ``shares=None`` only).
    optimizer, steps, restarts, temperature, seed: the allocation used by
      root finding (see :func:`allocate_masses`).
    grid: trial budgets per root-finding step (scored in one vmapped call).
    iterations: root-finding steps (bracket width (1/grid)^iterations).

  Returns:
    A :class:`CriticalBudget`. The root finder keeps the upper end of its
    bracket, where a split reaching s was verified, and may miss a feasible
    window narrower than 1/grid when the bound is not monotone in the
    budget (feature-only).

  Raises:
    ValueError: unknown ``strategy``/``method``, a missing ``delta``/``p``,
      bad shapes, ``method="closed_form"`` with soft targets and no shares,
      ``method="root"`` with shares, non-positive concrete ``shares``.
    TypeError: non-numeric arguments.

  Examples:
    Three collectives of SPEC §10 (all distinct targets here), target 0.5:

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> kw = dict(targets=jnp.array([0, 1, 2]), xi_c=jnp.array([.01, .02, .005]),
    ...           xi=.05, delta=jnp.array([.6, .4, .8]), eps=.1)
    >>> equal = optimize.critical_budget(.5, shares=jnp.ones(3), **kw)
    >>> best = optimize.critical_budget(.5, **kw)
    >>> round(float(equal.budget), 4), round(float(best.budget), 4)
    (0.1139, 0.082)
    >>> print(best.masses.round(4))
    [0.0267 0.0346 0.0207]
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  _checks.check_choice("method", method, METHODS)
  _check_strategy_params(strategy, delta, p)
  _check_scalar("target", target)
  num = _num_collectives(targets)
  _check_targets_values(targets)
  soft = jnp.ndim(targets) == 2
  if shares is not None:
    _checks.dtype_of("shares", shares)
    if tuple(jnp.shape(shares)) != (num,):
      raise ValueError(f"shares must have shape ({num},) to match targets, got {jnp.shape(shares)}")
    if _is_concrete(shares) and not np.all(np.asarray(shares) > 0):
      raise ValueError(f"shares must be positive, got {np.asarray(shares).tolist()}")
    if method == "root":
      raise ValueError("method='root' optimises the shares; pass shares=None or "
                       "method='closed_form'")
  elif method == "closed_form" and soft:
    raise ValueError("method='closed_form' with optimised shares needs integer targets; "
                     "use method='root' (or 'auto') for soft targets")
  steps = _check_int("steps", steps, 1)
  restarts = _check_int("restarts", restarts, 1)
  grid = _check_int("grid", grid, 2)
  iterations = _check_int("iterations", iterations, 1)
  _check_optimizer(optimizer)
  _check_temperature(temperature)
  dtype = _float_dtype(target=target, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                       shares=shares, targets=targets if soft else None)
  problem = _problem(num, targets=targets, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                     dtype=dtype)
  target = jnp.asarray(target, dtype)
  if shares is None and (method == "root" or (method == "auto" and soft)):
    valid = _critical_valid(target, problem, strategy)
    config = _RootConfig(strategy=strategy, steps=steps, restarts=restarts, optimizer=optimizer,
                         temperature=temperature, grid=grid, iterations=iterations)
    budget, logits = _root_core(config, jnp.where(valid, target, 0.5), problem,
                                jax.random.key(seed))
    masses = jnp.where(jnp.isfinite(budget), budget * jax.nn.softmax(logits), jnp.nan)
    budget = jnp.where(valid, budget, jnp.nan)
    masses = jnp.where(valid & jnp.isfinite(budget), masses, jnp.nan)
  else:
    if shares is not None:
      shares = jnp.asarray(shares, dtype)
    budget, masses = _closed_form_core(target, shares, problem, strategy=strategy)
  return CriticalBudget(budget=budget, masses=masses, feasible=jnp.isfinite(budget))


def _discrete_search(loss, exact, choices, logits, opt, temperature_at, steps: int,
                     polish_sweeps: int):
  """One choice per collective among ``choices``, by a relaxation and a polish.

  From each restart's (M, C) logits, ``opt`` minimises ``loss(logits,
  temperature)`` for ``steps`` steps (temperature from ``temperature_at``),
  keeping each restart's best rounded choice (argmax per collective) by the
  exact objective ``exact`` (higher is better); then coordinate ascent on
  ``exact``, one collective at a time (cyclically, ``polish_sweeps`` rounds)
  over every choice, from each restart's best, taking strict improvements.

  Returns:
    (choices (R, M), exact values (R,), final logits (R, M, C), history
    (steps,) of the best value so far).
  """
  restarts, num = logits.shape[:2]
  dtype = logits.dtype

  def rounded(logits):
    return choices[jnp.argmax(logits, axis=-1)]

  grad = jax.vmap(jax.grad(loss), in_axes=(0, None))
  state = jax.vmap(opt.init)(logits)
  best = (jax.vmap(rounded)(logits), jnp.full((restarts,), -jnp.inf, dtype))

  def keep_best(best, logits):
    picked = jax.vmap(rounded)(logits)
    value = jax.vmap(exact)(picked)
    better = value > best[1]
    return jnp.where(better[:, None], picked, best[0]), jnp.where(better, value, best[1])

  def step(carry, i):
    logits, state, best = carry
    best = keep_best(best, logits)
    grads = grad(logits, jnp.asarray(temperature_at(i), dtype))
    updates, state = jax.vmap(opt.update)(grads, state, logits)
    logits = jnp.clip(optax.apply_updates(logits, updates), -_LOGIT_LIMIT, _LOGIT_LIMIT)
    return (logits, state, best), jnp.max(best[1])

  (logits, _, best), history = jax.lax.scan(step, (logits, state, best), jnp.arange(steps))
  picked, values = keep_best(best, logits)

  def polish(picked, value):
    def move(i, carry):
      picked, value = carry
      trial = jnp.broadcast_to(picked, (choices.shape[0], num)).at[:, i % num].set(choices)
      trial_values = jax.vmap(exact)(trial)
      k = jnp.argmax(trial_values)
      better = trial_values[k] > value
      return jnp.where(better, trial[k], picked), jnp.where(better, trial_values[k], value)
    return jax.lax.fori_loop(0, polish_sweeps * num, move, (picked, value))

  if polish_sweeps > 0:
    picked, values = jax.vmap(polish)(picked, values)
  return picked, values, logits, history


# --------------------------------------------------------------------------
# Signal placement (SPEC §2, the exact engine)
# --------------------------------------------------------------------------


def _success_metric(success: jax.Array, masses: jax.Array, objective: str) -> jax.Array:
  if objective == "min":
    return jnp.min(success)
  return jnp.sum(masses * success) / jnp.sum(masses)


@functools.partial(jax.jit, static_argnames=("objective", "static_fo", "steps", "restarts",
                                             "optimizer", "temperature", "polish_sweeps"))
def _place_core(p0, targets, masses, eps, flags, candidates, key, *, objective, static_fo, steps,
                restarts, optimizer, temperature, polish_sweeps) -> Placement:
  num_points = p0.shape[0]
  num = targets.shape[0]
  dtype = p0.dtype
  fo = static_fo if flags is None else flags
  opt = optimizer if optimizer is not None else _default_optimizer(steps, 0.1)
  temperature_at = _schedule(temperature, steps)

  def exact(points):
    maps = jnp.broadcast_to(points[:, None], (num, num_points))
    success = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=fo)
    return _nan_to_neg_inf(_success_metric(success, masses, objective))

  def loss(logits, temp):
    success = mixtures.surrogate_success(p0, logits, targets, masses, eps=eps, temperature=temp,
                                         candidates=candidates, feature_only=fo)
    if objective == "min":
      return temp * jax.nn.logsumexp(-success / temp)
    return -_success_metric(success, masses, objective)

  logits = jax.random.normal(key, (restarts, num, candidates.shape[0]), dtype)
  points, values, _, history = _discrete_search(loss, exact, candidates, logits, opt,
                                                temperature_at, steps, polish_sweeps)
  index = jnp.argmax(values)
  value = values[index]
  value = jnp.where(jnp.isfinite(value), value, jnp.nan)
  return Placement(signal_points=points[index], value=value,
                   history=jnp.where(jnp.isfinite(history), history, jnp.nan))


def _check_placement(p0, targets, masses, eps, objective, feature_only, candidates):
  _checks.check_choice("objective", objective, OBJECTIVES)
  _check_scalar("eps", eps)
  num = _num_collectives(targets, soft_ok=False)
  if candidates is not None:
    _checks.dtype_of("candidates", candidates)
    if jnp.ndim(candidates) != 1 or not jnp.issubdtype(jnp.asarray(candidates).dtype, jnp.integer):
      raise ValueError(f"candidates must be a (C,) integer array of points, got shape "
                       f"{jnp.shape(candidates)}")
    if _is_concrete(candidates):
      points = np.asarray(candidates)
      n = jnp.shape(p0)[0] if jnp.ndim(p0) == 2 else None
      if points.size == 0 or (n is not None and (np.any(points < 0) or np.any(points >= n))):
        raise ValueError(f"candidates must be a non-empty array of point indices in [0, {n})")
      if len(np.unique(points)) != len(points):
        raise ValueError("candidates must be distinct points")
  # The exact engine checks p0, targets, masses and feature_only (naming them).
  dummy = jnp.zeros((num, jnp.shape(p0)[0] if jnp.ndim(p0) == 2 else 1), jnp.int32)
  return mixtures._check_scenario(p0, dummy, targets, masses, feature_only, None, None)


def placement_value(p0: ArrayLike, targets: ArrayLike, masses: ArrayLike,
                    signal_points: ArrayLike, *, eps: ArrayLike, objective: str = "min",
                    feature_only=False) -> jax.Array:
  """Exact S_min or S_w of worst-case success when collective c sends everything to a point.

  Signal map g_c(x) = ``signal_points[c]`` for every x; success is
  :func:`mixtures.worst_case_success` (SPEC §2).

  Args:
    p0: (n, K) base table.
    targets: (M,) integer labels.
    masses: (M,) masses, sum < 1.
    signal_points: (M,) integer points in [0, n).
    eps: suboptimality, a scalar.
    objective: ``"min"`` or ``"weighted"``.
    feature_only: bool, or (M,) bool array.

  Returns:
    () the exact objective.

  Examples:
    SPEC §10 with c2 sending everything to point 4 (beside c0, same target):

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> v = optimize.placement_value(p0, jnp.array([1, 2, 1]), jnp.array([.06, .04, .03]),
    ...                              jnp.array([4, 5, 4]), eps=.05)
    >>> round(float(v), 4)
    1.0
  """
  s = _check_placement(p0, targets, masses, eps, objective, feature_only, None)
  num = s.targets.shape[0]
  points = jnp.asarray(signal_points)
  if points.shape != (num,) or not jnp.issubdtype(points.dtype, jnp.integer):
    raise ValueError(f"signal_points must be an integer array of shape ({num},), got "
                     f"{points.shape} {points.dtype}")
  maps = jnp.broadcast_to(points[:, None], (num, s.p0.shape[0]))
  success = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps,
                                        feature_only=feature_only)
  return _success_metric(success, s.masses, objective)


def place_signals(p0: ArrayLike, targets: ArrayLike, masses: ArrayLike, *, eps: ArrayLike,
                  objective: str = "min", feature_only=False, seed: ArrayLike = 0,
                  candidates: ArrayLike | None = None,
                  optimizer: optax.GradientTransformation | None = None, steps: int = 150,
                  restarts: int = 8, temperature: tuple[float, float] | Schedule = (0.1, 2e-3),
                  polish_sweeps: int = 2) -> Placement:
  r"""Chooses each collective's signal point to maximise exact S_min or S_w (SPEC §2).

  Collective c sends all its members' features to one point x_c of a finite
  X (g_c(x) = x_c) and labels them y_c (feature-label) or moves only its
  members of label y_c (feature-only). The objective is the exact S_min or
  S_w of worst-case success over every eps-suboptimal classifier.

  Method: each collective's choice is relaxed to a softmax over the
  candidate points (a :class:`mixtures.SignalDistribution`), success to
  :func:`mixtures.surrogate_success` (sigmoid of the margin at temperature T),
  min to a soft-min at the same T; T is annealed along ``temperature``,
  ``optimizer`` runs ``restarts`` random starts at once (vmapped). At every
  step each restart's argmax choice is scored exactly
  (:func:`mixtures.worst_case_success`) and the best kept; the kept choices
  are polished by coordinate ascent on the exact objective (each collective's
  point in turn, over every candidate, ``polish_sweeps`` rounds) and the best
  is returned with its exact value.

  Args:
    p0: (n, K) base table.
    targets: (M,) integer target labels.
    masses: (M,) masses, sum < 1.
    eps: suboptimality, a scalar in [0, 1/2).
    objective: ``"min"`` or ``"weighted"``.
    feature_only: bool, or (M,) bool array (mixed populations).
    seed: seed of the random starts.
    candidates: (C,) distinct candidate points; default every point.
    optimizer: any optax optimiser; default Adam, step size 0.1 cosine-decayed.
    steps: optimisation steps.
    restarts: parallel random starts.
    temperature: ``(start, end)`` geometric schedule or a callable ``step -> T``.
    polish_sweeps: rounds of exact coordinate ascent (0 to skip).

  Returns:
    A :class:`Placement`.

  Raises:
    ValueError, TypeError: as :func:`mixtures.worst_case_success` for ``p0``,
      ``targets``, ``masses``, ``feature_only``; bad ``candidates``,
      ``objective``, ``steps``, ``restarts``, ``temperature``.

  Examples:
    SPEC §10's table, three collectives: every collective gets a point where
    it wins (its own point, or one shared with an aligned collective).

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> out = optimize.place_signals(p0, jnp.array([1, 2, 1]), jnp.array([.06, .04, .03]),
    ...                              eps=.05)
    >>> round(float(out.value), 4)
    1.0
  """
  s = _check_placement(p0, targets, masses, eps, objective, feature_only, candidates)
  steps = _check_int("steps", steps, 1)
  restarts = _check_int("restarts", restarts, 1)
  polish_sweeps = _check_int("polish_sweeps", polish_sweeps, 0)
  _check_optimizer(optimizer)
  _check_temperature(temperature)
  num_points = s.p0.shape[0]
  points = jnp.arange(num_points) if candidates is None else jnp.asarray(candidates)
  flags = s.flags
  static_fo = None if flags is not None else bool(s.strategy is mixtures.feature_only_strategy)
  return _place_core(s.p0, s.targets, s.masses, jnp.asarray(eps, s.p0.dtype), flags,
                     points, jax.random.key(seed), objective=objective, static_fo=static_fo,
                     steps=steps, restarts=restarts, optimizer=optimizer,
                     temperature=temperature, polish_sweeps=polish_sweeps)


# --------------------------------------------------------------------------
# Targets and coalitions (SPEC §3–§4)
# --------------------------------------------------------------------------


def _label_problem(problem: _Problem, weights: jax.Array) -> _Problem:
  """Problem with targets ``weights`` ((M,) int or (M, K) soft) and per-label
  difficulty/positivity read off (linear in the soft weights)."""
  def pick(value):
    if value is None or value.ndim == 1:
      return value
    if jnp.issubdtype(weights.dtype, jnp.integer):
      return jnp.take_along_axis(value, weights[:, None], axis=1)[:, 0]
    return jnp.sum(weights * value, axis=1)
  return problem._replace(targets=weights, delta=pick(problem.delta), p=pick(problem.p))


def _targets_metric(masses, labels, problem, strategy, objective):
  pr = _label_problem(problem, labels)
  return _metric(masses, _scenario_bounds(masses, pr, strategy, True), objective)


@functools.partial(jax.jit, static_argnames=("num_labels", "objective", "strategy", "steps",
                                             "restarts", "optimizer", "temperature",
                                             "polish_sweeps"))
def _targets_core(masses, problem, key, *, num_labels, objective, strategy, steps, restarts,
                  optimizer, temperature, polish_sweeps) -> TargetChoice:
  num = masses.shape[0]
  dtype = masses.dtype
  opt = optimizer if optimizer is not None else _default_optimizer(steps, 0.1)
  tau_at = _schedule(temperature, steps)
  labels_all = jnp.arange(num_labels)

  def exact(labels):
    return _nan_to_neg_inf(_targets_metric(masses, labels, problem, strategy, objective))

  def loss(logits, tau):
    weights = jax.nn.softmax(logits, axis=-1)
    raw = _scenario_bounds(masses, _label_problem(problem, weights), strategy, False)
    return -_smooth_metric(masses, raw, objective, tau)

  # Restart 0 starts undecided (uniform soft targets); the others at random.
  logits = jax.random.normal(key, (restarts, num, num_labels), dtype).at[0].set(0)
  labels, values, logits, history = _discrete_search(loss, exact, labels_all, logits, opt, tau_at,
                                                     steps, polish_sweeps)
  index = jnp.argmax(values)
  value = jnp.where(jnp.isfinite(values[index]), values[index], jnp.nan)
  return TargetChoice(targets=labels[index], value=value,
                      soft_targets=jax.nn.softmax(logits[index], axis=-1),
                      history=jnp.where(jnp.isfinite(history), history, jnp.nan))


def _check_masses(masses, num: int | None = None) -> int:
  _checks.dtype_of("masses", masses)
  shape = tuple(jnp.shape(masses))
  if len(shape) != 1 or shape[0] < 1 or (num is not None and shape[0] != num):
    want = f"({num},)" if num is not None else "(M,)"
    raise ValueError(f"masses must have shape {want}, got {shape}")
  if _is_concrete(masses):
    alpha = np.asarray(masses, dtype=np.float64)
    if not np.all(np.isfinite(alpha)) or np.any(alpha <= 0) or alpha.sum() >= 1:
      raise ValueError(f"masses must be positive with sum < 1, got {alpha.tolist()}")
  return shape[0]


def _labels_from(delta, p) -> int | None:
  """K read off an (M, K) ``delta`` or ``p``, else None."""
  for value in (delta, p):
    if value is not None and jnp.ndim(value) == 2:
      return jnp.shape(value)[1]
  return None


def _target_setup(masses, num_labels, xi_c, xi, eps, delta, p, objective, strategy):
  _checks.check_choice("objective", objective, OBJECTIVES)
  _checks.check_choice("strategy", strategy, STRATEGIES)
  _check_strategy_params(strategy, delta, p)
  num = _check_masses(masses)
  if num_labels is not None:
    num_labels = _check_int("num_labels", num_labels, 1)
  dtype = _float_dtype(masses=masses, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p)
  problem = _problem(num, targets=jnp.zeros((num,), jnp.int32), xi_c=xi_c, xi=xi, eps=eps,
                     delta=delta, p=p, dtype=dtype, per_label=num_labels)
  return num, num_labels, jnp.asarray(masses, dtype), problem


@functools.partial(jax.jit, static_argnames=("strategy", "objective"))
def _targets_value_core(masses, labels, problem, *, strategy, objective):
  return _targets_metric(masses, labels, problem, strategy, objective)


def targets_value(masses: ArrayLike, targets: ArrayLike, *, xi_c: ArrayLike, xi: ArrayLike,
                  eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                  objective: str = "min", strategy: str = "feature_label") -> jax.Array:
  """Exact S_min or S_w of the clipped bounds for a target assignment (SPEC §4, §7).

  Like :func:`allocation_value` with the masses fixed, but ``delta`` and
  ``p`` may be (M, K): a difficulty (positivity) per collective and label,
  read at each collective's target.

  Args:
    masses: (M,) positive masses, sum < 1.
    targets: (M,) integer labels, or (M, K) soft one-hot targets (difficulty
      then averaged with the soft weights).
    xi_c, xi: scalars or (M,).
    eps: scalar.
    delta, p: scalars, (M,) or (M, K).
    objective: ``"min"`` or ``"weighted"``.
    strategy: ``"feature_label"`` or ``"feature_only"``.

  Returns:
    () the exact objective.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> delta = jnp.array([[.6, .2], [.2, .6]])   # c0 finds label 1 easy, c1 label 0
    >>> kw = dict(xi_c=.02, xi=.3, eps=.05, delta=delta)
    >>> alpha = jnp.array([.05, .05])
    >>> [round(float(optimize.targets_value(alpha, jnp.array(t), **kw)), 3)
    ...  for t in ([0, 0], [1, 0], [1, 1])]
    [0.72, 0.513, 0.72]
  """
  num_labels = _labels_from(delta, p)
  if jnp.ndim(targets) == 2:
    num_labels = jnp.shape(targets)[1]
  num, _, masses_arr, problem = _target_setup(masses, num_labels, xi_c, xi, eps, delta, p,
                                              objective, strategy)
  _num_collectives(targets)
  if jnp.shape(targets)[0] != num:
    raise ValueError(f"targets must have {num} rows to match masses, got shape "
                     f"{jnp.shape(targets)}")
  _check_targets_values(targets, num_labels if jnp.ndim(targets) == 1 else None)
  labels = jnp.asarray(targets)
  if jnp.issubdtype(labels.dtype, jnp.floating):
    labels = labels.astype(masses_arr.dtype)
  return _targets_value_core(masses_arr, labels, problem, strategy=strategy, objective=objective)


def choose_targets(masses: ArrayLike, *, num_labels: int, xi_c: ArrayLike, xi: ArrayLike,
                   eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                   objective: str = "min", strategy: str = "feature_label",
                   optimizer: optax.GradientTransformation | None = None, steps: int = 150,
                   restarts: int = 8, temperature: tuple[float, float] | Schedule = (0.1, 1e-3),
                   polish_sweeps: int = 2, seed: ArrayLike = 0) -> TargetChoice:
  """Chooses every collective's target label to maximise the S_min or S_w bound.

  Targets enter the bounds through alignment (beta_c, the mass sharing c's
  target, SPEC §3–§4) and, when ``delta`` (or ``p``) is given per label as
  (M, K), through each collective's difficulty for its target. Relaxed to
  soft one-hot targets w = softmax(logits) (beta_c = sum_j alpha_j <w_j, w_c>,
  difficulty sum_k w_ck delta_ck; :func:`bounds.scenario_bounds` takes soft
  targets), the smooth objective of :func:`allocate_masses` is maximised
  from ``restarts`` starts, each restart's rounded (argmax) choice is scored
  exactly at every step, the kept choices are polished by exact coordinate
  ascent over labels, and the best is returned. Compare with
  :func:`enumerate_targets` (all K^M assignments) for small M.

  Args:
    masses: (M,) positive masses, sum < 1.
    num_labels: K, the number of labels to choose from.
    xi_c, xi: scalars or (M,).
    eps: scalar.
    delta: difficulty (feature-label): scalar, (M,) or (M, K).
    p: positivity (feature-only): scalar, (M,) or (M, K).
    objective: ``"min"`` or ``"weighted"``.
    strategy: ``"feature_label"`` or ``"feature_only"``.
    optimizer, steps, restarts, temperature, seed: as in :func:`allocate_masses`.
    polish_sweeps: rounds of exact coordinate ascent (0 to skip).

  Returns:
    A :class:`TargetChoice`.

  Raises:
    ValueError, TypeError: bad names, shapes or dtypes (naming the argument);
      concrete masses that are not positive with sum < 1.

  Examples:
    Two collectives, each finds a different label easy; sharing a target
    removes their competition (xi = .3), which outweighs the difficulty:

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> delta = jnp.array([[.6, .2], [.2, .6]])
    >>> out = optimize.choose_targets(jnp.array([.05, .05]), num_labels=2, xi_c=.02,
    ...                               xi=.3, eps=.05, delta=delta)
    >>> bool(out.targets[0] == out.targets[1]), round(float(out.value), 3)
    (True, 0.72)
  """
  num, num_labels, masses_arr, problem = _target_setup(masses, num_labels, xi_c, xi, eps, delta,
                                                       p, objective, strategy)
  steps = _check_int("steps", steps, 1)
  restarts = _check_int("restarts", restarts, 1)
  polish_sweeps = _check_int("polish_sweeps", polish_sweeps, 0)
  _check_optimizer(optimizer)
  _check_temperature(temperature)
  return _targets_core(masses_arr, problem, jax.random.key(seed), num_labels=num_labels,
                       objective=objective, strategy=strategy, steps=steps, restarts=restarts,
                       optimizer=optimizer, temperature=temperature, polish_sweeps=polish_sweeps)


def enumerate_targets(masses: ArrayLike, *, num_labels: int, xi_c: ArrayLike, xi: ArrayLike,
                      eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                      objective: str = "min", strategy: str = "feature_label"):
  """Every target assignment (K^M of them) and its exact objective.

  For small M (the table has K^M rows); the reference for
  :func:`choose_targets`.

  Args:
    masses, num_labels, xi_c, xi, eps, delta, p, objective, strategy: as in
      :func:`choose_targets`.

  Returns:
    (assignments, values): (K^M, M) int labels in lexicographic order and
    (K^M,) exact objective values.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> delta = jnp.array([[.6, .2], [.2, .6]])
    >>> table, values = optimize.enumerate_targets(jnp.array([.05, .05]), num_labels=2,
    ...                                            xi_c=.02, xi=.3, eps=.05, delta=delta)
    >>> table.tolist(), [round(float(v), 3) for v in values]
    ([[0, 0], [0, 1], [1, 0], [1, 1]], [0.72, 0.353, 0.513, 0.72])
  """
  num, num_labels, masses_arr, problem = _target_setup(masses, num_labels, xi_c, xi, eps, delta,
                                                       p, objective, strategy)
  table = jnp.asarray(list(itertools.product(range(num_labels), repeat=num)), jnp.int32)
  values = jax.vmap(lambda t: _targets_value_core(masses_arr, t, problem, strategy=strategy,
                                                  objective=objective))(table)
  return table, values


def coalition_gains(masses: ArrayLike, targets: ArrayLike, *, xi_c: ArrayLike, xi: ArrayLike,
                    eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                    objective: str = "min", strategy: str = "feature_label") -> CoalitionGains:
  """Who should join whom: the bound gain when one collective adopts another's target.

  For every ordered pair (i, j), collective j switches to i's target (the two
  then share it, SPEC §3: beta grows, competition shrinks) and every bound is
  recomputed; ``gain[i, j]`` is the change of the S_min or S_w bound. The
  pair gains most from sharing a target at ``max(gain[i, j], gain[j, i])``.

  Args:
    masses: (M,) positive masses, sum < 1.
    targets: (M,) integer labels.
    xi_c, xi: scalars or (M,).
    eps: scalar.
    delta, p: scalars, (M,) or (M, K) (per-label difficulty/positivity).
    objective: ``"min"`` or ``"weighted"``.
    strategy: ``"feature_label"`` or ``"feature_only"``.

  Returns:
    A :class:`CoalitionGains`.

  Examples:
    SPEC §10's three collectives (targets 1, 0, 1): c1 joining target 1
    lifts the worst bound by .175, from .375 to .55 (no competition left).

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> out = optimize.coalition_gains(jnp.array([.05, .03, .02]), jnp.array([1, 0, 1]),
    ...     xi_c=jnp.array([.01, .02, .005]), xi=.05, delta=jnp.array([.6, .4, .8]), eps=.1)
    >>> print(out.gain.round(3))
    [[0.    0.175 0.   ]
     [0.044 0.    0.05 ]
     [0.    0.175 0.   ]]
    >>> print(out.joined_bounds[0, 1].round(3))
    [0.82  0.55  0.719]
  """
  num = _check_masses(masses)
  _num_collectives(targets, soft_ok=False)
  if jnp.shape(targets) != (num,):
    raise ValueError(f"targets must have shape ({num},) to match masses, got {jnp.shape(targets)}")
  num_labels = _labels_from(delta, p)
  _check_targets_values(targets, num_labels)
  _, _, masses_arr, problem = _target_setup(masses, num_labels, xi_c, xi, eps, delta, p,
                                            objective, strategy)
  return _coalition_core(masses_arr, jnp.asarray(targets), problem, objective=objective,
                         strategy=strategy)


@functools.partial(jax.jit, static_argnames=("objective", "strategy"))
def _coalition_core(masses, labels, problem, *, objective, strategy) -> CoalitionGains:
  num = masses.shape[0]

  def bounds_of(t):
    return _scenario_bounds(masses, _label_problem(problem, t), strategy, True)

  def joined(i, j):
    return bounds_of(labels.at[j].set(labels[i]))

  index = jnp.arange(num)
  joined_bounds = jax.vmap(lambda i: jax.vmap(lambda j: joined(i, j))(index))(index)
  base = bounds_of(labels)
  value = _metric(masses, base, objective)
  joined_values = jax.vmap(jax.vmap(lambda b: _metric(masses, b, objective)))(joined_bounds)
  # Exactly 0 where nothing changes (the pair already shares a target).
  same = labels[:, None] == labels[None, :]
  return CoalitionGains(value=value, bounds=base, joined_bounds=joined_bounds,
                        gain=jnp.where(same, 0, joined_values - value))
