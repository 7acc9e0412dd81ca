"""A planter against an eraser: each one's success against the eraser's mass, bound beside exact.

Run: python docs/howto/planter_vs_eraser.py [OUT_DIR]
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

from acajax import bounds, objectives, optimize
from acajax.runs import figures

jax.config.update("jax_enable_x64", True)

# 8 base points, 3 labels; each has a marked copy with 5% of its mass (points 8-15).
BASE = np.array([[.70, .20, .10], [.20, .70, .10], [.60, .30, .10], [.30, .60, .10],
                 [.80, .15, .05], [.15, .80, .05], [.50, .40, .10], [.40, .50, .10]])
P0 = np.concatenate([.95 * BASE, .05 * BASE]) / len(BASE)
MARK = np.concatenate([np.arange(8), np.arange(8)]) + 8      # g: x -> its marked copy
MAPS = np.stack([MARK, MARK]).astype(np.int32)               # planter and eraser share g
TARGETS = np.array([2, 0], np.int32)                         # the planter wants label 2
ROLES = ("plant", "erase")
PLANTER, EPS = .06, .02


def at(eraser):
  """Exact worst-case success and closed-form bound of both, and the ceiling."""
  masses = jnp.stack([PLANTER, eraser])
  exact = objectives.worst_case_success(P0, MAPS, TARGETS, masses, ROLES, eps=EPS)
  best = objectives.best_case_success(P0, MAPS, TARGETS, masses, ROLES, eps=EPS)
  par = objectives.parameters(P0, MAPS, TARGETS, masses, ROLES)
  total = PLANTER + eraser
  planter = bounds.feature_label(PLANTER, alpha_total=total, beta=par.beta[0], xi_c=par.xi_c[0],
                                 xi=par.xi[0], delta=par.delta[0], eps=EPS)
  eraser_bound = bounds.erasing(eraser, alpha_total=total, xi_c=par.xi_c[1], xi=par.xi[1],
                                delta=par.delta[1], eps=EPS)
  ceiling = bounds.planter_ceiling(eraser, alpha_total=total, xi_c=par.xi_c[0],
                                   competition=PLANTER * par.overlap[0, 0], eps=EPS)
  return exact, best[0], planter, eraser_bound, ceiling


def main(out_dir="planter-vs-eraser", num=121):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  grid = np.linspace(.002, .4, num)
  exact, best, planter, eraser, ceiling = map(np.asarray, jax.jit(jax.vmap(at))(grid))
  # The eraser mass that holds the planter at or below 50%: closed form and exact.
  par = objectives.parameters(P0, MAPS, TARGETS, np.array([PLANTER, .1]), ROLES)
  closed = bounds.critical_eraser_mass(.5, alpha_others=PLANTER, xi_c=par.xi_c[0],
                                       competition=PLANTER, eps=EPS)
  found = optimize.exact_eraser_mass(.5, P0, MAPS, TARGETS, np.array([PLANTER, 0.]), ROLES,
                                     eraser=1, planter=0, eps=EPS)
  print(f"eraser mass holding the planter at or below 50%: exact {float(found):.4f}, "
        f"closed form {float(closed):.4f}")
  fig, ax = figures.plt.subplots(figsize=(7.2, 3.8))
  ax.plot(grid, exact[:, 0], color="tab:blue", label="planter, exact worst case")
  ax.plot(grid, planter, "--", color="tab:blue", label="planter, Theorem 1 (lower bound)")
  ax.plot(grid, best, color="tab:blue", alpha=.4, label="planter, exact best case")
  ax.plot(grid, ceiling, ":", color="tab:blue", label="planter, ceiling (upper bound)")
  ax.plot(grid, exact[:, 1], color="tab:orange", label="eraser, exact worst case")
  ax.plot(grid, eraser, "--", color="tab:orange", label="eraser, bounds.erasing")
  ax.axvline(float(found), color="0.6", linestyle=":", label="exact critical eraser mass")
  ax.set_xlabel(r"eraser mass $\alpha_e$")
  ax.set_ylabel("success")
  ax.set_title(rf"planter mass {PLANTER:g}, $\varepsilon = {EPS:g}$", fontsize=9)
  ax.set_ylim(-.02, 1.02)
  figures.legend_outside(ax)
  figures.save(ax, out / "planter_vs_eraser.png")
  return grid, exact, best, planter, eraser, ceiling


if __name__ == "__main__":
  main(*sys.argv[1:2])
