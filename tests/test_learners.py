"""Learners (acajax.learners) and empirical validation (acajax.validate, `acajax validate`)."""

import jax
import numpy as np
import pytest

from acajax import cli, datasets, learners, planting
from acajax.runs import validate

# SPEC §10's table; three feature-label collectives.
P0 = ((.10, .05, .05), (.05, .15, .00), (.10, .05, .05),
      (.05, .05, .10), (.04, .03, .03), (.03, .03, .04))
FAST = learners.TrainConfig(steps=200, learning_rate=0.1, l2=1e-4)


def _keys(n, seed=0):
  return jax.random.split(jax.random.key(seed), n)


def _planted(seeds, n=3000):
  data = datasets.finite_table(np.array(P0), n, seed=0)
  xs, ys = [], []
  for seed in seeds:
    col = planting.Collective(.05 * (1 + seed), 2, datasets.point_signal(4))
    x, y, _ = planting.plant(data.x, data.y, [col], rng=seed)
    xs.append(data.featurize(x))
    ys.append(y)
  return np.stack(xs), np.stack(ys)


def test_vmapped_training_equals_a_loop():
  x, y = _planted([0, 1, 2])
  keys = _keys(3)
  batched = learners.train_many("logistic", x, y, keys, num_labels=3, config=FAST)
  for i in range(3):
    single = learners.train_many("logistic", x[i:i + 1], y[i:i + 1], keys[i:i + 1],
                                 num_labels=3, config=FAST)
    for a, b in zip(jax.tree.leaves(batched.params), jax.tree.leaves(single.params)):
      np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b)[0], rtol=2e-4, atol=2e-5)
  wide = learners.train_many("logistic", x, y, keys, num_labels=3, config=FAST, chunk=None)
  for a, b in zip(jax.tree.leaves(batched.params), jax.tree.leaves(wide.params)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_column_layout_equals_a_numpy_forward_pass_and_loss():
  """The trainers' samples-as-columns logits and loss against NumPy on (N, d) rows."""
  rng = np.random.default_rng(0)
  x = rng.standard_normal((7, 5)).astype(np.float32)
  y = np.array([0, 2, 1, 1, 0, 2, 2])
  for name in sorted(learners.LEARNERS):
    model = learners.make_model(name, 5, 3, key=1)
    layers = [(np.asarray(layer.kernel[...]), np.asarray(layer.bias[...]))
              for layer in ((model.hidden, model.out) if name == "mlp" else (model.linear,))]
    expected = x
    for i, (kernel, bias) in enumerate(layers):
      expected = expected @ kernel + bias
      expected = np.maximum(expected, 0) if i < len(layers) - 1 else expected
    logits_t = model.logits_t(x.T)
    np.testing.assert_allclose(logits_t, expected.T, rtol=1e-5, atol=1e-6, err_msg=name)
    log_softmax = expected - np.log(np.exp(expected).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(learners._cross_entropy_t(logits_t, y),
                               -log_softmax[np.arange(7), y], rtol=1e-5, atol=1e-6,
                               err_msg=name)


def test_training_is_deterministic_per_seed_and_seeds_differ():
  x, y = _planted([0, 1])
  a = learners.train_many("logistic", x, y, _keys(2, 3), num_labels=3, config=FAST)
  b = learners.train_many("logistic", x, y, _keys(2, 3), num_labels=3, config=FAST)
  c = learners.train_many("logistic", x, y, _keys(2, 4), num_labels=3, config=FAST)
  for la, lb, lc in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params),
                        jax.tree.leaves(c.params)):
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(la, lc)


def test_logistic_on_one_hot_is_bayes_consistent():
  """On one-hot features, f(x) is the most likely label of the planted data at x."""
  x, y = _planted([0, 1])
  trained = learners.train_many("logistic", x, y, _keys(2), num_labels=3, config=FAST)
  pred = learners.predict_many(trained, np.eye(6, dtype=np.float32))
  for i in range(2):
    counts = np.zeros((6, 3))
    np.add.at(counts, (x[i].argmax(axis=1), y[i]), 1)
    top = np.sort(counts, axis=1)
    clear = top[:, -1] - top[:, -2] > 30          # skip near-ties
    np.testing.assert_array_equal(pred[i][clear], counts.argmax(axis=1)[clear])


def test_mlp_minibatch_and_ngram_learn():
  digits = datasets.digits().subset(np.arange(600))
  x = digits.featurize(digits.x)
  mlp = learners.train_many("mlp", x, digits.y, _keys(2), num_labels=10, hidden=16,
                            config=learners.TrainConfig(steps=100, learning_rate=.02,
                                                        batch_size=128))
  assert np.mean(learners.predict_many(mlp, x) == digits.y) > .9
  text = datasets.synthetic_resumes(300, seed=0)
  feats = text.featurize(text.x)
  ngram = learners.train_many("ngram", feats, text.y, _keys(1), num_labels=4, config=FAST)
  assert np.mean(learners.predict_many(ngram, feats)[0] == text.y) > .9
  assert mlp.model(1)(x[:2]).shape == (2, 10)


def test_learner_errors_name_the_argument():
  x = np.zeros((4, 3), np.float32)
  with pytest.raises(ValueError, match="learner must be one of 'logistic', 'mlp', 'ngram'"):
    learners.train_many("svm", x, np.zeros(4, int), _keys(1), num_labels=2)
  with pytest.raises(ValueError, match="y must have shape"):
    learners.train_many("logistic", x, np.zeros(5, int), _keys(1), num_labels=2)
  with pytest.raises(ValueError, match="x has 2 datasets but there are 3 keys"):
    learners.train_many("logistic", np.zeros((2, 4, 3)), np.zeros((2, 4), int), _keys(3),
                        num_labels=2)



# --- divergence: non-finite training flagged per model ------------------------------


def test_train_many_flags_diverged_models():
  """An inf in one model's data makes only that model diverge; the flag is (B,) bool."""
  rng = np.random.default_rng(0)
  x = rng.standard_normal((3, 40, 5)).astype(np.float32)
  y = rng.integers(0, 3, (3, 40))
  config = learners.TrainConfig(steps=20)
  clean = learners.train_many("logistic", x, y, _keys(3), num_labels=3, config=config)
  assert clean.diverged.shape == (3,) and clean.diverged.dtype == bool
  assert clean.diverged.tolist() == [False, False, False]
  x[1, 3, 2] = np.inf
  for chunk in ("auto", None):
    out = learners.train_many("logistic", x, y, _keys(3), num_labels=3, config=config,
                              chunk=chunk)
    assert out.diverged.tolist() == [False, True, False]
    assert np.isfinite(np.asarray(out.final_loss)[[0, 2]]).all()


def test_train_many_flags_an_exploding_step_size():
  """A step size so large that the parameters overflow float32 diverges every model.

  (With Adam a step moves each parameter by at most about the step size, so
  1e6 gives huge but finite losses; 1e30 overflows.)
  """
  rng = np.random.default_rng(1)
  x = rng.standard_normal((30, 4)).astype(np.float32)
  y = rng.integers(0, 3, 30)
  config = learners.TrainConfig(steps=20, learning_rate=1e30)
  for name in ("logistic", "mlp"):
    out = learners.train_many(name, x, y, _keys(2), num_labels=3, config=config)
    assert out.diverged.tolist() == [True, True], name


@pytest.mark.parametrize("field, value", [
    ("learning_rate", float("nan")), ("learning_rate", float("inf")), ("learning_rate", 0.0),
    ("learning_rate", -0.1), ("l2", float("nan")), ("l2", float("inf")), ("l2", -1e-4),
    ("steps", 0), ("steps", 2.5), ("batch_size", 0)])
def test_train_config_rejects_bad_hyperparameters_naming_the_field(field, value):
  with pytest.raises(ValueError, match=f"^{field} must be"):
    learners.TrainConfig(**{field: value})


# --- validation: bounds below measured success where the theory applies ----------


def _spec(**kw):
  base = dict(dataset="finite_table", learner="logistic", p0=P0, num_samples=20000,
              collectives=(validate.CollectiveSpec(.06, 1, 4), validate.CollectiveSpec(.04, 2, 5),
                           validate.CollectiveSpec(.03, 1, [4, 5, 4, 5, 4, 5])),
              seeds=(0, 1), mass_grid=(.5, 1.0), configurations=((0,), (0, 1, 2)),
              steps=200, eps=0.05)
  base.update(kw)
  return validate.ValidationSpec(**base)


@pytest.fixture(scope="module")
def spec10_frame():
  return validate.run(_spec()).frame


TOL = 1e-6   # rounding of the exact engine's sums; the chain itself is exact


def _per(frame):
  return frame[~frame["collective"].isin(["S_min", "S_w"])]


def _above_success(frame, column):
  """Rows whose reported bound exceeds the measured success (NaN never does)."""
  return frame[column] > frame["success"] + TOL


def test_bounds_below_measured_success_on_finite_tables(spec10_frame):
  """success >= exact worst case at eps_hat >= Theorem 1 at eps_hat, row by row.

  Measured success, eps_hat, the exact engine and the bounds all live on the
  population table (weights P0_X), so Lemma 1 makes the chain exact: no
  sampling margin. The bound at the spec's eps holds where eps_hat <= eps.
  """
  frame = spec10_frame
  per = _per(frame)
  assert per["bound"].notna().all() and (per["bound_note"] == "").all()
  assert not _above_success(frame, "bound").any()                 # S_min and S_w rows too
  assert np.all(per["exact_success"] <= per["success"] + TOL)
  assert np.all(per["bound"] <= per["exact_success"] + TOL)       # the theorem itself
  assert (per["bound"] > 0.5).any()                                # not only vacuous bounds
  assert np.all((0 < per["eps_hat"]) & (per["eps_hat"] <= .01))   # near-Bayes learner
  holds = frame["eps_hat"] <= frame["eps"]
  assert holds.all() and not _above_success(frame[holds], "bound_at_eps").any()
  # c2 loses the half of its signal that lands on c1's point (SPEC §10).
  both = per[(per["active"] == "0+1+2") & (per["collective"] == "2")]
  np.testing.assert_allclose(both["success"], .5, atol=.03)


def test_validation_reports_masses_and_is_deterministic(spec10_frame):
  frame = spec10_frame
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  np.testing.assert_allclose(per["mass_used"], per["mass"], atol=.5 / 20000)
  assert np.allclose(per["eps_effective"] * 1000, np.round(per["eps_effective"] * 1000))
  again = validate.run(_spec(configurations=((0,),), mass_grid=(1.0,))).frame
  ref = frame[(frame["active"] == "0") & (frame["mass_scale"] == 1.0)]
  np.testing.assert_allclose(again["success"].to_numpy(), ref["success"].to_numpy())
  np.testing.assert_allclose(again["clean_accuracy"].to_numpy(),
                             ref["clean_accuracy"].to_numpy())


SPEC_TOML = """
name = "tiny"
dataset = "finite_table"
learner = "logistic"
seeds = [0]
mass_grid = [1.0]
eps = 0.05
[data]
num_samples = 20000
p0 = [[0.10, 0.05, 0.05], [0.05, 0.15, 0.00], [0.10, 0.05, 0.05],
      [0.05, 0.05, 0.10], [0.04, 0.03, 0.03], [0.03, 0.03, 0.04]]
[train]
steps = 200
[[collectives]]
mass = 0.06
target = 1
signal = 4
[[collectives]]
mass = 0.04
target = 2
signal = 5
"""


def test_cli_validate_writes_csv_and_figure(tmp_path, capsys):
  spec = tmp_path / "spec.toml"
  spec.write_text(SPEC_TOML)
  assert cli.main(["validate", str(spec), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
  import pandas as pd
  frame = pd.read_csv(tmp_path / "out" / "results.csv")
  assert {"success", "eps_hat", "bound", "exact_success", "eps_effective", "bound_at_eps",
          "exact_at_eps", "bound_note", "noise", "clean_accuracy",
          "mass_used"} <= set(frame.columns)
  assert len(frame) == 4                      # two collectives, S_min, S_w
  assert (tmp_path / "out" / "success_vs_mass.png").read_bytes()[:4] == b"\x89PNG"
  assert "1 models" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    (('dataset = "finite_table"', 'dataset = "imagenet"'),
     r"spec.toml: dataset: unknown dataset 'imagenet'; allowed: finite_table, gaussian_mixture"),
    (('learner = "logistic"', 'learner = "forest"'),
     r"learner: unknown learner 'forest'; allowed: logistic, mlp, ngram"),
    (("mass = 0.04", "mass = 0.00001"),
     r"collectives\[1\].mass: mass 1e-05 x 1.0 .* gives no member among data.num_samples"),
    (("signal = 5", "signal = 9"), r"collectives\[1\].signal: a point must lie in \[0, 6\)"),
    (("steps = 200", "stepz = 200"), r"train.stepz: unknown key; allowed:"),
    (("target = 2", "target = 3"), r"collectives\[1\].target: must be a label in \[0, 3\)"),
    (("steps = 200", "steps = 200\nlearning_rate = nan"),
     r"spec.toml: train.learning_rate: must be a finite number > 0; got nan"),
    (("steps = 200", "steps = 200\nl2 = inf"),
     r"spec.toml: train.l2: must be a finite number >= 0"),
    (("num_samples = 20000", "num_samples = 2e4"),
     r"spec.toml: data.num_samples: must be an integer >= 1; got 20000.0 \(a float\)"),
    (("num_samples = 20000", "num_samples = 100000000000"),
     r"spec.toml: data.num_samples: needs about [\d,]+ MB .* over run.memory_cap_mb = 4096"),
    (("seeds = [0]", 'seeds = "0"'), r"spec.toml: seeds: must be a list; got '0' \(a string\)"),
    (("eps = 0.05", "eps = nan"),
     r"spec.toml: eps: must be a finite number in \[0, 0.5\); got nan"),
    (("mass_grid = [1.0]", "mass_grid = [1.0, 12.0]"),
     r"configurations\[0\]: total mass 1.2 .* must be < 1"),
])
def test_bad_specs_fail_before_compilation_naming_file_and_key(tmp_path, capsys, change, message):
  spec = tmp_path / "spec.toml"
  spec.write_text(SPEC_TOML.replace(*change))
  with pytest.raises(validate.SpecError, match=message):
    validate.load(spec)
  assert cli.main(["validate", str(spec), "--out", str(tmp_path / "o")]) == 2
  assert "acajax validate: error:" in capsys.readouterr().err
  assert not (tmp_path / "o").exists()


def test_text_bounds_at_eps_hat_and_a_wrong_eps_fails():
  """Held-out text as a finite table: the bound is reported at the learner's eps_hat.

  A rare character's images carry only the planted label, so a learner that
  misses one is not eps-suboptimal for any eps < 1/2: its bound is withheld.
  The Theorem 1 value at the spec's eps = 0 (1.0: xi_c = 0, no competition)
  sits above the measured success: the check that passes at eps_hat fails
  for a wrong eps.
  """
  spec = validate.ValidationSpec(
      dataset="synthetic_resumes", learner="ngram", num_samples=600, test_samples=200,
      collectives=(validate.CollectiveSpec(.1, 0, "\u00a7"),
                   validate.CollectiveSpec(.1, 1, "\u00a7")),
      configurations=((0,), (0, 1)), steps=150, eps=0.0)
  frame = validate.run(spec).frame
  alone = frame[(frame["active"] == "0") & (frame["collective"] == "0")].iloc[0]
  both = frame[(frame["active"] == "0+1") & (frame["collective"] == "0")].iloc[0]
  assert .8 < alone["success"] < 1 and alone["eps_hat"] > .5
  assert np.isnan(alone["bound"]) and alone["bound_note"] == "eps_hat >= 1/2"
  assert alone["bound_at_eps"] == 1.0 and alone["exact_at_eps"] == 1.0
  wrong = _above_success(frame, "bound_at_eps")
  assert wrong.any() and np.all(frame[wrong]["eps_hat"] > frame[wrong]["eps"])
  assert not _above_success(frame, "bound").any()
  # Same character, opposed targets: the shared images are ties, the bound is 0.
  assert both["bound"] == 0.0 and both["success"] < alone["success"] - .2
  assert np.all(_per(frame)["exact_success"].fillna(0) <= _per(frame)["success"] + TOL)


def test_climate_adaptation_validation():
  """M = 4 collectives of total mass 0.4 on the climate table.

  Theorem 1 at eps_hat <= exact <= measured wherever it applies; the small
  collectives' learner is far from Bayes (eps_hat near 1/2), and there the
  bound at the spec's eps = 0 exceeds the measured success: a wrong eps fails.
  """
  C = validate.CollectiveSpec
  spec = validate.ValidationSpec(
      dataset="climate_adaptation", learner="logistic", num_samples=3000, steps=100,
      collectives=(C(.16, 1, 1), C(.12, 2, 2), C(.08, 1, 3), C(.04, 0, 4)))
  frame = validate.run(spec).frame
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  assert len(per) == 4
  np.testing.assert_allclose(per["mass_used"].sum(), .4, atol=4 / 3000)
  applies = per["bound"].notna()
  assert np.all(per["bound"][applies] <= per["exact_success"][applies] + TOL)
  assert np.all(per["exact_success"].fillna(0) <= per["success"] + TOL)
  assert (per["bound_note"][~applies] == "eps_hat >= 1/2").all()
  assert (per["bound"] > .9).any()
  wrong = _above_success(per, "bound_at_eps")
  assert wrong.any() and np.all(per[wrong]["eps_hat"] > per[wrong]["eps"])
  assert np.all(per["eps_effective"][wrong] > 0)
  assert np.all((per["success"] >= 0) & (per["success"] <= 1))
