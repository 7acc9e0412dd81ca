"""Validation (acajax.validate): eps_hat, evaluation tables, the noise axis, spec errors."""

import pathlib

import numpy as np
import pytest

from acajax import cli, datasets, learners
from acajax.runs import validate


def _brute_force_suboptimality(q, k, step=1 / 200):
  """min TV(Q, q) over a grid of the 3-label simplex, with k a most likely label of Q."""
  grid = np.arange(0, 1 + step / 2, step)
  a, b = np.meshgrid(grid, grid, indexing="ij")
  cand = np.stack([a.ravel(), b.ravel(), 1 - a.ravel() - b.ravel()], axis=1)
  cand = cand[cand[:, 2] >= -1e-12]
  ok = cand[:, k] >= cand.max(axis=1) - 1e-12
  return 0.5 * np.abs(cand[ok] - q).sum(axis=1).min()


def test_pointwise_suboptimality_is_the_smallest_tv_distance():
  rng = np.random.default_rng(0)
  q = rng.dirichlet(np.ones(3), size=12)
  k = rng.integers(0, 3, size=12)
  got = validate.pointwise_suboptimality(q * .37, k)       # joint rows: scale is irrelevant
  want = [_brute_force_suboptimality(qi, ki) for qi, ki in zip(q, k)]
  np.testing.assert_allclose(got, want, atol=.006)          # the grid's resolution
  assert np.all(got[k == q.argmax(axis=1)] == 0)
  # Lemma 1: a label other than y_c costs at least half the margin of y_c.
  top = np.sort(q, axis=1)
  assert np.all(got[k != q.argmax(axis=1)] >= (top[:, -1] - top[:, -2])[k != q.argmax(axis=1)]
                / 2 - 1e-12)


def test_eps_hat_is_rounded_strictly_up_to_the_grid():
  raw = np.array([0.0, 0.0015, 0.002, 0.4999, 0.5])
  up = validate._round_up(raw)
  np.testing.assert_allclose(up, [0.001, 0.002, 0.003, 0.5, 0.501])
  assert np.all(up > raw)


def test_evaluation_table_is_the_test_sample_and_its_signal_images():
  test = datasets.synthetic_resumes(30, seed=3, words=25)
  signals = [datasets.insertion_signal("\u00a7"), datasets.insertion_signal("\u00b6"),
             datasets.insertion_signal("\u00a7")]
  table = validate._evaluation_table(test, signals, test.num_labels, pad_to=64)
  assert table.p0.shape == (128, 4) and abs(table.p0.sum() - 1) < 1e-12   # 90 points, padded
  base = np.flatnonzero(table.p0.sum(axis=1))
  assert len(base) == 30 and np.array_equal(table.p0[base].argmax(axis=1), test.y)
  for c, fn in enumerate(signals):
    np.testing.assert_array_equal(table.features[table.maps[c][base]], test.featurize(fn(test.x)))
  np.testing.assert_array_equal(table.maps[0], table.maps[2])        # colliding characters
  assert not set(table.maps[0][base]) & set(table.maps[1][base]) & set(base)


P0 = ((.20, .10), (.10, .20), (.15, .10), (.05, .095), (.003, .002))


def _noise_spec(**kw):
  base = dict(name="noise-grid", dataset="finite_table", learner="logistic", p0=P0,
              collectives=(validate.CollectiveSpec(.08, 0, 4), validate.CollectiveSpec(.04, 1, 4)),
              noise_grid=(0.0, 0.1, 0.2), noise_kind="abstain", noise_collectives=(0, 1),
              noise_scale=(4.0, 1.0), seeds=(0, 1), num_samples=4000, steps=100,
              models_per_call=64)
  base.update(kw)
  return validate.ValidationSpec(**base)


def test_noise_grid_is_one_axis_of_one_vmapped_call(monkeypatch, capsys):
  calls = []
  original = learners.train_many

  def counting(name, x, *args, **kwargs):
    calls.append(len(x))
    return original(name, x, *args, **kwargs)

  monkeypatch.setattr(learners, "train_many", counting)
  frame = validate.run(_noise_spec(), progress=True).frame
  assert calls == [6]                                   # 3 noise levels x 2 seeds, one call
  assert "noise-grid: 100%" in capsys.readouterr().err  # the progress bar
  per = frame[frame["collective"].isin(["0", "1"])]
  assert sorted(per["noise"].unique()) == [0.0, 0.1, 0.2]
  scale = np.where(per["collective"] == "0", 4.0, 1.0)
  np.testing.assert_allclose(per["abstain"], per["noise"] * scale, atol=.5 / 40)
  assert np.all(per["wrong_signal"] == 0) and np.all(per["wrong_label"] == 0)
  # Noise has no closed form: bounds withheld, the exact engine still applies.
  noisy = per["noise"] > 0
  assert (per["bound_note"][noisy] == "coordination noise").all()
  assert per["bound"][noisy].isna().all() and per["bound"][~noisy].notna().all()
  assert np.all(per["bound"][~noisy] <= per["success"][~noisy] + 1e-6)
  assert np.all(per["exact_success"] <= per["success"] + 1e-6)
  # The crossing of the coordinated masses 2a(1 - 4 nu) and a(1 - nu) at nu = 1/7.
  winner = per[per["success"] == 1.0].groupby("noise")["collective"].unique()
  assert [list(v) for v in winner] == [["0"], ["0"], ["1"]]


NOISE_TOML = """
dataset = "finite_table"
learner = "logistic"
noise_grid = [0.0, 0.2]
noise_kind = "abstain"
noise_collectives = [0, 1]
noise_scale = [4.0, 1.0]
[data]
p0 = [[0.5, 0.2], [0.2, 0.1]]
[[collectives]]
mass = 0.05
target = 0
signal = 1
abstain = 0.1
[[collectives]]
mass = 0.05
target = 1
signal = 1
"""


def test_noise_grid_from_toml(tmp_path):
  path = tmp_path / "spec.toml"
  path.write_text(NOISE_TOML)
  spec = validate.load(path)
  assert spec.noise_grid == (0.0, 0.2) and spec.noise_scale == (4.0, 1.0)
  assert spec.noise_of(0, 0.2) == pytest.approx((0.8, 0.0, 0.0))
  assert spec.noise_of(0, None) == (0.1, 0.0, 0.0)      # its own fractions without a grid
  assert spec.noise_levels == (0.0, 0.2)


@pytest.mark.parametrize("change, message", [
    (('noise_kind = "abstain"', 'noise_kind = "shouting"'),
     r"noise_kind: unknown noise kind 'shouting'; allowed: abstain, wrong_signal, wrong_label"),
    (("noise_scale = [4.0, 1.0]", "noise_scale = [4.0]"),
     r"noise_scale: must list 2 non-negative multipliers"),
    (("noise_grid = [0.0, 0.2]", "noise_grid = [0.0, 0.3]"),
     r"noise_grid: level 0.3 gives collectives\[0\] noise fractions .* sum <= 1"),
    (("noise_collectives = [0, 1]", "noise_collectives = [0, 5]"),
     r"noise_collectives: must list distinct collective indices in \[0, 2\)"),
    (("noise_grid = [0.0, 0.2]", "noise_grid = 0.2"), r"noise_grid: must be a list"),
    (("noise_grid = [0.0, 0.2]", "noisegrid = [0.0, 0.2]"), r"noisegrid: unknown key"),
    (("noise_grid = [0.0, 0.2]", "noise_grid = [0.0, nan]"),
     r"noise_grid\[1\]: must be a finite number in \[0, 1\]; got nan"),
    (("noise_scale = [4.0, 1.0]", "noise_scale = [4.0, -1.0]"),
     r"noise_scale\[1\]: must be a finite number >= 0; got -1"),
    (("noise_collectives = [0, 1]", 'noise_collectives = [0, "1"]'),
     r"noise_collectives: must list distinct collective indices in \[0, 2\)"),
    (("abstain = 0.1", "abstain = nan"), r"collectives\[0\].abstain: must be a finite number"),
])
def test_bad_noise_keys_name_the_key(tmp_path, change, message):
  path = tmp_path / "spec.toml"
  path.write_text(NOISE_TOML.replace(*change))
  with pytest.raises(validate.SpecError, match=message):
    validate.load(path)


def test_noise_scale_needs_a_grid():
  with pytest.raises(validate.SpecError, match="noise_scale: needs a noise_grid"):
    validate.validated(_noise_spec(noise_grid=None, noise_collectives=None))


def test_mass_too_small_for_n_matches_planting_rounding():
  # 0.5 member rounds up in planting (floor(x + 0.5)); the spec check agrees.
  validate.validated(_noise_spec(noise_grid=None, noise_scale=None, noise_collectives=None,
                                 num_samples=100, collectives=(
                                     validate.CollectiveSpec(.005, 0, 4),)))
  with pytest.raises(validate.SpecError, match=r"collectives\[0\].mass: mass 0.004 .* no member"):
    validate.validated(_noise_spec(noise_grid=None, noise_scale=None, noise_collectives=None,
                                   num_samples=100, collectives=(
                                       validate.CollectiveSpec(.004, 0, 4),)))


def test_malformed_corpus_fails_with_its_line_before_training(tmp_path, monkeypatch, capsys):
  corpus = tmp_path / "resumes.txt"
  good = datasets.format_resume_corpus(datasets.synthetic_resumes(20, seed=0, words=5))
  lines = good.splitlines()
  lines.insert(7, "8:::Software_Developer no separator")
  corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
  spec = tmp_path / "spec.toml"
  spec.write_text('dataset = "resume_file"\nlearner = "ngram"\n[data]\npath = "resumes.txt"\n'
                  'num_samples = 10\n[[collectives]]\nmass = 0.1\ntarget = 0\nsignal = "~"\n')
  monkeypatch.setattr(learners, "train_many", lambda *a, **k: pytest.fail("trained"))
  with pytest.raises(datasets.CorpusError, match=r"resumes.txt, line 8: expected"):
    validate.run(validate.load(spec))
  assert cli.main(["validate", str(spec), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
  assert "line 8" in capsys.readouterr().err



def test_example_specs_load():
  examples = pathlib.Path(__file__).resolve().parent.parent / "examples"
  paths = sorted(examples.glob("learners_*.toml"))
  assert {p.name for p in paths} >= {"learners_spec.toml", "learners_digits.toml"}
  for path in paths:
    spec = validate.load(path)
    assert spec.collectives and spec.source == str(path)


def test_noise_levels_share_members_and_nest_abstainers():
  """What run relies on: one planting stream per (seed, configuration, mass)."""
  from acajax import planting
  x, y = np.zeros(400, int), np.zeros(400, int)
  out = []
  for level in (0.0, 0.1, 0.3):
    cols = [planting.Collective(.1 * (c + 1), c, datasets.point_signal(5 + c), abstain=level)
            for c in range(2)]
    xp, _, report = planting.plant(x, y, cols, np.random.default_rng([0, 1, 2]), num_labels=2)
    out.append((report.members, [m[xp[m] == 0] for m in report.members]))
  for members, abstainers in out[1:]:
    assert all(np.array_equal(a, b) for a, b in zip(members, out[0][0]))
  for c in range(2):
    assert len(out[0][1][c]) == 0
    assert set(out[1][1][c]) < set(out[2][1][c])


def test_a_diverged_model_is_reported_never_scored(monkeypatch):
  """A model whose training turns non-finite gets diverged = True and NaN, not a success."""
  original = learners.train_many

  def one_poisoned(name, x, *args, **kwargs):
    x = np.array(x, np.float32)
    x[1, 0, 0] = np.inf                       # the second model's data: its training diverges
    return original(name, x, *args, **kwargs)

  monkeypatch.setattr(learners, "train_many", one_poisoned)
  frame = validate.run(_noise_spec(noise_grid=None, noise_kind=None, noise_collectives=None,
                                   noise_scale=None, steps=20)).frame
  by_seed = frame.groupby("seed")["diverged"].all()
  assert by_seed.tolist() == [False, True]
  bad, good = frame[frame["seed"] == 1], frame[frame["seed"] == 0]
  assert bad["success"].isna().all() and bad["clean_accuracy"].isna().all()
  assert bad["bound"].isna().all() and bad["exact_success"].isna().all()
  per = bad[bad["collective"].isin(["0", "1"])]
  assert (per["bound_note"] == "training diverged").all()
  assert good["success"].notna().all() and good["clean_accuracy"].notna().all()
