"""Allocation throughput: 1,000 problems in one vmapped call vs a Python loop.

Workload: 1,000 random budget-allocation problems (``optimize.allocate_masses``,
M = 3 feature-label collectives, objective S_min, default settings: 4
restarts x 200 Adam steps, then the exact evaluation), float64.

* JAX batched: ``jax.jit(jax.vmap(allocate_masses))`` over all problems in one
  call (the headline figure), and the same vmapped function under
  ``jax.lax.map(..., batch_size=CHUNK)`` (one jitted call that walks the
  batch in chunks; on CPU the smaller working set stays in cache). Compile
  time is measured apart (ahead-of-time ``lower().compile()``), then one
  untimed warm-up, then the median of timed repeats with
  ``block_until_ready``.
* Baseline, same run: a Python loop calling the jitted single-problem
  function once per problem (compiled and warmed up first, so the loop pays
  dispatch and per-call work, not compilation). The loop is timed on a subset
  and extrapolated to the whole batch; its answers are checked against the
  batched ones.

Workload and baseline are those of ``acajax bench``
(:mod:`acajax.bench._workloads.optimize`); this script adds the ``lax.map``
form, a checked loop over every timed problem and its own sizes.

Run: ``.venv/bin/python -m benchmarks.bench_optimize [--quick]``. Writes
``benchmarks/results/cpu_optimize.json`` (``--out`` to change) and prints a
one-line summary with the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from acajax.bench._env import environment
from acajax.bench._measure import measure
from acajax.bench._workloads.optimize import make_problems, one_problem

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true",
                      help="200 problems, fewer repeats (a smoke run, not a measurement)")
  parser.add_argument("--problems", type=int, default=None, help="batch size (default 1,000)")
  parser.add_argument("--loop", type=int, default=None,
                      help="problems timed in the Python loop (default 100; extrapolated)")
  parser.add_argument("--repeats", type=int, default=None, help="timed repeats")
  parser.add_argument("--chunk", type=int, default=125, help="lax.map batch_size")
  parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                      "cpu_optimize.json")
  args = parser.parse_args(argv)
  count = args.problems or (200 if args.quick else 1_000)
  loop_count = min(args.loop or (20 if args.quick else 100), count)
  repeats = args.repeats or (3 if args.quick else 7)
  m = 3

  problems = {k: jnp.asarray(v) for k, v in make_problems(count, m).items()}

  # Batched: one jitted, vmapped call (and its chunked lax.map form).
  chunk = min(args.chunk, count)
  vmap_stats, batched = measure(jax.vmap(one_problem), (problems,), repeats)
  chunk_stats, chunked = measure(lambda p: jax.lax.map(one_problem, p, batch_size=chunk),
                                 (problems,), repeats)
  compile_s, median_s = vmap_stats["compile_s"], vmap_stats["median_s"]

  # Baseline: a Python loop over the jitted single-problem function.
  single = jax.jit(one_problem)
  first = {k: v[0] for k, v in problems.items()}
  start = time.perf_counter()
  jax.block_until_ready(single(first))
  loop_compile_s = time.perf_counter() - start
  subset = [{k: v[i] for k, v in problems.items()} for i in range(loop_count)]
  loop_times, loop_values = [], []
  for _ in range(max(1, repeats // 2)):
    start = time.perf_counter()
    loop_values = [jax.block_until_ready(single(problem)) for problem in subset]
    loop_times.append(time.perf_counter() - start)
  loop_s = statistics.median(loop_times) * count / loop_count

  # Same answers (outside the timings).
  masses, values = batched(problems)
  chunk_masses, _ = chunked(problems)
  np.testing.assert_allclose(chunk_masses, masses, atol=1e-10)
  for i, (loop_masses, loop_value) in enumerate(loop_values):
    np.testing.assert_allclose(loop_masses, masses[i], atol=1e-10)
    np.testing.assert_allclose(loop_value, values[i], atol=1e-10)

  problems_per_s = count / median_s
  baseline_per_s = count / loop_s
  result = dict(
      benchmark="allocate_masses (M=3, S_min, 4 restarts x 200 steps + exact evaluation)",
      command="python -m benchmarks.bench_optimize" + (" --quick" if args.quick else ""),
      quick=args.quick,
      **environment(),
      optax_version=optax.__version__,
      dtype="float64",
      shapes=dict(problems=count, M=m, restarts=4, steps=200),
      compile_s=compile_s,
      median_s=median_s,
      min_s=vmap_stats["min_s"],
      repeats=repeats,
      problems_per_s=problems_per_s,
      lax_map=dict(chunk_size=chunk, problems_per_s=count / chunk_stats["median_s"],
                   ratio=count / chunk_stats["median_s"] / baseline_per_s, **chunk_stats),
      baseline=dict(name="Python loop over jax.jit(allocate_masses), one problem per call",
                    timed_problems=loop_count, extrapolated_s=loop_s,
                    compile_s=loop_compile_s, problems_per_s=baseline_per_s),
      ratio=problems_per_s / baseline_per_s,
  )
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(json.dumps(result, indent=2) + "\n")
  shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
  print(f"allocate_masses, {count:,} problems (M={m}, float64) on {result['device']}: "
        f"batched {median_s * 1e3:.1f} ms ({problems_per_s:,.0f} problems/s) vs Python loop "
        f"{loop_s:.2f} s ({baseline_per_s:,.0f} problems/s; {loop_count} timed): "
        f"ratio {result['ratio']:.1f}x (lax.map/{chunk}: "
        f"{chunk_stats['median_s'] * 1e3:.1f} ms, {result['lax_map']['ratio']:.1f}x); "
        f"compile {compile_s:.2f} s -> {shown}")
  return result


if __name__ == "__main__":
  main()
