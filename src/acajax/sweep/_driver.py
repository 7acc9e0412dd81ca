"""The host driver of a sweep: chunks in order, the running accumulator,
checkpoints, the result table and the files of a run.

The files of a sweep folder (only process 0 writes, under the folder's
:class:`~acajax.runs._io.FolderLock`, each file atomically):

* ``meta.json`` — first written with ``status: "running"`` (the kind, the
  spec's fingerprint), so an unfinished folder is known as this sweep's; on
  success replaced last, with ``status: "finished"`` and the SHA-256 of the
  results file and ``spec.toml``, so the three form one set
  (:func:`read_results` checks it).
* ``checkpoint.npz`` — the running accumulator, the count of finished
  chunks, the spec's fingerprint, the plan's signature, a format version and
  a SHA-256 over all of them; a damaged or foreign checkpoint is refused
  (:class:`CheckpointError`), never half-used.
* ``results.csv`` (or ``.parquet``) and ``spec.toml``.

SIGINT and SIGTERM stop a sweep after the chunks in flight are folded in
and saved (:class:`SweepInterrupted`); a SIGKILL loses at most the chunks in
flight and those since the last checkpoint (after every chunk while saving
costs under ~5% of the run).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import hashlib
import io
import json
import os
import pathlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import numpy as np
import pandas as pd
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from acajax._version import versions
from acajax.runs import _io
from acajax.sweep import _spec
from acajax.sweep._kernel import _COMPILED, MESH_AXIS, _build_kernel, _Kernel
from acajax.sweep._plan import IN_FLIGHT, Chunk, ChunkPlan, _accelerator_layout, _digits, make_plan
from acajax.sweep._registry import _reduce_fields, output_columns, result_columns
from acajax.sweep._spec import SpecError, SweepSpec

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
CHECKPOINT = "checkpoint.npz"
SPEC_FILE = "spec.toml"
META_FILE = _io.RUN_FILE
# What makes a folder hold a sweep's results (for _io.prepare_output).
RESULT_FILES = (RESULTS_CSV, RESULTS_PARQUET, CHECKPOINT)
# The figures acajax.sweep.plot writes (names "<bound>_vs_<axis>.png",
# "outputs_vs_<axis>.png", "heatmap_<column>.png"); restart removes them.
FIGURE_GLOBS = ("*_vs_*.png", "heatmap_*.png")
FLAG = "out_dir"

CHECKPOINT_FORMAT = 2
_META_KEY = "__meta__"
# checkpoint_every_s=None: a checkpoint after every chunk while the time
# spent saving stays under this share of the run's elapsed time, else at
# most every max(AUTO_MIN_INTERVAL_S, AUTO_INTERVAL_FACTOR x the last save).
AUTO_SAVE_SHARE = 0.05
AUTO_MIN_INTERVAL_S = 2.0
AUTO_INTERVAL_FACTOR = 20
# max_hours: the estimate is made after this many chunks of the call.
ESTIMATE_AFTER_CHUNKS = 3

_RESTART = "pass restart=True (acajax sweep --restart) to delete it and start the sweep over"


class CheckpointError(ValueError):
  """A checkpoint that cannot be resumed: damaged, or of a different sweep.

  The message names the file and suggests ``restart=True`` (``--restart``).
  """


class ResultsError(ValueError):
  """A folder that :func:`read_results` cannot read as a finished sweep.

  Not a sweep's folder, an unfinished sweep, or files changed after it
  finished (checksums in ``meta.json``); the message names the folder and
  what to do.
  """


class SweepInterrupted(KeyboardInterrupt):
  """A sweep stopped by SIGINT or SIGTERM after saving its finished chunks.

  Attributes:
    signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``); a command
      line exits with ``128 + signum``.
    done: chunks finished (and kept in the checkpoint, if any).
    total: chunks in the sweep.
    checkpoint: the checkpoint's path, or None (no output folder: nothing
      was kept).
  """

  def __init__(self, message: str, *, signum: int, done: int, total: int,
               checkpoint: pathlib.Path | None):
    super().__init__(message)
    self.signum = signum
    self.done = done
    self.total = total
    self.checkpoint = checkpoint


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


def _fetch(result, copy: bool, gathered: bool):
  """This process's copy of a chunk's results.

  ``gathered`` results are replicated (one device's copy is read); the
  others are split over this process's devices and read whole. With
  ``copy`` (accelerators), the copies to the host start now and run while
  later chunks compute; reading them (``np.asarray``) waits only for what is
  not there yet. CPU arrays are read in place.
  """
  local = jax.tree.map(lambda v: v.addressable_data(0), result) if gathered else result
  if copy:
    for leaf in jax.tree.leaves(local):
      leaf.copy_to_host_async()
  return local


def _combine_chunk(acc, result, chunk: Chunk, plan: ChunkPlan, spec: SweepSpec) -> None:
  """Folds one chunk's results (from :func:`_fetch`) into the accumulator, in place.

  Results with a leading device axis (column parts of the chunk, not
  combined on the devices) are folded in device order: earlier devices hold
  earlier columns, so ties still go to the first point in grid order.
  """
  result = jax.tree.map(np.asarray, result)
  if plan.reduced and np.ndim(next(iter(result.values()))["found"]) == 2:
    for part in range(plan.num_devices):
      _combine_chunk(acc, jax.tree.map(lambda v: v[part], result), chunk, plan, spec)
    return
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
  data = _spec.finish_table(spec, data)     # derived parameters' columns, strategy names
  # copy=False: the columns are fresh arrays; pandas keeps them as they are
  # rather than copying them into one block (a tenth of a large sweep's time).
  return pd.DataFrame(data, columns=result_columns(spec), copy=False)


# -- checkpoints ---------------------------------------------------------------------


def _checksum(meta: Mapping, arrays: Mapping[str, np.ndarray]) -> str:
  """SHA-256 over the metadata (less its checksum) and each array (name, dtype, shape, bytes)."""
  digest = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "sha256"},
                                     sort_keys=True).encode())
  for key in sorted(arrays):
    array = np.ascontiguousarray(arrays[key])
    digest.update(f"\0{key}\0{array.dtype.str}\0{array.shape}\0".encode())
    digest.update(array.view(np.uint8).reshape(-1))
  return digest.hexdigest()


def _checkpoint_bytes(acc: Mapping[str, np.ndarray], done: int, fingerprint: str,
                      plan: ChunkPlan) -> bytes:
  """The checkpoint file's bytes (an ``.npz`` built in memory)."""
  meta = dict(format=CHECKPOINT_FORMAT, kind="sweep", done=int(done), fingerprint=fingerprint,
              plan=plan.signature())
  meta["sha256"] = _checksum(meta, acc)
  buffer = io.BytesIO()
  np.savez(buffer, **{_META_KEY: np.asarray(json.dumps(meta, sort_keys=True))}, **acc)
  return buffer.getvalue()


class _Damaged(Exception):
  """A checkpoint that cannot be used (the reason; wrapped in CheckpointError)."""


def _different_sweep(path: pathlib.Path) -> CheckpointError:
  return CheckpointError(
      f"{path} is the checkpoint of a different sweep (spec or chunking changed); "
      "write to another folder, or pass restart=True (--restart) to start over")


def _damaged(path: pathlib.Path, reason: str) -> CheckpointError:
  return CheckpointError(f"{path}: {reason}; the checkpoint cannot be resumed: {_RESTART}")


def _read_meta(data) -> dict:
  if _META_KEY not in data.files:
    raise _Damaged("no metadata (not a sweep checkpoint, or written by an older acajax)")
  raw = data[_META_KEY]
  if raw.dtype.kind != "U" or raw.shape != ():
    raise _Damaged("its metadata is not a JSON string")
  meta = json.loads(str(raw[()]))
  if not isinstance(meta, dict):
    raise _Damaged("its metadata is not a JSON object")
  if meta.get("format") != CHECKPOINT_FORMAT:
    raise _Damaged(f"format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT} (written by "
                   "another version of acajax?)")
  return meta


@contextlib.contextmanager
def _open_npz(path: pathlib.Path):
  """The checkpoint as an open ``NpzFile`` (never unpickling anything)."""
  with open(path, "rb") as f:
    head = f.read(6)
    if head.startswith(b"\x93NUMPY"):
      raise _Damaged("a single .npy array, not an .npz archive")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
      raise _Damaged("not an .npz archive (not a zip file)" if head else "an empty file")
    f.seek(0)
    with np.load(f, allow_pickle=False) as data:
      yield data


def _checkpoint_meta(path: pathlib.Path) -> dict | None:
  """A checkpoint's metadata, unverified (a quick look); None if it cannot be read."""
  try:
    with _open_npz(path) as data:
      return _read_meta(data)
  except Exception:  # noqa: BLE001 (any damage is reported by _load_checkpoint)
    return None


def _load_checkpoint(path: pathlib.Path, fingerprint: str, plan: ChunkPlan, acc,
                     *, discard_other: bool = False) -> int:
  """Loads a checkpoint into ``acc``; returns the number of finished chunks.

  Args:
    discard_other: a valid checkpoint of a different sweep counts as none
      (returns 0) instead of raising (``force``).

  Raises:
    CheckpointError: the file is not a checkpoint this sweep can resume:
      not an ``.npz`` archive (or truncated), missing or extra arrays,
      pickled (object) arrays, wrong shapes or dtypes, a checksum mismatch,
      a finished-chunk count outside ``[0, num_chunks]``, or another sweep's.
  """
  try:
    with _open_npz(path) as data:
      meta = _read_meta(data)
      if meta.get("fingerprint") != fingerprint or meta.get("plan") != plan.signature():
        if discard_other:
          return 0
        raise _different_sweep(path)
      names = set(data.files) - {_META_KEY}
      if names != set(acc):
        missing, extra = sorted(set(acc) - names), sorted(names - set(acc))
        raise _Damaged("its arrays do not match the sweep's"
                       + (f" (missing {', '.join(missing)})" if missing else "")
                       + (f" (unexpected {', '.join(extra)})" if extra else ""))
      loaded = {}
      for key, target in acc.items():
        array = data[key]
        if array.dtype != target.dtype or array.shape != target.shape:
          raise _Damaged(f"array {key!r} has dtype {array.dtype} and shape {array.shape}; "
                         f"expected {target.dtype} and {target.shape}")
        loaded[key] = array
      if meta.get("sha256") != _checksum(meta, loaded):
        raise _Damaged("checksum mismatch (the file was changed or damaged)")
      done = meta.get("done")
      if type(done) is not int or not 0 <= done <= plan.num_chunks:
        raise _Damaged(f"finished-chunk count {done!r} outside [0, {plan.num_chunks}]")
  except CheckpointError:
    raise
  except _Damaged as err:
    raise _damaged(path, str(err)) from None
  except OSError as err:
    raise _damaged(path, f"cannot be read ({err.strerror or err})") from None
  except Exception as err:  # noqa: BLE001 (zip, npy, JSON: any parse failure is damage)
    if "allow_pickle" in str(err):
      reason = "holds pickled (object) arrays, which are never loaded"
    else:
      reason = f"not a readable .npz archive ({str(err) or type(err).__name__})"
    raise _damaged(path, reason) from None
  for key, array in loaded.items():
    acc[key][...] = array
  return done


class _Checkpoints:
  """When and how the running results are saved (process 0, with an output folder).

  ``every_s`` None: after every chunk while the seconds spent saving stay
  under ``AUTO_SAVE_SHARE`` of the seconds since ``start``; past that, at
  most every ``max(AUTO_MIN_INTERVAL_S, AUTO_INTERVAL_FACTOR * last save)``.
  A number: at least that many seconds apart (0: every chunk).
  """

  def __init__(self, path: pathlib.Path, fingerprint: str, plan: ChunkPlan,
               every_s: float | None, start: float, saved_done: int | None = None):
    self.path, self.fingerprint, self.plan = path, fingerprint, plan
    self.every_s, self.start = every_s, start
    self.saved_done = saved_done
    self.count = 0
    self.seconds = 0.0
    self.last_cost = 0.0
    self.last_at = start

  def due(self, now: float) -> bool:
    if self.every_s is not None:
      return now - self.last_at >= self.every_s
    if self.seconds + self.last_cost <= AUTO_SAVE_SHARE * (now - self.start):
      return True
    return now - self.last_at >= max(AUTO_MIN_INTERVAL_S, AUTO_INTERVAL_FACTOR * self.last_cost)

  def save(self, acc, done: int) -> None:
    if done == self.saved_done:
      return
    begin = time.perf_counter()
    _io.atomic_write_bytes(self.path, _checkpoint_bytes(acc, done, self.fingerprint, self.plan))
    self.last_at = time.perf_counter()
    self.last_cost = self.last_at - begin
    self.seconds += self.last_cost
    self.count += 1
    self.saved_done = done

  def save_quietly(self, acc, done: int) -> None:
    """Saves while another exception propagates; a failure here must not hide it."""
    with contextlib.suppress(Exception):
      self.save(acc, done)


# -- interrupts ------------------------------------------------------------------------


class _Signals:
  """SIGINT and SIGTERM set a flag while the sweep runs (main thread only).

  The loop checks :attr:`received` between chunks. A second SIGINT raises
  ``KeyboardInterrupt`` at once (every file is written atomically, so none
  is left half-written). Signals ignored by the parent process stay ignored;
  the previous handlers come back on exit.
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self, enabled: bool = True):
    self.enabled = enabled and threading.current_thread() is threading.main_thread()
    self.received: int | None = None
    self._previous: dict[int, object] = {}

  def _handle(self, signum, frame) -> None:
    if self.received is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = signum

  def __enter__(self) -> _Signals:
    if self.enabled:
      for signum in self.SIGNALS:
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN:
          continue
        with contextlib.suppress(ValueError, OSError):
          signal.signal(signum, self._handle)
          self._previous[signum] = previous
    return self

  def __exit__(self, *exc) -> None:
    for signum, previous in self._previous.items():
      signal.signal(signum, signal.SIG_DFL if previous is None else previous)
    self._previous.clear()


# -- the output folder -------------------------------------------------------------------


def _folder_kind(out: pathlib.Path) -> str | None:
  """The ``kind`` recorded in the folder's meta.json (None if none or unreadable)."""
  try:
    meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
  except (OSError, ValueError):
    return None
  return meta.get("kind") if isinstance(meta, dict) else None


def _clear(out: pathlib.Path) -> None:
  """Deletes a sweep's files from ``out``: meta.json first, so the folder reads as unfinished."""
  for name in (META_FILE, RESULTS_CSV, RESULTS_PARQUET, SPEC_FILE, CHECKPOINT):
    (out / name).unlink(missing_ok=True)
  for pattern in FIGURE_GLOBS:
    for path in out.glob(pattern):
      if path.is_file():
        path.unlink()


def _remove_stale_temporaries(out: pathlib.Path) -> None:
  """Temporary files of this folder's writes left by a killed run (we hold the lock)."""
  names = (META_FILE, RESULTS_CSV, RESULTS_PARQUET, SPEC_FILE, CHECKPOINT)
  for path in out.glob("*.tmp"):
    name = path.name
    if (name in {f"{n}.tmp" for n in names}                # earlier versions of acajax
        or any(name.startswith(f".{n}.") for n in names)    # _io.atomic_write_bytes
        or (name.startswith(".") and ".png." in name)):
      with contextlib.suppress(OSError):
        path.unlink()


def _open_folder(out_dir, fingerprint: str, plan: ChunkPlan, *, restart: bool, force: bool,
                 stack: contextlib.ExitStack) -> pathlib.Path:
  """Checks the folder, takes its lock (held by ``stack``) and clears it on ``restart``."""
  path = pathlib.Path(out_dir)
  checkpoint = path / CHECKPOINT
  if not (restart or force) and checkpoint.is_file():
    # A checkpoint of another sweep is named as such (it suggests --restart)
    # before the generic "another run's results" (which suggests --force).
    meta = _checkpoint_meta(checkpoint)
    if meta is not None and (meta.get("fingerprint"), meta.get("plan")) != (
        fingerprint, plan.signature()):
      raise _different_sweep(checkpoint)
  # restart writes over a sweep's files, never over another command's.
  other_kind = _folder_kind(path) not in (None, "sweep")
  out = _io.prepare_output(out_dir, flag=FLAG, kind="sweep", results=RESULT_FILES,
                           identity={"fingerprint": fingerprint},
                           force=force or (restart and not other_kind))
  stack.enter_context(_io.FolderLock(out, FLAG))
  if restart:
    _clear(out)
  _remove_stale_temporaries(out)
  return out


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


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
    compile_s: seconds spent compiling the chunk function (once per device
      on host devices; about 0 when this process ran the same sweep before:
      the executables are reused).
    kernel_traces: times the chunk function was traced (1 per device that
      runs chunks of its own, else 1: compiled once; 0 when a finished sweep
      had nothing left to run).
    num_devices: devices the sweep ran on (host devices of one process each
      run whole chunks, so ``plan.num_devices`` is 1 there, and no more of
      them than there were chunks to run).
  """
  table: pd.DataFrame
  spec: SweepSpec
  plan: ChunkPlan
  out_dir: pathlib.Path | None
  chunks_run: int
  wall_s: float
  compile_s: float
  kernel_traces: int
  num_devices: int = 1


def _global_replicated(mesh: Mesh, array: np.ndarray) -> jax.Array:
  """A host array replicated on every device of the mesh (all processes)."""
  sharding = NamedSharding(mesh, PartitionSpec())
  return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def run(spec: SweepSpec | str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
        devices=None, progress: bool | None = None, restart: bool = False, force: bool = False,
        checkpoint_every_s: float | None = None, file_format: str = "csv",
        on_chunk: Callable[[int], None] | None = None,
        max_hours: float | None = None) -> SweepResult:
  """Evaluates a sweep, chunk by chunk, on every device.

  With ``out_dir``, process 0 checks the folder before compiling anything
  (:func:`acajax.runs._io.prepare_output`) and holds its lock for the whole
  run; running the same spec into the same folder continues from its
  checkpoint. SIGINT and SIGTERM (in the main thread of a one-process run)
  stop the sweep after the chunks in flight: their results are saved and
  :class:`SweepInterrupted` is raised (a signal after the last chunk lets
  the results be written; a second SIGINT stops at once, as
  ``KeyboardInterrupt``).

  Args:
    spec: a :class:`SweepSpec`, or the path of a TOML spec.
    out_dir: folder for ``results.csv`` (or ``.parquet``), ``spec.toml``,
      ``meta.json`` and ``checkpoint.npz``; None keeps everything in memory
      (no resumption). Only process 0 writes.
    devices: the devices to shard over (default ``jax.devices()``: every
      device of every process).
    progress: show a tqdm bar: True, False, or None (default) for a bar that
      appears only if the sweep runs longer than two seconds.
    restart: first delete the folder's checkpoint, results, ``meta.json``,
      ``spec.toml`` and figures (a sweep's files only), then start over.
    force: write into a folder holding another run's results (a checkpoint
      of another sweep there is then ignored and replaced).
    checkpoint_every_s: None (default) saves after every chunk while saving
      costs under ~5% of the run, else every few seconds; a number: seconds
      between checkpoints (0: after every chunk). A checkpoint is also
      written when the sweep finishes, fails or is interrupted.
    file_format: ``"csv"`` or ``"parquet"`` (needs pyarrow).
    on_chunk: called with the number of finished chunks after each one (and
      after its checkpoint, if one was due).
    max_hours: refuse a sweep whose remaining time exceeds this many hours
      (default: the spec's ``run.max_hours``): estimated before anything is
      written or compiled (:func:`~acajax.sweep.estimated_seconds`), then
      measured over the first chunks run.

  Returns:
    A :class:`SweepResult`.

  Raises:
    SpecError: an invalid spec (before anything is compiled), or a sweep
      estimated to take longer than ``max_hours`` (when measured, its
      finished chunks are kept in the checkpoint).
    OutputError: ``out_dir`` cannot take the results (a file, not writable,
      another run's results without ``force``, or another run writing there
      now).
    CheckpointError: a damaged checkpoint in ``out_dir``, or one of a
      different sweep (spec or chunking changed); both suggest ``restart``.
    SweepInterrupted: SIGINT or SIGTERM; the finished chunks are kept.
    ValueError: a bad ``file_format``, ``checkpoint_every_s`` or
      ``max_hours``.

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
  if checkpoint_every_s is not None and not (checkpoint_every_s >= 0):
    raise ValueError(f"checkpoint_every_s must be None or >= 0; got {checkpoint_every_s!r}")
  limit_hours = max_hours if max_hours is not None else getattr(spec, "max_hours", None)
  if limit_hours is not None and not (limit_hours > 0):
    raise ValueError(f"max_hours must be positive; got {limit_hours!r}")
  devices = list(jax.devices() if devices is None else devices)
  accelerator = _accelerator_layout(devices)
  writer = jax.process_index() == 0
  several = jax.process_count() > 1
  # Host devices of one process run whole chunks each, in turn: a program
  # over several host devices makes them wait on each other (measured in
  # benchmarks/README.md), separate programs run side by side. Elsewhere every
  # chunk is split over all the devices.
  per_device = not accelerator and not several and len(devices) > 1
  plan = make_plan(spec, 1 if per_device else len(devices), accelerator=accelerator)
  fingerprint = spec.fingerprint()
  if limit_hours is not None:
    # Every process must decide alike: with several, none looks at the checkpoint.
    _check_estimate(spec, plan, len(devices), limit_hours,
                    None if restart or out_dir is None or several
                    else pathlib.Path(out_dir) / CHECKPOINT, fingerprint)

  with contextlib.ExitStack() as stack:
    signals = stack.enter_context(_Signals(enabled=not several))
    acc = _empty_accumulator(spec, plan)
    done = 0
    saver = None
    out = None if out_dir is None else pathlib.Path(out_dir)
    if writer and out_dir is not None:
      try:
        out = _open_folder(out_dir, fingerprint, plan, restart=restart, force=force, stack=stack)
        checkpoint = out / CHECKPOINT
        loaded = None
        if checkpoint.exists():
          done = loaded = _load_checkpoint(checkpoint, fingerprint, plan, acc,
                                           discard_other=force)
        saver = _Checkpoints(checkpoint, fingerprint, plan, checkpoint_every_s, start_time,
                             saved_done=loaded or None)
        # Marks the folder as this sweep's (resumable) before any result is written.
        _io.atomic_write_json(out / META_FILE, dict(
            kind="sweep", status="running", name=spec.name, fingerprint=fingerprint,
            started=_now(), chunks_done=done, num_chunks=plan.num_chunks,
            versions=versions("pandas", "matplotlib"), argv=sys.argv))
        _io.atomic_write_text(out / SPEC_FILE, spec.to_toml())
      except Exception:
        if several:   # the other processes wait for process 0's answer
          multihost_utils.broadcast_one_to_all(np.int64(-1))
        raise
    if several:
      done = int(multihost_utils.broadcast_one_to_all(np.int64(done)))
      if done < 0:
        raise _io.OutputError(f"{FLAG} {out}: process 0 could not open the output folder or "
                              "its checkpoint; see its error message")

    # Per device: only as many devices as there are chunks left (each compiles).
    running_on = (devices[:max(1, min(len(devices), plan.num_chunks - done))] if per_device
                  else devices)
    meshes = ([Mesh(np.asarray([d]), (MESH_AXIS,)) for d in running_on] if per_device
              else [Mesh(np.asarray(devices), (MESH_AXIS,))])
    axis_values = [tuple(_global_replicated(mesh, axis.to_numpy().astype(spec.dtype))
                         for axis in spec.axes.values()) for mesh in meshes]

    def control(chunk: Chunk, mesh: Mesh) -> jax.Array:
      starts = (_digits(chunk.row_start, plan.kept_sizes)
                + _digits(chunk.col_start, plan.reduced_sizes))
      return _global_replicated(mesh, np.asarray(starts + [chunk.rows_valid, chunk.cols_valid],
                                                 np.int32))

    # Compile once per mesh, ahead of the loop (every chunk has the same
    # shapes); a finished sweep compiles nothing, and the same sweep again in
    # this process reuses the executables.
    compile_start = time.perf_counter()
    kernels, executables = [], []
    for mesh, values in zip(meshes, axis_values):
      key = (fingerprint, plan, tuple(d.id for d in mesh.devices.flat), jax.process_count())
      if key in _COMPILED:
        kernel, compiled = _COMPILED[key]
      elif done < plan.num_chunks:
        kernel = _build_kernel(spec, plan, mesh, gather=several)
        compiled = kernel.fn.lower(values, control(plan.chunk(done), mesh)).compile()
        _COMPILED[key] = (kernel, compiled)
        while len(_COMPILED) > max(8, 2 * len(meshes)):
          _COMPILED.pop(next(iter(_COMPILED)))
      else:
        kernel, compiled = _Kernel(None, []), None
      kernels.append(kernel)
      executables.append(compiled)
    compile_s = time.perf_counter() - compile_start

    bar = _progress_bar(spec, plan, done, progress, enabled=writer)
    chunks_run = 0
    remaining = plan.num_chunks - done
    loop_start = time.perf_counter()
    folded = 0

    def finish(chunk: Chunk, result) -> None:
      nonlocal done, folded
      _combine_chunk(acc, result, chunk, plan, spec)
      done = chunk.index + 1
      folded += 1
      if bar is not None:
        bar.update(chunk.rows_valid * chunk.cols_valid)
      now = time.perf_counter()
      if saver is not None and done < plan.num_chunks and saver.due(now):
        saver.save(acc, done)
      if (limit_hours is not None and not several and folded == ESTIMATE_AFTER_CHUNKS
          and remaining > ESTIMATE_AFTER_CHUNKS):   # (processes would time chunks apart)
        _check_time(spec, len(devices), (now - loop_start) / folded, remaining, limit_hours,
                    None if saver is None else saver.path)
      if on_chunk is not None:
        on_chunk(done)

    try:
      # Chunks launched ahead (their results copying to the host) while the
      # oldest is folded in on the host.
      # Per-device chunks go to the devices in turn, one in flight on each.
      in_flight = IN_FLIGHT if accelerator else len(meshes)
      pending = collections.deque()
      for index in range(done, plan.num_chunks):
        if signals.received is not None:
          break
        chunk = plan.chunk(index)
        slot = index % len(meshes)
        launched = executables[slot](axis_values[slot], control(chunk, meshes[slot]))
        pending.append((chunk, _fetch(launched, accelerator, gathered=several)))
        chunks_run += 1
        if len(pending) > in_flight:
          finish(*pending.popleft())
      while pending:
        finish(*pending.popleft())
    except BaseException:
      if saver is not None:
        saver.save_quietly(acc, done)
      raise
    finally:
      if bar is not None:
        bar.close()
    if saver is not None:
      saver.save(acc, done)
    if done < plan.num_chunks:   # stopped by a signal
      name = signal.Signals(signals.received).name
      if saver is None:
        kept = "nothing was kept (no output folder)"
      elif done == 0:
        kept = "none had finished: run the same command again to start"
      else:
        kept = f"they are kept in {saver.path}: run the same command again to continue"
      raise SweepInterrupted(f"interrupted ({name}) after {done} of {plan.num_chunks} chunks; "
                             f"{kept}", signum=signals.received, done=done,
                             total=plan.num_chunks,
                             checkpoint=None if saver is None else saver.path)

    table = _table(spec, plan, acc)
    wall = time.perf_counter() - start_time
    if writer and out is not None:
      _write_results(out, table, spec, plan, devices, file_format, dict(
          chunks_run=chunks_run, compile_s=round(compile_s, 3), wall_s=round(wall, 3),
          checkpoints=dict(saved=saver.count, seconds=round(saver.seconds, 3))))
  return SweepResult(table, spec, plan, out, chunks_run, wall, compile_s,
                     sum(len(kernel.traces) for kernel in kernels), len(running_on))


def _check_estimate(spec: SweepSpec, plan: ChunkPlan, num_devices: int, limit_hours: float,
                    checkpoint: pathlib.Path | None, fingerprint: str) -> None:
  """Refuses, before anything is written or compiled, a sweep whose estimated
  remaining time (:func:`~acajax.sweep.estimated_seconds`, less the share a
  checkpoint of this sweep already holds) exceeds ``limit_hours``."""
  seconds = _spec.estimated_seconds(spec, num_devices)
  done = 0
  meta = None if checkpoint is None or not checkpoint.is_file() else _checkpoint_meta(checkpoint)
  if meta is not None and meta.get("fingerprint") == fingerprint and meta.get(
      "plan") == plan.signature() and type(meta.get("done")) is int:
    done = min(max(meta["done"], 0), plan.num_chunks)
  left = 1 - plan.points_done(done) / spec.num_points
  hours = seconds * left / 3600
  if hours <= limit_hours:
    return
  kept = f" ({left:.0%} of it left to run)" if done else ""
  raise SpecError(
      f"{spec.source}: run.max_hours: this sweep is estimated to take about {hours:.3g} hours"
      f"{kept} on {num_devices} device(s) ({spec.num_points:,} points; "
      f"acajax.sweep.estimated_seconds, which errs long on fast hardware), over the limit of "
      f"{limit_hours:g} hours; raise run.max_hours (acajax sweep --max-hours), use more "
      "devices, or make the grid smaller")


def _check_time(spec: SweepSpec, num_devices: int, per_chunk_s: float, remaining: int,
                limit_hours: float, checkpoint: pathlib.Path | None) -> None:
  """Refuses a sweep whose remaining chunks would take more than ``limit_hours``."""
  hours = per_chunk_s * remaining / 3600
  if hours <= limit_hours:
    return
  kept = (f"; the chunks finished so far are kept in {checkpoint}" if checkpoint is not None
          else "")
  raise SpecError(
      f"{spec.source}: run.max_hours: this sweep would take about {hours:.3g} hours "
      f"({remaining} chunks at {per_chunk_s:.3g} s each, measured over the first "
      f"{ESTIMATE_AFTER_CHUNKS}, on {num_devices} device(s)), over the limit of "
      f"{limit_hours:g} hours; raise run.max_hours (acajax sweep --max-hours), use more "
      f"devices, or make the grid smaller{kept}")


def _write_results(out: pathlib.Path, table: pd.DataFrame, spec: SweepSpec, plan: ChunkPlan,
                   devices, file_format: str, timings: dict) -> None:
  """Writes the results and spec.toml, then meta.json (with their checksums) last."""
  name = RESULTS_CSV if file_format == "csv" else RESULTS_PARQUET
  if file_format == "csv":
    data = table.to_csv(index=False).encode("utf-8")
  else:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    data = buffer.getvalue()
  spec_text = spec.to_toml().encode("utf-8")
  _io.atomic_write_bytes(out / name, data)
  _io.atomic_write_bytes(out / SPEC_FILE, spec_text)
  (out / (RESULTS_PARQUET if name == RESULTS_CSV else RESULTS_CSV)).unlink(missing_ok=True)
  meta = dict(
      kind="sweep", status="finished", name=spec.name, fingerprint=spec.fingerprint(),
      results=name, sha256={name: _sha256(data), SPEC_FILE: _sha256(spec_text)},
      finished=_now(), versions=versions("pandas", "matplotlib"), backend=jax.default_backend(),
      devices=[str(d) for d in devices], process_count=jax.process_count(),
      dtype=spec.dtype, grid_shape=dict(zip(spec.axes, spec.shape)),
      num_points=spec.num_points, rows=len(table),
      plan=dict(plan.signature(), num_devices=plan.num_devices, shard_dim=plan.shard_dim,
                padded_rows=plan.padded_rows, padded_cols=plan.padded_cols,
                peak_chunk_bytes=plan.peak_chunk_bytes),
      **timings, argv=sys.argv)
  _io.atomic_write_json(out / META_FILE, meta)


def _progress_bar(spec, plan, done, progress, *, enabled):
  if progress is False or not enabled:
    return None
  return tqdm(total=spec.num_points, initial=plan.points_done(done),
              unit="pt", unit_scale=True, desc=spec.name, delay=0 if progress else 2.0,
              file=sys.stderr, leave=bool(progress))


# -- reading results back ---------------------------------------------------------------


def _unreadable(out: pathlib.Path, what: str) -> ResultsError:
  return ResultsError(f"{out}: {what}")


def read_results(out_dir: str | os.PathLike) -> tuple[SweepSpec, pd.DataFrame]:
  """Reads a finished sweep folder back: its spec and its result table.

  The folder's ``meta.json`` must say the sweep finished, and the results
  file and ``spec.toml`` must still have the checksums it records.

  Raises:
    ResultsError: the folder is not a sweep's output folder, the sweep has
      not finished (run it again to continue), or its files were changed
      since (run it again with ``restart``); the message names the folder.
  """
  out = pathlib.Path(out_dir)
  if not out.is_dir():
    raise _unreadable(out, "is a file, not a sweep's output folder" if out.exists()
                      else "no such folder; name the output folder (--out) of a sweep")
  meta_path = out / META_FILE
  if not meta_path.exists():
    if (out / SPEC_FILE).exists() or (out / CHECKPOINT).exists():
      raise _unreadable(out, "the sweep there has not finished (no meta.json); run the same "
                        "acajax sweep command again to finish it")
    raise _unreadable(out, "not the output folder of a sweep (no meta.json, no spec.toml); "
                      "name the folder given to acajax sweep --out")
  try:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
  except (OSError, ValueError) as err:
    raise _unreadable(out, f"meta.json cannot be read ({err}); run the sweep again with "
                      "--restart to rewrite the folder") from None
  if not isinstance(meta, dict):
    raise _unreadable(out, "meta.json is not a JSON object; run the sweep again with --restart")
  kind = meta.get("kind")
  if kind is None and "fingerprint" in meta:
    raise _unreadable(out, "written by an older acajax (its meta.json has no status or "
                      "checksums); run the sweep again with --restart to rewrite it")
  if kind != "sweep":
    raise _unreadable(out, f"holds the results of {'a ' + repr(kind) if kind else 'another'} "
                      "run, not of a sweep; name the folder given to acajax sweep --out")
  if meta.get("status") != "finished":
    raise _unreadable(out, f"the sweep there has not finished (meta.json: status "
                      f"{meta.get('status')!r}); run the same acajax sweep command again to "
                      "continue it")
  name = meta.get("results")
  sums = meta.get("sha256")
  if name not in (RESULTS_CSV, RESULTS_PARQUET) or not isinstance(sums, dict):
    raise _unreadable(out, "meta.json does not name the results file and its checksum; run "
                      "the sweep again with --restart")
  blobs = {}
  for file in (name, SPEC_FILE):
    try:
      blobs[file] = (out / file).read_bytes()
    except OSError as err:
      raise _unreadable(out, f"{file} cannot be read ({err.strerror or err}), though "
                        "meta.json records it; run the sweep again with --restart") from None
    if _sha256(blobs[file]) != sums.get(file):
      raise _unreadable(out, f"{file} was changed after the sweep finished (its SHA-256 "
                        "differs from meta.json's); run the sweep again with --restart to "
                        "regenerate the folder")
  try:
    spec = _spec.loads(blobs[SPEC_FILE].decode("utf-8"), source=str(out / SPEC_FILE))
  except (SpecError, UnicodeDecodeError) as err:
    raise _unreadable(out, f"its spec.toml is not a valid sweep spec ({err})") from None
  try:
    if name == RESULTS_PARQUET:
      table = pd.read_parquet(io.BytesIO(blobs[name]))
    else:
      table = pd.read_csv(io.BytesIO(blobs[name]))
  except ImportError:
    raise _unreadable(out, f"reading {name} needs pyarrow (pip install pyarrow)") from None
  except Exception as err:  # noqa: BLE001 (a parser's error: the file is not a table)
    raise _unreadable(out, f"{name} is not a readable table ({err})") from None
  missing = [c for c in result_columns(spec) if c not in table.columns]
  if missing:
    raise _unreadable(out, f"{name} lacks the columns of its spec ({', '.join(missing[:5])}"
                      f"{', ...' if len(missing) > 5 else ''}); run the sweep again with "
                      "--restart")
  return spec, table
