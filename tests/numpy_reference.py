"""Independent NumPy float64 reference for the exact engine (SPEC §1–§3).

The reference itself ships with the package, as the exact benchmark's
baseline (:mod:`acajax.bench._workloads.numpy_reference`); it is written from
SPEC.md directly, one scenario at a time, and shares no code with
``acajax.mixtures``, so the tests' agreement with it means something.
"""

from acajax.bench._workloads.numpy_reference import *  # noqa: F401,F403
from acajax.bench._workloads.numpy_reference import TOLERANCE  # noqa: F401
