"""Sweeps: bounds over large parameter grids, chunked, sharded and resumable.

A :class:`~acajax.sweep_spec.SweepSpec` (TOML or Python; see
:mod:`acajax.sweep_spec`) names axes over parameters, fixed values for the
rest, the bounds to evaluate and optional reductions. :func:`run` evaluates it:

* **The grid is generated on the device.** Only each axis exists as a 1-D
  array. The axes are ordered (kept..., reduced...); a chunk is a block of
  ``rows`` kept points times ``cols`` reduced points. The host hands each chunk
  its start as per-axis digits (computed in Python integers, so grids beyond
  2**31 points need no int64), and the device adds in-chunk offsets with
  carries in int32 and gathers the axis values. One jitted function with
  static shapes serves every chunk: it is compiled once.
* **Memory is bounded by the chunk, not by the grid.** Reductions (min, max,
  argmin, argmax; NaN points skipped) happen inside the chunk; only the kept
  points' running results come back. When the reduced points of one kept
  point do not fit a chunk, they are split over several chunks and combined
  on the host (first occurrence wins ties, as ``numpy.argmin``).
* **Sharded over every device** (:class:`jax.sharding.Mesh` over
  ``jax.devices()``, all processes when ``jax.distributed`` is initialised):
  each chunk's larger dimension is split across devices with
  :func:`jax.shard_map`, reduced locally, then gathered and combined in device
  order, so the results are identical to one device. Only process 0 writes.
* **Resumable**: after chunks finish, the running results and the count of
  finished chunks are saved atomically to ``checkpoint.npz``; running the
  same spec into the same folder continues from there.

Outputs per grid row (see :func:`result_columns`): ``"{bound}[{c}]"`` for
collective c, ``"{bound}.s_min"`` and ``"{bound}.s_w"`` for the SPEC §7
corollaries; with reductions, ``".min"``, ``".max"``, and for argmin/argmax
``".argmin.{axis}"`` columns holding the reduced axes' values at the extreme.

The registry :data:`BOUNDS` maps each evaluable name to a function of a dict
of per-point parameters; new evaluators join with one entry, their parameters
with entries in :data:`PARAMETERS`. The exact engine is the entry ``exact``:
the exact worst-case success (SPEC §2) of the spec's finite ``[scenario]`` at
each point's masses and ``eps``, vmapped over the points of a block.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import json
import math
import os
import pathlib
import platform
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from acajax import bounds as _bounds
from acajax import mixtures, sweep_spec
from acajax.sweep_spec import Axis, Reduce, Scenario, SpecError, SweepSpec

__all__ = [
    "BOUNDS",
    "Bound",
    "ChunkPlan",
    "PARAMETERS",
    "Param",
    "SCENARIO_PARAMETERS",
    "SweepResult",
    "make_plan",
    "output_columns",
    "plot",
    "read_results",
    "result_columns",
    "run",
    # Re-exported from acajax.sweep_spec for convenience.
    "Axis",
    "Reduce",
    "Scenario",
    "SpecError",
    "SweepSpec",
]

MESH_AXIS = "sweep"
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
CHECKPOINT = "checkpoint.npz"
# How a device walks its part of a chunk (measured on CPU; see
# benchmarks/bench_sweep.py). With TALL_ROWS rows or more, one column per
# step over a group of up to MAX_GROUP rows: the block is a contiguous row
# vector, the row values are loop-invariant and the column values scalars.
# With fewer rows, blocks of up to 16 rows x lanes of about BLOCK_POINTS
# points (vectorised along the columns), folding over at least 8 steps so the
# final fold over lanes stays cheap.
TALL_ROWS = 256
TALL_CHUNK_ROWS = 1024
MAX_GROUP = 4096
BLOCK_POINTS = 4096
# Chunks launched ahead of the one being folded in on the host, on
# accelerators (on CPU one: the host and the chunks share the cores).
IN_FLIGHT = 2
# On accelerators: one group of every row, reduced in this many steps (one:
# the fused evaluate-and-reduce kernel was fastest on an H100; see
# benchmarks/README.md). Large chunks (2**27 points) pay there too.
ACCELERATOR_STEPS = 1


# -- the registry -------------------------------------------------------------


class Param(NamedTuple):
  """A sweepable parameter and its domain (SPEC §3, §11).

  Attributes:
    per_collective: one value per collective (axis names may index it, as in
      ``alpha[0]``) or one per scenario.
    low, high: the domain's ends.
    low_inclusive, high_inclusive: whether the ends belong to the domain.
    doc: one line for error messages and docs.
  """
  per_collective: bool
  low: float
  high: float
  low_inclusive: bool
  high_inclusive: bool
  doc: str


PARAMETERS: dict[str, Param] = {
    "alpha": Param(True, 0.0, 1.0, False, False, "mass alpha_c of each collective"),
    "beta": Param(True, 0.0, 1.0, True, False,
                  "aligned mass beta_c (default: derived from targets)"),
    "xi_c": Param(True, 0.0, 1.0, True, True, "rarity of the signal, P0_X(X*_c)"),
    "xi": Param(True, 0.0, 1.0, True, True, "global uniqueness (signal overlap)"),
    "delta": Param(True, 0.0, 1.0, True, True, "difficulty Delta_c"),
    "p": Param(True, 0.0, 1.0, False, True, "positivity p_c"),
    "eps": Param(False, 0.0, 0.5, True, False, "suboptimality of the classifier"),
    "target_success": Param(False, 0.0, 1.0, True, False,
                            "success level s of the critical mass (SPEC §8)"),
}


class Bound(NamedTuple):
  """An evaluable quantity of the registry.

  Attributes:
    fn: ``fn(params, targets) -> tuple of M arrays``, one per collective.
      ``params`` maps each parameter name to an array (scenario parameters) or
      a tuple of M arrays (per-collective ones); the arrays broadcast against
      each other (the sweep passes (rows, 1) and (1, cols) blocks, and a
      single point is all shapes ``()``). ``targets`` is the static tuple of
      target labels. Parameters absent from the spec are absent from
      ``params``.
    params: parameters it requires.
    optional: parameters it uses when given (``beta`` overrides ``targets``).
    kind: ``"success"`` (a lower bound on S_c, or S_c itself; SPEC §7
      corollaries apply) or ``"mass"`` (a critical mass; reported per
      collective only).
    doc: one line, with the SPEC section.
    needs_scenario: the spec must give a ``[scenario]``; ``fn`` is then
      called as ``fn(params, targets, scenario)`` with the validated
      :class:`~acajax.sweep_spec.Scenario`.
  """
  fn: Callable[..., tuple[jax.Array, ...]]
  params: tuple[str, ...]
  optional: tuple[str, ...]
  kind: str
  doc: str
  needs_scenario: bool = False


def _alpha_total(alpha):
  return functools.reduce(jnp.add, alpha)


def _betas(params, targets) -> tuple:
  """Aligned mass per collective: given, or sum of same-target masses (SPEC §3)."""
  if "beta" in params:
    return params["beta"]
  alpha = params["alpha"]
  zero = jnp.zeros((), alpha[0].dtype)
  return tuple(functools.reduce(jnp.add, [alpha[j] for j in range(len(targets))
                                          if j != c and targets[j] == targets[c]], zero)
               for c in range(len(targets)))


def _feature_label(params, targets):
  alpha, beta = params["alpha"], _betas(params, targets)
  total = _alpha_total(alpha)
  return tuple(_bounds.feature_label(alpha[c], alpha_total=total, beta=beta[c],
                                     xi_c=params["xi_c"][c], xi=params["xi"][c],
                                     delta=params["delta"][c], eps=params["eps"])
               for c in range(len(targets)))


def _feature_only(variant):
  def fn(params, targets):
    alpha, beta = params["alpha"], _betas(params, targets)
    total = _alpha_total(alpha)
    return tuple(_bounds.feature_only(alpha[c], alpha_total=total, beta=beta[c],
                                      xi_c=params["xi_c"][c], xi=params["xi"][c],
                                      p=params["p"][c], eps=params["eps"], variant=variant)
                 for c in range(len(targets)))
  return fn


def _critical_mass(strategy):
  extra_name = "delta" if strategy == "feature_label" else "p"

  def fn(params, targets):
    alpha, beta = params["alpha"], _betas(params, targets)
    zero = jnp.zeros((), alpha[0].dtype)
    # The others' mass summed directly (not total - alpha_c, which would
    # make it wobble with alpha_c by rounding).
    others = [functools.reduce(jnp.add, [a for j, a in enumerate(alpha) if j != c], zero)
              for c in range(len(targets))]
    return tuple(_bounds.critical_mass(
        params["target_success"], strategy=strategy, alpha_others=others[c],
        beta=beta[c], xi_c=params["xi_c"][c], xi=params["xi"][c], eps=params["eps"],
        **{extra_name: params[extra_name][c]}) for c in range(len(targets)))
  return fn


def _scenario_arrays(scenario: Scenario, dtype) -> tuple[np.ndarray, np.ndarray, Any]:
  """p0 at the sweep's dtype, the maps, and ``feature_only`` as mixtures takes it."""
  flags = scenario.feature_only
  flags = flags if isinstance(flags, bool) else np.asarray(flags, bool)
  return (np.asarray(scenario.p0, np.dtype(dtype)), np.asarray(scenario.signal_maps, np.int32),
          flags)


def _exact(params, targets, scenario):
  """Exact worst-case success (SPEC §2) at every point of a block.

  The per-point masses and eps broadcast to the block's shape, are flattened
  to a batch of scenarios and go through ``jax.vmap`` of
  :func:`acajax.mixtures.worst_case_success`; p0 and the maps are constants.
  """
  alpha, eps = params["alpha"], params["eps"]
  dtype = eps.dtype
  p0, maps, flags = _scenario_arrays(scenario, dtype)
  shape = jnp.broadcast_shapes(eps.shape, *(a.shape for a in alpha))
  masses = jnp.stack([jnp.broadcast_to(a, shape).reshape(-1) for a in alpha], axis=-1)
  labels = np.asarray(targets, np.int32)

  def one(masses_point, eps_point):
    return mixtures.worst_case_success(p0, maps, labels, masses_point, eps=eps_point,
                                       feature_only=flags)

  success = jax.vmap(one)(masses, jnp.broadcast_to(eps, shape).reshape(-1)).astype(dtype)
  return tuple(success[:, c].reshape(shape) for c in range(len(targets)))


# Parameters that a [scenario] determines when neither fixed nor swept (SPEC §3).
SCENARIO_PARAMETERS = ("xi_c", "xi", "delta", "p")


@functools.lru_cache(maxsize=16)
def _scenario_defaults(scenario: Scenario, targets: tuple[int, ...], dtype: str):
  """xi_c, xi, delta, p of the scenario (none depends on the masses), per collective."""
  p0, maps, flags = _scenario_arrays(scenario, dtype)
  with jax.ensure_compile_time_eval():   # concrete even when first asked inside a trace
    par = mixtures.scenario_parameters(p0, maps, np.asarray(targets, np.int32),
                                       np.zeros(len(targets), p0.dtype), feature_only=flags)
  return {name: tuple(np.asarray(getattr(par, name)).tolist()) for name in SCENARIO_PARAMETERS}


_COMMON = ("alpha", "xi_c", "xi", "eps")
BOUNDS: dict[str, Bound] = {
    "exact": Bound(_exact, ("alpha", "eps"), (), "success",
                   "exact worst-case success of the spec's finite [scenario] (SPEC §2)",
                   needs_scenario=True),
    "feature_label": Bound(_feature_label, _COMMON + ("delta",), ("beta",), "success",
                           "Theorem 1, feature-label collectives (SPEC §4)"),
    "feature_only": Bound(_feature_only("sound"), _COMMON + ("p",), ("beta",), "success",
                          "Theorem 2, feature-only, sound form (SPEC §5)"),
    "feature_only_published": Bound(
        _feature_only("published"), _COMMON + ("p",), ("beta",), "success",
        "Theorem 2 as published (not a valid bound; SPEC §5)"),
    "critical_mass_feature_label": Bound(
        _critical_mass("feature_label"), _COMMON + ("delta", "target_success"), ("beta",),
        "mass", "critical mass of each collective, others fixed, feature-label (SPEC §8)"),
    "critical_mass_feature_only": Bound(
        _critical_mass("feature_only"), _COMMON + ("p", "target_success"), ("beta",), "mass",
        "critical mass of each collective, others fixed, feature-only sound (SPEC §8)"),
}


# -- outputs and columns --------------------------------------------------------


def output_columns(spec: SweepSpec) -> list[str]:
  """The per-point outputs of a spec, before any reduction over axes.

  Examples:
    >>> from acajax.sweep import Axis, SweepSpec, output_columns
    >>> spec = SweepSpec(axes={"xi": Axis.linspace(0, .2, 3)}, bounds=("feature_label",),
    ...                  collectives=2, collective=("each", "s_min"))
    >>> output_columns(spec)
    ['feature_label[0]', 'feature_label[1]', 'feature_label.s_min']
  """
  columns = []
  for name in spec.bounds:
    if BOUNDS[name].kind == "mass" or "each" in spec.collective:
      columns += [f"{name}[{c}]" for c in range(spec.collectives)]
    if BOUNDS[name].kind == "success":
      columns += [f"{name}.{op}" for op in ("s_min", "s_w") if op in spec.collective]
  return columns


def _reduce_fields(ops) -> tuple[tuple[str, ...], bool, bool]:
  """Which running values a reduction needs: (directions, argmin?, argmax?)."""
  directions = tuple(d for d in ("min", "max") if d in ops or f"arg{d}" in ops)
  return directions, "argmin" in ops, "argmax" in ops


def result_columns(spec: SweepSpec) -> list[str]:
  """Every column of the result table, in order: kept axes, then outputs.

  Examples:
    >>> from acajax.sweep import Axis, Reduce, SweepSpec, result_columns
    >>> spec = SweepSpec(axes={"xi": Axis.linspace(0, .2, 3), "eps": Axis.of([0, .1])},
    ...                  bounds=("feature_label",), reduce=Reduce(("eps",), ("argmin",)))
    >>> result_columns(spec)
    ['xi', 'feature_label[0].min', 'feature_label[0].argmin.eps']
  """
  kept = [name for name in spec.axes if name not in spec.reduce.over]
  if not spec.reduce.over:
    return kept + output_columns(spec)
  directions, _, _ = _reduce_fields(spec.reduce.ops)
  columns = list(kept)
  for out in output_columns(spec):
    for direction in directions:
      columns.append(f"{out}.{direction}")
      if f"arg{direction}" in spec.reduce.ops:
        columns += [f"{out}.arg{direction}.{axis}" for axis in spec.reduce.over]
  return columns


def chunk_bytes(spec: SweepSpec) -> int:
  """Estimated peak device memory of one chunk (used by the memory cap check).

  XLA fuses the formulas into the reductions, but may materialise each output
  (and a few parameter blocks) once per chunk; the estimate counts two
  buffers per output plus four, at the spec's dtype, and the axes. The exact
  engine adds per point about four (K, n) and (M, n) tables (mixture,
  margins, hits) for every point evaluated at once (at most the grid).
  """
  itemsize = np.dtype(spec.dtype).itemsize
  outputs = len(output_columns(spec))
  axes = sum(len(axis) for axis in spec.axes.values())
  total = spec.chunk_points * itemsize * (2 * outputs + 4) + axes * itemsize
  if any(BOUNDS[name].needs_scenario for name in spec.bounds) and spec.scenario is not None:
    num_points, num_labels = spec.scenario.shape
    at_once = min(spec.chunk_points, spec.num_points)
    total += at_once * itemsize * 4 * num_points * (num_labels + spec.collectives)
  return total


# -- the chunk plan -------------------------------------------------------------


class Chunk(NamedTuple):
  """One chunk: a block of kept points times a block of reduced points."""
  index: int
  row_start: int
  col_start: int
  rows_valid: int
  cols_valid: int


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
  """How a grid is cut into chunks (host-side; nothing is compiled).

  The grid's axes are ordered (kept..., reduced...). A chunk covers ``rows``
  consecutive kept points times ``cols`` consecutive reduced points; either all
  reduced points of a kept point fit (``cols`` = every reduced point, one
  column block), or the reduced points are split into ``col_blocks`` chunks
  (``rows`` is 1, or, on CPU with many kept points, up to
  ``TALL_CHUNK_ROWS`` so that blocks are tall). The larger dimension is split across devices, each
  device's part padded (masked) to whole blocks. On a device, the reduction
  walks ``groups`` groups of ``group`` rows; for each, ``steps`` steps of
  ``lanes`` columns, keeping running results of the block's shape that stay
  in cache; the chunk is never materialised.

  Attributes:
    kept, reduced: axis names, each in spec order.
    kept_sizes, reduced_sizes: their lengths.
    rows, cols: logical chunk shape (independent of the device count, so a
      checkpoint resumes on any number of devices).
    num_devices: devices the chunk is split over.
    shard_dim: 0 (rows split across devices) or 1 (cols).
    tall: blocks are (lanes, group), rows contiguous; else (group, lanes).
    group, groups: local_rows = group * groups.
    lanes, steps: local_cols = lanes * steps.
    itemsize: bytes per value at the spec's dtype.
    num_outputs: per-point outputs.
  """
  kept: tuple[str, ...]
  reduced: tuple[str, ...]
  kept_sizes: tuple[int, ...]
  reduced_sizes: tuple[int, ...]
  rows: int
  cols: int
  num_devices: int
  shard_dim: int
  tall: bool
  group: int
  groups: int
  lanes: int
  steps: int
  itemsize: int
  num_outputs: int

  @property
  def local_rows(self) -> int:
    return self.group * self.groups

  @property
  def local_cols(self) -> int:
    return self.lanes * self.steps

  @property
  def padded_rows(self) -> int:
    return self.local_rows * (self.num_devices if self.shard_dim == 0 else 1)

  @property
  def padded_cols(self) -> int:
    return self.local_cols * (self.num_devices if self.shard_dim == 1 else 1)

  @property
  def kept_points(self) -> int:
    return math.prod(self.kept_sizes)

  @property
  def reduced_points(self) -> int:
    return math.prod(self.reduced_sizes)

  @property
  def row_blocks(self) -> int:
    return -(-self.kept_points // self.rows)

  @property
  def col_blocks(self) -> int:
    return -(-self.reduced_points // self.cols)

  @property
  def num_chunks(self) -> int:
    return self.row_blocks * self.col_blocks

  @property
  def chunk_points(self) -> int:
    """Points evaluated per chunk, padding included."""
    return self.padded_rows * self.padded_cols

  @property
  def peak_chunk_bytes(self) -> int:
    """Estimated device memory of one chunk on one device.

    Without reductions every output of the chunk is returned (gathered on
    each device); with them, one step's block and the running results, about
    ten buffers of (group, lanes) per output, plus the chunk's per-row
    results. The axes come on top.
    """
    if not self.reduced:
      return self.padded_rows * self.itemsize * (2 * self.num_outputs + 4)
    return (self.group * self.lanes * self.itemsize * (10 * self.num_outputs + 8)
            + self.padded_rows * 8 * 4 * self.num_outputs)

  def chunk(self, index: int) -> Chunk:
    """The block evaluated by chunk ``index`` (Python ints, no overflow)."""
    if not 0 <= index < self.num_chunks:
      raise IndexError(f"chunk index must be in [0, {self.num_chunks}); got {index}")
    row_block, col_block = divmod(index, self.col_blocks)
    row_start, col_start = row_block * self.rows, col_block * self.cols
    return Chunk(index, row_start, col_start,
                 min(self.rows, self.kept_points - row_start),
                 min(self.cols, self.reduced_points - col_start))

  def points_done(self, done: int) -> int:
    """Grid points covered by the first ``done`` chunks."""
    if self.col_blocks == 1:
      return min(done * self.rows, self.kept_points) * self.reduced_points
    row_blocks, extra = divmod(done, self.col_blocks)
    rows_done = min(row_blocks * self.rows, self.kept_points)
    rows_next = min(self.rows, self.kept_points - rows_done)
    return (rows_done * self.reduced_points
            + rows_next * min(extra * self.cols, self.reduced_points))

  def signature(self) -> dict[str, int]:
    """What a checkpoint must match to be resumed."""
    return dict(rows=self.rows, cols=self.cols, num_chunks=self.num_chunks,
                kept_points=self.kept_points, reduced_points=self.reduced_points)


def _balanced(total: int, most: int) -> int:
  """The block size <= ``most`` that splits ``total`` into the fewest, most even blocks."""
  blocks = -(-total // most)
  return -(-total // blocks)


def _accelerator_layout(devices) -> bool:
  """Whether chunks are laid out for an accelerator (any device not a CPU)."""
  return any(device.platform != "cpu" for device in devices)


def make_plan(spec: SweepSpec, num_devices: int = 1, *, accelerator: bool = False) -> ChunkPlan:
  """Cuts the spec's grid into chunks of at most ``spec.chunk_points`` points.

  Args:
    spec: the sweep (validated here).
    num_devices: devices each chunk is split over.
    accelerator: lay blocks out for a GPU/TPU (one group of all the chunk's
      rows, reduced in ``ACCELERATOR_STEPS`` wide steps) rather than for CPU
      caches; the chunks, and so checkpoints, are the same either way.

  Returns:
    The :class:`ChunkPlan`.

  Examples:
    A 10^10-point grid reduced to 10^4 results: each chunk holds at most
    2**22 points (1,000 kept points times 4,185 of the 10^6 reduced ones),
    whatever the grid size; on CPU a device walks it in tall blocks of the
    chunk's 1,000 rows, one column a step.

    >>> from acajax.sweep import Axis, Reduce, SweepSpec, make_plan
    >>> axes = {"alpha[0]": Axis.linspace(.01, .2, 100), "xi": Axis.linspace(0, .3, 100),
    ...         "alpha[1]": Axis.linspace(.01, .2, 1000), "delta": Axis.linspace(0, 1, 1000)}
    >>> spec = SweepSpec(axes=axes, bounds=("feature_label",), collectives=2,
    ...                  collective=("s_min",), fixed=dict(xi_c=.01, eps=.05),
    ...                  reduce=Reduce(("alpha[1]", "delta"), ("min",)))
    >>> plan = make_plan(spec)
    >>> plan.num_chunks, plan.rows, plan.cols, plan.group, plan.lanes
    (2390, 1000, 4185, 1000, 1)
  """
  spec = spec.validated()
  if not isinstance(num_devices, int) or num_devices < 1:
    raise ValueError(f"num_devices must be an integer >= 1; got {num_devices!r}")
  kept = tuple(n for n in spec.axes if n not in spec.reduce.over)
  reduced = tuple(n for n in spec.axes if n in spec.reduce.over)
  kept_sizes = tuple(len(spec.axes[n]) for n in kept)
  reduced_sizes = tuple(len(spec.axes[n]) for n in reduced)
  kept_points, reduced_points = math.prod(kept_sizes), math.prod(reduced_sizes)
  target = spec.chunk_points
  if reduced_points <= target:
    cols = reduced_points
    rows = _balanced(kept_points, max(1, target // reduced_points))
  else:
    rows, cols = 1, _balanced(reduced_points, target)
  if (not accelerator and reduced and rows < TALL_ROWS <= kept_points
      and target >= TALL_ROWS * TALL_ROWS):
    # Many reduced points per kept point: chunks of TALL_ROWS..TALL_CHUNK_ROWS
    # rows times part of the columns, so the device walks tall blocks (about
    # twice as fast on CPU as blocks of few rows; benchmarks/README.md).
    rows = _balanced(kept_points, min(TALL_CHUNK_ROWS, target // TALL_ROWS))
    cols = _balanced(reduced_points, max(1, target // rows))
  shard_dim = 1 if cols > rows else 0
  split = lambda n: -(-n // num_devices)
  local_rows = split(rows) if shard_dim == 0 else rows
  local_cols = split(cols) if shard_dim == 1 else cols
  tall = bool(reduced) and local_rows >= TALL_ROWS and not accelerator
  if not reduced:
    group, lanes = local_rows, 1
  elif accelerator:
    # One group of every row and a few wide steps: a device loop's iterations
    # are kernel launches on an accelerator, so blocks should fill the chip.
    group = local_rows
    lanes = _balanced(local_cols, max(1, min(max(1, target // group),
                                             local_cols // ACCELERATOR_STEPS)))
  elif tall:
    group, lanes = _balanced(local_rows, MAX_GROUP), 1
  else:
    group = _balanced(local_rows, 1 if local_rows < 16 else 16)
    lanes = _balanced(local_cols, max(64, min(BLOCK_POINTS // group, local_cols // 8)))
  return ChunkPlan(kept, reduced, kept_sizes, reduced_sizes, rows, cols, num_devices,
                   shard_dim, tall, group, -(-local_rows // group), lanes,
                   -(-local_cols // lanes), np.dtype(spec.dtype).itemsize,
                   len(output_columns(spec)))


def _digits(value: int, sizes: tuple[int, ...]) -> list[int]:
  """Mixed-radix digits of a Python int (first axis most significant)."""
  digits = []
  for size in reversed(sizes):
    value, digit = divmod(value, size)
    digits.append(digit)
  return digits[::-1]


# -- the device kernel ----------------------------------------------------------


def _add_offsets(start, offset, sizes: tuple[int, ...], max_offset: int) -> list[jax.Array]:
  """Digits of (start + offset) in mixed radix, in int32.

  ``start`` holds the chunk's per-axis start digits (from Python ints on the
  host); ``offset`` is an int32 vector of in-chunk offsets. Strides larger
  than every offset contribute digit 0, so nothing overflows int32 however
  large the grid. Offsets past the end wrap around (they are masked).
  """
  digits = [None] * len(sizes)
  carry = jnp.zeros_like(offset)
  stride = 1
  for j in reversed(range(len(sizes))):
    size = sizes[j]
    if stride > max_offset:
      part = jnp.zeros_like(offset)
    else:
      part = lax.div(offset, jnp.int32(stride))
      if stride * size <= max_offset:
        part = lax.rem(part, jnp.int32(size))
    total = start[j] + part + carry
    carry = (total >= size).astype(jnp.int32)
    digits[j] = total - carry * size
    stride *= size
  return digits


def _assemble(spec: SweepSpec, grid: Mapping[str, jax.Array], dtype) -> dict[str, Any]:
  """Parameter dict for the registry from axis blocks and fixed values."""
  fixed = spec.fixed
  derived = ({} if spec.scenario is None
             else _scenario_defaults(spec.scenario, spec.target_labels, spec.dtype))
  params: dict[str, Any] = {}
  for name, param in PARAMETERS.items():
    if param.per_collective:
      parts = []
      for c in range(spec.collectives):
        if f"{name}[{c}]" in grid:
          parts.append(grid[f"{name}[{c}]"])
        elif name in grid:
          parts.append(grid[name])
        elif name in fixed:
          value = fixed[name][c] if isinstance(fixed[name], tuple) else fixed[name]
          parts.append(jnp.asarray(value, dtype))
        elif name in derived:
          parts.append(jnp.asarray(derived[name][c], dtype))
        else:
          parts = None
          break
      if parts is not None:
        params[name] = tuple(parts)
    elif name in grid:
      params[name] = grid[name]
    elif name in fixed:
      params[name] = jnp.asarray(fixed[name], dtype)
  return params


def evaluate(spec: SweepSpec, params: Mapping[str, Any]) -> dict[str, jax.Array]:
  """Every output column of the spec from one block of parameters.

  Args:
    spec: the sweep.
    params: as for :attr:`Bound.fn` (arrays that broadcast together).

  Returns:
    Output column name (see :func:`output_columns`) -> array.
  """
  targets = spec.target_labels
  out: dict[str, jax.Array] = {}
  for name in spec.bounds:
    bound = BOUNDS[name]
    values = (bound.fn(params, targets, spec.scenario) if bound.needs_scenario
              else bound.fn(params, targets))
    if bound.kind == "mass" or "each" in spec.collective:
      out.update({f"{name}[{c}]": v for c, v in enumerate(values)})
    if bound.kind == "success" and "s_min" in spec.collective:
      out[f"{name}.s_min"] = _s_min(values)
    if bound.kind == "success" and "s_w" in spec.collective:
      out[f"{name}.s_w"] = _s_weighted(values, params["alpha"])
  return out


def _s_min(values: tuple) -> jax.Array:
  """``bounds.s_min`` over a tuple of per-collective arrays (SPEC §7).

  The same formula, unrolled over the collective axis: stacking a trailing
  axis of size M would make XLA materialise (rows, cols, M) blocks.
  """
  return functools.reduce(jnp.minimum, [jnp.clip(v, 0.0, 1.0) for v in values])


def _s_weighted(values: tuple, alpha: tuple) -> jax.Array:
  """``bounds.s_weighted`` over tuples of per-collective arrays (SPEC §7), unrolled."""
  total = _alpha_total(alpha)
  weighted = functools.reduce(jnp.add, [a * jnp.clip(v, 0.0, 1.0) for a, v in zip(alpha, values)])
  valid = total > 0
  return jnp.where(valid, weighted / jnp.where(valid, total, 1.0), jnp.nan)


def _lexicographic(kinds):
  """Combiner of (found, extreme[, index]) tuples for ``lax.reduce``.

  ``kinds`` lists, per output and direction, ``"min"``/``"max"`` (value only)
  or ``"argmin"``/``"argmax"`` (value and index). A slot not found holds a
  neutral value and an index past every real one, so the winner is the
  extreme found value, ties going to the smallest index (first in grid order).
  """
  def combine(a, b):
    out, i = [], 0
    for kind in kinds:
      if kind == "found":
        out.append(a[i] | b[i])
        i += 1
      elif kind in ("min", "max"):
        out.append(jnp.minimum(a[i], b[i]) if kind == "min" else jnp.maximum(a[i], b[i]))
        i += 1
      else:
        va, ia, vb, ib = a[i], a[i + 1], b[i], b[i + 1]
        better = (va < vb) if kind == "argmin" else (va > vb)
        take_a = better | ((va == vb) & (ia < ib))
        out += [jnp.where(take_a, va, vb), jnp.where(take_a, ia, ib)]
        i += 2
    return tuple(out)
  return combine


_NOT_FOUND = 2**31 - 1


def _init_running(columns, shape, dtype, directions, argmin, argmax):
  running = {}
  for column in columns:
    parts = {"found": jnp.zeros(shape, bool)}
    for direction in directions:
      parts[direction] = jnp.full(shape, jnp.inf if direction == "min" else -jnp.inf, dtype)
      if (argmin and direction == "min") or (argmax and direction == "max"):
        parts[f"arg{direction}"] = jnp.full(shape, _NOT_FOUND, jnp.int32)
    running[column] = parts
  return running


def _update_running(running, outputs, col):
  """Folds one step's block into the running results, elementwise.

  Steps go in increasing column order and only a strictly better value
  replaces a found one, so each lane keeps the first extreme. NaN (out of
  domain, or masked padding) is skipped.
  """
  new = {}
  for column, value in outputs.items():
    parts = running[column]
    value = jnp.broadcast_to(value, parts["found"].shape)
    present = ~jnp.isnan(value)
    found = parts["found"]
    updated = {"found": found | present}
    for direction in ("min", "max"):
      if direction not in parts:
        continue
      old = parts[direction]
      if f"arg{direction}" in parts:
        better = present & (~found | ((value < old) if direction == "min" else (value > old)))
        updated[direction] = jnp.where(better, value, old)
        updated[f"arg{direction}"] = jnp.where(better, jnp.broadcast_to(col, value.shape),
                                               parts[f"arg{direction}"])
      else:
        merge = jnp.minimum if direction == "min" else jnp.maximum
        updated[direction] = jnp.where(present, merge(old, value), old)
    new[column] = updated
  return new


def _collapse(running, axis: int):
  """Reduces running results along ``axis`` (lanes, or devices), exactly."""
  results = {}
  for column, parts in running.items():
    found = parts["found"]
    operands, inits, kinds = [found], [jnp.asarray(False)], ["found"]
    for direction in ("min", "max"):
      if direction not in parts:
        continue
      neutral = jnp.asarray(jnp.inf if direction == "min" else -jnp.inf, parts[direction].dtype)
      operands.append(jnp.where(found, parts[direction], neutral))
      inits.append(neutral)
      if f"arg{direction}" in parts:
        operands.append(jnp.where(found, parts[f"arg{direction}"], _NOT_FOUND))
        inits.append(jnp.int32(_NOT_FOUND))
        kinds.append(f"arg{direction}")
      else:
        kinds.append(direction)
    reduced = lax.reduce(tuple(operands), tuple(inits), _lexicographic(kinds), (axis,))
    out, i = {"found": reduced[0]}, 1
    for direction in ("min", "max"):
      if direction in parts:
        out[direction] = reduced[i]
        i += 1
        if f"arg{direction}" in parts:
          out[f"arg{direction}"] = reduced[i]
          i += 1
    results[column] = out
  return results


class _Kernel(NamedTuple):
  fn: Callable
  traces: list  # one entry per trace of the chunk function (compile guard)


# Compiled chunk functions of recent sweeps: (spec fingerprint, plan, device
# ids, process count) -> (_Kernel, executable). Small, oldest dropped first.
_COMPILED: dict = {}


def _build_kernel(spec: SweepSpec, plan: ChunkPlan, mesh: Mesh) -> _Kernel:
  """The jitted chunk function: (axis values, chunk control) -> replicated results."""
  dtype = jnp.dtype(spec.dtype)
  position = {name: i for i, name in enumerate(spec.axes)}
  kept, reduced = plan.kept, plan.reduced
  directions, argmin, argmax = _reduce_fields(spec.reduce.ops)
  columns = output_columns(spec)
  nan = jnp.asarray(jnp.nan, dtype)
  traces: list = []

  def gather(axis_values, names, digits, block_axis):
    return {name: jnp.expand_dims(
        axis_values[position[name]].at[digit].get(mode="promise_in_bounds"), block_axis)
            for name, digit in zip(names, digits)}

  def local(axis_values, control):
    traces.append(1)
    starts, rows_valid, cols_valid = control[:-2], control[-2], control[-1]
    device = lax.axis_index(MESH_AXIS)
    row_base, col_base = jnp.int32(0), jnp.int32(0)
    if plan.shard_dim == 0:
      row_base = device * plan.local_rows
    else:
      col_base = device * plan.local_cols

    # Block layout: rows on axis 1 and columns on axis 0 when tall, else the
    # other way round; reductions fold over the column axis.
    row_axis, col_axis = (1, 0) if plan.tall else (0, 1)

    def rows_of(row):
      """Kept-axis values of some rows, and their mask, shaped along row_axis."""
      digits = _add_offsets(starts[:len(kept)], row, plan.kept_sizes, plan.padded_rows - 1)
      return (gather(axis_values, kept, digits, col_axis),
              jnp.expand_dims(row < rows_valid, col_axis))

    def block(row_grid, row_valid, col):
      """Every output on (rows x columns) points; NaN where masked."""
      reduced_digits = _add_offsets(starts[len(kept):], col, plan.reduced_sizes,
                                    plan.padded_cols - 1)
      grid = dict(row_grid, **gather(axis_values, reduced, reduced_digits, row_axis))
      outputs = evaluate(spec, _assemble(spec, grid, dtype))
      valid = row_valid & jnp.expand_dims(col < cols_valid, row_axis)
      return {c: jnp.where(valid, outputs[c], nan) for c in columns}

    if not reduced:
      row = row_base + lax.iota(jnp.int32, plan.local_rows)
      outputs = block(*rows_of(row), lax.iota(jnp.int32, 1))
      results = {c: {"value": jnp.broadcast_to(v, (plan.local_rows, 1))[:, 0]}
                 for c, v in outputs.items()}
      return jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS, tiled=True), results)

    lane = lax.iota(jnp.int32, plan.lanes)
    shape = (plan.lanes, plan.group) if plan.tall else (plan.group, plan.lanes)

    def group_step(g, out):
      first = g * plan.group
      row_grid, row_valid = rows_of(row_base + first + lax.iota(jnp.int32, plan.group))

      def step(i, running):
        col = col_base + i * plan.lanes + lane
        return _update_running(running, block(row_grid, row_valid, col),
                               jnp.expand_dims(col, row_axis))

      running = _init_running(columns, shape, dtype, directions, argmin, argmax)
      running = lax.fori_loop(0, plan.steps, step, running)
      results = _collapse(running, axis=col_axis)            # (group,) each
      return jax.tree.map(lambda o, r: lax.dynamic_update_slice(o, r, (first,)), out, results)

    shapes = _collapse(_init_running(columns, (1, 1), dtype, directions, argmin, argmax), 1)
    out = jax.tree.map(lambda x: jnp.zeros((plan.local_rows,), x.dtype), shapes)
    results = lax.fori_loop(0, plan.groups, group_step, out)
    # Gather to every device: row parts are concatenated; column parts are
    # combined like lanes, in device order (identical to one device).
    if plan.shard_dim == 0:
      return jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS, tiled=True), results)
    gathered = jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS), results)
    return _collapse(gathered, axis=0)

  replicated = PartitionSpec()
  fn = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(replicated, replicated),
                             out_specs=replicated, check_vma=False))
  return _Kernel(fn, traces)


# -- host side: accumulation, checkpoints, results --------------------------------


def _empty_accumulator(spec: SweepSpec, plan: ChunkPlan) -> dict[str, np.ndarray]:
  size = plan.kept_points
  dtype = np.dtype(spec.dtype)
  acc = {}
  directions, argmin, argmax = _reduce_fields(spec.reduce.ops)
  for column in output_columns(spec):
    if not plan.reduced:
      acc[f"{column}|value"] = np.full(size, np.nan, dtype)
      continue
    acc[f"{column}|found"] = np.zeros(size, bool)
    for direction in directions:
      acc[f"{column}|{direction}"] = np.full(size, np.nan, dtype)
      if (argmin and direction == "min") or (argmax and direction == "max"):
        acc[f"{column}|arg{direction}"] = np.full(size, -1, np.int64)
  return acc


def _fetch(result, copy: bool):
  """This process's copy of a chunk's (replicated) results.

  With ``copy`` (accelerators), the copies to the host start now and run
  while later chunks compute; reading them (``np.asarray``) waits only for
  what is not there yet. CPU arrays are read in place.
  """
  local = jax.tree.map(lambda v: v.addressable_data(0), result)
  if copy:
    for leaf in jax.tree.leaves(local):
      leaf.copy_to_host_async()
  return local


def _combine_chunk(acc, result, chunk: Chunk, plan: ChunkPlan, spec: SweepSpec) -> None:
  """Folds one chunk's results (from :func:`_fetch`) into the accumulator, in place."""
  rows = slice(chunk.row_start, chunk.row_start + chunk.rows_valid)
  directions, _, _ = _reduce_fields(spec.reduce.ops)
  for column, parts in result.items():
    parts = {k: np.asarray(v)[:chunk.rows_valid] for k, v in parts.items()}
    if not plan.reduced:
      acc[f"{column}|value"][rows] = parts["value"]
      continue
    had = acc[f"{column}|found"][rows]
    new = parts["found"]
    for direction in directions:
      old = acc[f"{column}|{direction}"][rows]
      # Strictly better only: earlier chunks (earlier grid points) win ties.
      better = new & (~had | ((parts[direction] < old) if direction == "min"
                              else (parts[direction] > old)))
      acc[f"{column}|{direction}"][rows] = np.where(better, parts[direction], old)
      if f"arg{direction}" in parts:
        key = f"{column}|arg{direction}"
        acc[key][rows] = np.where(better, chunk.col_start + parts[f"arg{direction}"].astype(
            np.int64), acc[key][rows])
    acc[f"{column}|found"][rows] = had | new


def _table(spec: SweepSpec, plan: ChunkPlan, acc) -> pd.DataFrame:
  dtype = np.dtype(spec.dtype)
  values = {name: axis.to_numpy().astype(dtype) for name, axis in spec.axes.items()}
  data: dict[str, np.ndarray] = {}
  if plan.kept:
    mesh = np.meshgrid(*(values[n] for n in plan.kept), indexing="ij")
    data.update({name: grid.reshape(-1) for name, grid in zip(plan.kept, mesh)})
  directions, _, _ = _reduce_fields(spec.reduce.ops)
  for column in output_columns(spec):
    if not plan.reduced:
      data[column] = acc[f"{column}|value"]
      continue
    found = acc[f"{column}|found"]
    for direction in directions:
      data[f"{column}.{direction}"] = np.where(found, acc[f"{column}|{direction}"], np.nan
                                               ).astype(dtype)
      key = f"{column}|arg{direction}"
      if key in acc:
        index = np.where(found, acc[key], 0)
        digits = np.unravel_index(index, plan.reduced_sizes)
        for name, digit in zip(plan.reduced, digits):
          data[f"{column}.arg{direction}.{name}"] = np.where(found, values[name][digit], np.nan
                                                             ).astype(dtype)
  return pd.DataFrame(data, columns=result_columns(spec))


def _save_checkpoint(path: pathlib.Path, acc, done: int, spec: SweepSpec, plan: ChunkPlan):
  """Writes the accumulator and the finished-chunk count atomically."""
  tmp = path.with_name(path.name + ".tmp")
  meta = json.dumps(dict(done=done, fingerprint=spec.fingerprint(), plan=plan.signature()))
  with open(tmp, "wb") as f:
    np.savez(f, __meta__=np.asarray(meta), **acc)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def _load_checkpoint(path: pathlib.Path, spec: SweepSpec, plan: ChunkPlan, acc) -> int:
  """Loads a checkpoint into ``acc``; returns the number of finished chunks."""
  with np.load(path) as data:
    meta = json.loads(str(data["__meta__"]))
    if meta["fingerprint"] != spec.fingerprint() or meta["plan"] != plan.signature():
      raise ValueError(
          f"{path} is the checkpoint of a different sweep (spec or chunking changed); "
          "write to another folder, or pass restart=True (--restart) to start over")
    for key in acc:
      acc[key][...] = data[key]
  return int(meta["done"])


def _versions() -> dict[str, str]:
  import matplotlib

  from acajax import __version__

  import jaxlib

  return {"acajax": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
          "numpy": np.__version__, "pandas": pd.__version__, "matplotlib": matplotlib.__version__,
          "python": platform.python_version()}


class SweepResult(NamedTuple):
  """What :func:`run` returns.

  Attributes:
    table: the tidy result table (one row per kept grid point).
    spec: the validated spec.
    plan: the :class:`ChunkPlan` used.
    out_dir: where the files were written (None if nowhere).
    chunks_run: chunks evaluated by this call (fewer than ``plan.num_chunks``
      when resuming).
    wall_s: seconds this call took, compilation included.
    compile_s: seconds spent compiling the chunk function (about 0 when this
      process ran the same sweep before: the executable is reused).
    kernel_traces: times the chunk function was traced (1: compiled once;
      0 when a finished sweep had nothing left to run).
  """
  table: pd.DataFrame
  spec: SweepSpec
  plan: ChunkPlan
  out_dir: pathlib.Path | None
  chunks_run: int
  wall_s: float
  compile_s: float
  kernel_traces: int


def _global_replicated(mesh: Mesh, array: np.ndarray) -> jax.Array:
  """A host array replicated on every device of the mesh (all processes)."""
  sharding = NamedSharding(mesh, PartitionSpec())
  return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def run(spec: SweepSpec | str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
        devices=None, progress: bool | None = None, restart: bool = False,
        checkpoint_every_s: float = 30.0, file_format: str = "csv",
        on_chunk: Callable[[int], None] | None = None) -> SweepResult:
  """Evaluates a sweep, chunk by chunk, on every device.

  Args:
    spec: a :class:`SweepSpec`, or the path of a TOML spec.
    out_dir: folder for ``results.csv`` (or ``.parquet``), ``spec.toml``,
      ``meta.json`` and ``checkpoint.npz``; None keeps everything in memory
      (no resumption). Only process 0 writes.
    devices: the devices to shard over (default ``jax.devices()``: every
      device of every process).
    progress: show a tqdm bar: True, False, or None (default) for a bar that
      appears only if the sweep runs longer than two seconds.
    restart: ignore an existing checkpoint in ``out_dir``.
    checkpoint_every_s: seconds between checkpoints (0: after every chunk).
      A checkpoint is also written when the sweep finishes or is interrupted.
    file_format: ``"csv"`` or ``"parquet"`` (needs pyarrow).
    on_chunk: called with the number of finished chunks after each one (for
      progress reporting or, in tests, to interrupt).

  Returns:
    A :class:`SweepResult`.

  Raises:
    SpecError: an invalid spec (before anything is compiled).
    ValueError: a checkpoint of a different sweep in ``out_dir``, or a bad
      ``file_format``.

  Examples:
    >>> from acajax import sweep
    >>> spec = sweep.SweepSpec(
    ...     axes={"alpha": sweep.Axis.linspace(0.02, 0.2, 10)},
    ...     bounds=("feature_label",), fixed=dict(xi_c=0.01, xi=0.0, delta=0.5, eps=0.05))
    >>> result = sweep.run(spec, progress=False)
    >>> print(result.table["feature_label[0]"].to_numpy().round(3))
    [0.673 0.84  0.896 0.923 0.94  0.951 0.959 0.965 0.97  0.973]
  """
  start_time = time.perf_counter()
  if not isinstance(spec, SweepSpec):
    spec = sweep_spec.load(spec)
  spec = spec.validated()
  if spec.dtype == "float64" and not jax.config.jax_enable_x64:
    raise SpecError(f"{spec.source}: dtype: float64 needs jax_enable_x64 (set "
                    "jax.config.update('jax_enable_x64', True) first; the CLI does) or "
                    "use float32")
  if file_format not in ("csv", "parquet"):
    raise ValueError(f"file_format must be 'csv' or 'parquet'; got {file_format!r}")
  if file_format == "parquet":
    try:
      import pyarrow  # noqa: F401
    except ImportError:
      raise ValueError("file_format='parquet' needs pyarrow (pip install pyarrow); "
                       "use 'csv'") from None
  devices = list(jax.devices() if devices is None else devices)
  accelerator = _accelerator_layout(devices)
  plan = make_plan(spec, len(devices), accelerator=accelerator)
  writer = jax.process_index() == 0
  out = None if out_dir is None else pathlib.Path(out_dir)
  checkpoint = None if out is None else out / CHECKPOINT

  acc = _empty_accumulator(spec, plan)
  done = 0
  if writer and checkpoint is not None:
    out.mkdir(parents=True, exist_ok=True)
    if checkpoint.exists() and not restart:
      done = _load_checkpoint(checkpoint, spec, plan, acc)
    (out / "spec.toml").write_text(spec.to_toml())
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    done = int(multihost_utils.broadcast_one_to_all(np.int64(done)))

  mesh = Mesh(np.asarray(devices), (MESH_AXIS,))
  axis_values = tuple(_global_replicated(mesh, axis.to_numpy().astype(spec.dtype))
                      for axis in spec.axes.values())

  def control(chunk: Chunk) -> jax.Array:
    starts = (_digits(chunk.row_start, plan.kept_sizes)
              + _digits(chunk.col_start, plan.reduced_sizes))
    return _global_replicated(mesh, np.asarray(starts + [chunk.rows_valid, chunk.cols_valid],
                                               np.int32))

  # Compile once, ahead of the loop (every chunk has the same shapes); a
  # finished sweep compiles nothing, and the same sweep again in this process
  # reuses the executable.
  compile_start = time.perf_counter()
  key = (spec.fingerprint(), plan, tuple(d.id for d in devices), jax.process_count())
  if key in _COMPILED:
    kernel, compiled = _COMPILED[key]
  elif done < plan.num_chunks:
    kernel = _build_kernel(spec, plan, mesh)
    compiled = kernel.fn.lower(axis_values, control(plan.chunk(done))).compile()
    _COMPILED[key] = (kernel, compiled)
    while len(_COMPILED) > 8:
      _COMPILED.pop(next(iter(_COMPILED)))
  else:
    kernel, compiled = _Kernel(None, []), None
  compile_s = time.perf_counter() - compile_start

  bar = _progress_bar(spec, plan, done, progress, enabled=writer)
  last_save = time.monotonic()
  chunks_run = 0

  def finish(chunk: Chunk, result) -> None:
    nonlocal done, last_save
    _combine_chunk(acc, result, chunk, plan, spec)
    done = chunk.index + 1
    if bar is not None:
      bar.update(chunk.rows_valid * chunk.cols_valid)
    if (writer and checkpoint is not None
        and time.monotonic() - last_save >= checkpoint_every_s):
      _save_checkpoint(checkpoint, acc, done, spec, plan)
      last_save = time.monotonic()
    if on_chunk is not None:
      on_chunk(done)

  try:
    # Chunks launched ahead (their results copying to the host) while the
    # oldest is folded in on the host.
    in_flight = IN_FLIGHT if accelerator else 1
    pending = collections.deque()
    for index in range(done, plan.num_chunks):
      chunk = plan.chunk(index)
      pending.append((chunk, _fetch(compiled(axis_values, control(chunk)), accelerator)))
      chunks_run += 1
      if len(pending) > in_flight:
        finish(*pending.popleft())
    while pending:
      finish(*pending.popleft())
  finally:
    if bar is not None:
      bar.close()
    if writer and checkpoint is not None:
      _save_checkpoint(checkpoint, acc, done, spec, plan)

  table = _table(spec, plan, acc)
  wall = time.perf_counter() - start_time
  if writer and out is not None:
    name = RESULTS_CSV if file_format == "csv" else RESULTS_PARQUET
    tmp = out / (name + ".tmp")
    if file_format == "csv":
      table.to_csv(tmp, index=False)
    else:
      table.to_parquet(tmp, index=False)
    os.replace(tmp, out / name)
    meta = dict(
        name=spec.name, fingerprint=spec.fingerprint(), results=name,
        finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        versions=_versions(), backend=jax.default_backend(),
        devices=[str(d) for d in devices], process_count=jax.process_count(),
        dtype=spec.dtype, grid_shape=dict(zip(spec.axes, spec.shape)),
        num_points=spec.num_points, rows=len(table),
        plan=dict(plan.signature(), num_devices=plan.num_devices, shard_dim=plan.shard_dim,
                  padded_rows=plan.padded_rows, padded_cols=plan.padded_cols,
                  peak_chunk_bytes=plan.peak_chunk_bytes),
        chunks_run=chunks_run, compile_s=round(compile_s, 3), wall_s=round(wall, 3),
        argv=sys.argv)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
  return SweepResult(table, spec, plan, out, chunks_run, wall, compile_s, len(kernel.traces))


def _progress_bar(spec, plan, done, progress, *, enabled):
  if progress is False or not enabled:
    return None
  from tqdm.auto import tqdm

  return tqdm(total=spec.num_points, initial=plan.points_done(done),
              unit="pt", unit_scale=True, desc=spec.name, delay=0 if progress else 2.0,
              file=sys.stderr, leave=bool(progress))


# -- reading and plotting results ---------------------------------------------------


def read_results(out_dir: str | os.PathLike) -> tuple[SweepSpec, pd.DataFrame]:
  """Reads a finished sweep folder back: its spec and its result table.

  Raises:
    FileNotFoundError: the folder has no ``spec.toml`` or no results file.
  """
  out = pathlib.Path(out_dir)
  if not (out / "spec.toml").exists():
    raise FileNotFoundError(f"{out} has no spec.toml; is it the --out folder of a sweep?")
  spec = sweep_spec.load(out / "spec.toml")
  if (out / RESULTS_PARQUET).exists():
    table = pd.read_parquet(out / RESULTS_PARQUET)
  elif (out / RESULTS_CSV).exists():
    table = pd.read_csv(out / RESULTS_CSV)
  else:
    raise FileNotFoundError(f"{out} has no {RESULTS_CSV} or {RESULTS_PARQUET}; did the sweep "
                            "finish? (run it again to resume)")
  return spec, table


def _is_mass_axis(name: str) -> bool:
  return name == "alpha" or name.startswith("alpha[")


def _file_name(text: str) -> str:
  return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text).strip("_")


def plot(out_dir: str | os.PathLike, fig_dir: str | os.PathLike | None = None) -> list[pathlib.Path]:
  """Draws the figures that suit a finished sweep; returns the PNG paths.

  * A kept mass axis (``alpha`` or ``alpha[c]``) with at most 12 combinations
    of the other kept axes: each success bound against the mass, one line per
    collective and combination, critical masses marked where the sweep
    computed them (``plots.bound_vs_mass``).
  * Two or more kept axes: heatmaps over the first two of every summary
    column (S_min, S_w, or the bound when M = 1), minimum over any further
    kept axes (``plots.heatmap``); critical masses as contours
    (``plots.critical_mass_contour``).
  * One kept axis: every column against it.

  Args:
    out_dir: the ``--out`` folder of ``acajax sweep``.
    fig_dir: where to write the PNGs (default ``out_dir``).
  """
  from acajax import plots

  spec, table = read_results(out_dir)
  fig_dir = pathlib.Path(out_dir if fig_dir is None else fig_dir)
  fig_dir.mkdir(parents=True, exist_ok=True)
  kept = [n for n in spec.axes if n not in spec.reduce.over]
  suffix = ""
  if spec.reduce.over:
    directions, _, _ = _reduce_fields(spec.reduce.ops)
    suffix = f".{directions[0]}"
  value_columns = [c + suffix for c in output_columns(spec)]
  reduced_note = (f" ({suffix[1:]} over {', '.join(spec.reduce.over)})" if suffix else "")
  written = []

  def save(fig, name):
    path = fig_dir / f"{_file_name(name)}.png"
    plots.save(fig, path)
    written.append(path)

  import matplotlib.pyplot as plt

  mass_axes = [n for n in kept if _is_mass_axis(n)]
  if mass_axes:
    x_name = mass_axes[0]
    others = [n for n in kept if n != x_name]
    groups = list(table.groupby(others, sort=False)) if others else [((), table)]
    if len(groups) <= 12:
      for bound in spec.bounds:
        if BOUNDS[bound].kind != "success":
          continue
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for key, group in groups:
          key = key if isinstance(key, tuple) else (key,)
          tag = ", ".join(f"{n}={v:g}" for n, v in zip(others, key))
          for column in value_columns:
            if not column.startswith(bound) or column not in group:
              continue
            series = column[len(bound):].removesuffix(suffix)
            critical = None
            cm_column = f"critical_mass_{bound}{series}{suffix}"
            if series.startswith("[") and cm_column in group:
              critical = float(group[cm_column].iloc[0])
            label = _series_label(series) + (f", {tag}" if tag else "")
            plots.bound_vs_mass(group[x_name].to_numpy(), group[column].to_numpy(),
                                critical=critical, target=_target(spec), label=label, ax=ax)
        if spec.axes[x_name].kind == "logspace":
          ax.set_xscale("log")
        ax.set_xlabel(x_name)
        ax.set_title(f"{spec.name}: {bound}{reduced_note}", fontsize=9)
        save(fig, f"{bound}_vs_{x_name}")

  if len(kept) >= 2:
    x_name, y_name = kept[0], kept[1]
    rest = kept[2:]
    note = f"; min over {', '.join(rest)}" if rest else ""
    grouped = table.groupby([x_name, y_name], sort=False)
    for column in value_columns:
      base = column.removesuffix(suffix)
      collective = base[base.index("[") + 1:-1] if base.endswith("]") else None
      # The axis of this collective's own mass, if the heatmap has it.
      own = [f"alpha[{collective}]"] + (["alpha"] if spec.collectives == 1 else [])
      mass_axis = next((n for n in own if n in (x_name, y_name)), None) if collective else None
      if base.startswith("critical_mass"):
        # Independent of the collective's own mass: its curve is drawn on the
        # bound's heatmap instead.
        summary = mass_axis is None
      else:
        summary = (base.endswith((".s_min", ".s_w")) or spec.collectives == 1
                   or mass_axis is not None)
      if not summary:
        continue
      frame = grouped[column].min().unstack(y_name) if rest else (
          table.pivot(index=x_name, columns=y_name, values=column))
      x = frame.index.to_numpy()
      y = frame.columns.to_numpy()
      z = frame.to_numpy()
      fig, ax = plt.subplots(figsize=(6, 4.5))
      if base.startswith("critical_mass"):
        plots.critical_mass_contour(x, y, z, xlabel=x_name, ylabel=y_name, ax=ax)
      else:
        plots.heatmap(x, y, z, xlabel=x_name, ylabel=y_name, label=column, ax=ax)
        # S_c over (other axis, alpha_c): the critical mass is the target's
        # contour; draw it where the sweep computed it (unreduced, 2-D only).
        critical = next((f"{name}[{collective}]" for name in spec.bounds
                         if name.startswith("critical_mass") and BOUNDS[name].kind == "mass"
                         and name.endswith(base.split("[")[0])), None)
        if mass_axis is not None and critical in table and not suffix and not rest:
          other = y_name if mass_axis == x_name else x_name
          curve = table.groupby(other, sort=False)[critical].first()
          xs, ys = curve.index.to_numpy(), curve.to_numpy()
          if mass_axis == x_name:
            xs, ys = ys, xs
          ax.plot(xs, ys, color="white", linestyle="--", linewidth=1.2,
                  label=f"critical mass (S = {_target(spec)})")
          ax.legend(loc="upper right", fontsize=7)
      _log_scales(ax, spec, x_name, y_name)
      ax.set_title(f"{spec.name}: {column}{reduced_note}{note}", fontsize=9)
      save(fig, f"heatmap_{column}")
  elif len(kept) == 1 and not mass_axes:
    x_name = kept[0]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for column in value_columns:
      ax.plot(table[x_name].to_numpy(), table[column].to_numpy(), label=column)
    ax.set_xlabel(x_name)
    ax.legend(fontsize=7)
    if spec.axes[x_name].kind == "logspace":
      ax.set_xscale("log")
    ax.set_title(f"{spec.name}{reduced_note}", fontsize=9)
    save(fig, f"outputs_vs_{x_name}")
  return written


def _series_label(series: str) -> str:
  if series.startswith("["):
    return f"collective {series.strip('[]')}"
  return {".s_min": "S_min", ".s_w": "S_w"}.get(series, series)


def _target(spec: SweepSpec):
  value = spec.fixed.get("target_success")
  return value if isinstance(value, float) else None


def _log_scales(ax, spec, x_name, y_name):
  if spec.axes[x_name].kind == "logspace":
    ax.set_xscale("log")
  if spec.axes[y_name].kind == "logspace":
    ax.set_yscale("log")
