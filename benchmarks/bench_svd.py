"""Surprise's SVD: acajax.svd against scikit-surprise itself, same process.

Workload: MovieLens-100k-sized synthetic ratings (943 users, 1,682 items,
about 100,000 ratings; ``ratings.synthetic``), an 80/20 split, Surprise's
default ``SVD`` (100 factors, 20 epochs, lr 0.005, reg 0.02).

* one fit: ``surprise.SVD(random_state=s).fit(trainset)`` against
  ``svd.fit``, median of repeats, in a child process with one JAX device
  (a process split into host devices runs a single computation slower);
* ``seeds``: B fits of the same ratings (seeds 0..B-1);
* ``study``: B fits as in the study's grid, each on its own data: the
  training ratings with one collective planted (10, 20 or 50 random users
  who rate their 10 collectively highest-rated items 5 or 1, in turn), seeds
  0..B-1.

Surprise's side is the strongest a user would run: a loop of fits on
trainsets built beforehand (building them is not timed), and the same loop
split over two worker processes (``multiprocessing``, one per core, each
fitting its half). acajax's side is one ``svd.fit_many`` call on every CPU
core as a JAX device (its default chunks of 32 models, half a chunk per
device; compiled and warmed up apart), in float64 (Surprise's
precision: the same models, test RMSE printed for both) and in float32
(acajax's default without ``jax_enable_x64``). Needs the test extra
(scikit-surprise). Run:
``.venv/bin/python benchmarks/bench_svd.py [--quick] [--batch 64]``;
prints a JSON record and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)
# One fit runs in a child process with one device (extra host devices slow a
# single computation down); the batches use every core as a device.
jax.config.update("jax_num_cpu_devices", 1 if "--one-fit" in sys.argv else os.cpu_count() or 1)

import numpy as np  # noqa: E402  (after the device and x64 switches)
import pandas as pd  # noqa: E402

from acajax import rating_collectives as rc  # noqa: E402
from acajax import rating_eval, ratings, svd  # noqa: E402

_TRAINSETS = []   # the worker processes' trainsets (inherited by fork)


def _median_time(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _fit_range(bounds) -> None:
  import surprise
  for b in range(*bounds):
    surprise.SVD(random_state=b).fit(_TRAINSETS[b])


def _trainset(users, items, values):
  import surprise
  frame = pd.DataFrame({"u": users, "i": items, "r": values})
  return surprise.Dataset.load_from_df(
      frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()


def study_data(base: ratings.Ratings, count: int, seed: int = 0):
  """``count`` training sets of the study's grid: one collective planted in each."""
  rng = np.random.default_rng(seed)
  dense, out = base.dense(), []
  for b in range(count):
    size, archetype = (10, 20, 50)[b % 3], ("promoter", "demoter")[b % 2]
    members = np.sort(rng.choice(base.num_users, size, replace=False))
    targets = rc.collective_top_items(dense, members, 10)
    planted = rc.plant(dense, [rc.RatingCollective(archetype, tuple(targets)).strategy_fn()],
                       [members])
    keep, (users, items, values) = rc.overlay(base, planted, [members])
    keep = keep > 0
    out.append(tuple(np.concatenate([a[keep], e]) for a, e in
                     zip((base.users, base.items, base.values), (users, items, values))))
  return out


def _compare(name: str, data, size, record, rows) -> None:
  global _TRAINSETS
  count = len(data)
  _TRAINSETS = [_trainset(*d) for d in data]
  import surprise
  seeds = list(range(count))
  loop = _median_time(lambda: [surprise.SVD(random_state=b).fit(_TRAINSETS[b])
                               for b in seeds], 1)
  workers = 2
  halves = [(int(a[0]), int(a[-1]) + 1) for a in np.array_split(np.arange(count), workers)
            if a.size]
  with multiprocessing.get_context("fork").Pool(workers) as pool:
    pool.map(_fit_range, [(0, 1)] * workers)          # start-up apart
    parallel = _median_time(lambda: pool.map(_fit_range, halves), 1)
  entry = {"models": count, "surprise_loop_s": loop, "surprise_2_processes_s": parallel}
  for dtype in (np.float64, np.float32):
    fit = lambda: svd.fit_many(data, **size, random_states=seeds, dtype=dtype)
    jax.block_until_ready(fit())
    entry[f"acajax_{np.dtype(dtype).name}_s"] = _median_time(fit, 1)
  record[name] = entry
  rows.append((name, count, loop, parallel, entry["acajax_float64_s"], entry["acajax_float32_s"]))


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="a small corpus (seconds)")
  parser.add_argument("--batch", type=int, default=64,
                      help="models per batched comparison (default: %(default)s)")
  parser.add_argument("--repeats", type=int, default=7, help="repeats of one fit (median)")
  parser.add_argument("--one-fit", action="store_true",
                      help="only the one-fit comparison, on one device (the child's part)")
  args = parser.parse_args(argv)
  import surprise  # deferred: the reference library is a test-only dependency

  users, items, per_user = (943, 1682, 106) if not args.quick else (100, 150, 20)
  data = ratings.synthetic(num_users=users, num_items=items, ratings_per_user=per_user,
                           seed=0).ratings
  train, test = rating_eval.train_test_split(data.values.size, 0.2, seed=0)
  base = ratings.Ratings.from_coo(data.users[train], data.items[train], data.values[train],
                                  data.num_users, data.num_items)
  triple = (base.users, base.items, base.values)
  size = dict(num_users=data.num_users, num_items=data.num_items)

  if not args.one_fit:
    child = subprocess.run([sys.executable, __file__, "--one-fit", "--repeats", str(args.repeats)]
                           + ["--quick"] * args.quick, capture_output=True, text=True, check=True)
    record = json.loads(child.stdout.strip().splitlines()[-1])
    record["devices"] = len(jax.devices())
    rows = [("one fit (1 device)", 1, record["surprise_one_s"], float("nan"),
             record["acajax_one_float64_s"], record["acajax_one_float32_s"])]
    _compare("seeds", [triple] * args.batch, size, record, rows)
    _compare("study", study_data(base, args.batch), size, record, rows)
    print("| workload | models | Surprise loop (s) | Surprise, 2 processes (s) | acajax float64 "
          "(s) | acajax float32 (s) | float64 vs loop | float32 vs loop | float32 vs 2 processes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, count, loop, parallel, f64, f32 in rows:
      vs_parallel = "" if np.isnan(parallel) else f"{parallel / f32:.2f}x"
      print(f"| {name} | {count} | {loop:.2f} | {'' if np.isnan(parallel) else f'{parallel:.2f}'} "
            f"| {f64:.2f} | {f32:.2f} | {loop / f64:.2f}x | {loop / f32:.2f}x | {vs_parallel} |")
    print(json.dumps(record))
    return record

  record = {"ratings": int(train.size), "device": jax.devices()[0].device_kind}
  trainset = _trainset(*triple)
  surprise_one = _median_time(lambda: surprise.SVD(random_state=0).fit(trainset), args.repeats)
  start = time.perf_counter()
  params = jax.block_until_ready(svd.fit(*triple, **size, random_state=0))
  record["acajax_first_call_s"] = time.perf_counter() - start      # compile + one fit
  one = {np.dtype(d).name: _median_time(lambda: svd.fit(*triple, **size, random_state=0,
                                                        dtype=d), args.repeats)
         for d in (np.float64, np.float32)}
  algo = surprise.SVD(random_state=0).fit(trainset)
  truth = data.values[test]
  theirs = [algo.predict(u, i).est for u, i in zip(data.users[test], data.items[test])]
  ours = np.asarray(svd.predict(params, data.users[test], data.items[test]))
  record.update(surprise_one_s=surprise_one, acajax_one_float64_s=one["float64"],
                acajax_one_float32_s=one["float32"],
                rmse_surprise=rating_eval.rmse(truth, theirs),
                rmse_acajax=rating_eval.rmse(truth, ours),
                max_prediction_difference=float(np.max(np.abs(ours - np.asarray(theirs)))))
  print(json.dumps(record))
  return record


if __name__ == "__main__":
  main()
