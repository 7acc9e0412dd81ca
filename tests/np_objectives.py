"""Independent NumPy reference for mixed objectives (plant, unplant, erase).

Written from the definitions, not from :mod:`acajax.objectives`: the mixture
by loops over points, admissibility as the least total variation that makes
a label an argmax (found by bisection on the level it is lifted to), and the
eraser's worst and best case by enumerating every classifier that picks an
admissible label at each point.
"""

import itertools

import numpy as np

from tests.numpy_reference import np_pushforward


def np_pushed(p0, g, target, role, feature_only=False, transform=0.5):
  n, k = p0.shape
  out = np.zeros((n, k))
  if role == "plant":
    return np_pushforward(p0, g, target, feature_only)
  for x in range(n):
    mass = p0[x].sum()
    z = g[x]
    if role == "unplant":
      row = p0[z].copy()
      row[target] = -np.inf
      out[z, int(np.argmax(row))] += mass
    else:
      label = int(np.argmax(p0[z]))
      out[z, label] += transform * mass
      out[x, label] += (1 - transform) * mass
  return out


def np_mixture(p0, maps, targets, masses, roles, feature_only, transform):
  joint = (1 - sum(masses)) * p0
  for c, role in enumerate(roles):
    joint = joint + masses[c] * np_pushed(p0, maps[c], targets[c], role, feature_only[c],
                                          transform)
  return joint


def least_tv(row, y):
  """Least total variation moving P(.|x) so that label y is an argmax."""
  def removed(level):
    return sum(max(0.0, row[j] - level) for j in range(len(row)) if j != y)
  low, high = row[y], max(row)
  if removed(low) <= 0:
    return 0.0
  for _ in range(200):   # removed() falls, level - P(y) rises: the cost is their max
    mid = (low + high) / 2
    if mid - row[y] < removed(mid):
      low = mid
    else:
      high = mid
  return high - row[y]


def np_admissible(joint, eps, slack=1e-9):
  n, k = joint.shape
  out = np.ones((n, k), bool)
  for x in range(n):
    total = joint[x].sum()
    if total <= 0:
      continue
    row = joint[x] / total
    out[x] = [least_tv(row, y) <= eps + slack for y in range(k)]
  return out


def np_success(p0, maps, targets, masses, roles, eps, feature_only, transform, best=False):
  joint = np_mixture(p0, maps, targets, masses, roles, feature_only, transform)
  adm = np_admissible(joint, eps)
  marginal = p0.sum(axis=1)
  out = []
  for c, role in enumerate(roles):
    g, y = maps[c], targets[c]
    if role == "erase":
      choices = [np.flatnonzero(adm[x]) for x in range(len(marginal))]
      values = [sum(marginal[x] for x in range(len(marginal)) if f[g[x]] == f[x])
                for f in itertools.product(*choices)]
      out.append(max(values) if best else min(values))
      continue
    hits = 0.0
    for x in range(len(marginal)):
      z = g[x]
      if role == "plant":
        if best:
          hit = adm[z, y]
        else:
          total = joint[z].sum()
          others = np.delete(joint[z], y)
          hit = total > 0 and (joint[z, y] - others.max()) / total >= 2 * eps - 1e-12
      else:
        hit = (adm[z].sum() - adm[z, y] > 0) if best else not adm[z, y]
      hits += marginal[x] * hit
    out.append(hits)
  return np.array(out)
