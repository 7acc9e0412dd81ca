"""The host driver of a sweep: chunks in order, the running accumulator,
checkpoints, the result table and the files of a run.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import pathlib
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import NamedTuple

import jax
import jaxlib
import numpy as np
import pandas as pd
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from acajax._version import __version__

from acajax.sweep import _spec
from acajax.sweep._kernel import _COMPILED, MESH_AXIS, _build_kernel, _Kernel
from acajax.sweep._plan import IN_FLIGHT, Chunk, ChunkPlan, _accelerator_layout, _digits, make_plan
from acajax.sweep._registry import _reduce_fields, output_columns, result_columns
from acajax.sweep._spec import SpecError, SweepSpec

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
CHECKPOINT = "checkpoint.npz"



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
  return {"acajax": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
          "numpy": np.__version__, "pandas": pd.__version__,
          "matplotlib": metadata.version("matplotlib"), "python": platform.python_version()}


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
    spec = _spec.load(spec)
  spec = spec.validated()
  if spec.dtype == "float64" and not jax.config.jax_enable_x64:
    raise SpecError(f"{spec.source}: dtype: float64 needs jax_enable_x64 (set "
                    "jax.config.update('jax_enable_x64', True) first; the CLI does) or "
                    "use float32")
  if file_format not in ("csv", "parquet"):
    raise ValueError(f"file_format must be 'csv' or 'parquet'; got {file_format!r}")
  if file_format == "parquet":
    try:
      import pyarrow  # noqa: F401  # deferred: optional, only --format parquet needs it
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
  spec = _spec.load(out / "spec.toml")
  if (out / RESULTS_PARQUET).exists():
    table = pd.read_parquet(out / RESULTS_PARQUET)
  elif (out / RESULTS_CSV).exists():
    table = pd.read_csv(out / RESULTS_CSV)
  else:
    raise FileNotFoundError(f"{out} has no {RESULTS_CSV} or {RESULTS_PARQUET}; did the sweep "
                            "finish? (run it again to resume)")
  return spec, table
