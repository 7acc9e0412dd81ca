"""Smoke test of examples/exact_engine.py with tiny settings (the example must not rot)."""

import importlib.util
import pathlib

import numpy as np

from tests.test_examples_scripts import check_meta

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "exact_engine.py"


def test_exact_engine_example(tmp_path, capsys):
  spec = importlib.util.spec_from_file_location("exact_engine_example", EXAMPLE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  result = module.main(out_dir=tmp_path, quick=True)
  assert all(path.exists() and path.stat().st_size > 0 for path in result["paths"])
  assert (tmp_path / "exact_vs_bounds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  frame = result["frame"]
  assert list(frame.index) == ["c0", "c1", "c2", "S_min", "S_w"]
  valid = frame[["gap_theorem1", "gap_theorem1_pairwise"]].to_numpy()
  assert np.all(valid[~np.isnan(valid)] >= -1e-9)  # Theorem 1 holds (all feature-label)
  assert "Tightness" in capsys.readouterr().out
  check_meta(tmp_path, "exact_engine", seeds={})
