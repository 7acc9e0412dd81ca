"""acajax: algorithmic collective action with several collectives, in JAX.

Modules (see ARCHITECTURE.md):

* :mod:`acajax.bounds` — closed-form success bounds (SPEC §4–§8).
* :mod:`acajax.mixtures` — the exact engine on finite distributions (SPEC §1–§3).
* :mod:`acajax.structured` — the exact engine on categorical feature tuples.
"""

from acajax import bounds, mixtures, structured
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

__all__ = [
    "bounds",
    "mixtures",
    "structured",
    "critical_mass",
    "feature_label",
    "feature_label_pairwise",
    "feature_only",
    "s_min",
    "s_weighted",
    "scenario_bounds",
]
