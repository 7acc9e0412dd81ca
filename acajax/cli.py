"""The ``acajax`` command line.

Subcommands:

* ``acajax demo [--out DIR]`` — the README's main job: a two-collective
  report (table and figure) written into DIR.
* ``acajax sweep SPEC.toml --out DIR`` — evaluate a sweep spec over its grid
  (chunked, sharded over every device, resumable); on several hosts add
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
  or ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys

from acajax._version import __version__

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
  from acajax.runs import demo  # deferred: the CLI starts instantly; JAX loads per subcommand
  demo.main(args.out)
  return 0


def _split_cpu(count: int | None) -> None:
  """Exposes the host CPU as ``count`` JAX devices (default: one per core).

  A sweep shards each chunk over every device, and ``learners.train_many``
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
  from acajax.sweep import _spec as sweep_spec  # deferred: JAX starts after --cpu-devices is set

  try:
    spec = sweep_spec.load(args.spec)
    if args.chunk_points is not None:
      spec = spec.replace(chunk_points=args.chunk_points).validated()
  except sweep_spec.SpecError as err:
    print(f"acajax sweep: error: {err}", file=sys.stderr)
    return 2
  _split_cpu(args.cpu_devices)
  import jax  # deferred: XLA reads the device count (_split_cpu) when JAX starts

  if spec.dtype == "float64":
    jax.config.update("jax_enable_x64", True)
  if args.coordinator is not None or args.num_processes is not None:
    if args.coordinator is None or args.num_processes is None or args.process_id is None:
      print("acajax sweep: error: --coordinator, --num-processes and --process-id go "
            "together", file=sys.stderr)
      return 2
    # Collectives between CPU processes need gloo; GPU and TPU use their own.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id)
  from acajax import sweep  # deferred: after jax.distributed, which must come first

  try:
    result = sweep.run(spec, args.out, restart=args.restart,
                       progress=False if args.no_progress else None,
                       file_format=args.format)
  except (sweep_spec.SpecError, ValueError) as err:
    print(f"acajax sweep: error: {err}", file=sys.stderr)
    return 2
  if jax.process_index() == 0:
    print(f"{spec.name}: {spec.num_points:,} points on {result.plan.num_devices} device(s), "
          f"{result.chunks_run} of {result.plan.num_chunks} chunks run in {result.wall_s:.2f} s "
          f"(compile {result.compile_s:.2f} s); {len(result.table):,} rows written to {args.out}")
  return 0


def _plot(args: argparse.Namespace) -> int:
  from acajax import sweep  # deferred: the CLI starts instantly; JAX loads per subcommand

  try:
    paths = sweep.plot(args.dir, args.out)
  except FileNotFoundError as err:
    print(f"acajax plot: error: {err}", file=sys.stderr)
    return 2
  for path in paths:
    print(f"wrote {path}")
  if not paths:
    print("nothing to plot: every axis was reduced away")
  return 0


def _finite_sample(args: argparse.Namespace) -> int:
  from acajax.runs import finite_sample  # deferred: the CLI starts instantly; JAX loads per subcommand

  try:
    sizes_n = None if args.n is None else [int(v) for v in args.n.split(",") if v.strip()]
  except ValueError:
    print(f"acajax finite-sample: error: --n must be comma-separated integers; got {args.n!r}",
          file=sys.stderr)
    return 2
  import jax  # deferred: the CLI starts instantly; JAX loads per subcommand

  jax.config.update("jax_enable_x64", True)
  try:
    frame, paths = finite_sample.csv_report(
        args.data, signal=args.signal, target=args.target, sizes_n=sizes_n,
        num_samples=args.platform_size, num_test=args.test_size, delta=args.delta, eps=args.eps,
        strategy=args.strategy, label_column=args.label_column, out_dir=args.out)
  except finite_sample.DataError as err:
    print(f"acajax finite-sample: error: {err}", file=sys.stderr)
    return 2
  print(f"Finite-sample {args.strategy.replace('_', '-')} bound (SPEC §9), delta = {args.delta}, "
        f"eps = {args.eps}; the collective holds the first n lines of {args.data}:")
  print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
  for path in paths:
    print(f"wrote {path}")
  return 0


def _validate_recommender(args: argparse.Namespace) -> int:
  from acajax.runs import recommender as rec_experiment  # deferred: after _split_cpu

  try:
    spec = rec_experiment.load(args.spec)     # every check before anything is compiled
    result = rec_experiment.run(spec, args.out, progress=not args.no_progress)
  except rec_experiment.SpecError as err:
    print(f"acajax validate: error: {err}", file=sys.stderr)
    return 2
  frame = result.frame
  print(f"{spec.name}: {result.trainings} biased MF models trained in {result.train_s:.2f} s "
        f"(compile included); {len(frame)} rows written to {args.out}")
  summary = frame.groupby(["collective", "scenario", "size"])["relative_hr"].mean()
  print("mean relative hit ratio (HR@k with / without collective action):")
  print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
  return 0


def _validate(args: argparse.Namespace) -> int:
  _split_cpu(args.cpu_devices)         # learners.train_many splits the models over devices
  from acajax.runs import _spec  # deferred: the CLI starts instantly

  if _spec.read_kind(args.spec) == "recommender":   # kind = "recommender" at the top level
    return _validate_recommender(args)
  from acajax.runs import validate  # deferred: JAX starts after _split_cpu

  try:
    spec = validate.load(args.spec)     # every check before anything is compiled
  except validate.SpecError as err:
    print(f"acajax validate: error: {err}", file=sys.stderr)
    return 2
  try:
    result = validate.run(spec, args.out, progress=not args.no_progress)
  except (validate.SpecError, validate.datasets.CorpusError) as err:
    print(f"acajax validate: error: {err}", file=sys.stderr)
    return 2
  frame = result.frame
  keys = [k for k in ('configuration', 'mass_scale', 'noise', 'seed') if k in frame.columns]
  print(f"{spec.name}: {frame[keys].drop_duplicates().shape[0]} "
        f"models ({spec.learner} on {spec.dataset}) trained in {result.compile_and_train_s:.2f} s "
        f"(compile included); {len(frame)} rows written to {args.out}")
  return 0


def _add_cpu_devices(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                      help="on CPU, split the host into N JAX devices to use N cores "
                           "(default: one per core; ignored if XLA_FLAGS sets it)")


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="acajax",
      description="Algorithmic collective action with several collectives: closed-form "
                  "bounds, exact computation and experiments in JAX.")
  parser.add_argument("--version", action="store_true", help="print the version and exit")
  sub = parser.add_subparsers(dest="command", metavar="COMMAND")
  demo = sub.add_parser("demo", help="write a two-collective report (table + figure)",
                        description="Bounds of a two-collective scenario as a table, and a "
                                    "PNG of each collective's bound against its mass with "
                                    "the critical mass marked.")
  demo.add_argument("--out", default="acajax-demo", help="output folder (default: %(default)s)")
  demo.set_defaults(func=_demo)

  sweep = sub.add_parser(
      "sweep", help="evaluate a sweep spec (TOML) over its grid",
      description="Evaluate the bounds of a sweep spec over its grid, chunk by chunk on "
                  "every device, and write results.csv, spec.toml, meta.json and a "
                  "checkpoint into --out. Running it again continues an interrupted sweep.")
  sweep.add_argument("spec", help="the sweep spec (.toml; see examples/sweeps/)")
  sweep.add_argument("--out", required=True, help="output folder")
  sweep.add_argument("--chunk-points", type=int, default=None,
                     help="points per chunk (overrides run.chunk_points)")
  sweep.add_argument("--format", choices=("csv", "parquet"), default="csv",
                     help="results file format (parquet needs pyarrow; default: %(default)s)")
  sweep.add_argument("--restart", action="store_true",
                     help="ignore a checkpoint in --out and start over")
  sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
  _add_cpu_devices(sweep)
  multi = sweep.add_argument_group(
      "several processes (jax.distributed; run the same command on every host)")
  multi.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                     help="address of process 0, reachable from every host")
  multi.add_argument("--num-processes", type=int, default=None, help="number of processes")
  multi.add_argument("--process-id", type=int, default=None, help="this process, 0..N-1")
  sweep.set_defaults(func=_sweep)

  plot = sub.add_parser("plot", help="draw the figures of a finished sweep",
                        description="Heatmaps, bound-vs-mass curves with critical masses, "
                                    "and critical-mass contours for a sweep's --out folder.")
  plot.add_argument("dir", help="the --out folder of `acajax sweep`")
  plot.add_argument("--out", default=None, help="where to write the PNGs (default: DIR)")
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
                      help="collective sizes, e.g. '1000,5000' (default: 12 log-spaced sizes)")
  finite.add_argument("--platform-size", type=int, default=None,
                      help="N, the platform's training-set size (default: the number of lines)")
  finite.add_argument("--test-size", type=float, default=None,
                      help="N_test (default: N; 'inf' bounds the population success)")
  finite.add_argument("--delta", type=float, default=0.05,
                      help="failure probability (default: %(default)s)")
  finite.add_argument("--eps", type=float, default=0.0,
                      help="suboptimality, TV-ball eps of SPEC §9 (default: %(default)s)")
  finite.add_argument("--strategy", choices=("feature_label", "feature_only"),
                      default="feature_label", help="(default: %(default)s)")
  finite.add_argument("--out", default=None,
                      help="folder for finite_sample.csv and finite_sample.png")
  finite.set_defaults(func=_finite_sample)

  validate = sub.add_parser(
      "validate", help="train flax learners on planted data; measured success beside the bounds",
      description="Plant the collectives of SPEC.toml (dataset, learner, collectives, seeds, "
                  "mass grid), train every model in one vmapped call, and write results.csv "
                  "(measured success, clean accuracy, bounds, exact success, effective eps) "
                  "and success_vs_mass.png into --out.")
  validate.add_argument("spec", help="the validation spec (.toml; see examples/learners_spec.toml, "
                        "or examples/recommender_spec.toml for kind = \"recommender\")")
  validate.add_argument("--out", required=True, help="output folder")
  validate.add_argument("--no-progress", action="store_true", help="no progress bar")
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
                  "with --quick), summary.md and plots beside it. --out overrides both.")
  bench.add_argument("--quick", action="store_true",
                     help="CI-sized runs (seconds; the figures mean nothing), kept apart from "
                          "the measured results")
  bench.add_argument("--only", default="sweep,exact,optimize,learners,statistical,recommender",
                     metavar="NAMES", help="comma-separated benchmarks (default: all)")
  bench.add_argument("--out", default=None, metavar="PATH",
                     help="a .json result file, or a folder for <device>.json; the summary "
                          "(summary.md) and plots go into its folder, with every result there "
                          "(default: see above; never inside the installed package)")
  bench.add_argument("--jobs", type=int, default=None,
                     help="benchmarks at once (default 1; every core with --quick)")
  bench.add_argument("--no-summary", action="store_true", help="skip the summary and plots")
  bench.add_argument("--summary-only", action="store_true",
                     help="run nothing: regenerate the summary and plots from the result files "
                          "already there")
  bench.add_argument("--no-progress", action="store_true", help="no progress bar")
  bench.set_defaults(func=_bench)
  return parser


def _bench(args: argparse.Namespace) -> int:
  from acajax import bench  # deferred: the CLI starts instantly; JAX loads per subcommand
  names = [n.strip() for n in args.only.split(",") if n.strip()]
  unknown = [n for n in names if n not in bench.NAMES]
  if unknown or not names:
    print(f"acajax bench: error: --only: unknown benchmark(s) {', '.join(unknown) or '(none)'}; "
          f"expected a comma-separated subset of {', '.join(bench.NAMES)}", file=sys.stderr)
    return 2
  # A source checkout's benchmarks/, else ./acajax-bench/, unless --out says.
  where = bench.destination(args.out, quick=args.quick)
  failed = False
  if not args.summary_only:
    result, path = bench.run_suite(names, quick=args.quick, out=where,
                                   progress=not args.no_progress, jobs=args.jobs)
    print(f"acajax bench: wrote {path}")
    for name, b in result["benchmarks"].items():
      print(f"  {name:12s} {b['throughput']:.4g} {b['unit']}/s at {b['items']:,} {b['unit']}; "
            f"{b['ratio']:.3g}x its baseline; compile {b['compile_s']:.2f} s")
    for name, error in result["failures"].items():
      print(f"acajax bench: {name} failed:\n{error}", file=sys.stderr)
    failed = bool(result["failures"])
    if not result["benchmarks"]:
      return 1 if failed else 0
  if args.no_summary:
    return 1 if failed else 0
  try:
    _, plots = bench.summarize(where.folder, where.readme, quick=args.quick)
  except ValueError as err:
    print(f"acajax bench: error: {err}", file=sys.stderr)
    return 2
  summary = (f"updated {where.readme}" if where.readme else
             f"summary {where.folder / 'summary.md'}")
  print(f"acajax bench: {summary}; plots {', '.join(p.name for p in plots)}")
  return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
  """Runs the CLI; returns the exit status."""
  parser = build_parser()
  args = parser.parse_args(argv)
  if args.version:
    print(__version__)
    return 0
  if args.command is None:
    parser.print_help()
    return 2
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
