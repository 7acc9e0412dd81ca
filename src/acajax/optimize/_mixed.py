"""Critical masses in mixed populations, found on the exact engine.

Two questions of a planter facing an eraser (or any mix of planters,
unplanters and erasers, :mod:`acajax.objectives`):

* :func:`exact_mixed_critical_mass`: the smallest mass at which one
  collective's exact worst-case success reaches s (a planter despite an
  eraser, an eraser despite a planter, ...);
* :func:`exact_eraser_mass`: the smallest eraser mass that keeps a planter's
  *best-case* success, over every eps-suboptimal classifier, at most s.

The closed forms are :func:`acajax.bounds.critical_mass` (a planter, the
eraser counted as misaligned) and :func:`acajax.bounds.critical_eraser_mass`;
these are their exact counterparts. Success in a mixed population is a step
function of one mass and need not be monotone, so both scan a grid of
masses in (0, 1 - a_o) in one vmapped call, take the first grid mass where
the condition holds, and bisect between it and the grid mass below to the
dtype's precision: the first crossing up to the grid's resolution.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import mixtures, objectives


def _first_crossing(holds, room, grid: int, steps: int):
  """Smallest mass in (0, room) where ``holds(mass)``, to the grid and then bisected."""
  masses = room * (jnp.arange(1, grid + 1, dtype=room.dtype) / (grid + 1))
  ok = jax.vmap(holds)(masses)
  first = jnp.argmax(ok)
  found = jnp.any(ok)
  low = jnp.where(first > 0, masses[jnp.maximum(first - 1, 0)], 0)
  high = masses[first]

  def bisect(_, bracket):
    low, high = bracket
    mid = (low + high) / 2
    good = holds(mid)
    return jnp.where(good, low, mid), jnp.where(good, mid, high)

  low, high = jax.lax.fori_loop(0, steps, bisect, (low, high))
  # A crossing at the first rounding steps of 0: every positive mass does it.
  high = jnp.where(high <= 64 * jnp.finfo(room.dtype).eps * room, 0, high)
  return jnp.where(found, high, jnp.inf)


def _index(index, name: str, num) -> int:
  """A Python or NumPy integer in [0, M), as an int (static under jit)."""
  if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or (
      num is not None and not 0 <= index < num):
    raise ValueError(f"{name} must be an int index in [0, M) = [0, {num}), got {index!r}")
  return int(index)


def _setup(p0, signal_maps, targets, masses, roles, feature_only, transform, index, name):
  targets = np.asarray(targets) if isinstance(targets, (list, tuple)) else targets
  num = jnp.shape(targets)[0] if jnp.ndim(targets) == 1 else None
  index = _index(index, name, num)
  others = jnp.asarray(masses).at[index].set(0)
  s, roles, flags, transform = objectives._check(p0, signal_maps, targets, others, roles,
                                                 feature_only, transform)
  return s, roles, flags, transform, index


@functools.partial(jax.jit, static_argnames=("roles", "collective", "subject", "best",
                                             "below", "grid", "steps"))
def _critical_core(target, p0, maps, targets, others, eps, flags, transform, *, roles,
                   collective, subject, best, below, grid, steps):
  room = 1 - jnp.sum(others)
  tol = mixtures.success_tolerance(p0.dtype)

  def success(mass):
    return objectives._success_core(p0, maps, targets, others.at[collective].set(mass), eps,
                                    flags, transform, roles=roles, best=best)[subject]

  def holds(mass):
    value = success(mass)
    return (value <= target + tol) if below else (value >= target - tol)

  valid = (target >= 0) & (target <= 1) & jnp.isfinite(success(room / 2))
  return jnp.where(valid, _first_crossing(holds, room, grid, steps), jnp.nan)


def exact_mixed_critical_mass(target: ArrayLike, p0: ArrayLike, signal_maps: ArrayLike,
                              targets: ArrayLike, masses: ArrayLike, roles, *,
                              collective: int, eps: ArrayLike, feature_only=False,
                              transform: ArrayLike = 0.5, grid: int = 256,
                              steps: int = 40) -> jax.Array:
  """Smallest mass at which a collective's exact worst-case success reaches ``target``.

  Any role (:mod:`acajax.objectives`): a planter despite erasers and
  unplanters, an eraser or unplanter despite planters. The others' masses
  stay fixed; the answer is the first mass on a grid of ``grid`` masses in
  (0, 1 - a_o) where S_c^wc >= s (within
  :func:`~acajax.mixtures.success_tolerance`), refined by ``steps``
  bisections towards the grid mass below. Jittable and vmappable in the
  array arguments.

  Args:
    target: the success level s, in [0, 1].
    p0, signal_maps, targets, roles, feature_only, transform: the scenario,
      as in :func:`acajax.objectives.worst_case_success`.
    masses: (M,) masses; entry ``collective`` is ignored.
    collective: index of the collective whose mass is sought (static).
    eps: suboptimality, a scalar in [0, 1/2).
    grid: number of grid masses (static).
    steps: bisection steps (static).

  Returns:
    () the critical mass; ``inf`` where no mass below 1 - a_o reaches s, 0
    where every positive mass does (0 is then the infimum), NaN out of
    domain (``target`` outside [0, 1] or ``eps`` outside [0, 1/2), traced or
    not, as :func:`exact_critical_mass`).

  Raises:
    ValueError, TypeError: as :func:`acajax.objectives.worst_case_success`,
      or ``collective`` not an index in [0, M).

  Examples:
    The planter of a three-point table against an eraser of mass 0.05:

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> p0 = jnp.array([[.3, .1], [.25, .15], [.1, .1]])
    >>> maps = jnp.array([[2, 2, 2], [2, 2, 2]])
    >>> mass = optimize.exact_mixed_critical_mass(.9, p0, maps, jnp.array([1, 0]),
    ...     jnp.array([0., .05]), ("plant", "erase"), collective=0, eps=.05)
    >>> round(float(mass), 4)
    0.0565
  """
  mixtures._check_scalar("target", target)
  mixtures._check_scalar("eps", eps)
  s, roles, flags, transform, collective = _setup(p0, signal_maps, targets, masses, roles,
                                                  feature_only, transform, collective,
                                                  "collective")
  return _critical_core(jnp.asarray(target, s.p0.dtype), s.p0, s.signals, s.targets, s.masses,
                        jnp.asarray(eps, s.p0.dtype), flags, transform, roles=roles,
                        collective=collective, subject=collective, best=False, below=False,
                        grid=grid, steps=steps)


def exact_eraser_mass(target: ArrayLike, p0: ArrayLike, signal_maps: ArrayLike,
                      targets: ArrayLike, masses: ArrayLike, roles, *, eraser: int,
                      planter: int, eps: ArrayLike, feature_only=False,
                      transform: ArrayLike = 0.5, grid: int = 256,
                      steps: int = 40) -> jax.Array:
  """Smallest eraser mass that keeps a planter's best-case success at most ``target``.

  Best case: the eps-suboptimal classifier most favourable to the planter
  (:func:`acajax.objectives.best_case_success`), so every eps-suboptimal
  classifier gives the planter at most s. The exact counterpart of
  :func:`acajax.bounds.critical_eraser_mass`; grid and bisection as
  :func:`exact_mixed_critical_mass`.

  Args:
    target: the success s the planter must not exceed, in [0, 1].
    p0, signal_maps, targets, roles, feature_only, transform: the scenario,
      as in :func:`acajax.objectives.worst_case_success`.
    masses: (M,) masses; entry ``eraser`` is ignored.
    eraser: index of the erasing collective (static).
    planter: index of the planter it works against (static).
    eps: suboptimality, a scalar in [0, 1/2).
    grid: number of grid masses (static).
    steps: bisection steps (static).

  Returns:
    () the eraser's critical mass; ``inf`` where no mass below 1 - a_o
    does it, 0 where the planter is already at or below s, NaN out of domain
    (``target`` outside [0, 1] or ``eps`` outside [0, 1/2), traced or not).

  Raises:
    ValueError, TypeError: as :func:`acajax.objectives.worst_case_success`,
      an index out of range, ``roles[eraser]`` not ``"erase"`` or
      ``roles[planter]`` not ``"plant"``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> p0 = jnp.array([[.3, .1], [.25, .15], [.1, .1]])
    >>> maps = jnp.array([[2, 2, 2], [2, 2, 2]])
    >>> mass = optimize.exact_eraser_mass(.5, p0, maps, jnp.array([1, 0]),
    ...     jnp.array([.05, 0.]), ("plant", "erase"), eraser=1, planter=0, eps=.05)
    >>> round(float(mass), 4)
    0.1321
  """
  mixtures._check_scalar("target", target)
  mixtures._check_scalar("eps", eps)
  s, roles, flags, transform, eraser = _setup(p0, signal_maps, targets, masses, roles,
                                              feature_only, transform, eraser, "eraser")
  planter = _index(planter, "planter", len(roles))
  if roles[eraser] != "erase":
    raise ValueError(f"roles[eraser] must be 'erase', got {roles[eraser]!r}")
  if roles[planter] != "plant":
    raise ValueError(f"roles[planter] must be 'plant', got {roles[planter]!r}")
  return _critical_core(jnp.asarray(target, s.p0.dtype), s.p0, s.signals, s.targets, s.masses,
                        jnp.asarray(eps, s.p0.dtype), flags, transform, roles=roles,
                        collective=eraser, subject=planter, best=True, below=True, grid=grid,
                        steps=steps)
