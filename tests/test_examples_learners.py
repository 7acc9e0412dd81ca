"""Smoke tests of the learner examples with tiny settings (the examples must not rot)."""

import dataclasses
import importlib.util
import pathlib

import numpy as np

from acajax import datasets
from acajax.runs import validate
from tests.test_examples_scripts import check_meta

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
  spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _check_files(result):
  assert all(path.exists() and path.stat().st_size > 0 for path in result["paths"])
  assert all(path.read_bytes()[:4] == b"\x89PNG" for path in result["paths"]
             if path.suffix == ".png")


def test_two_text_example(tmp_path, capsys):
  result = _load("learners_two_text").main(out_dir=tmp_path, quick=True)
  _check_files(result)
  summary = result["summary"]
  assert summary.shape == (5, 1)
  alone = summary.loc["A alone"].iloc[0]
  clash = summary.loc["with B colliding, opposed"].iloc[0]
  assert clash < alone - 0.2                       # the interference
  theory = result["theory"]                        # A beside the theory at its eps_hat
  assert np.all(theory["bound"].fillna(0) <= theory["success"] + 1e-6)
  assert theory["bound"].notna().any() and theory["bound_note"].str.contains("1/2").any()
  assert "A's measured success" in capsys.readouterr().out
  check_meta(tmp_path, "learners_two_text", seeds={"data_and_training": [0]})


def test_resume_study_example(tmp_path, capsys):
  module = _load("resume_study")
  result = module.main(out_dir=tmp_path, quick=True)
  _check_files(result)
  summary = result["summary"]
  assert len(summary) == 2 * 2 * 2 * 2             # characters^2 x relations x masses
  numbers = ["alone_1", "together_1", "alone_2", "together_2"]
  assert np.isfinite(summary[numbers].to_numpy()).all()
  same = summary["char_1"] == summary["char_2"]
  assert (summary["signal_collision"] == np.where(same, "yes", "no")).all()
  # The study's interference: the same character with the other target cuts both down.
  clash = summary[same & (summary["relation"] == "opposed")]
  assert (clash["together_1"] < clash["alone_1"] - 0.05).all()   # seeds 0-7: drops >= 0.1
  assert (clash["together_2"] < clash["alone_2"] - 0.05).all()
  apart = summary[~same & (summary["relation"] == "opposed")]
  assert ((clash["alone_1"] - clash["together_1"]).mean()
          > (apart["alone_1"] - apart["together_1"]).mean() + 0.2)
  # Margin report: never above the success; equal masses on one character tie (m_c = 0).
  assert (summary["exact_on_margin_points_1"] <= summary["together_1"] + 1e-9).all()
  assert (clash["exact_on_margin_points_1"] == 0).all()
  table = result["two_mass_table"]
  assert len(table) == 2 * 2 * 2 * 2 and np.isfinite(table["mean"]).all()
  one = table[(table["second_char"] == "'{'") & (table["side"] == "1")].set_index(
      ["alpha_1", "alpha_2"])["mean"]
  low, high = min(one.index)[0], max(one.index)[0]
  assert one[(high, low)] > one[(low, high)] + 0.2     # 1's success: up with alpha_1, down with 2
  assert "signal_collision" in capsys.readouterr().out
  check_meta(tmp_path, "resume_study", seeds={"data_and_training": [0, 1]})
  # The TOML spec is the script's pair protocol with the study's characters.
  from_toml = validate.load(EXAMPLES / "resume_study.toml")
  built = validate.validated(module.pair_spec(module.CHARACTERS, datasets.RESUME_LABELS[:2]))
  assert dataclasses.replace(from_toml, source="<spec>") == built


def test_noise_example(tmp_path):
  result = _load("learners_noise").main(out_dir=tmp_path, quick=True)
  _check_files(result)
  summary = result["summary"]
  assert summary.index.tolist() == [0.0, 0.1, 0.2]              # the noise axis
  frame = result["frame"]
  per = frame[frame["collective"].isin(["0", "1"])]
  np.testing.assert_allclose(per["abstain"], per["noise"] * np.where(per["collective"] == "0",
                                                                     4, 1), atol=.02)
  # Before the crossing nu = 1/7 A wins, after it B (measured and Bayes agree).
  assert summary[("success", "A")].tolist() == [1.0, 1.0, 0.0]
  assert summary[("success", "B")].tolist() == [0.0, 0.0, 1.0]
  np.testing.assert_array_equal(summary[("success", "A")], summary[("exact_at_eps", "A")])
  assert np.all(summary["exact_success"] <= summary["success"] + 1e-6)
  check_meta(tmp_path, "learners_noise", seeds={"data_and_training": [0]})


def test_alignment_example(tmp_path):
  result = _load("learners_alignment").main(out_dir=tmp_path, quick=True)
  _check_files(result)
  summary = result["summary"]
  for metric in ("S_min", "S_w"):
    assert np.all(summary[("bound", metric)] <= summary[("success", metric)] + 1e-6)
  assert (summary[("bound", "S_w")] > .5).any()
  assert (summary.loc["opposed", ("success", "S_min")] <
          summary.loc["aligned", ("success", "S_min")]).all()
  check_meta(tmp_path, "learners_alignment", seeds={"data_and_training": [0]})
