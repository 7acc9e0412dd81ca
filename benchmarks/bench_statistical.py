"""The n-sweep of the car-evaluation figure: one jitted call vs a pandas loop over n.

Workload: the synthetic 18-column car table of ``examples/car_evaluation.py``
(N = 10^6 platform samples, N_test = 10^5), a feature-label signal that sets
17 columns (|X*| = 5), 60 collective sizes n from 1,000 to 500,000 and four
targets: the finite-sample bound of SPEC §9 (delta = 0.05, eps = 0) for all
240 (target, n) pairs.

* JAX: one jitted function from the raw (N, 18) integer rows to the (4, 60)
  bounds: signal codes, prefix count tables (one ``segment_sum``), bounds.
  Compile time is measured apart (``lower().compile()``), then one untimed
  warm-up, then the median of timed repeats with ``block_until_ready``,
  interleaved with the baseline's repeats (same load on a shared machine).
* Baseline, same run: a straightforward pandas/NumPy implementation that makes
  one pass over the table per n, like the published code (which makes one per
  n *and* target; this baseline shares each pass between the four targets):
  take the first n rows, apply the signal, count the signal points with a
  ``groupby`` over all 18 columns, count the original data on X*, then
  evaluate the bound per target. Results are checked equal to JAX's.

Workload and baseline are those of ``acajax bench``
(:mod:`acajax.bench._workloads.statistical`, with the package's copy of the
car table); this script times them at one size, interleaved.

Run: ``.venv/bin/python -m benchmarks.bench_statistical [--quick]``. Writes
``benchmarks/results/cpu_statistical.json`` (``--out`` to change) and prints a
one-line summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from acajax import datasets
from acajax.bench._env import cpu_model, timings
from acajax.bench._workloads.statistical import (DELTA, EPS, TARGETS, frame_of, jax_sweep,
                                                 pandas_sweep)

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true",
                      help="N = 10^5, 12 sizes, fewer repeats (a smoke run, not a measurement)")
  parser.add_argument("--repeats", type=int, default=None,
                      help="timed JAX repeats after each baseline repeat")
  parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                      "cpu_statistical.json")
  args = parser.parse_args(argv)
  num_samples, num_test, grid = (100_000, 10_000, 12) if args.quick else (1_000_000, 100_000, 60)
  repeats = args.repeats or (5 if args.quick else 10)
  baseline_repeats = 1 if args.quick else 5
  sizes_n = np.unique(np.geomspace(num_samples // 1000, num_samples // 2, grid).astype(np.int64))

  rows, labels = datasets.car_evaluation(num_samples, seed=2025)
  device_args = (jnp.asarray(rows), jnp.asarray(labels), jnp.asarray(sizes_n))
  start = time.perf_counter()
  compiled = jax.jit(lambda r, y, n: jax_sweep(r, y, n, num_test=num_test)).lower(
      *device_args).compile()
  compile_s = time.perf_counter() - start
  result = jax.block_until_ready(compiled(*device_args))                  # untimed warm-up

  frame = frame_of(rows, labels)
  # Interleaved rounds, so both are timed under the same load (shared machines).
  jax_times, baseline_times = [], []
  for _ in range(baseline_repeats):
    start = time.perf_counter()
    expected = pandas_sweep(frame, sizes_n, num_samples=num_samples, num_test=num_test)
    baseline_times.append(time.perf_counter() - start)
    jax_times += timings(lambda: compiled(*device_args), repeats)
  np.testing.assert_allclose(np.asarray(result), expected, atol=1e-10)     # same answers

  jax_s, base_s = statistics.median(jax_times), statistics.median(baseline_times)
  report = dict(
      benchmark="statistical_n_sweep", quick=args.quick,
      workload=dict(num_samples=num_samples, num_test=num_test, columns=len(datasets.CAR_COLUMNS),
                    num_signal_points=5, sizes=len(sizes_n), targets=len(TARGETS),
                    n_min=int(sizes_n[0]), n_max=int(sizes_n[-1]), delta=DELTA, eps=EPS),
      jax=dict(compile_s=compile_s, median_s=jax_s, min_s=min(jax_times),
               repeats=len(jax_times)),
      pandas=dict(median_s=base_s, min_s=min(baseline_times), repeats=baseline_repeats,
                  per_n_s=base_s / len(sizes_n)),
      ratio_vs_pandas=base_s / jax_s,
      ratio_of_minima=min(baseline_times) / min(jax_times),
      device=str(jax.devices()[0]), cpu=cpu_model(), cpu_count=os.cpu_count(),
      versions=dict(python=platform.python_version(), jax=jax.__version__,
                    numpy=np.__version__, pandas=pd.__version__),
      x64=bool(jax.config.jax_enable_x64))
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(json.dumps(report, indent=2) + "\n")
  print(f"n-sweep of the car figure ({len(sizes_n)} sizes x {len(TARGETS)} targets, "
        f"N = {num_samples:,}): JAX {jax_s * 1e3:.1f} ms (compile {compile_s:.2f} s), "
        f"pandas per-n loop {base_s:.2f} s -> {report['ratio_vs_pandas']:.0f}x "
        f"(medians; {report['ratio_of_minima']:.0f}x on minima); wrote {args.out}")
  return report


if __name__ == "__main__":
  main()
