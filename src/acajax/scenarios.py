r"""Finite tables with prescribed scenario parameters (SPEC §1, §3).

:func:`finite_scenario` builds a finite scenario (``p0``, integer signal maps,
targets) whose parameters, as :func:`acajax.mixtures.scenario_parameters`
computes them, are the ones asked for: the rarity xi_c and the difficulty
Delta_c of every collective, and one overlap xi = O[j, c] for every pair
j != c. The exact engine and the closed-form bounds can then be compared at
matched parameters.

The construction. With M collectives and K labels there are n = M + 3
points, all collectives feature-label (w is ``shared_mass``):

| point | P0_X(x) | P0(y \| x) |
| --- | --- | --- |
| 0, the shared point | w | uniform, 1/K |
| 1 + c, c's own point (c < M) | xi_c - w | (1 - Delta_c)/K, plus Delta_c on label (y_c + 1) mod K |
| M + 1, filler a | xi - w | uniform |
| M + 2, filler b | 1 - xi - sum_c (xi_c - w) | uniform |

Every signal map g_c sends A = {0, M + 1} (mass xi) to the shared point and
every other point to c's own point 1 + c. Why the parameters come out as
prescribed (SPEC §3):

* The signal set ``X*_c`` (the points g_c sends P0-mass to) is {0, 1 + c},
  only {1 + c} when xi = 0 (A then has no mass), so
  xi_c = P0_X(``X*_c``) = w + (xi_c - w).
* (h_j)#P0 puts mass xi on the shared point and 1 - xi on j's own point,
  which no other signal reaches: O[j, c] = xi for every j != c, so the
  uniqueness max_{j != c} O[j, c] is xi (and 0 when M = 1).
* The gap max_y P0(y|x) - P0(y_c|x) is 0 at the shared point (uniform) and
  Delta_c at c's own point, so Delta_c is as prescribed. When Delta_c > 0
  that point must carry P0-mass: xi_c > w.

The fillers a and b only complete the preimages of the signal maps. The
positivity p_c is not prescribed: it comes out at least
min_j (1 - Delta_j)/K, so it is 0 only where some Delta_j = 1.
``shared_mass = 0`` (default) makes the shared point a feature no one has
under P0: there the firm sees only the collectives' members, so the
collectives compete for it alone.

Where the construction cannot realise the values :func:`finite_scenario`
raises ``ValueError`` naming the argument and the reason (concrete inputs);
traced inputs give a NaN ``p0`` instead (SPEC §11), so the builder vmaps over
parameter grids. Some of these cases are impossible for every table (a
signal set without P0-mass has Delta_c = 0; one collective has no overlap);
the others are limits of this construction (the points must fit in a total
mass of 1: xi + sum_c (xi_c - w) <= 1).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import _checks

__all__ = ["FiniteScenario", "finite_scenario"]

_TOLERANCE = 1e-9   # slack of the "fits in mass 1" test, for inputs given in decimals


class FiniteScenario(NamedTuple):
  """A finite scenario for :mod:`acajax.mixtures` (SPEC §1).

  Attributes:
    p0: (M + 3, K) joint table of P0.
    signal_maps: (M, M + 3) integer signal maps g_c.
    targets: (M,) integer target labels y_c.
  """
  p0: jax.Array
  signal_maps: jax.Array
  targets: jax.Array


def _conditions(xi_c, xi, delta, shared_mass, num: int) -> list[tuple[str, jax.Array, str]]:
  """(argument, condition that must hold, why) for every limit of the construction."""
  own = xi_c - shared_mass
  return [
      ("xi_c", jnp.all((xi_c >= 0) & (xi_c <= 1)), "must lie in [0, 1]"),
      ("delta", jnp.all((delta >= 0) & (delta <= 1)), "must lie in [0, 1]"),
      ("xi", (xi >= 0) & (xi <= 1), "must lie in [0, 1]"),
      ("xi", (num > 1) | (xi == 0),
       "must be 0 with one collective: there is no other collective to overlap"),
      ("shared_mass", (shared_mass >= 0) & (shared_mass <= xi),
       "must lie in [0, xi]: the shared point is part of the mass xi sent to it"),
      ("shared_mass", jnp.all(own >= 0),
       "must be at most every xi_c: the shared point lies in every signal set"),
      ("delta", jnp.all((delta == 0) | (xi_c > 0)),
       "must be 0 where xi_c is 0, for any table: a signal set without P0-mass has no "
       "difficulty"),
      ("delta", jnp.all((delta == 0) | (own > 0)),
       "must be 0 where xi_c equals shared_mass: this construction puts the difficulty on "
       "the collective's own point, which then has no P0-mass"),
      ("xi_c", xi + jnp.sum(own) <= 1 + _TOLERANCE,
       "does not fit: this construction needs xi + sum(xi_c - shared_mass) <= 1"),
  ]


@functools.partial(jax.jit, static_argnames=("num_labels",))
def _table(targets, xi_c, xi, delta, shared_mass, num_labels):
  """(p0, signal_maps) of the construction in the module docstring; NaN p0 where invalid."""
  num, labels = targets.shape[0], jnp.arange(num_labels)
  valid = jnp.all(jnp.stack([ok for _, ok, _ in _conditions(xi_c, xi, delta, shared_mass,
                                                               num)]))
  valid = valid & jnp.all((targets >= 0) & (targets < num_labels))
  own = xi_c - shared_mass
  rest = jnp.maximum(1 - xi - jnp.sum(own), 0)          # >= -_TOLERANCE when valid
  marginal = jnp.concatenate([shared_mass[None], own, (xi - shared_mass)[None], rest[None]])
  uniform = jnp.full((num_labels,), 1 / num_labels, xi_c.dtype)
  harder = (targets + 1) % num_labels                   # the label that beats y_c by Delta_c
  own_rows = ((1 - delta[:, None]) / num_labels
              + delta[:, None] * (labels[None, :] == harder[:, None]))
  conditional = jnp.concatenate([uniform[None], own_rows, uniform[None], uniform[None]])
  p0 = jnp.where(valid, marginal[:, None] * conditional, jnp.nan)
  points = jnp.arange(num + 3)
  to_shared = (points == 0) | (points == num + 1)       # A: mass xi
  maps = jnp.where(to_shared[None, :], 0, 1 + jnp.arange(num)[:, None])
  return p0, maps.astype(targets.dtype)


def finite_scenario(targets: ArrayLike, *, num_labels: int, xi_c: ArrayLike, xi: ArrayLike,
                    delta: ArrayLike, shared_mass: ArrayLike = 0.0) -> FiniteScenario:
  """A finite table whose scenario parameters (SPEC §3) are the given ones.

  The construction (M + 3 points, every collective feature-label) and why
  its parameters come out as prescribed are in the module docstring. For
  every mass vector, :func:`acajax.mixtures.scenario_parameters` of the
  result gives ``xi_c``, ``delta``, the uniqueness ``xi`` (0 when M = 1) and
  ``overlap[j, c] = xi`` for j != c. One scenario; ``jax.vmap`` it over
  parameter grids (``num_labels`` stays static).

  Args:
    targets: (M,) integer target labels in [0, ``num_labels``).
    num_labels: number of labels K >= 2.
    xi_c: rarity P0_X(``X*_c``) per collective, scalar or (M,), in [0, 1].
    xi: overlap O[j, c] of every pair j != c, a scalar in [0, 1] (0 when
      M = 1).
    delta: difficulty Delta_c per collective, scalar or (M,), in [0, 1]; 0
      where ``xi_c`` equals ``shared_mass``.
    shared_mass: P0_X of the point every signal shares, in [0, min(xi, xi_c)].

  Returns:
    A :class:`FiniteScenario`. Under ``jit``/``vmap``, values this
    construction cannot realise give a NaN ``p0`` (SPEC §11).

  Raises:
    ValueError: bad shapes, ``num_labels`` < 2, or (concrete inputs) values
      the construction cannot realise: a target out of range, a parameter
      outside [0, 1], ``xi`` > 0 with one collective, ``shared_mass`` above
      ``xi`` or some ``xi_c``, ``delta`` > 0 where ``xi_c`` has no room for
      it, or points that do not fit (xi + sum(xi_c - shared_mass) > 1). The
      message names the argument and says why.
    TypeError: float targets or non-numeric parameters.

  Examples:
    Two opposed collectives whose signals overlap by 0.2:

    >>> import jax.numpy as jnp
    >>> from acajax import mixtures, scenarios
    >>> table = scenarios.finite_scenario(jnp.array([0, 1]), num_labels=2,
    ...     xi_c=jnp.array([.05, .1]), xi=.2, delta=jnp.array([.3, .6]))
    >>> table.p0.shape, table.signal_maps.tolist()
    ((5, 2), [[0, 1, 1, 0, 1], [0, 2, 2, 0, 2]])
    >>> par = mixtures.scenario_parameters(*table, jnp.array([.05, .05]))
    >>> par.xi_c.round(6).tolist(), par.xi.round(6).tolist(), par.delta.round(6).tolist()
    ([0.05, 0.1], [0.2, 0.2], [0.3, 0.6])
    >>> scenarios.finite_scenario(jnp.array([0, 1]), num_labels=2, xi_c=.5, xi=.2, delta=.1)
    Traceback (most recent call last):
    ...
    ValueError: xi_c does not fit: this construction needs xi + sum(xi_c - shared_mass) <= 1; ...
  """
  target_dtype = _checks.dtype_of("targets", targets)
  if not jnp.issubdtype(target_dtype, jnp.integer):
    raise TypeError(f"targets must be integer labels, got dtype {target_dtype}")
  if jnp.ndim(targets) != 1 or jnp.shape(targets)[0] < 1:
    raise ValueError(f"targets must have shape (M,) with M >= 1, got {jnp.shape(targets)}")
  if (isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer))
      or num_labels < 2):
    raise ValueError(f"num_labels must be an integer >= 2, got {num_labels!r}")
  num = jnp.shape(targets)[0]
  for name, value in dict(xi_c=xi_c, delta=delta).items():
    _checks.dtype_of(name, value)
    if jnp.shape(value) not in ((), (num,)):
      raise ValueError(f"{name} must be a scalar or have shape ({num},), got {jnp.shape(value)}")
  for name, value in dict(xi=xi, shared_mass=shared_mass).items():
    _checks.dtype_of(name, value)
    if jnp.ndim(value) != 0:
      raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")
  dtype = _checks.float_dtype(xi_c, xi, delta, shared_mass)
  xi_c, delta = (jnp.broadcast_to(jnp.asarray(v, dtype), (num,)) for v in (xi_c, delta))
  xi, shared_mass = jnp.asarray(xi, dtype), jnp.asarray(shared_mass, dtype)
  targets = jnp.asarray(targets)
  if _checks.is_concrete(targets, xi_c, xi, delta, shared_mass):
    labels = np.asarray(targets)
    if np.any((labels < 0) | (labels >= num_labels)):
      raise ValueError(f"targets must lie in [0, num_labels) = [0, {num_labels}), "
                       f"got {labels.tolist()}")
    for name, ok, why in _conditions(xi_c, xi, delta, shared_mass, num):
      if not bool(ok):
        raise ValueError(f"{name} {why}; got xi_c={np.asarray(xi_c).tolist()}, "
                         f"xi={float(xi)}, delta={np.asarray(delta).tolist()}, "
                         f"shared_mass={float(shared_mass)}")
  p0, maps = _table(targets, xi_c, xi, delta, shared_mass, num_labels=int(num_labels))
  return FiniteScenario(p0=p0, signal_maps=maps, targets=targets)
