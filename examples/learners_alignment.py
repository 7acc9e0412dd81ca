"""Alignment sweep with M = 2: measured S_min and S_w against the bounds.

Collective 0 (mass 0.04, target 1) plants point 4 of a finite table;
collective 1 sends half of the points to 4 and half to 5 (so the signals
overlap) and is either aligned (target 1) or opposed (target 2), with its mass
swept. Logistic regression on one-hot features (flax) is trained for every
setting and seed in one vmapped call; beside the measured S_min and S_w the
script reports the learner's own suboptimality eps_hat (SPEC §2), Theorem 1's
bounds (SPEC §4, §7) at eps_hat from the parameters of the population table,
which hold for this learner, and the exact worst-case success at eps_hat; and,
for reference, Theorem 1 at the fixed EPS = 0.02, which holds only where
eps_hat <= EPS.

Run it::

  .venv/bin/python examples/learners_alignment.py [--out DIR] [--quick]

The output folder also gets ``meta.json``: the run's arguments, seeds,
versions, devices and command line.
"""

from __future__ import annotations

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import matplotlib.pyplot as plt  # noqa: E402

from acajax.runs import _script, validate  # noqa: E402

NAME = "learners_alignment"
DEFAULT_OUT = "learners-alignment"

P0 = ((.17, .07, .07), (.05, .15, .02), (.10, .05, .08),
      (.05, .05, .10), (.010, .006, .004), (.006, .008, .006))
EPS = 0.02
OTHER_MASSES = (.01, .02, .03, .04, .06, .08)


def make_spec(quick: bool = False) -> validate.ValidationSpec:
  masses = OTHER_MASSES[::2] if quick else OTHER_MASSES
  split = [4, 5, 4, 5, 4, 5]
  collectives = [validate.CollectiveSpec(.04, 1, 4, name="c0")]
  for aligned in (True, False):
    for mass in masses:
      collectives.append(validate.CollectiveSpec(
          mass, 1 if aligned else 2, split, name="aligned" if aligned else "opposed"))
  return validate.ValidationSpec(
      name="alignment sweep", dataset="finite_table", learner="logistic", p0=P0, eps=EPS,
      collectives=tuple(collectives),
      configurations=tuple((0, j) for j in range(1, len(collectives))),
      seeds=(0,) if quick else (0, 1, 2), num_samples=5000 if quick else 20000,
      steps=150 if quick else 300)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Trains every model, prints S_min / S_w against the bounds, saves the figure.

  Args:
    out_dir: output folder (also gets ``meta.json``).
    quick: one seed, fewer samples and steps (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the tidy ``frame``, the ``summary`` (per alignment and mass of
    collective 1: measured S_min and S_w, eps_hat, bound and exact worst case
    at eps_hat, bound at EPS) and the ``paths``.
  """
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  spec = make_spec(quick)
  result = validate.run(spec, out_dir)
  frame = result.frame
  other = {k: spec.collectives[j] for k, (_, j) in enumerate(spec.active_sets)}
  glob = frame[frame["collective"].isin(["S_min", "S_w"])].copy()
  glob["alignment"] = glob["configuration"].map({k: c.name for k, c in other.items()})
  glob["other_mass"] = glob["configuration"].map({k: c.mass for k, c in other.items()})
  summary = glob.pivot_table(index=["alignment", "other_mass"], columns="collective",
                             values=["success", "eps_hat", "bound", "exact_success",
                                     "bound_at_eps"], aggfunc="mean")
  print(f"M = 2: measured global success against Theorem 1's bounds at the learner's "
        f"eps_hat (population parameters), the exact worst case at eps_hat, and Theorem 1 "
        f"at eps = {EPS}:")
  print(summary.round(3).to_string())

  fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6), sharey=True)
  symbols = {"S_min": r"$S_{\min}$ (least success)", "S_w": r"$S_w$ (mass-weighted)"}
  for ax, alignment in zip(axes, ("aligned", "opposed")):
    part = summary.loc[alignment]
    for metric, color in (("S_min", "C0"), ("S_w", "C2")):
      ax.plot(part.index, part[("success", metric)], "o-", color=color)
      ax.plot(part.index, part[("exact_success", metric)], ":", color=color)
      ax.plot(part.index, part[("bound", metric)], "--", color=color)
    ax.set_title(f"collective 1 {alignment}", fontsize=10)
    ax.set_xlabel(r"$\alpha_1$ (mass of collective 1)")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=.3)
  axes[0].set_ylabel("global success")
  handles = [plt.Line2D([], [], color=c, lw=6) for c in ("C0", "C2")] + [
      plt.Line2D([], [], color="k", marker="o"), plt.Line2D([], [], color="k", ls=":"),
      plt.Line2D([], [], color="k", ls="--")]
  labels = [symbols["S_min"], symbols["S_w"], "measured (mean over seeds)",
            r"exact worst case at the learner's $\hat\varepsilon$",
            r"Theorem 1 bound at $\hat\varepsilon$"]
  axes[1].legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.03, 1.0),
                 borderaxespad=0.0, frameon=False)
  fig.tight_layout()
  path = out_dir / "alignment_sweep.png"
  fig.savefig(path, dpi=110)
  plt.close(fig)
  _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                     seeds={"data_and_training": list(spec.seeds)}, argv=argv)
  return {"frame": frame, "summary": summary, "paths": result.paths + [path]}


if __name__ == "__main__":
  import jax  # deferred: only a script run splits the CPU into devices; importers keep theirs

  args = _script.parse_args(__doc__, DEFAULT_OUT)
  # Models split over every core; set before anything starts JAX's CPU backend.
  jax.config.update("jax_num_cpu_devices", os.cpu_count())
  main(args.out, quick=args.quick)
