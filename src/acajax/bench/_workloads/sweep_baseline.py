"""The strong NumPy baseline of the sweep benchmarks: what a careful user writes.

Two feature-label collectives with opposed targets (beta = 0), Theorem 1
per collective (SPEC §4), S_min and S_w (SPEC §7), kept axes alpha[0] x
alpha[1], reduced axes xi x eps, xi_c and delta fixed; and, for sweeps that
keep every point, three collectives over alpha[0..2] x beta.

Written as a careful NumPy user would, computing exactly the outputs asked
for and nothing on the full grid that is not needed:

* each bound is factored along the axes: 1 - R_c(alpha) E(eps)
  - Q_c(alpha) H(xi, eps), with R_c = xi_c (1 - abar)/alpha_c and
  Q_c = m_c/alpha_c computed once per kept point, E = (delta + 2 eps)/(1 -
  2 eps) and H = xi (1 + 2 eps)/(1 - 2 eps) once per reduced point;
* the domain (SPEC §11) splits the same way: kept points out of domain are
  set to NaN after reducing, reduced points out of domain are dropped;
* blocks of kept points times every reduced point of about 2^16 points
  (cache-sized; the fastest block on the 2-core machine), in place where
  NumPy allows;
* every point is clipped to [0, 1] before the corollaries and the
  reductions, as the sweep's semantics ask; argmin then min through the
  index (one pass).

:func:`reduced_clip_after` is the same for min/max only, with the clip moved
after the reduction (clipping is monotone): a user can do that for min and
max, not for argmin (ties at 0 or 1), so it is reported beside the others.
"""

from __future__ import annotations

import numpy as np

XI_C, DELTA = 0.01, 0.5
BLOCK_POINTS = 2**16


def _factors(a0, a1, xi, eps, dtype):
  """Row factors (R_c, Q_c, 1/abar, row validity) and column factors (E, H, kept index)."""
  a0, a1, xi, eps = (np.asarray(v, dtype) for v in (a0, a1, xi, eps))
  alpha = [np.repeat(a0, len(a1)), np.tile(a1, len(a0))]
  total = alpha[0] + alpha[1]
  slack = 16 * np.finfo(dtype).eps
  misaligned = [total - a for a in alpha]
  row_ok = ((alpha[0] > 0) & (alpha[1] > 0) & (total < 1) & (misaligned[0] >= -slack)
            & (misaligned[1] >= -slack))
  safe = [np.where(row_ok, a, dtype(0.5)) for a in alpha]
  rarity = [dtype(XI_C) * (1 - total) / a for a in safe]
  competition = [m / a for m, a in zip(misaligned, safe)]
  col_ok = (((eps >= 0) & (eps < 0.5))[None, :] & ((xi >= 0) & (xi <= 1))[:, None]).reshape(-1)
  safe_eps = np.where((eps >= 0) & (eps < 0.5), eps, dtype(0))
  difficulty = (dtype(DELTA) + 2 * safe_eps) / (1 - 2 * safe_eps)
  scale = (1 + 2 * safe_eps) / (1 - 2 * safe_eps)
  e = np.broadcast_to(difficulty[None, :], (len(xi), len(eps))).reshape(-1)[col_ok]
  h = (xi[:, None] * scale[None, :]).reshape(-1)[col_ok]
  inv_total = 1 / np.where(row_ok, total, dtype(1))
  return alpha, rarity, competition, inv_total, row_ok, e, h, np.flatnonzero(col_ok)


def reduced(a0, a1, xi, eps, outputs, dtype=np.float32, block_points=BLOCK_POINTS):
  """The sweep's reduced outputs over xi x eps, per (alpha[0], alpha[1]) point.

  Args:
    a0, a1, xi, eps: the axes' values (eps may have one value).
    outputs: (column, op) pairs, column ``"s_min"`` or ``"s_w"``, op
      ``"min"``, ``"max"`` or ``"argmin"``.
    dtype: ``np.float32`` or ``np.float64``.
    block_points: points per block.

  Returns:
    ``"<column>.<op>"`` -> array over the kept points (alpha[0] major);
    argmin as the flat index into xi x eps (-1 where no point is in domain).
  """
  alpha, rarity, competition, inv_total, row_ok, e, h, kept = _factors(a0, a1, xi, eps, dtype)
  rows = len(row_ok)
  out = {f"{c}.{op}": np.full(rows, -1 if op == "argmin" else np.nan,
                              np.int64 if op == "argmin" else dtype) for c, op in outputs}
  if kept.size == 0:
    return out
  step = max(1, block_points // kept.size)
  for start in range(0, rows, step):
    block = slice(start, start + step)
    bounds = []
    for c in range(2):
      b = rarity[c][block, None] * e
      b += competition[c][block, None] * h
      np.subtract(1, b, out=b)
      bounds.append(np.clip(b, 0, 1, out=b))
    values = {}
    if any(c == "s_w" for c, _ in outputs):
      values["s_w"] = (alpha[0][block, None] * bounds[0] + alpha[1][block, None] * bounds[1])
      values["s_w"] *= inv_total[block, None]
    if any(c == "s_min" for c, _ in outputs):
      values["s_min"] = np.minimum(bounds[0], bounds[1], out=bounds[0])
    for column, value in values.items():
      ops = {op for c, op in outputs if c == column}
      if "argmin" in ops:
        index = value.argmin(axis=1)
        out[f"{column}.argmin"][block] = kept[index]
        if "min" in ops:
          out[f"{column}.min"][block] = np.take_along_axis(value, index[:, None], 1)[:, 0]
      elif "min" in ops:
        out[f"{column}.min"][block] = value.min(axis=1)
      if "max" in ops:
        out[f"{column}.max"][block] = value.max(axis=1)
  for name, value in out.items():
    value[~row_ok] = -1 if name.endswith("argmin") else np.nan
  return out


def reduced_clip_after(a0, a1, xi, eps, dtype=np.float32, block_points=BLOCK_POINTS):
  """S_min's min over xi x eps with the clip after the reduction (min/max only)."""
  alpha, rarity, competition, inv_total, row_ok, e, h, kept = _factors(a0, a1, xi, eps, dtype)
  rows = len(row_ok)
  out = np.full(rows, np.nan, dtype)
  if kept.size == 0:
    return out
  step = max(1, block_points // kept.size)
  for start in range(0, rows, step):
    block = slice(start, start + step)
    # max_c (R_c E + Q_c H) = 1 - min_c b_c, so S_min.min = 1 - max over the block.
    b0 = rarity[0][block, None] * e
    b0 += competition[0][block, None] * h
    b1 = rarity[1][block, None] * e
    b1 += competition[1][block, None] * h
    np.maximum(b0, b1, out=b0)
    out[block] = b0.max(axis=1)
  out = np.clip(1 - out, 0, 1)
  out[~row_ok] = np.nan
  return out


def kept_three(a0, a1, a2, beta, dtype=np.float32, block=4, xi=0.1, eps=0.1):
  """Theorem 1 for three collectives (distinct targets) and S_min at every point.

  Axes alpha[0] x alpha[1] x alpha[2] x beta (beta: every collective's
  aligned mass), xi_c, delta, xi, eps fixed; blocks of ``block`` alpha[0]
  values. Returns ``"feature_label[c]"`` and ``"feature_label.s_min"`` ->
  arrays of the grid's shape (NaN out of domain).
  """
  a0, a1, a2, beta = (np.asarray(v, dtype) for v in (a0, a1, a2, beta))
  shape = (len(a0), len(a1), len(a2), len(beta))
  difficulty = dtype(XI_C) * (dtype(DELTA) + 2 * dtype(eps)) / (1 - 2 * dtype(eps))
  scale = dtype(xi) * (1 + 2 * dtype(eps)) / (1 - 2 * dtype(eps))
  slack = 16 * np.finfo(dtype).eps
  names = [f"feature_label[{c}]" for c in range(3)] + ["feature_label.s_min"]
  out = {name: np.empty(shape, dtype) for name in names}
  m1, m2, b = a1[None, :, None, None], a2[None, None, :, None], beta[None, None, None, :]
  for start in range(0, shape[0], block):
    m0 = a0[start:start + block, None, None, None]
    total = m0 + m1 + m2                             # alpha axes only
    outside = (total >= 1) | (m0 <= 0) | (m1 <= 0) | (m2 <= 0) | (b < 0)
    values = []
    for c, mass in enumerate((m0, m1, m2)):
      safe = np.where(mass > 0, mass, dtype(0.5))
      misaligned = (total - mass) - b
      value = 1 - difficulty * ((1 - total) / safe) - scale * (misaligned / safe)
      np.clip(value, 0, 1, out=value)
      value[outside | (misaligned < -slack)] = np.nan
      out[names[c]][start:start + block] = value
      values.append(value)
    out[names[3]][start:start + block] = np.minimum(np.minimum(values[0], values[1]), values[2])
  return out
