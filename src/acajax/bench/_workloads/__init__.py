"""The suite's workloads and baselines, one module per capability.

Each module holds its capability's workload (what is timed), its baseline
(what it is compared with, in the same process), and the two functions the
suite calls in the benchmark's own process:

* ``sizes(quick, accelerator)`` — the problem sizes (the scaling run and the
  headline size, the baseline's size, settings such as Adam steps);
* ``benchmark(p, ceiling)`` — runs them and returns the result record
  (:func:`acajax.bench._measure.entry`), or None when the capability is not
  available.

The stand-alone scripts ``benchmarks/bench_*.py`` of a source checkout time
more variants of the same workloads against the same baselines.
"""
