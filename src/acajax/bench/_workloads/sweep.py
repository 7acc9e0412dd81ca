"""Sweep workload: Theorem 1 for two collectives over a 4-axis grid, against NumPy.

Workload: two feature-label collectives (opposed targets), Theorem 1 for
each (SPEC §4), S_min and S_w (SPEC §7), over a 4-axis grid
alpha[0] x alpha[1] x xi x eps (xi_c = 0.01, delta = 0.5 fixed), reduced over
(xi, eps) with min, max and argmin: the worst, best and arg-worst case over
the overlap and the classifier's suboptimality for every pair of masses;
``acajax.sweep.run`` in float32.

Baseline: the strong NumPy baseline of :mod:`.sweep_baseline` (the bound
factored along the axes, cache-sized blocks, float32) on the same outputs.
Also recorded, as the older baseline: the same formula with the same domain
checks, clipping, corollaries and reductions in NumPy float64, on blocks of
alpha[0] rows (about 2**22 points per block), NaN handled on the full block
(:func:`numpy_sweep`).

The suite also measures the sweep engine's peak memory against grid size,
each size in a fresh process (:func:`memory_child`).
"""

from __future__ import annotations

import resource
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from acajax import sweep
from acajax.bench import _process
from acajax.bench._measure import cost, entry, roofline
from acajax.bench._workloads import sweep_baseline

XI_C, DELTA = 0.01, 0.5
CHUNK = 2**22

# Sweep grids (alpha[0], alpha[1], xi, eps) by exponent of the point count:
# the reduced table keeps 10^4 rows from 10^6 points on, so memory against
# grid size shows the chunking alone.
GRIDS = {4: (10, 10, 10, 10), 5: (100, 100, 10, 1), 6: (100, 100, 10, 10),
         7: (100, 100, 100, 10), 8: (100, 100, 100, 100), 9: (100, 100, 1000, 100),
         10: (100, 100, 1000, 1000)}


def make_spec(sizes, dtype="float32") -> sweep.SweepSpec:
  """The benchmark's sweep spec on a grid of ``sizes`` (alpha[0], alpha[1], xi, eps)."""
  n0, n1, n2, n3 = sizes
  axes = {"alpha[0]": sweep.Axis.linspace(0.005, 0.3, n0),
          "alpha[1]": sweep.Axis.linspace(0.005, 0.3, n1),
          "xi": sweep.Axis.linspace(0.0, 0.3, n2), "eps": sweep.Axis.linspace(0.0, 0.2, n3)}
  return sweep.SweepSpec(name="bench", axes=axes, bounds=("feature_label",), collectives=2,
                         collective=("s_min", "s_w"), fixed=dict(xi_c=XI_C, delta=DELTA),
                         reduce=sweep.Reduce(("xi", "eps"), ("min", "max", "argmin")),
                         dtype=dtype, chunk_points=CHUNK, memory_cap_mb=2048)


def sweep_spec(exponent: int) -> sweep.SweepSpec:
  """The suite's sweep spec at 10^exponent points (``GRIDS``).

  On accelerators, chunks of 2^28 points (the largest a spec allows): each
  chunk costs about a millisecond of host work, so large chunks ran 3-4x
  faster on an H100 (``benchmarks/experiments/gpu_sweep_layout.py``). The
  engine's memory estimate assumes materialised blocks; with one fused step
  the device used far less (2.5 GB at 2^28; see the memory table), so the cap
  is raised to let it run.
  """
  spec = make_spec(GRIDS[exponent])
  if jax.default_backend() != "cpu":
    spec = spec.replace(chunk_points=2**28, memory_cap_mb=65536)
  return spec


# -- the NumPy baseline ----------------------------------------------------------------------


def np_feature_label(alpha, total, beta, xi_c, xi, delta, eps):
  """Theorem 1 with its domain (NaN outside) and clipping, broadcasting (SPEC §4, §11)."""
  slack = 16 * np.finfo(total.dtype).eps
  misaligned = total - alpha - beta
  valid = ((eps >= 0) & (eps < 0.5) & (alpha > 0) & (total < 1) & (beta >= 0)
           & (misaligned >= -slack) & (xi_c >= 0) & (xi_c <= 1) & (xi >= 0) & (xi <= 1)
           & (delta >= 0) & (delta <= 1))
  value = (1.0 - xi_c * (delta + 2 * eps) / (1 - 2 * eps) * (1 - total) / alpha
           - xi * (1 + 2 * eps) / (1 - 2 * eps) * misaligned / alpha)
  return np.where(valid, np.clip(value, 0.0, 1.0), np.nan)


def numpy_sweep(spec: sweep.SweepSpec, dtype) -> dict[str, np.ndarray]:
  """The spec's reductions with NumPy broadcasting, in blocks of alpha[0] rows."""
  a0, a1, xi, eps = (axis.to_numpy().astype(dtype) for axis in spec.axes.values())
  n0, n1, n2, n3 = len(a0), len(a1), len(xi), len(eps)
  a1 = a1[None, :, None, None]
  xi, eps = xi[None, None, :, None], eps[None, None, None, :]
  xi_c, delta, zero = dtype(XI_C), dtype(DELTA), dtype(0)
  block = max(1, CHUNK // (n1 * n2 * n3))
  out = {k: np.empty((n0, n1), dtype) for k in ("s_min.min", "s_min.max", "s_w.min", "s_w.max")}
  out["s_min.argmin"] = np.empty((n0, n1), np.int64)
  for start in range(0, n0, block):
    rows = slice(start, start + block)
    alpha0 = a0[rows][:, None, None, None]
    total = alpha0 + a1
    b0 = np_feature_label(alpha0, total, zero, xi_c, xi, delta, eps)
    b1 = np_feature_label(a1, total, zero, xi_c, xi, delta, eps)
    s_min = np.minimum(b0, b1)
    s_w = (alpha0 * b0 + a1 * b1) / total
    for name, value in (("s_min", s_min), ("s_w", s_w)):
      flat = value.reshape(value.shape[0], n1, n2 * n3)
      nan = np.isnan(flat)
      low = np.where(nan, np.inf, flat)
      out[f"{name}.min"][rows] = low.min(axis=2)
      out[f"{name}.max"][rows] = np.where(nan, -np.inf, flat).max(axis=2)
      if name == "s_min":
        out["s_min.argmin"][rows] = low.argmin(axis=2)
  return out


# -- timing ---------------------------------------------------------------------------------


def time_sweep(spec: sweep.SweepSpec, repeats: int):
  """(median run seconds, compile seconds, last result, median process CPU seconds).

  The first run compiles (timed apart) and is the untimed warm-up; the
  repeats reuse the executable, and their compile_s (a cache look-up) is
  subtracted too.
  """
  warm = sweep.run(spec, progress=False)
  runs, cpu = [], []
  for _ in range(repeats):
    start = time.process_time()
    runs.append(sweep.run(spec, progress=False))
    cpu.append(time.process_time() - start)
  return (statistics.median(r.wall_s - r.compile_s for r in runs), warm.compile_s, runs[-1],
          statistics.median(cpu))


def time_numpy(spec: sweep.SweepSpec, dtype, repeats: int) -> tuple[float, float]:
  """(median wall seconds, median process CPU seconds) of :func:`numpy_sweep`."""
  times, cpu = [], []
  for _ in range(repeats):
    start, start_cpu = time.perf_counter(), time.process_time()
    numpy_sweep(spec, dtype)
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
  return statistics.median(times), statistics.median(cpu)


def time_strong_numpy(spec: sweep.SweepSpec, repeats: int) -> float:
  """Median seconds of the strong float32 baseline on the spec's outputs (:mod:`.sweep_baseline`)."""
  a0, a1, xi, eps = (axis.to_numpy() for axis in spec.axes.values())
  outputs = [(c, op) for c in ("s_min", "s_w") for op in ("min", "max", "argmin")]
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    sweep_baseline.reduced(a0, a1, xi, eps, outputs, np.float32)
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def check_agreement(spec: sweep.SweepSpec, table) -> float:
  """Largest difference between the sweep (float32) and NumPy float64 on its grid."""
  reference = numpy_sweep(spec, np.float64)
  worst = 0.0
  for name in ("s_min.min", "s_min.max", "s_w.min", "s_w.max"):
    got = table[f"feature_label.{name}"].to_numpy(np.float64)
    worst = max(worst, float(np.nanmax(np.abs(got - reference[name].reshape(-1)))))
  return worst


# -- peak memory, each size in a fresh process ------------------------------------------------


def memory_child(exponent: int) -> dict:
  """Peak memory of one sweep of 10^exponent points, in a fresh process."""
  return _process.run("--memory-child", str(exponent))


def memory_run(exponent: int) -> dict:
  """One sweep of 10^exponent points in this process; its peak host and device memory."""
  spec = sweep_spec(exponent)
  result = sweep.run(spec, progress=False)
  stats = jax.devices()[0].memory_stats() or {}
  return dict(
      points=spec.num_points, rows=len(result.table), chunks=result.plan.num_chunks,
      wall_s=result.wall_s, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      peak_device_mb=stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in stats
      else None)


# -- the suite's benchmark ---------------------------------------------------------------------


def sizes(quick: bool, accelerator: bool) -> dict:
  """Exponents of the point counts: scaling, headline, baseline and memory table."""
  scaling = [4, 6] if quick else [5, 6, 7, 8] + ([9, 10] if accelerator else [9])
  memory = [5] if quick else [6, 7, 8, 9] + ([10] if accelerator else [])
  return dict(sizes=scaling, headline=scaling[-1], baseline=min(scaling[-1], 5 if quick else 8),
              memory=memory)


def _per_point(a0, a1, xi, eps):
  """The sweep's arithmetic for one point, loop-free (SPEC §4, §7): [S_min, S_w]."""
  total = a0 + a1
  out = []
  for alpha in (a0, a1):
    misaligned = total - alpha
    valid = ((eps >= 0) & (eps < 0.5) & (alpha > 0) & (total < 1) & (misaligned >= 0)
             & (xi >= 0) & (xi <= 1))
    value = (1 - XI_C * (DELTA + 2 * eps) / (1 - 2 * eps) * (1 - total) / alpha
             - xi * (1 + 2 * eps) / (1 - 2 * eps) * misaligned / alpha)
    out.append(jnp.where(valid, jnp.clip(value, 0, 1), jnp.nan))
  s_min = jnp.minimum(*out)
  s_w = (a0 * out[0] + a1 * out[1]) / total
  return jnp.stack([s_min, s_w])


def benchmark(p: dict, ceiling: dict) -> dict:
  """The suite's sweep record: scaling, NumPy baseline, fraction of peak, memory table."""
  def run_grid(exponent, repeats):
    spec = sweep_spec(exponent)
    run_s, compile_s, last, _ = time_sweep(spec, repeats)
    return dict(size=spec.num_points, compile_s=compile_s, median_s=run_s,
                throughput=spec.num_points / run_s, devices=last.num_devices)

  scaling = [run_grid(e, 3) for e in p["sizes"]]
  head = next(s for s in scaling if s["size"] == 10 ** p["headline"])
  base_spec = sweep_spec(p["baseline"])
  repeats = 3 if p["baseline"] <= 6 else 2
  strong_s = time_strong_numpy(base_spec, repeats)
  numpy_s, _ = time_numpy(base_spec, np.float64, repeats)
  base_sweep = sweep.run(base_spec, progress=False)
  agreement = check_agreement(base_spec, base_sweep.table)
  if not agreement < 1e-5:
    raise AssertionError(f"sweep and NumPy disagree by {agreement}")

  points = jnp.linspace(0.01, 0.2, 4 * 65536, dtype=jnp.float32).reshape(4, -1)
  flops, _ = cost(_per_point, tuple(points))
  return entry(
      name="sweep", description="Theorem 1 for two collectives, S_min and S_w, reduced over "
      "xi x eps (min, max, argmin); acajax.sweep.run", unit="points", dtype="float32",
      shapes=dict(grid=list(GRIDS[p["headline"]]),
                  chunk_points=sweep_spec(p["headline"]).chunk_points),
      items=head["size"], compile_s=head["compile_s"], median_s=head["median_s"],
      baseline=dict(name="strong NumPy float32 (factored bound, cache-sized blocks)",
                    items=base_spec.num_points, median_s=strong_s, max_abs_difference=agreement),
      baseline_older=dict(name="NumPy float64 broadcasting, blocks of 2^22 points",
                          items=base_spec.num_points, median_s=numpy_s,
                          throughput=base_spec.num_points / numpy_s,
                          ratio=head["throughput"] / (base_spec.num_points / numpy_s)),
      scaling=scaling,
      roofline=roofline(flops / points.shape[1], 0.0, head["size"] / head["median_s"],
                        "float32", ceiling),
      memory=[memory_child(e) for e in p["memory"]])
