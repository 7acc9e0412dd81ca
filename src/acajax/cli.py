"""The ``acajax`` command line.

Subcommands:

* ``acajax demo [--out DIR]`` — the README's main job: a two-collective
  report (table and figure) written into DIR.
* ``acajax sweep SPEC.toml --out DIR`` — evaluate a sweep spec over its grid
  (chunked, on every device, resumable); on several hosts add
  ``--coordinator HOST:PORT --num-processes N --process-id I``.
* ``acajax plot DIR`` — the figures that suit a finished sweep.
* ``acajax validate SPEC.toml --out DIR`` — flax learners trained on planted
  data: measured success beside the bounds (:mod:`acajax.runs.validate`);
  a spec with ``kind = "recommender"`` at the top level runs promoting and
  demoting collectives on a matrix-factorisation recommender instead
  (:mod:`acajax.runs.recommender`).
* ``acajax finite-sample DATA.csv --signal "col3=2,col7=0" --target 1`` — the
  finite-sample bound (SPEC §9) of a collective holding the first n lines of
  a categorical CSV, against n (table; figure with ``--out``).
* ``acajax bench [--quick] [--only NAMES] [--out PATH]`` — the benchmark
  suite (:mod:`acajax.bench`, installed with the package): JSON per device,
  a summary and its plots; into ``benchmarks/results/`` and
  ``benchmarks/README.md`` in a source checkout, else ``./acajax-bench/``
  or ``--out``. ``--only`` merges into the result file already there.

Every command checks its flags, its input files and its output folder
(:func:`acajax.runs._io.prepare_output`: a folder, writable, not holding
another run's results unless ``--force``) before it loads data or trains
anything. Errors are one paragraph on stderr, ``acajax COMMAND: error:
MESSAGE``, never a traceback; ``acajax --debug COMMAND ...`` (or the
environment variable ``ACAJAX_DEBUG=1``) shows the traceback instead.

Exit status:

* 0 — done.
* 1 — a failure while running: a file that cannot be written or read
  mid-run (disk full, permission denied; the message names the file), a
  benchmark that failed, or an internal error (rerun with ``--debug`` for the
  traceback, and report it).
* 2 — bad input, refused before any work: a flag value or usage error, a
  spec, CSV, corpus or ratings file that cannot be used, an output path that
  cannot take the results, a corrupt or mismatched checkpoint.
* 128 + N — interrupted by signal N: 130 for Ctrl-C (SIGINT), 143 for
  SIGTERM (an interrupted sweep keeps its finished chunks; run it again to
  continue).
"""

from __future__ import annotations

import argparse
import codecs
import errno
import importlib.util
import json
import math
import os
import pathlib
import signal
import socket
import sys
import time

from acajax._version import __version__, versions
from acajax.runs import _io
from acajax.runs import _spec as spec_io
from acajax.runs._spec import UsageError

__all__ = ["main"]

INT64_MAX = 2**63 - 1
DEBUG_ENV = "ACAJAX_DEBUG"

EXIT_CODES = """\
exit status:
  0        done
  1        a failure while running: a file that cannot be written or read
           mid-run (disk full, permission denied), a benchmark that failed,
           or an internal error (rerun with --debug and report it)
  2        bad input, refused before any work: a flag value, a spec, CSV,
           corpus or ratings file, an output path that cannot take the
           results (another run's results there need --force), a corrupt or
           mismatched checkpoint
  128+N    interrupted by signal N (130: Ctrl-C, 143: SIGTERM)

Errors are one paragraph on stderr: "acajax COMMAND: error: MESSAGE".
--debug (or ACAJAX_DEBUG=1) shows the traceback instead."""

# Exceptions that mean bad input (exit status 2), by the module that defines
# them. They are looked up only in modules already imported (a module that
# was never imported raised nothing), so the CLI starts without JAX.
_BAD_INPUT = {
    "acajax.runs._spec": ("SpecError", "UsageError"),
    "acajax.runs._io": ("OutputError",),
    "acajax.runs.finite_sample": ("DataError",),
    "acajax.datasets": ("CorpusError",),
    "acajax.ratings": ("RatingsError",),
    "acajax.planting": ("PlantingError",),
    "acajax.rating_collectives": ("CollectiveError",),
    "acajax.sweep": ("CheckpointError", "ResultsError"),
    "acajax.sweep._driver": ("CheckpointError", "ResultsError"),
}


class _RunFailure(Exception):
  """A failure while running whose message says all (exit status 1, no 'internal error')."""


# -- flag values -----------------------------------------------------------------------


def _whole(low: int, high: int = INT64_MAX):
  """An argparse ``type``: a whole number in [low, high]."""
  def parse(text: str) -> int:
    try:
      value = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
    if value < low:
      raise argparse.ArgumentTypeError(f"must be >= {low}; got {value}")
    if value > high:
      raise argparse.ArgumentTypeError(f"must be <= {high}; got {value}")
    return value
  parse.__name__ = "whole number"
  return parse


def _positive_hours(text: str) -> float:
  """An argparse ``type``: a number of hours > 0 (``inf``: no limit)."""
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"must be a number of hours; got {text!r}") from None
  if math.isnan(value) or value <= 0:
    raise argparse.ArgumentTypeError(f"must be > 0 (inf: no limit); got {text!r}")
  return value


def _address(text: str) -> tuple[str, int]:
  """An argparse ``type``: ``HOST:PORT`` with a port in 1..65535 (``[::1]:PORT`` for IPv6)."""
  host, sep, port = text.rpartition(":")
  host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
  if not sep or not host or not port.isdigit():
    raise argparse.ArgumentTypeError(f"must be HOST:PORT (e.g. 10.0.0.1:1234); got {text!r}")
  if not 1 <= int(port) <= 65535:
    raise argparse.ArgumentTypeError(f"the port must lie in 1..65535; got {port}")
  return host, int(port)


def _join(host: str, port: int) -> str:
  """``HOST:PORT`` again (``[HOST]:PORT`` for an IPv6 address)."""
  return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _float_flag(flag: str, value: float | None, low: float, high: float, *, closed_low: bool,
                domain: str) -> None:
  """Refuses ``value`` outside [low, high) or (low, high) (NaN included)."""
  if value is None:
    return
  inside = (low <= value if closed_low else low < value) and value < high
  if not inside:
    raise UsageError(f"{flag} must lie in {domain}; got {value}")


def _sizes(text: str | None) -> list[int] | None:
  """``--n``: comma-separated positive integers that fit int64."""
  if text is None:
    return None
  sizes = []
  for item in (v.strip() for v in text.split(",")):
    if not item:
      continue
    try:
      value = int(item)
    except ValueError:
      raise UsageError(f"--n must be comma-separated positive integers; got {text!r} "
                       f"({item!r} is not an integer)") from None
    if value < 1:
      raise UsageError(f"--n: collective sizes must be positive integers; got {value}")
    if value > INT64_MAX:
      raise UsageError(f"--n: {value} does not fit a 64-bit integer (at most {INT64_MAX}); "
                       "a collective size is at most the number of data lines")
    sizes.append(value)
  if not sizes:
    raise UsageError(f"--n must be comma-separated positive integers; got {text!r}")
  return sizes


def _check_multiprocess(args: argparse.Namespace) -> None:
  """``--coordinator``, ``--num-processes``, ``--process-id``: together, consistent, resolvable."""
  given = (args.coordinator, args.num_processes, args.process_id)
  if all(v is None for v in given):
    return
  if any(v is None for v in given):
    raise UsageError("--coordinator, --num-processes and --process-id go together")
  if args.process_id >= args.num_processes:
    raise UsageError(f"--process-id must lie in 0..{args.num_processes - 1} "
                     f"(--num-processes {args.num_processes}); got {args.process_id}")
  host, port = args.coordinator
  try:
    socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
  except (socket.gaierror, UnicodeError) as err:
    reason = getattr(err, "strerror", None) or str(err)
    raise UsageError(f"--coordinator {_join(host, port)}: cannot resolve the host {host!r} "
                     f"({reason})") from None


# -- input files and output folders --------------------------------------------------------


def _check_text_file(path: str, error: type[Exception], what: str) -> None:
  """Refuses a missing, unreadable, non-UTF-8 or binary input file, naming it."""
  file = pathlib.Path(path)
  if file.is_dir():
    raise error(f"{file}: is a folder, not a {what}")
  try:
    handle = file.open("rb")
  except FileNotFoundError:
    raise error(f"{file}: no such file") from None
  except OSError as err:
    raise error(f"{file}: cannot read the file ({err.strerror})") from None
  decoder = codecs.getincrementaldecoder("utf-8")()
  offset = 0
  with handle:
    while chunk := handle.read(1 << 20):
      nul = chunk.find(b"\0")
      pending = len(decoder.getstate()[0])
      try:
        decoder.decode(chunk if nul < 0 else chunk[:nul])
      except UnicodeDecodeError as err:
        raise error(f"{file}: not a UTF-8 text file (byte {offset - pending + err.start}); "
                    f"a {what} is text") from None
      if nul >= 0:
        raise error(f"{file}: holds NUL bytes (byte {offset + nul}); a {what} is text")
      offset += len(chunk)
    try:
      decoder.decode(b"", final=True)
    except UnicodeDecodeError:
      raise error(f"{file}: not a UTF-8 text file (it ends inside a character); a {what} is "
                  "text") from None


def _output(path: str, *, kind: str, results=(), identity=None, force: bool = False,
            flag: str = "--out") -> pathlib.Path:
  """:func:`acajax.runs._io.prepare_output` for a command's output folder."""
  return _io.prepare_output(path, flag=flag, kind=kind, results=results, identity=identity,
                            force=force)


def _record_run(out: pathlib.Path, kind: str, identity: dict, args: argparse.Namespace) -> None:
  """Writes ``meta.json`` (kind, identity, versions, argv) into ``out``, atomically.

  A ``meta.json`` that the library wrote during this command (for the same
  kind of run) is kept and completed; an older one is replaced.
  """
  path = out / _io.RUN_FILE
  meta = {}
  try:
    existing = json.loads(path.read_text(encoding="utf-8"))
    fresh = path.stat().st_mtime >= args.started
  except (OSError, ValueError):
    existing, fresh = None, False
  if fresh and isinstance(existing, dict) and existing.get("kind") in (None, kind):
    meta = existing
  meta.update(kind=kind, **identity)
  meta["versions"] = {**meta.get("versions", {}), **versions()}
  meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
  meta["argv"] = args.argv
  _io.atomic_write_json(path, meta)


# -- subcommands --------------------------------------------------------------------------------

DEMO_FILES = ("bounds.csv", "report.md", "bounds_vs_mass.png", "sweep_s_min.png", _io.RUN_FILE)


def _demo(args: argparse.Namespace) -> int:
  _output(args.out, kind="demo", results=DEMO_FILES, force=args.force)
  from acajax.runs import demo  # deferred: the CLI starts instantly; JAX loads per subcommand
  demo.main(args.out, force=args.force, argv=args.argv)
  return 0


def _split_cpu(count: int | None) -> None:
  """Exposes the host CPU as ``count`` JAX devices (default: one per core).

  A sweep runs its chunks on every device, and ``learners.train_many``
  splits its models over them; on CPU, JAX shows one device unless
  XLA_FLAGS says otherwise. Has no effect when XLA_FLAGS already sets
  the count, or once JAX's CPU backend has started (in-process callers).
  """
  if count is None:
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  flags = os.environ.get("XLA_FLAGS", "")
  if count and count > 1 and "xla_force_host_platform_device_count" not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def _sweep(args: argparse.Namespace) -> int:
  _check_multiprocess(args)
  if args.format == "parquet" and importlib.util.find_spec("pyarrow") is None:
    raise UsageError("--format parquet needs pyarrow (pip install pyarrow); or use --format csv")
  from acajax.sweep import _spec as sweep_spec  # deferred: JAX starts after --cpu-devices is set

  spec = sweep_spec.load(args.spec)                  # the file and every value, nothing compiled
  if args.chunk_points is not None:
    try:
      spec = spec.replace(chunk_points=args.chunk_points).validated()
    except sweep_spec.SpecError as err:
      raise UsageError(f"--chunk-points {args.chunk_points}: {err}") from None
  if args.process_id in (None, 0):                   # only process 0 writes
    _output(args.out, kind="sweep", force=args.force)
  _split_cpu(args.cpu_devices)
  import jax  # deferred: XLA reads the device count (_split_cpu) when JAX starts

  if spec.dtype == "float64":
    jax.config.update("jax_enable_x64", True)
  if args.coordinator is not None:
    host, port = args.coordinator
    # Collectives between CPU processes need gloo; GPU and TPU use their own.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
      jax.distributed.initialize(coordinator_address=_join(host, port),
                                 num_processes=args.num_processes, process_id=args.process_id)
    except Exception as err:    # jax raises RuntimeError or XlaRuntimeError by version
      reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
      raise _RunFailure(f"--coordinator {_join(host, port)}: cannot join the other processes "
                        f"({reason})") from err
  from acajax import sweep  # deferred: after jax.distributed, which must come first

  if jax.process_index() == 0:
    seconds = sweep.estimated_seconds(spec, jax.device_count())
    print(f"{spec.name}: {spec.num_points:,} points, estimated at most {_duration(seconds)} "
          f"on {jax.device_count()} device(s) (limit: run.max_hours or --max-hours)",
          file=sys.stderr)
  try:
    result = sweep.run(spec, args.out, restart=args.restart, force=args.force,
                       progress=False if args.no_progress else None, file_format=args.format,
                       max_hours=args.max_hours)
  except _io.OutputError as err:
    # The library names its argument (out_dir); the user typed --out.
    text = str(err)
    if text.startswith("out_dir"):
      raise _io.OutputError("--out" + text[len("out_dir"):]) from err
    raise
  if jax.process_index() == 0:
    print(f"{spec.name}: {spec.num_points:,} points on {result.num_devices} device(s), "
          f"{result.chunks_run} of {result.plan.num_chunks} chunks run in {result.wall_s:.2f} s "
          f"(compile {result.compile_s:.2f} s); {len(result.table):,} rows written to {args.out}")
  return 0


def _duration(seconds: float) -> str:
  """A human duration: '42 s', '3.5 min', '2.1 h', '4.0e+03 days'."""
  if seconds < 90:
    return f"{seconds:.0f} s"
  if seconds < 5400:
    return f"{seconds / 60:.1f} min"
  if seconds < 2 * 86400:
    return f"{seconds / 3600:.1f} h"
  return f"{seconds / 86400:.3g} days"


SWEEP_FILES = ("results.csv", "results.parquet", "checkpoint.npz", _io.RUN_FILE)


def _plot(args: argparse.Namespace) -> int:
  for flag, value in (("--vmin", args.vmin), ("--vmax", args.vmax)):
    if value is not None and not math.isfinite(value):
      raise UsageError(f"{flag} must be a finite number; got {value}")
  if args.vmin is not None and args.vmax is not None and not args.vmin < args.vmax:
    raise UsageError(f"--vmin must be below --vmax; got --vmin {args.vmin:g} --vmax "
                     f"{args.vmax:g}")
  folder = pathlib.Path(args.dir)
  if not folder.is_dir():
    raise UsageError(f"{folder}: {'is a file' if folder.exists() else 'no such folder'}; "
                     "name the --out folder of `acajax sweep`")
  if not (folder / "spec.toml").is_file():
    raise UsageError(f"{folder}: not the --out folder of a sweep (it has no spec.toml); name "
                     "the --out folder of `acajax sweep`")
  if not any((folder / name).is_file() for name in SWEEP_FILES[:2]):
    raise UsageError(f"{folder}: the sweep has no results yet (no results.csv or "
                     "results.parquet); run `acajax sweep` again into it to finish it")
  identity = {"sweep": str(folder.resolve())}
  elsewhere = args.out is not None and pathlib.Path(args.out).resolve() != folder.resolve()
  if args.out is None or not elsewhere:
    out = _output(args.dir if args.out is None else args.out, kind="plot",
                  flag="DIR" if args.out is None else "--out")
  else:
    out = _output(args.out, kind="plot", results=SWEEP_FILES, identity=identity,
                  force=args.force)
  from acajax import sweep  # deferred: the CLI starts instantly; JAX loads per subcommand

  with _io.FolderLock(out, "--out" if args.out is not None else "DIR"):
    try:
      paths = sweep.plot(folder, out, vmin=args.vmin, vmax=args.vmax)
    except FileNotFoundError as err:          # no results: not a finished sweep's folder
      raise UsageError(str(err)) from err
    if elsewhere:
      _record_run(out, "plot", identity, args)
  for path in paths:
    print(f"wrote {path}")
  if not paths:
    spec, _ = sweep.read_results(folder)
    if all(name in spec.reduce.over for name in spec.axes):
      print("nothing to plot: every axis was reduced away")
    else:
      print("nothing to plot: the figures show S_min or S_w, or each collective's results "
            "against its own mass; this sweep has neither (add \"s_min\" to `collective`, "
            "or sweep alpha[c])")
  return 0


FINITE_SAMPLE_FILES = ("finite_sample.csv", "finite_sample.png", _io.RUN_FILE)


def _finite_sample(args: argparse.Namespace) -> int:
  if args.test_size is not None and not (args.test_size > 0):    # NaN fails too
    raise UsageError(f"--test-size must be a number > 0, or inf (the population success); "
                     f"got {args.test_size}")
  _float_flag("--delta", args.delta, 0.0, 1.0, closed_low=False, domain="(0, 1)")
  _float_flag("--eps", args.eps, 0.0, 0.5, closed_low=True,
              domain="[0, 1/2) (the bounds are undefined from 1/2 on, SPEC §11)")
  sizes_n = _sizes(args.n)
  from acajax.runs import finite_sample  # deferred: JAX loads per subcommand

  _check_text_file(args.data, finite_sample.DataError, "CSV file")
  identity = {"data": str(pathlib.Path(args.data).resolve())}
  out = None
  if args.out is not None:
    out = _output(args.out, kind="finite_sample", results=FINITE_SAMPLE_FILES,
                  identity=identity, force=args.force)
  import jax  # deferred: the CLI starts instantly; JAX loads per subcommand

  jax.config.update("jax_enable_x64", True)
  lock = _io.FolderLock(out) if out is not None else None
  if lock is not None:
    lock.acquire()
  try:
    frame, paths = finite_sample.csv_report(
        args.data, signal=args.signal, target=args.target, sizes_n=sizes_n,
        num_samples=args.platform_size, num_test=args.test_size, delta=args.delta, eps=args.eps,
        strategy=args.strategy, label_column=args.label_column, out_dir=out)
    if out is not None:
      _record_run(out, "finite_sample", identity, args)
  finally:
    if lock is not None:
      lock.release()
  print(f"Finite-sample {args.strategy.replace('_', '-')} bound (SPEC §9), delta = {args.delta}, "
        f"eps = {args.eps}; the collective holds the first n lines of {args.data}:")
  print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
  for path in paths:
    print(f"wrote {path}")
  return 0


VALIDATE_FILES = ("results.csv", "success_vs_mass.png", _io.RUN_FILE)
RECOMMENDER_FILES = ("results.csv", "relative_hr_vs_homogeneity.png", _io.RUN_FILE)


def _run_spec(args: argparse.Namespace, module, kind: str, files: tuple[str, ...]):
  """Loads a spec (every check first), then runs it in a checked, locked --out folder."""
  spec = module.load(args.spec)     # every check before anything is compiled
  identity = {"spec": str(pathlib.Path(args.spec).resolve())}
  out = _output(args.out, kind=kind, results=files, identity=identity, force=args.force)
  with _io.FolderLock(out):
    result = module.run(spec, out, progress=not args.no_progress)
    _record_run(out, kind, identity, args)
  return spec, result


def _validate_recommender(args: argparse.Namespace) -> int:
  from acajax.runs import recommender as rec_experiment  # deferred: after _split_cpu

  spec, result = _run_spec(args, rec_experiment, "recommender", RECOMMENDER_FILES)
  frame = result.frame
  print(f"{spec.name}: {result.trainings} biased MF models trained in {result.train_s:.2f} s "
        f"(compile included); {len(frame)} rows written to {args.out}")
  summary = frame.groupby(["collective", "scenario", "size"])["relative_hr"].mean()
  print("mean relative hit ratio (HR@k with / without collective action):")
  print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
  return 0


def _validate(args: argparse.Namespace) -> int:
  spec_io.read_text(args.spec, "validation spec")  # a folder, a missing or binary file: named
  _split_cpu(args.cpu_devices)         # learners.train_many splits the models over devices
  if spec_io.read_kind(args.spec) == "recommender":  # kind = "recommender" at the top level
    return _validate_recommender(args)
  from acajax.runs import validate  # deferred: JAX starts after _split_cpu

  spec, result = _run_spec(args, validate, "validate", VALIDATE_FILES)
  frame = result.frame
  keys = [k for k in ('configuration', 'mass_scale', 'split_t', 'noise', 'seed')
          if k in frame.columns]
  print(f"{spec.name}: {frame[keys].drop_duplicates().shape[0]} "
        f"models ({spec.learner} on {spec.dataset}) trained in {result.compile_and_train_s:.2f} s "
        f"(compile included); {len(frame)} rows written to {args.out}")
  if "diverged" in frame.columns and frame["diverged"].any():
    bad = frame.loc[frame["diverged"], keys].drop_duplicates().shape[0]
    print(f"acajax validate: warning: {bad} model(s) diverged (non-finite loss or parameters; "
          "rows with diverged = True): they are reported with NaN success, not scored; lower "
          "train.learning_rate", file=sys.stderr)
  if "converged" in frame.columns and not frame["converged"].all():
    models = frame[keys].drop_duplicates().shape[0]
    moving = frame.loc[~frame["converged"], keys].drop_duplicates().shape[0]
    print(f"acajax validate: note: {moving} of {models} model(s) had not converged (loss still "
          "moving by 1% or more over the last tenth of the steps, or diverged; rows with "
          "converged = False): more train.steps would change them", file=sys.stderr)
  return 0


# Files that say a folder holds another kind of run (a bench folder has only
# result JSON files, a summary and plots).
_NOT_BENCH = ("results.csv", "results.parquet", "checkpoint.npz", "bounds.csv",
              "finite_sample.csv", _io.RUN_FILE)


def _check_bench_output(args: argparse.Namespace, where) -> None:
  """The bench destination: a writable folder, and no file there that would spoil the run.

  A named result file must be a suite result (it is merged into), and every
  other ``.json`` there valid JSON (the summary reads them all).
  """
  flag = "--out" if args.out is not None else "the results folder"
  if args.summary_only and not where.folder.is_dir():
    raise UsageError(f"no suite results in {where.folder} (run `acajax bench` first)")
  _output(str(where.folder), kind="bench", results=_NOT_BENCH, force=args.force, flag=flag)
  if where.file is not None and where.file.exists() and not args.summary_only:
    try:
      data = json.loads(where.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
      data, reason = None, f"not JSON: {err}"
    else:
      reason = "not an acajax bench result"
    if not (isinstance(data, dict) and data.get("suite")) and not args.force:
      raise _io.OutputError(f"{flag} {where.file}: holds a file that is {reason}; choose "
                            "another path, or pass --force to replace it")
  if args.no_summary:
    return
  for path in sorted(where.folder.glob("*.json")):
    if args.force and path == where.file:
      continue
    try:
      json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
      raise _io.OutputError(f"{flag} {where.folder}: {path.name} is not valid JSON ({err}), and "
                            "the summary reads every .json there; move it away, choose another "
                            "folder, or pass --no-summary") from None


def _bench(args: argparse.Namespace) -> int:
  if args.out is not None and not args.out.strip():
    _output(args.out, kind="bench")                  # refuses the empty path
  if args.summary_only and args.no_summary:
    raise UsageError("--summary-only and --no-summary together leave nothing to do")
  from acajax import bench  # deferred: the CLI starts instantly; JAX loads per subcommand
  names = [n.strip() for n in args.only.split(",") if n.strip()]
  unknown = [n for n in names if n not in bench.NAMES]
  if unknown or not names:
    raise UsageError(f"--only: unknown benchmark(s) {', '.join(unknown) or '(none)'}; "
                     f"expected a comma-separated subset of {', '.join(bench.NAMES)}")
  # A source checkout's benchmarks/, else ./acajax-bench/, unless --out says.
  where = bench.destination(args.out, quick=args.quick)
  _check_bench_output(args, where)
  with _io.FolderLock(where.folder, "--out" if args.out is not None else "the results folder"):
    return _bench_run(args, bench, names, where)


def _bench_run(args: argparse.Namespace, bench, names: list[str], where) -> int:
  """The suite (merged into the result file there), then the summary; the exit status."""
  failed = False
  if not args.summary_only:
    result, path = bench.run_suite(names, quick=args.quick, out=where,
                                   progress=not args.no_progress, jobs=args.jobs)
    print(f"acajax bench: wrote {path}")
    for name, b in result["benchmarks"].items():
      if name not in names:
        continue
      print(f"  {name:12s} {b['throughput']:.4g} {b['unit']}/s at {b['items']:,} {b['unit']}; "
            f"{b['ratio']:.3g}x its baseline; compile {b['compile_s']:.2f} s")
    failures = {name: error for name, error in result["failures"].items() if name in names}
    for name, error in failures.items():
      if args.debug:
        print(f"acajax bench: {name} failed:\n{error}", file=sys.stderr)
      else:
        lines = [line for line in error.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        print(f"acajax bench: error: {name} failed ({last}); its output is under "
              f"\"failures\" in {path}, or rerun with --debug", file=sys.stderr)
    failed = bool(failures)
    if not any(name in names for name in result["benchmarks"]):
      return 1 if failed else 0
  if args.no_summary:
    return 1 if failed else 0
  try:
    _, plots = bench.summarize(where.folder, where.readme, quick=args.quick)
  except ValueError as err:
    raise UsageError(str(err)) from err
  summary = (f"updated {where.readme}" if where.readme else
             f"summary {where.folder / 'summary.md'}")
  print(f"acajax bench: {summary}; plots {', '.join(p.name for p in plots)}")
  return 1 if failed else 0


# -- the parser ---------------------------------------------------------------------------------


def _add_cpu_devices(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--cpu-devices", type=_whole(1), default=None, metavar="N",
                      help="on CPU, split the host into N JAX devices to use N cores "
                           "(default: one per core; ignored if XLA_FLAGS sets it)")


def _add_force(parser: argparse.ArgumentParser, what: str = "another run's results") -> None:
  parser.add_argument("--force", action="store_true",
                      help=f"write into an output folder holding {what}")


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="acajax",
      description="Algorithmic collective action with several collectives: closed-form "
                  "bounds, exact computation and experiments in JAX.",
      epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--version", action="store_true", help="print the version and exit")
  parser.add_argument("--debug", action="store_true",
                      help=f"on an error, show the traceback (also {DEBUG_ENV}=1)")
  sub = parser.add_subparsers(dest="command", metavar="COMMAND")
  demo = sub.add_parser("demo", help="write a two-collective report (table + figure)",
                        description="Bounds of a two-collective scenario as a table, and a "
                                    "PNG of each collective's bound against its mass with "
                                    "the critical mass marked.")
  demo.add_argument("--out", default="acajax-demo", help="output folder (default: %(default)s)")
  _add_force(demo)
  demo.set_defaults(func=_demo)

  sweep = sub.add_parser(
      "sweep", help="evaluate a sweep spec (TOML) over its grid",
      description="Evaluate the bounds of a sweep spec over its grid, chunk by chunk on "
                  "every device, and write results.csv, spec.toml, meta.json and a "
                  "checkpoint into --out. Running it again continues an interrupted sweep.")
  sweep.add_argument("spec", help="the sweep spec (.toml; see examples/sweeps/)")
  sweep.add_argument("--out", required=True, help="output folder")
  sweep.add_argument("--chunk-points", type=_whole(1), default=None, metavar="N",
                     help="points per chunk (overrides run.chunk_points)")
  sweep.add_argument("--format", choices=("csv", "parquet"), default="csv",
                     help="results file format (parquet needs pyarrow; default: %(default)s)")
  sweep.add_argument("--restart", action="store_true",
                     help="ignore a checkpoint in --out and start over")
  sweep.add_argument("--max-hours", type=_positive_hours, default=None, metavar="H",
                     help="refuse a sweep whose estimated time exceeds H hours (default: the "
                          "spec's run.max_hours)")
  sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
  _add_force(sweep, "another sweep's results")
  _add_cpu_devices(sweep)
  multi = sweep.add_argument_group(
      "several processes (jax.distributed; run the same command on every host)")
  multi.add_argument("--coordinator", metavar="HOST:PORT", type=_address, default=None,
                     help="address of process 0, reachable from every host")
  multi.add_argument("--num-processes", type=_whole(1), default=None, metavar="N",
                     help="number of processes")
  multi.add_argument("--process-id", type=_whole(0), default=None, metavar="I",
                     help="this process, 0..N-1")
  sweep.set_defaults(func=_sweep)

  plot = sub.add_parser("plot", help="draw the figures of a finished sweep",
                        description="Heatmaps, bound-vs-mass curves with critical masses, "
                                    "and critical-mass contours for a sweep's --out folder.")
  plot.add_argument("dir", help="the --out folder of `acajax sweep`")
  plot.add_argument("--out", default=None, help="where to write the PNGs (default: DIR)")
  plot.add_argument("--vmin", type=float, default=None, metavar="V",
                    help="low end of the heatmaps' colour scale (default: the data's minimum)")
  plot.add_argument("--vmax", type=float, default=None, metavar="V",
                    help="high end of the heatmaps' colour scale (default: the data's maximum; "
                         "--vmin 0 --vmax 1 is the range of any success)")
  _add_force(plot)
  plot.set_defaults(func=_plot)

  finite = sub.add_parser(
      "finite-sample", help="finite-sample success bound from a categorical CSV (SPEC §9)",
      description="Lower bound, valid with probability >= 1 - delta, on the success of a "
                  "collective that holds the first n lines of DATA.csv and plants a signal "
                  "(Gauthier, Bach and Jordan; SPEC §9), for each n. Columns of integer "
                  "codes are used as they are; string columns are mapped to codes.")
  finite.add_argument("data", help="CSV with a header line; one sample per line")
  finite.add_argument("--signal", required=True,
                      help="columns the signal sets, e.g. 'col3=2,col7=red'")
  finite.add_argument("--target", required=True, help="target label(s), e.g. '1' or 'good,bad'")
  finite.add_argument("--label-column", default=None, help="label column (default: the last)")
  finite.add_argument("--n", default=None,
                      help="collective sizes, e.g. '1000,5000' (default: 12 log-spaced sizes; "
                           "at most the number of data lines)")
  finite.add_argument("--platform-size", type=_whole(1), default=None, metavar="N",
                      help="N, the platform's training-set size (default: the number of lines)")
  finite.add_argument("--test-size", type=float, default=None,
                      help="N_test > 0 (default: N; 'inf' bounds the population success)")
  finite.add_argument("--delta", type=float, default=0.05,
                      help="failure probability in (0, 1) (default: %(default)s)")
  finite.add_argument("--eps", type=float, default=0.0,
                      help="suboptimality in [0, 1/2), TV-ball eps of SPEC §9 "
                           "(default: %(default)s)")
  finite.add_argument("--strategy", choices=("feature_label", "feature_only"),
                      default="feature_label", help="(default: %(default)s)")
  finite.add_argument("--out", default=None,
                      help="folder for finite_sample.csv and finite_sample.png")
  _add_force(finite)
  finite.set_defaults(func=_finite_sample)

  validate = sub.add_parser(
      "validate", help="train flax learners on planted data; measured success beside the bounds",
      description="Plant the collectives of SPEC.toml (dataset, learner, collectives, seeds, "
                  "mass grid or budget split), train every model in one vmapped call, and write results.csv "
                  "(measured success, clean accuracy, bounds, exact success, effective eps) "
                  "and success_vs_mass.png into --out.")
  validate.add_argument("spec", help="the validation spec (.toml; see examples/learners_spec.toml, "
                        "or examples/recommender_spec.toml for kind = \"recommender\")")
  validate.add_argument("--out", required=True, help="output folder")
  validate.add_argument("--no-progress", action="store_true", help="no progress bar")
  _add_force(validate)
  _add_cpu_devices(validate)
  validate.set_defaults(func=_validate)

  bench = sub.add_parser(
      "bench", help="run the benchmark suite on this machine's default device",
      description="One benchmark per capability (sweep, exact, optimize, learners, "
                  "statistical, recommender), each in a fresh process: compile time apart, "
                  "median of repeats, throughput, the ratio to a baseline run in the same "
                  "process, throughput against problem size, fraction of the device's "
                  "measured peak, and the sweep engine's peak memory against grid size. "
                  "Writes <device>.json, a summary (markdown tables) and plots. In a source "
                  "checkout (benchmarks/README.md in the current directory, or beside an "
                  "editable install's package): "
                  "benchmarks/results/<device>.json, the summary in benchmarks/README.md "
                  "(--quick: benchmarks/results/quick/results.json, summary.md beside it). "
                  "Elsewhere (an installed wheel): ./acajax-bench/<device>.json (-quick.json "
                  "with --quick), summary.md and plots beside it. --out overrides both. "
                  "A result file of the same device already there is merged into: the "
                  "benchmarks run replace their entries, the others are kept, and each "
                  "entry records when it was measured.")
  bench.add_argument("--quick", action="store_true",
                     help="CI-sized runs (seconds; the figures mean nothing), kept apart from "
                          "the measured results")
  bench.add_argument("--only", default="sweep,exact,optimize,learners,statistical,recommender",
                     metavar="NAMES", help="comma-separated benchmarks (default: all); merged "
                                           "into the result file already there")
  bench.add_argument("--out", default=None, metavar="PATH",
                     help="a .json result file, or a folder for <device>.json; the summary "
                          "(summary.md) and plots go into its folder, with every result there "
                          "(default: see above; never inside the installed package)")
  bench.add_argument("--jobs", type=_whole(1), default=None, metavar="N",
                     help="benchmarks at once (default 1; every core with --quick)")
  bench.add_argument("--no-summary", action="store_true", help="skip the summary and plots")
  bench.add_argument("--summary-only", action="store_true",
                     help="run nothing: regenerate the summary and plots from the result files "
                          "already there")
  bench.add_argument("--no-progress", action="store_true", help="no progress bar")
  _add_force(bench, "other files (replaces a --out file that is not a suite result)")
  bench.set_defaults(func=_bench)
  return parser


# -- errors -------------------------------------------------------------------------------------


def _bad_input_types() -> tuple[type, ...]:
  found = []
  for module_name, names in _BAD_INPUT.items():
    module = sys.modules.get(module_name)
    for name in names:
      cls = getattr(module, name, None) if module is not None else None
      if isinstance(cls, type) and issubclass(cls, BaseException):
        found.append(cls)
  return tuple(found)


def _one_paragraph(text: str, limit: int = 600) -> str:
  text = " ".join(line.strip() for line in str(text).strip().splitlines() if line.strip())
  return text if len(text) <= limit else text[:limit - 1] + "…"


def _describe(err: BaseException) -> tuple[int, str]:
  """The exit status and the one-paragraph message of an error."""
  if isinstance(err, KeyboardInterrupt):
    signum = getattr(err, "signum", None) or signal.SIGINT
    message = _one_paragraph(err) or "interrupted"
    return 128 + int(signum), message
  if isinstance(err, _bad_input_types()):
    return 2, _one_paragraph(err)
  if isinstance(err, _RunFailure):
    return 1, _one_paragraph(err)
  if isinstance(err, OSError):
    reason = err.strerror or _one_paragraph(err) or type(err).__name__
    hint = {errno.ENOSPC: "; free some space, or choose another --out",
            errno.EDQUOT: "; free some space, or choose another --out",
            errno.EACCES: "; check the permissions, or choose another --out",
            errno.EPERM: "; check the permissions, or choose another --out",
            errno.EROFS: "; choose another --out"}.get(err.errno or 0, "")
    where = err.filename if err.filename is not None else None
    if where is not None and err.filename2 is not None:
      where = f"{err.filename} -> {err.filename2}"
    subject = f"{where}: " if where is not None else ""
    return 1, f"{subject}{reason}{hint}"
  if isinstance(err, MemoryError):
    return 1, ("out of memory; use a smaller problem (e.g. fewer points per chunk, "
               "--chunk-points) or a machine with more memory")
  text = _one_paragraph(err)
  if "RESOURCE_EXHAUSTED" in text:
    return 1, f"the device ran out of memory ({text}); use a smaller problem or chunk"
  detail = f"{type(err).__name__}: {text}" if text else type(err).__name__
  return 1, (f"internal error ({detail}); rerun with --debug for the traceback and "
             "report it")


def _debug_requested(args: argparse.Namespace | None) -> bool:
  env = os.environ.get(DEBUG_ENV, "").strip().lower()
  return bool(getattr(args, "debug", False)) or env not in ("", "0", "false", "no", "off")


def main(argv: list[str] | None = None) -> int:
  """Runs the CLI; returns the exit status (see the module docstring).

  Args:
    argv: the arguments after ``acajax`` (default: ``sys.argv[1:]``).
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = build_parser()
  try:
    args = parser.parse_args(argv)
  except SystemExit as stop:        # --help, or a usage error argparse has printed
    return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
  args.argv = ["acajax", *argv]
  args.started = time.time()
  if args.version:
    print(__version__)
    return 0
  if args.command is None:
    parser.print_help()
    return 2
  try:
    return args.func(args)
  except (Exception, KeyboardInterrupt) as err:
    if _debug_requested(args):
      raise
    if isinstance(err, BrokenPipeError):          # `acajax ... | head`: stop quietly
      with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), sys.stdout.fileno())
      return 128 + signal.SIGPIPE
    code, message = _describe(err)
    print(f"acajax {args.command}: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
  sys.exit(main())
