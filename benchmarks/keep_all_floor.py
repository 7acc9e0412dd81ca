"""How fast can any engine return the ``keep_all`` sweep's table? A floor, measured.

The ``keep_all`` shape of ``benchmarks/bench_sweep.py`` (three collectives,
every bound and S_min at every point of 60 x 60 x 60 x 20, no reduction)
returns a table of 8 float32 columns of 4.32e6 rows: 138 MB. Any engine
must at least write it. This script measures, in one process pinned to one
core, median of repeats:

* the strong NumPy baseline of ``bench_sweep`` (values and table);
* the floor: writing 8 float32 columns of that length (``np.ones``), which
  is the table with no arithmetic at all;
* the engine (``sweep.run``, compile excluded).

The best ratio any engine can reach against the baseline is baseline /
floor.

Run: ``.venv/bin/python -m benchmarks.keep_all_floor``.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from acajax import sweep


def _median(fn, repeats: int = 9) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main() -> dict:
  if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
  from benchmarks import bench_sweep   # deferred: after pinning, as bench_sweep does
  spec = bench_sweep.spec_keep()
  rows = int(np.prod([len(a) for a in bench_sweep._axes(spec)]))
  columns = len(spec.axes) + 4
  baseline = bench_sweep.numpy_of(spec, np.float32)
  baseline()
  sweep.run(spec, progress=False)   # compile and warm up
  engine_times = []
  for _ in range(5):
    result = sweep.run(spec, progress=False)
    engine_times.append(result.wall_s - result.compile_s)
  out = dict(rows=rows, columns=columns, table_mb=rows * columns * 4 / 1e6,
             baseline_s=_median(baseline),
             floor_s=_median(lambda: [np.ones(rows, np.float32) for _ in range(columns)]),
             engine_s=statistics.median(engine_times))
  out["best_possible_ratio"] = out["baseline_s"] / out["floor_s"]
  out["engine_ratio"] = out["baseline_s"] / out["engine_s"]
  for key, value in out.items():
    print(f"{key:>20}: {value:.4g}" if isinstance(value, float) else f"{key:>20}: {value}")
  return out


if __name__ == "__main__":
  main()
