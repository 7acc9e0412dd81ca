"""One planter against one eraser: exact success, bounds and a learner over both masses.

A finite table with a rare *marker*: 8 base points with 3 labels, each with
a marked copy that carries 5% of its mass (points 8-15). The transformation
g adds the marker (x -> its marked copy; marked points stay, so g is
idempotent). Label 2 is never the base label.

* The **planter** (feature-label, target 2) marks its members' points and
  labels them 2: it wants f(g(x)) = 2.
* The **eraser** wants the classifier to ignore the marker, f(g(x)) = f(x):
  half its members mark their points, and all label them with the base label
  of the marked point (acajax.objectives.erasing_strategy).

For every pair of masses on a grid the script computes, in one vmapped call
each, the exact worst-case success of both over every eps-suboptimal
classifier (acajax.objectives), their closed-form lower bounds (Theorem 1
for the planter with the eraser as misaligned mass, bounds.erasing for the
eraser) and the planter's ceiling against the eraser (an upper bound on its
best case); then the critical masses (the eraser mass that holds the planter
at or below 50%, the planter mass that reaches 90% despite the eraser),
closed form beside exact; then a learner: one logistic regression per mass
pair on 20,000 points drawn from the mixture, all trained in one vmapped
call, its measured success beside the exact success at eps = 0.

Run it::

  .venv/bin/python examples/planter_vs_eraser.py [--out DIR] [--quick]

Writes ``grid.csv``, ``finite_table.png``, ``critical_masses.png``,
``learner.png``, ``summary.json`` and ``meta.json`` into the output folder.
"""

from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from acajax import bounds, learners, objectives, optimize  # noqa: E402
from acajax.runs import _script  # noqa: E402

NAME = "planter_vs_eraser"
DEFAULT_OUT = "planter-vs-eraser"

EPS = 0.02
MARKED = 0.05           # share of each base point's mass on its marked copy
TRANSFORM = 0.5         # the eraser's share of members who mark their point
BASE = np.array([[.70, .20, .10], [.20, .70, .10], [.60, .30, .10], [.30, .60, .10],
                 [.80, .15, .05], [.15, .80, .05], [.50, .40, .10], [.40, .50, .10]])
P0 = np.concatenate([(1 - MARKED) * BASE, MARKED * BASE]) / len(BASE)     # (16, 3)
SIGNAL = np.concatenate([np.arange(8), np.arange(8)]) + 8                 # x -> marked copy
MAPS = np.stack([SIGNAL, SIGNAL]).astype(np.int32)
TARGETS = np.array([2, 0], np.int32)      # the planter's label; the eraser's is ignored
ROLES = ("plant", "erase")
SEED = 0
SAMPLES = 20_000


def _analysis(masses, eps):
  """Exact worst and best case, bounds and ceiling at one pair of masses."""
  kw = dict(eps=eps, transform=TRANSFORM)
  worst = objectives.worst_case_success(P0, MAPS, TARGETS, masses, ROLES, **kw)
  best = objectives.best_case_success(P0, MAPS, TARGETS, masses, ROLES, **kw)
  par = objectives.parameters(P0, MAPS, TARGETS, masses, ROLES, transform=TRANSFORM)
  total = jnp.sum(masses)
  planter = bounds.feature_label(masses[0], alpha_total=total, beta=par.beta[0],
                                 xi_c=par.xi_c[0], xi=par.xi[0], delta=par.delta[0], eps=eps)
  eraser = bounds.erasing(masses[1], alpha_total=total, xi_c=par.xi_c[1], xi=par.xi[1],
                          delta=par.delta[1], eps=eps, transform=TRANSFORM)
  ceiling = bounds.planter_ceiling(masses[1], alpha_total=total, xi_c=par.xi_c[0],
                                   competition=masses[0] * par.overlap[0, 0], eps=eps,
                                   transform=TRANSFORM)
  return dict(planter_exact=worst[0], eraser_exact=worst[1], planter_best=best[0],
              eraser_best=best[1], planter_bound=planter, eraser_bound=eraser,
              planter_ceiling=ceiling)


def _learner(pairs, seed):
  """Success of a logistic regression trained on SAMPLES draws of each pair's mixture."""
  rng = np.random.default_rng(seed)
  joints = jax.vmap(lambda m: objectives.mixture(P0, MAPS, TARGETS, m, ROLES,
                                                 transform=TRANSFORM))(jnp.asarray(pairs))
  cells = np.asarray(joints).reshape(len(pairs), -1)
  counts = np.stack([rng.multinomial(SAMPLES, c / c.sum()) for c in cells])
  n, k = P0.shape
  x = np.repeat(np.eye(n, dtype=np.float32), k, axis=0)                 # one row per (x, y)
  y = np.tile(np.arange(k), n)
  x, y = np.broadcast_to(x, (len(pairs),) + x.shape), np.broadcast_to(y, (len(pairs), n * k))
  keys = jax.random.split(jax.random.key(seed), len(pairs))
  trained = learners.train_many("logistic", x, y, keys, num_labels=k,
                                weights=(counts / SAMPLES).astype(np.float32),
                                config=learners.TrainConfig(steps=400, learning_rate=0.5,
                                                            l2=0.0))
  f = learners.predict_many(trained, np.broadcast_to(np.eye(n, dtype=np.float32),
                                                     (len(pairs), n, n)))  # (B, n)
  weight = P0.sum(axis=1)
  planter = (f[:, SIGNAL] == TARGETS[0]) @ weight
  eraser = (f[:, SIGNAL] == f) @ weight
  return planter, eraser


def _heatmaps(out, grids, panels, title, path):
  fig, axes = plt.subplots(2, 2, figsize=(9, 7.2), sharex=True, sharey=True,
                           constrained_layout=True)
  planter_grid, eraser_grid = grids
  for ax, (key, label) in zip(axes.ravel(), panels):
    image = ax.pcolormesh(planter_grid, eraser_grid, out[key], vmin=0, vmax=1,
                          cmap="viridis", shading="nearest")
    ax.set_title(label, fontsize=9)
  for ax in axes[1]:
    ax.set_xlabel(r"planter mass $\alpha_p$")
  for ax in axes[:, 0]:
    ax.set_ylabel(r"eraser mass $\alpha_e$")
  fig.colorbar(image, ax=axes, shrink=0.8, label="success")
  fig.suptitle(title, fontsize=10)
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Computes the grids, the critical masses and the learner's success; saves the figures.

  Args:
    out_dir: output folder.
    quick: a 6 x 6 grid and 2 x 2 learners (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the ``grid`` (a DataFrame), ``summary`` and the ``paths`` written.
  """
  jax.config.update("jax_enable_x64", True)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  size, learner_size = (6, 2) if quick else (41, 8)
  planter_axis = np.linspace(0.002, 0.12, size)
  eraser_axis = np.linspace(0.002, 0.4, size)
  mesh = np.stack(np.meshgrid(planter_axis, eraser_axis), axis=-1)   # [eraser, planter, 2]
  pairs = mesh.reshape(-1, 2)
  out = jax.jit(jax.vmap(lambda m: _analysis(m, EPS)))(jnp.asarray(pairs))
  out = {key: np.asarray(value).reshape(mesh.shape[:2]) for key, value in out.items()}
  frame = pd.DataFrame({"alpha_planter": pairs[:, 0], "alpha_eraser": pairs[:, 1],
                        **{key: value.reshape(-1) for key, value in out.items()}})

  # Soundness on the grid: bound <= exact worst case, ceiling >= exact best case.
  checks = dict(
      planter_bound_over_exact=int((out["planter_bound"] > out["planter_exact"] + 1e-9).sum()),
      eraser_bound_over_exact=int((out["eraser_bound"] > out["eraser_exact"] + 1e-9).sum()),
      ceiling_under_best=int((out["planter_ceiling"] < out["planter_best"] - 1e-9).sum()))

  # Critical masses: closed form beside exact.
  par = objectives.parameters(P0, MAPS, TARGETS, np.array([.05, .1]), ROLES,
                              transform=TRANSFORM)
  xi_c, overlap = float(par.xi_c[0]), float(par.overlap[1, 0])
  eraser_closed = bounds.critical_eraser_mass(0.5, alpha_others=planter_axis, xi_c=xi_c,
                                              competition=planter_axis, eps=EPS,
                                              transform=TRANSFORM)
  eraser_exact = jax.vmap(lambda a: optimize.exact_eraser_mass(
      0.5, P0, MAPS, TARGETS, jnp.stack([a, 0.]), ROLES, eraser=1, planter=0, eps=EPS,
      transform=TRANSFORM))(jnp.asarray(planter_axis))
  planter_closed = bounds.critical_mass(0.9, strategy="feature_label", alpha_others=eraser_axis,
                                        beta=0., xi_c=xi_c, xi=overlap,
                                        delta=float(par.delta[0]), eps=EPS)
  planter_exact = jax.vmap(lambda a: optimize.exact_mixed_critical_mass(
      0.9, P0, MAPS, TARGETS, jnp.stack([0., a]), ROLES, collective=0, eps=EPS,
      transform=TRANSFORM))(jnp.asarray(eraser_axis))

  # The learner, on a coarser grid, beside the exact success at eps = 0.
  learner_pairs = np.stack(np.meshgrid(np.linspace(0.01, 0.12, learner_size),
                                       np.linspace(0.01, 0.4, learner_size)),
                           axis=-1).reshape(-1, 2)
  learned_planter, learned_eraser = _learner(learner_pairs, SEED)
  bayes = jax.vmap(lambda m: _analysis(m, 0.0))(jnp.asarray(learner_pairs))
  shape = (learner_size, learner_size)
  learner_out = dict(planter_learner=learned_planter.reshape(shape),
                     eraser_learner=learned_eraser.reshape(shape),
                     planter_bayes=np.asarray(bayes["planter_exact"]).reshape(shape),
                     eraser_bayes=np.asarray(bayes["eraser_exact"]).reshape(shape),
                     planter_bayes_best=np.asarray(bayes["planter_best"]).reshape(shape),
                     eraser_bayes_best=np.asarray(bayes["eraser_best"]).reshape(shape))
  inside = dict(
      planter=float(np.mean((learner_out["planter_learner"] >= learner_out["planter_bayes"]
                             - 1e-9) & (learner_out["planter_learner"]
                                        <= learner_out["planter_bayes_best"] + 1e-9))),
      eraser=float(np.mean((learner_out["eraser_learner"] >= learner_out["eraser_bayes"] - 1e-9)
                           & (learner_out["eraser_learner"]
                              <= learner_out["eraser_bayes_best"] + 1e-9))))

  grid_path = out_dir / "grid.csv"
  frame.to_csv(grid_path, index=False)
  table_png = out_dir / "finite_table.png"
  _heatmaps(out, (planter_axis, eraser_axis),
            [("planter_exact", "planter: exact worst case"),
             ("planter_bound", "planter: Theorem 1, eraser as misaligned mass"),
             ("eraser_exact", "eraser: exact worst case"),
             ("eraser_bound", "eraser: bounds.erasing")],
            rf"One planter against one eraser on a finite table ($\varepsilon$ = {EPS:g}, "
            f"q = {TRANSFORM:g})", table_png)

  critical_png = out_dir / "critical_masses.png"
  fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
  panels = [(left, planter_axis, eraser_exact, eraser_closed, "exact (best case <= 50%)",
             "ceiling", r"planter mass $\alpha_p$", r"eraser mass $\alpha_e^*$",
             "Eraser mass that holds the planter at or below 50%"),
            (right, eraser_axis, planter_exact, planter_closed, "exact (worst case >= 90%)",
             "Theorem 1", r"eraser mass $\alpha_e$", r"planter mass $\alpha_p^*$",
             "Planter mass that reaches 90% despite the eraser")]
  for ax, x, exact, closed, exact_label, form, x_label, y_label, title in panels:
    ax.plot(x, exact, color="black", lw=2, label=exact_label)
    ax.plot(x, closed, ls="--", label=f"closed form ({form}); absent: no mass below 1 - others")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.set_ylim(bottom=0)
  fig.savefig(critical_png, dpi=120)
  plt.close(fig)

  learner_png = out_dir / "learner.png"
  axes_learner = (np.linspace(0.01, 0.12, learner_size), np.linspace(0.01, 0.4, learner_size))
  _heatmaps(learner_out, axes_learner,
            [("planter_learner", "planter: logistic regression (measured)"),
             ("planter_bayes", "planter: exact, eps = 0"),
             ("eraser_learner", "eraser: logistic regression (measured)"),
             ("eraser_bayes", "eraser: exact, eps = 0")],
            f"A learner trained on {SAMPLES:,} draws of each mixture", learner_png)

  summary = dict(eps=EPS, transform=TRANSFORM, grid=size, soundness_on_grid=checks,
                 learner_within_exact_bracket_at_eps0=inside,
                 eraser_mass_for_planter_at_most_half=dict(
                     planter_mass=planter_axis.tolist(), exact=np.asarray(eraser_exact).tolist(),
                     closed_form=np.asarray(eraser_closed).tolist()),
                 planter_mass_for_90_percent=dict(
                     eraser_mass=eraser_axis.tolist(), exact=np.asarray(planter_exact).tolist(),
                     closed_form=np.asarray(planter_closed).tolist()))
  summary_path = out_dir / "summary.json"
  summary_path.write_text(json.dumps(summary, indent=1))
  print(f"bound above exact on the grid: planter {checks['planter_bound_over_exact']}, "
        f"eraser {checks['eraser_bound_over_exact']}; ceiling below the best case: "
        f"{checks['ceiling_under_best']} (of {size * size} pairs)")
  i = size // 2
  print(f"at alpha_p = {planter_axis[i]:.3f}: the eraser needs {float(eraser_exact[i]):.3f} "
        f"(exact) or {float(eraser_closed[i]):.3f} (closed form) to hold the planter at 50%")
  print(f"learner inside the exact [worst, best] bracket at eps = 0: planter "
        f"{inside['planter']:.0%}, eraser {inside['eraser']:.0%} of the mass pairs")
  meta = _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                            seeds=dict(learner=SEED), argv=argv)
  paths = [grid_path, table_png, critical_png, learner_png, summary_path]
  print(f"wrote {', '.join(str(p) for p in paths)} and {meta}")
  return dict(grid=frame, summary=summary, paths=paths)


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
