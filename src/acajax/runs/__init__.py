"""The run layer: specs, drivers, files, reports and figures.

Everything here reads or writes files, shows progress or draws figures, on top
of the maths layer (:mod:`acajax.bounds`, :mod:`acajax.mixtures`,
:mod:`acajax.statistical`, :mod:`acajax.optimize`, :mod:`acajax.learners`,
:mod:`acajax.recommender`), which does none of that.

* :mod:`acajax.runs.finite_sample` — the categorical CSV reader and the
  finite-sample report (``acajax finite-sample``).
* :mod:`acajax.runs.validate` — learners trained on planted data beside the
  bounds (``acajax validate``).
* :mod:`acajax.runs.recommender` — promoting and demoting collectives on a
  recommender (``acajax validate`` with ``kind = "recommender"``).
* :mod:`acajax.runs.figures` — matplotlib figures on plain arrays.
* :mod:`acajax.runs.demo` — the README's main job (``acajax demo``).

:class:`SpecError` is the one error of every TOML spec the project reads.
"""

from acajax.runs._spec import SpecError

__all__ = ["SpecError"]
