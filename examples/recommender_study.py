"""The two-collectives study's recommender experiment, its protocol end to end.

Karan et al. (FAccT 2025) train Surprise's ``SVD`` on MovieLens 100k and
let collectives of users rate items: a promoter rates its members' 10
collectively highest-rated items 5 stars, a demoter rates its own top 10
1 star. This script runs that protocol with :mod:`acajax.svd` (Surprise's
model: per-rating SGD, 100 factors, 20 epochs, lr 0.005, reg 0.02; trained
in float32, so Surprise's model up to float32 rounding; turn on
``jax_enable_x64`` for Surprise's float64, about 1.6x slower):

* data: generated ratings shaped like MovieLens 100k (943 users in 10 taste
  clusters, 1,682 items, users' activity heavy-tailed from 20 ratings up,
  median about 60; item popularity Zipf-Mandelbrot, so the most rated item
  has about 540 ratings and a long tail of items has fewer than 5; popular
  items rated higher on average, ``--popularity-quality``, default 1: the
  correlation of an item's number of ratings with its mean rating is then
  about 0.5, 0 makes them independent), or your own ``u.data``
  (``--movielens``; nothing is downloaded);
* two collectives, a promoter and a demoter, each of N = 10, 20 or 50
  users drawn with propensity p in {0.1, 0.25, 0.5, 0.75, 1}: a member comes
  from the collective's seed cluster with probability p, else from the other
  clusters; the two seed clusters are drawn at random and always differ
  (``seed_clusters="random"``); the clusters are the generator's taste
  clusters, or for MovieLens k-means on the baseline model's user factors;
* each collective alone, then both together; the measure is the relative
  hit ratio HR@10(with) / HR@10(without) of the collective's target items
  over every user who is not a member, against the same seed's model
  without action; ``--repetitions`` repetitions (default 10; the study
  ran 100), each with its own members and seed.

The study's four findings, measured by :func:`findings` on the results:

1. size matters first, homogeneity second: the mean log relative HR moves
   more across N (averaged over p) than across p (averaged over N);
2. for demoters an intermediate p is best: the lowest relative HR at each N
   lies at a p strictly between 0.1 and 1;
3. a promoter and a demoter interfere: each one's relative HR changes
   when the other acts too (mean |log(together / alone)| over cells; the
   users measured then exclude both collectives' members, so the shift
   includes that smaller population; no threshold is applied: compare the
   shift with the spread over repetitions in the figure);
4. demoting is easier than promoting: the demoter gets its targets below
   1 by more (mean log relative HR) than the promoter gets its own above 1.

What the default run found on the generated ratings (10 repetitions,
2-core CPU, two to four minutes): findings 2 and 4 hold (the demoter's
relative HR is lowest at p = 0.5 for every N, about 0.63, while the
promoter stays near 1); finding 1 does not (N moves the demoter less than
p does), and the together/alone shifts of finding 3 are about the size of
the error bars. With ``--popularity-quality 0``, finding 1 holds, the
promoter shifts clearly beside the demoter, and findings 2 and 4 do not
(the demoter raises its targets' HR). The numbers are printed at the end
and kept in ``findings.json``; the docs' recommender guide discusses both.

Run: ``.venv/bin/python examples/recommender_study.py [--quick] [--out DIR]
[--movielens ml-100k/u.data] [--repetitions R] [--popularity-quality Q]`` (writes ``results.csv``,
``summary.csv``, ``findings.json``, ``relative_hr_vs_p.png`` and
``meta.json``: the run's arguments, seeds, versions, devices and command
line).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib

import numpy as np

from acajax import rating_collectives as rc
from acajax import ratings, svd
from acajax.runs import _script
from acajax.runs import recommender as rec_experiment
from acajax.runs.recommender import CollectiveSpec, Experiment

NAME = "recommender_study"
DEFAULT_OUT = "recommender-study"
DATA_SEED = 0
SIZES = (10, 20, 50)
PROPENSITIES = (0.1, 0.25, 0.5, 0.75, 1.0)
POPULARITY_QUALITY = 1.0   # popular items rated higher on average (0: independent)
MAX_REPETITIONS = 1000


def _repetitions(text: str) -> int:
  value = _script.positive_int(text)
  if value > MAX_REPETITIONS:
    raise argparse.ArgumentTypeError(
        f"must be at most {MAX_REPETITIONS} (the study ran 100; each repetition is "
        f"{len(SIZES) * len(PROPENSITIES) * 3} trainings); got {text!r}")
  return value


def _options(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--movielens", default=None, metavar="U.DATA",
                      help="your MovieLens 100k u.data file instead of generated ratings")
  parser.add_argument("--repetitions", type=_repetitions, default=None, metavar="R",
                      help=f"repetitions per configuration, at most {MAX_REPETITIONS} (default "
                      "10; --quick: 1)")
  parser.add_argument("--popularity-quality", type=_script.finite_float,
                      default=POPULARITY_QUALITY,
                      metavar="Q", help="generated ratings: how much more popular items are "
                      "liked (default %(default)s; 0: independent; negative: less liked); "
                      "not used with --movielens")


def movielens_like(num_users: int = 943, num_items: int = 1682, seed: int = DATA_SEED,
                   popularity_quality: float = POPULARITY_QUALITY):
  """Generated ratings shaped like MovieLens 100k (see the module docstring)."""
  rng = np.random.default_rng(seed)
  # Activity: 20 ratings at least, heavy-tailed above (median about 60).
  counts = np.minimum(20 + np.round(rng.lognormal(np.log(45), 1.0, num_users)),
                      min(700, num_items)).astype(int)
  return ratings.synthetic(num_users, num_items, num_clusters=10, ratings_per_user=counts,
                           zipf=2.0, popularity_offset=100.0,
                           popularity_quality=popularity_quality, seed=seed)


def setup(quick: bool = False, movielens=None, repetitions: int | None = None,
          popularity_quality: float = POPULARITY_QUALITY) -> Experiment:
  """The study's grid as an :class:`acajax.runs.recommender.Experiment`."""
  if quick:     # two p levels only: finding 2 (an intermediate p) cannot hold
    config = svd.SVDConfig(n_factors=10)
    grid = dict(sizes=(5, 10), homogeneity=(0.25, 1.0))
    repetitions = repetitions or 1
  else:
    config = svd.SVDConfig()                 # Surprise's defaults, the study's model
    grid = dict(sizes=SIZES, homogeneity=PROPENSITIES)
    repetitions = repetitions or 10
  if movielens is not None:
    base = ratings.load_movielens(movielens)
    # The study's clusters: k-means (10 clusters) on the baseline model's user
    # factors; these labels only give the number of clusters.
    clusters, clustering = np.arange(base.num_users) % 10, "kmeans"
  else:
    data = movielens_like(*((200, 300) if quick else ()), popularity_quality=popularity_quality)
    base, clusters, clustering = data.ratings, data.clusters, "data"
  collectives = (CollectiveSpec("promoter", "promoter", "promoter's top 10"),
                 CollectiveSpec("demoter", "demoter", "demoter's top 10"))
  return Experiment(
      ratings=base, clusters=clusters, collectives=collectives,
      target_sets={"promoter's top 10": "collective_top", "demoter's top 10": "collective_top"},
      scenarios=(("promoter",), ("demoter",), ("promoter", "demoter")),
      seeds=tuple(range(repetitions)), k=10, num_targets=10, config=config,
      membership="propensity", seed_clusters="random", clustering=clustering, **grid)


def findings(frame) -> dict:
  """The four findings (see the module docstring), measured on the results.

  Every measure averages log relative HR (a relative HR of 0, a set fully
  demoted, counts as log 1e-3), over repetitions and then over cells;
  ``summary.csv`` holds plain means of the relative HR instead. Findings 1,
  2 and 4 give a verdict (finding 1 per collective); finding 3 gives the
  size of the together/alone shift, to read against the spread over
  repetitions in the figure.
  """
  levels = sorted(set(frame["homogeneity"]))          # the grid's p, scored or not
  scored = ~frame["diverged"] & np.isfinite(frame["relative_hr"])
  # A relative HR needs a baseline HR above 0: the other rows are counted, not scored.
  out = {"rows scored (baseline HR above 0) / rows": [int(scored.sum()), len(frame)]}
  frame = frame[scored]
  log_rel = frame.assign(log_rel=np.log(frame["relative_hr"].clip(lower=1e-3)))
  alone = log_rel[log_rel["alone"]]
  for role in ("promoter", "demoter"):
    table = alone[alone["collective"] == role].groupby(
        ["size", "homogeneity"])["log_rel"].mean().unstack()
    over_sizes, over_p = float(np.ptp(table.mean(axis=1))), float(np.ptp(table.mean(axis=0)))
    out[f"1. {role}: spread over N / spread over p"] = [round(over_sizes, 3), round(over_p, 3)]
    out[f"1. {role}: size matters more than p"] = over_sizes > over_p
    if role == "demoter":
      best = table.dropna(how="all").idxmin(axis=1)
      out["2. demoter: best p per N"] = {str(int(n)): float(p) for n, p in best.items()}
      out["2. demoter: best p is intermediate at every N"] = bool(
          len(best) == len(table) and all(levels[0] < p < levels[-1] for p in best))
    out[f"4. {role}: mean log relative HR"] = round(float(np.nanmean(table.values)), 3)
  cells = ["seed", "size", "homogeneity", "collective"]
  paired = log_rel.pivot_table(index=cells, columns="alone", values="log_rel").dropna()
  for role in ("promoter", "demoter"):
    part = paired.xs(role, level="collective")
    shift = part[False] - part[True]
    out[f"3. {role}: mean |log(together / alone)|"] = round(float(shift.abs().mean()), 3)
    out[f"3. {role}: mean log(together / alone)"] = round(float(shift.mean()), 3)
  promote, demote = out["4. promoter: mean log relative HR"], out["4. demoter: mean log relative HR"]
  # Easier: the demoter gets below 1 by more than the promoter gets above 1 (a
  # promoter that fails, at or below 1, is beaten by any demoter below 1).
  out["4. demoting is easier (demoter below 1 by more than the promoter above 1)"] = bool(
      demote < 0 and -demote > max(promote, 0.0))
  return out


def main(out_dir=DEFAULT_OUT, quick: bool = False, progress: bool = False, movielens=None,
         repetitions: int | None = None, popularity_quality: float = POPULARITY_QUALITY, *,
         argv: list[str] | None = None):
  """Runs the study; returns ``{"frame", "summary", "findings", "paths", "result"}``."""
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  exp = setup(quick, movielens, repetitions, popularity_quality)
  result = rec_experiment.run_experiment(exp, progress=progress)
  frame = result.frame.rename(columns={"homogeneity": "p"})
  summary = frame.groupby(["collective", "scenario", "size", "p"])[
      "relative_hr"].mean().unstack("p")
  found = findings(result.frame)
  paths = [out / "results.csv", out / "summary.csv", out / "findings.json"]
  frame.to_csv(paths[0], index=False)
  summary.to_csv(paths[1])
  paths[2].write_text(json.dumps(found, indent=2) + "\n")
  source = "MovieLens u.data" if movielens else "generated ratings"
  paths.append(rec_experiment.plot(
      result.frame, out / "relative_hr_vs_p.png",
      title=f"Relative HR@10 against propensity p ({source}, Surprise's SVD, "
            f"{len(exp.seeds)} repetitions)",
      x_label="propensity p\n(chance a member is from the seed cluster)"))
  print(f"{result.trainings} trainings in {result.train_s:.1f} s (compile included)")
  print("Mean relative hit ratio (rows: collective, scenario, N; columns: p):")
  print(summary.to_string(float_format=lambda v: f"{v:.2f}"))
  for key, value in found.items():
    print(f"  {key}: {value}")
  seeds = {"repetitions": list(exp.seeds)}
  if movielens is None:
    seeds["ratings"] = DATA_SEED
  else:
    seeds["clusters"] = exp.seeds[0]      # k-means on the first repetition's baseline
  meta = _script.record_run(
      out, NAME, dict(out=str(out_dir), quick=quick, progress=progress,
                      movielens=None if movielens is None else str(movielens),
                      repetitions=repetitions,
                      popularity_quality=None if movielens else popularity_quality),
      seeds=seeds, argv=argv)
  for path in paths + [meta]:
    print(f"wrote {path}")
  return {"frame": frame, "summary": summary, "findings": found, "paths": paths,
          "result": result}


if __name__ == "__main__":
  import jax  # deferred: only a script run splits the CPU into devices

  args = _script.parse_args(__doc__, DEFAULT_OUT, extra=_options)
  # Trainings split over every core; set before anything starts JAX's CPU backend.
  jax.config.update("jax_num_cpu_devices", os.cpu_count())
  try:
    main(args.out, quick=args.quick, progress=True, movielens=args.movielens,
         repetitions=args.repetitions, popularity_quality=args.popularity_quality)
  except (ratings.RatingsError, rc.CollectiveError, OSError) as err:
    # A file that cannot be read, or clusters too small for the collectives.
    raise SystemExit(f"{NAME}: error: {err}") from None
