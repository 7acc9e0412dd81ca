"""Sweeps: bounds over large parameter grids, chunked, sharded and resumable.

A :class:`SweepSpec` (TOML or Python; :func:`load`, :func:`loads`,
:func:`parse`) names axes over parameters, fixed values for the rest, the
bounds to evaluate and optional reductions. :func:`run` evaluates it:

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
A ``[derived]`` table links parameters (``"alpha[1]" = "budget - alpha[0]"``,
evaluated per point; their values get columns too), and ``strategy`` may be
fixed or swept by name (``feature_label``, ``feature_only``) for the bounds
``exact`` and ``by_strategy``; the ``_spec`` module documents both.

The package's modules, in the order data flows through them:

* ``_registry`` — :data:`PARAMETERS` (domains) and :data:`BOUNDS` (name ->
  function of a dict of per-point parameters); the exact engine is the entry
  ``exact``. A new evaluator joins with one entry.
* ``_spec`` — :class:`SweepSpec` and its TOML form, validated against the
  registry before anything is compiled (:class:`SpecError`).
* ``_expr`` — the expressions of derived parameters, parsed with :mod:`ast`
  and evaluated with NumPy (checks) or ``jax.numpy`` (the kernel).
* ``_plan`` — :func:`make_plan`: the grid cut into chunks (host integers).
* ``_kernel`` — the jitted ``shard_map`` that evaluates and reduces a chunk.
* ``_driver`` — :func:`run`: chunks in order, the accumulator, checkpoints,
  the result table and the run's files; :func:`read_results`.
* ``_figures`` — :func:`plot`: the figures that suit a finished sweep.
"""

from acajax.sweep._driver import (CheckpointError, ResultsError, SweepInterrupted, SweepResult,
                                  read_results, run)
from acajax.sweep._figures import plot
from acajax.sweep._kernel import MESH_AXIS, evaluate
from acajax.sweep._plan import ACCELERATOR_STEPS, IN_FLIGHT, Chunk, ChunkPlan, make_plan
from acajax.sweep._registry import (BOUNDS, PARAMETERS, SCENARIO_PARAMETERS, Bound, Param,
                                    chunk_bytes, output_columns, result_columns)
from acajax.sweep._spec import (AXIS_KINDS, COLLECTIVE_OPS, DEFAULT_CHUNK_POINTS,
                                DEFAULT_MAX_HOURS, DEFAULT_MEMORY_CAP_MB, DTYPES, MAX_AXIS_POINTS,
                                REDUCE_OPS, Axis, Reduce, Scenario, SpecError, SweepSpec,
                                estimated_memory_bytes, estimated_seconds, load, loads, parse)

__all__ = [
    "ACCELERATOR_STEPS",
    "AXIS_KINDS",
    "Axis",
    "BOUNDS",
    "Bound",
    "COLLECTIVE_OPS",
    "DEFAULT_CHUNK_POINTS",
    "DEFAULT_MAX_HOURS",
    "DEFAULT_MEMORY_CAP_MB",
    "CheckpointError",
    "Chunk",
    "ChunkPlan",
    "DTYPES",
    "IN_FLIGHT",
    "MAX_AXIS_POINTS",
    "MESH_AXIS",
    "PARAMETERS",
    "Param",
    "REDUCE_OPS",
    "Reduce",
    "ResultsError",
    "SCENARIO_PARAMETERS",
    "Scenario",
    "SpecError",
    "SweepInterrupted",
    "SweepResult",
    "SweepSpec",
    "chunk_bytes",
    "estimated_memory_bytes",
    "estimated_seconds",
    "evaluate",
    "load",
    "loads",
    "make_plan",
    "output_columns",
    "parse",
    "plot",
    "read_results",
    "result_columns",
    "run",
]
