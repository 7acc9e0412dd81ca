"""One closed-form scenario as the optimisers see it: arguments, checks, objectives.

:class:`_Problem` holds the parameters of the bounds (SPEC §3) as arrays of
one float dtype; the checks raise ``ValueError``/``TypeError`` naming the
argument before anything is traced (SPEC §11); :func:`_metric` is the exact
S_min or S_w of SPEC §7 and :func:`_smooth_metric` its smooth stand-in, the
objective every relaxation maximises.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from acajax import _checks, bounds

OBJECTIVES = ("min", "weighted")
STRATEGIES = bounds.STRATEGIES
METHODS = ("auto", "closed_form", "root")


class _Problem(NamedTuple):
  """The closed-form parameters of one scenario, as arrays (SPEC §3)."""
  targets: jax.Array        # (M,) int or (M, K) soft one-hot
  xi_c: jax.Array           # (M,)
  xi: jax.Array             # (M,)
  eps: jax.Array            # ()
  delta: jax.Array | None   # (M,) or, for target choice, (M, K)
  p: jax.Array | None       # (M,) or, for target choice, (M, K)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _check_scalar(name: str, value) -> None:
  _checks.dtype_of(name, value)
  if jnp.ndim(value) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")


def _check_int(name: str, value, minimum: int) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
  return int(value)


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
  if not _checks.is_concrete(targets):
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


# --------------------------------------------------------------------------
# Objectives (SPEC §7)
# --------------------------------------------------------------------------


def _nan_to_neg_inf(values: jax.Array) -> jax.Array:
  return jnp.where(jnp.isnan(values), -jnp.inf, values)


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
