"""Collectives of users on a rating platform: members, promoters, demoters.

The recommender counterpart of :mod:`acajax.planting`, with the same shape:

* members are index arrays of users, drawn from taste clusters with a
  **homogeneity** h in (0, 1] (:func:`select_members`): ``round(h n)`` of
  the n members come from one "home" cluster, the other members uniformly
  from the users of every other cluster. With C equal clusters, h = 1 is a
  fully homogeneous collective and h = 1/C (0.1 for 10 clusters) a fully
  heterogeneous one, since a uniform draw puts about 1/C of the members in
  any one cluster. Sizes are counts (int >= 1) or fractions of the users
  (float in (0, 1), rounded as :func:`acajax.planting.member_counts`).
* a strategy is a function on the members' rows of the rating matrix,
  ``strategy(rows) -> rows'`` with rows of shape (n, I) and NaN where a
  member has not rated an item; the two archetypes of the study are
  :func:`targeted_promoter` (rate every target item high) and
  :func:`targeted_demoter` (rate every target item low). A new strategy is one
  function.
* :func:`plant` applies each collective's strategy to its own members' rows
  (several collectives at once, disjoint members, target sets that may
  overlap), and :func:`overlay` turns the planted rows into what
  :func:`acajax.recommender.train_many` takes: a weight per base rating
  (0 where a member's rating was changed or removed) and the members' new
  ratings.

Host-side NumPy, like :mod:`acajax.planting`; errors are
:class:`CollectiveError`, a :class:`acajax.planting.PlantingError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from acajax.planting import PlantingError, member_counts
from acajax.ratings import Ratings
from acajax.recommender import Extras

__all__ = [
    "ARCHETYPES",
    "CollectiveError",
    "RatingCollective",
    "RowStrategy",
    "check_homogeneity",
    "check_size",
    "member_count",
    "overlay",
    "plant",
    "select_members",
    "stack_extras",
    "targeted_demoter",
    "targeted_promoter",
]

RowStrategy = Callable[[np.ndarray], np.ndarray]
"""rows (n, I), NaN = not rated -> rows' (n, I): a collective's strategy."""


class CollectiveError(PlantingError):
  """A rating collective cannot be formed or planted as asked."""


def _targets(targets, name="targets") -> np.ndarray:
  targets = np.asarray(targets).reshape(-1)
  if targets.size == 0 or not np.issubdtype(targets.dtype, np.integer):
    raise CollectiveError(f"{name} must be a non-empty list of item indices; got "
                          f"{targets.tolist()}")
  return targets.astype(np.int64)


def _check_items(targets: np.ndarray, num_items: int, name="targets"):
  if targets.min() < 0 or targets.max() >= num_items:
    raise CollectiveError(f"{name} must be item indices in 0..{num_items - 1}; got "
                          f"{targets.tolist()}")


def targeted_promoter(targets, rating: float = 5.0) -> RowStrategy:
  """Targeted promoter: every member rates every target item ``rating`` (high).

  Args:
    targets: item indices of the target set T.
    rating: the rating given (default 5, the top of the MovieLens scale).

  Returns:
    The strategy, rows -> rows'; other items are left as they are.

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> rc.targeted_promoter([1])(np.array([[np.nan, 2.0, 3.0]])).tolist()
    [[nan, 5.0, 3.0]]
  """
  return _rate_targets(_targets(targets), rating)


def _rate_targets(targets: np.ndarray, rating: float) -> RowStrategy:
  """The strategy that sets every member's rating of every target item to ``rating``."""

  def strategy(rows):
    rows = np.array(rows, dtype=np.float32, copy=True)
    _check_items(targets, rows.shape[1])
    rows[:, targets] = rating
    return rows
  return strategy


def targeted_demoter(targets, rating: float = 1.0) -> RowStrategy:
  """Targeted demoter: every member rates every target item ``rating`` (low).

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> rc.targeted_demoter([0, 2])(np.array([[np.nan, 2.0, 3.0]])).tolist()
    [[1.0, 2.0, 1.0]]
  """
  return _rate_targets(_targets(targets), rating)


ARCHETYPES = {"promoter": (targeted_promoter, 5.0), "demoter": (targeted_demoter, 1.0)}


@dataclasses.dataclass(frozen=True)
class RatingCollective:
  """One collective on a rating platform.

  Attributes:
    archetype: ``"promoter"`` or ``"demoter"``.
    targets: item indices of the target set (0..I-1).
    size: members, a count (int >= 1) or a fraction of the users (float in (0, 1)).
    homogeneity: h in (0, 1], the share of members from the home cluster.
    rating: the rating the members give the targets (default: 5 for
      promoters, 1 for demoters).
    home: the home cluster; None draws it per seed.
    name: a label for reports (default: the archetype).
  """
  archetype: str
  targets: tuple[int, ...]
  size: int | float = 10
  homogeneity: float = 1.0
  rating: float | None = None
  home: int | None = None
  name: str | None = None

  def __post_init__(self):
    if self.archetype not in ARCHETYPES:
      raise CollectiveError(f"archetype must be one of {', '.join(map(repr, ARCHETYPES))}; got "
                            f"{self.archetype!r}")
    object.__setattr__(self, "targets", tuple(int(t) for t in _targets(self.targets)))
    check_size(self.size)
    check_homogeneity(self.homogeneity)

  @property
  def label(self) -> str:
    return self.name or self.archetype

  def strategy_fn(self) -> RowStrategy:
    build, default = ARCHETYPES[self.archetype]
    return build(self.targets, default if self.rating is None else self.rating)


def check_size(size) -> None:
  """Refuses a collective size that is neither a count >= 1 nor a fraction in (0, 1)."""
  if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
    raise CollectiveError(f"size must be a count (int >= 1) or a fraction in (0, 1); got "
                          f"{size!r}")
  if isinstance(size, (int, np.integer)):
    if size < 1:
      raise CollectiveError(f"size must be a count >= 1 or a fraction in (0, 1); got {size}")
  elif not 0.0 < size < 1.0:
    raise CollectiveError(f"size as a fraction must lie in (0, 1); got {size} (give counts "
                          "as ints)")


def check_homogeneity(homogeneity) -> None:
  """Refuses a homogeneity outside (0, 1]."""
  if not isinstance(homogeneity, (int, float, np.integer, np.floating)) or isinstance(
      homogeneity, bool) or not 0.0 < float(homogeneity) <= 1.0:
    raise CollectiveError(f"homogeneity must be a share in (0, 1] (1: every member from one "
                          f"cluster); got {homogeneity!r}")


def member_count(size: int | float, num_users: int) -> int:
  """Members of a collective of ``size`` (a count, or a fraction of ``num_users``).

  Raises:
    CollectiveError: a bad size, or more members than users.

  Examples:
    >>> from acajax import rating_collectives as rc
    >>> rc.member_count(20, 943), rc.member_count(0.05, 943)
    (20, 47)
  """
  check_size(size)
  if isinstance(size, (int, np.integer)):
    count = int(size)
  else:
    try:
      count = int(member_counts(num_users, [float(size)])[0])
    except PlantingError as err:
      raise CollectiveError(str(err)) from None
  if count > num_users:
    raise CollectiveError(f"size {size} asks for {count} members but there are only "
                          f"{num_users} users")
  return count


def select_members(clusters, size: int | float, homogeneity: float,
                   rng: np.random.Generator | int, *, home: int | None = None,
                   exclude=None) -> tuple[np.ndarray, int]:
  """Draws a collective's members with a given homogeneity.

  ``round(h n)`` members (at least 1) come from the home cluster, the rest
  uniformly from the users of the other clusters; all without replacement and
  outside ``exclude`` (the members of other collectives).

  Args:
    clusters: (U,) each user's cluster.
    size: a count or a fraction of U (:func:`member_count`).
    homogeneity: h in (0, 1].
    rng: Generator or seed.
    home: the home cluster; None: drawn uniformly among the clusters that
      have enough available users.
    exclude: user indices that may not be drawn.

  Returns:
    ``(members, home)``: sorted user indices and the home cluster.

  Raises:
    CollectiveError: h outside (0, 1], a bad size, or not enough users.

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> clusters = np.arange(100) % 10
    >>> members, home = rc.select_members(clusters, 10, 0.5, rng=0)
    >>> len(members), int((clusters[members] == home).sum())
    (10, 5)
  """
  check_homogeneity(homogeneity)
  clusters = np.asarray(clusters).reshape(-1)
  count = member_count(size, len(clusters))
  rng = np.random.default_rng(rng)
  available = np.ones(len(clusters), bool)
  if exclude is not None:
    available[np.asarray(exclude, int)] = False
  num_home = max(1, int(np.floor(homogeneity * count + 0.5)))
  num_other = count - num_home
  labels = np.unique(clusters)
  if home is None:
    fits = [c for c in labels if np.sum(available & (clusters == c)) >= num_home
            and np.sum(available & (clusters != c)) >= num_other]
    if not fits:
      raise CollectiveError(f"no cluster has {num_home} available users for a collective of "
                            f"{count} with homogeneity {homogeneity:g}")
    home = int(rng.choice(fits))
  elif home not in labels:
    raise CollectiveError(f"home must be one of the clusters {labels.tolist()}; got {home!r}")
  pool_home = np.flatnonzero(available & (clusters == home))
  pool_other = np.flatnonzero(available & (clusters != home))
  if len(pool_home) < num_home or len(pool_other) < num_other:
    raise CollectiveError(f"cluster {home} has {len(pool_home)} and the others "
                          f"{len(pool_other)} available users; a collective of {count} with "
                          f"homogeneity {homogeneity:g} needs {num_home} and {num_other}")
  members = np.concatenate([rng.choice(pool_home, num_home, replace=False),
                            rng.choice(pool_other, num_other, replace=False)])
  return np.sort(members).astype(np.int64), int(home)


def plant(matrix, strategies: Sequence[RowStrategy], members: Sequence) -> np.ndarray:
  """Applies each collective's strategy to its own members' rows.

  Args:
    matrix: (U, I) ratings, NaN where not rated (:meth:`Ratings.dense`).
    strategies: M strategies, rows -> rows'.
    members: M disjoint arrays of user indices.

  Returns:
    A planted copy of ``matrix`` (the input is not modified).

  Raises:
    CollectiveError: overlapping members, or a strategy that changes the
      shape of the rows.

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> m = np.array([[4.0, np.nan], [2.0, 3.0], [np.nan, 1.0]])
    >>> rc.plant(m, [rc.targeted_promoter([1]), rc.targeted_demoter([0])], [[0], [2]]).tolist()
    [[4.0, 5.0], [2.0, 3.0], [1.0, 1.0]]
  """
  out = np.array(matrix, dtype=np.float32, copy=True)
  if len(strategies) != len(members):
    raise CollectiveError(f"members must hold {len(strategies)} index arrays; got "
                          f"{len(members)}")
  members = [np.asarray(m, int).reshape(-1) for m in members]
  flat = np.concatenate(members) if members else np.zeros(0, int)
  if len(np.unique(flat)) != len(flat):
    raise CollectiveError("members of different collectives must be disjoint")
  for c, (strategy, idx) in enumerate(zip(strategies, members)):
    rows = strategy(out[idx])
    if np.shape(rows) != (len(idx), out.shape[1]):
      raise CollectiveError(f"collective {c}'s strategy returned rows of shape "
                            f"{np.shape(rows)}; expected ({len(idx)}, {out.shape[1]})")
    out[idx] = rows
  return out


def overlay(base: Ratings, planted, members) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
  """The planted data as base weights plus extra ratings (for ``train_many``).

  Only the members' rows can differ from the base. A base rating of a member
  that the planting changed or removed gets weight 0; every changed or new
  rating of a member becomes an extra rating.

  Args:
    base: the unplanted :class:`Ratings`.
    planted: (U, I) planted matrix (:func:`plant`).
    members: every acting collective's members.

  Returns:
    ``(base_weights, (users, items, values))``: (n,) float32 weights and the
    extra ratings as int32, int32, float32 arrays.

  Examples:
    >>> import numpy as np
    >>> from acajax import ratings, rating_collectives as rc
    >>> base = ratings.Ratings.from_coo([0, 1], [0, 0], [4, 2], 2, 2)
    >>> planted = rc.plant(base.dense(), [rc.targeted_promoter([0, 1])], [[0]])
    >>> w, (u, i, v) = rc.overlay(base, planted, [[0]])
    >>> w.tolist(), u.tolist(), i.tolist(), v.tolist()
    ([0.0, 1.0], [0, 0], [0, 1], [5.0, 5.0])
  """
  planted = np.asarray(planted, np.float32)
  dense = base.dense()
  rows = np.unique(np.concatenate([np.asarray(m, int).reshape(-1) for m in members])
                   if len(members) else np.zeros(0, int))
  old, new = dense[rows], planted[rows]
  same = (old == new) | (np.isnan(old) & np.isnan(new))
  changed_old = ~np.isnan(old) & ~same
  changed_new = ~np.isnan(new) & ~same
  drop = np.zeros_like(dense, dtype=bool)
  drop[rows] = changed_old
  weights = np.where(drop[base.users, base.items], 0.0, 1.0).astype(np.float32)
  r, i = np.nonzero(changed_new)
  return weights, (rows[r].astype(np.int32), i.astype(np.int32), new[r, i].astype(np.float32))


def stack_extras(extras: Sequence[tuple[np.ndarray, ...]]):
  """Pads per-model extra ratings to one length: an :class:`acajax.recommender.Extras`.

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> e = rc.stack_extras([(np.array([0]), np.array([1]), np.array([5.0])),
    ...                      (np.zeros(0, int), np.zeros(0, int), np.zeros(0))])
    >>> e.users.shape, e.weights.tolist()
    ((2, 1), [[1.0], [0.0]])
  """
  length = max([len(e[0]) for e in extras] + [0])
  out = np.zeros((4, len(extras), length), np.float64)
  for b, (users, items, values) in enumerate(extras):
    n = len(users)
    out[:, b, :n] = users, items, values, np.ones(n)
  return Extras(out[0].astype(np.int32), out[1].astype(np.int32), out[2].astype(np.float32),
                out[3].astype(np.float32))
