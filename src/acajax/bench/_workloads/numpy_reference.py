"""Independent NumPy float64 reference of the exact engine (SPEC §1–§3), the exact baseline.

Written from SPEC.md directly, one scenario at a time, sharing no code with
``acajax.mixtures``: signal maps are turned into explicit (n, n) transition
matrices and the strategies written out row by row, so agreement means
something. The same reference as the tests' ``tests/numpy_reference.py``
(which the test suite checks the exact engine against), shipped with the
package so that an installed acajax runs the exact benchmark's baseline.
"""

import numpy as np

TOLERANCE = 64 * np.finfo(np.float64).eps  # equality counts as success (SPEC §2)


def _transition(signal_map, n):
  """(n, n) matrix T[x, x'] = Pr[g(x) = x'] from a map or a kernel."""
  signal_map = np.asarray(signal_map)
  if signal_map.ndim == 1:
    matrix = np.zeros((n, n))
    matrix[np.arange(n), signal_map] = 1.0
    return matrix
  return np.asarray(signal_map, dtype=np.float64)


def _flags(feature_only, m):
  return np.broadcast_to(np.asarray(feature_only, dtype=bool), (m,))


def np_pushforward(p0, signal_map, target, feature_only):
  """(h_c)#P0 for one collective, (n, K)."""
  p0 = np.asarray(p0, dtype=np.float64)
  n, k = p0.shape
  moves = _transition(signal_map, n)
  out = np.zeros((n, k))
  if feature_only:
    # Members with y == y_c move their x; the others stay at (x, y).
    for y in range(k):
      if y == target:
        out[:, y] += p0[:, y] @ moves
      else:
        out[:, y] += p0[:, y]
  else:
    out[:, target] = p0.sum(axis=1) @ moves
  return out


def np_mixture(p0, signal_maps, targets, masses, feature_only=False):
  """P = (1 - abar) P0 + sum_c alpha_c (h_c)#P0 (SPEC §1)."""
  p0 = np.asarray(p0, dtype=np.float64)
  masses = np.asarray(masses, dtype=np.float64)
  flags = _flags(feature_only, len(masses))
  mix = (1 - masses.sum()) * p0
  for c in range(len(masses)):
    mix = mix + masses[c] * np_pushforward(p0, signal_maps[c], targets[c], flags[c])
  return mix


def np_worst_case_success(p0, signal_maps, targets, masses, eps, feature_only=False):
  """S_c^wc(eps) = sum_x P0_X(x) Pr[m_c(g_c(x)) >= 2 eps] (SPEC §2), shape (M,)."""
  p0 = np.asarray(p0, dtype=np.float64)
  n, k = p0.shape
  mix = np_mixture(p0, signal_maps, targets, masses, feature_only)
  px = mix.sum(axis=1)
  out = np.zeros(len(masses))
  for c, target in enumerate(targets):
    others = np.delete(mix, target, axis=1).max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
      margin = np.where(px > 0, (mix[:, target] - others) / np.where(px > 0, px, 1), -1.0)
    wins = (margin >= 2 * eps - TOLERANCE).astype(np.float64)
    out[c] = p0.sum(axis=1) @ _transition(signal_maps[c], n) @ wins
  return out


def np_scenario_parameters(p0, signal_maps, targets, masses, feature_only=False):
  """Dict of the SPEC §3 parameters: xi_c, xi, overlap, beta, delta, p, misaligned."""
  p0 = np.asarray(p0, dtype=np.float64)
  masses = np.asarray(masses, dtype=np.float64)
  n, k = p0.shape
  m = len(masses)
  flags = _flags(feature_only, m)
  px0 = p0.sum(axis=1)
  signal_sets = [(px0 @ _transition(signal_maps[c], n)) > 0 for c in range(m)]
  pushed_x = [np_pushforward(p0, signal_maps[j], targets[j], flags[j]).sum(axis=1)
              for j in range(m)]
  overlap = np.array([[pushed_x[j][signal_sets[c]].sum() for c in range(m)] for j in range(m)])
  xi_c = np.array([px0[signal_sets[c]].sum() for c in range(m)])
  xi = np.array([max([overlap[j, c] for j in range(m) if j != c], default=0.0)
                 for c in range(m)])
  beta = np.array([sum(masses[j] for j in range(m) if j != c and targets[j] == targets[c])
                   for c in range(m)])
  misaligned = masses.sum() - masses - beta
  support = px0 > 0
  cond = p0[support] / px0[support, None]
  delta, p = np.zeros(m), np.zeros(m)
  for c in range(m):
    in_set = signal_sets[c][support]
    gaps = cond.max(axis=1) - cond[:, targets[c]]
    delta[c] = gaps[in_set].max() if in_set.any() else 0.0
    p[c] = cond[:, targets[c]].min()
  return dict(xi_c=xi_c, xi=xi, overlap=overlap, beta=beta, delta=delta, p=p,
              misaligned=misaligned)
