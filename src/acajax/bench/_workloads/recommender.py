"""Recommender workload: many biased-MF trainings in one call, against one call per model.

Workload: the default of ``examples/recommender_collectives.py``: synthetic
ratings (600 users in 10 clusters, 300 items, 24,000 ratings), biased MF of
rank 8 trained by 150 full-batch Adam steps (L2 0.1 per rating; 30 steps
with ``quick``), one model per (seed, collective size, homogeneity) with a
targeted promoter's ratings planted (sizes 10/20/50, homogeneity 0.1..1)
(:func:`make_batch`).

* acajax, one call: ``recommender.train_many``'s jitted trainer over all
  models (base ratings shared, per-model weights and padded extra ratings),
  by default split over every local device (on CPU one per core, as
  ``acajax validate`` does) with the default chunking (CPU: ``lax.scan`` over
  single models; see ``recommender.default_chunk``), and on one device with
  vmapped chunks of 4 (and, on accelerators, 64 and 256) and of all models.
  Compile time apart (ahead-of-time ``lower().compile()``), one untimed
  warm-up, median of timed repeats ending in ``block_until_ready``.
* baseline, same process: ``recommender.train_one`` (jitted, compiled and
  warmed up apart) called once per model in a Python loop on the same data.

The ratio is trainings per second of the one-call default over the loop.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from acajax import _devices, ratings, recommender
from acajax import rating_collectives as rc
from acajax.bench._env import environment, median_time
from acajax.bench._measure import entry, measure, roofline


def make_batch(num_models: int):
  """Base ratings, clusters and per-model (base weights, extras) of planted promoters."""
  data = ratings.synthetic(600, 300, num_clusters=10, ratings_per_user=40, seed=0)
  base, clusters = data.ratings, data.clusters
  per_item = np.bincount(base.items, minlength=base.num_items)
  targets = np.argsort(per_item, kind="stable")[40:45]       # rarely rated items
  dense = base.dense()
  weights, extras = [], []
  collective_sizes, levels = (10, 20, 50), (0.1, 0.4, 0.7, 1.0)
  for b in range(num_models):
    size, h = collective_sizes[b % 3], levels[(b // 3) % 4]
    members, _ = rc.select_members(clusters, size, h, rng=b)
    planted = rc.plant(dense, [rc.targeted_promoter(targets)], [members])
    w, extra = rc.overlay(base, planted, [members])
    weights.append(w)
    extras.append(extra)
  return base, np.stack(weights), rc.stack_extras(extras)


def config_for(quick: bool) -> recommender.MFConfig:
  """The trainings' settings: rank 8, 150 Adam steps (30 with ``quick``)."""
  return recommender.MFConfig(rank=8, steps=30 if quick else 150, learning_rate=0.05, reg=0.1)


def setup(num_models: int, quick: bool):
  """(config, base ratings, weights, extras, initial params, trainer arguments)."""
  config = config_for(quick)
  base, weights, extras = make_batch(num_models)
  seeds = np.arange(num_models)
  init = [recommender.init_params(int(s), base.num_users, base.num_items, config)
          for s in seeds]
  init = recommender.MFParams(*(jnp.asarray(np.stack(v)) for v in zip(*init)))
  args = (jnp.asarray(base.users), jnp.asarray(base.items), jnp.asarray(base.values),
          jnp.asarray(weights), recommender.Extras(*(jnp.asarray(v) for v in extras)), init,
          jnp.asarray(seeds))
  return config, base, weights, extras, init, args


def default_call(config, base, args):
  """``recommender.train_many``'s default trainer, its arguments and device count.

  The models are split over every local device (on CPU, one per core with
  ``_env.split_cpu``, as ``acajax validate`` does), padded to a multiple.
  """
  devices = _devices.device_count(None, int(args[3].shape[0]))
  fn = recommender._trainer(base.num_users, base.num_items, config, recommender.default_chunk(),
                            devices)
  return fn, args[:3] + tuple(_devices.pad_models(args[3:], devices)), devices


def run(quick: bool = False, trainings: int | None = None) -> dict:
  """Runs the trainings, their variants and the baseline; returns the result record.

  Args:
    quick: 8 trainings of 30 steps (a smoke run, not a measurement).
    trainings: overrides the number of models (e.g. more on an accelerator).

  Returns:
    dict: throughput and compile time of the default and of each variant,
    the baseline's, the ratio, shapes and environment.
  """
  num_models = trainings or (8 if quick else 64)
  baseline_models = min(4 if quick else 16, num_models)
  repeats = 2 if quick else 3
  config, base, weights, extras, init, args = setup(num_models, quick)

  variants = {}
  default = recommender.default_chunk()
  cpu = jax.default_backend() == "cpu"
  candidates = [("default", default)] + [(f"vmap_chunks_of_{c}", c) for c in (4, 64, 256)
                                         if not (cpu and c > 4)]
  for label, chunk in candidates + [("one_wide_vmap", num_models)]:
    if label != "default" and (chunk == default or chunk >= num_models and
                               label != "one_wide_vmap"):
      continue
    if label == "default":
      fn, call_args, devices = default_call(config, base, args)
    else:
      fn, call_args, devices = (recommender._trainer(base.num_users, base.num_items, config,
                                                     chunk), args, 1)
    start = time.perf_counter()
    compiled = fn.lower(*call_args).compile()
    compile_s = time.perf_counter() - start
    call = lambda: jax.block_until_ready(compiled(*call_args))  # noqa: E731
    params, _ = call()                                       # untimed warm-up
    median_s = median_time(call, repeats)
    variants[label] = dict(chunk=chunk, devices=devices, compile_s=compile_s,
                           median_s=median_s, throughput=num_models / median_s)
    if label == "default":
      reference = params

  # Baseline: the jitted single-model training, one call per model.
  def data(b):
    extra = [np.asarray(v[b]) for v in extras]
    return (np.concatenate([base.users, extra[0]]), np.concatenate([base.items, extra[1]]),
            np.concatenate([base.values, extra[2]]), np.concatenate([weights[b], extra[3]]))
  per_model = [tuple(jnp.asarray(v) for v in data(b)) for b in range(baseline_models)]
  one_init = [jax.tree.map(lambda v: v[b], init) for b in range(baseline_models)]
  start = time.perf_counter()
  compiled_one = recommender.train_one.lower(*per_model[0], one_init[0],
                                             config=config).compile()
  baseline_compile_s = time.perf_counter() - start

  def loop():
    for b in range(baseline_models):
      jax.block_until_ready(compiled_one(*per_model[b], one_init[b]))
  loop()
  baseline_median_s = median_time(loop, repeats)
  check, _ = compiled_one(*per_model[1], one_init[1])
  max_difference = float(jnp.max(jnp.abs(check.item_factors - reference.item_factors[1])))

  head = variants["default"]
  baseline_throughput = baseline_models / baseline_median_s
  return {
      "name": "recommender",
      "benchmark": f"{num_models} biased MF trainings (600 users x 300 items, rank 8, "
                   f"{config.steps} full-batch Adam steps) with planted promoters, one call "
                   "(recommender.train_many's trainer) against one jitted call per model",
      "environment": environment(),
      "dtype": "float32",
      "shapes": {"trainings": num_models, "users": base.num_users, "items": base.num_items,
                 "base_ratings": base.num_ratings, "extra_ratings": int(extras.users.shape[1]),
                 "rank": config.rank, "steps": config.steps,
                 "devices": variants["default"]["devices"],
                 "baseline_trainings": baseline_models, "repeats": repeats},
      "items": num_models,
      "compile_s": head["compile_s"],
      "median_s": head["median_s"],
      "throughput": head["throughput"],
      "baseline_name": "recommender.train_one, jitted, one call per model (Python loop)",
      "baseline_compile_s": baseline_compile_s,
      "baseline_median_s": baseline_median_s,
      "baseline_throughput": baseline_throughput,
      "ratio": head["throughput"] / baseline_throughput,
      "variants": {k: dict(v, ratio=v["throughput"] / baseline_throughput)
                   for k, v in variants.items()},
      "max_abs_difference_vs_loop": max_difference,
      "quick": quick,
  }


def sizes(quick: bool, accelerator: bool) -> dict:
  """Training counts: scaling and headline."""
  scaling = [2, 4] if quick else [4, 16, 64] + ([256, 1024] if accelerator else [])
  return dict(sizes=scaling, headline=scaling[-1], quick=quick)


def benchmark(p: dict, ceiling: dict) -> dict:
  """The suite's recommender record (float32); run it after ``_env.split_cpu``."""
  scaling = []
  for size in p["sizes"][:-1]:                      # the default trainer alone
    config, base, *_, args = setup(size, p["quick"])
    fn, args, _ = default_call(config, base, args)
    stats, _ = measure(lambda *a, f=fn: f(*a), args, 2 if p["quick"] else 3)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
  record = run(quick=p["quick"], trainings=p["sizes"][-1])   # + baseline and variants
  head = record["variants"]["default"]
  scaling.append(dict(size=record["items"], throughput=head["throughput"],
                      compile_s=head["compile_s"], median_s=head["median_s"]))
  shapes = record["shapes"]
  # One Adam step: predictions and gradients over every rating, 2 x 3 x rank
  # multiply-adds per rating (forward, two gradient products).
  ratings_count = shapes["base_ratings"] + shapes["extra_ratings"]
  flops = 2 * 3 * shapes["rank"] * ratings_count * shapes["steps"]
  bytes_per = 4 * (4 * ratings_count + 2 * shapes["rank"] * (shapes["users"] + shapes["items"]))
  return entry(
      name="recommender", description=record["benchmark"], unit="trainings",
      dtype=record["dtype"], shapes=shapes, items=record["items"],
      compile_s=record["compile_s"], median_s=record["median_s"],
      baseline=dict(name=record["baseline_name"], items=shapes["baseline_trainings"],
                    median_s=record["baseline_median_s"]),
      scaling=scaling,
      roofline=roofline(flops, bytes_per, record["throughput"], "float32", ceiling),
      variants=record["variants"])
