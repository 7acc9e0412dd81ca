"""Collective action on a recommender: the experiment grid and its spec.

The loop that joins :mod:`acajax.ratings`, :mod:`acajax.rating_collectives`
and :mod:`acajax.recommender`, as :mod:`acajax.runs.validate` does for the
learners. For every seed × collective size × homogeneity level:

1. every collective gets its members (:func:`rating_collectives.select_members`;
   disjoint across collectives, home clusters drawn independently and so
   possibly shared, drawn once, so a collective has the same members whether
   it acts alone or with the others);
2. every **scenario** (a set of collectives acting together; by default each
   collective alone, then all together) plants its collectives' strategies
   and becomes one training (:func:`rating_collectives.overlay`);
3. all trainings, and one baseline per seed (no collective), run in one
   jitted call (:func:`recommender.train_many`); model b starts from the key
   of its seed, like the baseline it is compared with;
4. per training and acting collective: HR@k of the collective's target set
   over the evaluation users (every user who is not a member of an acting
   collective), the same users' HR@k in the seed's baseline, and their ratio,
   the relative hit ratio (definitions in :mod:`acajax.recommender`).

Target sets are item lists, or ``"niche"``: ``num_targets`` items drawn
(seeded) from a pool among the least-rated 40% of items that are in at least
one top-k list of the first seed's baseline (so HR without action is above
0): the ``4 num_targets`` of them whose share of top-k lists is closest to
their median share (rarely but not never recommended, so that a promoter has
room to act and a demoter something to remove). Several niche sets are
disjoint. Or ``"collective_top"``: each collective's members' ``num_targets``
collectively highest-rated items, per grid cell. The study's protocol
(Karan et al.) is ``membership = "propensity"``, ``seed_clusters = "random"``
or ``"farthest"``, ``clustering = "kmeans"`` or ``"kmedoids"`` and
``"collective_top"`` targets (see :class:`Experiment`).

Specs (``acajax validate SPEC.toml --out DIR``) are TOML files with
``kind = "recommender"`` at the top level (that key is what sends
``acajax validate`` here; see ``examples/recommender_spec.toml``)::

    kind = "recommender"
    name = "promote-demote"
    seeds = [0, 1]
    sizes = [10, 20, 50]            # counts, or fractions of the users
    homogeneity = [0.1, 0.4, 1.0]   # each in (0, 1]
    k = 10
    scenarios = [["promoter"], ["promoter", "demoter"]]   # optional, before any table
    [data]          # source = "synthetic" (generator arguments) or "movielens" (path)
    [model]         # trainer = "adam" (default): rank, steps, learning_rate, reg,
                    #   init_std, batch_size (acajax.recommender.MFConfig);
                    # trainer = "svd": Surprise's SVD (acajax.svd.SVDConfig): n_factors,
                    #   n_epochs, biased, init_mean, init_std_dev, lr_all, reg_all,
                    #   lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi
    membership = "homogeneity"      # or "propensity" (homogeneity values are then p)
    seed_clusters = "independent"   # or "random" | "farthest" (distinct home clusters)
    clustering = "data"             # or "kmeans" | "kmedoids" (on baseline user factors)
    [target_sets]   # NAME = [item ids] | "niche" | "collective_top"
    [[collectives]] # name, archetype ("promoter" | "demoter"), targets (a set name), rating
    [run]           # memory_cap_mb (default 4096): refuse a plan whose memory estimate exceeds it

:func:`load` checks everything before anything is compiled and raises
:class:`SpecError` naming the file, the key and the allowed values; item ids
are the data's own (MovieLens ids; indices for synthetic data).
"""

from __future__ import annotations

import dataclasses
import inspect
import pathlib
import time

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from acajax import clustering as clustering_mod
from acajax import rating_collectives as rc
from acajax import ratings as ratings_mod
from acajax import recommender, svd
from acajax.recommender import MFConfig
from acajax.runs import _io
from acajax.runs import _spec as spec_io
from acajax.runs import figures  # also sets the headless Agg backend
from acajax.runs._spec import SpecError

__all__ = ["CollectiveSpec", "DEFAULT_MEMORY_CAP_MB", "Experiment", "ExperimentResult",
           "RecommenderSpec", "SpecError", "estimated_memory_bytes", "is_recommender_spec", "load",
           "plot", "run", "run_experiment"]

NICHE_QUANTILE = 0.4
NICHE_POOL = 4
DEFAULT_MEMORY_CAP_MB = 4096.0   # run.memory_cap_mb: refuse plans whose estimate exceeds it
MAX_SEED = 2**32 - 1  # jax.random.key keeps 32 bits: larger seeds would repeat smaller ones
RATING_SCALE = (1.0, 5.0)        # the ratings of synthetic data and of MovieLens
MEMBERSHIPS = ("homogeneity", "propensity")
SEED_CLUSTER_RULES = ("independent",) + rc.SEED_CLUSTERS
CLUSTERINGS = ("data", "kmeans", "kmedoids")
COLLECTIVE_TOP = "collective_top"   # a target set: each collective's own top items


@dataclasses.dataclass(frozen=True)
class CollectiveSpec:
  """A collective of an experiment: its archetype, its target set's name, its rating."""
  name: str
  archetype: str
  targets: str
  rating: float | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
  """Everything an experiment grid needs (Python API; specs build one).

  Attributes:
    ratings: the base :class:`acajax.ratings.Ratings`.
    clusters: (U,) each user's cluster.
    collectives: the :class:`CollectiveSpec` s.
    target_sets: name -> item indices (0..I-1), ``"niche"`` or ``"collective_top"``.
    scenarios: tuples of collective names acting together (default: each
      alone, then all together).
    seeds, sizes, homogeneity: the grid (sizes: counts or fractions).
    k: list length of HR@k.
    num_targets: items in a ``"niche"`` or ``"collective_top"`` target set.
    config: the :class:`acajax.recommender.MFConfig` (Adam) or the
      :class:`acajax.svd.SVDConfig` (Surprise's SGD, the study's model) of
      every training. With SVD, model b's ratings are the base ratings it
      keeps, in their order, then its planted ratings (so each member's
      planted ratings come after the member's kept ones in Surprise's
      order), and its ``random_state`` is its seed.
    chunk: models per chunk trained in one call (``"auto"``: the backend's default).
    membership: ``"homogeneity"`` (default: :func:`rating_collectives.select_members`,
      ``round(h n)`` members from home) or ``"propensity"`` (the study's:
      :func:`rating_collectives.select_by_propensity`, each member from home
      with probability p; the ``homogeneity`` values are then the
      propensities p, the expected share from home).
    seed_clusters: the collectives' home clusters: ``"independent"``
      (default: drawn per collective, possibly shared), or distinct ones
      (:func:`rating_collectives.seed_clusters`): ``"random"`` or
      ``"farthest"`` (the pair, or greedy set, whose centres are farthest
      apart), among the clusters with at least as many users as the
      collective has members (so that it can be drawn at p = 1).
    clustering: the clusters members are drawn from: ``"data"`` (default:
      ``clusters``), or the study's, found on the user factors of the first
      seed's baseline (:mod:`acajax.clustering`), with as many clusters as
      ``clusters`` has: ``"kmeans"`` (Euclidean) or ``"kmedoids"`` (cosine).
    centres: (Q, d) centres of the clusters, row j for the j-th smallest
      label, for ``seed_clusters="farthest"`` with ``clustering="data"``
      (default: the clusters' mean user factors in the first seed's baseline).
      With k-means or k-medoids, their centres or medoids are used.
    centre_metric: the distance between ``centres`` (``"euclidean"`` or ``"cosine"``).

  A target set ``"collective_top"`` gives each collective, in each grid
  cell, its members' ``num_targets`` collectively highest-rated items
  (:func:`rating_collectives.collective_top_items`; in the frame under the
  set's name, the items in :attr:`ExperimentResult.cell_targets`).
  """
  ratings: ratings_mod.Ratings
  clusters: np.ndarray
  collectives: tuple[CollectiveSpec, ...]
  target_sets: dict
  scenarios: tuple[tuple[str, ...], ...] | None = None
  seeds: tuple[int, ...] = (0,)
  sizes: tuple[int | float, ...] = (10, 20, 50)
  homogeneity: tuple[float, ...] = (0.1, 0.4, 1.0)
  k: int = 10
  num_targets: int = 5
  config: object = None
  chunk: int | str = "auto"
  membership: str = "homogeneity"
  seed_clusters: str = "independent"
  clustering: str = "data"
  centres: np.ndarray | None = None
  centre_metric: str = "euclidean"

  @property
  def active(self) -> tuple[tuple[str, ...], ...]:
    if self.scenarios is not None:
      return tuple(tuple(s) for s in self.scenarios)
    names = tuple(c.name for c in self.collectives)
    alone = tuple((n,) for n in names)
    return alone + ((names,) if len(names) > 1 else ())


@dataclasses.dataclass
class ExperimentResult:
  """What :func:`run_experiment` returns.

  Attributes:
    frame: tidy table, one row per (seed, size, homogeneity, scenario,
      acting collective): ``hr_with``, ``hr_without``, ``relative_hr``,
      ``members``, ``home``, ``evaluation_users``, ``diverged`` (the
      training or its baseline became non-finite: NaN hit ratios, never scored).
    target_sets: name -> item indices used.
    baseline_hr: name -> (seeds,) HR@k of the set over all users, no action.
    trainings: models trained (baselines included).
    train_s: wall time of the training call (compile included).
    cell_targets: (seed, size, homogeneity, collective) -> item indices of
      each ``"collective_top"`` target set.
    clusters: (U,) the clusters the members were drawn from.
    cell_members: (seed, size, homogeneity, collective) -> the members.
  """
  frame: object
  target_sets: dict
  baseline_hr: dict
  trainings: int
  train_s: float
  cell_targets: dict = dataclasses.field(default_factory=dict)
  clusters: object = None
  cell_members: dict = dataclasses.field(default_factory=dict)


def _scenario_name(names) -> str:
  return " + ".join(names)


def niche_targets(ratings: ratings_mod.Ratings, baseline_hits, count: int,
                  rng: np.random.Generator, exclude=()) -> np.ndarray:
  """``count`` niche items, drawn from the ``4 count`` of the least-rated 40%
  (in at least one list) whose share of lists is closest to their median.

  Args:
    ratings: the base ratings.
    baseline_hits: (I, U) bool, item i in user u's baseline top-k list.
    count: items to draw.
    rng: the generator.
    exclude: items not to draw (other target sets).

  Raises:
    ValueError: fewer than ``count`` candidates.
  """
  per_item = np.bincount(ratings.items, minlength=ratings.num_items)
  share = baseline_hits.mean(axis=1)
  candidates = np.flatnonzero((per_item <= np.quantile(per_item, NICHE_QUANTILE)) & (share > 0))
  candidates = np.setdiff1d(candidates, np.asarray(exclude, int))
  middle = np.median(share[candidates]) if len(candidates) else 0.0
  closest = np.argsort(np.abs(share[candidates] - middle), kind="stable")
  candidates = np.sort(candidates[closest[:NICHE_POOL * count]])
  if len(candidates) < count:
    raise ValueError(f"only {len(candidates)} niche items (least-rated {NICHE_QUANTILE:.0%}, "
                     f"in a baseline top-k list) are left; {count} are needed")
  return np.sort(rng.choice(candidates, count, replace=False))


def _train(base, seeds, config, chunk, weights=None, extras=None, bar=None):
  """Trains one model per seed (with its weights and extra ratings): (params, diverged)."""
  if not isinstance(config, svd.SVDConfig):
    params, losses = recommender.train_many(
        base, seeds, config=config, chunk=chunk, progress=bar,
        base_weights=None if weights is None else np.stack(weights),
        extras=None if extras is None else rc.stack_extras(extras))
    return params, recommender.diverged(params, losses)
  data = []
  for b in range(len(seeds)):
    keep = np.ones(base.num_ratings, bool) if weights is None else weights[b] > 0
    users, items, values = base.users[keep], base.items[keep], base.values[keep]
    if extras is not None:
      users, items, values = (np.concatenate([a, e]) for a, e in
                              zip((users, items, values), extras[b]))
    data.append((users, items, values))
  params = svd.fit_many(data, num_users=base.num_users, num_items=base.num_items,
                        configs=config, random_states=seeds,
                        chunk=32 if chunk == "auto" else int(chunk),
                        progress=None if bar is None else lambda done: bar.update(done - bar.n))
  finite = [np.isfinite(np.asarray(leaf)).reshape(len(seeds), -1).all(axis=1)
            for leaf in jax.tree_util.tree_leaves(params) if np.ndim(leaf) > 1]
  return params, ~np.logical_and.reduce(finite)


def run_experiment(exp: Experiment, *, progress: bool = False) -> ExperimentResult:
  """Runs the grid of an :class:`Experiment` (see the module docstring).

  Raises:
    rating_collectives.CollectiveError: members cannot be drawn (too few
      users in the clusters for a size and homogeneity).
    ValueError: unknown names, or too few niche items.
  """
  config = exp.config or recommender.MFConfig()
  base, clusters = exp.ratings, np.asarray(exp.clusters)
  if clusters.shape != (base.num_users,):
    raise ValueError(f"clusters must have shape ({base.num_users},); got {clusters.shape}")
  by_name = {c.name: c for c in exp.collectives}
  for scenario in exp.active:
    for name in scenario:
      if name not in by_name:
        raise ValueError(f"scenario {list(scenario)} names an unknown collective {name!r}; "
                         f"known: {sorted(by_name)}")
  for c in exp.collectives:
    if c.targets not in exp.target_sets:
      raise ValueError(f"collective {c.name!r} targets an unknown set {c.targets!r}; known: "
                       f"{sorted(exp.target_sets)}")
  for field, allowed in (("membership", MEMBERSHIPS), ("seed_clusters", SEED_CLUSTER_RULES),
                         ("clustering", CLUSTERINGS)):
    if getattr(exp, field) not in allowed:
      raise ValueError(f"{field} must be one of {', '.join(map(repr, allowed))}; got "
                       f"{getattr(exp, field)!r}")
  for size in exp.sizes:
    rc.member_count(size, base.num_users)
  for h in exp.homogeneity:
    (rc.check_propensity if exp.membership == "propensity" else rc.check_homogeneity)(h)
  rated = base.rated()
  dense = base.dense()
  seeds = tuple(exp.seeds)

  # Baselines first: they fix the niche target sets.
  start = time.perf_counter()
  base_params, base_diverged = _train(base, list(seeds), config, exp.chunk)
  target_sets, rng = {}, np.random.default_rng(seeds[0])
  if any(isinstance(v, str) and v != COLLECTIVE_TOP for v in exp.target_sets.values()):
    first = jax.tree.map(lambda v: v[:1], base_params)
    item_hits = recommender.hits_many(first, rated, np.eye(base.num_items, dtype=bool), exp.k)[0]
  for name, items in exp.target_sets.items():
    if isinstance(items, str) and items == COLLECTIVE_TOP:
      continue                      # per grid cell, from the members
    if isinstance(items, str):
      taken = np.concatenate([v for v in target_sets.values()] + [np.zeros(0, int)])
      target_sets[name] = niche_targets(base, item_hits, exp.num_targets, rng, taken)
    else:
      target_sets[name] = np.asarray(items, int)
  set_names = list(target_sets)
  set_items = [target_sets[name] for name in set_names]   # then each cell's own sets
  clusters, centres, metric = _study_clusters(exp, clusters, base_params)

  # Members: per (seed, size, homogeneity), disjoint across collectives.
  jobs, weights, extras, cell_targets = [], [], [], {}
  for seed in seeds:
    for size in exp.sizes:
      for h in exp.homogeneity:
        rng = np.random.default_rng([seed, int(round(1e6 * float(size))),
                                     int(round(1e6 * float(h)))])
        members, homes, taken = {}, {}, np.zeros(0, int)
        seeded = _seed_homes(exp, clusters, centres, metric, rng,
                             rc.member_count(size, base.num_users))
        for j, c in enumerate(exp.collectives):
          home = None if seeded is None else int(seeded[j])
          if exp.membership == "propensity":
            home = int(rng.choice(np.unique(clusters))) if home is None else home
            members[c.name] = rc.select_by_propensity(clusters, size, home, h, rng,
                                                      exclude=taken)
            homes[c.name] = home
          else:
            members[c.name], homes[c.name] = rc.select_members(clusters, size, h, rng,
                                                               home=home, exclude=taken)
          taken = np.concatenate([taken, members[c.name]])
        sets = {}
        for c in exp.collectives:
          if c.targets in target_sets:
            sets[c.name] = set_names.index(c.targets)
          else:                     # "collective_top": this cell's members' top items
            items = rc.collective_top_items(dense, members[c.name], exp.num_targets)
            cell_targets[(seed, size, h, c.name)] = items
            sets[c.name] = len(set_items)
            set_items.append(items)
        for scenario in exp.active:
          acting = [by_name[n] for n in scenario]
          collective_members = [members[c.name] for c in acting]
          planted = rc.plant(dense, [rc.RatingCollective(
              c.archetype, tuple(set_items[sets[c.name]]), rating=c.rating).strategy_fn()
              for c in acting], collective_members)
          w, extra = rc.overlay(base, planted, collective_members)
          weights.append(w)
          extras.append(extra)
          jobs.append(dict(seed=seed, size=size, homogeneity=h, scenario=scenario,
                           members={c.name: members[c.name] for c in acting},
                           homes={c.name: homes[c.name] for c in acting}, sets=sets))
  onehot = np.zeros((len(set_items), base.num_items), bool)
  for s, items in enumerate(set_items):
    onehot[s, items] = True
  with tqdm(desc="trainings", unit="model", disable=not progress) as bar:
    params, trained_diverged = _train(base, [job["seed"] for job in jobs], config, exp.chunk,
                                      weights, extras, bar if progress else None)
  every = jax.tree.map(lambda a, b: jax.numpy.concatenate([a, b]), params, base_params)
  every_hits = recommender.hits_many(every, rated, onehot, exp.k)          # (B + seeds, S, U)
  hits_with, hits_without = every_hits[:len(jobs)], every_hits[len(jobs):]
  train_s = time.perf_counter() - start

  rows = []
  for b, job in enumerate(jobs):
    evaluation = np.ones(base.num_users, bool)
    for m in job["members"].values():
      evaluation[m] = False
    for name in job["scenario"]:
      col = by_name[name]
      s = job["sets"][name]
      hr_with = recommender.hit_ratio(hits_with[b, s], evaluation)
      hr_without = recommender.hit_ratio(hits_without[seeds.index(job["seed"]), s], evaluation)
      # A training (or its seed's baseline) that diverged is reported, never scored.
      diverged = bool(trained_diverged[b] or base_diverged[seeds.index(job["seed"])])
      if diverged:
        hr_with = hr_without = np.nan
      rows.append(dict(
          seed=job["seed"], size=job["size"], homogeneity=job["homogeneity"],
          scenario=_scenario_name(job["scenario"]), alone=len(job["scenario"]) == 1,
          collective=name, archetype=col.archetype, target_set=col.targets,
          members=len(job["members"][name]), home=job["homes"][name],
          evaluation_users=int(evaluation.sum()), hr_with=hr_with, hr_without=hr_without,
          relative_hr=np.nan if diverged else recommender.relative_hit_ratio(hr_with, hr_without),
          diverged=diverged))
  baseline_hr = {name: hits_without[:, s].mean(-1) for s, name in enumerate(set_names)}
  return ExperimentResult(pd.DataFrame(rows), target_sets, baseline_hr,
                          len(jobs) + len(seeds), train_s, cell_targets, clusters,
                          {(job["seed"], job["size"], job["homogeneity"], name): m
                           for job in jobs for name, m in job["members"].items()})


def _study_clusters(exp: Experiment, clusters, base_params):
  """(clusters, centres, metric): the experiment's, or the study's on the first
  baseline's user factors (``exp.clustering``); centres only where needed."""
  if exp.clustering == "data" and exp.seed_clusters != "farthest":
    return clusters, None, None
  vectors = clustering_mod.user_vectors(jax.tree.map(lambda v: v[0], base_params))
  labels = np.unique(clusters)
  if exp.clustering == "kmeans":
    found = clustering_mod.kmeans(vectors, len(labels), seed=exp.seeds[0])
    return found.labels, found.centres, "euclidean"
  if exp.clustering == "kmedoids":
    found = clustering_mod.kmedoids(vectors, len(labels), metric="cosine", seed=exp.seeds[0])
    return found.labels, found.centres, "cosine"
  if exp.centres is not None:
    centres = np.asarray(exp.centres, np.float64)
    if centres.ndim != 2 or len(centres) != len(labels):
      raise ValueError(f"centres must have one row per cluster ({len(labels)}); got shape "
                       f"{centres.shape}")
    return clusters, centres, exp.centre_metric
  return clusters, np.stack([vectors[clusters == c].mean(0) for c in labels]), "euclidean"


def _seed_homes(exp: Experiment, clusters, centres, metric, rng, size: int):
  """The collectives' distinct home clusters, or None (drawn per collective).

  Only clusters with at least ``size`` users can be a seed cluster, so that a
  collective can be drawn at p = 1 (all clusters, when all are that large).
  """
  if exp.seed_clusters == "independent":
    return None
  labels, counts = np.unique(clusters, return_counts=True)
  eligible = np.flatnonzero(counts >= size)
  if len(eligible) < len(exp.collectives):
    raise rc.CollectiveError(
        f"seed_clusters: {len(exp.collectives)} collectives of {size} members need "
        f"{len(exp.collectives)} clusters of at least {size} users; only {len(eligible)} of "
        f"the {len(labels)} clusters are that large (sizes {sorted(counts.tolist())})")
  if exp.seed_clusters == "random":
    return rc.seed_clusters(labels[eligible], len(exp.collectives), how="random", rng=rng)
  rows = rc.seed_clusters(centres[eligible], len(exp.collectives), how="farthest",
                          metric=metric)
  return labels[eligible][rows]


def plot(frame, path, *, title: str | None = None, x_label: str | None = None):
  """Relative hit ratio against homogeneity: one panel per collective (at
  most four a row), one colour per size, solid alone, dashed or dotted with
  the others (mean over seeds, bars: standard error; symmetric-log axis,
  linear below 0.1 so that a fully demoted set, 0, still shows); one legend
  beside the panels; the axis starts at 0 when some point is below 0.1, else
  just below the lowest point. ``x_label`` replaces the homogeneity axis label (the
  propensity p under ``membership = "propensity"``)."""
  names = list(dict.fromkeys(frame["collective"]))
  sizes = list(dict.fromkeys(frame["size"]))
  fig, axes = figures.grid(len(names), panel=(4.2, 3.4), legend=len(names) > 1, sharey=True)
  colours = (plt.rcParams["axes.prop_cycle"].by_key()["color"] if len(sizes) <= 6
             else figures.ordered_colors(len(sizes)))
  styles = ["--", ":", "-."]
  together = list(dict.fromkeys(frame.loc[~frame["alone"], "scenario"]))
  for ax, name in zip(axes, names):
    part = frame[frame["collective"] == name]
    for j, size in enumerate(sizes):
      for scenario, group in part[part["size"] == size].groupby("scenario", sort=False):
        stats = group.groupby("homogeneity")["relative_hr"].agg(["mean", "sem", "count"])
        alone = bool(group["alone"].iloc[0])
        ax.errorbar(stats.index, stats["mean"], yerr=stats["sem"].fillna(0.0),
                    color=colours[j % len(colours)],
                    linestyle="-" if alone else styles[together.index(scenario) % 3],
                    marker="o" if alone else "s", markersize=3, capsize=2)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel(x_label or "homogeneity\n(share of members from one cluster)")
    if ax.get_subplotspec().is_first_col():
      ax.set_ylabel("relative hit ratio HR@k\n(with action / without)")
    verb = "promotes" if part["archetype"].iloc[0] == "promoter" else "demotes"
    ax.set_title(f"{name}: {verb} target set {part['target_set'].iloc[0]}", fontsize=10)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.grid(alpha=0.3)
  # The panels share the axis: it spans every panel's points, from 0 when a
  # point lies below 0.1 (the linear part), else from just below the lowest.
  low = min(ax.dataLim.y0 for ax in axes[:len(names)])
  top = max(ax.dataLim.y1 for ax in axes[:len(names)])
  if np.isfinite(low) and np.isfinite(top) and top > 0:
    axes[0].set_ylim(0.0 if low < 0.1 else 0.8 * low, 1.25 * top)
    if low >= 0.1 and top < 100 * low:     # less than two decades: plain numbered ticks
      axes[0].yaxis.set_major_locator(plt.MaxNLocator(6))
      axes[0].yaxis.set_major_formatter(plt.FormatStrFormatter("%.3g"))
  handles = [plt.Line2D([], [], color=colours[j % len(colours)], lw=6)
             for j in range(len(sizes))]
  labels = [f"$n$ = {size} members" for size in sizes]
  handles.append(plt.Line2D([], [], color="k", linestyle="-", marker="o", markersize=3))
  labels.append("acting alone")
  for k, scenario in enumerate(together):
    handles.append(plt.Line2D([], [], color="k", linestyle=styles[k % 3], marker="s",
                              markersize=3))
    labels.append(f"in {scenario}")
  handles.append(plt.Line2D([], [], color="grey", linewidth=0.8))
  labels.append("no effect (ratio 1)")
  figures.grid_legend(fig, axes, handles, labels)
  if title:
    fig.suptitle(title, fontsize=11)
  fig.tight_layout()
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  _io.save_figure(fig, path, dpi=120)
  plt.close(fig)
  return path


# --- specs ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RecommenderSpec:
  """A recommender experiment read from TOML (see the module docstring)."""
  name: str
  data: dict
  model: dict
  target_sets: dict
  collectives: tuple[CollectiveSpec, ...]
  scenarios: tuple[tuple[str, ...], ...] | None
  seeds: tuple[int, ...]
  sizes: tuple
  homogeneity: tuple[float, ...]
  k: int
  num_targets: int
  source: str
  memory_cap_mb: float = DEFAULT_MEMORY_CAP_MB
  membership: str = "homogeneity"
  seed_clusters: str = "independent"
  clustering: str = "data"


_TOP = {"kind", "name", "seeds", "sizes", "homogeneity", "k", "num_targets", "data", "model",
        "target_sets", "collectives", "scenarios", "run", "membership", "seed_clusters",
        "clustering"}
_SYNTHETIC = {"num_users", "num_items", "num_clusters", "rank", "ratings_per_user", "zipf",
              "cluster_spread", "noise", "seed"}
_MOVIELENS = {"path", "num_clusters", "seed"}
_MODEL = {"rank", "steps", "learning_rate", "reg", "init_std", "batch_size"}
_SVD_MODEL = {f.name for f in dataclasses.fields(svd.SVDConfig)}
_COLLECTIVE = {"name", "archetype", "targets", "rating"}
_RUN = {"memory_cap_mb"}
# Typed ranges of the [data] keys of synthetic data (acajax.ratings.synthetic) and of
# [model] (acajax.recommender.MFConfig): (integer?, low, low_open).
_SYNTHETIC_RANGES = {"num_users": (True, 1, False), "num_items": (True, 1, False),
                     "num_clusters": (True, 1, False), "rank": (True, 1, False),
                     "ratings_per_user": (True, 1, False), "zipf": (False, 0.0, False),
                     "cluster_spread": (False, 0.0, False), "noise": (False, 0.0, False),
                     "seed": (True, 0, False)}
_MODEL_RANGES = {"rank": (True, 1, False), "steps": (True, 1, False),
                 "learning_rate": (False, 0.0, True), "reg": (False, 0.0, False),
                 "init_std": (False, 0.0, True), "batch_size": (True, 1, False)}
_SVD_RANGES = {"n_factors": (True, 1, False), "n_epochs": (True, 0, False),
               "init_std_dev": (False, 0.0, False),
               **{name: (False, 0.0, False) for name in _SVD_MODEL
                  if name.startswith(("lr_", "reg_"))}}


def is_recommender_spec(path) -> bool:
  """Whether a TOML file says ``kind = "recommender"`` (False if unreadable)."""
  return spec_io.read_kind(path) == "recommender"


def _fail(src, key, message):
  raise spec_io.fail(src, key, message)


def _keys(src, section, table, allowed):
  spec_io.check_keys(src, section, spec_io.table(src, section, table), allowed)


def _int_list(src, key, value, low=None):
  if not isinstance(value, list) or not value or not all(
      isinstance(v, int) and not isinstance(v, bool) for v in value):
    _fail(src, key, f"must be a non-empty list of integers; got {value!r}")
  if low is not None and min(value) < low:
    _fail(src, key, f"values must be >= {low}; got {value!r}")
  return tuple(value)


def _typed(src, section, values, ranges):
  """Checks ``values`` (a table) against ``ranges``; returns the checked values."""
  out = {}
  for key, value in values.items():
    integral, low, low_open = ranges[key]
    name = f"{section}.{key}"
    out[key] = (spec_io.integer(src, name, value, low=low) if integral else
                spec_io.number(src, name, value, low=low, low_open=low_open))
  return out


def load(path) -> RecommenderSpec:
  """Reads and checks a recommender spec (before any compilation).

  Every value is checked for its type and range (no NaN or infinity, model
  hyperparameters as :class:`acajax.recommender.MFConfig` needs them,
  synthetic data as :func:`acajax.ratings.synthetic` needs it); on synthetic
  data, whose sizes are in the spec, also ``k`` and ``num_targets`` against
  the items, the collectives' sizes against the users and the estimated
  memory (:func:`estimated_memory_bytes`) against ``run.memory_cap_mb``.
  MovieLens data are checked the same way once read, and target item ids
  against the data's ids, by :func:`run` before anything is trained.

  Raises:
    SpecError: unreadable TOML, unknown keys, bad values; the message names
      the file and the key, with the allowed values.

  Examples:
    >>> import pathlib, tempfile
    >>> from acajax.runs import recommender as rec_experiment
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "spec.toml"
    >>> _ = path.write_text('kind = "recommender"\\nhomogeneity = [0.5, 1.0]\\n'
    ...     '[target_sets]\\nA = "niche"\\n'
    ...     '[[collectives]]\\nname = "p"\\narchetype = "promoter"\\ntargets = "A"\\n')
    >>> spec = rec_experiment.load(path)
    >>> rec_experiment.is_recommender_spec(path), spec.sizes, spec.homogeneity
    (True, (10, 20, 50), (0.5, 1.0))
    >>> _ = path.write_text(path.read_text().replace("0.5, 1.0", "0.0, 1.0"))
    >>> rec_experiment.load(path)
    Traceback (most recent call last):
    ...
    acajax.runs._spec.SpecError: ...spec.toml: homogeneity: values must lie in (0, 1] (share of members from one cluster); got 0.0
  """
  path = pathlib.Path(path)
  src = str(path)
  raw = spec_io.read_toml(path, "recommender spec")
  _keys(src, "", raw, _TOP)
  if raw.get("kind") != "recommender":
    _fail(src, "kind", f"must be \"recommender\"; got {raw.get('kind')!r}")
  name = spec_io.text(src, "name", raw.get("name", path.stem))
  seeds = spec_io.integers(src, "seeds", raw.get("seeds", [0]), low=0, high=MAX_SEED)
  sizes = raw.get("sizes", [10, 20, 50])
  if not isinstance(sizes, list) or not sizes:
    _fail(src, "sizes", f"must be a non-empty list; got {sizes!r}")
  for size in sizes:
    try:
      rc.check_size(size)
    except rc.CollectiveError as err:
      _fail(src, "sizes", str(err))
  homogeneity = raw.get("homogeneity", [0.1, 0.4, 1.0])
  if not isinstance(homogeneity, list) or not homogeneity:
    _fail(src, "homogeneity", f"must be a non-empty list; got {homogeneity!r}")
  for h in homogeneity:
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0.0 < h <= 1.0:
      _fail(src, "homogeneity", f"values must lie in (0, 1] (share of members from one "
            f"cluster); got {h!r}")
  k = raw.get("k", 10)
  num_targets = raw.get("num_targets", 5)
  for key, value in (("k", k), ("num_targets", num_targets)):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
      _fail(src, key, f"must be a positive integer; got {value!r}")
  protocol = {key: spec_io.one_of(src, key, raw.get(key, allowed[0]), allowed)
              for key, allowed in (("membership", MEMBERSHIPS),
                                   ("seed_clusters", SEED_CLUSTER_RULES),
                                   ("clustering", CLUSTERINGS))}
  run_table = spec_io.table(src, "run", raw.get("run", {}))
  spec_io.check_keys(src, "run", run_table, _RUN)
  memory_cap_mb = spec_io.number(src, "run.memory_cap_mb",
                                 run_table.get("memory_cap_mb", DEFAULT_MEMORY_CAP_MB),
                                 low=0.0, low_open=True)

  data = dict(spec_io.table(src, "data", raw.get("data", {"source": "synthetic"})))
  source = data.pop("source", "synthetic")
  if source == "synthetic":
    _keys(src, "data", data, _SYNTHETIC)
    data = _typed(src, "data", data, _SYNTHETIC_RANGES)
    _check_synthetic(src, data)
  elif source == "movielens":
    _keys(src, "data", data, _MOVIELENS)
    if "path" not in data:
      _fail(src, "data.path", "missing: the u.data file (tab-separated user id, item id, "
            "rating, timestamp)")
    data["path"] = str((path.parent / spec_io.text(src, "data.path", data["path"])).resolve())
    if not pathlib.Path(data["path"]).is_file():
      _fail(src, "data.path", f"no such file: {data['path']}")
    data.update(_typed(src, "data", {key: data[key] for key in ("num_clusters", "seed")
                                     if key in data}, _SYNTHETIC_RANGES))
  else:
    _fail(src, "data.source", f"must be \"synthetic\" or \"movielens\"; got {source!r}")
  data["source"] = source
  model = dict(spec_io.table(src, "model", raw.get("model", {})))
  trainer = model.pop("trainer", "adam")
  if trainer not in ("adam", "svd"):
    _fail(src, "model.trainer", f"must be \"adam\" (MF trained to convergence) or \"svd\" "
          f"(Surprise's SVD, the study's model); got {trainer!r}")
  _keys(src, "model", model, _MODEL if trainer == "adam" else _SVD_MODEL)
  for key in ("biased",):
    if key in model and not isinstance(model[key], bool):
      _fail(src, f"model.{key}", f"must be true or false; got {model[key]!r}")
  if "init_mean" in model:
    model["init_mean"] = spec_io.number(src, "model.init_mean", model["init_mean"])
  ranges = _MODEL_RANGES if trainer == "adam" else _SVD_RANGES
  model.update(_typed(src, "model", {key: model[key] for key in model if key in ranges}, ranges))
  try:
    (MFConfig if trainer == "adam" else svd.SVDConfig)(**model)
  except (TypeError, ValueError) as err:
    _fail(src, "model", str(err))
  if trainer == "svd":         # the default (adam) stays implicit in the checked spec
    model["trainer"] = trainer

  target_sets = raw.get("target_sets", {})
  _keys(src, "target_sets", target_sets, set(target_sets))
  for set_name, items in target_sets.items():
    if items not in ("niche", COLLECTIVE_TOP):
      _int_list(src, f"target_sets.{set_name}", items)
  collectives = []
  entries = raw.get("collectives", [])
  if not isinstance(entries, list) or not entries:
    _fail(src, "collectives", "must list at least one [[collectives]] table")
  for c, entry in enumerate(entries):
    _keys(src, f"collectives[{c}]", entry, _COLLECTIVE)
    for key in ("name", "archetype", "targets"):
      if key not in entry:
        _fail(src, f"collectives[{c}].{key}", "missing")
    spec_io.text(src, f"collectives[{c}].name", entry["name"])
    if entry["archetype"] not in rc.ARCHETYPES:
      _fail(src, f"collectives[{c}].archetype", f"must be one of "
            f"{', '.join(map(repr, rc.ARCHETYPES))}; got {entry['archetype']!r}")
    if not isinstance(entry["targets"], str) or entry["targets"] not in target_sets:
      _fail(src, f"collectives[{c}].targets", f"must name a set of [target_sets] "
            f"({', '.join(sorted(target_sets)) or 'none defined'}); got {entry['targets']!r}")
    if "rating" in entry:
      spec_io.number(src, f"collectives[{c}].rating", entry["rating"], low=RATING_SCALE[0],
                     high=RATING_SCALE[1])
    collectives.append(CollectiveSpec(**entry))
  names = [c.name for c in collectives]
  if len(set(names)) != len(names):
    _fail(src, "collectives", f"names must be distinct; got {names}")
  scenarios = raw.get("scenarios")
  if scenarios is not None:
    if not isinstance(scenarios, list) or not scenarios:
      _fail(src, "scenarios", "must be a non-empty list of lists of collective names")
    for s, scenario in enumerate(scenarios):
      if not isinstance(scenario, list) or not scenario or any(n not in names for n in scenario):
        _fail(src, f"scenarios[{s}]", f"must be a non-empty list of collective names "
              f"({', '.join(names)}); got {scenario!r}")
    scenarios = tuple(tuple(s) for s in scenarios)
  spec = RecommenderSpec(name=name, data=data, model=model, target_sets=target_sets,
                         collectives=tuple(collectives), scenarios=scenarios, seeds=seeds,
                         sizes=tuple(sizes), homogeneity=tuple(float(h) for h in homogeneity),
                         k=k, num_targets=num_targets, source=src, memory_cap_mb=memory_cap_mb,
                         **protocol)
  if source == "synthetic":
    num_users, num_items = _synthetic_shape(data)
    _check_shape(spec, num_users, num_items, num_users * data.get("ratings_per_user", 40))
  return spec


def _synthetic_shape(data) -> tuple[int, int]:
  """(U, I) of synthetic data (the defaults of :func:`acajax.ratings.synthetic`)."""
  defaults = inspect.signature(ratings_mod.synthetic).parameters
  return tuple(data.get(key, defaults[key].default) for key in ("num_users", "num_items"))


def _check_synthetic(src: str, data) -> None:
  """What :func:`acajax.ratings.synthetic` needs beyond each key's own range."""
  defaults = inspect.signature(ratings_mod.synthetic).parameters
  value = {key: data.get(key, defaults[key].default) for key in _SYNTHETIC}
  if value["ratings_per_user"] > value["num_items"]:
    _fail(src, "data.ratings_per_user", f"must be at most data.num_items = "
          f"{value['num_items']}; got {value['ratings_per_user']}")
  if value["num_clusters"] > value["num_users"]:
    _fail(src, "data.num_clusters", f"must be at most data.num_users = {value['num_users']}; "
          f"got {value['num_clusters']}")


def _num_trainings(spec: RecommenderSpec) -> int:
  scenarios = (len(spec.scenarios) if spec.scenarios is not None else
               len(spec.collectives) + (len(spec.collectives) > 1))
  return len(spec.seeds) * (len(spec.sizes) * len(spec.homogeneity) * scenarios + 1)


def estimated_memory_bytes(spec: RecommenderSpec, num_users: int, num_items: int,
                           num_ratings: int) -> int:
  """Estimated peak memory of :func:`run` on data of U users, I items, n ratings (bytes).

  The run holds (U, I) matrices on the host (the dense ratings, which items
  are rated; synthetic data are drawn through four more), the rating
  weights of every training (trainings x n), every model's parameters
  (trainings x (U + I) x (rank + 1)), and trains on (U, I) cell sums and
  gradients (about 40 bytes a cell for each model trained at once, at least
  one; accelerators train chunks of models).
  """
  cells = num_users * num_items
  trainings = _num_trainings(spec)
  rank = _model_config(spec.model)
  rank = rank.rank if isinstance(rank, MFConfig) else rank.n_factors
  host = cells * (5 + (32 if spec.data.get("source") == "synthetic" else 0))
  host += num_items * num_items + trainings * len(spec.target_sets) * num_users
  host += trainings * (num_ratings * 8 + (num_users + num_items) * (rank + 1) * 4)
  device = cells * 40
  return int(host + device)


def _check_shape(spec: RecommenderSpec, num_users: int, num_items: int,
                 num_ratings: int) -> None:
  """``k``, ``num_targets``, sizes and memory against the data's U users and I items."""
  src = spec.source
  if spec.k > num_items:
    _fail(src, "k", f"must be at most the number of items, {num_items} (a top-k list of more "
          f"items than there are); got {spec.k}")
  niche = sum(items == "niche" for items in spec.target_sets.values())
  if niche and spec.num_targets * niche > num_items:
    _fail(src, "num_targets", f"{niche} niche set(s) of {spec.num_targets} items need "
          f"{spec.num_targets * niche} distinct items; the data have {num_items}")
  for size in spec.sizes:
    try:
      count = rc.member_count(size, num_users)
    except rc.CollectiveError as err:
      _fail(src, "sizes", str(err))
    if count * len(spec.collectives) > num_users:
      _fail(src, "sizes", f"size {size} gives each of the {len(spec.collectives)} collectives "
            f"{count} members, {count * len(spec.collectives)} in all (members are disjoint); "
            f"the data have {num_users} users")
  need = estimated_memory_bytes(spec, num_users, num_items, num_ratings)
  spec_io.check_memory(src, "data", need, spec.memory_cap_mb, what=(
      f"{num_users:,} users x {num_items:,} items as dense matrices, and "
      f"{_num_trainings(spec):,} trainings"), lower="use fewer users or items, or fewer seeds, "
      "sizes, homogeneity levels or scenarios")


def _experiment(spec: RecommenderSpec) -> Experiment:
  data = dict(spec.data)
  source = data.pop("source")
  num_clusters = data.pop("num_clusters", 10)
  try:
    if source == "synthetic":
      generated = ratings_mod.synthetic(num_clusters=num_clusters, **data)
      base, clusters = generated.ratings, generated.clusters
    else:
      base = ratings_mod.load_movielens(data["path"])
      clusters = ratings_mod.cluster_users(base, num_clusters, seed=data.get("seed", 0))
  except ratings_mod.RatingsError as err:
    raise SpecError(f"{spec.source}: data: {err}") from None
  _check_shape(spec, base.num_users, base.num_items, base.num_ratings)
  target_sets = {}
  for name, items in spec.target_sets.items():
    if items in ("niche", COLLECTIVE_TOP):
      target_sets[name] = items
      continue
    try:
      target_sets[name] = base.item_index(items)
    except ratings_mod.RatingsError as err:
      raise SpecError(f"{spec.source}: target_sets.{name}: {err}") from None
  return Experiment(ratings=base, clusters=clusters, collectives=spec.collectives,
                    target_sets=target_sets, scenarios=spec.scenarios, seeds=spec.seeds,
                    sizes=spec.sizes, homogeneity=spec.homogeneity, k=spec.k,
                    num_targets=spec.num_targets, config=_model_config(spec.model),
                    membership=spec.membership, seed_clusters=spec.seed_clusters,
                    clustering=spec.clustering)


def _model_config(model: dict):
  """The spec's ``[model]`` as an :class:`MFConfig` or an :class:`acajax.svd.SVDConfig`."""
  fields = {key: value for key, value in model.items() if key != "trainer"}
  return svd.SVDConfig(**fields) if model.get("trainer") == "svd" else MFConfig(**fields)


def run(spec: RecommenderSpec, out_dir=None, *, progress: bool = False) -> ExperimentResult:
  """Runs a spec; writes ``results.csv`` and ``relative_hr_vs_homogeneity.png``.

  Raises:
    SpecError: the data cannot be read, item ids unknown to the data, or
      collectives that cannot be drawn from the clusters.
  """
  exp = _experiment(spec)
  try:
    result = run_experiment(exp, progress=progress)
  except (rc.CollectiveError, ValueError) as err:
    raise SpecError(f"{spec.source}: {err}") from None
  if out_dir is not None:
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = result.frame.copy()
    frame["target_items"] = [" ".join(str(exp.ratings.item_ids[i]) for i in (
        result.target_sets[row.target_set] if row.target_set in result.target_sets else
        result.cell_targets[(row.seed, row.size, row.homogeneity, row.collective)]))
        for row in frame.itertuples()]
    _io.write_csv(frame, out / "results.csv")
    plot(result.frame, out / "relative_hr_vs_homogeneity.png", title=spec.name,
         x_label="propensity p\n(chance a member is from the seed cluster)"
         if spec.membership == "propensity" else None)
  return result
