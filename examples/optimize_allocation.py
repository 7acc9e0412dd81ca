"""How should a fixed budget of participants be split among three collectives? (SPEC §4, §7)

The SPEC §10 scenario: three feature-label collectives, c0 and c2 share target
1, c1 wants target 0; a total mass (budget) of 0.1. ``optimize.allocate_masses``
finds the split that maximises the worst collective's Theorem 1 bound (S_min)
and the one that maximises the mass-weighted bound (S_w). The figure shows
the S_min bound over every split (the simplex, drawn by the shares of c0 and
c1) with both optima marked, and how the best exact value improves over the
optimisation steps.

Run it::

  .venv/bin/python examples/optimize_allocation.py [--out DIR] [--quick]

Writes ``allocation.png`` and ``meta.json`` (the run's arguments, seeds, versions,
devices and command line) into the output folder.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")  # headless: the example only writes PNG files

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from acajax import bounds, optimize  # noqa: E402
from acajax.runs import _script  # noqa: E402
from acajax.runs import figures as plots  # noqa: E402

NAME = "optimize_allocation"
DEFAULT_OUT = "optimize-allocation"
SEED = 0   # the random starts of allocate_masses
BUDGET = 0.1
SCENARIO = dict(targets=np.array([1, 0, 1]), xi_c=np.array([.01, .02, .005]), xi=.05,
                delta=np.array([.6, .4, .8]), eps=.1)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Prints the best splits and saves ``allocation.png``.

  Args:
    out_dir: folder for the figure and ``meta.json``.
    quick: a coarse simplex grid for the figure (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the two :class:`optimize.Allocation` results (``min``,
    ``weighted``), the ``uniform`` split's S_min bound and the ``paths``
    written.
  """
  jax.config.update("jax_enable_x64", True)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)

  results = {objective: optimize.allocate_masses(BUDGET, objective=objective, seed=SEED,
                                                  **SCENARIO)
             for objective in ("min", "weighted")}
  uniform = optimize.allocation_value(np.full(3, BUDGET / 3), **SCENARIO)
  print(f"Budget {BUDGET}, targets {SCENARIO['targets'].tolist()} (eps = {SCENARIO['eps']}):")
  print(f"  uniform split          S_min bound {float(uniform):.4f}")
  for objective, out in results.items():
    name = "S_min" if objective == "min" else "S_w"
    print(f"  best split for {name:5s}  masses {np.round(np.asarray(out.masses), 4).tolist()}"
          f" -> {name} bound {float(out.value):.4f}")

  # S_min over the simplex: shares (w0, w1), w2 = 1 - w0 - w1; NaN outside.
  size = 41 if quick else 201
  shares = np.linspace(0, 1, size)
  w0, w1 = np.meshgrid(shares, shares, indexing="ij")
  w2 = 1 - w0 - w1
  inside = (w0 > 0) & (w1 > 0) & (w2 > 1e-12)
  split = BUDGET * np.stack([w0, w1, np.maximum(w2, 0)], axis=-1).reshape(-1, 3)
  params = {k: v for k, v in SCENARIO.items() if k != "targets"}
  values = jax.jit(jax.vmap(lambda m: bounds.s_min(bounds.scenario_bounds(
      m, SCENARIO["targets"], **params))))(jnp.asarray(split))
  values = np.where(inside, np.asarray(values).reshape(size, size), np.nan)

  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
  plots.heatmap(shares, shares, values, xlabel=r"share of the budget to c0, $\alpha_0 / B$",
                ylabel=r"share of the budget to c1, $\alpha_1 / B$",
                label=r"$S_{\min}$, Theorem 1 bound", ax=left)
  for objective, marker, name in (("min", "*", r"$S_{\min}$"), ("weighted", "D", "$S_w$")):
    masses = np.asarray(results[objective].masses) / BUDGET
    left.scatter([masses[0]], [masses[1]], marker=marker, s=120, color="red",
                 edgecolor="white", label=f"best split for {name}", clip_on=False, zorder=3)
  left.scatter([1 / 3], [1 / 3], marker="o", color="white", edgecolor="black",
               label="equal split")
  left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=8,
              frameon=False)
  left.set_title(rf"$S_{{\min}}$ bound over splits of a budget $B$ = {BUDGET:g}", fontsize=10)
  for objective, out in results.items():
    name = r"$S_{\min}$" if objective == "min" else "$S_w$"
    (line,) = right.plot(np.asarray(out.history), label=f"maximising {name}")
    right.axhline(float(out.value), color=line.get_color(), linestyle=":", linewidth=1)
  right.set_xlabel("optimisation step")
  right.set_ylabel("best exact value so far")
  # S_w peaks at a vertex of the simplex, scored apart from the gradient run.
  right.set_title("Convergence (dotted: the value returned)", fontsize=10)
  right.plot([], [], color="grey", linestyle=":", linewidth=1, label="value returned")
  right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=8,
               frameon=False)
  path = out_dir / "allocation.png"
  plots.save(fig, path)
  meta = _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                            seeds={"allocate_masses": SEED}, argv=argv)
  print(f"wrote {path} and {meta}")
  return dict(min=results["min"], weighted=results["weighted"], uniform=uniform, paths=[path])


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
