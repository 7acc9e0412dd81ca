"""The benchmark suite behind ``acajax bench``: one benchmark per capability.

Capabilities (each in a fresh process, so its dtype settings, compile cache
and peak memory are its own):

* ``sweep``: bound sweeps (``acajax.sweep``; Theorem 1 for two collectives,
  S_min and S_w, reduced over xi × eps; float32). Baseline: NumPy float64
  broadcasting of the same formula and reductions.
* ``exact``: exact-engine batches (``mixtures.exact_analysis``: worst-case
  success + scenario parameters; n = 64, K = 4, M = 4; float64). Baseline:
  the independent NumPy reference of ``tests/numpy_reference.py``, one
  scenario at a time.
* ``optimize``: optimisation batches (``optimize.allocate_masses``, M = 3,
  S_min, 4 restarts × 200 Adam steps; float64). Baseline: a Python loop over
  the jitted single-problem function.
* ``learners``: logistic models on digits trained in one call
  (``learners.train_many``'s trainer; 50 full-batch Adam steps, which reach
  scikit-learn's accuracy; float32; on CPU the models are split over one
  JAX device per core, as ``acajax validate`` does).
  Baselines: the same jitted trainer one model per call, and scikit-learn's
  ``LogisticRegression`` in a loop (same objective).
* ``statistical``: the finite-sample n-sweep of the car figure (SPEC §9;
  60 collective sizes × 4 targets from raw rows; float64). Baseline: a
  pandas loop making one pass per n.
* ``recommender``: matrix-factorisation trainings, vmapped against one at a
  time (``benchmarks/bench_recommender.py``), when that module is present;
  on CPU split over one JAX device per core, as ``acajax validate`` does.

Every measurement: ahead-of-time compilation timed apart, one untimed
warm-up, the median of timed repeats ending in ``block_until_ready``; the
baseline runs in the same process. Each benchmark also runs at several
problem sizes (``scaling``: throughput against size, for log-log plots), and
the sweep engine's peak memory is measured against grid size, each size in a
fresh process (``memory``).

Fraction of peak: the device's two ceilings are measured in the same run (a
large copy: bytes read + written per second; a long chain of fused
multiply-adds per element: FLOP/s, in float32 and float64). A benchmark's
work per item is XLA's cost analysis of a loop-free form of its computation
(flops) and the fewest bytes it must move (inputs read once, outputs written
once); achieved rates over the ceilings give two fractions, and the larger
one says which ceiling binds. Loops (Adam steps, training steps) are counted
as iterations × one iteration's cost, since XLA's cost analysis counts a
loop body once.

Run: ``acajax bench [--quick] [--only NAMES] [--out FILE]`` or
``python -m benchmarks.suite``; the summary in ``benchmarks/README.md`` is
regenerated from the JSON by :mod:`benchmarks.summary`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NAMES = ("sweep", "exact", "optimize", "learners", "statistical", "recommender")
LONGEST_FIRST = ("sweep", "learners", "optimize", "recommender", "exact", "statistical")
SCHEMA = 1

# Sweep grids (alpha[0], alpha[1], xi, eps): the reduced table keeps 10^4 rows
# from 10^6 points on, so memory against grid size shows the chunking alone.
SWEEP_GRIDS = {4: (10, 10, 10, 10), 5: (100, 100, 10, 1), 6: (100, 100, 10, 10),
               7: (100, 100, 100, 10), 8: (100, 100, 100, 100), 9: (100, 100, 1000, 100),
               10: (100, 100, 1000, 1000)}


def sweep_spec(exponent: int):
  """The sweep benchmark's spec at 10^exponent points.

  On accelerators, chunks of 2^28 points (the largest a spec allows): each
  chunk costs about a millisecond of host work, so large chunks ran 3-4x
  faster on an H100 (``benchmarks/experiments/gpu_sweep_layout.py``). The
  engine's memory estimate assumes materialised blocks; with one fused step
  the device used far less (2.5 GB at 2^28; see the memory table), so the cap
  is raised to let it run.
  """
  import jax

  from benchmarks import bench_sweep as bs
  spec = bs.make_spec(SWEEP_GRIDS[exponent])
  if jax.default_backend() != "cpu":
    spec = spec.replace(chunk_points=2**28, memory_cap_mb=65536)
  return spec


# -- sizes ---------------------------------------------------------------------------------


def plan(name: str, quick: bool, accelerator: bool) -> dict:
  """Problem sizes of one benchmark: the scaling sizes and the headline size."""
  if name == "sweep":
    sizes = [4, 6] if quick else [5, 6, 7, 8] + ([9, 10] if accelerator else [9])
    memory = [5] if quick else [6, 7, 8, 9] + ([10] if accelerator else [])
    return dict(sizes=sizes, headline=sizes[-1], baseline=min(sizes[-1], 5 if quick else 8),
                memory=memory)
  if name == "exact":
    sizes = [100, 1000] if quick else [100, 1000, 10_000] + (
        [100_000, 1_000_000] if accelerator else [])
    return dict(sizes=sizes, headline=sizes[-1], baseline=20 if quick else 300)
  if name == "optimize":
    sizes = [10, 50] if quick else [10, 100, 1000] + ([10_000, 100_000] if accelerator else [])
    return dict(sizes=sizes, headline=sizes[-1], baseline=10 if quick else 100)
  if name == "learners":
    sizes = [4, 8] if quick else [4, 16, 64, 256] + ([1024] if accelerator else [])
    # 50 steps reach scikit-learn's accuracy (benchmarks/bench_learners.py).
    return dict(sizes=sizes, headline=sizes[-1], baseline=4 if quick else 32,
                steps=10 if quick else 50)
  if name == "statistical":
    sizes = [10_000, 30_000] if quick else [10_000, 100_000, 1_000_000] + (
        [10_000_000, 100_000_000] if accelerator else [])
    return dict(sizes=sizes, headline=sizes[-1], baseline_sizes=3 if quick else 12,
                grid=12 if quick else 60, baseline_rows=min(sizes[-1], 1_000_000))
  if name == "recommender":
    sizes = [2, 4] if quick else [4, 16, 64] + ([256, 1024] if accelerator else [])
    return dict(sizes=sizes, headline=sizes[-1], quick=quick)
  raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(NAMES)}")


# -- measuring -----------------------------------------------------------------------------


def measure(fn, args: tuple, repeats: int) -> tuple[dict, object]:
  """Compile ahead of time (timed apart), warm up, then time ``repeats`` calls."""
  import jax

  from benchmarks._env import timings
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  jax.block_until_ready(compiled(*args))                 # untimed warm-up
  times = timings(lambda: compiled(*args), repeats)
  return dict(compile_s=compile_s, median_s=statistics.median(times), min_s=min(times),
              repeats=repeats), compiled


def cost(fn, args: tuple) -> tuple[float, float]:
  """(flops, bytes accessed) of a loop-free function, by XLA's cost analysis."""
  import jax
  analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else {}
  analysis = analysis or {}
  return float(analysis.get("flops", math.nan)), float(analysis.get("bytes accessed", math.nan))


def nbytes(*trees) -> int:
  import jax
  return int(sum(leaf.size * leaf.dtype.itemsize for tree in trees
                 for leaf in jax.tree.leaves(tree)))


# Datasheet peaks (dense, no sparsity) of the accelerators we have run on:
# bytes/s of device memory, and FLOP/s of the vector units (float32,
# float64) and of float32 matrix products at default precision (TF32).
DATASHEET = {
    "NVIDIA H100 80GB HBM3": dict(copy_bytes_per_s=3.35e12, float32_flops_per_s=67e12,
                                  float64_flops_per_s=34e12, matmul_flops_per_s=495e12),
    "NVIDIA H200": dict(copy_bytes_per_s=4.8e12, float32_flops_per_s=67e12,
                        float64_flops_per_s=34e12, matmul_flops_per_s=495e12),
}


def ceilings(accelerator: bool, quick: bool = False) -> dict:
  """Measured ceilings: copy bandwidth, FMA throughput (f32, f64), f32 matmul.

  The datasheet's figures are added (``datasheet``) for devices in
  ``DATASHEET``.
  """
  import jax
  import jax.numpy as jnp
  size = 2**28 if accelerator else 2**22 if quick else 2**25
  x = jnp.arange(size, dtype=jnp.float32) * 1e-9
  stats, _ = measure(lambda v: v * 1.0001 + 1.0, (x,), 10)
  out = dict(copy_bytes_per_s=2 * x.nbytes / stats["median_s"], copy_elements=size)
  del x
  chain, ways = 256, 8

  def fma(v):     # 8 independent chains per element, so latency does not bind
    parts = [v + 0.01 * i for i in range(ways)]
    for _ in range(chain // ways):
      parts = [p * 0.999 + 0.001 for p in parts]
    return sum(parts[1:], parts[0])

  for dtype in ("float32", "float64"):
    n = (2**26 if accelerator else 2**16 if quick else 2**20) // (2 if dtype == "float64" else 1)
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", previous or dtype == "float64")
    try:
      v = jnp.linspace(0.0, 1.0, n, dtype=dtype)
      stats, _ = measure(fma, (v,), 10)
    finally:
      jax.config.update("jax_enable_x64", previous)
    out[f"{dtype}_flops_per_s"] = 2 * chain * n / stats["median_s"]
  n = 8192 if accelerator else 256 if quick else 1024
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  stats, _ = measure(lambda p, q: p @ q, (a, a.T), 10)
  out["matmul_flops_per_s"] = 2 * n**3 / stats["median_s"]
  out["datasheet"] = DATASHEET.get(jax.devices()[0].device_kind)
  return out


def roofline(flops_per_item: float, bytes_per_item: float, items_per_s: float, unit: str,
             ceiling: dict) -> dict:
  """Achieved FLOP/s and bytes/s, their fractions of the ceilings, the binding one.

  ``unit`` names the FLOP ceiling: "float32" or "float64" (vector FMA) or
  "matmul". Fractions are of the measured ceilings, and of the datasheet's
  where the device is in ``DATASHEET``.
  """
  flops_s, bytes_s = flops_per_item * items_per_s, bytes_per_item * items_per_s
  out = dict(flops_per_item=flops_per_item, bytes_per_item=bytes_per_item, flops_per_s=flops_s,
             bytes_per_s=bytes_s, flop_ceiling=unit)
  for prefix, peaks in (("", ceiling), ("datasheet_", ceiling.get("datasheet"))):
    if not peaks:
      continue
    f_flops = flops_s / peaks[f"{unit}_flops_per_s"]
    f_bytes = bytes_s / peaks["copy_bytes_per_s"]
    out.update({f"{prefix}fraction_flops": f_flops, f"{prefix}fraction_bandwidth": f_bytes,
                f"{prefix}binding": "flops" if f_flops >= f_bytes else "bandwidth",
                f"{prefix}fraction": max(f_flops, f_bytes)})
  return out


def entry(**fields) -> dict:
  """One benchmark's record, with the throughput and ratio derived.

  The ratio compares the headline throughput with the baseline's, or, when
  the baseline names ``at_size``, the throughput at that scaling size.
  """
  fields["throughput"] = fields["items"] / fields["median_s"]
  base = fields["baseline"]
  base["throughput"] = base["items"] / base["median_s"]
  at = base.get("at_size")
  mine = fields["throughput"] if at is None else next(
      s["throughput"] for s in fields["scaling"] if s["size"] == at)
  fields["ratio"] = mine / base["throughput"]
  return fields


# -- the benchmarks ------------------------------------------------------------------------


def bench_sweep(p: dict, ceiling: dict) -> dict:
  import jax.numpy as jnp
  import numpy as np

  from benchmarks import bench_sweep as bs
  from acajax import sweep

  def run_grid(exponent, repeats):
    spec = sweep_spec(exponent)
    run_s, compile_s, last, _ = bs.time_sweep(spec, repeats)
    return spec, dict(size=spec.num_points, compile_s=compile_s, median_s=run_s,
                      throughput=spec.num_points / run_s, devices=last.plan.num_devices)

  scaling = [run_grid(e, 3)[1] for e in p["sizes"]]
  head = next(s for s in scaling if s["size"] == 10 ** p["headline"])
  base_spec = sweep_spec(p["baseline"])
  numpy_s, _ = bs.time_numpy(base_spec, np.float64, 3 if p["baseline"] <= 6 else 2)
  base_sweep = sweep.run(base_spec, progress=False)
  agreement = bs.check_agreement(base_spec, base_sweep.table)
  if not agreement < 1e-5:
    raise AssertionError(f"sweep and NumPy disagree by {agreement}")

  def per_point(a0, a1, xi, eps):       # the sweep's arithmetic, loop-free (SPEC §4, §7)
    total = a0 + a1
    out = []
    for alpha in (a0, a1):
      misaligned = total - alpha
      valid = ((eps >= 0) & (eps < 0.5) & (alpha > 0) & (total < 1) & (misaligned >= 0)
               & (xi >= 0) & (xi <= 1))
      value = (1 - bs.XI_C * (bs.DELTA + 2 * eps) / (1 - 2 * eps) * (1 - total) / alpha
               - xi * (1 + 2 * eps) / (1 - 2 * eps) * misaligned / alpha)
      out.append(jnp.where(valid, jnp.clip(value, 0, 1), jnp.nan))
    s_min = jnp.minimum(*out)
    s_w = (a0 * out[0] + a1 * out[1]) / total
    return jnp.stack([s_min, s_w])

  points = jnp.linspace(0.01, 0.2, 4 * 65536, dtype=jnp.float32).reshape(4, -1)
  flops, _ = cost(per_point, tuple(points))
  return entry(
      name="sweep", description="Theorem 1 for two collectives, S_min and S_w, reduced over "
      "xi x eps (min, max, argmin); acajax.sweep.run", unit="points", dtype="float32",
      shapes=dict(grid=list(SWEEP_GRIDS[p["headline"]]),
                  chunk_points=sweep_spec(p["headline"]).chunk_points),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="NumPy float64 broadcasting, blocks of 2^22 points",
                    items=base_spec.num_points, median_s=numpy_s, max_abs_difference=agreement),
      scaling=scaling,
      roofline=roofline(flops / points.shape[1], 0.0, head["size"] / head["median_s"],
                        "float32", ceiling),
      memory=[memory_child(e) for e in p["memory"]])


def memory_child(exponent: int) -> dict:
  """Peak memory of one sweep of 10^exponent points, in a fresh process."""
  done = subprocess.run([sys.executable, "-m", "benchmarks.suite", "--memory-child",
                         str(exponent)], cwd=ROOT, capture_output=True, text=True,
                        env=dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false"))
  if done.returncode:
    raise RuntimeError(f"memory child for 10^{exponent} points failed:\n{done.stderr[-2000:]}")
  return json.loads(done.stdout.strip().splitlines()[-1])


def _memory_run(exponent: int) -> None:
  import jax

  from acajax import sweep
  spec = sweep_spec(exponent)
  result = sweep.run(spec, progress=False)
  stats = jax.devices()[0].memory_stats() or {}
  print(json.dumps(dict(
      points=spec.num_points, rows=len(result.table), chunks=result.plan.num_chunks,
      wall_s=result.wall_s, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      peak_device_mb=stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in stats
      else None)))


def bench_exact(p: dict, ceiling: dict, accelerator: bool) -> dict:
  import jax
  jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  import numpy as np

  from benchmarks import bench_mixtures as bm
  n, k, m = 64, 4, 4
  vmapped = jax.vmap(bm.one_scenario)
  chunk = 1000

  def fn(*xs):                         # CPU: chunks stay in cache; accelerators: one vmap
    if accelerator or xs[0].shape[0] <= chunk:
      return vmapped(*xs)
    return jax.lax.map(lambda x: bm.one_scenario(*x), xs, batch_size=chunk)

  scaling, head_fn, head_args = [], None, None
  for size in p["sizes"]:
    args = tuple(jnp.asarray(a) for a in bm.make_scenarios(size, n, k, m))
    stats, compiled = measure(fn, args, 10 if size <= 10_000 else 5)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
    head_fn, head_args = compiled, args
  head = scaling[-1]
  count = p["baseline"]
  host = tuple(np.asarray(a[:count]) for a in head_args)
  baseline = bm.bench_numpy(host, 1 if count < 100 else 3, count)
  success, _ = head_fn(*head_args)
  for i in range(0, count, max(1, count // 10)):
    np.testing.assert_allclose(success[i], bm.ref.np_worst_case_success(
        *(a[i] for a in host), bm.EPS), atol=1e-12)
  small = tuple(a[:64] for a in head_args)
  flops, _ = cost(vmapped, small)
  per_item_bytes = nbytes(small, jax.eval_shape(vmapped, *small)) / 64
  return entry(
      name="exact", description="worst-case success + scenario parameters "
      "(mixtures.exact_analysis)", unit="scenarios", dtype="float64",
      shapes=dict(scenarios=head["size"], n=n, K=k, M=m,
                  form="vmap" if accelerator else f"lax.map over vmapped chunks of {chunk}"),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="tests/numpy_reference.py, one scenario at a time (NumPy float64)",
                    items=count, median_s=baseline["median_s"]),
      scaling=scaling,
      roofline=roofline(flops / 64, per_item_bytes, head["throughput"], "float64", ceiling))


def bench_optimize(p: dict, ceiling: dict) -> dict:
  import jax
  jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  import numpy as np

  from benchmarks import bench_optimize as bo
  from benchmarks._env import timings
  from acajax import optimize
  scaling, head_fn, problems = [], None, None
  for size in p["sizes"]:
    problems = {k: jnp.asarray(v) for k, v in bo.make_problems(size).items()}
    stats, compiled = measure(jax.vmap(bo.one_problem), (problems,), 5)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
    head_fn = compiled
  head = scaling[-1]
  single = jax.jit(bo.one_problem)
  subset = [{k: v[i] for k, v in problems.items()} for i in range(p["baseline"])]
  jax.block_until_ready(single(subset[0]))
  times = timings(lambda: [single(q) for q in subset], 3)
  masses, _ = head_fn(problems)
  for i in range(0, len(subset), max(1, len(subset) // 5)):
    np.testing.assert_allclose(single(subset[i])[0], masses[i], atol=1e-10)

  # One Adam step ~ one value_and_grad of the exact objective (SPEC §7); 4 x 200 steps.
  def step(masses, q):
    rest = {k: v for k, v in q.items() if k != "budget"}
    return jax.value_and_grad(lambda a: optimize.allocation_value(a, **rest))(masses)

  small = {k: v[:64] for k, v in problems.items()}
  flops, _ = cost(jax.vmap(step), (masses[:64], small))
  return entry(
      name="optimize", description="optimize.allocate_masses (M=3, S_min, 4 restarts x 200 "
      "Adam steps + exact evaluation), one vmapped call", unit="problems", dtype="float64",
      shapes=dict(problems=head["size"], M=3, restarts=4, steps=200),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="Python loop over jax.jit(allocate_masses), one problem per call",
                    items=len(subset), median_s=statistics.median(times)),
      scaling=scaling,
      roofline=roofline(flops / 64 * 4 * 200, nbytes(small) / 64, head["throughput"],
                        "float64", ceiling))


def bench_learners(p: dict, ceiling: dict) -> dict:
  import jax

  from benchmarks import bench_learners as bl
  from benchmarks._env import timings
  from acajax import learners
  config = learners.TrainConfig(steps=p["steps"], learning_rate=0.1, l2=bl.L2)
  x_all, y_all, *_ = bl.make_data(max(p["sizes"]))
  keys = jax.random.split(jax.random.key(0), max(p["sizes"]))

  def prepare(models: slice, **kw):
    return bl.training_call(x_all, y_all, keys, config, models, **kw)
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
  bl._sklearn_fits(x_all, y_all, count, 200)
  sklearn_s = time.perf_counter() - start

  features, labels = 64, 10
  flops_per_model = 6 * num * features * labels * p["steps"]   # forward + two backward products
  bytes_per_model = num * (features + 2) * 4 + (features + 1) * labels * 4 * 2
  result = entry(
      name="learners", description="logistic models on digits trained in one jitted call "
      "(learners.train_many's trainer, full-batch Adam)", unit="models", dtype="float32",
      shapes=dict(models=head["size"], train_samples=num, features=features, labels=labels,
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


def bench_statistical(p: dict, ceiling: dict) -> dict:
  import jax
  jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  import numpy as np
  import pandas as pd

  from benchmarks import bench_statistical as bst
  # Sizes are prefixes of one table; beyond 10^7 rows the 10^7-row table is
  # repeated (the work is the same; generating 10^8 rows on the host is slow).
  rows_all, labels_all = bst.car.car_table(min(p["headline"], 10_000_000), seed=2025)
  reps = -(-p["headline"] // len(rows_all))
  rows_all, labels_all = np.tile(rows_all, (reps, 1)), np.tile(labels_all, reps)

  def workload(size):
    sizes_n = np.unique(np.geomspace(max(size // 1000, 10), size // 2, p["grid"]).astype(np.int64))
    return rows_all[:size], labels_all[:size], sizes_n, size // 10

  scaling, compiled_at = [], {}
  for size in p["sizes"]:
    rows, labels, sizes_n, num_test = workload(size)
    args = (jnp.asarray(rows), jnp.asarray(labels), jnp.asarray(sizes_n))
    fn = lambda r, y, n, t=num_test: bst.jax_sweep(r, y, n, num_test=t)  # noqa: E731
    stats, compiled = measure(fn, args, 10)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
    if size == p["baseline_rows"]:
      compiled_at = dict(fn=compiled, args=args)
    head_args = args
    del args
  head = scaling[-1]
  rows, labels, sizes_n, num_test = workload(p["baseline_rows"])
  frame = pd.DataFrame(rows, columns=[name for name, *_ in bst.car.COLUMNS])
  frame["label"] = labels
  picked = sizes_n[np.linspace(0, len(sizes_n) - 1, p["baseline_sizes"]).astype(int)]
  start = time.perf_counter()
  expected = bst.pandas_sweep(frame, picked, num_samples=len(rows), num_test=num_test)
  pandas_s = (time.perf_counter() - start) * len(sizes_n) / len(picked)
  got = np.asarray(compiled_at["fn"](*compiled_at["args"]))[:, np.searchsorted(sizes_n, picked)]
  np.testing.assert_allclose(got, expected, atol=1e-10)
  small = (head_args[0][:100_000], head_args[1][:100_000], head_args[2])
  flops, _ = cost(lambda r, y, n: bst.jax_sweep(r, y, n, num_test=num_test), small)
  return entry(
      name="statistical", description="finite-sample n-sweep of the car figure (SPEC §9): raw "
      "rows -> signal codes -> prefix count tables -> bounds, one jitted call", unit="rows",
      dtype="float64",
      shapes=dict(rows=head["size"], columns=rows.shape[1], sizes=p["grid"],
                  targets=len(bst.TARGETS)),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name=f"pandas loop, one pass per n ({len(picked)} of {len(sizes_n)} "
                    f"sizes timed, extrapolated), at {len(rows):,} rows", items=len(rows),
                    median_s=pandas_s, at_size=len(rows)),
      scaling=scaling,
      roofline=roofline(flops / small[0].shape[0], nbytes(head_args) / head["size"],
                        head["throughput"], "float64", ceiling))


def bench_recommender(p: dict, ceiling: dict) -> dict | None:
  try:
    from benchmarks import bench_recommender as br
  except ImportError:
    return None
  scaling = []
  for size in p["sizes"][:-1]:                      # the default trainer alone
    config, base, *_, args = br.setup(size, p["quick"])
    fn, args, _ = br.default_call(config, base, args)
    stats, _ = measure(lambda *a, f=fn: f(*a), args, 2 if p["quick"] else 3)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
  record = br.run(quick=p["quick"], trainings=p["sizes"][-1])   # + baseline and variants
  head = record["variants"]["default"]
  scaling.append(dict(size=record["items"], throughput=head["throughput"],
                      compile_s=head["compile_s"], median_s=head["median_s"]))
  shapes = record["shapes"]
  # One Adam step: predictions and gradients over every rating, 2 x 3 x rank
  # multiply-adds per rating (forward, two gradient products).
  ratings = shapes["base_ratings"] + shapes["extra_ratings"]
  flops = 2 * 3 * shapes["rank"] * ratings * shapes["steps"]
  bytes_per = 4 * (4 * ratings + 2 * shapes["rank"] * (shapes["users"] + shapes["items"]))
  return entry(
      name="recommender", description=record["benchmark"], unit="trainings",
      dtype=record["dtype"], shapes=shapes, items=record["items"],
      compile_s=record["compile_s"], median_s=record["median_s"],
      baseline=dict(name=record["baseline_name"], items=shapes["baseline_trainings"],
                    median_s=record["baseline_median_s"]),
      scaling=scaling,
      roofline=roofline(flops, bytes_per, record["throughput"], "float32", ceiling),
      variants=record["variants"])


# -- driver --------------------------------------------------------------------------------


def device_slug(kind: str) -> str:
  """A file-name form of a device kind: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
  return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-") or "device"


def result_slug(backend: str, device_kind: str) -> str:
  """The result file's stem: the device kind, or ``cpu-<cores>core`` on CPU."""
  if backend == "cpu":
    return f"cpu-{os.cpu_count()}core"
  return device_slug(device_kind)


def child(name: str, quick: bool) -> dict:
  """Runs one benchmark in this process; returns its record."""
  import jax
  accelerator = jax.default_backend() != "cpu"
  p = plan(name, quick, accelerator)
  ceiling = ceilings(accelerator, quick)
  start = time.perf_counter()
  if name == "sweep":
    record = bench_sweep(p, ceiling)
  elif name == "exact":
    record = bench_exact(p, ceiling, accelerator)
  elif name == "optimize":
    record = bench_optimize(p, ceiling)
  elif name == "learners":
    record = bench_learners(p, ceiling)
  elif name == "statistical":
    record = bench_statistical(p, ceiling)
  else:
    record = bench_recommender(p, ceiling)
  if record is not None:
    record["wall_s"] = time.perf_counter() - start
    record["ceilings"] = ceiling
  return record


def run_suite(names=NAMES, *, quick: bool = False, out: Path | None = None,
              progress: bool = True, jobs: int | None = None) -> tuple[dict, Path]:
  """Runs each benchmark in a fresh process and writes one JSON file.

  Args:
    names: the benchmarks to run (see ``NAMES``).
    quick: CI-sized runs: seconds, and figures that mean nothing.
    out: the JSON file (default ``benchmarks/results/<device>[-quick].json``).
    progress: show a progress bar.
    jobs: benchmarks run at once (default: 1, or every core with ``quick``;
      timings of a full run are only clean one at a time).

  Returns:
    (the result dict, the path written).
  """
  from tqdm import tqdm

  from benchmarks._env import environment
  jobs = jobs or ((os.cpu_count() or 1) if quick else 1)
  command = [sys.executable, "-m", "benchmarks.suite"] + (["--quick"] if quick else [])
  # No preallocation: several processes share one accelerator (quick runs,
  # the sweep's memory children), and peak memory is then what was used.
  env = dict(os.environ, PYTHONPATH=_pythonpath(), XLA_PYTHON_CLIENT_PREALLOCATE="false")
  # Longest first, so that parallel quick runs end together.
  pending = sorted(names, key=lambda n: LONGEST_FIRST.index(n) if n in LONGEST_FIRST else 0)
  records, failures, skipped, running = {}, {}, [], {}
  with tqdm(total=len(pending), desc="acajax bench", unit="benchmark",
            disable=not progress) as bar:
    while pending or running:
      while pending and len(running) < jobs:
        name = pending.pop(0)
        running[name] = subprocess.Popen(command + ["--child", name], cwd=ROOT, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
        bar.set_postfix_str(",".join(running))
      name = next(iter(running))
      proc = running.pop(name)
      stdout, stderr = proc.communicate()
      record = _last_json(stdout)
      if proc.returncode or not isinstance(record, dict):
        failures[name] = stderr[-4000:] or f"exit status {proc.returncode}, no JSON"
      elif "skipped" in record:
        skipped.append(name)
      else:
        records[name] = record
      bar.update(1)
  records = {name: records[name] for name in names if name in records}
  import jax
  env = environment()
  result = dict(suite=SCHEMA, quick=quick,
                command="acajax bench" + (" --quick" if quick else "")
                + ("" if tuple(names) == NAMES else " --only " + ",".join(names)),
                date=time.strftime("%Y-%m-%d"), backend=jax.default_backend(),
                device_slug=result_slug(jax.default_backend(), env["device_kind"]),
                environment=env, benchmarks=records, failures=failures, skipped=skipped)
  if out is None:
    out = RESULTS / (result["device_slug"] + ("-quick" if quick else "") + ".json")
  out = Path(out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(result, indent=2, default=float) + "\n")
  return result, out


def _last_json(stdout: str):
  try:
    return json.loads(stdout.strip().splitlines()[-1])
  except (json.JSONDecodeError, IndexError):
    return None


def _pythonpath() -> str:
  parts = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
  return os.pathsep.join(parts)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description="acajax benchmark suite")
  parser.add_argument("--quick", action="store_true", help="CI-sized runs (seconds, not figures)")
  parser.add_argument("--only", default=",".join(NAMES), help="comma-separated benchmarks")
  parser.add_argument("--out", type=Path, default=None, help="result JSON file")
  parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.memory_child is not None:
    _memory_run(args.memory_child)
    return 0
  if args.child is not None:
    if args.child in ("learners", "recommender"):
      # The models split over every core, as acajax validate does.
      from benchmarks._env import split_cpu
      split_cpu()
    record = child(args.child, args.quick)
    print(json.dumps(record if record is not None else {"skipped": args.child}, default=float))
    return 0
  names = [n.strip() for n in args.only.split(",") if n.strip()]
  for name in names:
    plan(name, True, False)                # unknown names fail here, before any run
  result, path = run_suite(names, quick=args.quick, out=args.out)
  print(f"wrote {path}")
  return 1 if result["failures"] else 0


if __name__ == "__main__":
  sys.exit(main())
