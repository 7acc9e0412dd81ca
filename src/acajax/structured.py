"""Structured feature spaces: rows of categorical columns (SPEC §1).

A feature x is a tuple of d categorical columns (say 18), so X is a product
space far too large to enumerate. Every quantity of SPEC §2–§3 only involves
points that carry P0 mass or receive signal mass, so the exact engine can run
on the finite table of those rows:

1. P0 is given by samples (rows and labels). Distinct rows are found on the
   host (mixed-radix integer codes when the product of the column sizes fits
   in 62 bits, ``np.unique`` over rows otherwise) and counted with
   ``jax.ops.segment_sum``.
2. A signal sets chosen columns to chosen values. Its image is computed for
   the observed rows only, and the images not observed are appended.
3. The result, a :class:`StructuredTable`, is an ordinary (n, K) table with
   (M, n) integer signal maps for :mod:`acajax.mixtures`.

Rows appended for signals carry no P0 mass; their own signal image is never
needed (nothing of SPEC §2–§3 depends on where g_c sends a point without P0
mass), so they map to themselves. This is exact, not an approximation: the
success, the mixture on observed-or-signal rows and every parameter equal
those on the full product space (tested against full enumeration).

Host-side preprocessing takes concrete NumPy arrays; the table it builds is
then analysed (and can be vmapped over masses, targets or eps) in JAX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import mixtures

__all__ = [
    "KEEP",
    "StructuredTable",
    "mixed_radix_codes",
    "signal_array",
    "structured_exact_analysis",
    "structured_table",
    "structured_worst_case_success",
    "unique_rows",
]

KEEP = -1
"""Entry of a signal array meaning "leave this column as it is"."""


class StructuredTable(NamedTuple):
  """The finite table of observed-or-signal rows of a structured scenario.

  Attributes:
    rows: (n, d) integer rows: the distinct observed rows first (sorted), then
      the rows that only signals produce.
    p0: (n, K) joint table of P0 (empirical, from the samples); zero on the
      signal-only rows.
    signal_maps: (M, n) integer maps: row i -> the row its signal sets.
    num_observed: number of distinct observed rows (the first rows of
      ``rows``).
  """
  rows: np.ndarray
  p0: jax.Array
  signal_maps: jax.Array
  num_observed: int


def signal_array(signals, num_columns: int) -> np.ndarray:
  """Normalises signals to an (M, d) integer array, :data:`KEEP` = untouched.

  Args:
    signals: either an (M, d) integer array (entries >= 0 set the column to
      that value, :data:`KEEP` (-1) leaves it), or a sequence of M mappings
      ``{column: value}``.
    num_columns: d.

  Returns:
    (M, d) int64 array.

  Raises:
    ValueError: wrong shape, a column index outside [0, d), a value below -1,
      or no collective; the message names ``signals``.

  Examples:
    >>> from acajax import structured
    >>> structured.signal_array([{0: 2}, {1: 0, 2: 5}], 3).tolist()
    [[2, -1, -1], [-1, 0, 5]]
  """
  if isinstance(signals, Sequence) and signals and all(isinstance(s, Mapping) for s in signals):
    out = np.full((len(signals), num_columns), KEEP, dtype=np.int64)
    for c, mapping in enumerate(signals):
      for column, value in mapping.items():
        if not (isinstance(column, (int, np.integer)) and 0 <= column < num_columns):
          raise ValueError(f"signals[{c}] sets column {column!r}; columns are 0..{num_columns - 1}")
        if not (isinstance(value, (int, np.integer)) and value >= 0):
          raise ValueError(f"signals[{c}] sets column {column} to {value!r}; values must be "
                           "non-negative integers")
        out[c, column] = value
    return out
  array = np.asarray(signals)
  if array.ndim != 2 or array.shape[1] != num_columns or array.shape[0] < 1:
    raise ValueError(f"signals must be an (M, d) = (M, {num_columns}) integer array or a sequence "
                     f"of {{column: value}} mappings, got shape {array.shape}")
  if not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f"signals must be integers (-1 = keep the column), got dtype {array.dtype}")
  if np.any(array < KEEP):
    raise ValueError("signals entries must be >= -1 (-1 keeps the column)")
  return array.astype(np.int64)


def mixed_radix_codes(rows, sizes: Sequence[int]):
  """One integer per row: its mixed-radix code, the radix of column j = sizes[j].

  Works on NumPy arrays (host) and on JAX arrays, also traced (jittable). The
  codes keep the dtype of ``rows``; the caller makes sure that the product of
  ``sizes`` fits in it (int64 on the host; int32 in JAX unless x64 is on).
  Codes order rows lexicographically.

  Args:
    rows: (N, d) non-negative integers, ``rows[:, j] < sizes[j]``.
    sizes: d column sizes (Python ints, static).

  Returns:
    (N,) integer codes.

  Examples:
    >>> import numpy as np
    >>> from acajax import structured
    >>> structured.mixed_radix_codes(np.array([[1, 0], [0, 2], [1, 2]]), [2, 3]).tolist()
    [3, 2, 5]
  """
  codes = rows[:, 0] * 0
  for j, size in enumerate(sizes):
    codes = codes * size + rows[:, j]
  return codes


def unique_rows(rows: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
  """Distinct rows of an (N, d) non-negative integer array, and the inverse.

  Uses mixed-radix codes (one int64 per row, radix = column size) when the
  product of the column sizes is below 2**62, else ``np.unique(axis=0)``.
  Either way the result is sorted lexicographically.

  Args:
    rows: (N, d) non-negative integers.

  Returns:
    ``(unique, inverse)``: (u, d) distinct rows and (N,) indices with
    ``unique[inverse] == rows``.

  Examples:
    >>> import numpy as np
    >>> from acajax import structured
    >>> unique, inverse = structured.unique_rows(np.array([[1, 0], [0, 2], [1, 0]]))
    >>> unique.tolist(), inverse.tolist()
    ([[0, 2], [1, 0]], [1, 0, 1])
  """
  rows = np.asarray(rows, dtype=np.int64)
  if rows.shape[0] == 0:
    return rows.reshape(0, rows.shape[1]), np.zeros(0, dtype=np.int64)
  sizes = [int(v) + 1 for v in rows.max(axis=0)]
  total = 1
  for size in sizes:
    total *= size
  if total < 2**62:
    codes, first, inverse = np.unique(mixed_radix_codes(rows, sizes), return_index=True,
                                      return_inverse=True)
    return rows[first], inverse.reshape(-1)
  unique, inverse = np.unique(rows, axis=0, return_inverse=True)
  return unique, inverse.reshape(-1)


def structured_table(features: ArrayLike, labels: ArrayLike, signals, *,
                     num_labels: int | None = None,
                     sample_weights: ArrayLike | None = None) -> StructuredTable:
  """Builds the finite table of a structured scenario from samples (SPEC §1).

  P0 is the empirical distribution of (row, label) pairs, optionally
  weighted. Signals set columns (see :func:`signal_array`). The product space
  is never enumerated: the table has at most u (M + 1) rows, u the number of
  distinct observed rows.

  Args:
    features: (N, d) non-negative integer sample rows.
    labels: (N,) integer labels in [0, K).
    signals: (M, d) integer array with -1 = keep, or M mappings
      ``{column: value}``.
    num_labels: K; default ``max(labels) + 1`` (at least 2).
    sample_weights: optional (N,) non-negative weights (default 1 each).

  Returns:
    A :class:`StructuredTable`.

  Raises:
    ValueError: a shape or value is wrong; the message names the argument.

  Examples:
    Two columns; one collective sets column 1 to 3, a value never observed.

    >>> import numpy as np
    >>> from acajax import structured
    >>> table = structured.structured_table(
    ...     np.array([[0, 0], [0, 1], [1, 1], [0, 1]]), np.array([0, 1, 1, 0]), [{1: 3}])
    >>> table.rows.tolist(), table.signal_maps.tolist()
    ([[0, 0], [0, 1], [1, 1], [0, 3], [1, 3]], [[3, 3, 4, 3, 4]])
    >>> table.p0.tolist()
    [[0.25, 0.0], [0.25, 0.25], [0.0, 0.25], [0.0, 0.0], [0.0, 0.0]]
  """
  features = np.asarray(features)
  if features.ndim != 2 or features.shape[0] < 1 or features.shape[1] < 1:
    raise ValueError(f"features must be an (N, d) array of sample rows, got shape {features.shape}")
  if not np.issubdtype(features.dtype, np.integer):
    raise ValueError(f"features must be integer category codes, got dtype {features.dtype}")
  if np.any(features < 0):
    raise ValueError("features must be non-negative category codes")
  num_samples, num_columns = features.shape
  labels = np.asarray(labels)
  if labels.shape != (num_samples,) or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"labels must be an (N,) = ({num_samples},) integer array, got shape "
                     f"{labels.shape} and dtype {labels.dtype}")
  if num_labels is None:
    num_labels = max(2, int(labels.max()) + 1)
  if not isinstance(num_labels, (int, np.integer)) or num_labels < 2:
    raise ValueError(f"num_labels must be an integer >= 2, got {num_labels!r}")
  if np.any(labels < 0) or np.any(labels >= num_labels):
    raise ValueError(f"labels must lie in [0, num_labels) = [0, {num_labels})")
  if sample_weights is None:
    weights = np.ones(num_samples)
  else:
    weights = np.asarray(sample_weights, dtype=np.float64)
    if weights.shape != (num_samples,) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
      raise ValueError(f"sample_weights must be ({num_samples},) finite and non-negative")
    if weights.sum() <= 0:
      raise ValueError("sample_weights must not all be zero")
  settings = signal_array(signals, num_columns)
  num_collectives = settings.shape[0]

  observed, inverse = unique_rows(features)
  num_observed = observed.shape[0]
  # Signal images of the observed rows only (SPEC §1: g_c sets the chosen columns).
  images = np.where(settings[:, None, :] >= 0, settings[:, None, :], observed[None, :, :])
  table, position = unique_rows(np.concatenate([observed, images.reshape(-1, num_columns)]))
  observed_at = position[:num_observed]
  extra = np.ones(table.shape[0], dtype=bool)
  extra[observed_at] = False
  order = np.concatenate([observed_at, np.flatnonzero(extra)])
  rank = np.empty_like(order)
  rank[order] = np.arange(order.size)
  rows = table[order]
  num_rows = rows.shape[0]
  maps = np.empty((num_collectives, num_rows), dtype=np.int64)
  maps[:, :num_observed] = rank[position[num_observed:]].reshape(num_collectives, num_observed)
  maps[:, num_observed:] = np.arange(num_observed, num_rows)  # no P0 mass: never needed

  counts = jax.ops.segment_sum(jnp.asarray(weights), jnp.asarray(inverse * num_labels + labels),
                               num_segments=num_rows * num_labels)
  p0 = (counts / jnp.sum(counts)).reshape(num_rows, num_labels)
  return StructuredTable(rows=rows, p0=p0, signal_maps=jnp.asarray(maps), num_observed=num_observed)


def structured_exact_analysis(features: ArrayLike, labels: ArrayLike, signals,
                              targets: ArrayLike, masses: ArrayLike, *, eps: ArrayLike,
                              feature_only=False, num_labels: int | None = None,
                              sample_weights: ArrayLike | None = None) -> mixtures.ExactAnalysis:
  """Exact success, parameters and mixture of a structured scenario (SPEC §2–§3).

  :func:`structured_table` followed by :func:`acajax.mixtures.exact_analysis`.
  The mixture is over the rows of the table (observed rows, then signal-only
  rows); build the table yourself to keep them.

  Args:
    features, labels, signals, num_labels, sample_weights: as in
      :func:`structured_table`.
    targets, masses, eps, feature_only: as in
      :func:`acajax.mixtures.worst_case_success`.

  Returns:
    An :class:`acajax.mixtures.ExactAnalysis`.

  Examples:
    >>> import numpy as np
    >>> from acajax import structured
    >>> features = np.array([[0, 0], [0, 1], [1, 1], [0, 1]])
    >>> out = structured.structured_exact_analysis(
    ...     features, np.array([0, 1, 1, 0]), [{1: 3}], np.array([0]), np.array([.2]), eps=.1)
    >>> out.success.tolist(), out.parameters.xi_c.tolist()
    ([1.0], [0.0])
  """
  table = structured_table(features, labels, signals, num_labels=num_labels,
                           sample_weights=sample_weights)
  return mixtures.exact_analysis(table.p0, table.signal_maps, targets, masses, eps=eps,
                                 feature_only=feature_only)


def structured_worst_case_success(features: ArrayLike, labels: ArrayLike, signals,
                                  targets: ArrayLike, masses: ArrayLike, *, eps: ArrayLike,
                                  feature_only=False, num_labels: int | None = None,
                                  sample_weights: ArrayLike | None = None) -> jax.Array:
  """Exact worst-case success (SPEC §2) of a structured scenario, shape (M,).

  Args:
    features, labels, signals, targets, masses, eps, feature_only,
      num_labels, sample_weights: as in :func:`structured_exact_analysis`.

  Returns:
    (M,) array S_c^wc(eps).

  Examples:
    >>> import numpy as np
    >>> from acajax import structured
    >>> features = np.array([[0, 0], [0, 1], [1, 1], [0, 1]])
    >>> structured.structured_worst_case_success(
    ...     features, np.array([0, 1, 1, 0]), [{1: 3}], np.array([0]), np.array([.2]),
    ...     eps=.1).tolist()
    [1.0]
  """
  return structured_exact_analysis(features, labels, signals, targets, masses, eps=eps,
                                   feature_only=feature_only, num_labels=num_labels,
                                   sample_weights=sample_weights).success
