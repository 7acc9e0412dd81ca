"""Deprecated alias of :mod:`acajax.sweep._spec`, whose public names
:mod:`acajax.sweep` re-exports.

``import acajax.sweep_spec`` keeps working (it is the same module object) but warns;
import the names from :mod:`acajax.sweep` instead.
"""

import sys
import warnings

from acajax.sweep import _spec as _module

warnings.warn("acajax.sweep_spec is deprecated: the same names are in acajax.sweep "
              "(acajax.sweep.load, acajax.sweep.SweepSpec, ...)", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _module
