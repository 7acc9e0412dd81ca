"""Finite-sample bounds on a synthetic car-evaluation table (SPEC §9).

The shape of Gauthier, Bach and Jordan's car-evaluation figure, on a synthetic
table generated here with a fixed seed: 18 categorical columns (model, fuel,
..., bluetooth) and a 4-level evaluation (Excellent, Good, Average, Poor). A
collective of the first n of N = 10^6 platform samples plants a feature-label
signal that sets every column except the country of manufacture (so X* has 5
points, one per country) and relabels its data with the target. For n from
1,000 to 500,000 and each of the four targets the script computes, in one
jitted call, the bound of SPEC §9 (delta = 0.05, eps = 0) and the success of
the plug-in (Bayes) classifier of the platform's training data, measured on
N_test = 10^5 fresh test points. The bounds are staircases: each step is one
signal point (country) crossing its planting threshold; they stay below the
classifier's success at every n.

Run it::

  .venv/bin/python examples/car_evaluation.py [--out DIR] [--quick]

Writes ``car_evaluation.csv``, ``car_evaluation.png`` and ``meta.json`` (the
run's arguments, seed, versions, devices and command line) into the output
folder.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from acajax import datasets, statistical
from acajax.runs import _script, finite_sample

NAME = "car_evaluation"
DEFAULT_OUT = "car-evaluation"
SEED = 2025   # the synthetic table (train and test rows)

COLUMNS, SIZES, LABELS, SIGNAL = (datasets.CAR_COLUMNS, datasets.CAR_SIZES, datasets.CAR_LABELS,
                                  datasets.CAR_SIGNAL)
car_table = datasets.car_evaluation


def curves(rows, labels, test_rows, test_labels, sizes_n, *, delta: float, eps: float):
  """Bounds and classifier success for every n and target: (4, G) each (jittable)."""
  num_samples, num_test = rows.shape[0], test_rows.shape[0]
  codes = statistical.dense_signal_codes(rows, SIGNAL, sizes=SIZES)
  count = dict(num_support=codes.num_support, num_labels=len(LABELS))
  collective = statistical.prefix_count_tables(codes.image, codes.member, labels, sizes_n,
                                               **count)
  everyone = statistical.count_tables(codes.image, codes.member, labels, **count)
  rest = statistical.CountTables(*(whole - part for whole, part in zip(everyone, collective)))
  test_codes = statistical.dense_signal_codes(test_rows, SIGNAL, sizes=SIZES)
  test = statistical.count_tables(test_codes.image, test_codes.member, test_labels, **count)
  targets = jnp.arange(len(LABELS))[:, None]
  bound = statistical.feature_label_bound(
      collective, target=targets, num_samples=num_samples, num_test=num_test, delta=delta,
      eps=eps, num_signal_points=codes.num_signal_points)
  success = statistical.empirical_success(collective, rest, test, target=targets, eps=eps)
  return bound, success


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Computes the curves, prints a table and writes ``car_evaluation.{csv,png}``.

  Args:
    out_dir: output folder (also gets ``meta.json``).
    quick: N = 20,000, N_test = 5,000, 8 sizes (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with ``sizes_n``, ``bound`` and ``success`` ((4, G) arrays), the
    ``frame`` (pandas) and the ``paths`` written.
  """
  jax.config.update("jax_enable_x64", True)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  num_samples, num_test = (20_000, 5_000) if quick else (1_000_000, 100_000)
  delta, eps = 0.05, 0.0
  top = num_samples // 2
  sizes_n = np.unique(np.geomspace(num_samples // 1000, top, 8 if quick else 60).astype(np.int64))
  rows, labels = car_table(num_samples + num_test, seed=SEED)
  args = (rows[:num_samples], labels[:num_samples], rows[num_samples:], labels[num_samples:],
          sizes_n)
  fn = jax.jit(lambda *a: curves(*a, delta=delta, eps=eps))
  start = time.perf_counter()
  bound, success = jax.block_until_ready(fn(*args))
  first = time.perf_counter() - start
  start = time.perf_counter()
  jax.block_until_ready(fn(*args))
  again = time.perf_counter() - start
  bound, success = np.asarray(bound), np.asarray(success)

  frame = pd.DataFrame({"n": sizes_n})
  for k, name in enumerate(LABELS):
    frame[f"bound_{name}"] = bound[k]
    frame[f"success_{name}"] = success[k]
  csv_path = out_dir / "car_evaluation.csv"
  frame.to_csv(csv_path, index=False)
  png_path = finite_sample.plot_curves(
      sizes_n, dict(zip(LABELS, bound)), out_dir / "car_evaluation.png",
      success=dict(zip(LABELS, success)),
      title=f"Feature-label signal, $N$ = {num_samples:,}, $N_{{test}}$ = {num_test:,}, "
            rf"$\delta$ = {delta:g}, $\varepsilon$ = {eps:g}")
  below = bool(np.all(bound <= success))
  print(f"{len(sizes_n)} sizes x {len(LABELS)} targets in {first:.2f} s (with compilation), "
        f"{again * 1e3:.1f} ms once compiled; bound <= classifier success everywhere: {below}")
  shown = frame.iloc[np.linspace(0, len(frame) - 1, min(len(frame), 10)).astype(int)]
  print(shown.round(3).to_string(index=False))
  _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                     seeds={"car_table": SEED}, argv=argv)
  return dict(sizes_n=sizes_n, bound=bound, success=success, frame=frame,
              paths=[csv_path, png_path])


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
