"""Smoke test of the recommender example and `acajax validate` on a recommender spec."""

import importlib.util
import pathlib

import numpy as np
import pandas as pd

from acajax import cli
from tests.test_examples_scripts import check_meta

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

# The example's quick settings as a spec: the CLI run reuses the compiled trainings.
QUICK_SPEC = """
kind = "recommender"
name = "quick"
seeds = [0]
sizes = [5, 10]
homogeneity = [0.2, 1.0]
scenarios = [["promoter"], ["demoter"], ["demoter B"], ["promoter", "demoter"],
             ["promoter", "demoter B"]]
[data]
source = "synthetic"
num_users = 200
num_items = 100
num_clusters = 10
ratings_per_user = 20
seed = 0
[model]
rank = 4
steps = 40
learning_rate = 0.1
reg = 0.1
[target_sets]
A = "niche"
B = "niche"
[[collectives]]
name = "promoter"
archetype = "promoter"
targets = "A"
[[collectives]]
name = "demoter"
archetype = "demoter"
targets = "A"
[[collectives]]
name = "demoter B"
archetype = "demoter"
targets = "B"
"""


def _load(name):
  spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_recommender_example_and_cli(tmp_path, capsys):
  module = _load("recommender_collectives")
  result = module.main(out_dir=tmp_path / "example", quick=True)
  for path in result["paths"]:
    assert path.exists() and path.stat().st_size > 0
  assert result["paths"][-1].read_bytes()[:4] == b"\x89PNG"
  frame = result["frame"]
  # 1 seed x 2 sizes x 2 levels x 5 scenarios; 7 acting collectives per cell.
  assert len(frame) == 2 * 2 * 7
  assert np.isfinite(frame["relative_hr"]).all() and (frame["hr_without"] > 0).all()
  together = frame[~frame["alone"]]
  assert (together["evaluation_users"] == 200 - 2 * together["members"]).all()
  # A promoter and a demoter of the same target set see the same HR in the same training.
  both = frame[frame["scenario"] == "promoter + demoter"].pivot_table(
      index=["size", "homogeneity"], columns="collective", values="hr_with")
  np.testing.assert_array_equal(both["promoter"], both["demoter"])
  assert "Mean relative hit ratio" in capsys.readouterr().out
  meta = check_meta(tmp_path / "example", "recommender_collectives",
                    seeds={"trainings": [0], "ratings": 0})
  assert meta["args"]["movielens"] is None and meta["args"]["progress"] is False

  spec = tmp_path / "quick.toml"
  spec.write_text(QUICK_SPEC, encoding="utf-8")
  out = tmp_path / "cli"
  assert cli.main(["validate", str(spec), "--out", str(out), "--no-progress"]) == 0
  # The same experiment through a spec and the CLI: the same numbers (determinism).
  table = pd.read_csv(out / "results.csv")
  np.testing.assert_array_equal(table["hr_with"], frame["hr_with"])
  np.testing.assert_allclose(table["relative_hr"], frame["relative_hr"], rtol=1e-12)
  assert (out / "relative_hr_vs_homogeneity.png").read_bytes()[:4] == b"\x89PNG"
  assert "biased MF models trained" in capsys.readouterr().out


def test_cli_rejects_bad_recommender_spec(tmp_path, capsys):
  spec = tmp_path / "bad.toml"
  spec.write_text(QUICK_SPEC.replace("homogeneity = [0.2, 1.0]", "homogeneity = [0, 1.0]"),
                  encoding="utf-8")
  assert cli.main(["validate", str(spec), "--out", str(tmp_path / "out")]) == 2
  err = capsys.readouterr().err
  assert "bad.toml: homogeneity" in err and "(0, 1]" in err
