"""Result tables (pandas) of the maths layer's reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from acajax import mixtures

__all__ = ["tightness_frame"]


def tightness_frame(report: mixtures.TightnessReport) -> pd.DataFrame:
  """Tabulates one (unbatched) :class:`~acajax.mixtures.TightnessReport` as a DataFrame.

  Rows: one per collective (``c0``, ``c1``, ...), then ``S_min`` and ``S_w``.
  Columns: ``exact``, then each bound of :data:`acajax.mixtures.BOUND_NAMES`, then
  ``gap_<name>`` (exact - bound). Non-applicable bounds are NaN.

  Args:
    report: :func:`acajax.mixtures.tightness_report` of one scenario.

  Returns:
    A ``pandas.DataFrame``.

  Raises:
    ValueError: ``report`` is batched (``report.exact`` is not 1-D).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import mixtures
    >>> from acajax.runs.tables import tightness_frame
    >>> p0 = jnp.array([[.4, .1], [.1, .4]])
    >>> report = mixtures.tightness_report(p0, jnp.array([[1, 1]]), jnp.array([0]),
    ...                                    jnp.array([.5]), eps=.05)
    >>> frame = tightness_frame(report)
    >>> list(frame.index)
    ['c0', 'S_min', 'S_w']
    >>> float(frame.loc["c0", "exact"])
    1.0
  """
  exact = np.asarray(report.exact, dtype=np.float64)
  if exact.ndim != 1:
    raise ValueError(f"report must be for one scenario (exact of shape (M,)), got {exact.shape}")
  num = exact.shape[0]
  index = [f"c{c}" for c in range(num)] + ["S_min", "S_w"]
  columns: dict[str, np.ndarray] = {
      "exact": np.append(exact, [float(report.exact_min), float(report.exact_weighted)])}
  for name in mixtures.BOUND_NAMES:
    columns[name] = np.append(np.asarray(report.bounds[name], np.float64),
                              [float(report.bounds_min[name]), float(report.bounds_weighted[name])])
  for name in mixtures.BOUND_NAMES:
    columns[f"gap_{name}"] = columns["exact"] - columns[name]
  return pd.DataFrame(columns, index=index)
