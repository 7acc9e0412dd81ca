"""Exact-engine throughput: a batch of scenarios in one jitted call vs NumPy.

Workload: 10,000 scenarios with n = 64 points, K = 4 labels, M = 4
feature-label collectives (deterministic signal maps), eps = 0.05. For each
scenario the "exact analysis" is the worst-case success of every collective
(SPEC §2) and the scenario parameters (SPEC §3) — ``mixtures.exact_analysis``.

* JAX: ``jax.jit(jax.vmap(exact_analysis))`` over the whole batch, and the
  same vmapped function under ``jax.lax.map(..., batch_size=CHUNK)`` (one
  jitted call that walks the batch in chunks, which keeps intermediates in
  cache on CPU). Compile time is measured separately (ahead-of-time
  ``lower().compile()``), then one untimed warm-up, then the median of
  timed repeats with ``block_until_ready``.
* Baseline, same run: the independent NumPy float64 reference of
  ``tests/numpy_reference.py`` (``np_worst_case_success`` +
  ``np_scenario_parameters``), one scenario at a time.

Run: ``.venv/bin/python -m benchmarks.bench_mixtures [--quick]``. Writes
``benchmarks/results/cpu_mixtures.json`` (``--out`` to change) and prints a
one-line summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._env import environment, timings  # noqa: E402
from acajax import mixtures  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests import numpy_reference as ref  # noqa: E402

EPS = 0.05


def make_scenarios(batch: int, n: int, k: int, m: int, seed: int = 0):
  """Random valid scenarios as NumPy arrays with a leading batch axis."""
  rng = np.random.default_rng(seed)
  p0 = rng.dirichlet(np.ones(n * k), size=batch).reshape(batch, n, k)
  maps = rng.integers(0, n, size=(batch, m, n))
  targets = rng.integers(0, k, size=(batch, m))
  masses = rng.dirichlet(np.ones(m + 1), size=batch)[:, :m]
  return p0, maps, targets, masses


def one_scenario(p0, maps, targets, masses):
  out = mixtures.exact_analysis(p0, maps, targets, masses, eps=EPS)
  return out.success, out.parameters


def bench_jax(fn, args, repeats: int) -> dict:
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  jax.block_until_ready(compiled(*args))  # untimed warm-up
  times = timings(lambda: compiled(*args), repeats)
  return dict(compile_s=compile_s, median_s=statistics.median(times), min_s=min(times),
              repeats=repeats), compiled


def bench_numpy(args, repeats: int, count: int) -> dict:
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


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true",
                      help="1,000 scenarios, fewer repeats (a smoke run, not a measurement)")
  parser.add_argument("--batch", type=int, default=None, help="scenarios (default 10,000)")
  parser.add_argument("--chunk", type=int, default=1000, help="lax.map batch_size")
  parser.add_argument("--repeats", type=int, default=None, help="timed repeats for JAX")
  parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                      "cpu_mixtures.json")
  args = parser.parse_args(argv)
  batch = args.batch or (1_000 if args.quick else 10_000)
  repeats = args.repeats or (3 if args.quick else 15)
  baseline_repeats = 1 if args.quick else 3
  n, k, m = 64, 4, 4
  chunk = min(args.chunk, batch)

  scenarios = make_scenarios(batch, n, k, m)
  device_args = tuple(jnp.asarray(a) for a in scenarios)
  vmapped = jax.vmap(one_scenario)
  vmap_stats, vmap_fn = bench_jax(vmapped, device_args, repeats)

  def chunked(*xs):
    return jax.lax.map(lambda x: one_scenario(*x), xs, batch_size=chunk)

  chunk_stats, chunk_fn = bench_jax(chunked, device_args, repeats)
  baseline = bench_numpy(scenarios, baseline_repeats, batch)

  # Same answers as the reference (spot checks, outside the timings).
  success, params = vmap_fn(*device_args)
  success_chunked, _ = chunk_fn(*device_args)
  np.testing.assert_allclose(np.asarray(success), np.asarray(success_chunked), atol=1e-12)
  for i in np.linspace(0, batch - 1, 20).astype(int):
    np.testing.assert_allclose(success[i], ref.np_worst_case_success(
        *(a[i] for a in scenarios), EPS), atol=1e-12)
    want = ref.np_scenario_parameters(*(a[i] for a in scenarios))
    np.testing.assert_allclose(params.overlap[i], want["overlap"], atol=1e-12)

  baseline["scenarios_per_s"] = baseline["scenarios"] / baseline["median_s"]
  for stats in (vmap_stats, chunk_stats):
    stats["scenarios_per_s"] = batch / stats["median_s"]
    stats["ratio_vs_numpy"] = stats["scenarios_per_s"] / baseline["scenarios_per_s"]
  best_name = "lax_map" if chunk_stats["median_s"] < vmap_stats["median_s"] else "vmap"
  best = chunk_stats if best_name == "lax_map" else vmap_stats
  result = dict(
      benchmark="exact analysis (worst_case_success + scenario_parameters)",
      command="python -m benchmarks.bench_mixtures" + (" --quick" if args.quick else ""),
      quick=args.quick,
      **environment(),
      shapes=dict(scenarios=batch, n=n, K=k, M=m),
      dtype="float64",
      eps=EPS,
      strategy="feature-label, deterministic signal maps",
      compile_s=best["compile_s"],
      median_s=best["median_s"],
      scenarios_per_s=best["scenarios_per_s"],
      ratio=best["ratio_vs_numpy"],
      best=best_name,
      vmap=vmap_stats,
      lax_map=dict(chunk_size=chunk, **chunk_stats),
      baseline=dict(name="tests/numpy_reference.py, one scenario at a time (NumPy float64)",
                    **baseline),
  )
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(json.dumps(result, indent=2) + "\n")
  shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
  print(f"exact analysis, {batch:,} scenarios (n={n}, K={k}, M={m}, float64) on "
        f"{result['device']}: vmap {vmap_stats['median_s'] * 1e3:.1f} ms "
        f"({vmap_stats['ratio_vs_numpy']:.0f}x), lax.map/{chunk} "
        f"{chunk_stats['median_s'] * 1e3:.1f} ms ({chunk_stats['ratio_vs_numpy']:.0f}x) vs NumPy "
        f"{baseline['median_s']:.2f} s; compile {best['compile_s']:.2f} s -> {shown}")
  return result


if __name__ == "__main__":
  main()
