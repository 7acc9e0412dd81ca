"""Deprecated alias of :mod:`acajax.runs.demo`, where this module now lives.

``import acajax.demo`` keeps working (it is the same module object) but warns;
import :mod:`acajax.runs.demo` instead.
"""

import sys
import warnings

from acajax.runs import demo as _module

warnings.warn("acajax.demo moved to acajax.runs.demo; import it from "
              "there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _module
