r"""Finite-sample bounds computed from data (SPEC §9; SPEC §4–§5 with confidence bounds).

A collective that holds only its own data, n samples of P0, can still say with
probability at least 1 - delta how often its signal will work. Everything here
is computed from small count tables of integer-coded categorical samples, so a
whole curve of bounds against n is one jitted call.

Layers of this module:

1. **Count tables.** A signal sets some columns of a categorical row and keeps
   the others (as in :mod:`acajax.structured`); its image set X* is every row
   with the set columns at their values. :func:`dense_signal_codes` (jittable)
   numbers X* by the mixed-radix code of the kept columns
   (:func:`acajax.structured.mixed_radix_codes`); :func:`signal_codes` (host)
   falls back to the distinct observed images (:func:`acajax.structured.unique_rows`)
   when X* is too large to enumerate. :func:`count_tables` and
   :func:`prefix_count_tables` (every prefix size n at once) count with
   ``jax.ops.segment_sum``; :func:`estimates` gives the estimated P0 on X*, the
   signal distribution Q and Delta-hat.
2. **One collective** (Gauthier, Bach and Jordan, ICML 2025):
   :func:`feature_label_bound` (SPEC §9 as stated), and, derived below,
   :func:`feature_only_bound` and :func:`unplanting_bound`. They broadcast over
   n (a leading axis of the tables), N, N_test, delta, eps and the target.
3. **Checks:** :func:`population_success` (the limit n, N -> inf with
   n/N = alpha) and :func:`empirical_success` (the success actually obtained
   by the classifier trained on a given sample).
4. **Several collectives:** Theorems 1 and 2 (SPEC §4–§5) with every
   parameter replaced by a confidence interval, worst case over the box
   (:func:`worst_case_bound`), and bounds for partial knowledge of the others
   (:func:`total_mass_only`, :func:`aggregate_worst_case`,
   :func:`split_worst_case`).
5. **Data files:** :func:`read_categorical_csv` and :func:`csv_report` behind
   ``acajax finite-sample``.

Names: ``delta`` is the confidence parameter of SPEC §9 (the probability that
a bound fails); the difficulty Delta_c of SPEC §3 is called ``difficulty``
here, and Delta_x / Delta-hat_x (per signal point, joint probabilities) as in
SPEC §9.

**Suboptimality.** This statistical framework uses the eps of Hardt et al. and
Gauthier et al. (a TV ball around the *joint* training distribution), not the
per-x conditional eps of SPEC §2 (SPEC §6 explains the difference). The only
property of the classifier f the bounds use is (M2 below): f predicts y at
every x where the training distribution's joint gap
``P(x, y) - max_{y' != y} P(x, y')`` exceeds ``eps/(1 - eps)``. This holds for
every Bayes classifier of a contamination (1 - eps) P + eps R, since there
the gap shrinks to at least (1 - eps) gap - eps. At eps = 0, f is any plug-in
(Bayes) classifier of the training sample, ties broken arbitrarily.

Model and proof (all three single-collective bounds)
----------------------------------------------------

M1 (sampling). The platform trains on N samples: the collective's n samples
(x_i, y_i) ~ P0 i.i.d., each transformed by the strategy h, and N - n other
samples ~ P0 i.i.d., independent of them. The collective sees its own n
original samples. Success is measured on N_test fresh test points
x ~ P0_X: the fraction with f(g(x)) = y* (``num_test=inf`` bounds the
population success S = Pr[f(g(x)) = y*] instead).

M2 (classifier). As above.

M3 (signal). g: X -> X is fixed before the data are seen and X* = g(X) is
all of its possible images (|X*| = the product of the sizes of the columns
the signal keeps). Every point of X* counts in the union bound, observed or
not; unobserved points have Q-hat = 0 and add nothing to the bound.

Notation, for x in X*: Q(x) = Pr[g(x_1) = x] and Q-hat its empirical value on
the collective's sample; P0-hat(x, y) the collective's empirical joint on its
original data; Pr-hat the same on the other N - n samples;
Delta_x = max_{y' != y*} P0(x, y') - P0(x, y*) and its estimates
Delta-hat_x (collective) and Delta-r_x (others); R = R(n), R' = R(N - n) with
R(k) = sqrt(log(1/d)/(2k)), so that each one-sided Hoeffding event fails with
probability at most d.

Step 1 (the training gap). The training distribution is
(n/N) P_h-hat + ((N - n)/N) Pr-hat, where P_h-hat is the collective's
transformed sample. Its gap at x is at least (n/N) C-hat(x) - ((N - n)/N)
Delta-r_x, with the collective's *net contribution* C-hat(x):

* feature-label, h(x, y) = (g(x), y*): C-hat = Q-hat (exact);
* feature-only, h(x, y) = (g(x), y) if y = y* else (x, y): C-hat(x) = A-hat(x)
  - M-hat(x), where A-hat(x) is the fraction of the collective with y = y*
  and g(x_i) = x, and M-hat(x) = max_{y' != y*} P0-hat(x, y') the members
  left in place at x with another label (max of a sum <= sum of maxima);
* unplanting with labels l(x) != y*, h(x, y) = (g(x), l(g(x))): what matters
  is the pairwise gap P(x, l) - P(x, y*) (f cannot predict y* where l beats
  it by eps/(1 - eps)); C-hat = Q-hat and Delta is replaced by
  Gamma_x = P0(x, y*) - P0(x, l(x)).

By M2, f(x) = y* (f(x) != y* for unplanting) wherever this exceeds
eps/(1 - eps).

Step 2 (events). With probability >= 1 - delta all of the following hold
(one-sided Hoeffding, union bound): c(x) = E[C-hat(x)] is within w R of
C-hat (w = 1 for Q-hat, two events per x; w = 2 for A-hat - M-hat: two for
A-hat, K for M-hat); Delta-hat_x >= Delta_x - 2R (two events per x: the
population argmax y' and y*); Delta-r_x <= Delta_x + 2R' (K events per x);
plus two more below. Feature-label needs 2 + |X*| (K + 4) <= 2 + 2|X*| +
2|X*||Y| events (SPEC §9's count, used as stated); unplanting 2 + 6|X*| (same
count used); feature-only 2 + |X*| (2K + 3), so it uses
d = delta / (2 + 3|X*| + 2|X*||Y|).

Step 3 (sandwich). Let A-hat be the planted set of the bound: the x with
(n/N)(C-hat(x) - 2wR) - ((N - n)/N)(Delta-hat_x + 2R + 2R') - eps/(1 - eps)
> 0, and C the *fixed* set with (n/N)(c(x) - wR) - ((N - n)/N)(Delta_x + 2R')
- eps/(1 - eps) > 0. On the events, A-hat ⊆ C (each term of A-hat's margin is
below C's) and C ⊆ {f succeeds} (Step 1 and C-hat >= c - wR,
Delta-r <= Delta + 2R'). So S >= Q(C) >= Q-hat(C) - R (one event, as C is
fixed) >= Q-hat(A-hat) - R, and the test average is >= S - R(N_test) (one
event). That is SPEC §9 for feature-label; for feature-only the collective
term is (n/N)(A-hat - M-hat - 4R); for unplanting, Gamma-hat replaces
Delta-hat.

Unplanting needs labels l chosen without the n samples (a separate estimation
sample, as Gauthier et al. do, or a fixed choice): with labels chosen from the
same data the set C would depend on the data and Step 3 fails. Labels chosen
from the same sample are not supported.

Population limit: as n, N -> inf with n/N = alpha, every radius vanishes and
the planted set becomes {x: alpha c(x) > (1 - alpha) Delta_x + eps/(1 - eps)}
(for feature-label c = Q: SPEC §9's per-point condition); see
:func:`population_success`.
"""

from __future__ import annotations

import csv
import functools
import math
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import _checks, bounds, structured

__all__ = [
    "STRATEGIES",
    "CategoricalData",
    "CountTables",
    "DataError",
    "Estimates",
    "FiniteSampleBound",
    "Interval",
    "ParameterBox",
    "ParameterIntervals",
    "SignalCodes",
    "aggregate_worst_case",
    "count_tables",
    "csv_report",
    "dense_signal_codes",
    "empirical_success",
    "estimates",
    "feature_label_bound",
    "feature_only_bound",
    "hoeffding_interval",
    "hoeffding_radius",
    "interval",
    "parameter_box",
    "parameter_intervals",
    "parse_signal",
    "plot_curves",
    "population_success",
    "prefix_count_tables",
    "read_categorical_csv",
    "signal_codes",
    "split_delta",
    "split_worst_case",
    "total_mass_only",
    "unplanting_bound",
    "unplanting_labels",
    "worst_case_bound",
]

STRATEGIES = ("feature_label", "feature_only", "unplanting")

DENSE_LIMIT = 2**16
"""Largest |X*| that :func:`signal_codes` enumerates densely."""

_PREFIX_CELLS = 2**22
"""Memory budget (table cells) of the per-block counts of :func:`prefix_count_tables`."""


# --------------------------------------------------------------------------
# Small helpers


def _is_concrete(value) -> bool:
  return not isinstance(value, jax.core.Tracer)


def _require(name: str, value, ok, expected: str) -> None:
  """Raises ValueError if a concrete ``value`` fails ``ok`` (traced: skipped)."""
  if not _is_concrete(value):
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
# 1. Count tables


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
  if _is_concrete(rows) and rows.shape[0]:
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
  if not _is_concrete(rows):
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
  if _is_concrete(image) and _is_concrete(member):
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


# --------------------------------------------------------------------------
# 2. One collective: Gauthier, Bach and Jordan


def hoeffding_radius(count: ArrayLike, delta: ArrayLike) -> jax.Array:
  """One-sided Hoeffding radius R(k) = sqrt(log(1/delta) / (2k)) (SPEC §9).

  An empirical frequency over k i.i.d. samples exceeds its mean by more than
  R(k) (or falls short by more) with probability at most delta. ``count=inf``
  gives 0.

  Args:
    count: k > 0.
    delta: failure probability in (0, 1).

  Returns:
    R(k), broadcast shape; NaN out of domain.

  Examples:
    >>> from acajax import statistical
    >>> round(float(statistical.hoeffding_radius(1000, 0.05)), 4)
    0.0387
  """
  count, delta = _checks.as_float_arrays(dict(count=count, delta=delta))
  valid = (count > 0) & (delta > 0) & (delta < 1)
  count = jnp.where(valid, count, 1.0)
  delta = jnp.where(valid, delta, 0.5)
  return jnp.where(valid, jnp.sqrt(jnp.log(1 / delta) / (2 * count)), jnp.nan)


def split_delta(delta: ArrayLike, *, num_signal_points: ArrayLike, num_labels: int,
                strategy: str = "feature_label") -> jax.Array:
  """The per-event failure probability d of the union bound (SPEC §9).

  Feature-label and unplanting: d = delta / (2 + 2|X*| + 2|X*||Y|) (SPEC §9).
  Feature-only: d = delta / (2 + 3|X*| + 2|X*||Y|) (module docstring, Step 2).

  Args:
    delta: overall failure probability in (0, 1).
    num_signal_points: |X*|.
    num_labels: |Y| = K.
    strategy: ``"feature_label"``, ``"feature_only"`` or ``"unplanting"``.

  Returns:
    d, broadcast shape.

  Examples:
    >>> from acajax import statistical
    >>> round(float(statistical.split_delta(0.05, num_signal_points=5, num_labels=4)), 8)
    0.00096154
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  delta, points = _checks.as_float_arrays(dict(delta=delta, num_signal_points=num_signal_points))
  per_point = 3.0 if strategy == "feature_only" else 2.0
  return delta / (2 + per_point * points + 2 * points * num_labels)


class FiniteSampleBound(NamedTuple):
  """A finite-sample bound with its parts (``details=True``).

  Attributes:
    bound: the lower bound on the success, shape (...).
    margin: (..., S) each support point's margin; planted where > 0.
    planted: (..., S) boolean.
    split_delta: (...) the per-event probability d.
    radius_collective: (...) R(n).
    radius_rest: (...) R(N - n) (0 when n = N).
    radius_test: (...) R(N_test).
  """
  bound: jax.Array
  margin: jax.Array
  planted: jax.Array
  split_delta: jax.Array
  radius_collective: jax.Array
  radius_rest: jax.Array
  radius_test: jax.Array


def _finite_sample(tables, *, strategy, target, labels, num_samples, num_test, delta, eps,
                   num_signal_points, clip, details):
  images, joint, total = _table_arrays(tables)
  num_labels = images.shape[-1]
  target = _int_array("target", target)
  n, big_n, n_test, conf, eps, points = _checks.as_float_arrays({
      "tables.total": total, "num_samples": num_samples, "num_test": num_test,
      "delta": delta, "eps": eps, "num_signal_points": num_signal_points})
  shape = jnp.broadcast_shapes(n.shape, target.shape)
  n, big_n, n_test, conf, eps, points = (jnp.broadcast_to(v, shape)
                                         for v in (n, big_n, n_test, conf, eps, points))
  target = jnp.broadcast_to(target, shape)
  _require("delta", conf, lambda v: (v > 0) & (v < 1), "lie in (0, 1)")
  _require("eps", eps, lambda v: (v >= 0) & (v < 1),
           "lie in [0, 1) (the TV-ball eps of SPEC §9)")
  _require("tables.total", n, lambda v: v > 0,
           "be positive: the collective is empty (n = 0 samples)")
  if _is_concrete(big_n) and _is_concrete(n) and np.any(np.asarray(big_n) < np.asarray(n)):
    short = np.asarray(big_n) < np.asarray(n)
    raise ValueError(f"num_samples (N) must be at least the collective's size n = tables.total; "
                     f"got N = {np.asarray(big_n)[short][0]:g} < n = {np.asarray(n)[short][0]:g}")
  _require("num_test", n_test, lambda v: v > 0, "be positive")
  _require("num_signal_points", points, lambda v: v >= 1, "be >= 1 (|X*|)")
  _require("target", target, lambda v: (v >= 0) & (v < num_labels),
           f"be a label in [0, {num_labels})")
  return _finite_sample_core(images, joint, n, big_n, n_test, conf, eps, points, target, labels,
                             strategy=strategy, clip=clip, details=details)


@functools.partial(jax.jit, static_argnames=("strategy", "clip", "details"))
def _finite_sample_core(images, joint, n, big_n, n_test, conf, eps, points, target, labels, *,
                        strategy, clip, details):
  """The bound of SPEC §9 and its variants on checked, broadcast arguments (jitted once)."""
  num_labels = images.shape[-1]
  valid = ((conf > 0) & (conf < 1) & (eps >= 0) & (eps < 1) & (n > 0) & (big_n >= n)
           & (n_test > 0) & (points >= 1) & (target >= 0) & (target < num_labels))
  # First half of the double-where: harmless stand-ins where invalid.
  n = jnp.where(valid, n, 1.0)
  big_n = jnp.where(valid, big_n, 2.0)
  conf = jnp.where(valid, conf, 0.5)
  eps = jnp.where(valid, eps, 0.0)
  d = split_delta(conf, num_signal_points=points, num_labels=num_labels,
                  strategy="feature_only" if strategy == "feature_only" else "feature_label")
  log_term = jnp.log(1 / d)
  rest = big_n - n
  radius_n = jnp.sqrt(log_term / (2 * n))
  radius_rest = jnp.where(rest > 0, jnp.sqrt(log_term / (2 * jnp.where(rest > 0, rest, 1.0))), 0.0)
  radius_test = jnp.sqrt(log_term / (2 * n_test))

  scale = n[..., None, None]
  p_images = images / scale
  p_joint = joint / scale
  signal = jnp.sum(p_images, axis=-1)
  mine, others = _target_split(p_joint, target)
  if strategy == "feature_label":
    contribution = signal - 2 * radius_n[..., None]
    difficulty = others - mine                                       # Delta-hat_x
  elif strategy == "feature_only":
    planted_mass, _ = _target_split(p_images, target)                # A-hat(x)
    contribution = planted_mass - others - 4 * radius_n[..., None]   # A-hat - M-hat - 4R
    difficulty = others - mine
  else:
    hit = labels[..., None] == jnp.arange(num_labels)
    theirs = jnp.sum(jnp.where(hit, p_joint, 0), axis=-1)
    contribution = signal - 2 * radius_n[..., None]
    difficulty = mine - theirs                                       # Gamma-hat_x
  alpha = (n / big_n)[..., None]
  slack = (eps / (1 - eps))[..., None]
  margin = (alpha * contribution
            - (1 - alpha) * (difficulty + 2 * radius_n[..., None] + 2 * radius_rest[..., None])
            - slack)
  planted = margin > 0
  value = jnp.sum(jnp.where(planted, signal, 0), axis=-1) - radius_n - radius_test
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  value = jnp.where(valid, value, jnp.nan)
  if not details:
    return value
  nan = jnp.asarray(jnp.nan, value.dtype)
  return FiniteSampleBound(bound=value, margin=jnp.where(valid[..., None], margin, nan),
                           planted=planted & valid[..., None],
                           split_delta=jnp.where(valid, d, nan),
                           radius_collective=jnp.where(valid, radius_n, nan),
                           radius_rest=jnp.where(valid, radius_rest, nan),
                           radius_test=jnp.where(valid, radius_test, nan))


def feature_label_bound(tables: CountTables, *, target: ArrayLike, num_samples: ArrayLike,
                        num_signal_points: ArrayLike, delta: ArrayLike = 0.05,
                        eps: ArrayLike = 0.0, num_test: ArrayLike = jnp.inf,
                        clip: bool = True, details: bool = False):
  r"""Finite-sample success bound of a feature-label collective (SPEC §9).

  Gauthier, Bach and Jordan (ICML 2025): with probability >= 1 - delta,

  .. math::

     S \ge \hat Q\Big(\Big\{x:\ \tfrac{n}{N}(\hat Q(x) - 2R(n))
       - \tfrac{N-n}{N}(\hat\Delta_x + 2R(n) + 2R(N-n))
       - \tfrac{\epsilon}{1-\epsilon} > 0\Big\}\Big) - R(n) - R(N_{test})

  with R(k) = sqrt(log(1/d)/(2k)), d = delta / (2 + 2|X*| + 2|X*||Y|),
  Q-hat the collective's empirical signal distribution and Delta-hat_x
  = max_{y' != y*} P0-hat(x, y') - P0-hat(x, y*) on its original data (joint
  probabilities). eps is the TV-ball eps of Hardt et al. and Gauthier et al.,
  hence eps/(1 - eps), not SPEC §2's per-x eps (SPEC §6); the model and the
  proof are in the module docstring. Population limit:
  alpha Q(x) > (1 - alpha) Delta_x + eps/(1 - eps) (:func:`population_success`).

  Every scalar argument broadcasts with the tables' batch shape (..., e.g.
  the n-grid of :func:`prefix_count_tables`) and with the others, so one call
  covers grids over n, N, delta, eps and the target.

  Args:
    tables: the collective's counts (n = ``tables.total``).
    target: the target label y* (integer).
    num_samples: the platform's training-set size N >= n.
    num_signal_points: |X*| (``SignalCodes.num_signal_points``).
    delta: failure probability in (0, 1).
    eps: suboptimality in [0, 1).
    num_test: test-set size N_test; ``inf`` (default) bounds the population
      success.
    clip: clip to [0, 1] (default) or return the raw value.
    details: return a :class:`FiniteSampleBound` with margins and radii.

  Returns:
    The bound (broadcast shape), or a :class:`FiniteSampleBound`.

  Raises:
    TypeError: non-integer ``target`` or non-numeric arguments.
    ValueError: shapes that do not broadcast; concrete values outside the
      domain (``delta`` outside (0, 1), an empty collective, N < n, ...).
      Traced out-of-domain values give NaN instead.

  Examples:
    Two signal points get 60% and 40% of a collective of n = 10,000 out of
    N = 100,000; the second carries label 0 on 4% of P0, so at alpha = 0.1
    only the first is planted.

    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[3000., 3000.], [2000., 2000.]]),
    ...     joint=np.array([[30., 20.], [400., 0.]]), total=np.array(10000.))
    >>> out = statistical.feature_label_bound(t, target=1, num_samples=100000,
    ...     num_signal_points=2, num_test=10000, details=True)
    >>> round(float(out.bound), 4), out.planted.tolist()
    (0.5664, [True, False])
  """
  return _finite_sample(tables, strategy="feature_label", target=target, labels=None,
                        num_samples=num_samples, num_test=num_test, delta=delta, eps=eps,
                        num_signal_points=num_signal_points, clip=clip, details=details)


def feature_only_bound(tables: CountTables, *, target: ArrayLike, num_samples: ArrayLike,
                       num_signal_points: ArrayLike, delta: ArrayLike = 0.05,
                       eps: ArrayLike = 0.0, num_test: ArrayLike = jnp.inf,
                       clip: bool = True, details: bool = False):
  r"""Finite-sample success bound of a feature-only collective (derived here).

  Feature-only: members with y = y* plant the signal, the others keep their
  data. The collective's net contribution at x is A-hat(x) - M-hat(x): the
  share of members with y = y* and g(x_i) = x, minus the largest share of
  members left at x with one other label. With probability >= 1 - delta,

  .. math::

     S \ge \hat Q\Big(\Big\{x:\ \tfrac{n}{N}(\hat A(x) - \hat M(x) - 4R(n))
       - \tfrac{N-n}{N}(\hat\Delta_x + 2R(n) + 2R(N-n))
       - \tfrac{\epsilon}{1-\epsilon} > 0\Big\}\Big) - R(n) - R(N_{test})

  with d = delta / (2 + 3|X*| + 2|X*||Y|) (more events than feature-label:
  A-hat - M-hat is estimated on both sides). Assumptions M1–M3 and the proof:
  module docstring. Q-hat is the image distribution of *all* members (success
  is measured on every member's signal, SPEC §2). Population limit:
  alpha (A(x) - M(x)) > (1 - alpha) Delta_x + eps/(1 - eps), sufficient but
  not necessary for the Bayes classifier to predict y* (max of a sum <= sum
  of maxima).

  Args:
    tables, target, num_samples, num_signal_points, delta, eps, num_test,
      clip, details: as in :func:`feature_label_bound`.

  Returns:
    The bound, or a :class:`FiniteSampleBound`.

  Raises:
    TypeError, ValueError: as in :func:`feature_label_bound`.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[1000., 5000.], [1000., 3000.]]),
    ...     joint=np.array([[30., 20.], [0., 0.]]), total=np.array(10000.))
    >>> b = statistical.feature_only_bound(t, target=1, num_samples=20000,
    ...     num_signal_points=2, num_test=10000)
    >>> round(float(b), 4)
    0.966
  """
  return _finite_sample(tables, strategy="feature_only", target=target, labels=None,
                        num_samples=num_samples, num_test=num_test, delta=delta, eps=eps,
                        num_signal_points=num_signal_points, clip=clip, details=details)


def unplanting_bound(tables: CountTables, *, target: ArrayLike, labels: ArrayLike,
                     num_samples: ArrayLike, num_signal_points: ArrayLike,
                     delta: ArrayLike = 0.05, eps: ArrayLike = 0.0,
                     num_test: ArrayLike = jnp.inf, clip: bool = True,
                     details: bool = False):
  r"""Finite-sample bound for signal unplanting (derived here).

  Unplanting: the collective wants f(g(x)) != y* (to break an association
  between its signal and y*). Each member submits (g(x), l(g(x))) with a label
  l(x) != y* per signal point, chosen **without** the collective's n samples
  (a separate estimation sample, :func:`unplanting_labels`, or a fixed
  choice). Success is Pr[f(g(x)) != y*]. With probability >= 1 - delta,

  .. math::

     S \ge \hat Q\Big(\Big\{x:\ \tfrac{n}{N}(\hat Q(x) - 2R(n))
       - \tfrac{N-n}{N}(\hat\Gamma_x + 2R(n) + 2R(N-n))
       - \tfrac{\epsilon}{1-\epsilon} > 0\Big\}\Big) - R(n) - R(N_{test})

  where Gamma-hat_x = P0-hat(x, y*) - P0-hat(x, l(x)): only the pairwise gap
  between l and y* matters (f cannot predict y* where l beats it by
  eps/(1 - eps)). It needs 2 + 6|X*| events; SPEC §9's d is used, which is
  smaller for K >= 2. Labels chosen from the same n samples are not covered
  (module docstring, Step 3).

  Args:
    tables, target, num_samples, num_signal_points, delta, eps, num_test,
      clip, details: as in :func:`feature_label_bound`; ``target`` is the
      label to remove.
    labels: (..., S) integer labels l(x) != target, one per support point.

  Returns:
    The bound, or a :class:`FiniteSampleBound`.

  Raises:
    TypeError, ValueError: as in :func:`feature_label_bound`; also ``labels``
      equal to the target or outside [0, K) (when concrete).

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[3000., 3000.], [2000., 2000.]]),
    ...     joint=np.array([[30., 20.], [0., 0.]]), total=np.array(10000.))
    >>> b = statistical.unplanting_bound(t, target=1, labels=np.array([0, 0]),
    ...     num_samples=20000, num_signal_points=2, num_test=10000)
    >>> round(float(b), 4)
    0.9664
  """
  labels = _int_array("labels", labels)
  num_labels = jnp.shape(tables.images)[-1]
  if labels.ndim < 1 or labels.shape[-1] != jnp.shape(tables.images)[-2]:
    raise ValueError(f"labels must have shape (..., S) with S = {jnp.shape(tables.images)[-2]} "
                     f"support points; got {labels.shape}")
  _require("labels", labels, lambda v: (v >= 0) & (v < num_labels),
           f"be labels in [0, {num_labels})")
  if _is_concrete(labels) and _is_concrete(target):
    same = np.asarray(labels) == np.asarray(target)[..., None]
    if np.any(same):
      raise ValueError("labels must differ from the target at every support point (unplanting "
                       "pushes another label)")
  value = _finite_sample(tables, strategy="unplanting", target=target, labels=labels,
                         num_samples=num_samples, num_test=num_test, delta=delta, eps=eps,
                         num_signal_points=num_signal_points, clip=clip, details=True)
  bad = jnp.any((labels == jnp.asarray(target)[..., None]) | (labels < 0)
                | (labels >= num_labels), axis=-1)
  value = value._replace(bound=jnp.where(bad, jnp.nan, value.bound))
  return value if details else value.bound


def unplanting_labels(tables: CountTables, *, target: ArrayLike) -> jax.Array:
  """Labels for unplanting: the most frequent label other than y* at each point.

  Use tables of a sample **independent** of the collective's n samples
  (Gauthier et al.'s estimation sample); :func:`unplanting_bound` is not valid
  with labels chosen from the same data. Points never seen get the smallest
  label other than the target.

  Args:
    tables: counts of the estimation sample.
    target: the label to remove.

  Returns:
    (..., S) integer labels.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.zeros((2, 3)),
    ...     joint=np.array([[5., 1., 4.], [0., 0., 0.]]), total=np.array(10.))
    >>> statistical.unplanting_labels(t, target=0).tolist()
    [2, 1]
  """
  _, joint, _ = _table_arrays(tables)
  target = _int_array("target", target)
  hit = target[..., None, None] == jnp.arange(joint.shape[-1])
  return jnp.argmax(jnp.where(hit, -jnp.inf, joint), axis=-1)


# --------------------------------------------------------------------------
# 3. Population limit and the success actually obtained


def population_success(tables: CountTables, *, alpha: ArrayLike, target: ArrayLike,
                       eps: ArrayLike = 0.0, strategy: str = "feature_label",
                       labels: ArrayLike | None = None) -> jax.Array:
  r"""The limit of the finite-sample bounds as n, N -> inf with n/N = alpha.

  The tables, divided by their total, are read as exact distributions. Every
  radius vanishes and the bound tends to Q({x: condition}) with SPEC §9's
  per-point condition (feature-label)

  .. math:: \alpha Q(x) > (1 - \alpha)\Delta_x + \epsilon/(1 - \epsilon),

  alpha (A(x) - M(x)) on the left for feature-only and Gamma_x for Delta_x
  for unplanting. At eps = 0 (feature-label), it is the success of the Bayes
  classifier of the true mixture (1 - alpha) P0 + alpha h#P0 with ties lost.

  Args:
    tables: exact (or estimated) counts; only ratios matter.
    alpha: n/N in (0, 1].
    target: y*.
    eps: TV-ball eps in [0, 1).
    strategy: ``"feature_label"``, ``"feature_only"`` or ``"unplanting"``.
    labels: (..., S) labels l(x) (unplanting only).

  Returns:
    The limit, broadcast shape; NaN out of domain.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[.3, .3], [.2, .2]]),
    ...     joint=np.array([[.003, .002], [0., 0.]]), total=np.array(1.))
    >>> round(float(statistical.population_success(t, alpha=.5, target=1)), 6)
    1.0
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  images, joint, total = _table_arrays(tables)
  target = _int_array("target", target)
  total, alpha, eps = _checks.as_float_arrays(dict(total=total, alpha=alpha, eps=eps))
  shape = jnp.broadcast_shapes(total.shape, target.shape)
  total, alpha, eps = (jnp.broadcast_to(v, shape) for v in (total, alpha, eps))
  target = jnp.broadcast_to(target, shape)
  valid = ((total > 0) & (alpha > 0) & (alpha <= 1) & (eps >= 0) & (eps < 1) & (target >= 0)
           & (target < images.shape[-1]))
  scale = jnp.where(valid, total, 1.0)[..., None, None]
  p_images, p_joint = images / scale, joint / scale
  signal = jnp.sum(p_images, axis=-1)
  mine, others = _target_split(p_joint, target)
  if strategy == "feature_label":
    contribution, difficulty = signal, others - mine
  elif strategy == "feature_only":
    planted_mass, _ = _target_split(p_images, target)
    contribution, difficulty = planted_mass - others, others - mine
  else:
    if labels is None:
      raise ValueError("labels are required when strategy='unplanting'")
    labels = _int_array("labels", labels)
    hit = labels[..., None] == jnp.arange(images.shape[-1])
    contribution, difficulty = signal, mine - jnp.sum(jnp.where(hit, p_joint, 0), axis=-1)
  alpha_ = alpha[..., None]
  eps_ = jnp.where(valid, eps, 0.0)[..., None]
  ok = alpha_ * contribution - (1 - alpha_) * difficulty - eps_ / (1 - eps_) > 0
  return jnp.where(valid, jnp.sum(jnp.where(ok, signal, 0), axis=-1), jnp.nan)


def empirical_success(collective: CountTables, rest: CountTables, test: CountTables, *,
                      target: ArrayLike, strategy: str = "feature_label",
                      eps: ArrayLike = 0.0, labels: ArrayLike | None = None) -> jax.Array:
  """Success obtained by the classifier trained on a given sample (checks, figures).

  The platform trains on the collective's transformed sample plus ``rest``
  (N = n + N_rest samples). At each support point the classifier is
  credited only where the training gap of M2 exceeds eps/(1 - eps) (at
  eps = 0: the plug-in / Bayes classifier of the training sample with ties
  lost), so this is the success guaranteed for every such classifier. It is
  measured on the test sample's signal images, as the bounds are.

  Args:
    collective: the collective's counts (original data; transformed here).
    rest: counts of the other training samples (only ``joint`` is used).
    test: counts of test samples (only ``images`` is used).
    target: y*.
    strategy: ``"feature_label"``, ``"feature_only"`` or ``"unplanting"``.
    eps: TV-ball eps in [0, 1).
    labels: (..., S) labels l(x) (unplanting only).

  Returns:
    The success, broadcast shape.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> mine = statistical.CountTables(images=np.array([[6., 0.], [4., 0.]]),
    ...     joint=np.zeros((2, 2)), total=np.array(10.))
    >>> rest = statistical.CountTables(images=np.zeros((2, 2)),
    ...     joint=np.array([[1., 0.], [9., 0.]]), total=np.array(90.))
    >>> test = statistical.CountTables(images=np.array([[5., 0.], [5., 0.]]),
    ...     joint=np.zeros((2, 2)), total=np.array(10.))
    >>> float(statistical.empirical_success(mine, rest, test, target=1))
    0.5
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  c_images, c_joint, c_total = _table_arrays(collective)
  _, r_joint, r_total = _table_arrays(rest)
  t_images, _, t_total = _table_arrays(test)
  target = _int_array("target", target)
  (eps,) = _checks.as_float_arrays(dict(eps=eps))
  hit = target[..., None, None] == jnp.arange(c_images.shape[-1])
  moved = jnp.sum(c_images, axis=-1, keepdims=True)
  if strategy == "feature_label":
    train = r_joint + jnp.where(hit, moved, 0)
  elif strategy == "feature_only":
    train = r_joint + jnp.where(hit, c_images, c_joint)
  else:
    if labels is None:
      raise ValueError("labels are required when strategy='unplanting'")
    labels = _int_array("labels", labels)
    train = r_joint + jnp.where(labels[..., None] == jnp.arange(c_images.shape[-1]), moved, 0)
  train = train / (c_total + r_total)[..., None, None]
  mine, others = _target_split(train, target)
  slack = (eps / (1 - eps))[..., None]
  ok = (mine - others > slack) if strategy != "unplanting" else (others - mine > slack)
  test_signal = jnp.sum(t_images, axis=-1)
  return jnp.sum(jnp.where(ok, test_signal, 0), axis=-1) / t_total


# --------------------------------------------------------------------------
# 4. Several collectives: SPEC §4–§5 with confidence bounds


class Interval(NamedTuple):
  """A confidence (or knowledge) interval [lower, upper] for one parameter."""
  lower: jax.Array
  upper: jax.Array


def interval(lower: ArrayLike, upper: ArrayLike | None = None) -> Interval:
  """An :class:`Interval`; ``upper`` defaults to ``lower`` (a known value).

  Examples:
    >>> from acajax import statistical
    >>> round(float(statistical.interval(.1, .2).upper), 6)
    0.2
  """
  if isinstance(lower, Interval):
    return lower
  lower_, upper_ = _checks.as_float_arrays(dict(lower=lower,
                                                upper=lower if upper is None else upper))
  return Interval(lower=lower_, upper=upper_)


def hoeffding_interval(estimate: ArrayLike, count: ArrayLike, *, delta: ArrayLike) -> Interval:
  """Two-sided Hoeffding interval of a frequency, clipped to [0, 1].

  ``estimate -+ sqrt(log(2/delta) / (2 count))``: holds with probability
  >= 1 - delta for a frequency over ``count`` i.i.d. samples.

  Examples:
    >>> from acajax import statistical
    >>> i = statistical.hoeffding_interval(.01, 10000, delta=.05)
    >>> round(float(i.lower), 6), round(float(i.upper), 6)
    (0.0, 0.023581)
  """
  estimate, count, delta = _checks.as_float_arrays(dict(estimate=estimate, count=count,
                                                        delta=delta))
  radius = hoeffding_radius(count, delta / 2)
  return Interval(lower=jnp.clip(estimate - radius, 0.0, 1.0),
                  upper=jnp.clip(estimate + radius, 0.0, 1.0))


class ParameterIntervals(NamedTuple):
  """Confidence intervals for a collective's own parameters (SPEC §3), from data.

  Attributes:
    xi_c: interval for the rarity xi_c = P0_X(X*).
    difficulty: interval for Delta_c (lower end 0: only the upper end is
      estimated).
  """
  xi_c: Interval
  difficulty: Interval


def parameter_intervals(tables: CountTables, *, target: ArrayLike, delta: ArrayLike,
                        num_signal_points: ArrayLike) -> ParameterIntervals:
  """Confidence intervals for xi_c and Delta_c from the collective's own sample.

  Both hold together with probability >= 1 - delta (delta/2 each):

  * xi_c: two-sided Hoeffding on the share of samples in X*.
  * Delta_c = max_{x in X*, P0(x) > 0} [max_y P0(y|x) - P0(y*|x)]
    (conditional probabilities, SPEC §3): given the n_x samples at x their
    labels are i.i.d. from P0(.|x), so with r_x = sqrt(log(K |X*| / (delta/2))
    / (2 n_x)) (one-sided events for every label at every point),
    Delta_x <= max(0, max_{y != y*} p-hat(y|x) - p-hat(y*|x)) + 2 r_x. A point of
    X* never observed may still have P0 mass, so the upper end is 1 unless
    every point of X* was observed (dense support). The lower end is 0.

  Args:
    tables: the collective's counts.
    target: y*.
    delta: failure probability in (0, 1).
    num_signal_points: |X*|.

  Returns:
    :class:`ParameterIntervals`.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.zeros((1, 2)),
    ...     joint=np.array([[100., 300.]]), total=np.array(10000.))
    >>> out = statistical.parameter_intervals(t, target=1, delta=.05, num_signal_points=1)
    >>> round(float(out.xi_c.upper), 4), round(float(out.difficulty.upper), 4)
    (0.0548, 0.148)
  """
  _, joint, total = _table_arrays(tables)
  target = _int_array("target", target)
  total, delta, points = _checks.as_float_arrays(dict(total=total, delta=delta,
                                                      num_signal_points=num_signal_points))
  _require("delta", delta, lambda v: (v > 0) & (v < 1), "lie in (0, 1)")
  inside = jnp.sum(joint, axis=(-2, -1))
  xi_c = hoeffding_interval(inside / total, total, delta=delta / 2)
  num_labels = joint.shape[-1]
  per_point = jnp.sum(joint, axis=-1)                                  # n_x
  seen = per_point > 0
  conditional = joint / jnp.where(seen, per_point, 1.0)[..., None]
  mine, others = _target_split(conditional, jnp.broadcast_to(target, total.shape))
  radius = jnp.sqrt(jnp.log(num_labels * points / (delta / 2))[..., None]
                    / (2 * jnp.where(seen, per_point, 1.0)))
  upper_x = jnp.maximum(others - mine, 0.0) + 2 * radius
  upper = jnp.max(jnp.where(seen, upper_x, 1.0), axis=-1)
  upper = jnp.where(points > joint.shape[-2], 1.0, upper)
  upper = jnp.clip(upper, 0.0, 1.0)
  return ParameterIntervals(xi_c=xi_c, difficulty=Interval(lower=jnp.zeros_like(upper),
                                                           upper=upper))


class ParameterBox(NamedTuple):
  """What collective c knows about a scenario: one interval per parameter (SPEC §3).

  Attributes:
    alpha: its own mass alpha_c (in the statistical setting n/N, known).
    alpha_others: the others' total mass abar - alpha_c.
    beta: the part of the others' mass aligned with c's target.
    xi_c: rarity P0_X(X*_c).
    xi: global uniqueness (the largest share another collective puts on X*_c).
    difficulty: Delta_c (feature-label).
    p: positivity p_c (feature-only).
  """
  alpha: Interval
  alpha_others: Interval
  beta: Interval
  xi_c: Interval
  xi: Interval
  difficulty: Interval
  p: Interval


def parameter_box(*, alpha, alpha_others, beta, xi_c, xi, difficulty=1.0,
                  p=float("nan")) -> ParameterBox:
  """Builds a :class:`ParameterBox`; each entry a number (known) or an :class:`Interval`.

  Examples:
    >>> from acajax import statistical
    >>> box = statistical.parameter_box(alpha=.05, alpha_others=(.04, .06), beta=(0., .03),
    ...                                 xi_c=.01, xi=.05, difficulty=.6)
    >>> round(float(box.alpha_others.upper), 6)
    0.06
  """
  return ParameterBox(*(_as_interval(v)
                        for v in (alpha, alpha_others, beta, xi_c, xi, difficulty, p)))


def _min_over(values: Sequence[jax.Array]) -> jax.Array:
  """Elementwise min that keeps NaN (an out-of-domain candidate poisons the result)."""
  out = values[0]
  for value in values[1:]:
    out = jnp.minimum(out, value)
  return out


def worst_case_bound(box: ParameterBox, *, eps: ArrayLike, strategy: str = "feature_label",
                     clip: bool = True) -> jax.Array:
  r"""Theorem 1 or 2 (SPEC §4–§5), worst case over every parameter in a box.

  The smallest value of the bound over all scenarios consistent with the box
  (with beta <= alpha_others). If the box holds the true parameters with
  probability >= 1 - delta (e.g. :func:`parameter_intervals` for the
  collective's own parameters, split by a union bound, and knowledge of the
  others), the result is a lower bound on S_c with probability >= 1 - delta.
  As in SPEC §4–§5, the classifier is eps-suboptimal for the population
  mixture (SPEC §2's eps); only the parameters are estimated.

  **Closed form, by monotonicity.** Feature-label (Theorem 1): the bound
  decreases in xi_c, xi and Delta_c (upper ends), increases in beta (lower
  end) and, with alpha_others fixed, in alpha (lower end; its derivative has
  the sign of A (1 - a_o) + B m_c >= 0). It is linear in alpha_others
  with beta fixed, with slope (A - B)/alpha of either sign, so the minimum is
  at an end of the feasible range [max(lower, beta_lower), upper]; both are
  evaluated. Feature-only (sound Theorem 2): decreasing in xi_c, xi and
  alpha_others, increasing in beta and p; in alpha it is monotone on each side
  of the kink where 1 + 2 eps - (2 - abar) p = 0, so the ends and the kink are
  evaluated. No optimiser is needed; tests compare with dense random search.

  Args:
    box: a :class:`ParameterBox`.
    eps: suboptimality (SPEC §2), in [0, 1/2).
    strategy: ``"feature_label"`` (uses ``difficulty``) or
      ``"feature_only"`` (uses ``p``; sound form).
    clip: clip to [0, 1] (default).

  Returns:
    The worst-case bound, broadcast shape; NaN when the box is empty
    (beta_lower > alpha_others upper) or leaves the domain.

  Examples:
    SPEC §10's c0 with the others' mass known to within +-0.01.

    >>> from acajax import statistical
    >>> box = statistical.parameter_box(alpha=.05, alpha_others=(.04, .06), beta=.02,
    ...                                 xi_c=.01, xi=.05, difficulty=.6)
    >>> round(float(statistical.worst_case_bound(box, eps=.1)), 6)
    0.762
  """
  _checks.check_choice("strategy", strategy, ("feature_label", "feature_only"))
  if not isinstance(box, ParameterBox):
    raise TypeError(f"box must be a ParameterBox; got {type(box).__name__}")
  beta = box.beta.lower
  low_others = jnp.maximum(box.alpha_others.lower, beta)
  high_others = box.alpha_others.upper
  feasible = low_others <= high_others
  if strategy == "feature_label":
    alpha = box.alpha.lower
    values = [bounds.feature_label(alpha, alpha_total=alpha + others, beta=beta,
                                   xi_c=box.xi_c.upper, xi=box.xi.upper,
                                   delta=box.difficulty.upper, eps=eps, clip=False)
              for others in (low_others, high_others)]
  else:
    others = high_others
    p = box.p.lower
    (eps_,) = _checks.as_float_arrays(dict(eps=eps))
    kink = 2 - others - (1 + 2 * eps_) / jnp.where(p > 0, p, 1.0)
    candidates = (box.alpha.lower, box.alpha.upper,
                  jnp.clip(kink, box.alpha.lower, box.alpha.upper))
    values = [bounds.feature_only(alpha, alpha_total=alpha + others, beta=beta,
                                  xi_c=box.xi_c.upper, xi=box.xi.upper, p=p, eps=eps,
                                  clip=False)
              for alpha in candidates]
  value = _min_over(values)
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  return jnp.where(feasible, value, jnp.nan)


def total_mass_only(*, alpha, alpha_others, xi_c, eps: ArrayLike, difficulty=None, p=None,
                    strategy: str = "feature_label", clip: bool = True) -> jax.Array:
  """Bound for a collective that knows only the others' total mass (SPEC §4–§5).

  Their targets and signals are unknown, so every split is possible: all of
  the others' mass may be misaligned (beta = 0) and may land on X*_c
  (xi = 1). Closed form: :func:`worst_case_bound` with beta in [0, a_o] and
  xi in [0, 1] (both worst at an end, by monotonicity).

  Args:
    alpha: own mass (number or :class:`Interval`).
    alpha_others: the others' total mass (number or :class:`Interval`).
    xi_c: rarity (number or :class:`Interval`).
    eps: suboptimality in [0, 1/2).
    difficulty: Delta_c (feature-label).
    p: p_c (feature-only).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    clip: clip to [0, 1].

  Returns:
    The bound.

  Examples:
    >>> from acajax import statistical
    >>> b = statistical.total_mass_only(alpha=.3, alpha_others=.05, xi_c=.01,
    ...                                 difficulty=.6, eps=.1)
    >>> round(float(b), 6)
    0.728333
  """
  others = _as_interval(alpha_others)
  box = parameter_box(alpha=alpha, alpha_others=others,
                      beta=Interval(jnp.zeros_like(others.upper), others.upper), xi_c=xi_c,
                      xi=(0.0, 1.0), difficulty=1.0 if difficulty is None else difficulty,
                      p=float("nan") if p is None else p)
  return worst_case_bound(box, eps=eps, strategy=strategy, clip=clip)


def aggregate_worst_case(*, alpha, alpha_others, aligned_share, overlap_share, xi_c,
                         difficulty, eps: ArrayLike, clip: bool = True) -> jax.Array:
  r"""Bound for a collective that knows only an aggregate of the others' strategies.

  The collective knows the others' total mass a_o, the share phi of it that
  targets its label, and the share omega of the others' data that lands on
  its signal set, omega = sum_j alpha_j O[j, c] / a_o (what it can see on the
  platform), but not who does what. Theorem 1 in its pairwise form (SPEC §4)
  needs the misaligned overlap mass sum_{j misaligned} alpha_j O[j, c], which
  is at most a_o min(omega, 1 - phi); this is attained (put all the overlap on
  misaligned collectives), so the worst case is closed form: beta = phi a_o
  at phi's lower end, omega's upper end, and the bound is linear in a_o
  (both ends evaluated).

  Args:
    alpha: own mass.
    alpha_others: the others' total mass (number or :class:`Interval`).
    aligned_share: phi in [0, 1] (number or :class:`Interval`).
    overlap_share: omega in [0, 1] (number or :class:`Interval`).
    xi_c: rarity (number or :class:`Interval`).
    difficulty: Delta_c (number or :class:`Interval`).
    eps: suboptimality in [0, 1/2).
    clip: clip to [0, 1].

  Returns:
    The bound.

  Examples:
    >>> from acajax import statistical
    >>> b = statistical.aggregate_worst_case(alpha=.05, alpha_others=.05, aligned_share=.4,
    ...     overlap_share=.05, xi_c=.01, difficulty=.6, eps=.1)
    >>> round(float(b), 6)
    0.745
  """
  alpha = _as_interval(alpha).lower
  others = _as_interval(alpha_others)
  phi = _as_interval(aligned_share).lower
  omega = _as_interval(overlap_share).upper
  xi_c = _as_interval(xi_c).upper
  difficulty = _as_interval(difficulty).upper
  values = []
  for a_o in (others.lower, others.upper):
    competition = a_o * jnp.minimum(omega, 1 - phi)
    values.append(bounds.feature_label_pairwise(alpha, alpha_total=alpha + a_o, xi_c=xi_c,
                                                delta=difficulty, eps=eps,
                                                competition=competition, clip=False))
  value = _min_over(values)
  valid = (phi >= 0) & (phi <= 1) & (omega >= 0) & (omega <= 1)
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  return jnp.where(valid, value, jnp.nan)


def _as_interval(value) -> Interval:
  if isinstance(value, Interval):
    return interval(value.lower, value.upper)
  if isinstance(value, tuple) and len(value) == 2:
    return interval(*value)
  return interval(value)


def split_worst_case(*, alpha, alpha_others, others_aligned: ArrayLike,
                     others_overlap: ArrayLike, xi_c, eps: ArrayLike, difficulty=None,
                     p=None, strategy: str = "feature_label", pairwise: bool = True,
                     clip: bool = True) -> jax.Array:
  r"""Bound when the others' strategies are known but not how their mass splits.

  The J other collectives have known targets (``others_aligned[j]``: same
  target as c) and overlaps O[j, c] (``others_overlap``), and a known total
  mass a_o, but their individual masses are unknown. The bound is linear in
  the split (a point of the simplex scaled by a_o), so its minimum is at a
  vertex: all of a_o on one collective. Closed form:

  * feature-label, pairwise (SPEC §4): competition = a_o max_{j misaligned}
    O[j, c] (0 if none is misaligned);
  * feature-label, plain Theorem 1, or feature-only (sound Theorem 2):
    xi = max_j O[j, c] is fixed by the strategies, and the misaligned mass is
    a_o if any collective is misaligned (beta = 0), else 0 (beta = a_o).

  Then the ends of a_o's interval are evaluated.

  Args:
    alpha: own mass (number or :class:`Interval`).
    alpha_others: total mass of the others (number or :class:`Interval`).
    others_aligned: (..., J) booleans.
    others_overlap: (..., J) overlaps O[j, c] in [0, 1].
    xi_c: rarity (number or :class:`Interval`).
    eps: suboptimality in [0, 1/2).
    difficulty: Delta_c (feature-label).
    p: p_c (feature-only).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    pairwise: for feature-label, use the pairwise form (sharper; default).
    clip: clip to [0, 1].

  Returns:
    The bound, shape (...).

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> b = statistical.split_worst_case(alpha=.05, alpha_others=.05,
    ...     others_aligned=np.array([True, False]), others_overlap=np.array([.5, .02]),
    ...     xi_c=.01, difficulty=.6, eps=.1)
    >>> round(float(b), 6)
    0.79
  """
  _checks.check_choice("strategy", strategy, ("feature_label", "feature_only"))
  aligned = jnp.asarray(others_aligned)
  if aligned.dtype != jnp.bool_:
    raise TypeError(f"others_aligned must be booleans; got dtype {aligned.dtype}")
  (overlap,) = _checks.as_float_arrays(dict(others_overlap=others_overlap))
  if aligned.ndim < 1 or aligned.shape != overlap.shape:
    raise ValueError(f"others_aligned and others_overlap must have one shape (..., J); got "
                     f"{aligned.shape} and {overlap.shape}")
  others = _as_interval(alpha_others)
  any_misaligned = jnp.any(~aligned, axis=-1)
  values = []
  for a_o in (others.lower, others.upper):
    misaligned = jnp.where(any_misaligned, a_o, 0.0)
    if strategy == "feature_label" and pairwise:
      worst = jnp.max(jnp.where(aligned, 0.0, overlap), axis=-1)
      alpha_ = _as_interval(alpha).lower
      values.append(bounds.feature_label_pairwise(
          alpha_, alpha_total=alpha_ + a_o, xi_c=_as_interval(xi_c).upper,
          delta=_as_interval(difficulty).upper, eps=eps, competition=a_o * worst, clip=False))
    else:
      box = parameter_box(alpha=alpha, alpha_others=a_o, beta=a_o - misaligned, xi_c=xi_c,
                          xi=jnp.max(overlap, axis=-1),
                          difficulty=1.0 if difficulty is None else difficulty,
                          p=float("nan") if p is None else p)
      values.append(worst_case_bound(box, eps=eps, strategy=strategy, clip=False))
  value = _min_over(values)
  return jnp.clip(value, 0.0, 1.0) if clip else value


# --------------------------------------------------------------------------
# 5. Data files and the `acajax finite-sample` report


class DataError(ValueError):
  """A malformed data file or option; the message names the file, line and column."""


class CategoricalData(NamedTuple):
  """A categorical data file as integer codes.

  Attributes:
    rows: (N, d) int64 feature codes.
    labels: (N,) int64 label codes.
    columns: the d feature column names.
    label_column: the label column's name.
    categories: per feature column, the strings of its codes (code = index)
      for string columns, or None for columns of integer codes.
    label_categories: the same for the label column.
    path: the file read.
  """
  rows: np.ndarray
  labels: np.ndarray
  columns: tuple[str, ...]
  label_column: str
  categories: tuple[tuple[str, ...] | None, ...]
  label_categories: tuple[str, ...] | None
  path: str


_INTEGER = re.compile(r"^\+?\d+$")


def _is_number(text: str) -> bool:
  try:
    float(text)
  except ValueError:
    return False
  return True


def read_categorical_csv(path, *, label_column: str | None = None) -> CategoricalData:
  """Reads a CSV of categorical data (header line, then one sample per line).

  A column whose values are all integer literals holds integer codes (used
  as they are); a column with any non-numeric value holds strings, mapped to
  codes in sorted order; a column of numbers that are not all non-negative
  integers is an error (codes must be integers). Blank lines are skipped.

  Args:
    path: the CSV file.
    label_column: the label column's name (default: the last column).

  Returns:
    :class:`CategoricalData`.

  Raises:
    DataError: unreadable or empty file, duplicate or unknown column names, a
      line with the wrong number of fields, an empty value or a non-integer
      code; the message names the file, the line and the column.
  """
  path = pathlib.Path(path)
  try:
    handle = path.open(newline="", encoding="utf-8")
  except OSError as err:
    raise DataError(f"{path}: cannot read the file ({err.strerror})") from None
  with handle:
    reader = csv.reader(handle)
    header = None
    for fields in reader:
      if any(field.strip() for field in fields):
        header = [field.strip() for field in fields]
        header_line = reader.line_num
        break
    if header is None:
      raise DataError(f"{path}: the file is empty (expected a header line of column names)")
    for j, name in enumerate(header):
      if not name:
        raise DataError(f"{path}, line {header_line}: column {j + 1} has no name")
      if header.index(name) != j:
        raise DataError(f"{path}, line {header_line}: the column name {name!r} appears twice")
    width = len(header)
    if width < 2:
      raise DataError(f"{path}, line {header_line}: need at least one feature column and a "
                      f"label column; found {width} column")
    lookup = [dict() for _ in range(width)]     # string -> (id, first line)
    ids = [[] for _ in range(width)]
    for fields in reader:
      if not any(field.strip() for field in fields):
        continue
      line = reader.line_num
      if len(fields) != width:
        raise DataError(f"{path}, line {line}: expected {width} fields, found {len(fields)}")
      for j, field in enumerate(fields):
        value = field.strip()
        if not value:
          raise DataError(f"{path}, line {line}, column {header[j]!r}: empty value")
        seen = lookup[j].get(value)
        if seen is None:
          seen = lookup[j][value] = (len(lookup[j]), line)
        ids[j].append(seen[0])
  if not ids[0]:
    raise DataError(f"{path}: no data lines after the header")
  if label_column is None:
    label_column = header[-1]
  if label_column not in header:
    raise DataError(f"{path}: --label-column {label_column!r} is not a column; columns are "
                    f"{', '.join(header)}")
  codes, categories = [], []
  for j in range(width):
    values = sorted(lookup[j].items(), key=lambda item: item[1][0])
    strings = [text for text, _ in values]
    if all(_INTEGER.match(text) for text in strings):
      table = np.array([int(text) for text in strings], dtype=np.int64)
      categories.append(None)
    elif all(_is_number(text) for text in strings):
      bad, (_, line) = min(((t, v) for t, v in values if not _INTEGER.match(t)),
                           key=lambda item: item[1][1])
      raise DataError(f"{path}, line {line}, column {header[j]!r}: {bad!r} is not a "
                      "non-negative integer code (a column of numbers must hold integer "
                      "category codes)")
    else:
      order = sorted(strings)
      rank = {text: k for k, text in enumerate(order)}
      table = np.array([rank[text] for text in strings], dtype=np.int64)
      categories.append(tuple(order))
    codes.append(table[np.asarray(ids[j], dtype=np.int64)])
  label_index = header.index(label_column)
  feature_index = [j for j in range(width) if j != label_index]
  rows = np.stack([codes[j] for j in feature_index], axis=1)
  return CategoricalData(rows=rows, labels=codes[label_index],
                         columns=tuple(header[j] for j in feature_index),
                         label_column=label_column,
                         categories=tuple(categories[j] for j in feature_index),
                         label_categories=categories[label_index], path=str(path))


def _code(value: str, categories, what: str, path: str) -> int:
  value = value.strip()
  if categories is None:
    if not _INTEGER.match(value):
      raise DataError(f"{what}: {value!r} is not a non-negative integer code (the column "
                      f"holds integer codes in {path})")
    return int(value)
  if value not in categories:
    raise DataError(f"{what}: {value!r} is not a value of the column in {path}; values are "
                    f"{', '.join(categories)}")
  return categories.index(value)


def parse_signal(text: str, data: CategoricalData) -> np.ndarray:
  """Parses ``"col3=2,col7=red"`` into a (d,) signal array (-1 = keep).

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> data = statistical.CategoricalData(rows=np.zeros((1, 3), np.int64),
    ...     labels=np.zeros(1, np.int64), columns=("a", "b", "c"), label_column="y",
    ...     categories=(None, ("blue", "red"), None), label_categories=None, path="d.csv")
    >>> statistical.parse_signal("b=red, c=4", data).tolist()
    [-1, 1, 4]
  """
  setting = np.full(len(data.columns), structured.KEEP, dtype=np.int64)
  parts = [part for part in text.split(",") if part.strip()]
  if not parts:
    raise DataError("--signal: empty; give column=value pairs such as 'col3=2,col7=0'")
  for part in parts:
    if "=" not in part:
      raise DataError(f"--signal: {part.strip()!r} is not column=value")
    name, value = (s.strip() for s in part.split("=", 1))
    if name == data.label_column:
      raise DataError(f"--signal: {name!r} is the label column of {data.path}; a signal sets "
                      "feature columns")
    if name not in data.columns:
      raise DataError(f"--signal: unknown column {name!r} in {data.path}; columns are "
                      f"{', '.join(data.columns)}")
    j = data.columns.index(name)
    if setting[j] != structured.KEEP:
      raise DataError(f"--signal: column {name!r} is set twice")
    setting[j] = _code(value, data.categories[j], f"--signal, column {name!r}", data.path)
  return setting


def _parse_targets(text: str, data: CategoricalData) -> list[int]:
  targets = [_code(part, data.label_categories, f"--target (label column "
                   f"{data.label_column!r})", data.path)
             for part in text.split(",") if part.strip()]
  if not targets:
    raise DataError("--target: give at least one label")
  return targets


def plot_curves(sizes_n: ArrayLike, curves: Mapping[str, ArrayLike], path, *,
                success: Mapping[str, ArrayLike] | None = None, title: str | None = None,
                xlabel: str = "collective size n") -> pathlib.Path:
  """Bound against n, one staircase per curve, log-x; success dashed (headless).

  Args:
    sizes_n: (G,) collective sizes.
    curves: label -> (G,) bounds.
    path: the PNG to write.
    success: optional label -> (G,) success curves, drawn dashed in the same
      colour.
    title: figure title.
    xlabel: x-axis label.

  Returns:
    The path written.
  """
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  order = np.argsort(np.asarray(sizes_n))
  x = np.asarray(sizes_n)[order]
  fig, ax = plt.subplots(figsize=(6.5, 4.2))
  for k, (name, values) in enumerate(curves.items()):
    color = f"C{k}"
    ax.plot(x, np.asarray(values)[order], drawstyle="steps-post", color=color, lw=2,
            label=f"bound, {name}")
    if success is not None and name in success:
      ax.plot(x, np.asarray(success[name])[order], ls="--", color=color, lw=1.2,
              label=f"success, {name}")
  ax.set_xscale("log")
  ax.set_ylim(-0.02, 1.02)
  ax.set_xlabel(xlabel)
  ax.set_ylabel("success")
  if title:
    ax.set_title(title, fontsize=10)
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=7, ncol=2, loc="upper left")
  fig.tight_layout()
  path = pathlib.Path(path)
  fig.savefig(path, dpi=130)
  plt.close(fig)
  return path


def csv_report(path, *, signal: str, target: str, sizes_n: Sequence[int] | None = None,
               num_samples: int | None = None, num_test: float | None = None,
               delta: float = 0.05, eps: float = 0.0, strategy: str = "feature_label",
               label_column: str | None = None, out_dir=None):
  """The ``acajax finite-sample`` report: the bound against n for a CSV file.

  The collective's data are the first n data lines of the file, for every n
  of ``sizes_n``; the platform trains on ``num_samples`` samples (default:
  the number of data lines) and success is measured on ``num_test`` test
  points (default: ``num_samples``; ``inf`` for the population success).

  Args:
    path: CSV file (see :func:`read_categorical_csv`).
    signal: ``"col=value,..."``, the columns the signal sets.
    target: the target label(s), ``"1"`` or ``"good,bad"``.
    sizes_n: collective sizes (default: 12 sizes, log-spaced up to half the
      data).
    num_samples: N.
    num_test: N_test.
    delta: failure probability in (0, 1).
    eps: TV-ball eps in [0, 1).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    label_column: the label column (default: last).
    out_dir: if given, write ``finite_sample.csv`` and ``finite_sample.png``.

  Returns:
    ``(frame, paths)``: a pandas DataFrame (n, alpha, one bound column per
    target) and the files written.

  Raises:
    DataError: a malformed file or option (the message names it).
  """
  import pandas as pd

  if strategy not in ("feature_label", "feature_only"):
    raise DataError(f"--strategy must be feature_label or feature_only; got {strategy!r}")
  if not 0 < delta < 1:
    raise DataError(f"--delta must lie in (0, 1); got {delta}")
  if not 0 <= eps < 1:
    raise DataError(f"--eps must lie in [0, 1); got {eps}")
  data = read_categorical_csv(path, label_column=label_column)
  setting = parse_signal(signal, data)
  targets = _parse_targets(target, data)
  num_rows = data.rows.shape[0]
  num_samples = num_rows if num_samples is None else int(num_samples)
  num_test = num_samples if num_test is None else float(num_test)
  if sizes_n is None:
    top = max(1, min(num_rows, num_samples) // 2)
    sizes_n = np.unique(np.geomspace(max(1, top // 500), top, 12).astype(np.int64))
  sizes_n = np.asarray(sorted(int(n) for n in sizes_n), dtype=np.int64)
  if sizes_n.size == 0 or sizes_n[0] < 1:
    raise DataError("--n: collective sizes must be positive integers")
  if sizes_n[-1] > num_rows:
    raise DataError(f"--n: {sizes_n[-1]} exceeds the {num_rows} data lines of {data.path} "
                    "(the collective's data are the first n lines)")
  if sizes_n[-1] > num_samples:
    raise DataError(f"--n: {sizes_n[-1]} exceeds the platform size N = {num_samples}")
  if num_test <= 0:
    raise DataError(f"--test-size must be positive; got {num_test}")
  num_labels = max(2, int(data.labels.max()) + 1, max(targets) + 1)
  rows = data.rows[:sizes_n[-1]]
  sizes = np.maximum(data.rows.max(axis=0) + 1, setting + 1)
  codes = signal_codes(rows, setting, sizes=sizes)
  tables = prefix_count_tables(codes.image, codes.member, data.labels[:sizes_n[-1]], sizes_n,
                               num_support=codes.num_support, num_labels=num_labels)
  bound_fn = feature_label_bound if strategy == "feature_label" else feature_only_bound
  values = bound_fn(tables, target=np.asarray(targets)[:, None], num_samples=num_samples,
                    num_signal_points=codes.num_signal_points, delta=delta, eps=eps,
                    num_test=num_test)
  values = np.asarray(values)
  names = [str(t) if data.label_categories is None else data.label_categories[t]
           for t in targets]
  frame = pd.DataFrame({"n": sizes_n, "alpha": sizes_n / num_samples})
  for name, column in zip(names, values):
    frame[f"bound_{name}"] = column
  paths = []
  if out_dir is not None:
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_dir / "finite_sample.csv", index=False)
    paths.append(out_dir / "finite_sample.csv")
    paths.append(plot_curves(sizes_n, dict(zip(names, values)), out_dir / "finite_sample.png",
                             title=f"{pathlib.Path(data.path).name}: signal {signal}, "
                                   f"delta = {delta}, eps = {eps}, N = {num_samples}"))
  return frame, paths
