"""Independent NumPy float64 reference for the closed-form bounds (SPEC §4–§8).

Written from SPEC.md directly with plain loops over scalars — no shared code
with acajax.bounds — so that agreement means something.
"""

import math

import numpy as np


def _in_common_domain(alpha, alpha_total, beta, xi_c, xi, eps):
  return (0 <= eps < 0.5 and alpha > 0 and alpha_total < 1 and beta >= 0
          and alpha_total - alpha - beta >= -1e-12 and 0 <= xi_c <= 1 and 0 <= xi <= 1)


def feature_label(alpha, alpha_total, beta, xi_c, xi, delta, eps, clip=True):
  if not (_in_common_domain(alpha, alpha_total, beta, xi_c, xi, eps) and 0 <= delta <= 1):
    return math.nan
  value = (1 - xi_c * (delta + 2 * eps) / (1 - 2 * eps) * (1 - alpha_total) / alpha
           - xi * (1 + 2 * eps) / (1 - 2 * eps) * (alpha_total - alpha - beta) / alpha)
  return min(max(value, 0.0), 1.0) if clip else value


def feature_only(alpha, alpha_total, beta, xi_c, xi, p, eps, variant="sound", clip=True):
  if not (_in_common_domain(alpha, alpha_total, beta, xi_c, xi, eps) and 0 < p <= 1):
    return math.nan
  misaligned = alpha_total - alpha - beta
  if variant == "sound":
    value = 1 - (xi_c * max(0.0, 1 + 2 * eps - (2 - alpha_total) * p)
                 + xi * (1 + 2 * eps) * misaligned) / ((1 - 2 * eps) * p * alpha)
  else:
    if p > (1 + 2 * eps) / 2:
      return math.nan
    value = (1 - xi_c * ((1 - alpha_total) * (1 + 2 * eps - 2 * p) + 2 * eps * alpha_total)
             / ((1 - 2 * eps) * p * alpha)
             - xi * (1 + 2 * eps) / (1 - 2 * eps) * misaligned / (alpha * p))
  return min(max(value, 0.0), 1.0) if clip else value


def critical_mass_by_bisection(bound_of_alpha, target, alpha_others, iters=200):
  """Smallest alpha in (0, 1 - a_o) with bound(alpha) >= target, by a fine
  scan then bisection; inf if none. Independent of any closed form."""
  hi_limit = 1 - alpha_others
  grid = np.linspace(0, hi_limit, 20001)[1:-1]
  ok = np.array([bound_of_alpha(a) >= target for a in grid])
  if not ok.any():
    return math.inf
  first = int(np.argmax(ok))
  lo = 0.0 if first == 0 else grid[first - 1]
  hi = grid[first]
  for _ in range(iters):
    mid = 0.5 * (lo + hi)
    if bound_of_alpha(mid) >= target:
      hi = mid
    else:
      lo = mid
  return hi
