"""Clustering of vectors: k-means (L2) and k-medoids (cosine or L2).

The study's recommender protocol clusters the users' matrix-factorisation
vectors into Q clusters, by k-means on Euclidean distance or by k-medoids on
cosine distance, and draws each collective from one "seed" cluster
(:mod:`acajax.rating_collectives`). This module holds the two algorithms
and :func:`user_vectors`, the vectors of trained parameters:

* :func:`kmeans` — k-means++ seeding (each new centre drawn with probability
  proportional to the squared distance to the nearest chosen one), then
  Lloyd iterations (assign each vector to its nearest centre, move each
  centre to the mean of its vectors) until the assignment no longer changes.
  A cluster that empties moves to the vector farthest from its own centre
  (several: the farthest few), and Lloyd goes on.
* :func:`kmedoids` — k-medoids++ seeding (probability proportional to the
  distance to the nearest chosen medoid), then PAM's swap phase by steepest
  descent: every pass evaluates all Q (U - Q) swaps of a medoid with a
  non-medoid and makes the one that lowers the cost most, until none does.
  The result is a medoid set that no single swap improves (a local optimum of
  the PAM cost, the sum over vectors of the distance to their nearest
  medoid).

Both are deterministic for a seed (the seed only drives the seeding) and
number the clusters by decreasing size (ties: the order of the centres).
Ties between equally near centres go to the lower one. Host-side NumPy;
errors are :class:`ClusteringError`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "METRICS",
    "Clustering",
    "ClusteringError",
    "cosine_distances",
    "distances",
    "kmeans",
    "kmedoids",
    "user_vectors",
]

METRICS = ("cosine", "euclidean")


class ClusteringError(ValueError):
  """Vectors or a cluster count that cannot be clustered as asked."""


class Clustering(NamedTuple):
  """What :func:`kmeans` and :func:`kmedoids` return.

  Attributes:
    labels: (U,) int32 cluster of each vector, 0..Q-1, numbered by decreasing
      cluster size.
    centres: (Q, d) the centres (k-means: the clusters' means; k-medoids:
      the medoids' vectors), row c for cluster c.
    medoids: (Q,) int64 index of cluster c's medoid (k-medoids), or None
      (k-means).
    cost: k-means: the sum of squared Euclidean distances to the centres;
      k-medoids: the sum of distances (``metric``) to the medoids.
    iterations: Lloyd iterations (k-means) or swaps made (k-medoids).
  """
  labels: np.ndarray
  centres: np.ndarray
  medoids: np.ndarray | None
  cost: float
  iterations: int


def _vectors(vectors) -> np.ndarray:
  out = np.asarray(vectors, np.float64)
  if out.ndim != 2 or out.shape[0] == 0 or out.shape[1] == 0:
    raise ClusteringError(f"vectors must be a non-empty (U, d) array; got shape {out.shape}")
  if not np.all(np.isfinite(out)):
    raise ClusteringError("vectors must be finite")
  return out


def _count(q, num: int) -> int:
  if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or not 1 <= q <= num:
    raise ClusteringError(f"q must be an integer in 1..{num} (the number of vectors); got "
                          f"{q!r}")
  return int(q)


def cosine_distances(a, b=None) -> np.ndarray:
  """Cosine distances ``1 - a_i . b_j / (|a_i| |b_j|)``, in [0, 2].

  Args:
    a: (n, d) vectors.
    b: (m, d) vectors (default: ``a``).

  Returns:
    (n, m) float64 distances (exactly 0 on the diagonal when ``b`` is None).

  Raises:
    ClusteringError: a zero vector (its direction, and so the distance, is
      undefined).

  Examples:
    >>> from acajax import clustering
    >>> clustering.cosine_distances([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]]).round(3).tolist()
    [[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
  """
  same = b is None
  a = _vectors(a)
  b = a if same else _vectors(b)
  norms = []
  for name, x in (("a", a), ("b", b)):
    n = np.linalg.norm(x, axis=1)
    if np.any(n == 0):
      raise ClusteringError(f"{name} row {int(np.argmin(n))} is a zero vector: its cosine "
                            "distance is undefined")
    norms.append(n)
  out = np.clip(1.0 - (a / norms[0][:, None]) @ (b / norms[1][:, None]).T, 0.0, 2.0)
  if same:
    np.fill_diagonal(out, 0.0)
  return out


def distances(a, b=None, *, metric: str = "euclidean") -> np.ndarray:
  """Pairwise distances: ``"euclidean"`` (L2) or ``"cosine"`` (:func:`cosine_distances`).

  Examples:
    >>> from acajax import clustering
    >>> clustering.distances([[0.0, 0.0], [3.0, 4.0]]).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
  """
  if metric not in METRICS:
    raise ClusteringError(f"metric must be one of {', '.join(map(repr, METRICS))}; got "
                          f"{metric!r}")
  if metric == "cosine":
    return cosine_distances(a, b)
  a = _vectors(a)
  b = a if b is None else _vectors(b)
  # Differences, not |a|^2 - 2 a.b + |b|^2: the expansion's rounding, through
  # the square root, would put ~1e-8 where the distance is 0. Blocks of rows
  # keep the (rows, m, d) differences small.
  out = np.empty((len(a), len(b)))
  step = max(1, 2**22 // max(1, len(b) * a.shape[1]))
  for start in range(0, len(a), step):
    diff = a[start:start + step, None, :] - b[None, :, :]
    out[start:start + step] = np.sqrt((diff ** 2).sum(-1))
  return out


def _squared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """(n, m) squared Euclidean distances, never negative."""
  return np.maximum((a ** 2).sum(1)[:, None] - 2.0 * a @ b.T + (b ** 2).sum(1)[None], 0.0)


def _by_size(labels: np.ndarray, q: int) -> np.ndarray:
  """rename[c]: cluster c's number when clusters are numbered by decreasing size."""
  sizes = np.bincount(labels, minlength=q)
  rename = np.empty(q, np.int64)
  rename[np.argsort(-sizes, kind="stable")] = np.arange(q)
  return rename


def _plus_plus(weights_of, num: int, q: int, rng: np.random.Generator) -> list[int]:
  """k-means++ style seeding: ``weights_of(chosen)`` gives each vector's weight."""
  chosen = [int(rng.integers(num))]
  for _ in range(1, q):
    weight = weights_of(chosen)
    weight[chosen] = 0.0
    total = weight.sum()
    if total > 0:
      chosen.append(int(rng.choice(num, p=weight / total)))
    else:   # every vector coincides with a chosen one: any other index
      chosen.append(int(rng.choice(np.setdiff1d(np.arange(num), chosen))))
  return chosen


def kmeans(vectors, q: int, *, seed: int = 0, init=None,
           max_iterations: int = 300) -> Clustering:
  """k-means on Euclidean distance: k-means++ seeding, then Lloyd to convergence.

  Args:
    vectors: (U, d) vectors.
    q: number of clusters, 1..U.
    seed: seed of the k-means++ seeding.
    init: (q, d) initial centres instead of the seeding (optional).
    max_iterations: Lloyd iterations at most (convergence, an assignment that
      no longer changes, usually comes much earlier).

  Returns:
    A :class:`Clustering` (``medoids`` None, ``cost`` the sum of squared
    distances to the centres).

  Raises:
    ClusteringError: bad vectors, q outside 1..U, or ``init`` of another shape.

  Examples:
    >>> from acajax import clustering
    >>> x = [[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0], [10.0, 2.0]]
    >>> found = clustering.kmeans(x, 2, seed=0)
    >>> found.labels.tolist(), found.centres.tolist(), round(found.cost, 3)
    ([1, 1, 0, 0, 0], [[10.0, 1.0], [0.0, 0.5]], 2.5)
  """
  x = _vectors(vectors)
  q = _count(q, len(x))
  if init is None:
    rng = np.random.default_rng(seed)
    chosen = _plus_plus(lambda c: _squared(x, x[c]).min(1), len(x), q, rng)
    centres = x[chosen].copy()
  else:
    centres = np.array(init, np.float64)
    if centres.shape != (q, x.shape[1]) or not np.all(np.isfinite(centres)):
      raise ClusteringError(f"init must be ({q}, {x.shape[1]}) finite centres; got shape "
                            f"{centres.shape}")
  labels = np.full(len(x), -1)
  iterations = 0
  for iterations in range(1, max_iterations + 1):
    new = np.argmin(_squared(x, centres), axis=1)
    if np.array_equal(new, labels):
      break
    labels = new
    empty = []
    for c in range(q):
      inside = labels == c
      if inside.any():
        centres[c] = x[inside].mean(0)
      else:
        empty.append(c)
    if empty:   # each empty cluster moves to a vector far from its own centre
      far = np.argsort(-((x - centres[labels]) ** 2).sum(1), kind="stable")
      centres[empty] = x[far[:len(empty)]]
  cost = float(((x - centres[labels]) ** 2).sum())
  rename = _by_size(labels, q)
  order = np.argsort(rename)
  return Clustering(rename[labels].astype(np.int32), centres[order], None, cost, iterations)


def kmedoids(vectors, q: int, *, metric: str = "cosine", seed: int = 0,
             init=None, max_swaps: int = 10_000) -> Clustering:
  """k-medoids: k-medoids++ seeding, then PAM swaps by steepest descent.

  The cost of a medoid set M is ``sum_u min_{m in M} d(x_u, x_m)``. Every
  pass evaluates each swap of a medoid with a non-medoid (with each vector's
  nearest and second-nearest medoid, O(U^2 Q) per pass) and makes the one
  that lowers the cost most (ties: lower medoid position, then lower vector
  index); it stops when no swap lowers the cost by more than ``1e-12`` of
  it. The medoid set it returns is therefore locally optimal: no single swap
  improves it (not necessarily the global optimum).

  Args:
    vectors: (U, d) vectors.
    q: number of clusters, 1..U.
    metric: ``"cosine"`` (default, the study's) or ``"euclidean"``.
    seed: seed of the k-medoids++ seeding.
    init: q distinct vector indices as the initial medoids instead (optional).
    max_swaps: swaps at most.

  Returns:
    A :class:`Clustering`: ``medoids[c]`` is the index of cluster c's medoid,
    ``centres[c]`` its vector, ``cost`` the sum of distances to the medoids.

  Raises:
    ClusteringError: bad vectors, q outside 1..U, an unknown metric, bad
      ``init``, or a zero vector with the cosine metric.

  Examples:
    >>> from acajax import clustering
    >>> x = [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0], [0.05, 1.0]]
    >>> found = clustering.kmedoids(x, 2, metric="cosine", seed=0)
    >>> found.labels.tolist(), found.medoids.tolist()
    ([1, 1, 0, 0, 0], [4, 0])
  """
  x = _vectors(vectors)
  q = _count(q, len(x))
  dist = distances(x, metric=metric)
  num = len(x)
  if init is None:
    rng = np.random.default_rng(seed)
    medoids = np.array(_plus_plus(lambda c: dist[:, c].min(1).copy(), num, q, rng))
  else:
    medoids = np.asarray(init).reshape(-1)
    if (not np.issubdtype(medoids.dtype, np.integer) or len(medoids) != q
        or len(np.unique(medoids)) != q or medoids.min() < 0 or medoids.max() >= num):
      raise ClusteringError(f"init must be {q} distinct indices in 0..{num - 1}; got "
                            f"{medoids.tolist()}")
    medoids = medoids.astype(np.int64)
  swaps = 0
  while swaps < max_swaps and q < num:
    to_medoids = dist[:, medoids]                                   # (U, q)
    order = np.argsort(to_medoids, axis=1, kind="stable")
    near_pos = order[:, 0]
    d_near = to_medoids[np.arange(num), near_pos]
    d_second = to_medoids[np.arange(num), order[:, 1]] if q > 1 else np.full(num, np.inf)
    # Swapping medoid i for candidate x changes vector o's distance to
    #   min(d(o, x), d_near(o)) - d_near(o)     if o's nearest medoid is not i,
    #   min(d(o, x), d_second(o)) - d_near(o)   if it is.
    with_near = np.minimum(dist, d_near[:, None])                   # (U o, U x)
    common = (with_near - d_near[:, None]).sum(0)                   # (U x,)
    extra = np.minimum(dist, d_second[:, None]) - with_near         # (U o, U x)
    onehot = np.zeros((num, q))
    onehot[np.arange(num), near_pos] = 1.0
    delta = common[None, :] + onehot.T @ extra                      # (q, U x)
    delta[:, medoids] = np.inf
    best = np.unravel_index(np.argmin(delta), delta.shape)
    cost = d_near.sum()
    if not delta[best] < -1e-12 * max(cost, 1e-300):
      break
    medoids[best[0]] = best[1]
    swaps += 1
  to_medoids = dist[:, medoids]
  labels = np.argmin(to_medoids, axis=1)
  cost = float(to_medoids[np.arange(num), labels].sum())
  rename = _by_size(labels, q)
  medoids = medoids[np.argsort(rename)]
  return Clustering(rename[labels].astype(np.int32), x[medoids].copy(), medoids, cost, swaps)


def user_vectors(params, *, bias: bool = False, model: int | None = None) -> np.ndarray:
  """The users' vectors of trained matrix-factorisation parameters.

  The study clusters the user factors ``p_u`` of its SVD model; ``bias=True``
  appends the user bias ``b_u`` as one more coordinate (``[p_u | b_u]``, the
  row :mod:`acajax.svd` trains).

  Args:
    params: an :class:`acajax.recommender.MFParams` (one model, or a stack
      of models with ``model`` naming one).
    bias: append ``b_u``.
    model: the model of a stack.

  Returns:
    (U, k) or (U, k + 1) float64 vectors.

  Raises:
    ClusteringError: a stack without ``model``, or ``model`` out of range.

  Examples:
    >>> import numpy as np
    >>> from acajax import clustering, recommender
    >>> params = recommender.MFParams(np.float32(3.5), np.array([0.5, -0.5]), np.zeros(3),
    ...                               np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((3, 2)))
    >>> clustering.user_vectors(params, bias=True).tolist()
    [[1.0, 2.0, 0.5], [3.0, 4.0, -0.5]]
  """
  factors = np.asarray(params.user_factors, np.float64)
  user_bias = np.asarray(params.user_bias, np.float64)
  if factors.ndim == 3:
    if model is None or not -factors.shape[0] <= model < factors.shape[0]:
      raise ClusteringError(f"params hold {factors.shape[0]} models: model must name one "
                            f"(0..{factors.shape[0] - 1}); got {model!r}")
    factors, user_bias = factors[model], user_bias[model]
  elif model is not None:
    raise ClusteringError(f"params hold one model: model must be None; got {model!r}")
  return np.concatenate([factors, user_bias[:, None]], axis=1) if bias else factors
