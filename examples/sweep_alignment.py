"""The alignment sweep (experiment 2 of the source documents), from Python.

Two collectives of equal mass with overlapping signals. Each one's aligned
mass beta goes from 0 (opposed targets) to the other's mass (one shared
target), for a range of overlaps xi, worst case over the classifier's
suboptimality eps. Theorem 1's competition penalty (SPEC §4) falls linearly
in beta and vanishes at full alignment; S_min and S_w (SPEC §7) follow.

Run it::

  .venv/bin/python examples/sweep_alignment.py [--out DIR] [--quick]

It loads ``examples/sweeps/alignment.toml`` (the same spec as
``acajax sweep examples/sweeps/alignment.toml --out DIR``), runs it, draws
the heatmaps and prints how much full alignment buys at the largest overlap.
The folder's ``meta.json`` stays the sweep's (``acajax plot DIR`` reads it
back) and also records the example: its arguments, versions, devices and
command line.
"""

from __future__ import annotations

import pathlib

import jax

from acajax import sweep
from acajax.runs import _script

NAME = "sweep_alignment"
DEFAULT_OUT = "alignment-sweep"
SPEC = pathlib.Path(__file__).resolve().parent / "sweeps" / "alignment.toml"


def main(out_dir: str | pathlib.Path = DEFAULT_OUT, quick: bool = False, *,
         argv: list[str] | None = None):
  """Runs the alignment sweep into ``out_dir``; returns its result table.

  Args:
    out_dir: folder for the results, spec, metadata and figures.
    quick: a 5 x 4 x 2 grid instead of 51 x 31 x 11 (for smoke tests).
    argv: the command line recorded in ``meta.json`` (default ``sys.argv``).
  """
  jax.config.update("jax_enable_x64", True)   # the spec asks for float64
  spec = sweep.load(SPEC)
  if quick:
    axes = {name: sweep.Axis.linspace(axis.start, axis.stop, n)
            for (name, axis), n in zip(spec.axes.items(), (5, 4, 2))}
    spec = spec.replace(axes=axes).validated()
  result = sweep.run(spec, out_dir, progress=not quick)
  paths = sweep.plot(out_dir)
  table = result.table
  worst_xi = table["xi"].max()
  at_xi = table[table["xi"] == worst_xi]
  opposed, aligned = at_xi.iloc[0], at_xi.iloc[-1]
  print(f"{spec.num_points:,} points in {result.wall_s:.2f} s; at xi = {worst_xi:g}, worst eps:")
  for metric in ("s_min", "s_w"):
    column = f"feature_label.{metric}.min"
    print(f"  {metric}: {opposed[column]:.4f} at beta = 0 -> {aligned[column]:.4f} at "
          f"beta = {aligned['beta']:g}")
  print("figures:", ", ".join(p.name for p in paths))
  # The sweep's own record stays (kind "sweep"); a grid has no randomness.
  _script.record_run(out_dir, NAME, dict(out=str(out_dir), quick=quick), seeds={},
                     merge=True, argv=argv)
  return table


if __name__ == "__main__":
  args = _script.parse_args(__doc__, DEFAULT_OUT)
  main(args.out, quick=args.quick)
