"""Rating data: a sparse rating container, a synthetic generator, MovieLens files.

The data side of the recommender setting. Ratings are held as
coordinates (COO): one entry per observed (user, item, rating), users and
items numbered 0..U-1 and 0..I-1; the raw ids of a file are kept beside them
(``user_ids[u]`` is the id of user ``u`` in the file) so that results can be
reported in the file's own ids. :meth:`Ratings.dense` gives the (U, I) matrix
with NaN where a user has not rated an item; the collectives' strategies act
on rows of that matrix (:mod:`acajax.rating_collectives`).

Two sources, both offline:

* :func:`synthetic` — users in clusters of shared taste and items with a
  Zipf popularity: which items a user rates follows popularity, how they rate
  them follows a low-rank model (cluster centre + user noise) on a 1..5 scale.
  Seeded; the clusters are returned with the ratings.
* :func:`load_movielens` — the MovieLens 100k ``u.data`` format: one rating a
  line, ``user id <TAB> item id <TAB> rating <TAB> timestamp``, from a file
  the user already has (nothing is downloaded). Malformed lines raise
  :class:`RatingsError` naming the file, the line number and what was
  expected.

Real data has no clusters; :func:`cluster_users` finds them (k-means on
mean-centred, normalised rating rows), the grouping from which collectives of
a given homogeneity are drawn.

Everything here is host-side NumPy.
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import numpy as np

__all__ = [
    "Ratings",
    "RatingsError",
    "SyntheticRatings",
    "cluster_users",
    "load_movielens",
    "synthetic",
]


class RatingsError(ValueError):
  """Bad rating data: the message names the file and line, or the argument."""


class Ratings(NamedTuple):
  """Observed ratings in coordinate form.

  Attributes:
    users: (n,) int32 user indices in 0..U-1.
    items: (n,) int32 item indices in 0..I-1.
    values: (n,) float32 ratings.
    num_users: U.
    num_items: I.
    user_ids: (U,) the users' ids in the source (default 0..U-1).
    item_ids: (I,) the items' ids in the source (default 0..I-1).
  """
  users: np.ndarray
  items: np.ndarray
  values: np.ndarray
  num_users: int
  num_items: int
  user_ids: np.ndarray
  item_ids: np.ndarray

  @classmethod
  def from_coo(cls, users, items, values, num_users: int, num_items: int,
               user_ids=None, item_ids=None) -> "Ratings":
    """Checked construction from coordinates.

    Raises:
      RatingsError: shapes differ, indices out of range, or a (user, item)
        pair occurs twice.

    Examples:
      >>> from acajax import ratings
      >>> r = ratings.Ratings.from_coo([0, 1], [1, 0], [5, 3], 2, 2)
      >>> r.dense().tolist()
      [[nan, 5.0], [3.0, nan]]
    """
    users = np.asarray(users, np.int32).reshape(-1)
    items = np.asarray(items, np.int32).reshape(-1)
    values = np.asarray(values, np.float32).reshape(-1)
    if not len(users) == len(items) == len(values):
      raise RatingsError(f"users, items and values must have the same length; got "
                         f"{len(users)}, {len(items)} and {len(values)}")
    for name, idx, bound in (("users", users, num_users), ("items", items, num_items)):
      if len(idx) and (idx.min() < 0 or idx.max() >= bound):
        raise RatingsError(f"{name} must lie in 0..{bound - 1}; got values in "
                           f"{idx.min()}..{idx.max()}")
    if not np.all(np.isfinite(values)):
      raise RatingsError("values must be finite")
    codes = users.astype(np.int64) * num_items + items
    if len(np.unique(codes)) != len(codes):
      raise RatingsError("a (user, item) pair is rated twice")
    user_ids = np.arange(num_users) if user_ids is None else np.asarray(user_ids)
    item_ids = np.arange(num_items) if item_ids is None else np.asarray(item_ids)
    if user_ids.shape != (num_users,) or item_ids.shape != (num_items,):
      raise RatingsError(f"user_ids and item_ids must have shapes ({num_users},) and "
                         f"({num_items},); got {user_ids.shape} and {item_ids.shape}")
    return cls(users, items, values, int(num_users), int(num_items), user_ids, item_ids)

  @classmethod
  def from_dense(cls, matrix, user_ids=None, item_ids=None) -> "Ratings":
    """Ratings from a (U, I) matrix with NaN where nothing is rated."""
    matrix = np.asarray(matrix, np.float32)
    users, items = np.nonzero(~np.isnan(matrix))
    return cls.from_coo(users, items, matrix[users, items], *matrix.shape, user_ids, item_ids)

  @property
  def num_ratings(self) -> int:
    return len(self.values)

  def dense(self) -> np.ndarray:
    """The (U, I) float32 rating matrix, NaN where a user has not rated an item."""
    out = np.full((self.num_users, self.num_items), np.nan, np.float32)
    out[self.users, self.items] = self.values
    return out

  def rated(self) -> np.ndarray:
    """(U, I) bool: which items each user has rated."""
    out = np.zeros((self.num_users, self.num_items), bool)
    out[self.users, self.items] = True
    return out

  def user_index(self, ids) -> np.ndarray:
    """Indices 0..U-1 of users given by their source ids.

    Raises:
      RatingsError: an id that is not in the data (the first few are named).

    Examples:
      >>> from acajax import ratings
      >>> r = ratings.Ratings.from_coo([0, 1], [0, 0], [4, 2], 2, 1, user_ids=[7, 9])
      >>> r.user_index([9, 7]).tolist()
      [1, 0]
    """
    return _index_of(self.user_ids, ids, "user")

  def item_index(self, ids) -> np.ndarray:
    """Indices 0..I-1 of items given by their source ids (see :meth:`user_index`)."""
    return _index_of(self.item_ids, ids, "item")


def _index_of(known: np.ndarray, ids, kind: str) -> np.ndarray:
  ids = np.asarray(ids).reshape(-1)
  order = np.argsort(known, kind="stable")
  pos = np.searchsorted(known[order], ids)
  pos = np.minimum(pos, len(known) - 1)
  found = known[order][pos] == ids if len(known) else np.zeros(len(ids), bool)
  if not np.all(found):
    missing = ids[~found][:5].tolist()
    raise RatingsError(f"unknown {kind} id(s) {missing}: the data has {len(known)} {kind}s "
                       f"with ids from {known.min()} to {known.max()}")
  return order[pos].astype(np.int32)


class SyntheticRatings(NamedTuple):
  """What :func:`synthetic` returns.

  Attributes:
    ratings: the observed :class:`Ratings`.
    clusters: (U,) each user's taste cluster.
    popularity: (I,) the items' popularity weights (sum 1).
  """
  ratings: Ratings
  clusters: np.ndarray
  popularity: np.ndarray


def synthetic(num_users: int = 400, num_items: int = 300, *, num_clusters: int = 10,
              rank: int = 8, ratings_per_user=40, zipf: float = 1.0,
              popularity_offset: float = 0.0, popularity_quality: float = 0.0,
              cluster_spread: float = 0.3, noise: float = 0.5,
              seed: int = 0) -> SyntheticRatings:
  """Synthetic ratings with user clusters and item popularity (seeded).

  User u in cluster c has taste ``p_u = z_c + cluster_spread * e_u``, item i
  has ``q_i``, both with standard normal coordinates scaled by
  ``1 / sqrt(rank)``; item i's quality is ``b_i ~ N(0, 0.5^2)``, plus
  ``0.5 popularity_quality`` times the item's standardised log popularity
  (so that popular items can be rated higher on average). The rating
  is ``clip(round(3.5 + b_i + 1.5 p_u . q_i + noise * e), 1, 5)``. Which
  items a user rates: ``ratings_per_user`` items drawn without replacement
  with probability proportional to ``popularity_i * exp(p_u . q_i)``, where
  the popularity is Zipf-Mandelbrot, ``(rank of i + popularity_offset)^-zipf``
  over a random order of items (so raters prefer popular items and items
  they like, as in real data). An offset flattens the head, so that the most
  popular items are not rated by everyone, while the tail stays long.
  Clusters have equal sizes up to one user.

  Args:
    num_users, num_items: U and I.
    num_clusters: number of taste clusters.
    rank: dimension of the taste vectors.
    ratings_per_user: items each user rates (at most I): one count for all,
      or (U,) counts, one per user (real users differ in activity).
    zipf: exponent of the popularity law (0: uniform).
    popularity_offset: the law's offset, >= 0 (0: Zipf).
    popularity_quality: how much more popular items are liked (0: quality
      independent of popularity).
    cluster_spread: spread of users around their cluster centre.
    noise: standard deviation of the rating noise before rounding.
    seed: the seed; equal seeds give equal data.

  Returns:
    A :class:`SyntheticRatings`.

  Raises:
    RatingsError: non-positive sizes, more ratings per user than items, a
      count per user of the wrong shape, or a negative offset.

  Examples:
    >>> from acajax import ratings
    >>> data = ratings.synthetic(50, 40, num_clusters=5, ratings_per_user=10, seed=0)
    >>> data.ratings.num_ratings, sorted(set(data.clusters.tolist()))
    (500, [0, 1, 2, 3, 4])
    >>> sorted(set(data.ratings.values.tolist())) <= [1.0, 2.0, 3.0, 4.0, 5.0]
    True
  """
  for name, value in (("num_users", num_users), ("num_items", num_items),
                      ("num_clusters", num_clusters), ("rank", rank)):
    if int(value) != value or value < 1:
      raise RatingsError(f"{name} must be a positive integer; got {value!r}")
  counts = np.asarray(ratings_per_user)
  if counts.ndim == 0:
    counts = np.full(int(num_users), counts)
  if counts.shape != (num_users,) or not np.issubdtype(counts.dtype, np.number):
    raise RatingsError(f"ratings_per_user must be one count or one per user ({num_users},); "
                       f"got shape {counts.shape}")
  if np.any(counts != np.round(counts)) or counts.min() < 1:
    raise RatingsError(f"ratings_per_user must be positive integers; got "
                       f"{ratings_per_user!r}")
  if counts.max() > num_items:
    raise RatingsError(f"ratings_per_user must be at most num_items = {num_items}; got "
                       f"{int(counts.max())}")
  counts = counts.astype(np.int64)
  if not np.isfinite(popularity_quality):
    raise RatingsError(f"popularity_quality must be a finite number; got "
                       f"{popularity_quality!r}")
  if not np.isfinite(popularity_offset) or popularity_offset < 0:
    raise RatingsError(f"popularity_offset must be a finite number >= 0; got "
                       f"{popularity_offset!r}")
  if num_clusters > num_users:
    raise RatingsError(f"num_clusters must be at most num_users = {num_users}; got "
                       f"{num_clusters}")
  rng = np.random.default_rng(seed)
  scale = 1.0 / np.sqrt(rank)
  clusters = rng.permutation(np.arange(num_users) % num_clusters)
  centres = rng.normal(size=(num_clusters, rank)) * scale
  tastes = centres[clusters] + cluster_spread * rng.normal(size=(num_users, rank)) * scale
  items = rng.normal(size=(num_items, rank)) * scale
  quality = 0.5 * rng.normal(size=num_items)
  popularity = (1.0 + rng.permutation(num_items) + popularity_offset) ** -float(zipf)
  popularity /= popularity.sum()
  if popularity_quality:
    log_popularity = np.log(popularity)
    spread = log_popularity.std()
    if spread > 0:
      quality = quality + 0.5 * popularity_quality * (log_popularity - log_popularity.mean()) / spread
  affinity = tastes @ items.T                               # (U, I)
  # Gumbel top-k: sampling without replacement proportional to the weights.
  logits = np.log(popularity)[None, :] + affinity + rng.gumbel(size=affinity.shape)
  chosen = np.argsort(-logits, axis=1)[:, :counts.max()]
  users = np.repeat(np.arange(num_users), counts)
  item_idx = chosen[np.arange(counts.max()) < counts[:, None]]
  raw = 3.5 + quality[item_idx] + 1.5 * affinity[users, item_idx] + noise * rng.normal(
      size=len(users))
  values = np.clip(np.round(raw), 1, 5)
  order = np.lexsort((item_idx, users))
  return SyntheticRatings(
      Ratings.from_coo(users[order], item_idx[order], values[order], num_users, num_items),
      clusters.astype(np.int32), popularity)


def load_movielens(path, *, rating_range: tuple[float, float] = (1.0, 5.0)) -> Ratings:
  """Reads ratings in the MovieLens 100k ``u.data`` format.

  One rating a line: ``user id``, ``item id``, ``rating``, ``timestamp``,
  separated by tabs (blank lines are skipped). Ids are integers and are
  numbered 0.. in increasing order (``Ratings.user_ids`` maps back); the
  timestamp must be an integer and is not kept. Nothing is downloaded: pass
  the path of a file you have.

  Args:
    path: the file.
    rating_range: (low, high), the allowed ratings (inclusive).

  Returns:
    :class:`Ratings`, sorted by user then item.

  Raises:
    RatingsError: a missing file, or a malformed line: the message names the
      file, the line number and what was expected (4 tab-separated fields,
      integer ids, a rating in range, no (user, item) pair twice).

  Examples:
    >>> import pathlib, tempfile
    >>> from acajax import ratings
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "u.data"
    >>> _ = path.write_text("196\\t242\\t3\\t881250949\\n186\\t302\\t3\\t891717742\\n")
    >>> r = ratings.load_movielens(path)
    >>> r.num_users, r.num_items, r.user_ids.tolist(), r.values.tolist()
    (2, 2, [186, 196], [3.0, 3.0])
  """
  path = pathlib.Path(path)
  low, high = rating_range
  try:
    text = path.read_text(encoding="utf-8")
  except FileNotFoundError:
    raise RatingsError(f"{path}: no such file") from None
  except IsADirectoryError:
    raise RatingsError(f"{path}: is a folder; expected a u.data file") from None
  except OSError as err:
    raise RatingsError(f"{path}: cannot read ({err.strerror})") from None
  except UnicodeDecodeError as err:
    raise RatingsError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
  users, items, values, seen = [], [], [], {}
  for number, line in enumerate(text.splitlines(), start=1):
    if not line.strip():
      continue
    fields = line.split("\t")
    if len(fields) != 4:
      raise RatingsError(f"{path}, line {number}: expected 4 tab-separated fields "
                         f"(user id, item id, rating, timestamp); got {len(fields)}: {line!r}")
    try:
      user, item = int(fields[0]), int(fields[1])
    except ValueError:
      raise RatingsError(f"{path}, line {number}: user id and item id must be integers; got "
                         f"{fields[0]!r} and {fields[1]!r}") from None
    try:
      value = float(fields[2])
    except ValueError:
      value = float("nan")
    if not low <= value <= high:
      raise RatingsError(f"{path}, line {number}: rating must be a number in [{low:g}, "
                         f"{high:g}]; got {fields[2]!r}")
    try:
      int(fields[3])
    except ValueError:
      raise RatingsError(f"{path}, line {number}: timestamp must be an integer; got "
                         f"{fields[3]!r}") from None
    first = seen.setdefault((user, item), number)
    if first != number:
      raise RatingsError(f"{path}, line {number}: user {user} rates item {item} a second "
                         f"time (first on line {first})")
    users.append(user)
    items.append(item)
    values.append(value)
  if not users:
    raise RatingsError(f"{path}: no ratings found")
  user_ids, user_idx = np.unique(np.array(users), return_inverse=True)
  item_ids, item_idx = np.unique(np.array(items), return_inverse=True)
  order = np.lexsort((item_idx, user_idx))
  return Ratings.from_coo(user_idx[order], item_idx[order], np.array(values)[order],
                          len(user_ids), len(item_ids), user_ids, item_ids)


def cluster_users(ratings: Ratings, num_clusters: int, *, seed: int = 0,
                  iterations: int = 50) -> np.ndarray:
  """Groups users by taste: k-means on their mean-centred, normalised rating rows.

  Each user's row holds ``r_ui - mean_u`` on rated items and 0 elsewhere,
  scaled to unit length (cosine geometry); k-means++ seeding, then Lloyd
  iterations. Use it on real data to define the clusters from which
  collectives of a given homogeneity are drawn.

  Args:
    ratings: the :class:`Ratings`.
    num_clusters: number of clusters, at most U.
    seed: seed of the k-means++ seeding.
    iterations: Lloyd iterations at most.

  Returns:
    (U,) int32 cluster of each user, numbered by decreasing cluster size.

  Raises:
    RatingsError: ``num_clusters`` outside 1..U.

  Examples:
    >>> from acajax import ratings
    >>> data = ratings.synthetic(60, 50, num_clusters=2, ratings_per_user=30,
    ...                          cluster_spread=0.1, seed=1)
    >>> found = ratings.cluster_users(data.ratings, 2, seed=0)
    >>> agree = (found == data.clusters).mean()
    >>> bool(max(agree, 1 - agree) > 0.9)
    True
  """
  if int(num_clusters) != num_clusters or not 1 <= num_clusters <= ratings.num_users:
    raise RatingsError(f"num_clusters must be an integer in 1..{ratings.num_users}; got "
                       f"{num_clusters!r}")
  matrix = ratings.dense().astype(np.float64)
  mask = ~np.isnan(matrix)
  counts = np.maximum(mask.sum(1, keepdims=True), 1)
  means = np.where(mask, matrix, 0.0).sum(1, keepdims=True) / counts
  rows = np.where(mask, matrix - means, 0.0)
  rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
  rng = np.random.default_rng(seed)
  centres = [rows[rng.integers(len(rows))]]
  for _ in range(1, num_clusters):
    dist = np.min([((rows - c) ** 2).sum(1) for c in centres], axis=0)
    total = dist.sum()
    pick = rng.choice(len(rows), p=dist / total) if total > 0 else rng.integers(len(rows))
    centres.append(rows[pick])
  centres = np.array(centres)
  labels = np.full(len(rows), -1)
  for _ in range(iterations):
    dist = (rows ** 2).sum(1)[:, None] - 2 * rows @ centres.T + (centres ** 2).sum(1)[None]
    new = np.argmin(dist, axis=1)
    if np.array_equal(new, labels):
      break
    labels = new
    for c in range(num_clusters):
      if np.any(labels == c):
        centres[c] = rows[labels == c].mean(0)
  sizes = np.bincount(labels, minlength=num_clusters)
  rename = np.empty(num_clusters, int)
  rename[np.argsort(-sizes, kind="stable")] = np.arange(num_clusters)
  return rename[labels].astype(np.int32)
