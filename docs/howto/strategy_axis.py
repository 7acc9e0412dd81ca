"""Feature-only against feature-label: the strategy as a sweep axis.

Run: python docs/howto/strategy_axis.py [OUT_DIR]
"""

import pathlib
import sys

import matplotlib.pyplot as plt
import numpy as np

from acajax import sweep
from acajax.runs import figures

# 1. The exact worst-case success (examples/sweeps/strategy_axis.toml): collective
#    0 plays feature-label or feature-only, collective 1 stays feature-label, on a
#    finite scenario where collective 1's signal shares collective 0's signal point.
EXACT = """
name = "strategy-exact"
collectives = 2
targets = [1, 2]
bounds = ["exact", "by_strategy"]
collective = ["each", "s_min"]

[scenario]
p0 = [[0.16, 0.06, 0.05], [0.06, 0.16, 0.04], [0.15, 0.06, 0.05],
      [0.06, 0.05, 0.06], [0.012, 0.005, 0.003], [0.004, 0.004, 0.012]]
signal_maps = [[4, 4, 4, 4, 4, 4], [4, 5, 4, 5, 4, 5]]

[fixed]
alpha = [0.05, 0.05]
strategy = "feature_label"
eps = 0.0

[axes]
"strategy[0]" = {{kind = "values", values = ["feature_label", "feature_only"]}}
"alpha[0]" = {{kind = "logspace", start = 0.005, stop = 0.5, num = {num}}}
"""

# 2. The guarantees (SPEC §4-§5) over positivity p and overlap xi, both collectives
#    playing the same strategy. The difficulty is linked to p by a derived
#    parameter: P0(y_c|x) >= p leaves every other label at most 1 - p, so
#    Delta_c <= max(0, 1 - 2p), its largest value consistent with p.
BOUNDS = """
name = "strategy-bounds"
collectives = 2
bounds = ["by_strategy"]
collective = ["s_min"]

[fixed]
alpha = [0.05, 0.05]
xi_c = 0.3
eps = 0.05

[axes]
strategy = {{kind = "values", values = ["feature_label", "feature_only"]}}
p = {{kind = "linspace", start = 0.3, stop = 1.0, num = {num}}}
xi = {{kind = "linspace", start = 0.0, stop = 0.2, num = {num}}}

[derived]
delta = "max(0, 1 - 2 * p)"
"""


def main(out_dir="strategy-axis", num=41):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  exact = sweep.run(sweep.loads(EXACT.format(num=num)), out / "exact", progress=False).table
  fl = exact[exact["strategy[0]"] == "feature_label"].reset_index(drop=True)
  fo = exact[exact["strategy[0]"] == "feature_only"].reset_index(drop=True)
  for c in (0, 1):
    gain = fo[f"exact[{c}]"] - fl[f"exact[{c}]"]
    print(f"collective {c}: feature-only minus feature-label, exact success: "
          f"max {gain.max():+.2f}, min {gain.min():+.2f}")

  bounds = sweep.run(sweep.loads(BOUNDS.format(num=num)), out / "bounds", progress=False).table
  grid = {s: part.pivot(index="p", columns="xi", values="by_strategy.s_min")
          for s, part in bounds.groupby("strategy")}
  diff = grid["feature_only"] - grid["feature_label"]
  print(f"S_min bound, feature-only minus feature-label: max {np.nanmax(diff):+.3f}, "
        f"min {np.nanmin(diff):+.3f}")

  fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.6))
  colors = {0: "tab:blue", 1: "tab:orange"}
  x = fl["alpha[0]"].to_numpy()
  for c in (0, 1):
    left.step(x, fl[f"exact[{c}]"], where="mid", color=colors[c],
              label=f"collective {c}, c0 feature-label")
    left.step(x, fo[f"exact[{c}]"], where="mid", color=colors[c], linestyle=":",
              linewidth=2.2, label=f"collective {c}, c0 feature-only")
  left.set_xscale("log")
  left.set_xlabel(r"mass $\alpha_0$ of collective 0 ($\alpha_1 = 0.05$)")
  left.set_ylabel(r"exact worst-case success $S_c^{wc}$ ($\varepsilon = 0$)")
  left.set_ylim(-0.03, 1.03)
  left.grid(alpha=0.3)
  left.set_title("collective 0's strategy (exact engine, SPEC §2)", fontsize=10)
  left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)

  limit = float(np.nanmax(np.abs(diff.to_numpy()))) or 1.0
  mesh = right.pcolormesh(diff.columns, diff.index, diff.to_numpy(), cmap="RdBu",
                          vmin=-limit, vmax=limit, shading="nearest")
  right.contour(diff.columns, diff.index, diff.to_numpy(), levels=[0.0], colors="black",
                linewidths=1.0)
  fig.colorbar(mesh, ax=right, label=r"$S_{\min}$ bound: feature-only $-$ feature-label")
  right.set_xlabel(r"overlap $\xi$")
  right.set_ylabel(r"positivity $p$ ($\Delta = \max(0, 1 - 2p)$)")
  right.set_title(r"Theorem 2 $-$ Theorem 1 ($\alpha_c = 0.05$, $\xi_c = 0.3$, "
                  r"$\varepsilon = 0.05$)", fontsize=10)
  fig.tight_layout()
  figures.save(fig, out / "strategy_axis.png")
  plt.close(fig)
  return exact, bounds, diff


if __name__ == "__main__":
  main(*sys.argv[1:2])
