"""Allocation workload: many budget-allocation problems in one vmapped call, against a loop.

Workload: random budget-allocation problems (``optimize.allocate_masses``,
M = 3 feature-label collectives, objective S_min, default settings: 4
restarts x 200 Adam steps, then the exact evaluation), float64, vmapped over
the problems (:func:`one_problem`).

Baseline: a Python loop calling the jitted single-problem function once per
problem (compiled and warmed up first, so the loop pays dispatch and
per-call work, not compilation); its answers are checked against the
batched ones.
"""

from __future__ import annotations

import statistics

import jax
import jax.numpy as jnp
import numpy as np

from acajax import optimize
from acajax.bench._env import timings
from acajax.bench._measure import cost, entry, measure, nbytes, roofline

M = 3


def make_problems(count: int, m: int = M, seed: int = 0) -> dict:
  """Random allocation problems as arrays with a leading batch axis."""
  rng = np.random.default_rng(seed)
  return dict(budget=rng.uniform(0.05, 0.5, count), targets=rng.integers(0, 2, (count, m)),
              xi_c=rng.uniform(0.002, 0.04, (count, m)), xi=rng.uniform(0, 0.25, (count, m)),
              delta=rng.uniform(0, 1, (count, m)), eps=rng.uniform(0, 0.15, count))


def one_problem(problem):
  """``(masses, value)`` of ``optimize.allocate_masses`` on one problem."""
  rest = {k: v for k, v in problem.items() if k != "budget"}
  out = optimize.allocate_masses(problem["budget"], **rest)
  return out.masses, out.value


def sizes(quick: bool, accelerator: bool) -> dict:
  """Problem counts: scaling, headline and baseline."""
  scaling = [10, 50] if quick else [10, 100, 1000] + ([10_000, 100_000] if accelerator else [])
  return dict(sizes=scaling, headline=scaling[-1], baseline=10 if quick else 100)


def benchmark(p: dict, ceiling: dict) -> dict:
  """The suite's allocation record (float64)."""
  jax.config.update("jax_enable_x64", True)
  scaling, head_fn, problems = [], None, None
  for size in p["sizes"]:
    problems = {k: jnp.asarray(v) for k, v in make_problems(size).items()}
    stats, compiled = measure(jax.vmap(one_problem), (problems,), 5)
    scaling.append(dict(size=size, throughput=size / stats["median_s"], **stats))
    head_fn = compiled
  head = scaling[-1]
  single = jax.jit(one_problem)
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
      shapes=dict(problems=head["size"], M=M, restarts=4, steps=200),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="Python loop over jax.jit(allocate_masses), one problem per call",
                    items=len(subset), median_s=statistics.median(times)),
      scaling=scaling,
      roofline=roofline(flops / 64 * 4 * 200, nbytes(small) / 64, head["throughput"],
                        "float64", ceiling))
