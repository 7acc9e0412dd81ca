"""acajax: algorithmic collective action with several collectives, in JAX.

Modules (see ARCHITECTURE.md):

* :mod:`acajax.bounds` — closed-form success bounds (SPEC §4–§8).
* :mod:`acajax.mixtures` — the exact engine on finite distributions (SPEC §1–§3).
* :mod:`acajax.structured` — the exact engine on categorical feature tuples.
* :mod:`acajax.statistical` — finite-sample bounds from data (SPEC §9).
* :mod:`acajax.optimize` — masses, critical budgets, signal points and targets.
* :mod:`acajax.sweep_spec`, :mod:`acajax.sweep` — large parameter sweeps.
* :mod:`acajax.planting`, :mod:`acajax.datasets`, :mod:`acajax.learners`,
  :mod:`acajax.validate` — empirical validation with flax learners, imported
  lazily on first use so that ``import acajax`` does not import flax.
* :mod:`acajax.ratings`, :mod:`acajax.recommender`,
  :mod:`acajax.rating_collectives`, :mod:`acajax.rec_experiment` — promoting
  and demoting collectives on a matrix-factorisation recommender (lazy too).
"""

import importlib

from acajax import bounds, mixtures, optimize, statistical, structured, sweep, sweep_spec
from acajax.bounds import (
    critical_mass,
    feature_label,
    feature_label_pairwise,
    feature_only,
    s_min,
    s_weighted,
    scenario_bounds,
)

__version__ = "0.1.0"

_LAZY_MODULES = ("planting", "datasets", "learners", "validate", "ratings", "recommender",
                 "rating_collectives", "rec_experiment")


def __getattr__(name):  # PEP 562: the learner stack imports flax only when used.
  if name in _LAZY_MODULES:
    return importlib.import_module(f"acajax.{name}")
  raise AttributeError(f"module 'acajax' has no attribute {name!r}")


__all__ = [
    "bounds",
    "critical_mass",
    "datasets",
    "feature_label",
    "feature_label_pairwise",
    "feature_only",
    "learners",
    "mixtures",
    "optimize",
    "planting",
    "rating_collectives",
    "ratings",
    "rec_experiment",
    "recommender",
    "s_min",
    "s_weighted",
    "scenario_bounds",
    "statistical",
    "structured",
    "sweep",
    "sweep_spec",
    "validate",
]
