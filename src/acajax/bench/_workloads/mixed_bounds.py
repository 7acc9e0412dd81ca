"""Soundness of the mixed-objective bounds on random finite instances.

Each *form* pairs a closed-form bound of :mod:`acajax.bounds` with the
exact engine of :mod:`acajax.objectives` on random mixed populations that
meet the form's assumptions:

* ``planter_fl``: collective 0 plants feature-label; Theorem 1
  (:func:`~acajax.bounds.feature_label`) with the unplanters and erasers
  counted as misaligned <= its exact worst-case success.
* ``planter_fo``: collective 0 plants feature-only; the sound Theorem 2
  (:func:`~acajax.bounds.feature_only`), same counting.
* ``unplanter``: collective 0 unplants; :func:`~acajax.bounds.unplanting`.
* ``eraser``: collective 0 erases; :func:`~acajax.bounds.erasing`.
* ``ceiling``: collective 0 erases, collective 1 plants on the eraser's map
  with a target that is not the base label anywhere on the signal set;
  its exact *best-case* success <= :func:`~acajax.bounds.planter_ceiling`.

The other collectives take random roles (plant FL or FO, unplant, erase)
with random maps, targets and masses. Instances: n in 5..10 points, K in
2..4 labels, M in 2..4 collectives, P0 from a Dirichlet(1), in some batches
with exact zeros (whole points without mass included) or rounded to a coarse
grid (ties between labels), maps onto 1-3 signal points (idempotent for
erasers, in half the batches arbitrary for the others), eps in [0, 0.3] or
[0, 0.499) with one in ten exactly 0, the erasers' transform q in
[0.02, 0.98]. Feature-only bounds are NaN where p_c = 0 (out of their
domain); such instances are drawn on top of ``count`` and not checked. A violation is a bound above the exact
value by more than 1e-9 (float64). :func:`check` returns the counts and the
first counterexample.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from acajax import bounds, objectives

FORMS = ("planter_fl", "planter_fo", "unplanter", "eraser", "ceiling")
TOLERANCE = 1e-9
_SHAPES = ((5, 2, 2), (6, 3, 2), (8, 2, 3), (8, 3, 3), (10, 4, 4), (7, 4, 3))
_OTHER_ROLES = ("plant", "plant", "unplant", "erase")


class Batch(NamedTuple):
  p0: np.ndarray          # (B, n, K)
  maps: np.ndarray        # (B, M, n)
  targets: np.ndarray     # (B, M)
  masses: np.ndarray      # (B, M)
  flags: np.ndarray       # (B, M) feature-only planters
  eps: np.ndarray         # (B,)
  transform: np.ndarray   # (B,)
  roles: tuple[str, ...]


def _idempotent_maps(rng, count, num, n, free=None):
  """(count, num, n) maps onto 1-3 signal points each, which map to themselves.

  Collectives flagged in ``free`` (a (num,) bool array) get arbitrary maps
  onto those points instead (signal points need not map to themselves).
  """
  maps = np.empty((count, num, n), np.int32)
  for b in range(count):
    for c in range(num):
      size = rng.integers(1, 4)
      signal = rng.choice(n, size=size, replace=False)
      g = signal[rng.integers(0, size, n)]
      if free is None or not free[c]:
        g[signal] = signal
      maps[b, c] = g
  return maps


def batch(form: str, rng: np.random.Generator, count: int) -> Batch:
  """``count`` random instances of one form, with one shape and one tuple of roles."""
  n, k, m = _SHAPES[rng.integers(len(_SHAPES))]
  if form == "ceiling":
    m = max(m, 2)
  subject = {"planter_fl": "plant", "planter_fo": "plant", "unplanter": "unplant",
             "eraser": "erase", "ceiling": "erase"}[form]
  roles = [subject] + [str(r) for r in rng.choice(_OTHER_ROLES, m - 1)]
  if form == "ceiling":
    roles[1] = "plant"
  elif subject == "plant" and all(r == "plant" for r in roles):
    roles[-1] = str(rng.choice(["unplant", "erase"]))     # a mixed population
  sparse = rng.random((count, n, k)) < rng.choice([0.0, 0.2])
  p0 = rng.dirichlet(np.ones(n * k), count).reshape(count, n, k)
  p0 = np.where(sparse, 0.0, p0)                   # exact zeros, whole rows included
  if rng.random() < 0.25:                          # coarse values: ties between labels
    p0 = np.round(p0 * 2 * n * k)
  p0 = p0 + (p0.sum(axis=(1, 2), keepdims=True) == 0)   # never an empty table
  p0 /= p0.sum(axis=(1, 2), keepdims=True)
  # Planters and unplanters may use any map in half the batches; erasers never.
  free = np.array([r != "erase" for r in roles]) & (rng.random() < 0.5)
  maps = _idempotent_maps(rng, count, m, n, free)
  targets = rng.integers(0, k, (count, m)).astype(np.int32)
  flags = rng.random((count, m)) < 0.5
  flags[:, 0] = form == "planter_fo"
  if form == "planter_fo":
    # Theorem 2 needs P0(y_c | x) bounded away from 0 (positivity p_c) to say
    # anything: lift the target's column in half of the instances.
    lift = rng.uniform(0.5, 3, count) * (rng.random(count) < 0.5)
    rows = np.arange(count)
    p0[rows, :, targets[:, 0]] += lift[:, None] * p0.sum(axis=2)
    p0 /= p0.sum(axis=(1, 2), keepdims=True)
  if form == "eraser":
    # Half the instances: g keeps the base label (L(g(x)) = L(x)), erasure's easy case.
    for b in np.flatnonzero(rng.random(count) < 0.5):
      for x in range(n):
        want, top = p0[b, maps[b, 0, x]].argmax(), p0[b, x].argmax()
        p0[b, x, [want, top]] = p0[b, x, [top, want]]
  if form == "ceiling":
    maps[:, 1] = maps[:, 0]
    labels = p0.argmax(axis=-1)                                  # L(z)
    for b in range(count):
      used = set(labels[b, np.unique(maps[b, 0])].tolist())
      free = [y for y in range(k) if y not in used]
      targets[b, 1] = rng.choice(free) if free else -1           # filtered out below
  lead = rng.uniform(0.02, 0.6, count)
  rest = rng.uniform(0, 0.15, (count, m - 1)) * (rng.random((count, m - 1)) < 0.8)
  masses = np.concatenate([lead[:, None], rest], axis=1)
  total = masses.sum(axis=1, keepdims=True)
  masses = np.where(total > 0.95, masses * 0.95 / total, masses)
  eps = rng.uniform(0, rng.choice([0.3, 0.499]), count) * (rng.random(count) < 0.9)
  transform = rng.uniform(0.02, 0.98, count)
  keep = targets[:, 1] >= 0 if form == "ceiling" else np.ones(count, bool)
  pick = lambda a: a[keep]   # noqa: E731
  return Batch(pick(p0), pick(maps), pick(targets), pick(masses), pick(flags), pick(eps),
               pick(transform), tuple(roles))


@functools.partial(jax.jit, static_argnames=("roles", "form", "ignore_opponents"))
def _evaluate(p0, maps, targets, masses, flags, eps, transform, *, roles, form,
              ignore_opponents):
  """(bound, exact) of the subject collective for a batch; exact is the best case for ceiling."""
  def one(p0, maps, targets, masses, flags, eps, transform):
    kw = dict(eps=eps, feature_only=flags, transform=transform)
    par = objectives.parameters(p0, maps, targets, masses, roles, feature_only=flags,
                                transform=transform)
    total = jnp.sum(masses)
    if ignore_opponents:   # the naive form: as if the other collectives were not there
      par = par._replace(beta=total - masses, xi=jnp.zeros_like(par.xi),
                         overlap=jnp.zeros_like(par.overlap))
    if form == "ceiling":
      exact = objectives.best_case_success(p0, maps, targets, masses, roles, **kw)[1]
      others = jnp.arange(len(roles)) != 0
      competition = jnp.sum(jnp.where(others, masses * par.overlap[:, 1], 0))
      if ignore_opponents:   # only the planter's own mass on X*
        competition = masses[1]
      bound = bounds.planter_ceiling(masses[0], alpha_total=total, xi_c=par.xi_c[1],
                                     competition=competition, eps=eps, transform=transform)
      return bound, exact
    exact = objectives.worst_case_success(p0, maps, targets, masses, roles, **kw)[0]
    common = dict(alpha_total=total, xi_c=par.xi_c[0], xi=par.xi[0], eps=eps)
    if form == "planter_fl":
      bound = bounds.feature_label(masses[0], beta=par.beta[0], delta=par.delta[0], **common)
    elif form == "planter_fo":
      bound = bounds.feature_only(masses[0], beta=par.beta[0], p=par.p[0], **common)
    elif form == "unplanter":
      bound = bounds.unplanting(masses[0], beta=par.beta[0], delta=par.delta[0], **common)
    else:
      bound = bounds.erasing(masses[0], delta=par.delta[0], transform=transform, **common)
    return bound, exact
  return jax.vmap(one)(p0, maps, targets, masses, flags, eps, transform)


def check(form: str, count: int, *, seed: int = 0, batch_size: int = 2000,
          ignore_opponents: bool = False, progress=None) -> dict:
  """Checks one form on ``count`` random instances.

  Args:
    form: one of :data:`FORMS`.
    count: number of instances inside the bound's domain to check (batches
      of ``batch_size``; instances out of it, such as p_c = 0 for Theorem 2,
      are drawn on top and counted in ``nan``).
    seed: seed of the NumPy generator.
    batch_size: instances per jitted call.
    ignore_opponents: check the naive form instead, which leaves out the
      other collectives (no competition term; for the ceiling, only the
      planter's own mass): it should fail, showing what they cost.
    progress: optional callable, called with the number of instances done.

  Returns:
    dict with ``instances`` (checked: at least ``count``), ``violations``,
    ``informative`` (bound > 0 for
    lower bounds, < 1 for the ceiling), ``nan`` (instances where the bound is
    out of its domain, e.g. p = 0 for feature-only), ``worst_excess``
    (largest bound - exact, for the ceiling exact - bound) and
    ``counterexample`` (the first violation's instance as lists, or None).
  """
  if form not in FORMS:
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")
  rng = np.random.default_rng(seed)
  done = violations = informative = nans = 0
  worst, counterexample = -np.inf, None
  with jax.enable_x64(True):
    while done < count:
      b = batch(form, rng, min(batch_size, max(count - done, 1)))
      if len(b.eps) == 0:
        continue
      bound, exact = (np.asarray(a) for a in _evaluate(
          b.p0, b.maps, b.targets, b.masses, b.flags, b.eps, b.transform, roles=b.roles,
          form=form, ignore_opponents=ignore_opponents))
      if np.isnan(exact).any():
        raise AssertionError(f"exact engine gave NaN on a valid {form} instance")
      excess = (exact - bound) if form == "ceiling" else (bound - exact)
      finite = ~np.isnan(bound)
      nans += int((~finite).sum())
      bad = finite & (excess > TOLERANCE)
      violations += int(bad.sum())
      informative += int((finite & ((bound < 1) if form == "ceiling" else (bound > 0))).sum())
      if finite.any():
        worst = max(worst, float(excess[finite].max()))
      if bad.any() and counterexample is None:
        i = int(np.flatnonzero(bad)[0])
        counterexample = dict(roles=list(b.roles), p0=b.p0[i].tolist(),
                              maps=b.maps[i].tolist(), targets=b.targets[i].tolist(),
                              masses=b.masses[i].tolist(), feature_only=b.flags[i].tolist(),
                              eps=float(b.eps[i]), transform=float(b.transform[i]),
                              bound=float(bound[i]), exact=float(exact[i]))
      done += int(finite.sum())     # instances that meet the form's assumptions
      if progress is not None:
        progress(int(finite.sum()))
  return dict(form=form, instances=done, violations=violations, informative=informative,
              nan=nans, worst_excess=worst, counterexample=counterexample)
