"""Learner throughput: many flax logistic models in one vmapped call (issue 8).

Workload: 256 logistic-regression models on scikit-learn's bundled digits
(8×8 images, 10 labels), each on its own planted training set: 16 seeds ×
16 masses of a collective that plants a 4-pixel pattern with target 0
(feature-label). 1,397 training images, 400 held out. Every learner
minimises mean cross-entropy + l2 * ||W||^2 (l2 = 1e-3).

* JAX vmapped: ``learners.train_many`` — all models in one jitted call
  (full-batch Adam, ``STEPS`` steps in ``lax.scan``), with the default
  chunking (on CPU ``lax.map`` walks chunks of one vmapped model) and as one
  wide vmap over all models. Compile time is
  measured apart (ahead-of-time ``lower().compile()``), then one untimed
  warm-up, then the median of timed repeats ending in ``block_until_ready``.
* JAX one at a time: the same jitted training function with one model per
  call, in a Python loop (compiled and warmed up apart).
* scikit-learn: ``LogisticRegression`` (lbfgs, C = 1 / (2 l2 N), the same
  objective) fitted in a loop on the same planted data.

Baselines are timed on the first ``BASELINE_MODELS`` models and reported as
models per second; accuracies (held-out clean accuracy and the collective's
success, averaged over the models each method trained) are reported for
both so that "the same accuracy" can be checked.

Run: ``.venv/bin/python -m benchmarks.bench_learners [--quick]``. Writes
``benchmarks/results/cpu_learners.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._env import cpu_model  # noqa: E402
from acajax import datasets, learners, planting

ROOT = Path(__file__).resolve().parent.parent
STEPS = 100
L2 = 1e-3
PATTERN = [(0, 0), (0, 7), (7, 0), (7, 7)]


def make_data(num_models: int):
  """Planted training sets (B, N, 64), labels (B, N), clean and signal test sets."""
  data = datasets.digits()
  order = np.random.default_rng(0).permutation(len(data))
  train, test = data.subset(order[:1397]), data.subset(order[1397:])
  signal = datasets.pixel_signal(PATTERN)
  masses = np.linspace(0.005, 0.08, 16)
  xs, ys = [], []
  for i in range(num_models):
    col = planting.Collective(float(masses[i % 16]), 0, signal)
    x, y, _ = planting.plant(train.x, train.y, [col], rng=i // 16)
    xs.append(train.featurize(x))
    ys.append(y)
  return (np.stack(xs), np.stack(ys), test.featurize(test.x), test.y,
          test.featurize(signal(test.x)))


def _median_time(fn, repeats):
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="32 models, fewer repeats")
  parser.add_argument("--steps", type=int, default=STEPS,
                      help="Adam steps per model (default %(default)s; 50 already reaches "
                           "scikit-learn's accuracy)")
  parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cpu_learners.json"))
  args = parser.parse_args(argv)
  num_models = 32 if args.quick else 256
  baseline_models = 8 if args.quick else 32
  repeats = 2 if args.quick else 3

  x, y, x_test, y_test, x_signal = make_data(num_models)
  num = x.shape[1]
  config = learners.TrainConfig(steps=args.steps, learning_rate=0.1, l2=L2)
  keys = jax.random.split(jax.random.key(0), num_models)
  graphdef, params = learners.init_models("logistic", 64, 10, keys)
  xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)
  wj = jnp.ones(y.shape, jnp.float32)
  train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)

  # JAX: one jitted call for every model, with the default chunking
  # (learners.default_chunk) and as one wide vmap.
  variants = {}
  for label, chunk in (("default", learners.default_chunk()), ("wide_vmap", None)):
    fn = learners._trainer(graphdef, 10, config, True, chunk)
    start = time.perf_counter()
    compiled = fn.lower(params, xj, yj, wj, train_keys).compile()
    compile_s = time.perf_counter() - start
    run = lambda: jax.block_until_ready(compiled(params, xj, yj, wj, train_keys))  # noqa: E731
    run()
    variants[label] = {"chunk": chunk, "compile_s": compile_s,
                       "median_s": _median_time(run, repeats)}
    variants[label]["models_per_s"] = num_models / variants[label]["median_s"]
    if label == "default":
      trained = learners.Trained(graphdef, *compiled(params, xj, yj, wj, train_keys))
  fn = learners._trainer(graphdef, 10, config, True)
  compile_vmapped = variants["default"]["compile_s"]
  t_vmapped = variants["default"]["median_s"]

  # JAX, one model per call.
  one = lambda i: jax.tree.map(lambda v: v[i:i + 1], params)  # noqa: E731
  start = time.perf_counter()
  compiled_one = fn.lower(one(0), xj[:1], yj[:1], wj[:1], train_keys[:1]).compile()
  compile_one = time.perf_counter() - start

  def loop():
    for i in range(baseline_models):
      jax.block_until_ready(compiled_one(one(i), xj[i:i + 1], yj[i:i + 1], wj[i:i + 1],
                                         train_keys[i:i + 1]))
  loop()
  t_loop = _median_time(loop, repeats)

  # scikit-learn, same objective, same data.
  from sklearn.linear_model import LogisticRegression
  import sklearn

  def fit_sklearn():
    models = []
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      for i in range(baseline_models):
        models.append(LogisticRegression(C=1 / (2 * L2 * num), max_iter=200).fit(x[i], y[i]))
    return models
  sk_models = fit_sklearn()
  t_sklearn = _median_time(fit_sklearn, repeats)

  pred_clean = learners.predict_many(trained, x_test)
  pred_signal = learners.predict_many(trained, x_signal)
  jax_acc = float(np.mean(pred_clean[:baseline_models] == y_test))
  jax_success = float(np.mean(pred_signal[:baseline_models] == 0))
  sk_acc = float(np.mean([np.mean(m.predict(x_test) == y_test) for m in sk_models]))
  sk_success = float(np.mean([np.mean(m.predict(x_signal) == 0) for m in sk_models]))

  rate_vmapped = num_models / t_vmapped
  rate_loop = baseline_models / t_loop
  rate_sklearn = baseline_models / t_sklearn
  result = {
      "workload": {"models": num_models, "train_samples": num, "features": 64, "labels": 10,
                   "steps": args.steps, "l2": L2, "baseline_models": baseline_models,
                   "repeats": repeats, "quick": args.quick},
      "jax_vmapped": variants["default"],
      "jax_wide_vmap": variants["wide_vmap"],
      "jax_one_at_a_time": {"compile_s": compile_one, "median_s": t_loop,
                            "models_per_s": rate_loop},
      "sklearn_loop": {"median_s": t_sklearn, "models_per_s": rate_sklearn},
      "ratio_vs_one_at_a_time": rate_vmapped / rate_loop,
      "ratio_vs_sklearn": rate_vmapped / rate_sklearn,
      "wide_vmap_ratio_vs_sklearn": variants["wide_vmap"]["models_per_s"] / rate_sklearn,
      "accuracy": {"jax_clean": jax_acc, "sklearn_clean": sk_acc, "jax_success": jax_success,
                   "sklearn_success": sk_success, "over_models": baseline_models},
      "device": {"backend": jax.default_backend(), "cpu": cpu_model(),
                 "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count()},
      "versions": {"jax": jax.__version__, "sklearn": sklearn.__version__,
                   "python": sys.version.split()[0]},
  }
  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(result, indent=2) + "\n")
  print(f"{num_models} logistic models on digits: vmapped {rate_vmapped:.1f} models/s "
        f"(compile {compile_vmapped:.2f} s), one at a time {rate_loop:.1f} models/s "
        f"({result['ratio_vs_one_at_a_time']:.1f}x), scikit-learn {rate_sklearn:.1f} models/s "
        f"({result['ratio_vs_sklearn']:.1f}x); clean accuracy JAX {jax_acc:.3f} vs "
        f"scikit-learn {sk_acc:.3f}, success JAX {jax_success:.3f} vs {sk_success:.3f} -> {out}")
  return result


if __name__ == "__main__":
  main()
