r"""Finite-sample bounds computed from data (SPEC §9; SPEC §4–§5 with confidence bounds).

A collective that holds only its own data, n samples of P0, can still say with
probability at least 1 - delta how often its signal will work. Everything here
is computed from small count tables of integer-coded categorical samples, so a
whole curve of bounds against n is one jitted call.

The package has three layers, each a private module whose public names are
re-exported here:

1. **Count tables** (``_counts``). A signal sets some columns of a
   categorical row and keeps the others (as in :mod:`acajax.structured`); its
   image set X* is every row with the set columns at their values.
   :func:`dense_signal_codes` (jittable) numbers X* by the mixed-radix code of
   the kept columns; :func:`signal_codes` (host) falls back to the distinct
   observed images when X* is too large to enumerate. :func:`count_tables`
   and :func:`prefix_count_tables` (every prefix size n at once) count with
   ``jax.ops.segment_sum``; :func:`estimates` gives the estimated P0 on X*,
   the signal distribution Q and Delta-hat.
2. **One collective** (``_bounds``; Gauthier, Bach and Jordan, ICML 2025):
   :func:`feature_label_bound` (SPEC §9 as stated), and, derived in that
   module's docstring (the model M1–M3 and one proof for all three),
   :func:`feature_only_bound` and :func:`unplanting_bound`. They broadcast
   over n (a leading axis of the tables), N, N_test, delta, eps and the
   target. Checks: :func:`population_success` (the limit n, N -> inf with
   n/N = alpha) and :func:`empirical_success` (the success actually obtained
   by the classifier trained on a given sample).
3. **Several collectives** (``_knowledge``): Theorems 1 and 2 (SPEC §4–§5)
   with every parameter replaced by a confidence interval, worst case over
   the box (:func:`worst_case_bound`), and bounds for partial knowledge of the
   others (:func:`total_mass_only`, :func:`aggregate_worst_case`,
   :func:`split_worst_case`).

Reading CSV files and the ``acajax finite-sample`` report belong to the run
layer, :mod:`acajax.runs.finite_sample`. Their old names here
(``statistical.read_categorical_csv``, ``statistical.csv_report``, ...)
still work but emit a ``DeprecationWarning`` naming the new path.

Names: ``delta`` is the confidence parameter of SPEC §9 (the probability that
a bound fails); the difficulty Delta_c of SPEC §3 is called ``difficulty``
here, and Delta_x / Delta-hat_x (per signal point, joint probabilities) as in
SPEC §9.

**Suboptimality.** The one-collective bounds use the eps of Hardt et al. and
Gauthier et al. (a TV ball around the *joint* training distribution), not the
per-x conditional eps of SPEC §2 (SPEC §6 explains the difference); the
several-collective bounds keep SPEC §2's eps and estimate only the parameters.
"""

import warnings

from acajax.statistical._bounds import (
    STRATEGIES,
    FiniteSampleBound,
    empirical_success,
    feature_label_bound,
    feature_only_bound,
    hoeffding_radius,
    population_success,
    split_delta,
    unplanting_bound,
    unplanting_labels,
)
from acajax.statistical._counts import (
    DENSE_LIMIT,
    CountTables,
    Estimates,
    SignalCodes,
    count_tables,
    dense_signal_codes,
    estimates,
    prefix_count_tables,
    signal_codes,
)
from acajax.statistical._knowledge import (
    Interval,
    ParameterBox,
    ParameterIntervals,
    aggregate_worst_case,
    hoeffding_interval,
    interval,
    parameter_box,
    parameter_intervals,
    split_worst_case,
    total_mass_only,
    worst_case_bound,
)

__all__ = [
    "DENSE_LIMIT",
    "STRATEGIES",
    "CountTables",
    "Estimates",
    "FiniteSampleBound",
    "Interval",
    "ParameterBox",
    "ParameterIntervals",
    "SignalCodes",
    "aggregate_worst_case",
    "count_tables",
    "dense_signal_codes",
    "empirical_success",
    "estimates",
    "feature_label_bound",
    "feature_only_bound",
    "hoeffding_interval",
    "hoeffding_radius",
    "interval",
    "parameter_box",
    "parameter_intervals",
    "population_success",
    "prefix_count_tables",
    "signal_codes",
    "split_delta",
    "split_worst_case",
    "total_mass_only",
    "unplanting_bound",
    "unplanting_labels",
    "worst_case_bound",
]

_MOVED_TO_RUNS = ("CategoricalData", "DataError", "csv_report", "parse_signal", "plot_curves",
                  "read_categorical_csv")
"""Names of the data-file layer, now in :mod:`acajax.runs.finite_sample`."""


def __getattr__(name):  # PEP 562: the old paths of the moved names still work, with a warning.
  if name in _MOVED_TO_RUNS:
    warnings.warn(f"acajax.statistical.{name} moved to acajax.runs.finite_sample.{name}",
                  DeprecationWarning, stacklevel=2)
    from acajax.runs import finite_sample  # deferred: the maths layer must not import the run layer
    return getattr(finite_sample, name)
  raise AttributeError(f"module 'acajax.statistical' has no attribute {name!r}")
