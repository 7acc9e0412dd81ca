"""Mixed objectives: collectives that plant, unplant or erase a signal (exact engine).

The exact engine of :mod:`acajax.mixtures` measures collectives that *plant*:
collective c wants f(g_c(x)) = y_c. This module adds the two opposite goals
and the exact worst-case (and best-case) success of every collective in a
population that mixes all three (SPEC §1–§2 extended; the derivations are in
the theory guide, section "Mixed objectives").

Roles (one per collective, :data:`ROLES`):

* ``"plant"``: SPEC §1 as it stands, feature-label or feature-only
  (``feature_only``). Success: Pr_x[f(g_c(x)) = y_c].
* ``"unplant"``: the collective wants f(g_u(x)) != y_u on its signal images
  (y_u is its entry of ``targets``: the label to avoid). Strategy
  h(x, y) = (g_u(x), l_u(g_u(x))) with l_u(z) the most likely base label at z
  other than y_u (:func:`unplanting_labels`). Success: Pr_x[f(g_u(x)) != y_u].
* ``"erase"``: the collective wants the classifier to ignore the
  transformation g_e: success Pr_x[f(g_e(x)) = f(x)] (signal erasure of Hardt
  et al., ICML 2023). Strategy: each member keeps its point x or, with
  probability ``transform``, moves it to g_e(x), and labels it
  L(g_e(x)) = argmax_y P0(y | g_e(x)) (:func:`base_labels`), so that x and
  g_e(x) carry the same label. Its ``targets`` entry is ignored. Its map must
  be *idempotent*, g_e(g_e(x)) = g_e(x) (a planted feature planted twice is
  planted once); points of the signal set X*_e then map to themselves.

Worst case over every eps-suboptimal classifier (SPEC §2). A classifier is
eps-suboptimal when, at every x, f(x) is an argmax of some Q(.|x) within
total variation eps of P(.|x). So f(x) ranges over the *admissible labels*

    A(x) = { y : sum_{y' != y} (P(y'|x) - P(y|x) - eps)_+ <= eps }

(move t <= eps of mass onto y and take it from the labels above y; the
condition is that mass at t = eps; :func:`admissible_labels`), independently
at each x. Hence, with signal measure Q_c = g_c # P0_X:

* planter: S_c = sum_z Q_c(z) 1[m_c(z) >= 2 eps] (SPEC §2, equality counts as
  success, unchanged);
* unplanter: S_u = sum_z Q_u(z) 1[y_u not in A(z)];
* eraser (idempotent map): the pairs (x, g(x)) form stars around the points of
  X*, so the adversary's choice decouples by star:
  S_e = P0_X(X*) + sum_{z in X*} min_{b in A(z)} sum_{x not in X*, g(x) = z}
  P0_X(x) 1[A(x) = {b}].

Ties go to the adversary for unplanters and erasers (the definition above:
any argmax may be chosen); planters keep SPEC §2's convention. The best case
(the classifier most favourable to the collective) replaces min by max and
"forced" by "admissible"; :func:`best_case_success` reports it, so the two
bracket what any eps-suboptimal classifier gives.

Every function takes one scenario; ``jax.vmap`` for batches. Signal maps are
(M, n) integer maps (no kernels). Out-of-domain values give NaN as in
:mod:`acajax.mixtures` (SPEC §11), including an eraser map that is not
idempotent; static mistakes raise ``ValueError``/``TypeError`` naming the
argument.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import _checks
from acajax import mixtures

__all__ = [
    "ROLES",
    "MixedParameters",
    "admissible_labels",
    "base_labels",
    "best_case_success",
    "erasing_strategy",
    "mixture",
    "parameters",
    "unplanting_labels",
    "unplanting_strategy",
    "worst_case_success",
]

ROLES = ("plant", "unplant", "erase")


# --------------------------------------------------------------------------
# Labels and strategies
# --------------------------------------------------------------------------


def base_labels(p0: ArrayLike) -> jax.Array:
  """The Bayes label of P0 at every point, argmax_y P0(y | x) (ties: smallest label).

  Points with no base mass get label 0.

  Args:
    p0: (n, K) joint table.

  Returns:
    (n,) int32 labels.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> objectives.base_labels(jnp.array([[.1, .3], [.2, .2], [.2, 0.]])).tolist()
    [1, 0, 0]
  """
  return jnp.argmax(jnp.asarray(p0), axis=-1).astype(jnp.int32)


def unplanting_labels(p0: ArrayLike, target: ArrayLike) -> jax.Array:
  """Labels an unplanter plants: the most likely base label other than ``target``.

  l(z) = argmax_{y != y_u} P0(y | z), ties to the smallest label.

  Args:
    p0: (n, K) joint table, K >= 2.
    target: the label y_u to avoid.

  Returns:
    (n,) int32 labels, never equal to ``target``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.1, .2, .3], [.3, .1, .0]])
    >>> objectives.unplanting_labels(p0, 2).tolist()
    [1, 0]
  """
  p0 = jnp.asarray(p0)
  others = jnp.where(jnp.arange(p0.shape[-1]) == target, -jnp.inf, p0)
  return jnp.argmax(others, axis=-1).astype(jnp.int32)


def unplanting_strategy(p0: ArrayLike, signal: ArrayLike, target: ArrayLike) -> jax.Array:
  """Unplanting, pushed forward: h(x, y) = (g(x), l(g(x))) with :func:`unplanting_labels`.

  Args:
    p0: (n, K) joint table.
    signal: (n,) integer map g.
    target: the label y_u to avoid.

  Returns:
    (h)#p0, (n, K): all mass at the signal images, labelled l(z) != y_u.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.25, .25], [.5, 0.]])
    >>> objectives.unplanting_strategy(p0, jnp.array([1, 1]), 0).tolist()
    [[0.0, 0.0], [0.0, 1.0]]
  """
  p0 = jnp.asarray(p0)
  labels = unplanting_labels(p0, target)
  moved = mixtures.push_forward(signal, jnp.sum(p0, axis=-1))
  return moved[:, None] * jax.nn.one_hot(labels, p0.shape[-1], dtype=p0.dtype)


def erasing_strategy(p0: ArrayLike, signal: ArrayLike, *, transform: ArrayLike = 0.5
                     ) -> jax.Array:
  """Erasing, pushed forward: keep x or move it to g(x), labelled L(g(x)).

  Each member moves its point to g(x) with probability ``transform`` and
  keeps x otherwise; either way the label is L(g(x)) = argmax_y P0(y | g(x))
  (:func:`base_labels`), so both ends of the pair (x, g(x)) are taught the
  same label.

  Args:
    p0: (n, K) joint table.
    signal: (n,) integer map g.
    transform: the fraction q of members who move their point, in [0, 1].

  Returns:
    (h)#p0, (n, K).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.3, .2], [.1, .4]])        # g sends both points to 1
    >>> objectives.erasing_strategy(p0, jnp.array([1, 1])).round(6).tolist()
    [[0.0, 0.25], [0.0, 0.75]]
  """
  p0 = jnp.asarray(p0)
  signal = jnp.asarray(signal)
  transform = jnp.asarray(transform, p0.dtype)
  onehot = jax.nn.one_hot(base_labels(p0), p0.shape[-1], dtype=p0.dtype)   # (n, K): L(z)
  marginal = jnp.sum(p0, axis=-1)
  moved = mixtures.push_forward(signal, transform * marginal)[:, None] * onehot
  inside = mixtures._in_range(signal, p0.shape[0])
  label_of_image = onehot[jnp.where(inside, signal, 0)]                     # L(g(x))
  kept = ((1 - transform) * marginal)[:, None] * label_of_image
  return jnp.where(inside[:, None], moved + kept, jnp.nan)


# --------------------------------------------------------------------------
# Admissible labels (SPEC §2)
# --------------------------------------------------------------------------


def _conditional(joint: jax.Array) -> tuple[jax.Array, jax.Array]:
  """P(y | x) and the mask of points with mixture mass (double where)."""
  marginal = jnp.sum(joint, axis=-1, keepdims=True)
  positive = marginal > 0
  return joint / jnp.where(positive, marginal, 1), positive[..., 0]


def _excess(conditional: jax.Array, eps: jax.Array) -> jax.Array:
  """(n, K): sum_{y' != y} (P(y'|x) - P(y|x) - eps)_+, the mass to remove for y to lead."""
  gaps = conditional[:, None, :] - conditional[:, :, None] - eps        # [x, y, y']
  return jnp.sum(jnp.maximum(gaps, 0), axis=-1)                         # y' = y adds 0


def _target_margins(joint: jax.Array, targets: jax.Array) -> jax.Array:
  """(M, n) margins P(y_c|x) - max_{y != y_c} P(y|x) (SPEC §2); -1 where P_X(x) = 0.

  Written without comparing entries to their row maximum for equality (as
  :func:`acajax.mixtures.margins` does), which XLA's fusions on CPU could
  break here by recomputing the row maximum (measured: a lost signal point).
  """
  conditional, positive = _conditional(joint)
  own = conditional[:, targets].T                                         # (M, n)
  is_target = jnp.arange(joint.shape[-1]) == targets[:, None, None]     # (M, 1, K)
  best_other = jnp.max(jnp.where(is_target, -jnp.inf, conditional[None]), axis=-1)
  return jnp.where(positive, own - best_other, -1)


def _admissible(joint: jax.Array, eps: jax.Array) -> jax.Array:
  conditional, positive = _conditional(joint)
  tol = mixtures.success_tolerance(joint.dtype)
  return (_excess(conditional, eps) <= eps + tol) | ~positive[:, None]


def admissible_labels(joint: ArrayLike, eps: ArrayLike) -> jax.Array:
  """Labels an eps-suboptimal classifier may predict at each point (SPEC §2).

  y is admissible at x when some Q(.|x) within total variation eps of
  P(.|x) has y among its argmax labels, i.e. when
  sum_{y' != y} (P(y'|x) - P(y|x) - eps)_+ <= eps (up to
  :func:`~acajax.mixtures.success_tolerance`). Every label is admissible
  where P has no mass.

  Args:
    joint: (n, K) non-negative table (need not be normalised).
    eps: suboptimality, in [0, 1/2). A concrete eps outside raises; a traced
      one cannot be flagged in a bool result, so callers check it (the
      success functions give NaN).

  Returns:
    (n, K) bool.

  Raises:
    ValueError: a concrete ``eps`` outside [0, 1/2).

  Examples:
    Three labels at 0.1, 0.45, 0.45: no label beats the first by 2 eps =
    0.4, yet lifting it to the top takes 7/30 of mass (raise it to 1/3, take
    7/60 from each of the others): not admissible at eps = 0.2, admissible at
    eps = 0.25.

    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> joint = jnp.array([[.1, .45, .45]])
    >>> objectives.admissible_labels(joint, .2).tolist()
    [[False, True, True]]
    >>> objectives.admissible_labels(joint, .25).tolist()
    [[True, True, True]]
  """
  joint = jnp.asarray(joint)
  if _checks.is_concrete(eps) and not 0 <= float(eps) < 0.5:
    raise ValueError(f"eps must lie in [0, 1/2), got {float(eps)!r}")
  return _admissible(joint, jnp.asarray(eps, joint.dtype))


# --------------------------------------------------------------------------
# One scenario: checks, pushforwards, success
# --------------------------------------------------------------------------


def _check_roles(roles, num_collectives: int) -> tuple[str, ...]:
  if isinstance(roles, str) or not isinstance(roles, (tuple, list)):
    raise TypeError(f"roles must be a tuple of names from {ROLES}, one per collective; "
                    f"got {roles!r}")
  roles = tuple(roles)
  if len(roles) != num_collectives:
    raise ValueError(f"roles must name one role per collective (M = {num_collectives}), "
                     f"got {len(roles)}: {roles}")
  for role in roles:
    _checks.check_choice("roles", role, ROLES)
  return roles


def _check(p0, signal_maps, targets, masses, roles, feature_only, transform):
  """Shape, dtype and concrete-value checks; the scenario as arrays."""
  # Lists and tuples become arrays here, so every message names the argument.
  p0, signal_maps, targets, masses = (np.asarray(a) if isinstance(a, (list, tuple)) else a
                                      for a in (p0, signal_maps, targets, masses))
  map_dtype = _checks.dtype_of("signal_maps", signal_maps)
  if jnp.ndim(signal_maps) != 2:
    raise TypeError("signal_maps must be (M, n) integer maps for mixed objectives (no kernels "
                    f"or signal distributions); got shape {jnp.shape(signal_maps)}")
  if not jnp.issubdtype(map_dtype, jnp.integer):
    raise TypeError(f"signal_maps must be integer point indices, got dtype {map_dtype}")
  s = mixtures._check_scenario(p0, signal_maps, targets, masses, feature_only, None, None)
  roles = _check_roles(roles, s.targets.shape[0])
  _checks.dtype_of("transform", transform)
  if jnp.ndim(transform) != 0:
    raise ValueError(f"transform must be a scalar, got shape {jnp.shape(transform)}")
  if _checks.is_concrete(transform) and not 0 <= float(transform) <= 1:
    raise ValueError(f"transform must lie in [0, 1], got {float(transform)!r}")
  if _checks.is_concrete(signal_maps):
    maps = np.asarray(signal_maps)
    for c, role in enumerate(roles):
      if role == "erase" and not np.array_equal(maps[c][maps[c]], maps[c]):
        x = int(np.flatnonzero(maps[c][maps[c]] != maps[c])[0])
        raise ValueError(f"signal_maps[{c}] (an eraser) must be idempotent, g(g(x)) = g(x); "
                         f"g({x}) = {int(maps[c][x])} but g({int(maps[c][x])}) = "
                         f"{int(maps[c][maps[c][x]])}")
  flags = s.flags if s.flags is not None else jnp.full(
      s.targets.shape, s.strategy is mixtures.feature_only_strategy)
  return s, roles, flags, jnp.asarray(transform, s.p0.dtype)


def _pushed(p0, maps, targets, roles, flags, transform):
  """(M, n, K): (h_c)#P0 of every collective, by its role."""
  out = []
  for c, role in enumerate(roles):
    if role == "plant":
      out.append(jnp.where(flags[c], mixtures.feature_only_strategy(p0, maps[c], targets[c]),
                           mixtures.feature_label_strategy(p0, maps[c], targets[c])))
    elif role == "unplant":
      out.append(unplanting_strategy(p0, maps[c], targets[c]))
    else:
      out.append(erasing_strategy(p0, maps[c], transform=transform))
  return jnp.stack(out)


class _Mixed(NamedTuple):
  joint: jax.Array       # (n, K) mixture P
  p0: jax.Array          # (n, K) P0 divided by its sum (zeros out of domain)
  pushed: jax.Array      # (M, n, K) (h_c)#P0
  marginal: jax.Array    # (n,) P0_X
  valid: jax.Array       # () the scenario is in its domain


def _mixed(p0, maps, targets, masses, roles, flags, transform) -> _Mixed:
  v = mixtures._validated(p0, maps, targets, masses, None)
  idempotent = [jnp.all(maps[c][jnp.clip(maps[c], 0, p0.shape[0] - 1)] == maps[c])
                for c, role in enumerate(roles) if role == "erase"]
  valid = v.valid & (transform >= 0) & (transform <= 1)
  if idempotent:
    valid = valid & functools.reduce(jnp.logical_and, idempotent)
  transform = jnp.where(valid, transform, 0.5)
  pushed = _pushed(v.p0, maps, targets, roles, flags, transform)
  joint = (1 - jnp.sum(v.masses)) * v.p0 + jnp.einsum("c,cnk->nk", v.masses, pushed)
  # Materialised once: margins compare entries with their row maximum for
  # equality, which fails if XLA recomputes the joint in two fusions that
  # round differently (measured: a lost signal point under jit).
  joint = jax.lax.optimization_barrier(joint)
  return _Mixed(joint, v.p0, pushed, jnp.sum(v.p0, axis=-1), valid)


def _eraser_success(marginal, signal, admissible, best: bool):
  """Star decomposition: fixed points always agree; each star z is chosen by f(z)."""
  n = marginal.shape[0]
  moved = signal != jnp.arange(n)
  fixed = jnp.sum(jnp.where(moved, 0, marginal))
  count = jnp.sum(admissible, axis=-1, keepdims=True)
  # worst case: a source agrees only if forced, A(x) = {b}; best case: if b in A(x).
  agrees = admissible if best else admissible & (count == 1)
  weight = jnp.where(moved, marginal, 0)[:, None] * agrees                   # (n, K)
  star = mixtures._segment_sum(weight, signal)                               # (n, K) by z
  pick = (jnp.max(jnp.where(admissible, star, -jnp.inf), axis=-1) if best
          else jnp.min(jnp.where(admissible, star, jnp.inf), axis=-1))
  return fixed + jnp.sum(pick)


def _success(mixed: _Mixed, maps, targets, roles, eps, best: bool):
  joint, marginal = mixed.joint, mixed.marginal
  admissible = _admissible(joint, eps)
  margin_ok = None
  out = []
  for c, role in enumerate(roles):
    if role == "erase":
      out.append(_eraser_success(marginal, maps[c], admissible, best))
      continue
    signal_mass = mixtures._segment_sum(marginal, maps[c])                    # Q_c
    own = admissible[:, targets[c]]
    if role == "plant":
      if best:
        hit = own
      else:
        if margin_ok is None:
          margin_ok = _target_margins(joint, targets) >= (
              2 * eps - mixtures.success_tolerance(joint.dtype))
        hit = margin_ok[c]
    else:   # unplant: some label other than y_u is admissible (best) / y_u is not (worst)
      others = jnp.sum(admissible, axis=-1) - own.astype(jnp.int32)
      hit = (others > 0) if best else ~own
    out.append(jnp.sum(jnp.where(hit, signal_mass, 0)))
  success = jnp.clip(jnp.stack(out), 0, 1)
  return jnp.where(mixed.valid & mixtures._eps_valid(eps), success, jnp.nan)


@functools.partial(jax.jit, static_argnames=("roles", "best"))
def _success_core(p0, maps, targets, masses, eps, flags, transform, roles, best):
  mixed = _mixed(p0, maps, targets, masses, roles, flags, transform)
  return _success(mixed, maps, targets, roles, jnp.asarray(eps, p0.dtype), best)


@functools.partial(jax.jit, static_argnames=("roles",))
def _mixture_core(p0, maps, targets, masses, flags, transform, roles):
  mixed = _mixed(p0, maps, targets, masses, roles, flags, transform)
  return jnp.where(mixed.valid, mixed.joint, jnp.nan)


_SCENARIO_ARGS = """\
    p0: (n, K) joint table of P0, non-negative, summing to 1.
    signal_maps: (M, n) integer maps with entries in [0, n); an eraser's map
      must be idempotent.
    targets: (M,) integer labels: a planter's target, an unplanter's label to
      avoid; ignored for erasers (any label in [0, K)).
    masses: (M,) masses alpha_c >= 0 with sum < 1.
    roles: (M,) tuple of names from :data:`ROLES` (static)."""


def mixture(p0: ArrayLike, signal_maps: ArrayLike, targets: ArrayLike, masses: ArrayLike,
            roles, *, feature_only=False, transform: ArrayLike = 0.5) -> jax.Array:
  """The mixture P = (1 - abar) P0 + sum_c alpha_c (h_c)#P0 of a mixed population.

  Args:
    p0, signal_maps, targets, masses, roles: the scenario (see
      :func:`worst_case_success`).
    feature_only: bool, or (M,) bool array: which planters play feature-only.
    transform: the erasers' fraction of moved points, in [0, 1].

  Returns:
    (n, K) joint table; NaN out of domain (SPEC §11).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.3, .2], [.1, .4]])
    >>> joint = objectives.mixture(p0, jnp.array([[1, 1]]), jnp.array([0]), jnp.array([.2]),
    ...                            ("erase",))
    >>> joint.round(6).tolist()
    [[0.24, 0.21], [0.08, 0.47]]
  """
  s, roles, flags, transform = _check(p0, signal_maps, targets, masses, roles, feature_only,
                                      transform)
  return _mixture_core(s.p0, s.signals, s.targets, s.masses, flags, transform, roles=roles)


def worst_case_success(p0: ArrayLike, signal_maps: ArrayLike, targets: ArrayLike,
                       masses: ArrayLike, roles, *, eps: ArrayLike, feature_only=False,
                       transform: ArrayLike = 0.5) -> jax.Array:
  """Exact worst-case success of every collective over all eps-suboptimal classifiers.

  Planters as :func:`acajax.mixtures.worst_case_success` (SPEC §2);
  unplanters and erasers as the module docstring derives (admissible labels;
  for erasers, the star decomposition of an idempotent map).

  Args:
""" + _SCENARIO_ARGS + """
    eps: scalar suboptimality in [0, 1/2).
    feature_only: bool, or (M,) bool array: which planters play feature-only
      (ignored for the other roles).
    transform: the erasers' fraction of moved points, in [0, 1]; one value
      for every eraser of the call.

  Returns:
    (M,) worst-case successes; NaN out of domain (SPEC §11): eps outside
    [0, 1/2), traced or not (as in :mod:`acajax.mixtures`), and every value
    that raises below when it is traced instead (an eraser's map that is not
    idempotent included).

  Raises:
    ValueError: shapes or (concrete) values out of domain, a role not in
      :data:`ROLES`, an eraser's map not idempotent; the message names the
      argument.
    TypeError: kernels or float maps, or a dtype that is not numeric.

  Examples:
    One planter (target 1) against one eraser on the same signal: a
    three-point table where g sends points 0 and 1 to the signal point 2.

    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.3, .1], [.25, .15], [.1, .1]])
    >>> maps = jnp.array([[2, 2, 2], [2, 2, 2]])
    >>> s = objectives.worst_case_success(p0, maps, jnp.array([1, 0]), jnp.array([.1, .05]),
    ...                                   ("plant", "erase"), eps=.05)
    >>> s.round(4).tolist()                     # the planter wins z = 2: erasure fails
    [1.0, 0.2]
    >>> s = objectives.worst_case_success(p0, maps, jnp.array([1, 0]), jnp.array([.05, .2]),
    ...                                   ("plant", "erase"), eps=.05)
    >>> s.round(4).tolist()                     # a larger eraser keeps label 0 everywhere
    [0.0, 1.0]
  """
  mixtures._check_scalar("eps", eps)
  s, roles, flags, transform = _check(p0, signal_maps, targets, masses, roles, feature_only,
                                      transform)
  return _success_core(s.p0, s.signals, s.targets, s.masses, eps, flags, transform,
                       roles=roles, best=False)


def best_case_success(p0: ArrayLike, signal_maps: ArrayLike, targets: ArrayLike,
                      masses: ArrayLike, roles, *, eps: ArrayLike, feature_only=False,
                      transform: ArrayLike = 0.5) -> jax.Array:
  """Exact best-case success: the most any eps-suboptimal classifier gives each collective.

  The classifier is chosen per collective in its favour, among admissible
  labels (ties included). With :func:`worst_case_success` it brackets what
  any eps-suboptimal classifier gives; an upper bound on a planter's success
  (for instance against an eraser) is checked against this.

  Args:
""" + _SCENARIO_ARGS + """
    eps: scalar suboptimality in [0, 1/2).
    feature_only: bool, or (M,) bool array for the planters.
    transform: the erasers' fraction of moved points, in [0, 1].

  Returns:
    (M,) best-case successes; NaN out of domain.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.3, .1], [.25, .15], [.1, .1]])
    >>> maps = jnp.array([[2, 2, 2], [2, 2, 2]])
    >>> objectives.best_case_success(p0, maps, jnp.array([1, 0]), jnp.array([.05, .2]),
    ...                              ("plant", "erase"), eps=.05).round(4).tolist()
    [0.0, 1.0]
  """
  mixtures._check_scalar("eps", eps)
  s, roles, flags, transform = _check(p0, signal_maps, targets, masses, roles, feature_only,
                                      transform)
  return _success_core(s.p0, s.signals, s.targets, s.masses, eps, flags, transform,
                       roles=roles, best=True)


# --------------------------------------------------------------------------
# Parameters for the closed-form bounds
# --------------------------------------------------------------------------


class MixedParameters(NamedTuple):
  """Per-collective parameters of a mixed population for :mod:`acajax.bounds`.

  Attributes:
    xi_c: (M,) P0_X of the collective's support S_c: its signal set X*_c
      (planters, unplanters); for erasers the points of a moved pair, the
      sources g moves and the images that receive them.
    overlap: (M, M) O[j, c] = P^j_X(S_c), the mass j puts on S_c.
    aligned: (M, M) bool, j helps c: FL planters with c's target for an FL
      planter c; planters with c's target for a feature-only planter c;
      unplanters avoiding c's label for an unplanter c; none for erasers.
    beta: (M,) aligned mass.
    misaligned: (M,) abar - alpha_c - beta_c: every other collective not aligned.
    xi: (M,) max over the misaligned j of O[j, c].
    competition: (M,) sum over the misaligned j of alpha_j O[j, c].
    delta: (M,) difficulty: planters SPEC §3's Delta_c; unplanters
      max(0, max_z P0(y_u|z) - P0(l_u(z)|z)) over X*_u; erasers
      max_w [max_y P0(y|w) - P0(lambda(w)|w)] over S_e, with lambda(w) the
      label the eraser plants at w.
    p: (M,) positivity min_x P0(y_c | x) (SPEC §3; used by feature-only planters).
  """
  xi_c: jax.Array
  overlap: jax.Array
  aligned: jax.Array
  beta: jax.Array
  misaligned: jax.Array
  xi: jax.Array
  competition: jax.Array
  delta: jax.Array
  p: jax.Array


@functools.partial(jax.jit, static_argnames=("roles",))
def _parameters_core(p0, maps, targets, masses, flags, transform, roles):
  mixed = _mixed(p0, maps, targets, masses, roles, flags, transform)
  p0, marginal, pushed = mixed.p0, mixed.marginal, mixed.pushed
  num = len(roles)
  positive = marginal > 0
  conditional = p0 / jnp.where(positive, marginal, 1)[:, None]
  top = jnp.max(conditional, axis=-1)
  supports, deltas = [], []
  for c, role in enumerate(roles):
    if role == "erase":
      # S_e: the points the erasing bound sums over, sources that g moves and
      # the images that receive them (a fixed point nobody is sent to always
      # agrees with itself and needs no term).
      moved = maps[c] != jnp.arange(p0.shape[0])
      incoming = mixtures._segment_sum(jnp.where(moved, marginal, 0), maps[c])
      support = (moved & positive) | (incoming > 0)
      label = base_labels(p0)[maps[c]]                                   # lambda(w) = L(g(w))
      gap = top - jnp.take_along_axis(conditional, label[:, None], axis=-1)[:, 0]
    else:
      support = mixtures._segment_sum(marginal, maps[c]) > 0
      if role == "plant":
        gap = top - conditional[:, targets[c]]
      else:
        label = unplanting_labels(p0, targets[c])
        gap = conditional[:, targets[c]] - jnp.take_along_axis(conditional, label[:, None],
                                                              axis=-1)[:, 0]
    supports.append(support)
    deltas.append(jnp.maximum(jnp.max(jnp.where(support & positive, gap, 0)), 0))
  support = jnp.stack(supports)                                          # (M, n)
  xi_c = jnp.clip(jnp.sum(jnp.where(support, marginal, 0), axis=-1), 0, 1)
  overlap = jnp.clip(jnp.einsum("jn,cn->jc", jnp.sum(pushed, axis=-1),
                                support.astype(p0.dtype)), 0, 1)
  same = targets[:, None] == targets[None, :]
  is_plant = np.array([r == "plant" for r in roles])
  is_unplant = np.array([r == "unplant" for r in roles])
  fl = is_plant & ~flags
  # aligned[j, c]: j helps c (module docstring of bounds: the proofs' aligned mass).
  aligned = same & ~jnp.eye(num, dtype=bool) & (
      (fl[None, :] & fl[:, None]) | (is_plant[None, :] & is_plant[:, None] & flags[None, :])
      | (is_unplant[None, :] & is_unplant[:, None]))
  others = ~aligned & ~jnp.eye(num, dtype=bool)
  masses_v = jnp.where(mixed.valid, masses, 0)
  beta = jnp.sum(jnp.where(aligned, masses_v[:, None], 0), axis=0)
  misaligned = jnp.sum(jnp.where(others, masses_v[:, None], 0), axis=0)
  xi = jnp.max(jnp.where(others, overlap, 0), axis=0)
  competition = jnp.sum(jnp.where(others, masses_v[:, None] * overlap, 0), axis=0)
  own = conditional[:, targets].T                                          # (M, n)
  p = jnp.clip(jnp.min(jnp.where(positive, own, jnp.inf), axis=-1), 0, 1)
  out = MixedParameters(xi_c, overlap, aligned, beta, misaligned, xi, competition,
                        jnp.stack(deltas), p)
  return jax.tree.map(lambda leaf: leaf if leaf.dtype == bool
                      else jnp.where(mixed.valid, leaf, jnp.nan), out)


def parameters(p0: ArrayLike, signal_maps: ArrayLike, targets: ArrayLike, masses: ArrayLike,
               roles, *, feature_only=False, transform: ArrayLike = 0.5) -> MixedParameters:
  """Parameters of every collective of a mixed population for the closed-form bounds.

  The bounds of :mod:`acajax.bounds` for mixed populations read these:
  :func:`~acajax.bounds.feature_label` and :func:`~acajax.bounds.feature_only`
  for planters (unplanters and erasers count as misaligned),
  :func:`~acajax.bounds.unplanting` and :func:`~acajax.bounds.erasing`.

  Args:
""" + _SCENARIO_ARGS + """
    feature_only: bool, or (M,) bool array for the planters.
    transform: the erasers' fraction of moved points, in [0, 1].

  Returns:
    :class:`MixedParameters`; NaN (``aligned``: unchanged) out of domain.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import objectives
    >>> p0 = jnp.array([[.3, .1], [.25, .15], [.1, .1]])
    >>> maps = jnp.array([[2, 2, 2], [2, 2, 2]])
    >>> par = objectives.parameters(p0, maps, jnp.array([1, 0]), jnp.array([.05, .2]),
    ...                             ("plant", "erase"))
    >>> par.xi_c.round(4).tolist(), par.overlap[1, 0].round(4).tolist()
    ([0.2, 1.0], 0.6)
  """
  s, roles, flags, transform = _check(p0, signal_maps, targets, masses, roles, feature_only,
                                      transform)
  return _parameters_core(s.p0, s.signals, s.targets, s.masses, flags, transform, roles=roles)
