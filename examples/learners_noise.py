"""Coordination noise: a collective twice as large with four times the noise.

Two collectives plant the same rare point of a finite table with opposed
targets (logistic regression on one-hot features, flax). A has mass 2 alpha
and a fraction 4 nu of members who abstain; B has mass alpha and abstention
nu. Their coordinated masses on the signal are 2 alpha (1 - 4 nu) and
alpha (1 - nu), which cross at nu = 1/7: beyond it the smaller, better
coordinated collective wins. nu is the spec's noise axis (``noise_grid``,
``noise_kind = "abstain"``, ``noise_scale = (4, 1)``), trained with the seeds
in one vmapped call; the exact engine (``CoordinationNoise``) gives the
worst-case success of the population mixture at the learner's own eps_hat
and at eps = 0 (the Bayes classifier) beside the measured success.

Run it::

  .venv/bin/python examples/learners_noise.py [--out DIR] [--quick]

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

NAME = "learners_noise"
DEFAULT_OUT = "learners-noise"

ALPHA = 0.04
# Five points, two labels; point 4 is rare (the shared signal).
P0 = ((.20, .10), (.10, .20), (.15, .10), (.05, .095), (.003, .002))
NOISE = (0.0, 0.05, 0.1, 0.125, 0.16, 0.2)


def make_spec(quick: bool = False) -> validate.ValidationSpec:
  return validate.ValidationSpec(
      name="coordination noise", dataset="finite_table", learner="logistic", p0=P0,
      collectives=(validate.CollectiveSpec(2 * ALPHA, 0, 4, name="A"),
                   validate.CollectiveSpec(ALPHA, 1, 4, name="B")),
      noise_grid=(0.0, 0.1, 0.2) if quick else NOISE, noise_kind="abstain",
      noise_collectives=(0, 1), noise_scale=(4.0, 1.0),
      seeds=(0,) if quick else (0, 1, 2), num_samples=5000 if quick else 20000,
      steps=150 if quick else 300)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Trains every model, prints success against nu, saves the figure.

  Args:
    out_dir: output folder (also gets ``meta.json``).
    quick: one seed, fewer samples and steps (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the tidy ``frame``, the ``summary`` (per nu and collective:
    measured success, eps_hat, exact worst case at eps_hat and at eps = 0)
    and the ``paths`` written.
  """
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  spec = make_spec(quick)
  result = validate.run(spec, out_dir)
  frame = result.frame
  per = frame[~frame["collective"].isin(["S_min", "S_w"])].rename(columns={"noise": "nu"})
  summary = per.pivot_table(index="nu", columns="name",
                            values=["success", "eps_hat", "exact_success", "exact_at_eps"],
                            aggfunc="mean")
  print("Success against B's noise nu (A: mass 2a, abstains 4 nu; B: mass a, abstains nu); "
        "coordinated masses cross at nu = 1/7 = 0.143. exact_success: the exact worst case at "
        "the learner's eps_hat; exact_at_eps: at eps = 0 (Bayes).")
  print(summary.round(3).to_string())

  fig, ax = plt.subplots(figsize=(7.5, 3.8))
  handles, labels = [], []
  for who, color in (("A", "C0"), ("B", "C3")):
    ax.plot(summary.index, summary[("success", who)], "o-", color=color)
    ax.plot(summary.index, summary[("exact_at_eps", who)], "--", color=color)
    ax.plot(summary.index, summary[("exact_success", who)], ":", color=color)
    handles.append(plt.Line2D([], [], color=color, lw=6))
    labels.append(f"collective {who}")
  ax.axvline(1 / 7, color="grey", lw=.8, ls="-.")
  handles += [plt.Line2D([], [], color="k", marker="o", ls="-"),
              plt.Line2D([], [], color="k", ls="--"), plt.Line2D([], [], color="k", ls=":"),
              plt.Line2D([], [], color="grey", lw=.8, ls="-.")]
  labels += ["measured (logistic regression)",
             r"exact worst case at $\varepsilon$ = 0 (Bayes)",
             r"exact worst case at the learner's $\hat\varepsilon$",
             r"masses cross: $\nu$ = 1/7"]
  ax.set_xlabel(r"noise level $\nu$ (A abstains $4\nu$, B abstains $\nu$)")
  ax.set_ylabel("success")
  ax.set_ylim(-0.05, 1.05)
  ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0, frameon=False)
  ax.set_title("Twice the mass, four times the noise", fontsize=10)
  fig.tight_layout()
  path = out_dir / "noise_crossover.png"
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
