"""Count tables of integer-coded categorical samples on a signal's image set (SPEC §9).

A signal sets some columns of a categorical row and keeps the others (as in
:mod:`acajax.structured`); its image set X* is every row with the set columns
at their values. :func:`dense_signal_codes` (jittable) numbers X* by the
mixed-radix code of the kept columns
(:func:`acajax.structured.mixed_radix_codes`); :func:`signal_codes` (host)
falls back to the distinct observed images
(:func:`acajax.structured.unique_rows`) when X* is too large to enumerate.
:func:`count_tables` and :func:`prefix_count_tables` (every prefix size n at
once) count with ``jax.ops.segment_sum``; :func:`estimates` gives the
estimated P0 on X*, the signal distribution Q and Delta-hat.

The private helpers here (argument checks, :func:`_table_arrays`,
:func:`_target_split`) are shared by the bounds of this package.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import _checks, structured

DENSE_LIMIT = 2**16
"""Largest |X*| that :func:`signal_codes` enumerates densely."""

_PREFIX_CELLS = 2**22
"""Memory budget (table cells) of the per-block counts of :func:`prefix_count_tables`."""


# --------------------------------------------------------------------------
# Small helpers


def _require(name: str, value, ok, expected: str) -> None:
  """Raises ValueError if a concrete ``value`` fails ``ok`` (traced: skipped)."""
  if not _checks.is_concrete(value):
    return
  array = np.asarray(value)
  good = np.asarray(ok(array), dtype=bool)
  if not np.all(good):
    first = np.broadcast_to(array, good.shape)[~good].reshape(-1)[0].item()
    raise ValueError(f"{name} must {expected}; got {first!r}")


def _int_array(name: str, value, *, host: bool = False):
  """An integer array (JAX, or NumPy with ``host``), or TypeError naming the argument."""
  if isinstance(value, (str, bytes)):
    raise TypeError(f"{name} must be integer category codes, got a string {value!r}")
  dtype = getattr(value, "dtype", None)
  if dtype is None:
    value = np.asarray(value)
    dtype = value.dtype
  if not jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_):
    raise TypeError(f"{name} must hold integer category codes; got dtype {dtype}")
  return np.asarray(value) if host else jnp.asarray(value)


def _count_dtype():
  """Counts use the default float: float64 under x64 (exact to 2**53), else float32."""
  return jax.dtypes.canonicalize_dtype(jnp.float64)


def _check_sizes(sizes, num_columns: int) -> tuple[int, ...]:
  sizes = tuple(int(s) for s in sizes)
  if len(sizes) != num_columns or any(s < 1 for s in sizes):
    raise ValueError(f"sizes must give the number of categories (>= 1) of each of the "
                     f"{num_columns} columns; got {sizes}")
  return sizes


def _setting(signal, num_columns: int) -> np.ndarray:
  """One signal as a (d,) array, :data:`acajax.structured.KEEP` = keep the column."""
  if isinstance(signal, Mapping):
    return structured.signal_array([dict(signal)], num_columns)[0]
  array = np.asarray(signal)
  if array.ndim != 1:
    raise ValueError(f"signal must be a {{column: value}} mapping or a ({num_columns},) array "
                     f"with -1 = keep; got shape {array.shape}")
  return structured.signal_array(array[None, :], num_columns)[0]


# --------------------------------------------------------------------------
# Signal codes, count tables and estimates


class SignalCodes(NamedTuple):
  """Each sample's place on the signal's image set X* (SPEC §1, §9).

  Attributes:
    image: (N,) integer id of g(x_i) on the support, in [0, num_support).
    member: (N,) integer id of x_i itself if x_i is in X*, else
      ``num_support``. A signal that sets columns maps each point of X* to
      itself, so ``member`` is ``image`` or ``num_support``; the count
      functions rely on this.
    num_support: number of support points S: all of X* (dense), or the
      distinct observed images (when X* is too large to enumerate).
    num_signal_points: |X*|, which the union bound counts (a Python int, may
      be huge).
  """
  image: jax.Array
  member: jax.Array
  num_support: int
  num_signal_points: int


def dense_signal_codes(rows: ArrayLike, signal, *, sizes: Sequence[int]) -> SignalCodes:
  """Numbers X* densely by the mixed-radix code of the kept columns (jittable).

  The signal g sets some columns and keeps the others, so g(x) is determined
  by the kept columns of x, and x is in X* when its set columns hold the set
  values. Both ids are the code of the kept columns
  (:func:`acajax.structured.mixed_radix_codes`); the full row is never encoded,
  so rows of many columns never overflow.

  Args:
    rows: (N, d) integer category codes, ``rows[:, j] < sizes[j]``; may be
      traced.
    signal: a ``{column: value}`` mapping or a (d,) integer array with -1 =
      keep (static).
    sizes: the d column sizes (static). |X*| is the product over kept
      columns and must be at most 2**24.

  Returns:
    :class:`SignalCodes` with ``num_support = num_signal_points = |X*|``.

  Raises:
    TypeError: ``rows`` is not integer.
    ValueError: bad shapes or sizes, |X*| too large, or (concrete rows) a
      code outside [0, sizes[j]); the message names the column.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> rows = np.array([[0, 1, 2], [1, 0, 0], [1, 1, 1]])
    >>> codes = statistical.dense_signal_codes(rows, {0: 1}, sizes=[2, 2, 3])
    >>> codes.image.tolist(), codes.member.tolist(), codes.num_support
    ([5, 0, 4], [6, 0, 4], 6)
  """
  rows = _int_array("rows", rows)
  if rows.ndim != 2:
    raise ValueError(f"rows must have shape (N, d); got {rows.shape}")
  num_columns = rows.shape[1]
  setting = _setting(signal, num_columns)
  sizes = _check_sizes(sizes, num_columns)
  kept = np.flatnonzero(setting == structured.KEEP)
  fixed = np.flatnonzero(setting != structured.KEEP)
  kept_sizes = [sizes[j] for j in kept]
  num_points = math.prod(kept_sizes)
  if num_points > 2**24:
    raise ValueError(f"the signal keeps columns {kept.tolist()} with {num_points} combinations; "
                     "too many to enumerate (use signal_codes, which numbers the observed "
                     "images only)")
  if _checks.is_concrete(rows) and rows.shape[0]:
    host = np.asarray(rows)
    outside = (host.min(axis=0) < 0) | (host.max(axis=0) >= np.asarray(sizes))
    if np.any(outside):
      j = int(np.flatnonzero(outside)[0])
      raise ValueError(f"rows: column {j} holds codes outside [0, sizes[{j}]) = [0, {sizes[j]})")
  image, member = _dense_core(rows, kept=tuple(kept.tolist()), kept_sizes=tuple(kept_sizes),
                              fixed=tuple(fixed.tolist()),
                              values=tuple(setting[fixed].tolist()), num_points=num_points)
  return SignalCodes(image=image, member=member, num_support=num_points,
                     num_signal_points=num_points)


@functools.partial(jax.jit, static_argnames=("kept", "kept_sizes", "fixed", "values",
                                             "num_points"))
def _dense_core(rows, *, kept, kept_sizes, fixed, values, num_points):
  if kept:
    image = structured.mixed_radix_codes(rows[:, np.array(kept)].astype(jnp.int32), kept_sizes)
  else:
    image = jnp.zeros(rows.shape[0], jnp.int32)
  if fixed:
    # One column at a time: a row-wise reduction over a short minor axis is slow on CPU.
    # A value outside the rows' integer dtype is never held by any row.
    high = jnp.iinfo(rows.dtype).max
    inside = functools.reduce(jnp.logical_and, [
        rows[:, j] == value if value <= high else jnp.zeros(rows.shape[0], bool)
        for j, value in zip(fixed, values)])
    member = jnp.where(inside, image, num_points)
  else:
    member = image
  return image, member


def signal_codes(rows: ArrayLike, signal, *, sizes: Sequence[int] | None = None,
                 dense_limit: int = DENSE_LIMIT) -> SignalCodes:
  """Places each sample on the signal's image set X* (host; any X*).

  Like :func:`dense_signal_codes` when |X*| <= ``dense_limit``. Otherwise the
  support is the set of distinct images g(x_i) of these rows (found with
  :func:`acajax.structured.unique_rows`): points of X* outside it have no
  signal mass in these rows and add nothing to the bounds, while the union
  bound still counts all of X* (``num_signal_points``).

  Args:
    rows: (N, d) non-negative integer codes (concrete).
    signal: ``{column: value}`` or a (d,) array with -1 = keep.
    sizes: the column sizes; default ``max(rows) + 1`` per column (then
      X* is taken to be the rows whose kept columns hold observed codes; pass
      the true sizes if the domain is larger).
    dense_limit: largest |X*| numbered densely.

  Returns:
    :class:`SignalCodes`.

  Raises:
    TypeError: ``rows`` is not integer.
    ValueError: empty, negative or badly shaped ``rows``, or bad ``sizes``.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> rows = np.array([[0, 7, 2], [1, 0, 0], [1, 7, 2]])
    >>> codes = statistical.signal_codes(rows, {0: 1}, dense_limit=4)
    >>> codes.image.tolist(), codes.member.tolist(), codes.num_signal_points
    ([1, 0, 1], [2, 0, 1], 24)
  """
  if not _checks.is_concrete(rows):
    raise ValueError("signal_codes needs concrete rows; inside jit use dense_signal_codes")
  rows = _int_array("rows", rows, host=True).astype(np.int64, copy=False)
  if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] == 0:
    raise ValueError(f"rows must be a non-empty (N, d) array of category codes; got shape "
                     f"{rows.shape}")
  if np.any(rows < 0):
    column = int(np.flatnonzero((rows < 0).any(axis=0))[0])
    raise ValueError(f"rows: column {column} holds negative codes; codes must be >= 0")
  num_columns = rows.shape[1]
  setting = _setting(signal, num_columns)
  if sizes is None:
    sizes = rows.max(axis=0) + 1
  sizes = _check_sizes(sizes, num_columns)
  kept = np.flatnonzero(setting == structured.KEEP)
  num_points = math.prod(sizes[j] for j in kept)
  if num_points <= dense_limit:
    return dense_signal_codes(rows, setting, sizes=sizes)
  support, inverse = structured.unique_rows(rows[:, kept])
  fixed = np.flatnonzero(setting != structured.KEEP)
  inside = np.all(rows[:, fixed] == setting[fixed], axis=1)
  member = np.where(inside, inverse, support.shape[0])
  return SignalCodes(image=jnp.asarray(inverse), member=jnp.asarray(member),
                     num_support=int(support.shape[0]), num_signal_points=num_points)


class CountTables(NamedTuple):
  """Counts of one sample on the support of X* (SPEC §9).

  Attributes:
    images: (..., S, K) counts of (g(x_i), y_i): the image of each sample
      under the signal, with its original label.
    joint: (..., S, K) counts of (x_i, y_i) for the samples with x_i in X*
      (the original data on the signal points).
    total: (...) the number of samples n (sum of weights).
  """
  images: jax.Array
  joint: jax.Array
  total: jax.Array


def _check_ids(image, member, labels, num_support, num_labels):
  image = _int_array("image", image)
  member = _int_array("member", member)
  labels = _int_array("labels", labels)
  if image.ndim != 1 or member.shape != image.shape or labels.shape != image.shape:
    raise ValueError(f"image, member and labels must be (N,) arrays of one length; got shapes "
                     f"{image.shape}, {member.shape}, {labels.shape}")
  for name, value, high in (("image", image, num_support), ("member", member, num_support + 1),
                            ("labels", labels, num_labels)):
    _require(name, value, lambda v, high=high: (v >= 0) & (v < high), f"lie in [0, {high})")
  if _checks.is_concrete(image) and _checks.is_concrete(member):
    inside = np.asarray(member) < num_support
    if np.any(np.asarray(member)[inside] != np.asarray(image)[inside]):
      raise ValueError("member must equal image or num_support at every sample: a signal that "
                       "sets columns maps each point of X* to itself (SignalCodes)")
  return image, member, labels


def count_tables(image: ArrayLike, member: ArrayLike, labels: ArrayLike, *, num_support: int,
                 num_labels: int, weights: ArrayLike | None = None) -> CountTables:
  """Count tables of one sample with ``jax.ops.segment_sum`` (jittable).

  Args:
    image, member: (N,) ids from :func:`dense_signal_codes` or
      :func:`signal_codes` (``member`` is ``image`` for samples in X*,
      ``num_support`` outside).
    labels: (N,) integer labels in [0, K).
    num_support: S (static).
    num_labels: K (static).
    weights: optional (N,) sample weights (default 1 each).

  Ids and labels out of range raise ValueError when concrete; traced ones are
  dropped.

  Returns:
    :class:`CountTables` with (S, K) tables.

  Raises:
    TypeError: ids or labels are not integers.
    ValueError: shapes differ.

  Examples:
    Three samples; the last two lie in X* (on support point 1).

    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.count_tables(np.array([0, 1, 1]), np.array([2, 1, 1]),
    ...                              np.array([1, 0, 1]), num_support=2, num_labels=2)
    >>> t.images.tolist(), t.joint.tolist(), float(t.total)
    ([[0.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]], 3.0)
  """
  image, member, labels = _check_ids(image, member, labels, num_support, num_labels)
  dtype = _count_dtype() if weights is None else _checks.float_dtype(weights)
  if weights is None:
    weights = jnp.ones(image.shape, dtype)
  else:
    _checks.dtype_of("weights", weights)
    weights = jnp.asarray(weights, dtype)
    if weights.shape != image.shape:
      raise ValueError(f"weights must have shape {image.shape}; got {weights.shape}")
  return _count_core(image, member, labels, weights, num_support=num_support,
                     num_labels=num_labels)


@functools.partial(jax.jit, static_argnames=("num_support", "num_labels"))
def _count_core(image, member, labels, weights, *, num_support, num_labels):
  cells = num_support * num_labels
  images = jax.ops.segment_sum(weights, image * num_labels + labels, num_segments=cells)
  joint = jax.ops.segment_sum(weights, member * num_labels + labels,
                              num_segments=cells + num_labels)[:cells]
  return CountTables(images=images.reshape(num_support, num_labels),
                     joint=joint.reshape(num_support, num_labels), total=jnp.sum(weights))


def prefix_count_tables(image: ArrayLike, member: ArrayLike, labels: ArrayLike,
                        sizes_n: ArrayLike, *, num_support: int,
                        num_labels: int) -> CountTables:
  """Count tables of the first n samples, for every n in ``sizes_n`` (jittable).

  One pass: a ``segment_sum`` counts blocks of consecutive samples (up to
  4,096, within a memory budget), a
  cumulative sum over blocks gives every whole-block prefix, and each n adds
  the samples of its last, partial block (a second, small ``segment_sum``).
  This is how a collective of the first n rows is evaluated for a whole grid
  of n.

  Args:
    image, member, labels: (N,) as in :func:`count_tables`.
    sizes_n: (G,) prefix sizes n (any order), each in [1, N].
    num_support: S (static).
    num_labels: K (static).

  Returns:
    :class:`CountTables` with a leading (G,) axis: tables (G, S, K), total (G,).

  Raises:
    TypeError, ValueError: as in :func:`count_tables`; ``sizes_n`` outside
      [1, N] (when concrete). Traced out-of-range ids are clamped.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.prefix_count_tables(np.array([0, 1, 1]), np.array([2, 1, 1]),
    ...     np.array([1, 0, 1]), np.array([3, 1]), num_support=2, num_labels=2)
    >>> t.images[1].tolist(), t.joint[0].tolist(), t.total.tolist()
    ([[0.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]], [3.0, 1.0])
  """
  image, member, labels = _check_ids(image, member, labels, num_support, num_labels)
  sizes_n = _int_array("sizes_n", sizes_n)
  if sizes_n.ndim != 1 or sizes_n.shape[0] < 1:
    raise ValueError(f"sizes_n must be a non-empty (G,) array; got shape {sizes_n.shape}")
  num = image.shape[0]
  _require("sizes_n", sizes_n, lambda v: (v >= 1) & (v <= num), f"lie in [1, N] = [1, {num}]")
  return _prefix_core(image, member, labels, sizes_n, num_support=num_support,
                      num_labels=num_labels)


@functools.partial(jax.jit, static_argnames=("num_support", "num_labels"))
def _prefix_core(image, member, labels, sizes_n, *, num_support, num_labels):
  num = image.shape[0]
  grid = sizes_n.shape[0]
  dtype = _count_dtype()
  # One cell per (image, label, in X*): member is image or the sentinel (SignalCodes), so
  # both tables come from one scatter. Clamped like JAX gathers (concrete ids were
  # checked), so the scatter stays in bounds.
  width = 2 * num_support * num_labels
  cell = ((jnp.clip(image, 0, num_support - 1) * num_labels + jnp.clip(labels, 0, num_labels - 1))
          * 2 + (member < num_support))
  # Count whole blocks of samples with one scatter, then add each prefix's partial block:
  # O(N) work without a per-sample search, and (blocks x width) memory.
  num_blocks = max(1, min(num, 4096, _PREFIX_CELLS // width))
  block = -(-num // num_blocks)
  position = jnp.arange(num, dtype=jnp.int32) // block
  # Integer counts (exact; ids are in bounds by construction), floats at the end.
  ones = jnp.ones(num, jnp.int32)
  per_block = jax.ops.segment_sum(ones, position * width + cell, num_segments=num_blocks * width,
                                  mode="promise_in_bounds")
  before = jnp.concatenate([jnp.zeros((1, width), dtype),
                            jnp.cumsum(per_block.reshape(num_blocks, width).astype(dtype), axis=0)])
  whole = sizes_n // block
  offsets = (whole * block)[:, None] + jnp.arange(block)[None, :]
  inside = (offsets < sizes_n[:, None]).astype(dtype).reshape(-1)
  rows = (jnp.arange(grid) * width)[:, None]
  partial = jax.ops.segment_sum(
      inside, (rows + cell.at[offsets].get(mode="fill", fill_value=0)).reshape(-1),
      num_segments=grid * width)
  counts = (before[whole] + partial.reshape(grid, width)).reshape(grid, num_support,
                                                                  num_labels, 2)
  return CountTables(images=counts.sum(-1), joint=counts[..., 1],
                     total=jnp.minimum(sizes_n, num).astype(dtype))


class Estimates(NamedTuple):
  """Plug-in estimates from a :class:`CountTables` (SPEC §9).

  Attributes:
    p0: (..., S, K) estimated joint P0(x, y) on the support (original data).
    signal: (..., S) the signal distribution Q-hat(x) = share of samples with
      g(x_i) = x.
    delta_hat: (..., S) Delta-hat_x = max_{y' != y*} P0-hat(x, y') -
      P0-hat(x, y*) (joint probabilities).
  """
  p0: jax.Array
  signal: jax.Array
  delta_hat: jax.Array


def _target_split(table: jax.Array, target: jax.Array):
  """table[..., y*] and max_{y' != y*} table[..., y'] for (..., S, K) tables."""
  hit = target[..., None, None] == jnp.arange(table.shape[-1])
  mine = jnp.sum(jnp.where(hit, table, 0), axis=-1)
  others = jnp.max(jnp.where(hit, -jnp.inf, table), axis=-1)
  return mine, others


def estimates(tables: CountTables, *, target: ArrayLike) -> Estimates:
  """Estimated P0 on X*, signal distribution Q-hat and Delta-hat (SPEC §9).

  Args:
    tables: counts of the collective's sample.
    target: the target label y* (integer; broadcasts with the tables' batch
      shape).

  Returns:
    :class:`Estimates`.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[3., 1.], [0., 0.]]),
    ...     joint=np.array([[1., 2.], [0., 0.]]), total=np.array(4.))
    >>> e = statistical.estimates(t, target=1)
    >>> e.signal.tolist(), e.delta_hat.tolist()
    ([1.0, 0.0], [-0.25, 0.0])
  """
  images, joint, total = _table_arrays(tables)
  target = _int_array("target", target)
  n = total[..., None, None]
  p0 = joint / n
  mine, others = _target_split(p0, jnp.broadcast_to(target, jnp.broadcast_shapes(
      target.shape, total.shape)))
  return Estimates(p0=p0, signal=jnp.sum(images / n, axis=-1), delta_hat=others - mine)


def _table_arrays(tables: CountTables):
  if not isinstance(tables, CountTables):
    raise TypeError(f"tables must be a CountTables; got {type(tables).__name__}")
  for name in ("images", "joint", "total"):
    _checks.dtype_of(f"tables.{name}", getattr(tables, name))
  dtype = _checks.float_dtype(tables.images, tables.joint, tables.total)
  images, joint, total = (jnp.asarray(v, dtype) for v in tables)
  if images.ndim < 2 or joint.shape != images.shape or total.shape != images.shape[:-2]:
    raise ValueError(f"tables must have images and joint of one shape (..., S, K) and total of "
                     f"shape (...); got {images.shape}, {joint.shape}, {total.shape}")
  if images.shape[-1] < 2:
    raise ValueError(f"tables need K >= 2 labels on the last axis; got {images.shape[-1]}")
  return images, joint, total
