"""Learner throughput: many flax logistic models in one jitted call.

Workload: 256 logistic-regression models on scikit-learn's bundled digits
(8×8 images, 10 labels), each on its own planted training set: 16 seeds ×
16 masses of a collective that plants a 4-pixel pattern with target 0
(feature-label). 1,397 training images, 400 held out. Every learner
minimises mean cross-entropy + l2 * ||W||^2 (l2 = 1e-3).

* JAX, one call: ``learners.train_many``'s trainer (full-batch Adam,
  ``STEPS`` steps in ``lax.scan``), with the models split over every CPU
  core as a JAX device (``_env.split_cpu``, what ``acajax validate`` does),
  on one device, and as one wide vmap on one device. Compile time is measured
  apart (ahead-of-time ``lower().compile()``), then one untimed warm-up, then
  the median of timed repeats ending in ``block_until_ready``.
* JAX one at a time: the same jitted trainer with one model per call, in a
  Python loop (compiled and warmed up apart).
* scikit-learn: ``LogisticRegression`` (lbfgs, C = 1 / (2 l2 N), the same
  objective) fitted in a loop on the same planted data, to its default
  tolerance, and stopped at the fewest iterations of ``SKLEARN_ITERS`` that
  reach the accuracy of that converged fit (the stricter baseline).

Baselines are timed on the first ``BASELINE_MODELS`` models and reported as
models per second. "The same accuracy" is checked, not assumed: held-out
clean accuracy and the collective's success, averaged over those models, are
reported for every method, and ``same_accuracy`` says whether JAX's clean
accuracy is within ``ACCURACY_TOLERANCE`` of (or above) converged
scikit-learn's. ``STEPS`` = 50 is the fewest of 20, 30, 40, 50 that does so
(40 steps: 0.971 against 0.974).

Workload and baselines are those of ``acajax bench``
(:mod:`acajax.bench._workloads.learners`); this script adds the one-device
and wide-vmap variants, accuracies and the early-stopped scikit-learn fit.

Run: ``.venv/bin/python -m benchmarks.bench_learners [--quick]``. Writes
``benchmarks/results/cpu_learners.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np
import sklearn

from acajax import learners
from acajax.bench._env import cpu_model, median_time, split_cpu
from acajax.bench._workloads.learners import L2, STEPS, make_data, sklearn_fits, training_call

ROOT = Path(__file__).resolve().parent.parent
SKLEARN_ITERS = (10, 20, 30, 40, 50)
ACCURACY_TOLERANCE = 0.002


def main(argv=None) -> dict:
  cpu_devices = split_cpu()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="32 models, fewer repeats")
  parser.add_argument("--steps", type=int, default=STEPS,
                      help="Adam steps per model (default %(default)s, the fewest that reach "
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

  def prepare(models: slice, **kw):
    return training_call(x, y, keys, config, models, **kw)

  # JAX: one jitted call for every model: split over every device (the
  # default), on one device (walked one model per chunk), one wide vmap.
  variants, trained = {}, None
  for label, kw in (("all_devices", dict(chunk="auto", num_devices=None)),
                    ("one_device", dict(chunk="auto", num_devices=1)),
                    ("wide_vmap", dict(chunk=None, num_devices=1))):
    trainer, call_args, graphdef = prepare(slice(None), **kw)
    start = time.perf_counter()
    compiled = trainer.lower(*call_args).compile()
    compile_s = time.perf_counter() - start
    run = lambda: jax.block_until_ready(compiled(*call_args))  # noqa: E731
    out = run()
    variants[label] = {"devices": kw["num_devices"] or min(cpu_devices, num_models),
                       "chunk": learners.default_chunk() if kw["chunk"] == "auto" else None,
                       "compile_s": compile_s, "median_s": median_time(run, repeats)}
    variants[label]["models_per_s"] = num_models / variants[label]["median_s"]
    if trained is None:
      trained = learners.Trained(graphdef, *jax.tree.map(lambda v: v[:num_models], out))

  # JAX, one model per call.
  trainer, *_ = prepare(slice(0, 1), chunk="auto", num_devices=1)
  singles = [prepare(slice(i, i + 1), chunk="auto", num_devices=1)[1]
             for i in range(baseline_models)]
  start = time.perf_counter()
  compiled_one = trainer.lower(*singles[0]).compile()
  compile_one = time.perf_counter() - start

  def loop():
    for single in singles:
      jax.block_until_ready(compiled_one(*single))
  loop()
  t_loop = median_time(loop, repeats)

  # scikit-learn, same objective, same data: to its default tolerance, and
  # stopped at the fewest iterations that reach that fit's accuracy.
  def accuracy(models):
    return (float(np.mean([np.mean(m.predict(x_test) == y_test) for m in models])),
            float(np.mean([np.mean(m.predict(x_signal) == 0) for m in models])))
  sk_models = sklearn_fits(x, y, baseline_models, 200)
  t_sklearn = median_time(lambda: sklearn_fits(x, y, baseline_models, 200), repeats)
  sk_acc, sk_success = accuracy(sk_models)
  for max_iter in SKLEARN_ITERS:
    early_acc, early_success = accuracy(sklearn_fits(x, y, baseline_models, max_iter))
    if early_acc >= sk_acc - ACCURACY_TOLERANCE:
      break
  t_early = median_time(lambda: sklearn_fits(x, y, baseline_models, max_iter), repeats)

  pred_clean = learners.predict_many(trained, x_test)
  pred_signal = learners.predict_many(trained, x_signal)
  jax_acc = float(np.mean(pred_clean[:baseline_models] == y_test))
  jax_success = float(np.mean(pred_signal[:baseline_models] == 0))

  rate = variants["all_devices"]["models_per_s"]
  rate_loop = baseline_models / t_loop
  rate_sklearn = baseline_models / t_sklearn
  rate_early = baseline_models / t_early
  result = {
      "workload": {"models": num_models, "train_samples": num, "features": 64, "labels": 10,
                   "steps": args.steps, "l2": L2, "baseline_models": baseline_models,
                   "repeats": repeats, "quick": args.quick, "cpu_devices": cpu_devices},
      "jax_vmapped": variants["all_devices"],
      "jax_one_device": variants["one_device"],
      "jax_wide_vmap": variants["wide_vmap"],
      "jax_one_at_a_time": {"compile_s": compile_one, "median_s": t_loop,
                            "models_per_s": rate_loop},
      "sklearn_loop": {"median_s": t_sklearn, "models_per_s": rate_sklearn,
                       "mean_iterations": float(np.mean([m.n_iter_[0] for m in sk_models]))},
      "sklearn_early_stop": {"max_iter": max_iter, "median_s": t_early,
                             "models_per_s": rate_early},
      "ratio_vs_one_at_a_time": rate / rate_loop,
      "ratio_vs_sklearn": rate / rate_sklearn,
      "ratio_vs_sklearn_early_stop": rate / rate_early,
      "one_device_ratio_vs_sklearn": variants["one_device"]["models_per_s"] / rate_sklearn,
      "wide_vmap_ratio_vs_sklearn": variants["wide_vmap"]["models_per_s"] / rate_sklearn,
      "accuracy": {"jax_clean": jax_acc, "sklearn_clean": sk_acc, "jax_success": jax_success,
                   "sklearn_success": sk_success, "sklearn_early_stop_clean": early_acc,
                   "sklearn_early_stop_success": early_success, "over_models": baseline_models},
      "same_accuracy": jax_acc >= sk_acc - ACCURACY_TOLERANCE,
      "device": {"backend": jax.default_backend(), "cpu": cpu_model(),
                 "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count()},
      "versions": {"jax": jax.__version__, "sklearn": sklearn.__version__,
                   "python": sys.version.split()[0]},
  }
  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(result, indent=2) + "\n")
  print(f"{num_models} logistic models on digits, {args.steps} steps: {rate:.1f} models/s on "
        f"{variants['all_devices']['devices']} CPU devices (compile "
        f"{variants['all_devices']['compile_s']:.2f} s), "
        f"{variants['one_device']['models_per_s']:.1f} on one; one at a time {rate_loop:.1f} "
        f"({result['ratio_vs_one_at_a_time']:.1f}x); scikit-learn {rate_sklearn:.1f} "
        f"({result['ratio_vs_sklearn']:.1f}x), stopped at {max_iter} iterations {rate_early:.1f} "
        f"({result['ratio_vs_sklearn_early_stop']:.1f}x); clean accuracy JAX {jax_acc:.3f} vs "
        f"scikit-learn {sk_acc:.3f} ({early_acc:.3f} stopped), success JAX {jax_success:.3f} vs "
        f"{sk_success:.3f} -> {out}")
  return result


if __name__ == "__main__":
  main()
