"""Deprecated alias of :mod:`acajax.runs.figures`, where this module now lives.

``import acajax.plots`` keeps working (it is the same module object) but warns;
import :mod:`acajax.runs.figures` instead.
"""

import sys
import warnings

from acajax.runs import figures as _module

warnings.warn("acajax.plots moved to acajax.runs.figures; import it from "
              "there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _module
