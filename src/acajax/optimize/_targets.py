"""Targets and coalitions: which labels to pick, who gains from joining whom (SPEC §3–§4).

Targets enter the bounds through alignment (beta_c, SPEC §3) and, with a
difficulty or positivity per label, through each collective's own
difficulty. :func:`targets_value` scores an assignment exactly,
:func:`choose_targets` searches soft one-hot relaxations (the shared
discrete search), :func:`enumerate_targets` lists all K^M assignments, and
:func:`coalition_gains` tabulates the gain of every collective adopting
another's target.
"""

from __future__ import annotations

import functools
import itertools
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
    _check_strategy_params,
    _check_targets_values,
    _float_dtype,
    _metric,
    _nan_to_neg_inf,
    _num_collectives,
    _problem,
    _Problem,
    _scenario_bounds,
    _smooth_metric,
)
from acajax.optimize._restarts import Schedule, _optimizer, _schedule, _static_search_args
from acajax.optimize._search import _discrete_search


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
  opt = _optimizer(optimizer, steps)
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
  if _checks.is_concrete(masses):
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
  optimizer, temperature = _static_search_args(optimizer, temperature)
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
