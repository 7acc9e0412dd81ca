"""Coordination noise: a collective twice as large with four times the noise.

Two collectives plant the same rare point of a finite table with opposed
targets (logistic regression on one-hot features, flax). A has mass 2 alpha
and a fraction 4 nu of members who abstain; B has mass alpha and abstention
nu. Their coordinated masses on the signal are 2 alpha (1 - 4 nu) and
alpha (1 - nu), which cross at nu = 1/7: beyond it the smaller, better
coordinated collective wins. Each nu is one configuration; every model is
trained in one vmapped call, and the exact engine (``CoordinationNoise``) gives
the worst-case success of the empirical table beside the measured one.

Run it::

  .venv/bin/python examples/learners_noise.py [OUT_DIR] [--quick]
"""

from __future__ import annotations

import pathlib
import sys

from acajax import validate

ALPHA = 0.04
# Five points, two labels; point 4 is rare (the shared signal).
P0 = ((.20, .10), (.10, .20), (.15, .10), (.05, .095), (.003, .002))
NOISE = (0.0, 0.05, 0.1, 0.125, 0.16, 0.2)


def make_spec(quick: bool = False) -> validate.ValidationSpec:
  noise = NOISE[::2] + (0.2,) if quick else NOISE
  noise = tuple(dict.fromkeys(noise))
  collectives = []
  for nu in noise:
    collectives.append(validate.CollectiveSpec(2 * ALPHA, 0, 4, abstain=4 * nu,
                                               name=f"A (2a, noise {4 * nu:g})"))
    collectives.append(validate.CollectiveSpec(ALPHA, 1, 4, abstain=nu,
                                               name=f"B (a, noise {nu:g})"))
  return validate.ValidationSpec(
      name="coordination noise", dataset="finite_table", learner="logistic", p0=P0,
      collectives=tuple(collectives),
      configurations=tuple((2 * k, 2 * k + 1) for k in range(len(noise))),
      seeds=(0,) if quick else (0, 1, 2), num_samples=5000 if quick else 20000,
      steps=150 if quick else 300)


def main(out_dir: str | pathlib.Path = "learners-noise", quick: bool = False) -> dict:
  """Trains every model, prints success against nu, saves the figure.

  Returns:
    dict with the tidy ``frame``, the ``summary`` (measured and exact success
    of A and B per nu) and the ``paths`` written.
  """
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  spec = make_spec(quick)
  result = validate.run(spec, out_dir)
  frame = result.frame
  per = frame[~frame["collective"].isin(["S_min", "S_w"])].copy()
  per["who"] = per["name"].str[0]
  per["nu"] = per["configuration"].map(
      {k: spec.collectives[2 * k + 1].abstain for k in range(len(spec.active_sets))})
  summary = per.pivot_table(index="nu", columns="who", values=["success", "exact_success"],
                            aggfunc="mean")
  print("Success against B's noise nu (A: mass 2a, noise 4 nu; B: mass a, noise nu); "
        "coordinated masses cross at nu = 1/7 = 0.143:")
  print(summary.round(3).to_string())

  fig, ax = plt.subplots(figsize=(6, 3.6))
  for who, color in (("A", "C0"), ("B", "C3")):
    ax.plot(summary.index, summary[("success", who)], "o-", color=color,
            label=f"{who} measured (logistic)")
    ax.plot(summary.index, summary[("exact_success", who)], "--", color=color,
            label=f"{who} exact worst case, eps = 0")
  ax.axvline(1 / 7, color="grey", lw=.8, ls=":")
  ax.set_xlabel("noise nu (A abstains 4 nu, B abstains nu)")
  ax.set_ylabel("success")
  ax.set_ylim(-0.05, 1.05)
  ax.legend(fontsize=7)
  ax.set_title("Twice the mass, four times the noise")
  fig.tight_layout()
  path = out_dir / "noise_crossover.png"
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return {"frame": frame, "summary": summary, "paths": result.paths + [path]}


if __name__ == "__main__":
  args = [a for a in sys.argv[1:] if not a.startswith("--")]
  main(args[0] if args else "learners-noise", quick="--quick" in sys.argv)
