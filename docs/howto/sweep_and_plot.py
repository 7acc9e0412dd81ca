"""Run a sweep of the bounds over a parameter grid and draw its figures.

Run: python docs/howto/sweep_and_plot.py [OUT_DIR]
"""

import pathlib
import sys

from acajax import sweep

# Two collectives of equal mass: S_min and S_w against alignment beta and
# overlap xi, worst case over eps (the same as examples/sweeps/alignment.toml,
# on a coarser grid).
SPEC = """
name = "alignment-howto"
collectives = 2
bounds = ["feature_label", "feature_only"]
collective = ["each", "s_min", "s_w"]                 # float32 (the default dtype)

[fixed]
alpha = [0.05, 0.05]
xi_c = 0.01
delta = 0.5
p = 0.45

[axes]
beta = {{kind = "linspace", start = 0.0, stop = 0.05, num = {num}}}
xi = {{kind = "linspace", start = 0.0, stop = 0.3, num = {num}}}
eps = {{kind = "linspace", start = 0.0, stop = 0.1, num = 5}}

[reduce]
over = ["eps"]
ops = ["min", "argmin"]
"""


def main(out_dir="sweep-howto", num=21):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  spec_path = out / "alignment.toml"
  spec_path.write_text(SPEC.format(num=num))

  # The same as `acajax sweep alignment.toml --out OUT/run`: a bad spec fails
  # here, before anything is compiled, naming the file and the key.
  spec = sweep.load(spec_path)
  result = sweep.run(spec, out / "run", progress=False)
  table = result.table
  print(table[["beta", "xi", "feature_label.s_min.min", "feature_label.s_min.argmin.eps"]].head())

  # The same as `acajax plot OUT/run`: heatmaps over (beta, xi) and more.
  paths = sweep.plot(out / "run")
  print("figures:", ", ".join(sorted(p.name for p in paths)))
  return table, paths


if __name__ == "__main__":
  main(*sys.argv[1:2])
