"""Deprecated alias of :mod:`acajax.runs.recommender`, where this module now lives.

``import acajax.rec_experiment`` keeps working (it is the same module object) but warns;
import :mod:`acajax.runs.recommender` instead.
"""

import sys
import warnings

from acajax.runs import recommender as _module

warnings.warn("acajax.rec_experiment moved to acajax.runs.recommender; import it "
              "from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _module
