"""Learner workload: logistic models on digits trained in one call, against loops.

Workload: logistic-regression models on scikit-learn's bundled digits (8×8
images, 10 labels), each on its own planted training set: seeds × 16 masses
of a collective that plants a 4-pixel pattern with target 0 (feature-label).
1,397 training images, 400 held out. Every learner minimises mean
cross-entropy + l2 * ||W||^2 (l2 = ``L2``), by ``learners.train_many``'s
trainer (full-batch Adam in ``lax.scan``; :func:`training_call`), with the
models split over every device (on CPU one per core, as ``acajax validate``
does). ``STEPS`` = 50 Adam steps reach scikit-learn's accuracy
(``benchmarks/bench_learners.py`` checks it).

Baselines: the same jitted trainer with one model per call, in a Python
loop; scikit-learn's ``LogisticRegression`` (lbfgs, C = 1 / (2 l2 N), the
same objective) fitted in a loop (:func:`sklearn_fits`).
"""

from __future__ import annotations

import statistics
import time
import warnings

import jax
import numpy as np

from acajax import datasets, learners, planting
from acajax.bench._env import timings
from acajax.bench._measure import entry, measure, roofline

STEPS = 50
L2 = 1e-3
PATTERN = [(0, 0), (0, 7), (7, 0), (7, 7)]
FEATURES, LABELS = 64, 10


def make_data(num_models: int):
  """Planted training sets (B, N, 64), labels (B, N), clean and signal test sets.

  Returns:
    ``(x, y, x_test, y_test, x_signal)``: features and labels of the
    ``num_models`` planted training sets, the held-out images and labels,
    and the held-out images with the signal planted.
  """
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


def training_call(x, y, keys, config, models: slice, *, chunk="auto", num_devices=None):
  """``learners.train_many``'s jitted trainer, its arguments and graph definition.

  For the models ``models`` of the planted batch, so that compilation and
  runs can be timed apart.
  """
  return learners._training_call("logistic", x[models], y[models], keys[models],
                                 num_labels=LABELS, config=config, weights=None, chunk=chunk,
                                 num_devices=num_devices)


def sklearn_fits(x, y, count: int, max_iter: int):
  """scikit-learn's ``LogisticRegression`` (the same objective) fitted to the first ``count``."""
  from sklearn.linear_model import LogisticRegression  # deferred: slow import, baseline only
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")     # lbfgs stopped early warns
    return [LogisticRegression(C=1 / (2 * L2 * x.shape[1]), max_iter=max_iter).fit(x[i], y[i])
            for i in range(count)]


def sizes(quick: bool, accelerator: bool) -> dict:
  """Model counts: scaling, headline, baseline; and the Adam steps."""
  scaling = [4, 8] if quick else [4, 16, 64, 256] + ([1024] if accelerator else [])
  return dict(sizes=scaling, headline=scaling[-1], baseline=4 if quick else 32,
              steps=10 if quick else STEPS)


def benchmark(p: dict, ceiling: dict) -> dict:
  """The suite's learners record (float32); run it after ``_env.split_cpu``."""
  config = learners.TrainConfig(steps=p["steps"], learning_rate=0.1, l2=L2)
  x_all, y_all, *_ = make_data(max(p["sizes"]))
  keys = jax.random.split(jax.random.key(0), max(p["sizes"]))

  def prepare(models: slice, **kw):
    return training_call(x_all, y_all, keys, config, models, **kw)
  scaling = []
  for size in p["sizes"]:    # split over every device, as learners.train_many does
    fn, args, _ = prepare(slice(0, size), num_devices=None)
    stats, _ = measure(fn, args, 3)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
  head = scaling[-1]

  # Baseline 1: the same trainer, one model per call.
  count = p["baseline"]
  one_fn, *_ = prepare(slice(0, 1), num_devices=1)
  one = [prepare(slice(i, i + 1), num_devices=1)[1] for i in range(count)]
  jax.block_until_ready(one_fn(*one[0]))
  loop_s = statistics.median(timings(lambda: [one_fn(*a) for a in one], 3))

  # Baseline 2: scikit-learn, the same objective, fitted in a loop to its
  # default tolerance.
  num = x_all.shape[1]
  start = time.perf_counter()
  sklearn_fits(x_all, y_all, count, 200)
  sklearn_s = time.perf_counter() - start

  flops_per_model = 6 * num * FEATURES * LABELS * p["steps"]   # forward + two backward products
  bytes_per_model = num * (FEATURES + 2) * 4 + (FEATURES + 1) * LABELS * 4 * 2
  result = entry(
      name="learners", description="logistic models on digits trained in one jitted call "
      "(learners.train_many's trainer, full-batch Adam)", unit="models", dtype="float32",
      shapes=dict(models=head["size"], train_samples=num, features=FEATURES, labels=LABELS,
                  steps=p["steps"], chunk=learners.default_chunk(),
                  devices=min(jax.local_device_count(), head["size"])),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="the same jitted trainer, one model per call", items=count,
                    median_s=loop_s),
      scaling=scaling,
      roofline=roofline(flops_per_model, bytes_per_model, head["throughput"], "matmul",
                        ceiling))
  result["baseline_sklearn"] = dict(name="scikit-learn LogisticRegression (lbfgs) loop",
                                    items=count, median_s=sklearn_s,
                                    throughput=count / sklearn_s)
  result["ratio_vs_sklearn"] = result["throughput"] / result["baseline_sklearn"]["throughput"]
  return result
