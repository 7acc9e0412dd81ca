"""Exact-engine workload: batches of scenarios in one jitted call, against NumPy.

Workload: random scenarios with n = 64 points, K = 4 labels, M = 4
feature-label collectives (deterministic signal maps), eps = 0.05. For each
scenario the "exact analysis" is the worst-case success of every collective
(SPEC §2) and the scenario parameters (SPEC §3): ``mixtures.exact_analysis``
(:func:`one_scenario`), vmapped over the batch, float64.

Baseline: the independent NumPy float64 reference
(:mod:`~acajax.bench._workloads.numpy_reference`: ``np_worst_case_success``
and ``np_scenario_parameters``), one scenario at a time
(:func:`numpy_baseline`); answers are checked against it.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from acajax import mixtures
from acajax.bench._measure import cost, entry, measure, nbytes, roofline
from acajax.bench._workloads import numpy_reference as ref

EPS = 0.05
N, K, M = 64, 4, 4
CHUNK = 1000


def make_scenarios(batch: int, n: int = N, k: int = K, m: int = M, seed: int = 0):
  """Random valid scenarios as NumPy arrays with a leading batch axis.

  Returns:
    ``(p0, maps, targets, masses)`` of shapes (batch, n, k), (batch, m, n),
    (batch, m) and (batch, m).
  """
  rng = np.random.default_rng(seed)
  p0 = rng.dirichlet(np.ones(n * k), size=batch).reshape(batch, n, k)
  maps = rng.integers(0, n, size=(batch, m, n))
  targets = rng.integers(0, k, size=(batch, m))
  masses = rng.dirichlet(np.ones(m + 1), size=batch)[:, :m]
  return p0, maps, targets, masses


def one_scenario(p0, maps, targets, masses):
  """Worst-case success (M,) and scenario parameters of one scenario (SPEC §2, §3)."""
  out = mixtures.exact_analysis(p0, maps, targets, masses, eps=EPS)
  return out.success, out.parameters


def numpy_baseline(args, repeats: int, count: int) -> dict:
  """Median seconds of the NumPy reference over the first ``count`` scenarios of ``args``."""
  p0, maps, targets, masses = (np.asarray(a) for a in args)

  def run():
    for i in range(count):
      ref.np_worst_case_success(p0[i], maps[i], targets[i], masses[i], EPS)
      ref.np_scenario_parameters(p0[i], maps[i], targets[i], masses[i])

  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return dict(median_s=statistics.median(times), scenarios=count, repeats=repeats)


def sizes(quick: bool, accelerator: bool) -> dict:
  """Scenario counts: scaling, headline and baseline."""
  scaling = [100, 1000] if quick else [100, 1000, 10_000] + (
      [100_000, 1_000_000] if accelerator else [])
  return dict(sizes=scaling, headline=scaling[-1], baseline=20 if quick else 300)


def benchmark(p: dict, ceiling: dict) -> dict:
  """The suite's exact-engine record (float64)."""
  jax.config.update("jax_enable_x64", True)
  accelerator = jax.default_backend() != "cpu"
  vmapped = jax.vmap(one_scenario)

  def fn(*xs):                         # CPU: chunks stay in cache; accelerators: one vmap
    if accelerator or xs[0].shape[0] <= CHUNK:
      return vmapped(*xs)
    return jax.lax.map(lambda x: one_scenario(*x), xs, batch_size=CHUNK)

  scaling, head_fn, head_args = [], None, None
  for size in p["sizes"]:
    args = tuple(jnp.asarray(a) for a in make_scenarios(size))
    stats, compiled = measure(fn, args, 10 if size <= 10_000 else 5)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
    head_fn, head_args = compiled, args
  head = scaling[-1]
  count = p["baseline"]
  host = tuple(np.asarray(a[:count]) for a in head_args)
  baseline = numpy_baseline(host, 1 if count < 100 else 3, count)
  success, _ = head_fn(*head_args)
  for i in range(0, count, max(1, count // 10)):
    np.testing.assert_allclose(success[i], ref.np_worst_case_success(
        *(a[i] for a in host), EPS), atol=1e-12)
  small = tuple(a[:64] for a in head_args)
  flops, _ = cost(vmapped, small)
  per_item_bytes = nbytes(small, jax.eval_shape(vmapped, *small)) / 64
  return entry(
      name="exact", description="worst-case success + scenario parameters "
      "(mixtures.exact_analysis)", unit="scenarios", dtype="float64",
      shapes=dict(scenarios=head["size"], n=N, K=K, M=M,
                  form="vmap" if accelerator else f"lax.map over vmapped chunks of {CHUNK}"),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="tests/numpy_reference.py, one scenario at a time (NumPy float64)",
                    items=count, median_s=baseline["median_s"]),
      scaling=scaling,
      roofline=roofline(flops / 64, per_item_bytes, head["throughput"], "float64", ceiling))
