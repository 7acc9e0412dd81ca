"""Sweep layouts on an accelerator: chunk size x steps x chunks in flight.

Results in benchmarks/README.md. Run on the device:
``python -m benchmarks.experiments.gpu_sweep_layout``. It sets the sweep
engine's layout constants where the engine reads them
(``acajax.sweep._plan.ACCELERATOR_STEPS``, ``acajax.sweep._driver.IN_FLIGHT``).
"""
import statistics

import jax

from acajax import sweep
from acajax.bench._workloads.sweep import sweep_spec
from acajax.sweep import _driver, _plan

VARIANTS = [(2**25, 8, 2), (2**25, 1, 2), (2**27, 8, 2), (2**27, 1, 1), (2**27, 1, 2),
            (2**27, 1, 4), (2**28, 1, 2)]

for exponent in (9, 10):
  for chunk, steps, in_flight in VARIANTS:
    _plan.ACCELERATOR_STEPS, _driver.IN_FLIGHT = steps, in_flight
    spec = sweep_spec(exponent).replace(chunk_points=chunk, memory_cap_mb=65536)
    first = sweep.run(spec, progress=False)
    times = []
    for _ in range(3):
      r = sweep.run(spec, progress=False)
      times.append(r.wall_s - r.compile_s)
    t = statistics.median(times)
    peak = (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use", 0) / 2**20
    print(f"10^{exponent} chunk 2^{chunk.bit_length() - 1} steps {steps} in flight {in_flight}: "
          f"{t:.3f} s {spec.num_points / t:.3g} points/s (compile {first.compile_s:.2f} s, "
          f"chunks {r.plan.num_chunks}, block {r.plan.group}x{r.plan.lanes}, "
          f"peak device {peak:.0f} MB so far)", flush=True)
