"""Smoke test of the recommender example and `acajax validate` on a recommender spec."""

import importlib.util
import json
import pathlib

import numpy as np
import pandas as pd

from acajax import cli
from acajax import rating_collectives as rc
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


def test_study_example_runs_the_protocol_and_measures_the_four_findings(tmp_path, capsys):
  module = _load("recommender_study")
  result = module.main(out_dir=tmp_path / "study", quick=True)
  for path in result["paths"]:
    assert path.exists() and path.stat().st_size > 0
  assert (tmp_path / "study" / "relative_hr_vs_p.png").read_bytes()[:4] == b"\x89PNG"
  frame = result["frame"]
  # 1 repetition x 2 sizes x 2 propensities x (promoter, demoter, both: 4 acting collectives).
  assert len(frame) == 2 * 2 * 4
  assert set(frame["archetype"]) == {"promoter", "demoter"} and "p" in frame
  exp = module.setup(quick=True)
  assert exp.membership == "propensity" and exp.seed_clusters == "random"
  assert exp.target_sets == {"promoter's top 10": "collective_top",
                             "demoter's top 10": "collective_top"}
  # Distinct seed clusters in every cell; each collective's targets are its members'
  # collectively highest-rated items.
  cells = frame.groupby(["seed", "size", "p"])
  assert all(part.groupby("collective")["home"].first().nunique() == 2 for _, part in cells)
  dense = exp.ratings.dense()
  for (seed, size, p, name), items in result["result"].cell_targets.items():
    members = result["result"].cell_members[(seed, size, p, name)]
    assert len(items) == 10
    np.testing.assert_array_equal(items, rc.collective_top_items(dense, members, 10))
  found = result["findings"]
  assert json.loads((tmp_path / "study" / "findings.json").read_text()) == found
  assert {"1. promoter: size matters more than p", "2. demoter: best p per N",
          "3. demoter: mean |log(together / alone)|",
          "4. demoting is easier (demoter below 1 by more than the promoter above 1)"} <= set(found)
  assert "Mean relative hit ratio" in capsys.readouterr().out
  check_meta(tmp_path / "study", "recommender_study", seeds={"repetitions": [0], "ratings": 0})


def test_study_findings_are_measured_from_the_table():
  module = _load("recommender_study")
  rows = []
  # Demoter: strong at every N, best at p = 0.5; promoter: weak. Size matters more than p.
  for role, level in (("promoter", 1.2), ("demoter", 0.3)):
    for size, size_factor in ((10, 1.0), (50, 3.0)):
      for p in (0.1, 0.5, 1.0):
        bump = 0.9 if (role == "demoter" and p == 0.5) else 1.0
        alone = level ** size_factor * bump
        for is_alone, value in ((True, alone), (False, alone * 1.5)):
          rows.append(dict(seed=0, size=size, homogeneity=p, collective=role, alone=is_alone,
                           relative_hr=value, diverged=False))
  found = module.findings(pd.DataFrame(rows))
  assert found["1. demoter: size matters more than p"] is True
  assert found["2. demoter: best p per N"] == {"10": 0.5, "50": 0.5}
  assert found["2. demoter: best p is intermediate at every N"] is True
  assert found["3. promoter: mean log(together / alone)"] == round(np.log(1.5), 3)
  assert found["4. demoting is easier (demoter below 1 by more than the promoter above 1)"]


def test_study_example_reads_a_movielens_file_and_clusters_its_users(tmp_path):
  module = _load("recommender_study")
  data = module.movielens_like(200, 300).ratings
  path = tmp_path / "u.data"
  path.write_text("".join(f"{u + 1}\t{i + 1}\t{int(v)}\t88125{n:04d}\n" for n, (u, i, v) in
                          enumerate(zip(data.users, data.items, data.values))), encoding="utf-8")
  result = module.main(out_dir=tmp_path / "ml", quick=True, movielens=path)
  clusters = result["result"].clusters
  assert len(np.unique(clusters)) == 10 and len(clusters) == 200   # k-means of user factors
  frame = result["frame"]
  assert len(frame) == 2 * 2 * 4
  sizes = np.bincount(clusters)
  assert all(sizes[home] >= n for home, n in zip(frame["home"], frame["size"]))
  check_meta(tmp_path / "ml", "recommender_study", seeds={"repetitions": [0], "clusters": 0})
