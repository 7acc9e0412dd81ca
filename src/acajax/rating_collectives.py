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
* the study's protocol (Karan et al.) draws members differently: distinct
  seed clusters for the collectives (:func:`seed_clusters`, at random or
  the farthest apart), each member from its seed cluster with a
  **propensity** p, else from the other clusters (:func:`select_by_propensity`),
  and as targets the collective's V collectively highest-rated items
  (:func:`collective_top_items`); the clusters come from
  :mod:`acajax.clustering` on the users' factor vectors.
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

from acajax import clustering
from acajax.planting import PlantingError, member_counts
from acajax.ratings import Ratings
from acajax.recommender import Extras

__all__ = [
    "ARCHETYPES",
    "CollectiveError",
    "RatingCollective",
    "RowStrategy",
    "SEED_CLUSTERS",
    "check_homogeneity",
    "check_propensity",
    "check_size",
    "collective_top_items",
    "member_count",
    "overlay",
    "plant",
    "seed_clusters",
    "select_by_propensity",
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


SEED_CLUSTERS = ("random", "farthest")


def seed_clusters(clusters, count: int, *, how: str = "random",
                  rng: np.random.Generator | int | None = None,
                  metric: str = "euclidean") -> np.ndarray:
  """Distinct seed (home) clusters for ``count`` collectives.

  ``how="random"`` draws ``count`` distinct clusters uniformly. ``how="farthest"``
  takes the pair of clusters whose centres (k-means) or medoids (k-medoids)
  are farthest apart (ties: the lexicographically first pair), and for
  ``count > 2`` adds greedily the cluster whose smallest distance to those
  already taken is largest (ties: the lower cluster); it is deterministic and
  ignores ``rng``. No two collectives share a seed cluster.

  Args:
    clusters: (U,) each user's cluster (``how="random"`` only: the clusters
      are its distinct values), or (Q, d) the clusters' centres or medoid
      vectors, row c for cluster c (:class:`acajax.clustering.Clustering`'s
      ``centres``).
    count: collectives, at most the number of clusters.
    how: ``"random"`` or ``"farthest"``.
    rng: Generator or seed (``"random"``).
    metric: the distance between centres, ``"euclidean"`` or ``"cosine"``
      (use the metric the clusters were found with).

  Returns:
    (count,) int64 distinct clusters; collective j's seed cluster is entry j
    (``"farthest"``: the pair in increasing order, then in the order added).

  Raises:
    CollectiveError: fewer clusters than ``count``, an unknown ``how``, or
      ``"farthest"`` given labels instead of centres.

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> centres = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [2.0, 0.0]])
    >>> rc.seed_clusters(centres, 2, how="farthest").tolist()
    [0, 2]
    >>> rc.seed_clusters(centres, 3, how="farthest").tolist()
    [0, 2, 3]
    >>> homes = rc.seed_clusters(np.arange(100) % 10, 2, how="random", rng=0)
    >>> len(set(homes.tolist()))
    2
  """
  if how not in SEED_CLUSTERS:
    raise CollectiveError(f"how must be one of {', '.join(map(repr, SEED_CLUSTERS))}; got "
                          f"{how!r}")
  clusters = np.asarray(clusters)
  if clusters.ndim not in (1, 2) or clusters.size == 0:
    raise CollectiveError(f"clusters must be (U,) labels or (Q, d) centres; got shape "
                          f"{clusters.shape}")
  labels = np.unique(clusters) if clusters.ndim == 1 else np.arange(len(clusters))
  if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
    raise CollectiveError(f"count must be an integer >= 1 (the collectives); got {count!r}")
  if count > len(labels):
    raise CollectiveError(f"count: {count} collectives need {count} distinct seed clusters; "
                          f"there are only {len(labels)} clusters")
  if how == "random":
    return np.random.default_rng(rng).choice(labels, count, replace=False).astype(np.int64)
  if clusters.ndim != 2:
    raise CollectiveError("clusters: how='farthest' needs the (Q, d) centres or medoid "
                          f"vectors of the clusters; got labels of shape {clusters.shape}")
  try:
    dist = clustering.distances(clusters, metric=metric)
  except clustering.ClusteringError as err:
    raise CollectiveError(f"clusters: {err}") from None
  if count == 1:
    return np.zeros(1, np.int64)
  upper = np.triu(np.ones_like(dist, bool), k=1)
  first = np.unravel_index(np.argmax(np.where(upper, dist, -np.inf)), dist.shape)
  chosen = [int(first[0]), int(first[1])]
  while len(chosen) < count:
    gap = dist[:, chosen].min(1)
    gap[chosen] = -np.inf
    chosen.append(int(np.argmax(gap)))
  return np.array(chosen, np.int64)


def check_propensity(p) -> None:
  """Refuses a propensity outside [0, 1]."""
  if not isinstance(p, (int, float, np.integer, np.floating)) or isinstance(
      p, bool) or not 0.0 <= float(p) <= 1.0:
    raise CollectiveError(f"p must be a probability in [0, 1] (the chance that a member comes "
                          f"from the seed cluster); got {p!r}")


def select_by_propensity(clusters, size: int | float, home: int, p: float,
                         rng: np.random.Generator | int, *, exclude=None) -> np.ndarray:
  """Draws a collective's members with propensity ``p`` to its seed cluster.

  Each of the n members independently comes from the ``home`` cluster with
  probability p, else uniformly from the users of every other cluster; all
  without replacement and outside ``exclude``. The number from home is
  therefore Binomial(n, p) (draw it, then draw that many users uniformly
  from home and the rest uniformly from the others: the same law as drawing
  member by member). Unlike :func:`select_members`, the share from home is
  random, p on average.

  Args:
    clusters: (U,) each user's cluster.
    size: a count or a fraction of U (:func:`member_count`).
    home: the seed cluster (:func:`seed_clusters`).
    p: the propensity, in [0, 1].
    rng: Generator or seed.
    exclude: user indices that may not be drawn (other collectives' members).

  Returns:
    (n,) sorted int64 user indices.

  Raises:
    CollectiveError: p outside [0, 1], a bad size, an unknown home, or a pool
      that runs out (fewer available users than the draw asks of the home
      cluster or of the others).

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> clusters = np.arange(100) % 10
    >>> members = rc.select_by_propensity(clusters, 10, 3, 1.0, rng=0)
    >>> len(members), int((clusters[members] == 3).sum())
    (10, 10)
    >>> others = rc.select_by_propensity(clusters, 10, 3, 0.0, rng=0, exclude=members)
    >>> int((clusters[others] == 3).sum()), len(np.intersect1d(members, others))
    (0, 0)
  """
  check_propensity(p)
  clusters = np.asarray(clusters).reshape(-1)
  count = member_count(size, len(clusters))
  labels = np.unique(clusters)
  if isinstance(home, bool) or home not in labels:
    raise CollectiveError(f"home must be one of the clusters {labels.tolist()}; got {home!r}")
  rng = np.random.default_rng(rng)
  available = np.ones(len(clusters), bool)
  if exclude is not None:
    available[np.asarray(exclude, int).reshape(-1)] = False
  pool_home = np.flatnonzero(available & (clusters == home))
  pool_other = np.flatnonzero(available & (clusters != home))
  num_home = int(rng.binomial(count, float(p)))
  num_other = count - num_home
  if num_home > len(pool_home) or num_other > len(pool_other):
    raise CollectiveError(
        f"pool runs out: the draw asks {num_home} of the {count} members from home cluster "
        f"{home} (p = {float(p):g}) and {num_other} from the others, but they have "
        f"{len(pool_home)} and {len(pool_other)} available users")
  members = np.concatenate([rng.choice(pool_home, num_home, replace=False),
                            rng.choice(pool_other, num_other, replace=False)])
  return np.sort(members).astype(np.int64)


def collective_top_items(dense_ratings, members, v: int) -> np.ndarray:
  """The collective's ``v`` collectively highest-rated items: its target set.

  An item's score is the **sum** of the members' ratings of it (an unrated
  item counts 0). The sum, not the mean, is what makes an item *collectively*
  high: it grows with how many members rated it as well as how high, so a
  film one member rated 5 does not outrank one that 30 members rated 4 (the
  mean would rank them the other way). Ratings are positive, so every item
  some member rated comes before every item none rated.

  Args:
    dense_ratings: (U, I) ratings, NaN where not rated (:meth:`Ratings.dense`).
    members: the collective's user indices.
    v: items to take, 1..I.

  Returns:
    (v,) int64 item indices, highest score first (ties: lower item index).

  Raises:
    CollectiveError: no members, members out of range, or v outside 1..I.

  Examples:
    >>> import numpy as np
    >>> from acajax import rating_collectives as rc
    >>> m = np.array([[5.0, 4.0, np.nan, 1.0], [np.nan, 4.0, 5.0, 2.0], [3.0, 3.0, 1.0, 1.0]])
    >>> rc.collective_top_items(m, [0, 1], 2).tolist()
    [1, 0]
  """
  dense = np.asarray(dense_ratings, np.float64)
  if dense.ndim != 2:
    raise CollectiveError(f"dense_ratings must be a (U, I) matrix; got shape {dense.shape}")
  members = np.asarray(members).reshape(-1)
  if members.size == 0 or not np.issubdtype(members.dtype, np.integer):
    raise CollectiveError(f"members must be a non-empty list of user indices; got "
                          f"{members.tolist()}")
  if members.min() < 0 or members.max() >= dense.shape[0]:
    raise CollectiveError(f"members must be user indices in 0..{dense.shape[0] - 1}; got "
                          f"values in {members.min()}..{members.max()}")
  if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= dense.shape[1]:
    raise CollectiveError(f"v must be an integer in 1..{dense.shape[1]} (the items); got {v!r}")
  score = np.nansum(dense[members], axis=0)
  return np.argsort(-score, kind="stable")[:int(v)].astype(np.int64)


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
