"""The exact engine beside the bounds: how tight is Theorem 1? (SPEC §2–§4, §10)

Three feature-label collectives on a small finite feature space: c1 and c2
share a target, c0 competes with both on its two signal points (8 and 9).
The script prints the tightness table (exact worst-case success over every
eps-suboptimal classifier, each applicable bound, the gaps) and draws the
exact success of c0 and its Theorem 1 bounds against c0's mass.

Run it::

  .venv/bin/python examples/exact_engine.py [--out DIR] [--quick]

Writes ``tightness.csv``, ``exact_vs_bounds.png`` and ``meta.json`` (the run's
arguments, versions, devices and command line) into the output folder.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from acajax import mixtures  # noqa: E402
from acajax.runs import _script, tables  # noqa: E402

NAME = "exact_engine"
DEFAULT_OUT = "exact-engine"

EPS = 0.05
# Ten points, three labels; points 8 and 9 are rare (SPEC §1: signal points).
P0 = np.array([[.06, .04, .02], [.03, .08, .02], [.05, .03, .04], [.02, .03, .07],
               [.07, .02, .03], [.04, .05, .03], [.03, .03, .06], [.05, .04, .03],
               [.010, .006, .004], [.006, .008, .006]])
SIGNAL_MAPS = np.array([[8] * 5 + [9] * 5,   # c0: points 0-4 to point 8, 5-9 to point 9
                        [9] * 10,            # c1: everything to point 9
                        [8, 9] * 5])         # c2: even points to 8, odd points to 9
TARGETS = np.array([2, 1, 1])                # c1 and c2 aligned, both against c0
MASSES = np.array([.05, .04, .03])


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Prints the tightness table and saves the bound-vs-exact figure.

  Args:
    out_dir: folder for ``tightness.csv``, ``exact_vs_bounds.png`` and
      ``meta.json``.
    quick: 6 masses on the sweep instead of 80 (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the tightness ``frame`` (a pandas DataFrame) and the ``paths``
    written.
  """
  jax.config.update("jax_enable_x64", True)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  p0 = P0 / P0.sum()

  report = mixtures.tightness_report(p0, SIGNAL_MAPS, TARGETS, MASSES, eps=EPS)
  frame = tables.tightness_frame(report)
  columns = ["exact", "theorem1", "theorem1_pairwise", "gap_theorem1", "gap_theorem1_pairwise"]
  print(f"Tightness at eps = {EPS} (masses {MASSES.tolist()}, targets {TARGETS.tolist()}):")
  print(frame[columns].round(4).to_string())
  csv_path = out_dir / "tightness.csv"
  frame.to_csv(csv_path)

  # Sweep c0's mass, the others fixed: one jitted, vmapped call.
  grid = np.linspace(0.002, 0.3, 6 if quick else 80)
  masses = np.tile(MASSES, (grid.size, 1))
  masses[:, 0] = grid
  sweep = jax.jit(jax.vmap(lambda alpha: mixtures.tightness_report(
      jnp.asarray(p0), jnp.asarray(SIGNAL_MAPS), jnp.asarray(TARGETS), alpha, eps=EPS)))(
          jnp.asarray(masses))

  fig, ax = plt.subplots(figsize=(7.5, 4))
  ax.plot(grid, sweep.exact[:, 0], color="black", lw=2, label="exact worst case (SPEC §2)")
  ax.plot(grid, sweep.bounds["theorem1_pairwise"][:, 0], ls="--", label="Theorem 1, pairwise")
  ax.plot(grid, sweep.bounds["theorem1"][:, 0], ls=":", label="Theorem 1")
  ax.axvline(MASSES[0], color="grey", lw=0.8, label=rf"the table's $\alpha_0$ = {MASSES[0]:g}")
  ax.set_xlabel(r"$\alpha_0$ (mass of collective c0; the others fixed)")
  ax.set_ylabel(r"success $S_0$ of c0")
  ax.set_ylim(-0.02, 1.02)
  ax.set_title(rf"Exact success and bounds ($\varepsilon$ = {EPS:g})", fontsize=10)
  ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8,
            frameon=False)
  fig.tight_layout()
  png_path = out_dir / "exact_vs_bounds.png"
  fig.savefig(png_path, dpi=120)
  plt.close(fig)
  meta = _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                            seeds={}, argv=argv)   # no randomness: the engine is exact
  print(f"wrote {csv_path}, {png_path} and {meta}")
  return dict(frame=frame, paths=[csv_path, png_path])


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
