"""Smoke test of examples/planter_vs_eraser.py with tiny settings (the example must not rot)."""

import importlib.util
import pathlib

import numpy as np

from tests.test_examples_scripts import check_meta

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "planter_vs_eraser.py"


def test_planter_vs_eraser_example(tmp_path, capsys):
  spec = importlib.util.spec_from_file_location("planter_vs_eraser_example", EXAMPLE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  result = module.main(out_dir=tmp_path, quick=True)
  assert all(path.exists() and path.stat().st_size > 0 for path in result["paths"])
  for name in ("finite_table.png", "critical_masses.png", "learner.png"):
    assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  grid = result["grid"]
  assert len(grid) == 36
  assert (grid["planter_bound"] <= grid["planter_exact"] + 1e-9).all()
  assert (grid["eraser_bound"] <= grid["eraser_exact"] + 1e-9).all()
  assert (grid["planter_ceiling"] >= grid["planter_best"] - 1e-9).all()
  summary = result["summary"]
  assert summary["soundness_on_grid"] == dict(planter_bound_over_exact=0,
                                              eraser_bound_over_exact=0, ceiling_under_best=0)
  critical = summary["eraser_mass_for_planter_at_most_half"]
  exact, closed = np.array(critical["exact"]), np.array(critical["closed_form"])
  assert (exact <= closed + 1e-9).all()
  assert "bound above exact on the grid" in capsys.readouterr().out
  check_meta(tmp_path, "planter_vs_eraser", seeds=dict(learner=0))
