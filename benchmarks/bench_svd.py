"""Surprise's SVD: acajax.svd against scikit-surprise itself, same process.

Workload: MovieLens-100k-sized synthetic ratings (943 users, 1,682 items,
about 100,000 ratings; ``ratings.synthetic``), an 80/20 split, Surprise's
default ``SVD`` (100 factors, 20 epochs, lr 0.005, reg 0.02), float64 as
Surprise.

* one fit: ``surprise.SVD(random_state=s).fit(trainset)`` against
  ``svd.fit`` (compiled and warmed up apart), median of repeats;
* B fits (seeds 0..B-1, as a study grid's repetitions): a Python loop of
  Surprise fits against one ``svd.fit_many`` call (vmapped chunks of B).

Both sides produce the same models (test RMSE printed for both). Needs the
test extra (scikit-surprise). Run:
``.venv/bin/python benchmarks/bench_svd.py [--quick] [--batches 16 64]``;
prints a JSON record and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import numpy as np
import pandas as pd

jax.config.update("jax_enable_x64", True)

from acajax import rating_eval, ratings, svd  # noqa: E402  (after the x64 switch)


def _median_time(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="a small corpus (seconds)")
  parser.add_argument("--batches", type=int, nargs="+", default=[16, 64],
                      help="models per batched call (default: %(default)s)")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args(argv)
  import surprise  # deferred: the reference library is a test-only dependency

  users, items, per_user = (943, 1682, 106) if not args.quick else (100, 150, 20)
  data = ratings.synthetic(num_users=users, num_items=items, ratings_per_user=per_user,
                           seed=0).ratings
  train, test = rating_eval.train_test_split(data.values.size, 0.2, seed=0)
  frame = pd.DataFrame({"u": data.users[train], "i": data.items[train], "r": data.values[train]})
  trainset = surprise.Dataset.load_from_df(
      frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
  triple = (data.users[train], data.items[train], data.values[train])
  size = dict(num_users=data.num_users, num_items=data.num_items)

  record = {"ratings": int(train.size), "device": jax.devices()[0].device_kind}
  surprise_one = _median_time(lambda: surprise.SVD(random_state=0).fit(trainset), args.repeats)
  start = time.perf_counter()
  params = jax.block_until_ready(svd.fit(*triple, **size, random_state=0))
  record["acajax_first_call_s"] = time.perf_counter() - start      # compile + one fit
  acajax_one = _median_time(lambda: svd.fit(*triple, **size, random_state=0), args.repeats)
  algo = surprise.SVD(random_state=0).fit(trainset)
  truth = data.values[test]
  theirs = [algo.predict(u, i).est for u, i in zip(data.users[test], data.items[test])]
  ours = np.asarray(svd.predict(params, data.users[test], data.items[test]))
  record.update(surprise_one_s=surprise_one, acajax_one_s=acajax_one,
                one_fit_speedup=surprise_one / acajax_one,
                rmse_surprise=rating_eval.rmse(truth, theirs), rmse_acajax=rating_eval.rmse(truth, ours))
  rows = [("1", surprise_one, acajax_one)]
  for batch in args.batches:
    seeds = list(range(batch))
    loop = _median_time(lambda: [surprise.SVD(random_state=s).fit(trainset) for s in seeds], 1)
    jax.block_until_ready(svd.fit_many([triple] * batch, **size, random_states=seeds, chunk=batch))
    many = _median_time(lambda: svd.fit_many([triple] * batch, **size, random_states=seeds,
                                             chunk=batch), 1)
    record[f"batch_{batch}"] = {"surprise_loop_s": loop, "acajax_s": many, "speedup": loop / many}
    rows.append((str(batch), loop, many))
  print("| models | Surprise loop (s) | acajax.svd (s) | speed-up |")
  print("| --- | --- | --- | --- |")
  for models, loop, many in rows:
    print(f"| {models} | {loop:.2f} | {many:.2f} | {loop / many:.2f}x |")
  print(json.dumps(record))
  return record


if __name__ == "__main__":
  main()
