"""The suite runner: each benchmark in a fresh process, one JSON file per device.

Capabilities (``NAMES``; workloads and baselines in
:mod:`acajax.bench._workloads`):

* ``sweep``: bound sweeps (``acajax.sweep``; Theorem 1 for two collectives,
  S_min and S_w, reduced over xi × eps; float32; on CPU one device pinned to
  one core, as the baseline runs). Baseline: the strong NumPy
  baseline (:mod:`acajax.bench._workloads.sweep_baseline`: the bound factored
  along the axes, cache-sized blocks, float32) on the same outputs; the older
  float64 full-block baseline is recorded beside it.
* ``exact``: exact-engine batches (``mixtures.exact_analysis``: worst-case
  success + scenario parameters; n = 64, K = 4, M = 4; float64). Baseline:
  an independent NumPy reference, one scenario at a time.
* ``optimize``: optimisation batches (``optimize.allocate_masses``, M = 3,
  S_min, 4 restarts × 200 Adam steps; float64). Baseline: a Python loop over
  the jitted single-problem function.
* ``learners``: logistic models on digits trained in one call
  (``learners.train_many``'s trainer; 50 full-batch Adam steps, which reach
  scikit-learn's accuracy; float32; on CPU the models are split over one
  JAX device per core, as ``acajax validate`` does). Baselines: the same
  jitted trainer one model per call, and scikit-learn's
  ``LogisticRegression`` in a loop (same objective).
* ``statistical``: the finite-sample n-sweep of the car figure (SPEC §9;
  60 collective sizes × 4 targets from raw rows; float64). Baseline: a
  pandas loop making one pass per n.
* ``recommender``: matrix-factorisation trainings in one call against one at
  a time; on CPU split over one JAX device per core, as ``acajax validate``
  does.

Each benchmark runs in a fresh process (``python -m acajax.bench --child
NAME``; :mod:`acajax.bench._process`), so that its dtype settings, device
count, compile cache and peak memory are its own, and runs at several
problem sizes (``scaling``: throughput against size, for log-log plots); the
baseline runs in the same process. Measurements, ceilings and fraction of
peak: :mod:`acajax.bench._measure`. Where the files go:
:mod:`acajax.bench._paths`.

A run of some benchmarks (``acajax bench --only sweep,exact``) merges into
the result file of the same device already there (:func:`merge`): its
entries replace those of the same name, the others stay, and every entry
records when it was measured (``measured``). The file is written atomically
(:mod:`acajax.runs._io`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import time
from pathlib import Path

import jax
from tqdm import tqdm

from acajax.bench import _process
from acajax.bench._env import accelerator_plugin, environment, pin_to_one_core, split_cpu
from acajax.bench._measure import ceilings
from acajax.bench._paths import Destination, destination
from acajax.bench._workloads import exact, learners, optimize, recommender, statistical, sweep
from acajax.runs import _io

SCHEMA = 1
WORKLOADS = {"sweep": sweep, "exact": exact, "optimize": optimize, "learners": learners,
             "statistical": statistical, "recommender": recommender}
NAMES = tuple(WORKLOADS)
# Started first, so that parallel quick runs end together.
LONGEST_FIRST = ("sweep", "learners", "optimize", "recommender", "exact", "statistical")
# Their models are split over devices: on CPU one JAX device per core.
SPLIT_CPU = ("learners", "recommender")
# One device pinned to one core on CPU, like their single-threaded baselines.
PINNED_CPU = ("sweep",)


def plan(name: str, quick: bool, accelerator: bool) -> dict:
  """Problem sizes of one benchmark: the scaling sizes and the headline size.

  Raises:
    ValueError: ``name`` is not one of ``NAMES``.

  Examples:
    >>> from acajax.bench import plan
    >>> plan("exact", quick=True, accelerator=False)["sizes"]
    [100, 1000]
  """
  if name not in WORKLOADS:
    raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(NAMES)}")
  return WORKLOADS[name].sizes(quick, accelerator)


def device_slug(kind: str) -> str:
  """A file-name form of a device kind.

  Examples:
    >>> from acajax.bench._suite import device_slug
    >>> device_slug("NVIDIA H100 80GB HBM3")
    'nvidia-h100-80gb-hbm3'
  """
  return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-") or "device"


def result_slug(backend: str, device_kind: str) -> str:
  """The result file's stem: the device kind, or ``cpu-<cores>core`` on CPU."""
  if backend == "cpu":
    return f"cpu-{os.cpu_count()}core"
  return device_slug(device_kind)


def child(name: str, quick: bool) -> dict | None:
  """Runs one benchmark in this process; returns its record (None: not available here).

  Call it in a fresh process: the benchmarks set JAX flags (float64, one
  device per core) for the whole process.
  """
  if name in SPLIT_CPU:
    split_cpu()               # the models split over every core, as acajax validate does
  # One device on one core, like its NumPy baseline; pinned before JAX starts,
  # which sizes its CPU thread pool by the cores it may use. Not where an
  # accelerator plugin is installed (its host work keeps every core).
  if name in PINNED_CPU and not accelerator_plugin():
    pin_to_one_core()
  accelerator = jax.default_backend() != "cpu"
  p = plan(name, quick, accelerator)
  ceiling = ceilings(accelerator, quick)
  start = time.perf_counter()
  record = WORKLOADS[name].benchmark(p, ceiling)
  if record is not None:
    record["wall_s"] = time.perf_counter() - start
    record["ceilings"] = ceiling
  return record


def run_suite(names=NAMES, *, quick: bool = False, out: str | Path | Destination | None = None,
              progress: bool = True, jobs: int | None = None) -> tuple[dict, Path]:
  """Runs each benchmark in a fresh process and writes one JSON file.

  Args:
    names: the benchmarks to run (see ``NAMES``).
    quick: CI-sized runs: seconds, and figures that mean nothing.
    out: a ``.json`` file, a folder for ``<device>.json``, or a
      :class:`~acajax.bench.Destination` (default:
      :func:`~acajax.bench.destination`: a source checkout's
      ``benchmarks/results/``, else ``./acajax-bench/``).
    progress: show a progress bar.
    jobs: benchmarks run at once (default: 1, or every core with ``quick``;
      timings of a full run are only clean one at a time).

  Returns:
    (the result dict, the path written).

  Raises:
    ValueError: a name is not one of ``NAMES`` (before anything runs).
  """
  for name in names:
    plan(name, quick, False)              # unknown names fail here, before any run
  where = out if isinstance(out, Destination) else destination(out, quick=quick)
  jobs = jobs or ((os.cpu_count() or 1) if quick else 1)
  pending = sorted(names, key=lambda n: LONGEST_FIRST.index(n) if n in LONGEST_FIRST else 0)
  records, failures, skipped, running = {}, {}, [], {}
  flags = ["--quick"] if quick else []
  with tqdm(total=len(pending), desc="acajax bench", unit="benchmark",
            disable=not progress) as bar:
    while pending or running:
      while pending and len(running) < jobs:
        name = pending.pop(0)
        running[name] = _process.start(*flags, "--child", name)
        bar.set_postfix_str(",".join(running))
      name = next(iter(running))
      proc = running.pop(name)
      stdout, stderr = proc.communicate()
      record = _process.last_json(stdout)
      if proc.returncode or not isinstance(record, dict):
        failures[name] = stderr[-4000:] or f"exit status {proc.returncode}, no JSON"
      elif "skipped" in record:
        skipped.append(name)
      else:
        records[name] = record
      bar.update(1)
  records = {name: records[name] for name in names if name in records}
  env = environment()
  slug = result_slug(jax.default_backend(), env["device_kind"])
  result = dict(suite=SCHEMA, quick=quick, command=_command(names, quick),
                date=time.strftime("%Y-%m-%d"), backend=jax.default_backend(),
                device_slug=slug, environment=env, benchmarks=records, failures=failures,
                skipped=skipped)
  path = where.json_path(slug, quick)
  path.parent.mkdir(parents=True, exist_ok=True)
  result = merge(read_result(path), result)
  _io.atomic_write_text(path, json.dumps(result, indent=2, default=float) + "\n")
  return result, path


def _command(names, quick: bool) -> str:
  """The command line that measures ``names``."""
  names = [n for n in NAMES if n in names] + [n for n in names if n not in NAMES]
  return ("acajax bench" + (" --quick" if quick else "")
          + ("" if tuple(names) == NAMES else " --only " + ",".join(names)))


def read_result(path: str | Path) -> dict | None:
  """The suite result in ``path``, or None (no file, not JSON, or not a suite result)."""
  try:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
  except (OSError, ValueError):
    return None
  if not isinstance(data, dict) or not data.get("suite") or not isinstance(
      data.get("benchmarks"), dict):
    return None
  return data


def merge(old: dict | None, new: dict) -> dict:
  """A new suite result merged into the old one of the same device.

  The benchmarks of ``new`` replace the entries of the same name; the other
  entries of ``old`` stay, with their own ``measured`` time (the old file's
  ``date`` where an entry lacks one). A benchmark that failed or was skipped
  now keeps its old entry, and its failure is recorded beside it; an old
  failure is dropped once the benchmark runs again. ``old`` from another
  device, schema or mode (quick or full) is replaced, not merged.

  Examples:
    >>> from acajax.bench._suite import merge
    >>> old = dict(suite=1, quick=False, device_slug="h200", date="2026-01-02",
    ...            benchmarks={"sweep": {"throughput": 1}, "exact": {"throughput": 2}},
    ...            failures={}, skipped=[])
    >>> new = dict(suite=1, quick=False, device_slug="h200", date="2026-03-04",
    ...            benchmarks={"exact": {"throughput": 3, "measured": "2026-03-04T10:00:00"}},
    ...            failures={}, skipped=[], command="acajax bench --only exact")
    >>> merged = merge(old, new)
    >>> {name: b["throughput"] for name, b in merged["benchmarks"].items()}
    {'sweep': 1, 'exact': 3}
    >>> merged["benchmarks"]["sweep"]["measured"], merged["command"]
    ('2026-01-02', 'acajax bench --only sweep,exact')
  """
  now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
  for record in new["benchmarks"].values():
    record.setdefault("measured", now)
  same = (isinstance(old, dict) and old.get("suite") == new.get("suite")
          and bool(old.get("quick")) == bool(new.get("quick"))
          and old.get("device_slug") == new.get("device_slug"))
  if not same:
    return new
  ran = set(new["benchmarks"]) | set(new.get("failures", {})) | set(new.get("skipped", []))
  benchmarks = {}
  for name, record in old["benchmarks"].items():
    if name not in new["benchmarks"] and isinstance(record, dict):
      benchmarks[name] = dict(record, measured=record.get("measured", old.get("date")))
  benchmarks.update(new["benchmarks"])
  order = [n for n in NAMES if n in benchmarks] + [n for n in benchmarks if n not in NAMES]
  failures = {name: error for name, error in (old.get("failures") or {}).items()
              if name not in ran}
  failures.update(new.get("failures", {}))
  skipped = [name for name in old.get("skipped") or [] if name not in ran]
  skipped += [name for name in new.get("skipped", []) if name not in skipped]
  merged = dict(old, **{key: value for key, value in new.items()
                        if key not in ("benchmarks", "failures", "skipped")})
  merged.update(benchmarks={name: benchmarks[name] for name in order}, failures=failures,
                skipped=skipped, command=_command(order, bool(new.get("quick"))))
  return merged


def child_main(argv: list[str] | None = None) -> int:
  """The children's entry point: ``python -m acajax.bench --child NAME [--quick]``.

  Prints the record as JSON on its last line (``{"skipped": NAME}`` when the
  benchmark is not available); ``--memory-child E`` prints the peak memory of
  one sweep of 10^E points instead.
  """
  parser = argparse.ArgumentParser(prog="python -m acajax.bench",
                                   description="one benchmark of the suite, in this process")
  group = parser.add_mutually_exclusive_group(required=True)
  group.add_argument("--child", choices=NAMES)
  group.add_argument("--memory-child", type=int, metavar="E")
  parser.add_argument("--quick", action="store_true")
  args = parser.parse_args(argv)
  if args.memory_child is not None:
    print(json.dumps(sweep.memory_run(args.memory_child)))
    return 0
  record = child(args.child, args.quick)
  print(json.dumps(record if record is not None else {"skipped": args.child}, default=float))
  return 0


def is_child(argv: list[str]) -> bool:
  """Whether a command line is a child's (``--child`` or ``--memory-child``)."""
  return any(arg.split("=", 1)[0] in ("--child", "--memory-child") for arg in argv)

