"""Two collectives on text: distinct vs colliding characters, aligned vs opposed targets.

Reproduces the interference of the two-collectives study (Karan et al., FAccT
2025) with a character n-gram classifier (flax) on a synthetic resume corpus:
collective A inserts "§" every 20 words and asks for label 0; collective B
(same mass) inserts "¶" (distinct) or "§" (colliding) and asks for label 0
(aligned) or 1 (opposed). A's success is measured alone and with B acting;
every model (4 B variants + A alone, × mass grid × seeds) is trained in one
vmapped call. Expected: a colliding, opposed B makes A's success drop
sharply; distinct characters barely interact; a colliding aligned B helps.

Run it::

  .venv/bin/python examples/learners_two_text.py [--out DIR] [--quick]

The output folder also gets ``meta.json``: the run's arguments, seeds,
versions, devices and command line.
"""

from __future__ import annotations

import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from acajax.runs import _script, validate  # noqa: E402

NAME = "learners_two_text"
DEFAULT_OUT = "learners-two-text"

VARIANTS = {  # name -> (B's character, B's target)
    "distinct, aligned": ("\u00b6", 0),
    "distinct, opposed": ("\u00b6", 1),
    "colliding, aligned": ("\u00a7", 0),
    "colliding, opposed": ("\u00a7", 1),
}


def make_spec(quick: bool = False) -> validate.ValidationSpec:
  """A's collective (index 0) and the four B variants (1..4); A alone and A + each B."""
  collectives = [validate.CollectiveSpec(.05, 0, "\u00a7", name="A")]
  collectives += [validate.CollectiveSpec(.05, target, char, name=f"B ({name})")
                  for name, (char, target) in VARIANTS.items()]
  return validate.ValidationSpec(
      name="two collectives on text", dataset="synthetic_resumes", learner="ngram",
      collectives=tuple(collectives),
      configurations=((0,),) + tuple((0, b) for b in range(1, 5)),
      seeds=(0,) if quick else (0, 1, 2), mass_grid=(1.0,) if quick else (0.5, 1.0, 2.0),
      num_samples=400 if quick else 2000, test_samples=100 if quick else 500,
      steps=100 if quick else 200)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Trains every model, prints A's success per variant, saves the figure.

  Args:
    out_dir: output folder (also gets ``meta.json``).
    quick: one seed, fewer samples and steps (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the tidy ``frame``, the ``summary`` (A's mean success alone and
    with each B, per mass), ``theory`` (A's success beside eps_hat, the bound
    and the exact worst case at eps_hat, and the reason a bound is withheld)
    and the ``paths`` written.
  """
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  spec = make_spec(quick)
  result = validate.run(spec, out_dir)
  frame = result.frame
  a = frame[frame["collective"] == "0"]
  names = {"0": "A alone"} | {f"0+{b}": f"with B {v}" for b, v in enumerate(VARIANTS, start=1)}
  summary = (a.assign(setting=a["active"].map(names))
             .pivot_table(index="setting", columns="mass", values="success", aggfunc="mean")
             .reindex(list(names.values())))
  theory = (a.assign(setting=a["active"].map(names))
            .groupby("setting")[["success", "eps_hat", "bound", "exact_success"]]
            .agg(lambda v: v.mean(skipna=False)).reindex(list(names.values())))
  theory["bound_note"] = a.assign(setting=a["active"].map(names)).groupby("setting")[
      "bound_note"].agg(lambda v: "; ".join(sorted(set(v)))).reindex(theory.index)
  b_rows = frame[frame["collective"].isin(["1", "2", "3", "4"])]
  b_summary = b_rows.groupby("name")["success"].mean()
  pd.set_option("display.width", 120)
  print("Collective A's measured success (mean over seeds), alone and with B acting:")
  print(summary.round(3).to_string())
  print("\nA side by side with the theory on the held-out texts (means over masses and seeds; "
        "bound and exact worst case at the learner's eps_hat, NaN with its reason where "
        "withheld):")
  print(theory.round(3).to_string())
  print("\nB's success when both act (mean):")
  print(b_summary.round(3).to_string())

  fig, ax = plt.subplots(figsize=(8.5, 3.6))
  masses = summary.columns.tolist()
  width = 0.8 / len(summary)
  for k, (setting, row) in enumerate(summary.iterrows()):
    ax.bar(np.arange(len(masses)) + k * width, row.to_numpy(), width, label=setting)
  ax.set_xticks(np.arange(len(masses)) + 0.4 - width / 2,
                [rf"$\alpha_A$ = {m:g}" for m in masses])
  ax.set_xlabel("mass of collective A")
  ax.set_ylabel(r"A's success $S_A$ (mean over seeds)")
  ax.set_ylim(0, 1.05)
  ax.set_title("Interference between two collectives on text (n-gram classifier)",
               fontsize=10)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
            frameon=False)
  fig.tight_layout()
  path = out_dir / "two_text_interference.png"
  fig.savefig(path, dpi=110)
  plt.close(fig)
  _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                     seeds={"data_and_training": list(spec.seeds)}, argv=argv)
  return {"frame": frame, "summary": summary, "theory": theory,
          "paths": result.paths + [path]}


if __name__ == "__main__":
  import jax  # deferred: only a script run splits the CPU into devices; importers keep theirs

  args = _script.parse_args(__doc__, DEFAULT_OUT)
  # Models split over every core; set before anything starts JAX's CPU backend.
  jax.config.update("jax_num_cpu_devices", os.cpu_count())
  main(args.out, quick=args.quick)
