"""The main job of the README: a small report on a two-collective scenario.

``acajax demo --out DIR`` writes, into DIR:

* ``bounds.csv`` and ``report.md``: each collective's Theorem 1 and
  Theorem 2 bounds (SPEC §4–§5), the S_min and S_w corollaries (§7), and its
  critical mass for the target success (§8), others held fixed;
* ``bounds_vs_mass.png``: each collective's bound against its own mass, with
  the critical mass marked;
* ``sweep/`` and ``sweep_s_min.png``: a small alignment sweep
  (:mod:`acajax.sweep`) of the same two collectives — the S_min bound over
  the aligned mass beta and the signal overlap xi, as a heatmap;
* ``meta.json``: the run's kind (``"demo"``), versions and command line.

The folder is checked before any computation
(:func:`acajax.runs._io.prepare_output`: a folder holding another run's
results is refused unless ``force``) and locked while the demo writes; every
file is written atomically (:mod:`acajax.runs._io`).
"""

from __future__ import annotations

import datetime
import pathlib
import platform
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from acajax import bounds, sweep
from acajax._version import __version__
from acajax.runs import _io
from acajax.runs import figures as plots

__all__ = ["DemoScenario", "main"]

# The files the demo writes into its folder (the sweep goes into ``sweep/``).
FILES = ("bounds.csv", "report.md", "bounds_vs_mass.png", "sweep_s_min.png", _io.RUN_FILE)


class DemoScenario(NamedTuple):
  """Two collectives with opposed targets whose signals partly overlap."""
  alpha: tuple = (0.06, 0.04)
  targets: tuple = (1, 2)
  xi_c: tuple = (0.02, 0.03)
  xi: float = 0.05
  delta: tuple = (0.5, 0.6)
  p: tuple = (0.3, 0.35)
  eps: float = 0.05
  target_success: float = 0.9


def _table(s: DemoScenario) -> pd.DataFrame:
  alpha, targets = jnp.asarray(s.alpha), jnp.asarray(s.targets)
  xi_c, delta, p = jnp.asarray(s.xi_c), jnp.asarray(s.delta), jnp.asarray(s.p)
  common = dict(xi_c=xi_c, xi=s.xi, eps=s.eps)
  fl = bounds.scenario_bounds(alpha, targets, delta=delta, **common)
  fo = bounds.scenario_bounds(alpha, targets, p=p, strategy="feature_only", **common)
  fo_pub = bounds.scenario_bounds(alpha, targets, p=p, strategy="feature_only",
                                  variant="published", **common)
  others = jnp.sum(alpha) - alpha
  beta = jnp.array([sum(a for j, (a, t) in enumerate(zip(s.alpha, s.targets))
                        if j != c and t == s.targets[c]) for c in range(len(s.alpha))])
  crit = dict(alpha_others=others, beta=beta, **common)
  cm_fl = bounds.critical_mass(s.target_success, strategy="feature_label", delta=delta, **crit)
  cm_fo = bounds.critical_mass(s.target_success, strategy="feature_only", p=p, **crit)
  return pd.DataFrame({
      "collective": np.arange(len(s.alpha)),
      "mass": np.asarray(alpha), "target": np.asarray(targets), "beta": np.asarray(beta),
      "xi_c": np.asarray(xi_c), "delta": np.asarray(delta), "p": np.asarray(p),
      "bound_feature_label": np.asarray(fl),
      "bound_feature_only": np.asarray(fo),
      "bound_feature_only_published": np.asarray(fo_pub),
      f"critical_mass_fl_s{s.target_success:g}": np.asarray(cm_fl),
      f"critical_mass_fo_s{s.target_success:g}": np.asarray(cm_fo),
  })


def _figure(s: DemoScenario, table: pd.DataFrame, path: pathlib.Path) -> None:
  """Each collective's FL bound against its own mass, the other held fixed."""
  fig, ax = plt.subplots(figsize=(6.5, 4))
  base = jnp.asarray(s.alpha)
  for c in range(len(s.alpha)):
    others = float(jnp.sum(base) - base[c])
    grid = jnp.linspace(1e-3, 0.95 - others, 400)
    alphas = jnp.tile(base, (grid.shape[0], 1)).at[:, c].set(grid)
    curve = jax.vmap(lambda a: bounds.scenario_bounds(
        a, jnp.asarray(s.targets), xi_c=jnp.asarray(s.xi_c), xi=s.xi,
        delta=jnp.asarray(s.delta), eps=s.eps))(alphas)[:, c]
    critical = table.iloc[c, table.columns.get_loc(f"critical_mass_fl_s{s.target_success:g}")]
    plots.bound_vs_mass(grid, curve, critical=critical, target=s.target_success,
                        label=f"collective {c} (target {s.targets[c]})", ax=ax)
  ax.set_xscale("log")
  ax.set_xlabel(r"$\alpha_c$ (mass of the collective; the other's held fixed)")
  handles, labels = ax.get_legend_handles_labels()
  handles += [plt.Line2D([], [], color="grey", linestyle=":", linewidth=1),
              plt.Line2D([], [], color="grey", linestyle="--", linewidth=1)]
  labels += [f"target success $s$ = {s.target_success:g}",
             r"critical mass $\alpha_c^*$ for $s$"]
  plots.legend_outside(ax, handles=handles, labels=labels)
  ax.set_title(rf"Theorem 1 bound against mass ($\varepsilon$ = {s.eps:g})", fontsize=10)
  _save(fig, path)


def _save(fig_or_ax, path: pathlib.Path) -> None:
  """Writes a figure (or an Axes' figure) as PNG, atomically, and closes it."""
  fig = getattr(fig_or_ax, "figure", fig_or_ax)
  fig.tight_layout()
  _io.save_figure(fig, path, dpi=120)
  plt.close(fig)


def _sweep_section(s: DemoScenario, out: pathlib.Path, force: bool) -> str:
  """A small alignment sweep: S_min and S_w over (beta, xi), drawn as a heatmap.

  It starts over every time (``restart``): a checkpoint left by another
  version of the demo cannot stop it.
  """
  spec = sweep.SweepSpec(
      name="demo_alignment", collectives=len(s.alpha), targets=s.targets,
      bounds=("feature_label",), collective=("s_min", "s_w"),
      fixed=dict(alpha=s.alpha, xi_c=s.xi_c, delta=s.delta, eps=s.eps),
      axes={"beta": sweep.Axis.linspace(0.0, min(s.alpha), 21),
            "xi": sweep.Axis.linspace(0.0, 0.2, 21)})
  result = sweep.run(spec, out / "sweep", progress=False, restart=True, force=force)
  table = result.table
  grid = table.pivot(index="beta", columns="xi", values="feature_label.s_min")
  ax = plots.heatmap(grid.index.to_numpy(), grid.columns.to_numpy(), grid.to_numpy(),
                     xlabel=r"$\beta$ (aligned mass, each collective)",
                     ylabel=plots.parameter_label("xi"),
                     label=plots.output_label("feature_label.s_min"))
  ax.set_title(r"Theorem 1: $S_{\min}$ over alignment and overlap (acajax sweep)", fontsize=9)
  _save(ax, out / "sweep_s_min.png")
  at = table[np.isclose(table["xi"], s.xi)]
  opposed, aligned = at.iloc[0], at.iloc[-1]
  return (f"Alignment sweep ({spec.num_points} points, `sweep/results.csv`, "
          f"`sweep_s_min.png`): at xi = {s.xi}, the S_min bound rises from "
          f"{opposed['feature_label.s_min']:.4f} with opposed collectives (beta = 0) to "
          f"{aligned['feature_label.s_min']:.4f} at beta = {aligned['beta']:.2f}: the "
          "competition penalty, overlap x misaligned mass, shrinks as beta grows (SPEC §4).")


def main(out: str | pathlib.Path = "acajax-demo", scenario: DemoScenario | None = None,
         quiet: bool = False, *, force: bool = False,
         argv: list[str] | None = None) -> pd.DataFrame:
  """Writes the demo report into ``out`` and returns the bounds table.

  Args:
    out: output folder (created if missing).
    scenario: the two-collective scenario (defaults to :class:`DemoScenario`).
    quiet: do not print the table.
    force: write into a folder holding another run's results.
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    The table written to ``bounds.csv``.

  Raises:
    OutputError: ``out`` cannot take the report (a file, not writable, or
      holding another run's results without ``force``), or another run is
      writing there.

  Examples:
    >>> import tempfile
    >>> from acajax.runs import demo
    >>> table = demo.main(tempfile.mkdtemp(), quiet=True)
    >>> print(table["bound_feature_label"].round(4).tolist())
    [0.7593, 0.3833]
  """
  scenario = scenario or DemoScenario()
  out = _io.prepare_output(out, flag="out", kind="demo", results=FILES, force=force)
  with _io.FolderLock(out, "out"):
    table, summary, sweep_summary = _write(scenario, out, force)
    _io.atomic_write_json(out / _io.RUN_FILE, dict(
        kind="demo", scenario=scenario._asdict(),
        finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        versions=dict(acajax=__version__, jax=jax.__version__, numpy=np.__version__,
                      pandas=pd.__version__, python=platform.python_version()),
        argv=list(sys.argv if argv is None else argv)))
  if not quiet:
    with pd.option_context("display.width", 200, "display.max_columns", 20):
      print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(summary)
    print(sweep_summary)
    print(f"wrote {out / 'bounds.csv'}, {out / 'report.md'}, {out / 'bounds_vs_mass.png'}, "
          f"{out / 'sweep_s_min.png'}, {out / 'sweep'}/")
  return table


def _write(scenario: DemoScenario, out: pathlib.Path, force: bool):
  """The demo's files; returns the table and the two summary lines."""
  table = _table(scenario)
  _io.write_csv(table, out / "bounds.csv")
  fl, w = table["bound_feature_label"].to_numpy(), table["mass"].to_numpy()
  summary = (f"S_min bound {float(bounds.s_min(fl)):.4f}, "
             f"S_w bound {float(bounds.s_weighted(fl, w)):.4f} (feature-label, SPEC §7)")
  _figure(scenario, table, out / "bounds_vs_mass.png")
  sweep_summary = _sweep_section(scenario, out, force)
  _io.atomic_write_text(
      out / "report.md",
      "# acajax demo: two collectives\n\n"
      f"Scenario: {scenario._asdict()}\n\n"
      + "```\n" + table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
      + "\n```\n\n" + summary + "\n\n"
      "Figure: bounds_vs_mass.png (each collective's Theorem 1 bound against its mass, "
      "the other fixed; dashed line: critical mass).\n\n" + sweep_summary + "\n")
  return table, summary, sweep_summary
