"""Smoke tests of examples/optimize_*.py with tiny settings (the examples must not rot)."""

import importlib.util
import pathlib

import numpy as np
import pytest

from tests.test_examples_scripts import check_meta

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(name, tmp_path, seeds):
  spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  result = module.main(out_dir=tmp_path, quick=True)
  for path in result["paths"]:
    assert path.read_bytes()[:8] == PNG
  check_meta(tmp_path, name, seeds=seeds)
  return result


def test_allocation_example(tmp_path, capsys):
  result = run_example("optimize_allocation", tmp_path, {"allocate_masses": 0})
  assert float(result["min"].value) > float(result["uniform"]) + 0.1
  assert np.count_nonzero(np.asarray(result["weighted"].masses)) == 1   # a vertex
  assert "best split for S_min" in capsys.readouterr().out


def test_critical_budget_example(tmp_path):
  result = run_example("optimize_critical_budget", tmp_path,
                       {"critical_budget": 0, "allocate_masses": 0})
  optimised, equal = float(result["optimised"].budget), float(result["equal"].budget)
  assert 0 < optimised < equal < 1
  assert result["root"] is None   # root finding is skipped in quick mode


def test_signals_example(tmp_path):
  result = run_example("optimize_signals", tmp_path, {"place_signals": 0, "random_search": 0})
  for objective in ("weighted",):   # quick mode runs S_w only
    points = np.asarray(result[objective].signal_points)
    assert set(points.tolist()) <= set(result["candidates"].tolist())
    assert float(result[objective].value) == pytest.approx(result["enumerated"][objective])
    assert float(result[objective].value) >= result["random"][objective]


def test_targets_example(tmp_path):
  result = run_example("optimize_targets", tmp_path, {"choose_targets": 0})
  assert float(result["choice"].value) == pytest.approx(result["values"].max())
  gains = np.asarray(result["gains"].gain)
  assert gains.shape == (4, 4) and np.all(np.diag(gains) == 0)
