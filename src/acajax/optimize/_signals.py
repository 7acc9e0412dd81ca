"""Signal placement on a finite X, scored by the exact engine (SPEC §2).

:func:`placement_value` is the exact S_min or S_w of worst-case success when
each collective sends all its members to one point; :func:`place_signals`
chooses the points through a softmax over candidate points, the surrogate
success of :mod:`acajax.mixtures` and the shared discrete search.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from acajax import _checks, mixtures
from acajax.optimize._common import (
    OBJECTIVES,
    _check_int,
    _check_scalar,
    _nan_to_neg_inf,
    _num_collectives,
)
from acajax.optimize._restarts import Schedule, _optimizer, _schedule, _static_search_args
from acajax.optimize._search import _discrete_search


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
  opt = _optimizer(optimizer, steps)
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
    if _checks.is_concrete(candidates):
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
  optimizer, temperature = _static_search_args(optimizer, temperature)
  num_points = s.p0.shape[0]
  points = jnp.arange(num_points) if candidates is None else jnp.asarray(candidates)
  flags = s.flags
  static_fo = None if flags is not None else bool(s.strategy is mixtures.feature_only_strategy)
  return _place_core(s.p0, s.targets, s.masses, jnp.asarray(eps, s.p0.dtype), flags,
                     points, jax.random.key(seed), objective=objective, static_fo=static_fo,
                     steps=steps, restarts=restarts, optimizer=optimizer,
                     temperature=temperature, polish_sweeps=polish_sweeps)

