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
  ``np_scenario_parameters``; the package's copy in
  ``acajax.bench._workloads.numpy_reference``), one scenario at a time.

Workload and baseline are those of ``acajax bench``
(:mod:`acajax.bench._workloads.exact`); this script adds the ``lax.map``
form and its own sizes.

Run: ``.venv/bin/python -m benchmarks.bench_mixtures [--quick]``. Writes
``benchmarks/results/cpu_mixtures.json`` (``--out`` to change) and prints a
one-line summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from acajax.bench._env import environment
from acajax.bench._measure import measure
from acajax.bench._workloads import numpy_reference as ref
from acajax.bench._workloads.exact import EPS, make_scenarios, numpy_baseline, one_scenario

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent


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
  vmap_stats, vmap_fn = measure(vmapped, device_args, repeats)

  def chunked(*xs):
    return jax.lax.map(lambda x: one_scenario(*x), xs, batch_size=chunk)

  chunk_stats, chunk_fn = measure(chunked, device_args, repeats)
  baseline = numpy_baseline(scenarios, baseline_repeats, batch)

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
