"""Finite-sample workload: the n-sweep of the car figure in one jitted call, against pandas.

Workload: the synthetic 18-column car table
(:func:`acajax.datasets.car_evaluation`), a feature-label signal that
sets 17 columns (|X*| = 5), many collective sizes n and the four targets:
the finite-sample bound of SPEC §9 (delta = 0.05, eps = 0) for every
(target, n) pair, by one jitted function from the raw (N, 18) integer rows:
signal codes, prefix count tables (one ``segment_sum``), bounds
(:func:`jax_sweep`), float64.

Baseline: a straightforward pandas/NumPy implementation that makes one pass
over the table per n, like the published code (which makes one per n *and*
target; this baseline shares each pass between the four targets): take the
first n rows, apply the signal, count the signal points with a ``groupby``
over all 18 columns, count the original data on X*, then evaluate the bound
per target (:func:`pandas_sweep`). Results are checked equal to JAX's.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from acajax import datasets, statistical
from acajax.bench._measure import cost, entry, measure, nbytes, roofline

DELTA, EPS = 0.05, 0.0
TARGETS = np.arange(len(datasets.CAR_LABELS))


def jax_sweep(rows, labels, sizes_n, *, num_test):
  """Raw rows -> (targets, sizes) bounds (SPEC §9), all in one jittable function."""
  codes = statistical.dense_signal_codes(rows, datasets.CAR_SIGNAL, sizes=datasets.CAR_SIZES)
  tables = statistical.prefix_count_tables(codes.image, codes.member, labels, sizes_n,
                                           num_support=codes.num_support,
                                           num_labels=len(datasets.CAR_LABELS))
  return statistical.feature_label_bound(
      tables, target=jnp.asarray(TARGETS)[:, None], num_samples=rows.shape[0],
      num_test=num_test, delta=DELTA, eps=EPS, num_signal_points=codes.num_signal_points)


def pandas_sweep(frame: pd.DataFrame, sizes_n, *, num_samples: int, num_test: float) -> np.ndarray:
  """The same bounds with one pass over the table per n (the published code's approach)."""
  features = [c for c in frame.columns if c != "label"]
  set_columns = [features[j] for j in sorted(datasets.CAR_SIGNAL)]
  set_values = [datasets.CAR_SIGNAL[j] for j in sorted(datasets.CAR_SIGNAL)]
  kept = [name for name in features if name not in set_columns]
  num_points = math.prod(datasets.CAR_SIZES[features.index(name)] for name in kept)
  num_labels = len(datasets.CAR_LABELS)
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


def frame_of(rows: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
  """The table as the pandas baseline reads it: one column per feature, then ``label``."""
  frame = pd.DataFrame(rows, columns=[name for name, *_ in datasets.CAR_COLUMNS])
  frame["label"] = labels
  return frame


def sizes(quick: bool, accelerator: bool) -> dict:
  """Row counts: scaling and headline; the size grid and the baseline's share."""
  scaling = [10_000, 30_000] if quick else [10_000, 100_000, 1_000_000] + (
      [10_000_000, 100_000_000] if accelerator else [])
  return dict(sizes=scaling, headline=scaling[-1], baseline_sizes=3 if quick else 12,
              grid=12 if quick else 60, baseline_rows=min(scaling[-1], 1_000_000))


def benchmark(p: dict, ceiling: dict) -> dict:
  """The suite's finite-sample record (float64)."""
  jax.config.update("jax_enable_x64", True)
  # Sizes are prefixes of one table; beyond 10^7 rows the 10^7-row table is
  # repeated (the work is the same; generating 10^8 rows on the host is slow).
  rows_all, labels_all = datasets.car_evaluation(min(p["headline"], 10_000_000), seed=2025)
  reps = -(-p["headline"] // len(rows_all))
  rows_all, labels_all = np.tile(rows_all, (reps, 1)), np.tile(labels_all, reps)

  def workload(size):
    sizes_n = np.unique(np.geomspace(max(size // 1000, 10), size // 2, p["grid"]).astype(np.int64))
    return rows_all[:size], labels_all[:size], sizes_n, size // 10

  scaling, compiled_at = [], {}
  for size in p["sizes"]:
    rows, labels, sizes_n, num_test = workload(size)
    args = (jnp.asarray(rows), jnp.asarray(labels), jnp.asarray(sizes_n))
    fn = lambda r, y, n, t=num_test: jax_sweep(r, y, n, num_test=t)  # noqa: E731
    stats, compiled = measure(fn, args, 10)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
    if size == p["baseline_rows"]:
      compiled_at = dict(fn=compiled, args=args)
    head_args = args
    del args
  head = scaling[-1]
  rows, labels, sizes_n, num_test = workload(p["baseline_rows"])
  frame = frame_of(rows, labels)
  picked = sizes_n[np.linspace(0, len(sizes_n) - 1, p["baseline_sizes"]).astype(int)]
  start = time.perf_counter()
  expected = pandas_sweep(frame, picked, num_samples=len(rows), num_test=num_test)
  pandas_s = (time.perf_counter() - start) * len(sizes_n) / len(picked)
  got = np.asarray(compiled_at["fn"](*compiled_at["args"]))[:, np.searchsorted(sizes_n, picked)]
  np.testing.assert_allclose(got, expected, atol=1e-10)
  small = (head_args[0][:100_000], head_args[1][:100_000], head_args[2])
  flops, _ = cost(lambda r, y, n: jax_sweep(r, y, n, num_test=num_test), small)
  return entry(
      name="statistical", description="finite-sample n-sweep of the car figure (SPEC §9): raw "
      "rows -> signal codes -> prefix count tables -> bounds, one jitted call", unit="rows",
      dtype="float64",
      shapes=dict(rows=head["size"], columns=rows.shape[1], sizes=p["grid"],
                  targets=len(TARGETS)),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name=f"pandas loop, one pass per n ({len(picked)} of {len(sizes_n)} "
                    f"sizes timed, extrapolated), at {len(rows):,} rows", items=len(rows),
                    median_s=pandas_s, at_size=len(rows)),
      scaling=scaling,
      roofline=roofline(flops / small[0].shape[0], nbytes(head_args) / head["size"],
                        head["throughput"], "float64", ceiling))
