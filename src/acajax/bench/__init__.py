"""The benchmark suite behind ``acajax bench``: one benchmark per capability.

Runs one benchmark per capability (``NAMES``: sweep, exact, optimize,
learners, statistical, recommender) on the default JAX device, each in a
fresh process: compile time apart, median of repeats, throughput, the ratio
to a baseline run in the same process, throughput against problem size,
fraction of the device's measured peak, and the sweep engine's peak memory
against grid size. It is part of the installed package, so a wheel installed
on an accelerator host benchmarks it::

  acajax bench                          # -> ./acajax-bench/<device>.json, summary.md, plots
  acajax bench --quick --only exact --out results.json
  python -m acajax.bench --quick        # the same command line

From a source checkout the results go to ``benchmarks/results/`` and the
summary into ``benchmarks/README.md`` (:func:`destination`).

The package's modules:

* ``_suite`` — :func:`run_suite`: the fresh processes, the result JSON;
  :func:`plan`: each benchmark's sizes.
* ``_workloads`` — one module per capability: workload, baseline, sizes and
  the record the suite writes.
* ``_measure`` — compile apart, warm-up, median of repeats; the device's
  ceilings and fraction of peak.
* ``_env`` — the machine's description, the timing loop, one JAX device per
  core.
* ``_process`` — the child processes (``python -P -m acajax.bench``).
* ``_paths`` — :func:`destination`: where the files go.
* ``_summary`` — :func:`summarize`: markdown tables and plots from the JSON.
"""

from acajax.bench._paths import DEFAULT_FOLDER, Destination, checkout_root, destination
from acajax.bench._suite import NAMES, SCHEMA, plan, run_suite
from acajax.bench._summary import write as summarize

__all__ = [
    "DEFAULT_FOLDER",
    "Destination",
    "NAMES",
    "SCHEMA",
    "checkout_root",
    "destination",
    "plan",
    "run_suite",
    "summarize",
]
