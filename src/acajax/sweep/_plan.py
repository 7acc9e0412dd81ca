"""The chunk plan: how a sweep's grid is cut into chunks (host-side Python).

The axes are ordered (kept..., reduced...); a chunk is a block of ``rows``
kept points times ``cols`` reduced points. Plans are Python integers, so grids
beyond 2**31 points need no int64; nothing here is compiled.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from acajax.sweep._registry import output_columns
from acajax.sweep._spec import SweepSpec

# Blocks on CPU. With at least TALL_ROWS kept points per chunk, "tall" blocks:
# a group of up to MAX_GROUP rows (contiguous, the row-only terms computed
# once per group) times TALL_LANES columns a step, so that each step's
# column work and loop overhead is shared by many points (4-8 columns were
# fastest). With fewer rows, blocks of up to 16 rows x lanes of about
# BLOCK_POINTS points (vectorised along the columns), folding over at least 8
# steps so the final fold over lanes stays cheap. Chunks of TALL_ROWS to
# TALL_CHUNK_ROWS rows when the reduced points are many.
TALL_ROWS = 256
TALL_CHUNK_ROWS = 1024
TALL_LANES = 8
# Sweeps that keep every point write every value: on CPU their chunks hold at
# most this many points, so that the chunk's outputs stay in cache (2^18 was
# the fastest of 2^18 ... 2^24 on the 2-core machine).
KEEP_ALL_CHUNK_POINTS = 2**18
MAX_GROUP = 4096
BLOCK_POINTS = 4096
# Chunks launched ahead of the one being folded in on the host, on
# accelerators (on CPU one per device: the host and the chunks share the cores).
IN_FLIGHT = 2
# On accelerators: one group of every row, reduced in this many steps (one:
# the fused evaluate-and-reduce kernel was fastest on an H100; see
# benchmarks/README.md). Large chunks (2**27 points) pay there too.
ACCELERATOR_STEPS = 1




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
    chunk's 1,000 rows, eight columns a step.

    >>> from acajax.sweep import Axis, Reduce, SweepSpec, make_plan
    >>> axes = {"alpha[0]": Axis.linspace(.01, .2, 100), "xi": Axis.linspace(0, .3, 100),
    ...         "alpha[1]": Axis.linspace(.01, .2, 1000), "delta": Axis.linspace(0, 1, 1000)}
    >>> spec = SweepSpec(axes=axes, bounds=("feature_label",), collectives=2,
    ...                  collective=("s_min",), fixed=dict(xi_c=.01, eps=.05),
    ...                  reduce=Reduce(("alpha[1]", "delta"), ("min",)))
    >>> plan = make_plan(spec)
    >>> plan.num_chunks, plan.rows, plan.cols, plan.group, plan.lanes
    (2390, 1000, 4185, 1000, 8)
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
  if not reduced and not accelerator:
    target = min(target, KEEP_ALL_CHUNK_POINTS)
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
    # Blocks of about BLOCK_POINTS rows stay in cache (on an accelerator, one).
    group, lanes = (local_rows if accelerator else _balanced(local_rows, BLOCK_POINTS)), 1
  elif accelerator:
    # One group of every row and a few wide steps: a device loop's iterations
    # are kernel launches on an accelerator, so blocks should fill the chip.
    group = local_rows
    lanes = _balanced(local_cols, max(1, min(max(1, target // group),
                                             local_cols // ACCELERATOR_STEPS)))
  elif tall:
    group, lanes = _balanced(local_rows, MAX_GROUP), _balanced(local_cols, TALL_LANES)
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
