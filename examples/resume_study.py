"""The two-collectives resume study: four characters, label targets, alone and in pairs.

The protocol of Karan et al. (FAccT 2025) on acajax's text learner (hashed
character n-grams, flax): each collective inserts one character before every
20th word of its members' resumes and relabels them to its target class, a
label name. The characters are the study's ``{``, ``}``, U+2E17 and U+2E18,
plus any named with ``--char``. Collective 1 targets the first label of
``--targets A B``; collective 2 the same label (aligned) or the second
(opposed); every character of collective 1 meets every character of
collective 2. Measured per seed: each collective alone and every pair
together over a grid of masses (both the same size), and one character over
a grid of two independent masses (against the same character and against
another). Success is top-1 accuracy on the signed held-out test resumes
(every test resume with the collective's character inserted, predicted as
its target). Expected, as in the study: alone each collective succeeds
(the study reports about 100% with BERT; the default synthetic run here
reaches 0.7-0.95 alone with the hashed n-gram learner, and ``--quick``, with
fewer resumes and steps, less); the same character with different targets
cuts both down (to about half here), other pairings barely interact.

The corpus is synthetic by default (:func:`acajax.datasets.synthetic_resumes`,
generated, nothing downloaded); ``--corpus PATH`` reads the public resume
corpus as you hold it (a folder, a zip or one ``id:::labels:::text`` file,
:func:`acajax.datasets.read_resume_corpus`); targets are its label names
(default: its first two, sorted). ``examples/resume_study.toml`` is the pair
protocol with the default characters as a spec for ``acajax validate``.

Run it::

  .venv/bin/python examples/resume_study.py [--out DIR] [--quick] [--corpus PATH]
      [--char C ...] [--targets A B] [--samples N]

Writes ``pairs.csv`` (every model and collective, with the theory columns of
:mod:`acajax.runs.validate`), ``pair_summary.csv`` (means and standard
deviations over seeds, and the signal collision), ``two_mass.csv``, the
figures ``success_vs_mass.png`` and ``two_mass_heatmap.png`` and
``meta.json`` (the run's arguments, seeds, versions, devices and command
line).
"""

from __future__ import annotations

import functools
import os
import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from acajax import datasets  # noqa: E402
from acajax.runs import _io, _script, validate  # noqa: E402

NAME = "resume_study"
DEFAULT_OUT = "resume-study"
CHARACTERS = ("{", "}", "\u2e17", "\u2e18")      # the study's four
EVERY = 20                                         # one character every 20 words
MASS = 0.05                                        # each collective's base mass


def show(char: str) -> str:
  """A character as text every font can draw: ``'{'``, or ``U+2E17``."""
  return f"'{char}'" if char.isascii() and char.isprintable() else f"U+{ord(char):04X}"


def _data(corpus, samples: int | None, quick: bool) -> dict:
  """The data and training keys of a spec: synthetic, or the user's corpus (sizes that fit)."""
  train = dict(steps=100 if quick else 300, seeds=(0, 1) if quick else (0, 1, 2))
  if corpus is None:
    # Short synthetic texts (60 words) train well at a larger step than the text default.
    return dict(train, dataset="synthetic_resumes", num_samples=samples or (400 if quick
                                                                             else 1200),
                test_samples=100 if quick else 400, learning_rate=0.05)
  size = corpus["report"].samples
  num = samples or min(1200, (4 * size) // 5)
  return dict(train, dataset="resume_file", path=str(corpus["path"]), num_samples=num,
              test_samples=min(1000, size - num))


def pair_spec(chars, targets, *, corpus=None, samples=None, quick=False) -> validate.ValidationSpec:
  """Each collective alone and every pair together, both at every mass of the grid.

  Collectives: 1 (target A) per character (indices 0..n-1), 2 aligned (A,
  n..2n-1) and 2 opposed (B, 2n..3n-1) per character. Configurations: every
  collective 1 alone, every opposed collective 2 alone (the other target
  alone), and every collective 1 with every collective 2.
  """
  n = len(chars)
  first = [validate.CollectiveSpec(MASS, targets[0], ch, name=f"1 {show(ch)}") for ch in chars]
  aligned = [validate.CollectiveSpec(MASS, targets[0], ch, name=f"2 {show(ch)} aligned")
             for ch in chars]
  opposed = [validate.CollectiveSpec(MASS, targets[1], ch, name=f"2 {show(ch)} opposed")
             for ch in chars]
  configurations = ([(i,) for i in range(n)] + [(2 * n + j,) for j in range(n)]
                    + [(i, n + j) for i in range(n) for j in range(n)]
                    + [(i, 2 * n + j) for i in range(n) for j in range(n)])
  return validate.ValidationSpec(
      name="resume study: pairs", learner="ngram", collectives=tuple(first + aligned + opposed),
      configurations=tuple(configurations),
      mass_grid=(1.0, 2.0) if quick else (0.5, 1.0, 2.0),
      **_data(corpus, samples, quick))


def two_mass_spec(chars, targets, *, corpus=None, samples=None, quick=False
                  ) -> tuple[validate.ValidationSpec, tuple[float, ...]]:
  """Collective 1 (chars[0], A) at every mass against collective 2 (B) at every mass.

  Collective 2 uses the same character or chars[1]; the grid of masses is
  explicit per collective (one collective per mass), so one run trains all.
  """
  masses = tuple(MASS * s for s in ((0.5, 2) if quick else (0.25, 0.5, 1, 2)))
  g = len(masses)
  cols = [validate.CollectiveSpec(a, targets[0], chars[0], name=f"1 {show(chars[0])}")
          for a in masses]
  for ch in chars[:2]:
    cols += [validate.CollectiveSpec(b, targets[1], ch, name=f"2 {show(ch)} opposed")
             for b in masses]
  configurations = [(i, g * (1 + k) + j) for k in range(2) for i in range(g) for j in range(g)]
  spec = validate.ValidationSpec(
      name="resume study: two masses", learner="ngram", collectives=tuple(cols),
      configurations=tuple(configurations), **_data(corpus, samples, quick))
  return spec, masses


def _spread(frame, keys):
  """Mean, standard deviation and count of ``success`` over seeds."""
  return frame.groupby(keys, sort=False)["success"].agg(["mean", "std", "count"])


def summarize_pairs(frame, chars, targets) -> pd.DataFrame:
  """One row per (character 1, character 2, relation, mass): alone and together, both sides."""
  n = len(chars)
  per = frame[~frame["collective"].isin(["S_min", "S_w"])].copy()
  per["index"] = per["collective"].astype(int)
  per["size"] = per["active"].str.count(r"\+") + 1
  alone = _spread(per[per["size"] == 1], ["index", "mass_scale"])
  rows = []
  for relation, offset in (("aligned", n), ("opposed", 2 * n)):
    for i in range(n):
      for j in range(n):
        second = offset + j
        pair = per[per["active"] == f"{i}+{second}"]
        for scale, group in pair.groupby("mass_scale"):
          one = group[group["index"] == i]
          two = group[group["index"] == second]
          alone_two = j if relation == "aligned" else second    # 2 aligned alone = 1 alone
          rows.append({
              "char_1": show(chars[i]), "char_2": show(chars[j]), "relation": relation,
              "target_1": targets[0], "target_2": targets[0 if relation == "aligned" else 1],
              "mass": MASS * scale,
              "alone_1": alone.loc[(i, scale), "mean"], "alone_1_sd": alone.loc[(i, scale), "std"],
              "together_1": one["success"].mean(), "together_1_sd": one["success"].std(),
              "alone_2": alone.loc[(alone_two, scale), "mean"],
              "alone_2_sd": alone.loc[(alone_two, scale), "std"],
              "together_2": two["success"].mean(), "together_2_sd": two["success"].std(),
              "seeds": len(one),
              "signal_collision": "yes" if (one["signal_collision"] != "").all() else "no",
              "eps_hat_1": one["eps_hat"].mean(),
              "margin_share_1": one["margin_share"].mean(),
              "exact_on_margin_points_1": one["exact_on_margin_points"].mean()})
  return pd.DataFrame(rows)


def plot_pairs(summary, chars, path) -> pathlib.Path:
  """Collective 1's success against mass, alone and with each collective 2, per character pair."""
  n = len(chars)
  masses = sorted(summary["mass"].unique())
  fig, axes = plt.subplots(n, n, figsize=(2.5 * n + 1.2, 2.2 * n + 1.0), sharex=True,
                           sharey=True, squeeze=False)
  styles = {"alone": ("k", "o", "--", "1 alone"), "aligned": ("tab:blue", "s", "-",
                                                             "1 with 2, same target"),
            "opposed": ("tab:red", "^", "-", "1 with 2, other target")}
  for r, c1 in enumerate(chars):
    for c, c2 in enumerate(chars):
      ax = axes[r][c]
      cell = summary[(summary["char_1"] == show(c1)) & (summary["char_2"] == show(c2))]
      first = cell[cell["relation"] == "opposed"]
      color, marker, line, label = styles["alone"]
      ax.errorbar(first["mass"], first["alone_1"], yerr=first["alone_1_sd"].fillna(0),
                  color=color, marker=marker, ls=line, ms=4, capsize=2, label=label)
      for relation in ("aligned", "opposed"):
        sub = cell[cell["relation"] == relation]
        color, marker, line, label = styles[relation]
        ax.errorbar(sub["mass"], sub["together_1"], yerr=sub["together_1_sd"].fillna(0),
                    color=color, marker=marker, ls=line, ms=4, capsize=2, label=label)
      ax.set_xscale("log", base=2)
      ax.set_xticks(masses, [f"{m:g}" for m in masses])
      ax.minorticks_off()
      ax.set_ylim(-0.05, 1.05)
      ax.grid(alpha=.3)
      if r == 0:
        ax.set_title(f"collective 2: {show(c2)}", fontsize=9)
      if c == 0:
        ax.set_ylabel(f"collective 1: {show(c1)}\nsuccess of 1", fontsize=9)
      if r == n - 1:
        ax.set_xlabel(r"mass $\alpha$ of each collective", fontsize=9)
  handles, labels = axes[0][0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
  fig.suptitle("Collective 1's success alone and together (mean ± sd over seeds)", fontsize=10)
  fig.tight_layout(rect=(0, 0.06, 1, 1))
  _io.save_figure(fig, path, dpi=110)
  plt.close(fig)
  return pathlib.Path(path)


def summarize_two_mass(frame, masses, chars) -> pd.DataFrame:
  """Mean and sd over seeds of each collective's success at each (alpha_1, alpha_2)."""
  g = len(masses)
  per = frame[~frame["collective"].isin(["S_min", "S_w"])].copy()
  index = per["collective"].astype(int)
  per["side"] = np.where(index < g, "1", "2")
  config = per["active"].str.split("+")
  per["alpha_1"] = [masses[int(a)] for a, _ in config]
  per["alpha_2"] = [masses[int(b) % g] for _, b in config]
  per["second_char"] = [show(chars[0]) if int(b) < 2 * g else show(chars[1]) for _, b in config]
  out = per.groupby(["second_char", "side", "alpha_1", "alpha_2"], sort=False)["success"].agg(
      ["mean", "std", "count"]).reset_index()
  return out


def plot_two_mass(table, chars, targets, path) -> pathlib.Path:
  """Heatmaps of each collective's success over the two masses, per character pairing."""
  seconds = [show(chars[0]), show(chars[1])]
  fig, axes = plt.subplots(2, 2, figsize=(8.6, 7.2), squeeze=False, layout="constrained")
  image = None
  for r, second in enumerate(seconds):
    for c, side in enumerate(("1", "2")):
      ax = axes[r][c]
      grid = (table[(table["second_char"] == second) & (table["side"] == side)]
              .pivot(index="alpha_2", columns="alpha_1", values="mean"))
      image = ax.imshow(grid.to_numpy(), origin="lower", cmap="viridis", vmin=0, vmax=1,
                        aspect="auto")
      for (y, x), value in np.ndenumerate(grid.to_numpy()):
        ax.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="white" if value < 0.6 else "black")
      ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
      ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
      if r == 1:
        ax.set_xlabel(r"mass $\alpha_1$ of collective 1")
      if c == 0:
        relation = "same character" if r == 0 else "another character"
        ax.set_ylabel(f"2 inserts {second} ({relation})\n" + r"mass $\alpha_2$ of collective 2")
      if r == 0:
        ax.set_title(f"success of collective {side} (target {targets[int(side) - 1]})",
                     fontsize=9)
  fig.colorbar(image, ax=axes, shrink=0.8, label="success on signed test resumes")
  fig.suptitle(f"Two collectives with different targets: 1 inserts {seconds[0]} "
               "(mean over seeds)", fontsize=10)
  _io.save_figure(fig, path, dpi=110)
  plt.close(fig)
  return pathlib.Path(path)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         corpus: str | None = None, chars=(), targets=None, samples: int | None = None,
         argv: list[str] | None = None) -> dict:
  """Runs the study, prints the tables, saves the CSV files and the figures.

  Args:
    out_dir: output folder (also gets ``meta.json``).
    quick: two characters, fewer masses, samples and steps, two seeds (for
      smoke tests; well under a minute).
    corpus: the user's resume corpus (folder, zip or file); None: synthetic.
    chars: characters beyond the study's four (each a single character).
    targets: the two target label names; default the corpus's first two.
    samples: training resumes per model (default 1200, at most 80% of a
      corpus; every model's planted features are held in memory at once,
      :func:`acajax.runs.validate.estimated_memory_bytes`).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the tidy ``pairs`` and ``two_mass`` frames, the ``summary``
    (one row per character pair, relation and mass), the ``two_mass_table``,
    the ``collisions`` of the featurizer, the ``corpus_report`` (or None) and
    the ``paths`` written.
  """
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  chars = tuple(dict.fromkeys((CHARACTERS[:2] if quick else CHARACTERS) + tuple(chars)))
  for ch in chars:
    if len(ch) != 1:
      raise SystemExit(f"--char: each must be a single character; got {ch!r}")
  loaded, report = None, None
  if corpus is not None:
    try:
      data, report = datasets.read_resume_corpus(corpus)
    except (OSError, datasets.CorpusError) as err:    # a missing path, an unreadable zip, ...
      raise SystemExit(f"--corpus: {err}") from None
    loaded = dict(path=pathlib.Path(corpus).resolve(), report=report)
    names = data.label_names
  else:
    names = datasets.RESUME_LABELS
  targets = tuple(targets) if targets else tuple(names[:2])
  if len(targets) != 2 or targets[0] == targets[1]:
    raise SystemExit(f"--targets: two different label names; got {list(targets)}")
  unknown = [t for t in targets if t not in names]
  if unknown:
    raise SystemExit(f"--targets: {unknown} not among the labels {list(names)}")

  spec = pair_spec(chars, targets, corpus=loaded, samples=samples, quick=quick)
  pairs = validate.run(spec).frame
  summary = summarize_pairs(pairs, chars, targets)
  spec2, masses = two_mass_spec(chars, targets, corpus=loaded, samples=samples, quick=quick)
  two_mass = validate.run(spec2).frame
  table = summarize_two_mass(two_mass, masses, chars)
  featurize = functools.partial(  # the featurizer of the spec (its n-gram settings)
      datasets.hashed_ngrams, orders=tuple(range(spec.ngram_range[0], spec.ngram_range[1] + 1)),
      dim=spec.ngram_width)
  collisions = datasets.signal_collisions(featurize, chars, every=EVERY)

  pd.set_option("display.width", 160)
  if report is not None:
    print(f"Corpus {report.source}: {report.resumes} resumes ({report.layout} layout), "
          f"{report.unlabelled} unlabelled skipped, {report.multi_label} multi-label.")
  print(f"Targets: 1 -> {targets[0]}; 2 -> {targets[0]} (aligned) or {targets[1]} (opposed). "
        f"Characters: {', '.join(map(show, chars))}, one every {EVERY} words.")
  print("Characters the hashed n-gram featurizer cannot tell apart: "
        + ("; ".join(f"{show(c)} ~ {', '.join(map(show, d))}" for c, d in collisions.items() if d)
           or "none"))
  shown = summary.assign(**{
      "1 alone": summary["alone_1"].map("{:.2f}".format) + " ± "
      + summary["alone_1_sd"].fillna(0).map("{:.2f}".format),
      "1 together": summary["together_1"].map("{:.2f}".format) + " ± "
      + summary["together_1_sd"].fillna(0).map("{:.2f}".format),
      "2 alone": summary["alone_2"].map("{:.2f}".format),
      "2 together": summary["together_2"].map("{:.2f}".format)})
  top = shown[shown["mass"] == MASS]
  print(f"\nSuccess on the signed test resumes at mass {MASS:g} each (mean ± sd over "
        f"{len(spec.seeds)} seeds; signal_collision: the featurizer hashes the two signals "
        "alike):")
  print(top[["char_1", "char_2", "relation", "1 alone", "1 together", "2 alone", "2 together",
             "signal_collision", "eps_hat_1", "margin_share_1",
             "exact_on_margin_points_1"]].round(3).to_string(index=False))
  print("\nCollective 1's mean success over the two masses (rows alpha_2, columns alpha_1):")
  for second in (show(chars[0]), show(chars[1])):
    grid = table[(table["second_char"] == second) & (table["side"] == "1")].pivot(
        index="alpha_2", columns="alpha_1", values="mean")
    print(f"1 {show(chars[0])} against 2 {second} (other target):")
    print(grid.round(2).to_string())

  paths = [_io.write_csv(pairs, out_dir / "pairs.csv"),
           _io.write_csv(summary, out_dir / "pair_summary.csv"),
           _io.write_csv(table, out_dir / "two_mass.csv"),
           plot_pairs(summary, chars, out_dir / "success_vs_mass.png"),
           plot_two_mass(table, chars, targets, out_dir / "two_mass_heatmap.png")]
  _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick, corpus=corpus,
                                         chars=list(chars), targets=list(targets),
                                         samples=samples),
                     seeds={"data_and_training": list(spec.seeds)}, argv=argv)
  return {"pairs": pairs, "two_mass": two_mass, "summary": summary, "two_mass_table": table,
          "collisions": collisions, "corpus_report": report, "paths": paths}


def _options(parser):
  parser.add_argument("--corpus", default=None, metavar="PATH",
                      help="your resume corpus: a folder, a zip or one id:::labels:::text file "
                           "(default: the synthetic corpus)")
  parser.add_argument("--char", action="append", default=[], metavar="C",
                      help="another signal character (repeat for more)")
  parser.add_argument("--targets", nargs=2, default=None, metavar=("A", "B"),
                      help="the two target label names (default: the corpus's first two)")
  parser.add_argument("--samples", type=int, default=None, metavar="N",
                      help="training resumes per model")


if __name__ == "__main__":
  import jax  # deferred: only a script run splits the CPU into devices; importers keep theirs

  args = _script.parse_args(__doc__, DEFAULT_OUT, extra=_options)
  # Models split over every core; set before anything starts JAX's CPU backend.
  jax.config.update("jax_num_cpu_devices", os.cpu_count())
  main(args.out, quick=args.quick, corpus=args.corpus, chars=args.char, targets=args.targets,
       samples=args.samples)
