"""Smoke test of examples/car_evaluation.py with tiny settings (the example must not rot)."""

import importlib.util
import pathlib

import numpy as np

from tests.test_examples_scripts import check_meta

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "car_evaluation.py"


def test_car_evaluation_example(tmp_path, capsys):
  spec = importlib.util.spec_from_file_location("car_evaluation_example", EXAMPLE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  rows, labels = module.car_table(50, seed=1)
  assert rows.shape == (50, 18) and set(np.unique(labels)) <= {0, 1, 2, 3}
  result = module.main(out_dir=tmp_path, quick=True)
  assert all(path.exists() and path.stat().st_size > 0 for path in result["paths"])
  assert (tmp_path / "car_evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  bound, success = result["bound"], result["success"]
  assert bound.shape == success.shape == (4, len(result["sizes_n"]))
  assert np.all((bound >= 0) & (bound <= 1))
  assert np.all(bound <= success)                     # below the classifier's success
  assert np.all(np.diff(bound, axis=1) >= -0.02)      # staircases (up to the radius drift)
  assert "bound <= classifier success everywhere: True" in capsys.readouterr().out
  check_meta(tmp_path, "car_evaluation", seeds={"car_table": 2025})
