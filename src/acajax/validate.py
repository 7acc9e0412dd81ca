"""Deprecated alias of :mod:`acajax.runs.validate`, where this module now lives.

``import acajax.validate`` keeps working (it is the same module object) but warns;
import :mod:`acajax.runs.validate` instead.
"""

import sys
import warnings

from acajax.runs import validate as _module

warnings.warn("acajax.validate moved to acajax.runs.validate; import it from "
              "there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _module
