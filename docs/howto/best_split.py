"""The best split of a budget between two collectives: one sweep over the split.

Run: python docs/howto/best_split.py [OUT_DIR]
"""

import pathlib
import sys

import matplotlib.pyplot as plt
import numpy as np

from acajax import sweep
from acajax.runs import figures

# examples/sweeps/best_split.toml: a budget of 10% split t : 1 - t between two
# collectives with opposed targets whose signals overlap. The masses are
# derived from the axis t inside the kernel; `budget` is a named constant.
SPEC = """
name = "best-split-howto"
collectives = 2
targets = [1, 2]
bounds = ["exact", "feature_label"]
collective = ["each", "s_min", "s_w"]         # float32 (the default dtype)

[scenario]
p0 = [[0.16, 0.06, 0.05], [0.06, 0.16, 0.04], [0.15, 0.06, 0.05],
      [0.06, 0.05, 0.06], [0.012, 0.005, 0.003], [0.004, 0.004, 0.012]]
signal_maps = [[4, 4, 4, 4, 4, 4], [5, 5, 5, 4, 5, 5]]

[fixed]
budget = 0.1
eps = {eps}

[axes]
t = {{kind = "linspace", start = 0.02, stop = 0.98, num = {num}}}

[derived]
"alpha[0]" = "budget * t"
"alpha[1]" = "budget * (1 - t)"
"""


def best(table, column):
  """The shares t where a column is largest (every tie), and that value."""
  values = table[column].to_numpy()
  top = np.nanmax(values)
  return table["t"].to_numpy()[values >= top - 1e-12], top


def main(out_dir="best-split", num=49, eps=0.02):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  spec = sweep.loads(SPEC.format(num=num, eps=eps))
  table = sweep.run(spec, out / "run", progress=False).table
  print(table[["t", "alpha[0]", "alpha[1]", "exact.s_min", "feature_label.s_min"]].round(4)
        .iloc[::max(1, num // 6)].to_string(index=False))

  t = table["t"].to_numpy()
  fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.8), sharey=True)
  colors = {0: "tab:blue", 1: "tab:orange"}
  for c in (0, 1):
    left.step(t, table[f"exact[{c}]"], where="mid", color=colors[c],
              label=rf"collective {c}: exact $S_{c}^{{wc}}$")
    left.plot(t, table[f"feature_label[{c}]"], "--", color=colors[c],
              label=f"collective {c}: Theorem 1")
  left.set_title(r"each collective ($\alpha_0 = t B$, $\alpha_1 = (1 - t) B$)", fontsize=10)
  for column, color, name in (("s_min", "tab:green", r"S_{\min}"), ("s_w", "tab:purple", "S_w")):
    right.step(t, table[f"exact.{column}"], where="mid", color=color, label=f"exact ${name}$")
    right.plot(t, table[f"feature_label.{column}"], "--", color=color,
               label=f"Theorem 1 ${name}$")
  shares, value = best(table, "exact.s_min")
  right.axvspan(shares.min() - 0.01, shares.max() + 0.01, color="tab:green", alpha=0.12,
                label=rf"best exact $S_{{\min}}$ = {value:.2f}")
  shares_bound, value_bound = best(table, "feature_label.s_min")
  right.plot(shares_bound[:1], [value_bound], "*", color="black", markersize=12,
             label=rf"best bound: $t$ = {shares_bound[0]:.2f}")
  right.set_title(r"$S_{\min}$ and $S_w$ (SPEC §7)", fontsize=10)
  for ax in (left, right):
    ax.set_xlabel(r"share $t$ of the budget $B = 0.1$ held by collective 0")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
  left.set_ylabel(rf"success at $\varepsilon$ = {eps:g}")
  fig.tight_layout()
  figures.save(fig, out / "best_split.png")
  plt.close(fig)
  print(f"best split for the bound's S_min: t = {shares_bound[0]:.3f} (S_min >= "
        f"{value_bound:.3f}); exact S_min = {value:.2f} for t in "
        f"[{shares.min():.2f}, {shares.max():.2f}]")
  return table, shares_bound[0]


if __name__ == "__main__":
  main(*sys.argv[1:2])
