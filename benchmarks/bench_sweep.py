"""Sweep throughput on CPU: acajax.sweep vs NumPy chunked broadcasting and a Python loop.

Workload: two feature-label collectives (opposed targets), Theorem 1 for
each (SPEC §4), S_min and S_w (SPEC §7), over a 4-axis grid
alpha[0] x alpha[1] x xi x eps (xi_c = 0.01, delta = 0.5 fixed), reduced over
(xi, eps) with min, max and argmin: the worst, best and arg-worst case over
the overlap and the classifier's suboptimality for every pair of masses.

* acajax: ``sweep.run`` on the spec in float32 (its default), one device,
  the process pinned to one core like the NumPy baseline.
  Compile time is measured apart (``SweepResult.compile_s`` of the first run,
  ahead-of-time ``lower().compile()``); that first run is the untimed
  warm-up; reported: the median over repeats of wall time (minus the compile
  cache look-up), which includes all host work (validation, chunk control,
  folding results into the accumulator, building the table).
* NumPy chunked broadcasting, same run: the same formula with the same
  domain checks, clipping, corollaries and reductions, on blocks of
  alpha[0] rows (about the same 2**22 points per block as the sweep's
  chunks), with broadcasting — so what depends on few axes is computed on
  small arrays, as NumPy users write it. In float64 (NumPy's default) and in
  float32. Wall and process CPU seconds are both recorded.
* Per-point Python loops (how the published ACA code computes its curves),
  a few thousand points timed and the rate extrapolated: a tight loop of
  pure-Python ``math`` (the fastest per-point Python), and a loop calling the
  NumPy formula above once per point on scalars (the usual way a formula
  written for NumPy is turned into a curve).
* The same sweeps with the host split into one JAX device per core (what
  ``acajax sweep`` does by default; ``XLA_FLAGS=--xla_force_host_platform_device_count``),
  in a fresh process, and there the 10^10-point sweep of the same spec (axes
  1000 x 1000 x 100 x 100, reduced to 10^6 rows), once: wall time and peak
  RSS of that process (``resource.getrusage`` ru_maxrss).

What makes the sweep fast (compared with ``jax.vmap`` over materialised
points, which is about 1.7x NumPy): a chunk is a block of kept points x
reduced points whose axis values are gathered per row and per column, never
per point, so row-only subexpressions are loop-invariant and XLA hoists them
(NumPy's broadcasting gets the same hoisting); the reduction is a running,
elementwise fold over steps of about 4K points, so the chunk is never
materialised and the formulas run once, in cache, in one fused pass; the
collective axis is unrolled (no trailing axis of size M); float32. Blocks of
about 4K points also keep each XLA loop fusion on one thread: larger ones get
split across the cores at every step, and those hand-offs cost more than they
gain (badly so when other processes share the cores). The cores are used
instead as separate JAX devices, each walking its own share of the chunk.

The workload, the NumPy baseline and the timing loops are those of
``acajax bench`` (:mod:`acajax.bench._workloads.sweep`); this script adds the
per-point loops, float32 NumPy and the split-device runs.

Run: ``.venv/bin/python -m benchmarks.bench_sweep [--quick]``. Writes
``benchmarks/results/cpu_sweep.json`` (``--out`` to change) and prints a
summary; ``--quick`` stops at 10^7 points and skips the 10^10 run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import jaxlib
import numpy as np
import pandas

from acajax import sweep
from acajax.bench._env import cpu_model
from acajax.bench._workloads.sweep import (DELTA, XI_C, check_agreement, make_spec,
                                           np_feature_label, time_numpy, time_sweep)

ROOT = Path(__file__).resolve().parent.parent
HUGE = (1000, 1000, 100, 100)


# -- a per-point Python loop ------------------------------------------------------------


def _py_feature_label(alpha, total, xi, eps):
  misaligned = total - alpha
  if not (0 <= eps < 0.5 and alpha > 0 and total < 1 and misaligned >= -1e-12 and 0 <= xi <= 1):
    return math.nan
  value = (1 - XI_C * (DELTA + 2 * eps) / (1 - 2 * eps) * (1 - total) / alpha
           - xi * (1 + 2 * eps) / (1 - 2 * eps) * misaligned / alpha)
  return min(max(value, 0.0), 1.0)


def python_loop_rate(spec: sweep.SweepSpec, points: int) -> float:
  """Points per second of a per-point Python loop with the same reductions."""
  axes = [axis.to_numpy().tolist() for axis in spec.axes.values()]
  best = {}
  start = time.perf_counter()
  for count, (a0, a1, xi, eps) in enumerate(itertools.product(*axes)):
    if count == points:
      break
    total = a0 + a1
    b0, b1 = _py_feature_label(a0, total, xi, eps), _py_feature_label(a1, total, xi, eps)
    s_min = min(b0, b1)
    s_w = (a0 * b0 + a1 * b1) / total
    key = (a0, a1)
    low, high, arg, wlow, whigh = best.get(key, (math.inf, -math.inf, -1, math.inf, -math.inf))
    if s_min < low:
      low, arg = s_min, count
    best[key] = (low, max(high, s_min), arg, min(wlow, s_w), max(whigh, s_w))
  return points / (time.perf_counter() - start)


def numpy_scalar_loop_rate(spec: sweep.SweepSpec, points: int) -> float:
  """Points per second of a per-point loop calling the NumPy formula on scalars.

  The usual way curves get computed from a formula written for NumPy: one call
  per grid point (here ``np_feature_label`` on 0-d float64 arrays).
  """
  axes = [axis.to_numpy() for axis in spec.axes.values()]
  xi_c, delta, zero = np.float64(XI_C), np.float64(DELTA), np.float64(0)
  low = {}
  start = time.perf_counter()
  for count, (a0, a1, xi, eps) in enumerate(itertools.product(*axes)):
    if count == points:
      break
    total = a0 + a1
    b0 = np_feature_label(a0, total, zero, xi_c, xi, delta, eps)
    b1 = np_feature_label(a1, total, zero, xi_c, xi, delta, eps)
    s_min = np.minimum(b0, b1)
    key = (a0, a1)
    low[key] = min(low.get(key, np.inf), s_min)
  return points / (time.perf_counter() - start)


def child(args) -> None:
  """Runs in a fresh process (with its own device count); prints JSON."""
  grids = [tuple(int(v) for v in g.split("x")) for g in args.child_grids.split(",") if g]
  out = dict(devices=len(jax.devices()), sweeps=[])
  for sizes in grids:
    spec = make_spec(sizes)
    run_s, compile_s, last, _ = time_sweep(spec, repeats=3)
    out["sweeps"].append(dict(shape=list(sizes), points=spec.num_points, median_s=run_s,
                              compile_s=compile_s, points_per_s=spec.num_points / run_s,
                              num_devices=last.plan.num_devices))
  if args.child_huge:
    spec = make_spec(HUGE)
    result = sweep.run(spec, progress=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["huge"] = dict(shape=list(HUGE), points=spec.num_points, rows=len(result.table),
                       chunks=result.plan.num_chunks, wall_s=result.wall_s,
                       compile_s=result.compile_s, peak_rss_mb=peak_kb / 1024,
                       num_devices=result.plan.num_devices,
                       points_per_s=spec.num_points / (result.wall_s - result.compile_s))
  print(json.dumps(out))


def run_child(devices: int, grids, huge: bool) -> dict:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  command = [sys.executable, "-m", "benchmarks.bench_sweep", "--child-grids",
             ",".join("x".join(map(str, g)) for g in grids)] + (["--child-huge"] if huge else [])
  done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
  return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="10^7 points, no 10^10 run")
  parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cpu_sweep.json"))
  parser.add_argument("--child-grids", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--child-huge", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child_grids is not None:
    child(args)
    return {}

  load_before = os.getloadavg()
  grids = [(1000, 100, 10, 10)] if args.quick else [(1000, 1000, 10, 10), (1000, 1000, 100, 10)]
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  loop_rate = python_loop_rate(make_spec(grids[0]), 3000 if args.quick else 5000)
  scalar_rate = numpy_scalar_loop_rate(make_spec(grids[0]), 2000 if args.quick else 3000)
  # One host device per core, as `acajax sweep` sets up by default (fresh process).
  split = run_child(cores, grids, huge=not args.quick) if cores > 1 else None
  # The one-device comparisons run on one core, sweep and NumPy alike (JAX
  # starts its threads after this, and they inherit it): a like-for-like
  # ratio that other processes on the machine disturb less.
  pinned = None
  if hasattr(os, "sched_setaffinity") and cores > 1:
    pinned = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {pinned})
  rows = []
  for index, sizes in enumerate(grids):
    spec = make_spec(sizes)
    points = spec.num_points
    big = points >= 10**9
    run_s, compile_s, last, run_cpu = time_sweep(spec, repeats=3)
    np64_s, np64_cpu = time_numpy(spec, np.float64, repeats=1 if big else 3)
    np32_s, np32_cpu = time_numpy(spec, np.float32, repeats=1 if big else 3)
    row = dict(
        shape=list(sizes), points=points, dtype=spec.dtype,
        chunk_points=last.plan.rows * last.plan.cols, chunks=last.plan.num_chunks,
        compile_s=round(compile_s, 3), median_s=round(run_s, 4),
        points_per_s=points / run_s,
        max_abs_diff_vs_numpy_float64=None if big else check_agreement(spec, last.table),
        baselines=dict(numpy_float64_s=round(np64_s, 3), numpy_float32_s=round(np32_s, 3),
                       numpy_float64_points_per_s=points / np64_s,
                       numpy_float32_points_per_s=points / np32_s,
                       python_loop_points_per_s=loop_rate,
                       python_loop_s_extrapolated=points / loop_rate,
                       numpy_scalar_loop_points_per_s=scalar_rate,
                       numpy_scalar_loop_s_extrapolated=points / scalar_rate),
        ratios=dict(vs_numpy_float64=np64_s / run_s, vs_numpy_float32=np32_s / run_s,
                    vs_python_loop=(points / loop_rate) / run_s,
                    vs_numpy_scalar_loop=(points / scalar_rate) / run_s),
        # Process CPU seconds: less sensitive than wall time to other processes
        # sharing the cores (the sweep's count includes its host thread).
        cpu_s=dict(sweep=round(run_cpu, 4), numpy_float64=round(np64_cpu, 3),
                   numpy_float32=round(np32_cpu, 3)),
        cpu_ratios=dict(vs_numpy_float64=np64_cpu / run_cpu, vs_numpy_float32=np32_cpu / run_cpu))
    text = (f"{points:.0e} points, 1 device: {run_s:.3f} s ({row['points_per_s']:.3g} pt/s, "
            f"compile {compile_s:.2f} s); NumPy f64 {np64_s:.2f} s -> "
            f"{row['ratios']['vs_numpy_float64']:.1f}x, f32 {np32_s:.2f} s -> "
            f"{row['ratios']['vs_numpy_float32']:.1f}x; loops: pure Python -> "
            f"{row['ratios']['vs_python_loop']:.0f}x, NumPy scalars -> "
            f"{row['ratios']['vs_numpy_scalar_loop']:.0f}x; by CPU time: NumPy f64 "
            f"{row['cpu_ratios']['vs_numpy_float64']:.1f}x, f32 "
            f"{row['cpu_ratios']['vs_numpy_float32']:.1f}x")
    if split is not None:
      other = split["sweeps"][index]
      row[f"split_{cores}_devices"] = dict(
          median_s=round(other["median_s"], 4), compile_s=round(other["compile_s"], 3),
          points_per_s=other["points_per_s"],
          ratios=dict(vs_numpy_float64=np64_s / other["median_s"],
                      vs_numpy_float32=np32_s / other["median_s"],
                      vs_python_loop=(points / loop_rate) / other["median_s"],
                      vs_numpy_scalar_loop=(points / scalar_rate) / other["median_s"]))
      r = row[f"split_{cores}_devices"]["ratios"]
      text += (f"\n    {cores} host devices: {other['median_s']:.3f} s -> NumPy f64 "
               f"{r['vs_numpy_float64']:.1f}x, f32 {r['vs_numpy_float32']:.1f}x, pure Python "
               f"{r['vs_python_loop']:.0f}x, NumPy scalars {r['vs_numpy_scalar_loop']:.0f}x")
    rows.append(row)
    print(text, flush=True)

  huge = None if split is None else split.get("huge")
  if huge is not None:
    print(f"1e10 points, {huge['num_devices']} devices: {huge['wall_s']:.1f} s wall "
          f"({huge['points_per_s']:.3g} pt/s), peak RSS {huge['peak_rss_mb']:.0f} MB", flush=True)

  result = dict(
      benchmark="bench_sweep", quick=args.quick,
      device=dict(backend=jax.default_backend(), devices=[str(d) for d in jax.devices()],
                  cpu=cpu_model(), cpu_count=os.cpu_count(), cores_available=cores,
                  load_average_before=load_before, load_average_after=os.getloadavg(),
                  one_device_runs_pinned_to_core=pinned),
      versions=dict(jax=jax.__version__, jaxlib=jaxlib.__version__, numpy=np.__version__,
                    pandas=pandas.__version__, python=platform.python_version()),
      workload="M=2 feature-label (Theorem 1), S_min and S_w, reduced over (xi, eps) with "
               "min, max, argmin; float32 sweep vs NumPy float64/float32 broadcasting",
      results=rows, sweep_1e10=huge,
      peak_rss_mb=None if huge is None else huge["peak_rss_mb"])
  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(result, indent=2) + "\n")
  print(f"wrote {out}")
  return result


if __name__ == "__main__":
  main()
