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

Run: ``.venv/bin/python -m benchmarks.bench_statistical [--quick]``. Writes
``benchmarks/results/cpu_statistical.json`` (``--out`` to change) and prints a
one-line summary.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._env import cpu_model, timings  # noqa: E402
from acajax import statistical  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("car_evaluation", ROOT / "examples" /
                                               "car_evaluation.py")
car = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(car)

DELTA, EPS = 0.05, 0.0
TARGETS = np.arange(len(car.LABELS))


def jax_sweep(rows, labels, sizes_n, *, num_test):
  """Raw rows -> (targets, sizes) bounds, all in one jittable function."""
  codes = statistical.dense_signal_codes(rows, car.SIGNAL, sizes=car.SIZES)
  tables = statistical.prefix_count_tables(codes.image, codes.member, labels, sizes_n,
                                           num_support=codes.num_support,
                                           num_labels=len(car.LABELS))
  return statistical.feature_label_bound(
      tables, target=jnp.asarray(TARGETS)[:, None], num_samples=rows.shape[0],
      num_test=num_test, delta=DELTA, eps=EPS, num_signal_points=codes.num_signal_points)


def pandas_sweep(frame: pd.DataFrame, sizes_n, *, num_samples: int, num_test: float) -> np.ndarray:
  """One pass over the table per n (the published code's approach)."""
  features = [c for c in frame.columns if c != "label"]
  set_columns = [features[j] for j in sorted(car.SIGNAL)]
  set_values = [car.SIGNAL[j] for j in sorted(car.SIGNAL)]
  kept = [name for name in features if name not in set_columns]
  num_points = math.prod(car.SIZES[features.index(name)] for name in kept)
  num_labels = len(car.LABELS)
  d = DELTA / (2 + 2 * num_points + 2 * num_points * num_labels)
  radius = lambda k: math.sqrt(math.log(1 / d) / (2 * k)) if k > 0 else 0.0  # noqa: E731
  out = np.empty((len(TARGETS), len(sizes_n)))
  for g, n in enumerate(sizes_n):
    mine = frame.iloc[:n]
    transformed = mine[features].copy()
    transformed[set_columns] = set_values
    signal = transformed.groupby(features).size() / n                       # Q-hat
    on_star = mine[(mine[set_columns] == set_values).all(axis=1)]
    joint = on_star.groupby(features + ["label"]).size() / n                 # P0-hat on X*
    joint = joint.unstack("label", fill_value=0.0).reindex(columns=range(num_labels),
                                                           fill_value=0.0)
    joint = joint.reindex(signal.index, fill_value=0.0).to_numpy()
    q = signal.to_numpy()
    alpha = n / num_samples
    r_n, r_rest, r_test = radius(n), radius(num_samples - n), radius(num_test)
    for t in TARGETS:
      others = np.max(np.delete(joint, t, axis=1), axis=1)
      delta_hat = others - joint[:, t]
      margin = (alpha * (q - 2 * r_n) - (1 - alpha) * (delta_hat + 2 * r_n + 2 * r_rest)
                - EPS / (1 - EPS))
      out[t, g] = np.clip(q[margin > 0].sum() - r_n - r_test, 0.0, 1.0)
  return out


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

  rows, labels = car.car_table(num_samples, seed=2025)
  device_args = (jnp.asarray(rows), jnp.asarray(labels), jnp.asarray(sizes_n))
  start = time.perf_counter()
  compiled = jax.jit(lambda r, y, n: jax_sweep(r, y, n, num_test=num_test)).lower(
      *device_args).compile()
  compile_s = time.perf_counter() - start
  result = jax.block_until_ready(compiled(*device_args))                  # untimed warm-up

  frame = pd.DataFrame(rows, columns=[name for name, *_ in car.COLUMNS])
  frame["label"] = labels
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
      workload=dict(num_samples=num_samples, num_test=num_test, columns=len(car.COLUMNS),
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
