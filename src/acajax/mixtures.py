"""Exact engine for finite distributions (SPEC §1–§3, §10, §11).

On a finite feature space X = {0, ..., n-1} with labels Y = {0, ..., K-1},
everything of SPEC §2 can be computed exactly: the mixture the firm sees, its
margins, the worst-case success over *every* eps-suboptimal classifier and the
scenario parameters (SPEC §3) that the closed-form bounds of
:mod:`acajax.bounds` take. This module is the ground truth those bounds are
tested against.

Representation (SPEC §1):

* ``p0``: the base distribution, an (n, K) table of joint probabilities.
* A *signal* g_c is one of

  - an (n,) integer index array: a deterministic map x -> g_c(x);
  - an (n, n) row-stochastic kernel: a randomized map, row x the law of g_c(x);
  - a :class:`SignalDistribution`: an x-independent law over points (each
    member draws its point from it). This is the randomized signal map that
    :func:`surrogate_success` optimises; it never materialises an (n, n) kernel.

  For M collectives each carries a leading collective axis: (M, n) integers,
  (M, n, n) kernels, or a ``SignalDistribution`` with (M, n) weights.
* A *strategy* h_c is a Markov kernel on X×Y, given by its action on measures:
  a function ``strategy(p0, signal, target) -> (h_c)#p0`` of shape (n, K),
  linear in ``p0`` (the :data:`Strategy` protocol). Feature-label and
  feature-only are two such functions; :func:`with_coordination_noise` turns
  any strategy into a noisy one; :func:`strategy_kernel` materialises the
  (nK, nK) kernel matrix. A new strategy is one function.

Every function takes **one scenario**; ``jax.vmap`` them for batches (a batch
of 10,000 scenarios with n = 64, K = 4, M = 4 is one jitted call of
``jax.vmap(exact_analysis)``; on CPU, ``jax.lax.map(..., batch_size=1000)``
over the vmapped function is faster still, as intermediates stay in cache —
see ``benchmarks/bench_mixtures.py``). Public
functions check shapes and dtypes always, and values whenever the arguments are
concrete (not traced), raising ``ValueError``/``TypeError`` naming the
argument. Inside ``jit``/``vmap`` the jitted cores compute the same conditions
as a validity flag in ``jnp`` and return NaN wherever it is false (SPEC §11),
never an ordinary-looking number: ``p0`` negative, non-finite or not summing
to 1; a signal-map entry outside [0, n); a kernel or signal distribution not
row-stochastic; a target outside [0, K); masses negative or summing to
``>= 1``; noise fractions negative or summing past 1; ``eps`` outside
[0, 1/2). The flag is per scenario (one bad argument makes every output of
that scenario NaN; under ``vmap``, other scenarios are unaffected), and
stand-ins replace the bad values inside (the double-where trick), so
gradients stay finite. Every output is floating point, so NaN is the only
marker; integer-valued outputs (only :func:`pull_back` of integer values) use
the sentinel ``jnp.iinfo(dtype).min``. The building blocks
(:func:`push_forward`, :func:`pull_back`, the strategies,
:func:`strategy_kernel`, :func:`margins`, :func:`soft_signal`) never inspect
values on the host: they give NaN for out-of-domain values, traced or not.

Value checks use this tolerance: a table or kernel row "sums to 1" when the
absolute error is at most 1e-6 in float64 and 1e-5 in float32 (the dtype the
computation runs in). ``p0`` is then divided by its sum, so such a table is
treated as exactly normalised.
"""

from __future__ import annotations

import functools
import warnings
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import _checks
from acajax import bounds as bounds_lib

__all__ = [
    "BOUND_NAMES",
    "CoordinationNoise",
    "ExactAnalysis",
    "ScenarioParameters",
    "SignalDistribution",
    "Strategy",
    "TightnessReport",
    "bayes_success",
    "exact_analysis",
    "feature_label_strategy",
    "feature_only_strategy",
    "margins",
    "mixture",
    "pull_back",
    "push_forward",
    "pushforwards",
    "scenario_parameters",
    "soft_signal",
    "strategy_kernel",
    "success_tolerance",
    "surrogate_success",
    "tightness_report",
    "with_coordination_noise",
    "worst_case_success",
]


# --------------------------------------------------------------------------
# Signals and strategies (SPEC §1)
# --------------------------------------------------------------------------


class SignalDistribution(NamedTuple):
  """An x-independent randomized signal: every member draws g(x) ~ ``weights``.

  Equivalent to the (n, n) kernel whose rows all equal ``weights``, without
  materialising it. With a leading collective axis, ``weights`` is (M, n).

  Attributes:
    weights: (n,) or (M, n) non-negative weights summing to 1 over points.
  """
  weights: jax.Array


class Strategy(Protocol):
  """A strategy: the action of a Markov kernel on X×Y on measures (SPEC §1).

  ``strategy(p0, signal, target)`` returns (h)#p0, an (n, K) table, for one
  collective; it must be linear in ``p0`` and preserve total mass.
  """

  def __call__(self, p0: jax.Array, signal, target: jax.Array) -> jax.Array:
    ...


def _index_dtype(size: int):
  return jnp.int32 if size < 2**31 else jnp.int64


def _in_range(ids: jax.Array, size: int) -> jax.Array:
  """Elementwise: is ``ids`` a valid index into an axis of length ``size``."""
  return (ids >= 0) & (ids < size)


def _fill_value(dtype):
  """What an out-of-range gather gives: NaN, or the integer dtype's minimum."""
  return jnp.nan if jnp.issubdtype(dtype, jnp.inexact) else jnp.iinfo(dtype).min


@jax.custom_jvp
@jax.custom_batching.custom_vmap
def _segment_sum(values: jax.Array, ids: jax.Array) -> jax.Array:
  """out[z] = sum_{x: ids[x] = z} values[x], for (n, ...) values and (n,) ids.

  A scatter-add. Why not ``jax.ops.segment_sum``: under ``vmap`` XLA's CPU
  scatter with batch dimensions is several times slower than one flat
  scatter, so the batching rule below folds the batch axis into the point axis
  (recursively, for nested vmaps). Indices outside [0, n) are masked: their
  values are dropped (never added to a clamped neighbour); callers that must
  not lose mass check the indices (:func:`push_forward`).
  """
  size = values.shape[0]
  ids = jnp.where(_in_range(ids, size), ids, size).astype(_index_dtype(size))
  return jnp.zeros_like(values).at[ids].add(values, mode="drop")


def _flat_batch(axis_size, in_batched, values, ids):
  """Shared batching prelude: both operands batched, ids offset into one flat axis.

  Out-of-range ids map to ``axis_size * n``, out of range of the flat axis too,
  so they never land in another batch member's slice.
  """
  values_batched, ids_batched = in_batched
  if not values_batched:
    values = jnp.broadcast_to(values, (axis_size,) + values.shape)
  if not ids_batched:
    ids = jnp.broadcast_to(ids, (axis_size,) + ids.shape)
  size = values.shape[1]
  dtype = _index_dtype(axis_size * size)
  offsets = size * jnp.arange(axis_size, dtype=dtype)[:, None]
  flat_ids = jnp.where(_in_range(ids, size), ids.astype(dtype) + offsets,
                       axis_size * size).reshape(-1)
  return values, ids, flat_ids


@_segment_sum.def_vmap
def _segment_sum_vmap(axis_size, in_batched, values, ids):
  values, ids, flat_ids = _flat_batch(axis_size, in_batched, values, ids)
  size = values.shape[1]
  flat = _segment_sum(values.reshape((axis_size * size,) + values.shape[2:]), flat_ids)
  return flat.reshape(values.shape), True


@_segment_sum.defjvp
def _segment_sum_jvp(primals, tangents):
  # Linear in the values; the tangent uses the stock (transposable) segment
  # sum, which drops out-of-range ids as well.
  values, ids = primals
  values_dot, _ = tangents
  size = values.shape[0]
  masked = jnp.where(_in_range(ids, size), ids, size)
  tangent = jax.ops.segment_sum(values_dot, masked, num_segments=size)
  return _segment_sum(values, ids), tangent


@jax.custom_jvp
@jax.custom_batching.custom_vmap
def _take(values: jax.Array, ids: jax.Array) -> jax.Array:
  """values[ids] for (n,) values and (n,) ids; out-of-range ids give NaN.

  (For integer values, the dtype's minimum.) Batched like
  :func:`_segment_sum`: a flat gather instead of XLA's slower gather with
  batch dimensions. The values are materialised first, so the gather does
  not recompute their producer per index.
  """
  size = values.shape[0]
  inside = _in_range(ids, size)
  safe = jnp.where(inside, ids, 0).astype(_index_dtype(size))
  picked = jax.lax.optimization_barrier(values)[safe]
  return jnp.where(inside, picked, jnp.asarray(_fill_value(values.dtype), values.dtype))


@_take.def_vmap
def _take_vmap(axis_size, in_batched, values, ids):
  values, ids, flat_ids = _flat_batch(axis_size, in_batched, values, ids)
  return _take(values.reshape(-1), flat_ids).reshape(ids.shape), True


@_take.defjvp
def _take_jvp(primals, tangents):
  values, ids = primals
  values_dot, _ = tangents
  inside = _in_range(ids, values.shape[0])
  tangent = jnp.where(inside, values_dot[jnp.where(inside, ids, 0)], 0)
  return _take(values, ids), tangent


def _stochastic(rows: jax.Array) -> jax.Array:
  """() bool: every entry non-negative and every row (last axis) summing to 1.

  NaN and infinite entries fail; the tolerance is :func:`_sum_tolerance`.
  """
  tol = _sum_tolerance(rows.dtype)
  return (jnp.min(rows) >= 0) & jnp.all(jnp.abs(jnp.sum(rows, axis=-1) - 1) <= tol)


def _signal_validity(signal, num_points: int):
  """``(safe signal, valid)`` for one signal or a stack of them (SPEC §11).

  Integer maps are valid when every entry lies in [0, n) (the primitives
  mask the others, so they need no stand-in); kernels and weights when they
  are row-stochastic, with zeros standing in otherwise (double where: no NaN
  reaches a gradient).
  """
  if isinstance(signal, SignalDistribution):
    valid = _stochastic(signal.weights)
    return SignalDistribution(jnp.where(valid, signal.weights, 0)), valid
  if jnp.issubdtype(signal.dtype, jnp.integer):
    return signal, jnp.all(_in_range(signal, num_points))
  valid = _stochastic(signal)
  return jnp.where(valid, signal, 0), valid


def _push(signal, measure: jax.Array) -> jax.Array:
  """:func:`push_forward` without the validity check (callers check once)."""
  if isinstance(signal, SignalDistribution):
    weights = signal.weights.astype(measure.dtype)
    total = jnp.sum(measure, axis=0)
    return weights[:, None] * total if measure.ndim == 2 else weights * total
  if jnp.issubdtype(signal.dtype, jnp.integer):
    return _segment_sum(measure, signal)
  return jnp.tensordot(signal.astype(measure.dtype), measure, axes=(0, 0))


def _as_signal(signal):
  return signal if isinstance(signal, SignalDistribution) else jnp.asarray(signal)


def push_forward(signal, measure: ArrayLike) -> jax.Array:
  """The image measure g#mu of a measure under one signal (SPEC §1).

  Args:
    signal: (n,) integer map, (n, n) row-stochastic kernel, or a
      :class:`SignalDistribution` with (n,) weights.
    measure: (n,) or (n, K) non-negative measure on X (or on X×Y; the label
      axis is carried along).

  Returns:
    g#measure, same shape as ``measure``: (g#mu)(x') = sum_x mu(x) Pr[g(x) = x'].
    All NaN if the signal is out of domain (SPEC §11): a map entry outside
    [0, n), or a kernel/weights that are negative, non-finite or not summing
    to 1 per row (tolerance of the module docstring).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> mixtures.push_forward(jnp.array([2, 2, 0]), jnp.array([.5, .3, .2])).tolist()
    [0.2, 0.0, 0.8]
    >>> mixtures.push_forward(jnp.array([2, 3, 0]), jnp.array([.5, .3, .2])).tolist()
    [nan, nan, nan]
  """
  measure = jnp.asarray(measure)
  signal, valid = _signal_validity(_as_signal(signal), measure.shape[0])
  return jnp.where(valid, _push(signal, measure), jnp.nan)


def pull_back(signal, values: ArrayLike) -> jax.Array:
  """The expectation x -> E[values(g(x))] of a function under one signal.

  Args:
    signal: as in :func:`push_forward`.
    values: (n,) function on X.

  Returns:
    (n,) array, entry x the mean of ``values`` over the law of g(x). An
    integer map entry outside [0, n) gives NaN at that x (for integer
    ``values``, the sentinel ``jnp.iinfo(values.dtype).min``); an invalid
    kernel or weights (see :func:`push_forward`) give NaN everywhere.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> mixtures.pull_back(jnp.array([2, 2, 0]), jnp.array([1., 0., .5])).tolist()
    [0.5, 0.5, 1.0]
    >>> mixtures.pull_back(jnp.array([2, -1, 0]), jnp.array([1., 0., .5])).tolist()
    [0.5, nan, 1.0]
  """
  values = jnp.asarray(values)
  signal = _as_signal(signal)
  if isinstance(signal, SignalDistribution):
    signal, valid = _signal_validity(signal, values.shape[0])
    mean = jnp.dot(signal.weights.astype(values.dtype), values)
    return jnp.where(valid, jnp.full(values.shape, mean, values.dtype), jnp.nan)
  if jnp.issubdtype(signal.dtype, jnp.integer):
    return _take(values, signal)
  signal, valid = _signal_validity(signal, values.shape[0])
  return jnp.where(valid, signal.astype(values.dtype) @ values, jnp.nan)


def feature_label_strategy(p0: ArrayLike, signal, target: ArrayLike) -> jax.Array:
  """Feature-label strategy h(x, y) = (g(x), y_c), pushed forward (SPEC §1).

  Args:
    p0: (n, K) joint table.
    signal: one signal (see :func:`push_forward`).
    target: integer target label y_c.

  Returns:
    (h)#p0, (n, K): all mass moved to the signal points, labelled y_c. NaN
    if ``target`` is outside [0, K) or the signal is out of domain
    (:func:`push_forward`).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.25, .25], [.5, 0.]])
    >>> mixtures.feature_label_strategy(p0, jnp.array([1, 1]), 0).tolist()
    [[0.0, 0.0], [1.0, 0.0]]
  """
  p0 = jnp.asarray(p0)
  onehot = jax.nn.one_hot(target, p0.shape[-1], dtype=p0.dtype)
  moved = push_forward(signal, jnp.sum(p0, axis=-1))
  return jnp.where(_in_range(target, p0.shape[-1]), moved[:, None] * onehot, jnp.nan)


def feature_only_strategy(p0: ArrayLike, signal, target: ArrayLike) -> jax.Array:
  """Feature-only strategy, pushed forward (SPEC §1).

  h(x, y) = (g(x), y) if y == y_c, else (x, y): members whose label is not the
  target keep their data.

  Args:
    p0: (n, K) joint table.
    signal: one signal (see :func:`push_forward`).
    target: integer target label y_c.

  Returns:
    (h)#p0, (n, K). NaN if ``target`` is outside [0, K) or the signal is out
    of domain (:func:`push_forward`).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.25, .25], [.5, 0.]])
    >>> mixtures.feature_only_strategy(p0, jnp.array([1, 1]), 0).tolist()
    [[0.0, 0.25], [0.75, 0.0]]
  """
  p0 = jnp.asarray(p0)
  onehot = jax.nn.one_hot(target, p0.shape[-1], dtype=p0.dtype)
  moved = push_forward(signal, p0 @ onehot)
  return jnp.where(_in_range(target, p0.shape[-1]), p0 * (1 - onehot) + moved[:, None] * onehot,
                   jnp.nan)


class CoordinationNoise(NamedTuple):
  """Fractions of a collective's members who do not coordinate (SPEC §1).

  Each field is a scalar for one collective, or (M,) for M collectives; the
  three fractions are non-negative with sum at most 1. The remaining
  fraction follows the strategy.

  Attributes:
    abstain: fraction who do not follow: their data stays as it is.
    wrong_signal: fraction who plant a wrong signal: a point drawn uniformly
      from X instead of g_c(x).
    wrong_label: fraction who act for a wrong label: the strategy with the
      target replaced by a label drawn uniformly from the K - 1 others.
  """
  abstain: ArrayLike = 0.0
  wrong_signal: ArrayLike = 0.0
  wrong_label: ArrayLike = 0.0


def with_coordination_noise(strategy: Strategy, noise: CoordinationNoise) -> Strategy:
  """Returns ``strategy`` with a fraction of non-coordinating members.

  The result is again a strategy (a kernel on X×Y, the mixture of SPEC §1):
  (1 - a - s - l) h + a Id + s h[uniform signal] + l mean_{y' != y_c} h[y'].

  Args:
    strategy: any :class:`Strategy`.
    noise: a :class:`CoordinationNoise` with scalar fields.

  Returns:
    The noisy strategy. Its result is NaN when the fractions are out of
    domain (a negative fraction, or a sum above 1 beyond the tolerance of
    the module docstring) or the target is outside [0, K) (SPEC §11).

  Examples:
    Half the members abstain:

    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> noisy = mixtures.with_coordination_noise(
    ...     mixtures.feature_label_strategy, mixtures.CoordinationNoise(abstain=.5))
    >>> p0 = jnp.array([[.25, .25], [.5, 0.]])
    >>> noisy(p0, jnp.array([1, 1]), 0).tolist()
    [[0.125, 0.125], [0.75, 0.0]]
  """
  def noisy(p0, signal, target):
    return _noisy_pushforward(strategy, p0, signal, target, noise)
  return noisy


def _noisy_pushforward(strategy, p0, signal, target, noise: CoordinationNoise):
  p0 = jnp.asarray(p0)
  num_points, num_labels = p0.shape
  dtype = p0.dtype
  fractions, valid = _noise_validity(noise, dtype)
  abstain, wrong_signal, wrong_label = fractions
  valid = valid & _in_range(target, num_labels)
  follow = 1 - abstain - wrong_signal - wrong_label
  uniform = SignalDistribution(jnp.full((num_points,), 1.0 / num_points, dtype))
  labels = jnp.arange(num_labels)
  per_label = jax.vmap(lambda label: strategy(p0, signal, label))(labels)
  other = (labels != target).astype(dtype) / (num_labels - 1)
  out = (follow * strategy(p0, signal, target) + abstain * p0
         + wrong_signal * strategy(p0, uniform, target)
         + wrong_label * jnp.tensordot(other, per_label, axes=1))
  return jnp.where(valid, out, jnp.nan)


def _noise_validity(noise: CoordinationNoise, dtype):
  """``(fractions, valid)``: the three fractions, zeros standing in where invalid.

  Valid: each fraction >= 0 and their sum <= 1 up to :func:`_sum_tolerance`,
  elementwise over the collective axis if there is one; ``valid`` is one
  flag for all of them (SPEC §11).
  """
  fractions = jnp.stack([jnp.asarray(f, dtype) for f in noise])
  valid = jnp.all(fractions >= 0) & jnp.all(jnp.sum(fractions, axis=0)
                                             <= 1 + _sum_tolerance(dtype))
  fractions = jnp.where(valid, fractions, 0)
  return CoordinationNoise(*fractions), valid


def strategy_kernel(strategy: Strategy, signal, target: ArrayLike, *,
                    num_labels: int) -> jax.Array:
  """Materialises a strategy as its (nK, nK) Markov kernel on X×Y (SPEC §1).

  Row ``x * K + y`` is the law of h(x, y); it is obtained by pushing the point
  mass at (x, y) forward. For small n only (memory is (nK)^2).

  Args:
    strategy: a :class:`Strategy`.
    signal: one signal; ``n`` is read from it.
    target: target label y_c.
    num_labels: K.

  Returns:
    (nK, nK) row-stochastic matrix; ``p0.reshape(-1) @ kernel`` equals
    ``strategy(p0, signal, target).reshape(-1)``. All NaN when ``target`` is
    outside [0, K) or the signal is out of domain (:func:`push_forward`).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> kernel = mixtures.strategy_kernel(mixtures.feature_only_strategy,
    ...                                   jnp.array([1, 1]), 0, num_labels=2)
    >>> kernel.astype(int).tolist()
    [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
  """
  array = signal.weights if isinstance(signal, SignalDistribution) else jnp.asarray(signal)
  num_points = array.shape[0]  # (n,) map, (n, n) kernel or (n,) weights
  size = num_points * num_labels
  dtype = _checks.float_dtype(array)
  basis = jnp.eye(size, dtype=dtype).reshape(size, num_points, num_labels)
  rows = jax.vmap(lambda point: strategy(point, signal, target))(basis)
  _, valid = _signal_validity(_as_signal(signal), num_points)
  valid = valid & _in_range(jnp.asarray(target), num_labels)
  return jnp.where(valid, rows.reshape(size, size), jnp.nan)


# --------------------------------------------------------------------------
# Mixture and margins (SPEC §1, §2)
# --------------------------------------------------------------------------


def success_tolerance(dtype) -> float:
  """Slack for the success test m_c >= 2 eps: 64 machine epsilons of ``dtype``.

  Margins are ratios of sums, so a margin that equals 2 eps in exact
  arithmetic can come out a few ulps low; equality counts as success (SPEC §2)
  and the slack keeps it so.
  """
  return 64 * float(jnp.finfo(dtype).eps)


def _over_labels(op, table_t: jax.Array) -> jax.Array:
  """Reduces a label-major (K, ...) array over its labels with ``op``.

  Unrolled for small K: on CPU, XLA fuses a short reduction feeding a
  broadcast or scatter poorly (about 3x slower, measured), while K - 1
  elementwise ops fuse well.
  """
  num_labels = table_t.shape[0]
  if num_labels > 16:
    return {jnp.add: jnp.sum, jnp.maximum: jnp.max}[op](table_t, axis=0)
  return functools.reduce(op, [table_t[y] for y in range(num_labels)])


def _label_rows(table_t: jax.Array, targets: jax.Array) -> jax.Array:
  """(M, ...) rows ``table_t[targets]`` of a label-major (K, ...) table.

  Selected by unrolled comparisons for small K (elementwise, fuses) rather
  than a gather, which XLA's CPU backend runs slowly under ``vmap``.
  """
  num_labels = table_t.shape[0]
  if num_labels > 16:
    return table_t[targets]
  shape = targets.shape + (1,) * (table_t.ndim - 1)
  labels = targets.reshape(shape)
  rows = jnp.zeros(targets.shape + table_t.shape[1:], table_t.dtype)
  for y in range(num_labels):
    rows = jnp.where(labels == y, table_t[y], rows)
  return rows


def _target_margins(joint_t: jax.Array, targets: jax.Array) -> jax.Array:
  """(M, n) margins m_c(x) of the labels ``targets`` (SPEC §2), see :func:`margins`.

  Takes the joint table label-major, (K, n): reductions over labels are then
  elementwise across points, which vectorises (K is tiny).
  """
  top = _over_labels(jnp.maximum, joint_t)                          # (n,)
  is_top = joint_t == top
  # Runner-up; equal to the top when the top is tied.
  second = _over_labels(jnp.maximum, jnp.where(is_top, -jnp.inf, joint_t))
  second = jnp.where(_over_labels(jnp.add, is_top.astype(jnp.int32)) > 1, top, second)
  own = _label_rows(joint_t, targets)                                # (M, n): P(x, y_c)
  best_other = jnp.where(own == top, second, top)
  marginal = _over_labels(jnp.add, joint_t)
  positive = marginal > 0
  safe = jnp.where(positive, marginal, 1)
  return jnp.where(positive, (own - best_other) / safe, -1)


def margins(joint: ArrayLike) -> jax.Array:
  """Margins of every label at every point of a joint table (SPEC §2).

  m(x, k) = [P(x, k) - max_{y != k} P(x, y)] / P_X(x), which equals
  P(k | x) - max_{y != k} P(y | x). Points with P_X(x) = 0 have no
  conditional, so any classifier is eps-suboptimal there: their margin is -1
  (the least possible), i.e. they count as lost. The division uses the
  double-where trick, so gradients stay finite.

  The table need not be normalised (margins are ratios). A row with a
  negative or non-finite entry is out of domain: its margins are NaN (SPEC
  §11), eagerly and under ``jit`` alike, with zeros standing in for the row
  inside (double where), so gradients stay finite.

  Args:
    joint: (n, K) non-negative table, K >= 2.

  Returns:
    (n, K) margins in [-1, 1]; NaN on rows out of domain.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> m = mixtures.margins(jnp.array([[.1, .3], [0., 0.]]))
    >>> m.round(6).tolist()
    [[-0.5, 0.5], [-1.0, -1.0]]
    >>> mixtures.margins(jnp.array([[.1, .3], [-.1, .3]])).round(6).tolist()
    [[-0.5, 0.5], [nan, nan]]
  """
  joint = jnp.asarray(joint)
  row_valid = jnp.all((joint >= 0) & (joint < jnp.inf), axis=-1, keepdims=True)
  safe = jnp.where(row_valid, joint, 0)
  return jnp.where(row_valid, _target_margins(safe.T, jnp.arange(joint.shape[-1])).T, jnp.nan)


def _resolve_strategy(feature_only, strategy):
  """Static strategy, or None with an (M,) bool array selecting FO per collective."""
  if strategy is not None:
    return strategy, None
  if isinstance(feature_only, bool):
    return (feature_only_strategy if feature_only else feature_label_strategy), None
  return None, feature_only


def _pushforwards(p0, signals, targets, flags, noise, strategy):
  """(M, n, K) stack of (h_c)#p0, strategy by strategy (the general path)."""
  def one(signal, target, flag, noise_c):
    if strategy is None:
      def chosen(p, s, t):
        return jnp.where(flag, feature_only_strategy(p, s, t), feature_label_strategy(p, s, t))
    else:
      chosen = strategy
    if noise_c is None:
      return chosen(p0, signal, target)
    return _noisy_pushforward(chosen, p0, signal, target, noise_c)
  return jax.vmap(one)(signals, targets, flags, noise)


class _Parts(NamedTuple):
  """What the success and the parameters share, for one scenario."""
  marginal: jax.Array      # (n,) P0_X
  signal_mass: jax.Array   # (M, n) g_c#P0_X; X*_c is where it is positive
  pushed_x: jax.Array      # (M, n) feature marginal P^c_X of (h_c)#P0
  joint_t: jax.Array       # (K, n) mixture P, label-major
  p0_t: jax.Array          # (K, n) P0, label-major


def _parts(p0, signals, targets, masses, flags, noise, strategy) -> _Parts:
  """Mixture and signal sets; one push of [P0_X, P0(., y_c)] per collective.

  The built-in strategies (feature-label, feature-only, or a per-collective
  choice) are assembled from pushed-forward columns: FL moves P0_X to
  (g_c(x), y_c), FO replaces column y_c by its image. This equals calling
  :func:`feature_label_strategy`/:func:`feature_only_strategy` (tested) with
  one scatter per collective; noise and custom strategies take the general
  path through :func:`_pushforwards`.
  """
  dtype = p0.dtype
  # Label-major copy, materialised once (the barrier stops XLA from fusing
  # the strided transpose into every consumer, measured ~2x slower on CPU).
  p0_t = jax.lax.optimization_barrier(p0.T)                         # (K, n)
  marginal = _over_labels(jnp.add, p0_t)
  alpha_total = jnp.sum(masses)
  builtin = noise is None and strategy in (None, feature_label_strategy, feature_only_strategy)
  if not builtin:
    pushed = _pushforwards(p0, signals, targets, flags, noise, strategy)   # (M, n, K)
    signal_mass = jax.vmap(_push, in_axes=(0, None))(signals, marginal)
    joint = (1 - alpha_total) * p0 + jnp.sum(masses[:, None, None] * pushed, axis=0)
    return _Parts(marginal, signal_mass, jnp.sum(pushed, axis=-1), joint.T, p0_t)
  if strategy is None:
    fo = flags
  else:
    fo = jnp.full(targets.shape, strategy is feature_only_strategy)
  own = _label_rows(p0_t, targets)                                  # (M, n): P0(x, y_c)
  if strategy is feature_label_strategy:
    moved_x = jax.vmap(_push, in_axes=(0, None))(signals, marginal)
    moved_own = jnp.zeros_like(moved_x)
  else:
    channels = jnp.stack([jnp.broadcast_to(marginal, own.shape), own], axis=-1)
    moved = jax.vmap(_push)(signals, channels)                    # (M, n, 2)
    moved_x, moved_own = moved[..., 0], moved[..., 1]
  onehot = targets[:, None] == jnp.arange(p0.shape[-1])             # (M, K)
  # FL adds alpha_c e_{y_c} (g_c#P0_X); FO keeps alpha_c P0 off column y_c
  # and adds alpha_c e_{y_c} (g_c#P0(., y_c)).
  fo_mass = jnp.where(fo, masses, 0)
  kept = 1 - alpha_total + jnp.sum(jnp.where(onehot, 0, fo_mass[:, None]), axis=0)   # (K,)
  planted = masses[:, None] * jnp.where(fo[:, None], moved_own, moved_x)             # (M, n)
  joint_t = (p0_t * kept[:, None]).at[targets].add(planted)         # row y_c += planted_c
  pushed_x = jnp.where(fo[:, None], marginal - own + moved_own, moved_x)
  return _Parts(marginal, moved_x, pushed_x, joint_t.astype(dtype), p0_t)


class _Validated(NamedTuple):
  """One scenario with stand-ins where it is out of domain, and its flag."""
  p0: jax.Array                    # (n, K) P0 divided by its sum; zeros if invalid
  signals: object                  # safe signals (see _signal_validity)
  masses: jax.Array | None         # (M,) masses; zeros if invalid
  noise: CoordinationNoise | None  # fractions; zeros if invalid
  valid: jax.Array                 # () bool: every argument in its domain (not eps)


def _validated(p0, signals, targets, masses, noise) -> _Validated:
  """The validity flag of one scenario, in jnp, inside the jitted cores (SPEC §11).

  The conditions of the eager checks in :func:`_check_scenario`: ``p0``
  non-negative and finite, summing to 1 within :func:`_sum_tolerance` (then
  divided by its sum, as the module docstring says); every signal valid
  (:func:`_signal_validity`); every target in [0, K); masses non-negative
  with sum < 1; noise fractions non-negative with sum <= 1 (+ tolerance).
  Where the flag is false the cores return NaN; the stand-ins (double where)
  keep NaN and inf out of the computation, so gradients stay finite.
  ``masses`` or ``noise`` may be None (not part of the call).
  """
  num_points, num_labels = p0.shape
  total = jnp.sum(p0)        # NaN or inf anywhere makes the sum test fail
  valid = (jnp.min(p0) >= 0) & (jnp.abs(total - 1) <= _sum_tolerance(p0.dtype))
  p0 = jnp.where(valid, p0 / jnp.where(valid, total, 1), 0)
  signals, signals_valid = _signal_validity(signals, num_points)
  valid = valid & signals_valid & jnp.all(_in_range(targets, num_labels))
  if masses is not None:
    masses_valid = (jnp.min(masses) >= 0) & (jnp.sum(masses) < 1)
    masses = jnp.where(masses_valid, masses, 0)
    valid = valid & masses_valid
  if noise is not None:
    noise, noise_valid = _noise_validity(noise, p0.dtype)
    valid = valid & noise_valid
  return _Validated(p0, signals, masses, noise, valid)


def _eps_valid(eps: jax.Array) -> jax.Array:
  return (eps >= 0) & (eps < 0.5)


def _nan_where(valid: jax.Array, tree):
  """Every leaf of ``tree`` where ``valid``, NaN elsewhere."""
  return jax.tree.map(lambda leaf: jnp.where(valid, leaf, jnp.nan), tree)


# --------------------------------------------------------------------------
# Argument checks (SPEC §11)
# --------------------------------------------------------------------------


def _sum_tolerance(dtype) -> float:
  return 1e-6 if np.dtype(dtype).itemsize >= 8 else 1e-5


class _Scenario(NamedTuple):
  p0: jax.Array
  signals: object
  targets: jax.Array
  masses: jax.Array
  flags: jax.Array | None
  noise: CoordinationNoise | None
  strategy: object


def _check_table(p0) -> tuple[int, int]:
  _checks.dtype_of("p0", p0)
  shape = tuple(jnp.shape(p0))
  if len(shape) != 2 or shape[0] < 1 or shape[1] < 2:
    raise ValueError(f"p0 must be an (n, K) joint table with n >= 1 and K >= 2, got shape {shape}")
  return shape


def _check_signals(signal_maps, num_points: int, dtype) -> tuple[object, int, str]:
  """Returns (signals as arrays, M, kind) after shape/dtype checks."""
  if isinstance(signal_maps, SignalDistribution):
    weights = signal_maps.weights
    _checks.dtype_of("signal_maps.weights", weights)
    shape = tuple(jnp.shape(weights))
    if len(shape) != 2 or shape[1] != num_points:
      raise ValueError(f"signal_maps.weights must have shape (M, n) = (M, {num_points}), "
                       f"got {shape}")
    return SignalDistribution(jnp.asarray(weights, dtype)), shape[0], "distribution"
  sig_dtype = _checks.dtype_of("signal_maps", signal_maps)
  shape = tuple(jnp.shape(signal_maps))
  if len(shape) == 2:
    if not jnp.issubdtype(sig_dtype, jnp.integer):
      raise TypeError("signal_maps of shape (M, n) are deterministic maps and must be integer; "
                      f"got dtype {sig_dtype} (pass an (M, n, n) kernel for randomized maps)")
    if shape[1] != num_points:
      raise ValueError(f"signal_maps must have shape (M, n) = (M, {num_points}) to match p0, "
                       f"got {shape}")
    return jnp.asarray(signal_maps), shape[0], "map"
  if len(shape) == 3:
    if shape[1:] != (num_points, num_points):
      raise ValueError(f"signal_maps kernels must have shape (M, n, n) = (M, {num_points}, "
                       f"{num_points}) to match p0, got {shape}")
    return jnp.asarray(signal_maps, dtype), shape[0], "kernel"
  raise ValueError("signal_maps must be (M, n) integer maps or (M, n, n) row-stochastic "
                   f"kernels, got shape {shape}")


def _check_rows_stochastic(name: str, value, dtype) -> None:
  array = np.asarray(value, dtype=np.float64)
  tol = _sum_tolerance(dtype)
  if not np.all(np.isfinite(array)) or np.any(array < 0):
    raise ValueError(f"{name} must be finite and non-negative")
  sums = array.sum(axis=-1)
  if np.any(np.abs(sums - 1) > tol):
    worst = float(sums.reshape(-1)[np.argmax(np.abs(sums - 1).reshape(-1))])
    raise ValueError(f"{name} rows must sum to 1 (tolerance {tol:g}); found a row summing to "
                     f"{worst!r}")


def _check_scenario(p0, signal_maps, targets, masses, feature_only, noise, strategy) -> _Scenario:
  """Shape/dtype checks always; value checks on concrete arguments."""
  num_points, num_labels = _check_table(p0)
  _checks.dtype_of("masses", masses)
  dtype = _checks.float_dtype(p0, masses)
  signals, num_collectives, kind = _check_signals(signal_maps, num_points, dtype)
  if num_collectives < 1:
    raise ValueError("signal_maps must describe at least one collective (M >= 1)")
  target_dtype = _checks.dtype_of("targets", targets)
  if not jnp.issubdtype(target_dtype, jnp.integer):
    raise TypeError(f"targets must be integer labels, got dtype {target_dtype}")
  _checks.check_trailing_axis("targets", targets, num_collectives)
  if jnp.ndim(targets) != 1:
    raise ValueError(f"targets must have shape (M,) = ({num_collectives},), "
                     f"got {jnp.shape(targets)}")
  if tuple(jnp.shape(masses)) != (num_collectives,):
    raise ValueError(f"masses must have shape (M,) = ({num_collectives},), got {jnp.shape(masses)}")

  if strategy is not None:
    if not callable(strategy):
      raise TypeError("strategy must be a callable (p0, signal, target) -> (n, K); "
                      f"got {strategy!r}")
    if not (isinstance(feature_only, (bool, np.bool_)) and not feature_only):
      raise ValueError("feature_only cannot be combined with a custom strategy; leave it False")
  if isinstance(feature_only, (bool, np.bool_)):
    feature_only = bool(feature_only)
  else:
    fo_dtype = getattr(feature_only, "dtype", None)
    if fo_dtype is None or not jnp.issubdtype(fo_dtype, jnp.bool_):
      raise TypeError("feature_only must be a bool or an (M,) bool array, got "
                      f"{type(feature_only).__name__} with dtype {fo_dtype}")
    if tuple(jnp.shape(feature_only)) not in ((), (num_collectives,)):
      raise ValueError(f"feature_only must be a bool or have shape (M,) = ({num_collectives},), "
                       f"got shape {jnp.shape(feature_only)}")
    feature_only = jnp.broadcast_to(jnp.asarray(feature_only), (num_collectives,))

  if noise is not None:
    if not isinstance(noise, CoordinationNoise):
      raise TypeError(f"noise must be a CoordinationNoise or None, got {type(noise).__name__}")
    fields = {}
    for field, value in zip(CoordinationNoise._fields, noise):
      _checks.dtype_of(f"noise.{field}", value)
      if tuple(jnp.shape(value)) not in ((), (num_collectives,)):
        raise ValueError(f"noise.{field} must be a scalar or have shape (M,) = "
                         f"({num_collectives},), got shape {jnp.shape(value)}")
      fields[field] = jnp.broadcast_to(jnp.asarray(value, dtype), (num_collectives,))
    noise = CoordinationNoise(**fields)

  # The cores divide p0 by its sum (_validated), so that a table summing to 1
  # within the tolerance is treated as exactly normalised (shares such as
  # xi_c then never exceed 1).
  p0_array = jnp.asarray(p0, dtype)
  masses_array = jnp.asarray(masses, dtype)
  targets_array = jnp.asarray(targets)

  # Value checks, only where the values are known (SPEC §11).
  tol = _sum_tolerance(dtype)
  if _checks.is_concrete(p0):
    table = np.asarray(p0, dtype=np.float64)
    if not np.all(np.isfinite(table)) or np.any(table < 0):
      raise ValueError("p0 must be a table of finite, non-negative joint probabilities")
    if abs(table.sum() - 1) > tol:
      raise ValueError(f"p0 must sum to 1 (tolerance {tol:g}), got {table.sum()!r}")
  if _checks.is_concrete(signals):
    if kind == "map":
      maps = np.asarray(signals)
      if np.any(maps < 0) or np.any(maps >= num_points):
        raise ValueError(f"signal_maps entries must be point indices in [0, {num_points}), "
                         f"got values in [{maps.min()}, {maps.max()}]")
    elif kind == "kernel":
      _check_rows_stochastic("signal_maps", signals, dtype)
    else:
      _check_rows_stochastic("signal_maps.weights", signals.weights, dtype)
  if _checks.is_concrete(targets):
    labels = np.asarray(targets)
    if np.any(labels < 0) or np.any(labels >= num_labels):
      raise ValueError(f"targets must be labels in [0, {num_labels}), got {labels.tolist()}")
  if _checks.is_concrete(masses):
    alpha = np.asarray(masses, dtype=np.float64)
    if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
      raise ValueError(f"masses must be finite and non-negative, got {alpha.tolist()}")
    if alpha.sum() >= 1:
      raise ValueError(f"masses must sum to less than 1 (SPEC §1: abar < 1), got {alpha.sum()!r}")
  if noise is not None and _checks.is_concrete(noise):
    fractions = np.stack([np.asarray(f, dtype=np.float64) for f in noise])
    if np.any(fractions < 0) or np.any(fractions.sum(axis=0) > 1 + tol):
      raise ValueError("noise fractions must be non-negative with abstain + wrong_signal + "
                       f"wrong_label <= 1 per collective, got {fractions.tolist()}")

  strategy_static, flags = _resolve_strategy(feature_only, strategy)
  return _Scenario(p0_array, signals, targets_array, masses_array, flags, noise, strategy_static)


def _check_scalar(name: str, value) -> None:
  _checks.dtype_of(name, value)
  if jnp.ndim(value) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")


# --------------------------------------------------------------------------
# Jitted cores: one scenario each
# --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("strategy",))
def _mixture_core(p0, signals, targets, masses, flags, noise, strategy):
  v = _validated(p0, signals, targets, masses, noise)
  joint_t = _parts(v.p0, v.signals, targets, v.masses, flags, v.noise, strategy).joint_t
  return jnp.where(v.valid, joint_t.T, jnp.nan)


@functools.partial(jax.jit, static_argnames=("strategy",))
def _pushforwards_core(p0, signals, targets, flags, noise, strategy):
  v = _validated(p0, signals, targets, None, noise)
  pushed = _pushforwards(v.p0, v.signals, targets, flags, v.noise, strategy)
  return jnp.where(v.valid, pushed, jnp.nan)


def _success_from_parts(parts, targets, eps, valid):
  eps = jnp.asarray(eps, parts.joint_t.dtype)
  margin = _target_margins(parts.joint_t, targets)                  # (M, n): m_c(x)
  hit = margin >= 2 * eps - success_tolerance(margin.dtype)
  # sum_x P0_X(x) Pr[hit(g_c(x))] = sum_z (g_c#P0_X)(z) hit(z): no gather needed.
  success = jnp.clip(jnp.sum(jnp.where(hit, parts.signal_mass, 0), axis=-1), 0, 1)  # rounding
  return jnp.where(valid & _eps_valid(eps), success, jnp.nan)


def _parameters_from_parts(parts, p0, targets, masses):
  marginal, in_signal = parts.marginal, parts.signal_mass > 0
  # Shares of a probability: clipped to [0, 1] against rounding (the bounds
  # treat values outside [0, 1] as out of domain).
  xi_c = jnp.clip(jnp.sum(jnp.where(in_signal, marginal, 0), axis=-1), 0, 1)
  # O[j, c]; broadcast-and-sum, since XLA's batched CPU dot is slower for (M, n) x (n, M).
  overlap = jnp.clip(jnp.sum(parts.pushed_x[:, None, :] * in_signal.astype(marginal.dtype),
                             axis=-1), 0, 1)
  num = targets.shape[0]
  others = ~jnp.eye(num, dtype=bool)
  xi = jnp.max(jnp.where(others, overlap, 0), axis=0)
  aligned = others & (targets[:, None] == targets[None, :])
  beta = jnp.sum(jnp.where(aligned, masses[:, None], 0), axis=0)
  misaligned = jnp.sum(masses) - masses - beta
  positive = marginal > 0
  inverse = jnp.where(positive, 1 / jnp.where(positive, marginal, 1), 0)
  conditional_t = parts.p0_t * inverse                              # (K, n): P0(y | x)
  own = _label_rows(conditional_t, targets)                         # (M, n): P0(y_c | x)
  gap = _over_labels(jnp.maximum, conditional_t) - own
  delta = jnp.max(jnp.where(in_signal & positive, gap, 0), axis=-1)
  p = jnp.clip(jnp.min(jnp.where(positive, own, jnp.inf), axis=-1), 0, 1)
  return ScenarioParameters(xi_c=xi_c, xi=xi, overlap=overlap, beta=beta, delta=delta, p=p,
                            misaligned=misaligned)


@functools.partial(jax.jit, static_argnames=("strategy",))
def _success_core(p0, signals, targets, masses, eps, flags, noise, strategy):
  v = _validated(p0, signals, targets, masses, noise)
  parts = _parts(v.p0, v.signals, targets, v.masses, flags, v.noise, strategy)
  return _success_from_parts(parts, targets, eps, v.valid)


@functools.partial(jax.jit, static_argnames=("strategy",))
def _parameters_core(p0, signals, targets, masses, flags, noise, strategy):
  v = _validated(p0, signals, targets, masses, noise)
  parts = _parts(v.p0, v.signals, targets, v.masses, flags, v.noise, strategy)
  return _nan_where(v.valid, _parameters_from_parts(parts, v.p0, targets, v.masses))


def _analysis(p0, signals, targets, masses, eps, flags, noise, strategy):
  """``(ExactAnalysis, validated scenario)``: NaN where out of domain (SPEC §11)."""
  v = _validated(p0, signals, targets, masses, noise)
  parts = _parts(v.p0, v.signals, targets, v.masses, flags, v.noise, strategy)
  parameters, joint = _nan_where(v.valid, (
      _parameters_from_parts(parts, v.p0, targets, v.masses), parts.joint_t.T))
  success = _success_from_parts(parts, targets, eps, v.valid)
  return ExactAnalysis(success=success, parameters=parameters, mixture=joint), v


@functools.partial(jax.jit, static_argnames=("strategy",))
def _analysis_core(p0, signals, targets, masses, eps, flags, noise, strategy):
  return _analysis(p0, signals, targets, masses, eps, flags, noise, strategy)[0]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def pushforwards(p0: ArrayLike, signal_maps, targets: ArrayLike, *, feature_only=False,
                 noise: CoordinationNoise | None = None,
                 strategy: Strategy | None = None) -> jax.Array:
  """The transformed data (h_c)#P0 of every collective (SPEC §1).

  Args:
    p0: (n, K) base table.
    signal_maps: (M, n) integer maps, (M, n, n) kernels, or a
      :class:`SignalDistribution` with (M, n) weights.
    targets: (M,) integer target labels.
    feature_only: bool for all collectives, or an (M,) bool array (mixed
      populations); False means feature-label.
    noise: optional :class:`CoordinationNoise` (fields scalar or (M,)).
    strategy: optional custom :class:`Strategy` used by every collective
      (then ``feature_only`` must stay False).

  Returns:
    (M, n, K) array; entry c is (h_c)#P0, a probability table.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.25, .25], [.5, 0.]])
    >>> mixtures.pushforwards(p0, jnp.array([[1, 1]]), jnp.array([0])).tolist()
    [[[0.0, 0.0], [1.0, 0.0]]]
  """
  masses = jnp.zeros(jnp.shape(targets), _checks.float_dtype(p0))
  s = _check_scenario(p0, signal_maps, targets, masses, feature_only, noise, strategy)
  return _pushforwards_core(s.p0, s.signals, s.targets, s.flags, s.noise, s.strategy)


def mixture(p0: ArrayLike, signal_maps, targets: ArrayLike, masses: ArrayLike, *,
            feature_only=False, noise: CoordinationNoise | None = None,
            strategy: Strategy | None = None) -> jax.Array:
  """The mixture seen by the firm, P = (1 - abar) P0 + sum_c alpha_c (h_c)#P0 (SPEC §1).

  Args:
    p0: (n, K) base table.
    signal_maps: (M, n) integer maps, (M, n, n) kernels, or a
      :class:`SignalDistribution` with (M, n) weights.
    targets: (M,) integer target labels.
    masses: (M,) masses alpha_c >= 0 with sum < 1.
    feature_only: bool, or (M,) bool array for mixed populations.
    noise: optional :class:`CoordinationNoise`.
    strategy: optional custom :class:`Strategy` for every collective.

  Returns:
    (n, K) joint table of P. Its label margins are :func:`margins` of it.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    SPEC §10, rows x4 and x5 of the mixture:

    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> maps = jnp.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
    >>> joint = mixtures.mixture(p0, maps, jnp.array([1, 2, 1]), jnp.array([.06, .04, .03]))
    >>> joint[4:].round(4).tolist()
    [[0.0348, 0.1011, 0.0261], [0.0261, 0.0411, 0.0748]]
  """
  s = _check_scenario(p0, signal_maps, targets, masses, feature_only, noise, strategy)
  return _mixture_core(s.p0, s.signals, s.targets, s.masses, s.flags, s.noise, s.strategy)


def worst_case_success(p0: ArrayLike, signal_maps, targets: ArrayLike, masses: ArrayLike, *,
                       eps: ArrayLike, feature_only=False,
                       noise: CoordinationNoise | None = None,
                       strategy: Strategy | None = None) -> jax.Array:
  """Exact worst-case success over all eps-suboptimal classifiers (SPEC §2).

  S_c^wc(eps) = sum_x P0_X(x) Pr[ m_c(g_c(x)) >= 2 eps ], with m_c the margin
  of y_c under the mixture P (:func:`margins`). By Lemma 1 every
  eps-suboptimal classifier succeeds where m_c >= 2 eps, and an adversarial
  one fails everywhere else, so this is the exact minimum.

  Conventions:

  * Equality counts as success (SPEC §2), up to a slack of
    :func:`success_tolerance` (64 machine epsilons) so that margins equal to
    2 eps in exact arithmetic are not lost to rounding.
  * Success is measured on the intended signal g_c, also under ``noise``
    (noise changes only the mixture).
  * Points with no mixture mass count as lost (margin -1).
  * NaN for eps outside [0, 1/2) (traced or not), and for every value
    that raises ``ValueError`` below when it is traced instead of concrete
    (module docstring, SPEC §11).

  Args:
    p0: (n, K) joint table of P0, non-negative, summing to 1.
    signal_maps: (M, n) integer maps with entries in [0, n), (M, n, n)
      row-stochastic kernels, or a :class:`SignalDistribution` with (M, n)
      weights.
    targets: (M,) integer target labels in [0, K).
    masses: (M,) masses alpha_c >= 0 with sum < 1.
    eps: scalar suboptimality in [0, 1/2).
    feature_only: bool for all collectives, or an (M,) bool array for mixed
      populations; False means feature-label.
    noise: optional :class:`CoordinationNoise` (fields scalar or (M,)).
    strategy: optional custom :class:`Strategy` for every collective.

  Returns:
    (M,) array of S_c^wc(eps).

  Raises:
    ValueError: a shape does not match, or (for concrete arguments) ``p0``
      has negative entries or does not sum to 1, a signal map or target is
      out of range, a kernel is not row-stochastic, ``masses`` are negative
      or sum to >= 1; the message names the argument.
    TypeError: a dtype is wrong (e.g. float deterministic maps).

  Examples:
    SPEC §10: c2 loses the half of its signal that lands on c1's point.

    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> maps = jnp.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
    >>> s = mixtures.worst_case_success(p0, maps, jnp.array([1, 2, 1]),
    ...                                 jnp.array([.06, .04, .03]), eps=.05)
    >>> s.round(6).tolist()
    [1.0, 1.0, 0.5]
  """
  _check_scalar("eps", eps)
  s = _check_scenario(p0, signal_maps, targets, masses, feature_only, noise, strategy)
  return _success_core(s.p0, s.signals, s.targets, s.masses, eps, s.flags, s.noise, s.strategy)


def bayes_success(p0: ArrayLike, signal_maps, targets: ArrayLike, masses: ArrayLike, *,
                  feature_only=False, noise: CoordinationNoise | None = None,
                  strategy: Strategy | None = None) -> jax.Array:
  """Success against the Bayes classifier of the mixture: eps = 0 (SPEC §2).

  Equals ``worst_case_success(..., eps=0)``: a point succeeds when y_c is a
  most likely label there; ties count as success (SPEC §2 convention).

  Args:
    p0, signal_maps, targets, masses, feature_only, noise, strategy: as in
      :func:`worst_case_success`.

  Returns:
    (M,) array.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.4, .1], [.1, .4]])
    >>> mixtures.bayes_success(p0, jnp.array([[1, 1]]), jnp.array([0]),
    ...                        jnp.array([.2])).tolist()
    [0.0]
  """
  return worst_case_success(p0, signal_maps, targets, masses, eps=0.0, feature_only=feature_only,
                            noise=noise, strategy=strategy)


class ScenarioParameters(NamedTuple):
  """Parameters of a scenario (SPEC §3); per collective unless noted.

  Attributes:
    xi_c: (M,) rarity P0_X(X*_c), X*_c the points g_c sends P0-mass to.
    xi: (M,) uniqueness max_{j != c} O[j, c]; 0 when M = 1.
    overlap: (M, M) matrix O[j, c] = P^j_X(X*_c), P^j_X the feature marginal
      of (h_j)#P0 (for feature-only collectives this includes the members left
      in place). The diagonal uses the same formula: O[c, c] = P^c_X(X*_c),
      the share of c's own transformed data on its signal set (1 for
      feature-label).
    beta: (M,) aligned mass sum_{j != c, y_j = y_c} alpha_j.
    delta: (M,) difficulty max_{x in X*_c, P0_X(x) > 0}
      [max_y P0(y|x) - P0(y_c|x)]; 0 if no such x.
    p: (M,) positivity min_{x: P0_X(x) > 0} P0(y_c|x).
    misaligned: (M,) misaligned mass abar - alpha_c - beta_c.
  """
  xi_c: jax.Array
  xi: jax.Array
  overlap: jax.Array
  beta: jax.Array
  delta: jax.Array
  p: jax.Array
  misaligned: jax.Array


def scenario_parameters(p0: ArrayLike, signal_maps, targets: ArrayLike, masses: ArrayLike, *,
                        feature_only=False, noise: CoordinationNoise | None = None,
                        strategy: Strategy | None = None) -> ScenarioParameters:
  """The parameters of SPEC §3 that the closed-form bounds take.

  Args:
    p0, signal_maps, targets, masses, feature_only, noise, strategy: as in
      :func:`worst_case_success`. ``feature_only``, ``noise`` and
      ``strategy`` only affect ``overlap`` and ``xi`` (through P^j_X).

  Returns:
    A :class:`ScenarioParameters`.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    SPEC §10:

    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> maps = jnp.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
    >>> par = mixtures.scenario_parameters(p0, maps, jnp.array([1, 2, 1]),
    ...                                    jnp.array([.06, .04, .03]))
    >>> par.xi_c.round(6).tolist(), par.beta.round(6).tolist(), par.delta.round(6).tolist()
    ([0.1, 0.1, 0.2], [0.03, 0.0, 0.06], [0.1, 0.0, 0.1])
    >>> par.overlap[:, 0].round(6).tolist(), par.overlap[:, 2].round(6).tolist()
    ([1.0, 0.0, 0.5], [1.0, 1.0, 1.0])
  """
  s = _check_scenario(p0, signal_maps, targets, masses, feature_only, noise, strategy)
  return _parameters_core(s.p0, s.signals, s.targets, s.masses, s.flags, s.noise, s.strategy)


class ExactAnalysis(NamedTuple):
  """Result of :func:`exact_analysis`: everything exact about one scenario.

  Attributes:
    success: (M,) worst-case success S_c^wc(eps) (:func:`worst_case_success`).
    parameters: the :class:`ScenarioParameters` (:func:`scenario_parameters`).
    mixture: (n, K) the mixture P (:func:`mixture`).
  """
  success: jax.Array
  parameters: ScenarioParameters
  mixture: jax.Array


def exact_analysis(p0: ArrayLike, signal_maps, targets: ArrayLike, masses: ArrayLike, *,
                   eps: ArrayLike, feature_only=False, noise: CoordinationNoise | None = None,
                   strategy: Strategy | None = None) -> ExactAnalysis:
  """Success, parameters and mixture of one scenario in one pass (SPEC §1–§3).

  Equal to calling :func:`worst_case_success`, :func:`scenario_parameters`
  and :func:`mixture`, but the pushforwards are computed once. This is the
  call to vmap for large batches.

  Args:
    p0, signal_maps, targets, masses, eps, feature_only, noise, strategy: as
      in :func:`worst_case_success`.

  Returns:
    An :class:`ExactAnalysis`.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> maps = jnp.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
    >>> out = mixtures.exact_analysis(p0, maps, jnp.array([1, 2, 1]),
    ...                               jnp.array([.06, .04, .03]), eps=.05)
    >>> out.success.round(6).tolist(), out.parameters.xi.round(6).tolist()
    ([1.0, 1.0, 0.5], [0.5, 0.5, 1.0])
  """
  _check_scalar("eps", eps)
  s = _check_scenario(p0, signal_maps, targets, masses, feature_only, noise, strategy)
  return _analysis_core(s.p0, s.signals, s.targets, s.masses, eps, s.flags, s.noise, s.strategy)


# --------------------------------------------------------------------------
# Differentiable surrogate
# --------------------------------------------------------------------------


def soft_signal(signal_logits: ArrayLike, *, num_points: int,
                candidates: ArrayLike | None = None) -> SignalDistribution:
  """Softmax signal choice: logits over candidate points -> a randomized signal.

  Args:
    signal_logits: (..., C) logits, one per candidate point.
    num_points: n, the size of X.
    candidates: (C,) distinct point indices in [0, n); default all points
      (C = n).

  Returns:
    A :class:`SignalDistribution` with (..., n) weights: softmax of the logits
    placed on the candidates, 0 elsewhere. All NaN if a candidate lies
    outside [0, n) or appears twice (SPEC §11; values are not checked here,
    :func:`surrogate_success` raises for concrete bad candidates).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> mixtures.soft_signal(jnp.zeros(2), num_points=4,
    ...                      candidates=jnp.array([1, 3])).weights.tolist()
    [0.0, 0.5, 0.0, 0.5]
  """
  logits = jnp.asarray(signal_logits)
  weights = jax.nn.softmax(logits, axis=-1)
  if candidates is None:
    if logits.shape[-1] != num_points:
      raise ValueError(f"signal_logits must have n = {num_points} entries on its last axis when "
                       f"candidates is None, got shape {logits.shape}")
    return SignalDistribution(weights)
  candidates = jnp.asarray(candidates)
  if candidates.ndim != 1 or candidates.shape[0] != logits.shape[-1]:
    raise ValueError(f"candidates must have shape (C,) = ({logits.shape[-1]},) to match "
                     f"signal_logits, got {candidates.shape}")
  inside = _in_range(candidates, num_points)
  ordered = jnp.sort(candidates)
  valid = jnp.all(inside) & jnp.all(ordered[1:] != ordered[:-1])
  safe = jnp.where(inside, candidates, num_points)          # dropped by the scatter
  full = jnp.zeros(logits.shape[:-1] + (num_points,), weights.dtype)
  full = full.at[..., safe].add(weights, mode="drop")
  return SignalDistribution(jnp.where(valid, full, jnp.nan))


@functools.partial(jax.jit, static_argnames=("strategy",))
def _surrogate_core(p0, signals, targets, masses, eps, temperature, flags, strategy):
  dtype = p0.dtype
  eps = jnp.asarray(eps, dtype)
  temperature = jnp.asarray(temperature, dtype)
  v = _validated(p0, signals, targets, masses, None)
  parts = _parts(v.p0, v.signals, targets, v.masses, flags, None, strategy)
  margin = _target_margins(parts.joint_t, targets)
  valid = v.valid & _eps_valid(eps) & (temperature > 0)
  safe_eps = jnp.where(valid, eps, 0)
  safe_temperature = jnp.where(valid, temperature, 1)
  soft = jax.nn.sigmoid((margin - 2 * safe_eps) / safe_temperature)
  success = jnp.sum(soft * parts.signal_mass, axis=-1)   # as in _success_from_parts
  return jnp.where(valid, success, jnp.nan)


def surrogate_success(p0: ArrayLike, signal_logits: ArrayLike, targets: ArrayLike,
                      masses: ArrayLike, *, eps: ArrayLike, temperature: ArrayLike,
                      candidates: ArrayLike | None = None, feature_only=False) -> jax.Array:
  """Differentiable surrogate of the worst-case success (SPEC §2).

  Each collective's signal is a softmax over candidate points (a randomized,
  x-independent signal map, :func:`soft_signal`), and the indicator
  1[m_c >= 2 eps] becomes sigmoid((m_c - 2 eps) / temperature):

      S~_c = sum_x' w_c(x') sigmoid((m_c(x') - 2 eps) / T).

  As T -> 0 this tends to :func:`worst_case_success` of the same randomized
  signal (at every point whose margin is not exactly 2 eps). Gradients with
  respect to ``masses`` and ``signal_logits`` are finite (the margin division
  uses the double-where trick).

  Args:
    p0: (n, K) base table.
    signal_logits: (M, C) logits over the candidates.
    targets: (M,) integer target labels.
    masses: (M,) masses, sum < 1.
    eps: scalar suboptimality in [0, 1/2).
    temperature: scalar T > 0 (NaN otherwise).
    candidates: (C,) candidate points; default all n points.
    feature_only: bool, or (M,) bool array.

  Returns:
    (M,) surrogate success; NaN out of domain (as :func:`worst_case_success`,
    and for ``temperature <= 0`` or traced candidates out of range or
    repeated).

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`, naming the argument.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.4, .1], [.1, .4], [.0, .0]])
    >>> logits = jnp.array([[0., 0., 8.]])
    >>> s = mixtures.surrogate_success(p0, logits, jnp.array([0]), jnp.array([.2]),
    ...                                eps=.05, temperature=1e-3)
    >>> round(float(s[0]), 3)
    1.0
  """
  _check_table(p0)
  num_points = jnp.shape(p0)[0]
  _checks.dtype_of("signal_logits", signal_logits)
  if jnp.ndim(signal_logits) != 2:
    raise ValueError(f"signal_logits must have shape (M, C), got {jnp.shape(signal_logits)}")
  _check_scalar("eps", eps)
  _check_scalar("temperature", temperature)
  dtype = _checks.float_dtype(p0, masses, signal_logits)
  if candidates is not None and _checks.is_concrete(candidates):
    points = np.asarray(candidates)
    if points.ndim != 1 or np.any(points < 0) or np.any(points >= num_points):
      raise ValueError(f"candidates must be a (C,) array of point indices in [0, {num_points})")
    if len(np.unique(points)) != len(points):
      raise ValueError("candidates must be distinct points")
  signals = soft_signal(jnp.asarray(signal_logits, dtype), num_points=num_points,
                        candidates=candidates)
  s = _check_scenario(p0, signals, targets, masses, feature_only, None, None)
  return _surrogate_core(s.p0, s.signals, s.targets, s.masses, eps, temperature, s.flags,
                         s.strategy)


# --------------------------------------------------------------------------
# Tightness report
# --------------------------------------------------------------------------

BOUND_NAMES = ("theorem1", "theorem1_pairwise", "theorem2_sound", "theorem2_published", "best")
"""Keys of :attr:`TightnessReport.bounds`, in display order."""


class TightnessReport(NamedTuple):
  """Every applicable bound beside the exact success (SPEC §4, §5, §7).

  Bounds are clipped to [0, 1] and NaN where not applicable:

  * ``theorem1``, ``theorem1_pairwise``: only when every collective is
    feature-label (SPEC §4);
  * ``theorem2_sound``: for feature-only collectives, in any population
    (SPEC §5);
  * ``theorem2_published``: for feature-only collectives, to compare with the
    paper; **not a valid bound** (it can exceed ``exact``);
  * ``best``: per collective the largest valid bound, 0 (the trivial bound)
    where none applies.

  Attributes:
    exact: (M,) exact worst-case success S_c^wc(eps).
    bounds: name -> (M,) bound (names in :data:`BOUND_NAMES`).
    gaps: name -> (M,) exact - bound (>= 0 for valid bounds).
    exact_min: () S_min = min_c S_c.
    exact_weighted: () S_w = sum_c alpha_c S_c / abar.
    bounds_min: name -> () S_min corollary applied to that bound (SPEC §7).
    bounds_weighted: name -> () S_w corollary applied to that bound.
    parameters: the :class:`ScenarioParameters` used.
  """
  exact: jax.Array
  bounds: dict
  gaps: dict
  exact_min: jax.Array
  exact_weighted: jax.Array
  bounds_min: dict
  bounds_weighted: dict
  parameters: ScenarioParameters


@functools.partial(jax.jit, static_argnames=("static_fo",))
def _report_core(p0, signals, targets, masses, eps, flags, static_fo):

  strategy = None if static_fo is None else (
      feature_only_strategy if static_fo else feature_label_strategy)
  num = targets.shape[0]
  dtype = p0.dtype
  fo = jnp.full((num,), bool(static_fo)) if flags is None else flags
  (exact, par, _), v = _analysis(p0, signals, targets, masses, eps, flags, None, strategy)
  masses = v.masses
  alpha_total = jnp.sum(masses)
  eps = jnp.asarray(eps, dtype)
  misaligned_pair = (targets[:, None] != targets[None, :]).astype(dtype)
  competition = (masses[:, None] * par.overlap * misaligned_pair).sum(axis=0)
  common = dict(alpha_total=alpha_total, xi_c=par.xi_c, eps=eps)
  thm1 = bounds_lib.feature_label(masses, beta=par.beta, xi=par.xi, delta=par.delta, **common)
  pairwise = bounds_lib.feature_label_pairwise(masses, delta=par.delta, competition=competition,
                                               **common)
  sound = bounds_lib.feature_only(masses, beta=par.beta, xi=par.xi, p=par.p, variant="sound",
                                  **common)
  published = bounds_lib.feature_only(masses, beta=par.beta, xi=par.xi, p=par.p,
                                      variant="published", **common)
  all_fl = ~jnp.any(fo)
  nan = jnp.asarray(jnp.nan, dtype)
  table = {
      "theorem1": jnp.where(all_fl, thm1, nan),
      "theorem1_pairwise": jnp.where(all_fl, pairwise, nan),
      "theorem2_sound": jnp.where(fo, sound, nan),
      "theorem2_published": jnp.where(fo, published, nan),
  }
  best = jnp.fmax(jnp.fmax(table["theorem1"], table["theorem1_pairwise"]), table["theorem2_sound"])
  table["best"] = jnp.where(jnp.isnan(exact), nan, jnp.where(jnp.isnan(best), 0, best))
  gaps = {name: exact - value for name, value in table.items()}
  return _nan_where(v.valid, TightnessReport(
      exact=exact,
      bounds=table,
      gaps=gaps,
      exact_min=jnp.min(exact),
      exact_weighted=jnp.sum(masses * exact) / alpha_total,
      bounds_min={name: bounds_lib.s_min(value) for name, value in table.items()},
      bounds_weighted={name: bounds_lib.s_weighted(value, masses) for name, value in table.items()},
      parameters=par))


def tightness_report(p0: ArrayLike, signal_maps, targets: ArrayLike, masses: ArrayLike, *,
                     eps: ArrayLike, feature_only=False) -> TightnessReport:
  """Every applicable closed-form bound beside the exact success, and the gaps.

  Parameters come from :func:`scenario_parameters`; Theorem 1 (and its
  pairwise form, with competition sum_{j: y_j != y_c} alpha_j O[j, c]) applies
  when all collectives are feature-label, the sound Theorem 2 to feature-only
  collectives in any population (SPEC §4, §5, §7). The report is a pytree, so
  it vmaps over scenarios.

  Args:
    p0, signal_maps, targets, masses, eps, feature_only: as in
      :func:`worst_case_success`.

  Returns:
    A :class:`TightnessReport`; :func:`acajax.runs.tables.tightness_frame`
    tabulates it.

  Raises:
    ValueError, TypeError: as :func:`worst_case_success`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> p0 = jnp.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
    ...                 [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
    >>> maps = jnp.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
    >>> report = mixtures.tightness_report(p0, maps, jnp.array([1, 2, 1]),
    ...                                    jnp.array([.06, .04, .03]), eps=.05)
    >>> report.exact.round(6).tolist()
    [1.0, 1.0, 0.5]
    >>> bool(jnp.all(report.gaps["theorem1"] >= 0))
    True
  """
  _check_scalar("eps", eps)
  s = _check_scenario(p0, signal_maps, targets, masses, feature_only, None, None)
  static_fo = None if s.flags is not None else bool(s.strategy is feature_only_strategy)
  return _report_core(s.p0, s.signals, s.targets, s.masses, eps, s.flags, static_fo)


def __getattr__(name):  # moved names: the old path keeps working, with a warning
  if name == "tightness_frame":
    from acajax.runs import tables  # deferred: the maths layer never imports the run layer
    warnings.warn("acajax.mixtures.tightness_frame moved to acajax.runs.tables.tightness_frame",
                  DeprecationWarning, stacklevel=2)
    return tables.tightness_frame
  raise AttributeError(f"module 'acajax.mixtures' has no attribute {name!r}")
