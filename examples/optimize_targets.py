"""Should these collectives share a target, and who should join whom? (SPEC §3–§4)

Four feature-label collectives, three labels. Each collective's difficulty
Delta depends on the label it targets (its signal points favour some labels
over others), so sharing a target trades competition (xi times the misaligned
mass, Theorem 1) against difficulty. ``optimize.choose_targets`` optimises
soft one-hot targets and rounds them; it is checked against the enumeration
of all 3^4 = 81 assignments. ``optimize.coalition_gains`` then reports, from
the collectives' own favourite labels, how much the S_min bound gains when
collective j adopts collective i's target; the figure shows that matrix and
the best S_min bound of every assignment.

Run it::

  .venv/bin/python examples/optimize_targets.py [--out DIR] [--quick]

Writes ``targets.png`` and ``meta.json`` (the run's arguments, seeds, versions,
devices and command line) into the output folder.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from acajax import optimize  # noqa: E402
from acajax.runs import _script  # noqa: E402
from acajax.runs import figures as plots  # noqa: E402

NAME = "optimize_targets"
DEFAULT_OUT = "optimize-targets"
SEED = 0   # the random starts of choose_targets
MASSES = np.array([.04, .03, .05, .02])
XI_C = np.array([.01, .015, .008, .012])
XI = .05
EPS = .05
# DELTA[c, k]: difficulty of label k on collective c's signal points.
DELTA = np.array([[.2, .5, .9],
                  [.6, .3, .8],
                  [.9, .4, .2],
                  [.7, .7, .1]])


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Prints the chosen targets and the coalition gains; saves ``targets.png``.

  Args:
    out_dir: folder for the figure and ``meta.json``.
    quick: fewer optimisation steps (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the :class:`optimize.TargetChoice` (``choice``), the
    enumeration (``table``, ``values``), the :class:`optimize.CoalitionGains`
    from the favourite labels (``gains``) and the ``paths`` written.
  """
  jax.config.update("jax_enable_x64", True)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  num, num_labels = DELTA.shape
  kw = dict(num_labels=num_labels, xi_c=XI_C, xi=XI, eps=EPS, delta=DELTA)

  choice = optimize.choose_targets(MASSES, steps=60 if quick else 150, seed=SEED, **kw)
  table, values = optimize.enumerate_targets(MASSES, **kw)
  table, values = np.asarray(table), np.asarray(values)
  favourite = DELTA.argmin(axis=1)                 # each collective's easiest label
  alone = optimize.targets_value(MASSES, favourite, xi_c=XI_C, xi=XI, eps=EPS, delta=DELTA)
  gains = optimize.coalition_gains(MASSES, favourite, xi_c=XI_C, xi=XI, eps=EPS, delta=DELTA)
  print(f"Favourite labels {favourite.tolist()}: S_min bound {float(alone):.4f}")
  print(f"choose_targets: {np.asarray(choice.targets).tolist()} -> {float(choice.value):.4f} "
        f"(enumeration of {len(values)}: best {values.max():.4f} at "
        f"{table[values.argmax()].tolist()})")
  gain = np.asarray(gains.gain)
  i, j = np.unravel_index(np.argmax(gain), gain.shape)
  print(f"Best single move from the favourites: c{j} joins c{i}'s target "
        f"(S_min bound {float(gains.value):.4f} -> {float(gains.value) + gain[i, j]:.4f})")

  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
  scale = float(np.abs(gain).max()) or 1.0
  plots.heatmap(np.arange(num), np.arange(num), gain, xlabel="collective i (keeps its target)",
                ylabel="collective j (adopts i's target)",
                label=r"gain of the $S_{\min}$ bound",
                ax=left, cmap="RdBu", vmin=-scale, vmax=scale)
  names = [f"c{c}" for c in range(num)]
  left.set_xticks(range(num), names)
  left.set_yticks(range(num), names)
  left.set_title("Who should join whom", fontsize=10)
  order = np.argsort(values)
  right.plot(values[order], marker=".", linestyle="none", color="0.5", label="an assignment")
  right.axhline(float(choice.value), color="red", label="choose_targets")
  right.axhline(float(alone), color="black", linestyle="--", label="favourite labels")
  right.set_xlabel("assignment (sorted by its bound)")
  right.set_ylabel(r"$S_{\min}$, Theorem 1 bound")
  right.set_title(f"All {len(values)} target assignments", fontsize=10)
  right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=8,
               frameon=False)
  path = out_dir / "targets.png"
  plots.save(fig, path)
  meta = _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                            seeds={"choose_targets": SEED}, argv=argv)
  print(f"wrote {path} and {meta}")
  return dict(choice=choice, table=table, values=values, gains=gains, paths=[path])


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
