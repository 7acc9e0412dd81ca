"""How a benchmark is measured and recorded: timings, the device's ceilings, fraction of peak.

Every measurement: ahead-of-time compilation timed apart, one untimed
warm-up, the median of timed repeats ending in ``block_until_ready``.

Fraction of peak: the device's two ceilings are measured in the same run (a
large copy: bytes read + written per second; a long chain of fused
multiply-adds per element: FLOP/s, in float32 and float64; a float32 matrix
product). A benchmark's work per item is XLA's cost analysis of a loop-free
form of its computation (flops) and the fewest bytes it must move (inputs
read once, outputs written once); achieved rates over the ceilings give two
fractions, and the larger one says which ceiling binds. Loops (Adam steps,
training steps) are counted as iterations × one iteration's cost, since
XLA's cost analysis counts a loop body once.
"""

from __future__ import annotations

import math
import statistics
import time

import jax
import jax.numpy as jnp

from acajax.bench._env import timings

# Datasheet peaks (dense, no sparsity) of the accelerators we have run on:
# bytes/s of device memory, and FLOP/s of the vector units (float32,
# float64) and of float32 matrix products at default precision (TF32).
DATASHEET = {
    "NVIDIA H100 80GB HBM3": dict(copy_bytes_per_s=3.35e12, float32_flops_per_s=67e12,
                                  float64_flops_per_s=34e12, matmul_flops_per_s=495e12),
    "NVIDIA H200": dict(copy_bytes_per_s=4.8e12, float32_flops_per_s=67e12,
                        float64_flops_per_s=34e12, matmul_flops_per_s=495e12),
}


def measure(fn, args: tuple, repeats: int) -> tuple[dict, object]:
  """Compiles ahead of time (timed apart), warms up, then times ``repeats`` calls.

  Args:
    fn: the function to jit.
    args: its arguments (arrays or pytrees of them).
    repeats: timed calls after the warm-up.

  Returns:
    ``(stats, compiled)``: stats with ``compile_s``, ``median_s``, ``min_s``
    and ``repeats``; the compiled executable.
  """
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  jax.block_until_ready(compiled(*args))                 # untimed warm-up
  times = timings(lambda: compiled(*args), repeats)
  return dict(compile_s=compile_s, median_s=statistics.median(times), min_s=min(times),
              repeats=repeats), compiled


def cost(fn, args: tuple) -> tuple[float, float]:
  """(flops, bytes accessed) of a loop-free function, by XLA's cost analysis."""
  analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else {}
  analysis = analysis or {}
  return float(analysis.get("flops", math.nan)), float(analysis.get("bytes accessed", math.nan))


def nbytes(*trees) -> int:
  """Bytes held by the array leaves of ``trees``."""
  return int(sum(leaf.size * leaf.dtype.itemsize for tree in trees
                 for leaf in jax.tree.leaves(tree)))


def ceilings(accelerator: bool, quick: bool = False) -> dict:
  """Measured ceilings: copy bandwidth, FMA throughput (f32, f64), f32 matmul.

  The datasheet's figures are added (``datasheet``) for devices in
  ``DATASHEET``.

  Args:
    accelerator: whether the default device is an accelerator (larger arrays).
    quick: smaller arrays on CPU (CI-sized runs).

  Returns:
    dict with ``copy_bytes_per_s``, ``float32_flops_per_s``,
    ``float64_flops_per_s``, ``matmul_flops_per_s`` and ``datasheet``.
  """
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

  Args:
    flops_per_item: FLOPs of one item.
    bytes_per_item: the fewest bytes one item must move.
    items_per_s: the achieved throughput.
    unit: names the FLOP ceiling: "float32" or "float64" (vector FMA) or
      "matmul".
    ceiling: :func:`ceilings` of the same run.

  Returns:
    dict of achieved rates, and fractions of the measured ceilings (and of
    the datasheet's, prefixed ``datasheet_``, where the device is in
    ``DATASHEET``) with the binding one.
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

  Examples:
    >>> from acajax.bench._measure import entry
    >>> record = entry(name="x", items=100, median_s=0.5, scaling=[],
    ...                baseline=dict(name="loop", items=10, median_s=1.0))
    >>> record["throughput"], record["baseline"]["throughput"], record["ratio"]
    (200.0, 10.0, 20.0)
  """
  fields["throughput"] = fields["items"] / fields["median_s"]
  base = fields["baseline"]
  base["throughput"] = base["items"] / base["median_s"]
  at = base.get("at_size")
  mine = fields["throughput"] if at is None else next(
      s["throughput"] for s in fields["scaling"] if s["size"] == at)
  fields["ratio"] = mine / base["throughput"]
  return fields
