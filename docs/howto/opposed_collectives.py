"""Two opposed collectives with overlapping signals: the mass each needs for 90% success.

Run: python docs/howto/opposed_collectives.py [OUT_DIR]
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

from acajax import bounds, mixtures, optimize, scenarios
from acajax.runs import figures

TARGETS = jnp.array([0, 1])          # opposed: c0 wants label 0, c1 label 1
XI_C = jnp.array([.05, .10])         # rarity of each signal
DELTA = jnp.array([.3, .6])          # difficulty of each signal
OTHER_MASS = .05                     # the other collective's mass, held fixed
SUCCESS, EPS = .9, .05


def critical_masses(xi):
  """(exact, bound): each collective's critical mass at overlap xi, shape (2,) each."""
  table = scenarios.finite_scenario(TARGETS, num_labels=2, xi_c=XI_C, xi=xi, delta=DELTA)
  masses = jnp.full(2, OTHER_MASS)   # entry c is ignored when c's mass is sought
  exact = jnp.stack([optimize.exact_critical_mass(SUCCESS, *table, masses, collective=c, eps=EPS)
                     for c in range(2)])
  # The closed form (SPEC §8) at the table's own parameters (SPEC §3).
  par = mixtures.scenario_parameters(*table, masses)
  bound = bounds.critical_mass(SUCCESS, strategy="feature_label", alpha_others=OTHER_MASS,
                               beta=par.beta, xi_c=par.xi_c, xi=par.xi, delta=par.delta, eps=EPS)
  return exact, bound


def plot(xi, exact, bound, path):
  fig, ax = figures.plt.subplots(figsize=(7.2, 3.8))
  for c, color in enumerate(("tab:blue", "tab:orange")):
    ax.plot(xi, np.where(np.isfinite(bound[:, c]), bound[:, c], np.nan), "--", color=color,
            label=rf"$\alpha_{c}^*$, Theorem 1 (closed form)")
    ax.plot(xi, exact[:, c], "-", color=color, label=rf"$\alpha_{c}^*$, exact worst case")
  ax.axvline(1 - SUCCESS, color="0.6", linestyle=":",
             label=r"$\xi = 1 - s$ (shared point needed)")
  ax.set_xlabel(r"signal overlap $\xi$")
  ax.set_ylabel(rf"critical mass $\alpha_c^*$ for $s = {SUCCESS:g}$")
  ax.set_title(rf"other collective's mass {OTHER_MASS:g}, $\varepsilon = {EPS:g}$", fontsize=9)
  ax.set_xlim(xi[0], xi[-1])
  ax.set_ylim(0, None)
  figures.legend_outside(ax)
  figures.save(ax, path)


def main(out_dir="opposed-collectives", num=201):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  xi = np.linspace(0, .5, num)
  # One vmapped call over the whole overlap grid: tables, exact and closed form.
  exact, bound = map(np.asarray, jax.jit(jax.vmap(critical_masses))(xi))
  print("   xi   exact c0  bound c0   exact c1  bound c1")
  for i in np.linspace(0, num - 1, 6).astype(int):
    print(f"{xi[i]:5.2f}  {exact[i, 0]:9.4f} {bound[i, 0]:9.4f}  {exact[i, 1]:9.4f} "
          f"{bound[i, 1]:9.4f}")
  plot(xi, exact, bound, out / "opposed_collectives.png")
  return xi, exact, bound


if __name__ == "__main__":
  main(*sys.argv[1:2])
