"""acajax: algorithmic collective action with several collectives, in JAX.

The maths layer (pure JAX and NumPy; see ARCHITECTURE.md):

* :mod:`acajax.bounds` — closed-form success bounds (SPEC §4–§8).
* :mod:`acajax.mixtures` — the exact engine on finite distributions (SPEC §1–§3).
* :mod:`acajax.objectives` — mixed objectives: collectives that plant, unplant
  or erase a signal, exactly (theory guide, "Mixed objectives").
* :mod:`acajax.structured` — the exact engine on categorical feature tuples.
* :mod:`acajax.scenarios` — finite tables with prescribed scenario parameters.
* :mod:`acajax.statistical` — finite-sample bounds from data (SPEC §9).
* :mod:`acajax.optimize` — masses, critical budgets, signal points and targets.
* :mod:`acajax.planting`, :mod:`acajax.datasets`, :mod:`acajax.learners` —
  planted data and flax learners.
* :mod:`acajax.ratings`, :mod:`acajax.rating_collectives`,
  :mod:`acajax.recommender` — promoting and demoting collectives on a
  matrix-factorisation recommender; :mod:`acajax.svd` — the study's model,
  Surprise's ``SVD``, reproduced in JAX, :mod:`acajax.rating_eval` (splits,
  RMSE/MAE, k-fold CV, batched grid search) and :mod:`acajax.clustering`
  (k-means, k-medoids of the MF user vectors).

Sweeps and the run layer:

* :mod:`acajax.sweep` — large parameter sweeps (specs, chunks, devices, files).
* :mod:`acajax.runs` — specs, drivers, reports and figures of the CLI's jobs
  (:mod:`acajax.runs.validate`, :mod:`acajax.runs.recommender`,
  :mod:`acajax.runs.finite_sample`, :mod:`acajax.runs.figures`,
  :mod:`acajax.runs.demo`).
* :mod:`acajax.bench` — the benchmark suite (``acajax bench``).

``import acajax`` loads the closed-form and exact layers only; every other
module loads on first use (``acajax.sweep``, ``from acajax import learners``),
so that flax, pandas and matplotlib are imported only by what needs them.
"""

import importlib

from acajax import bounds, mixtures, objectives, optimize, scenarios, statistical, structured
from acajax._version import __version__
from acajax.bounds import (
    critical_mass,
    feature_label,
    feature_label_pairwise,
    feature_only,
    s_min,
    s_weighted,
    scenario_bounds,
)

_LAZY_MODULES = ("bench", "clustering", "datasets", "learners", "planting", "rating_collectives",
                 "ratings", "rating_eval", "recommender", "runs", "svd", "sweep")
# Old homes of moved modules: importing them works and warns (DeprecationWarning).
_MOVED_MODULES = ("demo", "plots", "rec_experiment", "sweep_spec", "validate")


def __getattr__(name):  # PEP 562: heavy layers load on first use.
  if name in _LAZY_MODULES or name in _MOVED_MODULES:
    return importlib.import_module(f"acajax.{name}")
  raise AttributeError(f"module 'acajax' has no attribute {name!r}")


def __dir__():
  return sorted(__all__)


__all__ = [
    "__version__",
    "bench",
    "bounds",
    "clustering",
    "critical_mass",
    "datasets",
    "feature_label",
    "feature_label_pairwise",
    "feature_only",
    "learners",
    "mixtures",
    "objectives",
    "optimize",
    "planting",
    "rating_collectives",
    "rating_eval",
    "ratings",
    "recommender",
    "runs",
    "s_min",
    "s_weighted",
    "scenario_bounds",
    "svd",
    "scenarios",
    "statistical",
    "structured",
    "sweep",
]
