"""Independent NumPy/Python reference for acajax.statistical (SPEC §9).

Works on raw rows with tuples and dictionaries, one n at a time: no
mixed-radix codes, no segment sums, no broadcasting tricks. Float64 throughout.
"""

from __future__ import annotations

import math
from collections import Counter


def _radius(log_term: float, count: float) -> float:
  if count == math.inf:
    return 0.0
  return math.sqrt(log_term / (2 * count)) if count > 0 else 0.0


def np_bound(rows, labels, signal: dict, *, n: int, num_samples: int, num_test: float,
             delta: float, eps: float, target: int, num_labels: int, sizes,
             strategy: str = "feature_label", unplant_label=None) -> float:
  """The raw (unclipped) finite-sample bound for the collective of the first n rows.

  ``signal`` maps column -> value; ``unplant_label(x)`` gives the unplanting
  label of a signal point x (a tuple).
  """
  sample = [tuple(int(v) for v in row) for row in rows[:n]]
  ys = [int(y) for y in labels[:n]]
  kept = [j for j in range(len(sizes)) if j not in signal]
  num_points = math.prod(int(sizes[j]) for j in kept)
  per_point = 3 if strategy == "feature_only" else 2
  d = delta / (2 + per_point * num_points + 2 * num_points * num_labels)
  log_term = math.log(1 / d)
  r_n = _radius(log_term, n)
  r_rest = _radius(log_term, num_samples - n)
  r_test = _radius(log_term, num_test)

  images, images_by_label, joint = Counter(), Counter(), Counter()
  for row, y in zip(sample, ys):
    image = tuple(signal.get(j, v) for j, v in enumerate(row))
    images[image] += 1
    images_by_label[image, y] += 1
    if all(row[j] == v for j, v in signal.items()):
      joint[row, y] += 1

  alpha = n / num_samples
  total = 0.0
  for point, count in images.items():
    q = count / n
    p0 = [joint[point, y] / n for y in range(num_labels)]
    best_other = max(p0[y] for y in range(num_labels) if y != target)
    if strategy == "feature_label":
      contribution = q - 2 * r_n
      difficulty = best_other - p0[target]
    elif strategy == "feature_only":
      contribution = images_by_label[point, target] / n - best_other - 4 * r_n
      difficulty = best_other - p0[target]
    else:
      contribution = q - 2 * r_n
      difficulty = p0[target] - p0[unplant_label(point)]
    margin = (alpha * contribution - (1 - alpha) * (difficulty + 2 * r_n + 2 * r_rest)
              - eps / (1 - eps))
    if margin > 0:
      total += q
  return total - r_n - r_test


def np_population_success(p0, signal_map, *, alpha: float, eps: float, target: int) -> float:
  """SPEC §9's population condition on a finite X given as an (n, K) table.

  ``signal_map[x]`` is g(x); Q(z) = P0_X(g^{-1}(z)).
  """
  num_points, num_labels = len(p0), len(p0[0])
  q = [0.0] * num_points
  for x in range(num_points):
    q[signal_map[x]] += sum(p0[x])
  total = 0.0
  for z in set(signal_map):
    delta_z = max(p0[z][y] for y in range(num_labels) if y != target) - p0[z][target]
    if alpha * q[z] > (1 - alpha) * delta_z + eps / (1 - eps):
      total += q[z]
  return total
