"""How many participants do three competing collectives need in total? (SPEC §8)

Three feature-label collectives with distinct targets (so each competes with
the other two) want every Theorem 1 bound to reach s = 0.5. With an equal
split of the members the smallest total budget follows from a closed form;
letting the split adapt to each collective's rarity and difficulty needs
less. ``optimize.critical_budget`` answers both (closed form for integer
targets; root finding with soft targets, shown to agree). The figure draws
the S_min bound against the total budget for both splits, the target and the
two critical budgets.

Run it::

  .venv/bin/python examples/optimize_critical_budget.py [--out DIR] [--quick]

Writes ``critical_budget.png`` and ``meta.json`` (the run's arguments, seeds, versions,
devices and command line) into the output folder.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from acajax import bounds, optimize
from acajax.runs import _script
from acajax.runs import figures as plots

NAME = "optimize_critical_budget"
DEFAULT_OUT = "optimize-critical-budget"
SEED = 0   # the random starts of the allocations (optimised shares, root finding)
TARGET = 0.5
SCENARIO = dict(targets=np.array([0, 1, 2]), xi_c=np.array([.01, .02, .005]),
                xi=np.array([.05, .08, .03]), delta=np.array([.6, .4, .8]), eps=.1)


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None) -> dict:
  """Prints the critical budgets and saves ``critical_budget.png``.

  Args:
    out_dir: folder for the figure and ``meta.json``.
    quick: 6 budgets on the curves instead of 40, and no root finding (for
      smoke tests; ``root`` is then None).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).

  Returns:
    dict with the :class:`optimize.CriticalBudget` results ``equal``,
    ``optimised`` and ``root`` (soft targets, root finding) and the
    ``paths`` written.
  """
  jax.config.update("jax_enable_x64", True)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  num = SCENARIO["targets"].shape[0]

  equal = optimize.critical_budget(TARGET, shares=np.ones(num), **SCENARIO)
  optimised = optimize.critical_budget(TARGET, seed=SEED, **SCENARIO)
  soft = {**SCENARIO, "targets": np.eye(num)[SCENARIO["targets"]]}
  root = None if quick else optimize.critical_budget(TARGET, seed=SEED, **soft)
  print(f"Smallest total budget with every bound >= {TARGET}:")
  print(f"  equal shares       {float(equal.budget):.4f}  masses "
        f"{np.round(np.asarray(equal.masses), 4).tolist()}")
  print(f"  optimised shares   {float(optimised.budget):.4f}  masses "
        f"{np.round(np.asarray(optimised.masses), 4).tolist()}  (closed form)")
  if root is not None:
    print(f"  root finding       {float(root.budget):.4f}  (soft one-hot targets)")

  # S_min against the budget: equal split (closed-form bounds) and best split.
  budgets = np.linspace(0.01, 0.3, 6 if quick else 40)
  params = {k: v for k, v in SCENARIO.items() if k != "targets"}
  equal_curve = jax.vmap(lambda b: bounds.s_min(bounds.scenario_bounds(
      jnp.full(num, b / num), SCENARIO["targets"], **params)))(jnp.asarray(budgets))
  best_curve = jax.jit(jax.vmap(lambda b: optimize.allocate_masses(
      b, seed=SEED, **SCENARIO).value))(jnp.asarray(budgets))

  ax = plots.bound_vs_mass(budgets, np.asarray(equal_curve), critical=float(equal.budget),
                           target=TARGET, label="equal shares")
  plots.bound_vs_mass(budgets, np.asarray(best_curve), critical=float(optimised.budget),
                      label="optimised shares", ax=ax)
  ax.set_xlabel(r"total budget $\bar\alpha$ (sum of the masses)")
  ax.set_ylabel(r"$S_{\min}$, Theorem 1 bound")
  handles, labels = ax.get_legend_handles_labels()
  handles += [plots.plt.Line2D([], [], color="grey", linestyle=":", linewidth=1),
              plots.plt.Line2D([], [], color="grey", linestyle="--", linewidth=1)]
  labels += [f"target success $s$ = {TARGET:g}", "critical budget"]
  plots.legend_outside(ax, handles=handles, labels=labels)
  ax.set_title(rf"Critical budget: every bound $\geq$ {TARGET:g}", fontsize=10)
  path = out_dir / "critical_budget.png"
  plots.save(ax, path)
  meta = _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick),
                            seeds={"critical_budget": SEED, "allocate_masses": SEED}, argv=argv)
  print(f"wrote {path} and {meta}")
  return dict(equal=equal, optimised=optimised, root=root, paths=[path])


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
