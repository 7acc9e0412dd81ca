"""Spec values: every value that would give a silent number, or exhaust memory, is refused.

Table-driven and fast (nothing is trained or compiled): each bad value of a
validation spec, a recommender spec, a sweep spec or a ``csv_report`` call is
refused with the spec's error type (``SpecError``/``DataError``), whose
message names the file and the key (or the line and column, or the flag) and
states what is allowed. Valid specs, the examples among them, still load
unchanged (same values, same sweep fingerprints).
"""

import pathlib

import numpy as np
import pytest

from acajax import datasets, learners, sweep
from acajax.runs import _spec as spec_io
from acajax.runs import finite_sample as fs
from acajax.runs import recommender as rec
from acajax.runs import validate
from acajax.sweep import Axis, Reduce, SweepSpec
from acajax.sweep import _spec as sweep_spec

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _edit(base: str, old: str, new: str) -> str:
  assert old in base, old
  return base.replace(old, new, 1)


def _refused(error, call, path, key, expected):
  """``call()`` raises ``error`` whose message is ``<path>: <key>: ...expected...``."""
  with pytest.raises(error) as info:
    call()
  message = str(info.value)
  assert message.startswith(f"{path}: {key}: "), message
  assert expected in message, message
  return message


# -- the typed value checkers ------------------------------------------------------------


@pytest.mark.parametrize("value, kwargs, expected", [
    (float("nan"), {}, "must be a finite number; got nan"),
    (float("inf"), dict(low=0, low_open=True), "must be a finite number > 0; got inf"),
    (True, dict(low=0), "must be a finite number >= 0; got true (a boolean)"),
    ("0.1", {}, "must be a finite number; got '0.1' (a string)"),
    (0.5, dict(low=0, high=0.5, high_open=True), "must be a finite number in [0, 0.5); got 0.5"),
    (-1, dict(low=0), "must be a finite number >= 0; got -1"),
])
def test_number_refuses_with_the_key_and_the_range(value, kwargs, expected):
  with pytest.raises(spec_io.SpecError, match="^s.toml: a.b: ") as info:
    spec_io.number("s.toml", "a.b", value, **kwargs)
  assert str(info.value).endswith(expected)


@pytest.mark.parametrize("value, expected", [
    (1e11, "must be an integer >= 1; got 1e+11 (a float)"),
    (3.0, "must be an integer >= 1; got 3.0 (a float)"),
    (0, "must be an integer >= 1; got 0"),
    (False, "must be an integer >= 1; got false (a boolean)"),
    ([1], "must be an integer >= 1; got [1] (a list)"),
])
def test_integer_refuses_floats_bools_and_small_values(value, expected):
  with pytest.raises(spec_io.SpecError) as info:
    spec_io.integer("s.toml", "n", value, low=1)
  assert str(info.value) == f"s.toml: n: {expected}"


def test_checkers_accept_good_values_and_name_list_elements():
  assert spec_io.number("s", "k", 2) == 2.0 and spec_io.integer("s", "k", np.int64(3)) == 3
  assert spec_io.numbers("s", "k", [0, 0.5], low=0, high=1) == (0.0, 0.5)
  with pytest.raises(spec_io.SpecError, match=r"^s: k\[1\]: must be a finite number in \[0, 1\]"):
    spec_io.numbers("s", "k", [0, float("nan")], low=0, high=1)
  with pytest.raises(spec_io.SpecError, match=r"^s: k\[1\]\[0\]: must be a finite number >= 0"):
    spec_io.matrix("s", "k", [[0.5, 0.5], [-1, 1]], low=0)
  with pytest.raises(spec_io.SpecError, match=r"^s: k: must be rectangular"):
    spec_io.matrix("s", "k", [[0.5, 0.5], [1]])


# -- validation specs --------------------------------------------------------------------

VALIDATION = """\
dataset = "finite_table"
learner = "logistic"
seeds = [0]
mass_grid = [1.0]
eps = 0.0
[data]
num_samples = 200
p0 = [[0.3, 0.2], [0.2, 0.3]]
[train]
steps = 5
learning_rate = 0.1
l2 = 1e-4
[[collectives]]
mass = 0.1
target = 1
signal = 1
abstain = 0.0
"""


def _v(old, new):
  return _edit(VALIDATION, old, new)


DIGITS = """\
dataset = "digits"
learner = "logistic"
[data]
num_samples = 1200
test_samples = 597
[[collectives]]
mass = 0.05
target = 3
signal = [[0, 0]]
"""

GAUSSIAN = """\
dataset = "gaussian_mixture"
learner = "logistic"
[data]
num_samples = 100
test_samples = 50
[[collectives]]
mass = 0.1
target = 1
signal = {coordinates = [0], value = 3.0}
"""

_NO_DATA = VALIDATION.replace("[data]\nnum_samples = 200\np0 = [[0.3, 0.2], [0.2, 0.3]]\n", "")
_NO_COLLECTIVES = VALIDATION.split("[[collectives]]")[0]

VALIDATION_CASES = [
    # Types: a SpecError naming the key, never a TypeError.
    pytest.param(_edit(_NO_DATA, "eps = 0.0", "eps = 0.0\ndata = 5"), "data",
                 "must be a table; got int", id="data-not-a-table"),
    pytest.param(_edit(_NO_COLLECTIVES, "eps = 0.0", "eps = 0.0\ncollectives = [1, 2]"),
                 "collectives[0]", "must be a table ([[collectives]] entry); got 1",
                 id="collectives-of-numbers"),
    pytest.param(_v("p0 = [[0.3, 0.2], [0.2, 0.3]]", "p0 = [0.5, 0.5]"), "data.p0",
                 "must be a table of rows", id="flat-p0"),
    pytest.param(_v("seeds = [0]", 'seeds = "a"'), "seeds", "must be a list", id="seeds-string"),
    pytest.param(_v("seeds = [0]", 'seeds = ["a"]'), "seeds[0]", "must be an integer in [0, ",
                 id="seeds-of-strings"),
    pytest.param(_v("seeds = [0]", "seeds = [4294967296]"), "seeds[0]",
                 "must be an integer in [0, 4294967295]", id="seed-beyond-32-bits"),
    pytest.param(_v("eps = 0.0", "eps = 0.0\nconfigurations = 5"), "configurations",
                 "must be a list", id="configurations-number"),
    pytest.param(_v("eps = 0.0", 'eps = 0.0\nconfigurations = [[0, "a"]]'), "configurations[0]",
                 "must list distinct collective indices in [0, 1)", id="configuration-string"),
    pytest.param(_v("mass = 0.1", 'mass = "0.1"'), "collectives[0].mass",
                 "must be a finite number > 0; got '0.1' (a string)", id="mass-string"),
    pytest.param(_v("eps = 0.0", "eps = 0.0\nname = 5"), "name", "must be a string",
                 id="name-number"),
    pytest.param(_v("target = 1", "target = 1\nname = 5"), "collectives[0].name",
                 "must be a string", id="collective-name-number"),
    # Hyperparameters: finite and in range.
    pytest.param(_v("learning_rate = 0.1", "learning_rate = nan"), "train.learning_rate",
                 "must be a finite number > 0; got nan", id="learning-rate-nan"),
    pytest.param(_v("learning_rate = 0.1", "learning_rate = inf"), "train.learning_rate",
                 "must be a finite number > 0; got inf", id="learning-rate-inf"),
    pytest.param(_v("learning_rate = 0.1", "learning_rate = 0.0"), "train.learning_rate",
                 "must be a finite number > 0; got 0", id="learning-rate-zero"),
    pytest.param(_v("l2 = 1e-4", "l2 = -1.0"), "train.l2", "must be a finite number >= 0",
                 id="l2-negative"),
    pytest.param(_v("l2 = 1e-4", "l2 = nan"), "train.l2", "got nan", id="l2-nan"),
    pytest.param(_v("l2 = 1e-4", "l2 = inf"), "train.l2", "got inf", id="l2-inf"),
    pytest.param(_v("steps = 5", "steps = 0"), "train.steps", "must be an integer >= 1",
                 id="steps-zero"),
    pytest.param(_v("steps = 5", "steps = 5.0"), "train.steps", "got 5.0 (a float)",
                 id="steps-float"),
    pytest.param(_v("steps = 5", "steps = 5\nbatch_size = 0"), "train.batch_size",
                 "must be an integer >= 1", id="batch-size-zero"),
    pytest.param(_v("steps = 5", "steps = 5\nhidden = 0"), "train.hidden",
                 "must be an integer >= 1", id="hidden-zero"),
    pytest.param(_v("steps = 5", "steps = 5\nmodels_per_call = 0"), "train.models_per_call",
                 "must be an integer >= 1", id="models-per-call-zero"),
    pytest.param(_v("eps = 0.0", "eps = 0.5"), "eps", "must be a finite number in [0, 0.5)",
                 id="eps-half"),
    pytest.param(_v("eps = 0.0", "eps = nan"), "eps", "in [0, 0.5); got nan", id="eps-nan"),
    # Masses and noise.
    pytest.param(_v("mass = 0.1", "mass = -0.1"), "collectives[0].mass",
                 "must be a finite number > 0", id="mass-negative"),
    pytest.param(_v("mass = 0.1", "mass = inf"), "collectives[0].mass", "got inf",
                 id="mass-inf"),
    pytest.param(_v("mass_grid = [1.0]", "mass_grid = [1.0, 10.0]"), "configurations[0]",
                 "total mass 1 (collectives[0].mass, times the largest mass_grid value 10) "
                 "must be < 1", id="mass-grid-sum"),
    pytest.param(_v("mass_grid = [1.0]", "mass_grid = [nan]"), "mass_grid[0]",
                 "must be a finite number > 0", id="mass-grid-nan"),
    pytest.param(_v("abstain = 0.0", "abstain = 1.5"), "collectives[0].abstain",
                 "must be a finite number in [0, 1]; got 1.5", id="abstain-above-one"),
    pytest.param(_v("abstain = 0.0", "abstain = nan"), "collectives[0].abstain", "got nan",
                 id="abstain-nan"),
    pytest.param(_v("abstain = 0.0", "abstain = 0.6\nwrong_label = 0.6"), "collectives[0]",
                 "with sum <= 1", id="noise-sum"),
    pytest.param(_v("eps = 0.0", "eps = 0.0\nnoise_grid = [nan]"), "noise_grid[0]",
                 "must be a finite number in [0, 1]; got nan", id="noise-grid-nan"),
    pytest.param(_v("eps = 0.0", "eps = 0.0\nnoise_grid = [0.5]\nnoise_scale = [-1.0]"),
                 "noise_scale[0]", "must be a finite number >= 0", id="noise-scale-negative"),
    pytest.param(_v("p0 = [[0.3, 0.2], [0.2, 0.3]]", "p0 = [[0.3, nan], [0.2, 0.3]]"),
                 "data.p0[0][1]", "must be a finite number >= 0; got nan", id="p0-nan"),
    pytest.param(_v("p0 = [[0.3, 0.2], [0.2, 0.3]]", "p0 = [[0.5], [0.5]]"), "data.p0",
                 "K >= 2 labels", id="p0-one-label"),
    # Sizes and memory.
    pytest.param(_v("num_samples = 200", "num_samples = 1e11"), "data.num_samples",
                 "must be an integer >= 1; got 1e+11 (a float)", id="num-samples-float"),
    pytest.param(_v("num_samples = 200", "num_samples = 100000000000"), "data.num_samples",
                 "over run.memory_cap_mb = 4096; lower data.num_samples", id="num-samples-memory"),
    pytest.param(_v("num_samples = 200", "num_samples = 2000000") + "[run]\nmemory_cap_mb = 8\n",
                 "data.num_samples", "over run.memory_cap_mb = 8", id="memory-cap-key"),
    pytest.param(VALIDATION + "[run]\nmemory_cap_mb = nan\n", "run.memory_cap_mb",
                 "must be a finite number > 0", id="memory-cap-nan"),
    pytest.param(_v("steps = 5", "steps = 1000000000000"), "train.steps",
                 "a key and a loss per step", id="steps-memory"),
    pytest.param(_v('learner = "logistic"', 'learner = "mlp"').replace(
        "steps = 5", "steps = 5\nhidden = 1000000000"), "train.hidden", "lower train.hidden",
                 id="hidden-memory"),
    pytest.param(_edit(DIGITS, "test_samples = 597", "test_samples = 1000"), "data.test_samples",
                 "digits has 1797 samples and num_samples = 1200 leaves 597 for testing; got "
                 "test_samples = 1000 (the default) (allowed: at most 597",
                 id="digits-test-samples-default"),
    pytest.param(_edit(DIGITS, "test_samples = 597", "test_samples = 598"), "data.test_samples",
                 "allowed: at most 597", id="digits-test-samples"),
    pytest.param(_edit(DIGITS, "num_samples = 1200", "num_samples = 1797"), "data.num_samples",
                 "leaves none for testing (allowed: at most 1796)", id="digits-num-samples"),
    # Targets outside the dataset's labels; signals outside the data.
    pytest.param(_v("target = 1", "target = 2"), "collectives[0].target",
                 "must be a label in [0, 2) (finite_table); got 2", id="finite-table-target"),
    pytest.param(_edit(DIGITS, "target = 3", "target = 10"), "collectives[0].target",
                 "must be a label in [0, 10) (digits)", id="digits-target"),
    pytest.param(_edit(GAUSSIAN, "coordinates = [0]", "coordinates = [100]"),
                 "collectives[0].signal.coordinates[0]", "must be an integer in [0, 7]",
                 id="gaussian-coordinate"),
    pytest.param(_edit(GAUSSIAN, "value = 3.0", "value = nan"), "collectives[0].signal.value",
                 "must be a finite number; got nan", id="gaussian-value-nan"),
]


@pytest.mark.parametrize("text, key, expected", VALIDATION_CASES)
def test_bad_validation_values_are_refused_at_load(tmp_path, text, key, expected):
  path = tmp_path / "spec.toml"
  path.write_text(text)
  _refused(validate.SpecError, lambda: validate.load(path), path, key, expected)


def test_data_path_that_is_not_a_string(tmp_path):
  path = tmp_path / "spec.toml"
  path.write_text('dataset = "resume_file"\nlearner = "ngram"\n[data]\npath = 5\n'
                  '[[collectives]]\nmass = 0.1\ntarget = 0\nsignal = "~"\n')
  _refused(validate.SpecError, lambda: validate.load(path), path, "data.path", "must be a string")


RESUMES = """\
dataset = "resume_file"
learner = "ngram"
[data]
path = "resumes.txt"
num_samples = 20
test_samples = 10
[train]
steps = 3
[[collectives]]
mass = 0.2
target = 1
signal = "~"
"""


@pytest.mark.parametrize("old, new, key, expected", [
    ("target = 1", "target = 5", "collectives[0].target",
     "must be a label of the corpus {corpus}, in [0, 4) (0 = Database_Administrator, "
     "1 = Network_Administrator, 2 = Project_manager, 3 = Software_Developer); got 5"),
    ("test_samples = 10", "test_samples = 500", "data.test_samples",
     "the corpus {corpus} has 30 samples and num_samples = 20 leaves 10 for testing; got "
     "test_samples = 500 (allowed: at most 10"),
    ("num_samples = 20", "num_samples = 30", "data.num_samples",
     "the corpus {corpus} has 30 samples; num_samples = 30 leaves none for testing"),
], ids=["target-not-a-corpus-label", "test-samples-beyond-corpus", "no-test-samples"])
def test_corpus_size_and_labels_are_checked_before_training(tmp_path, monkeypatch, old, new, key,
                                                            expected):
  corpus = tmp_path / "resumes.txt"
  corpus.write_text(datasets.format_resume_corpus(datasets.synthetic_resumes(30, seed=0, words=8)),
                    encoding="utf-8")
  path = tmp_path / "spec.toml"
  path.write_text(_edit(RESUMES, old, new))
  spec = validate.load(path)           # the corpus is read by run
  monkeypatch.setattr(learners, "train_many", lambda *a, **k: pytest.fail("trained"))
  _refused(validate.SpecError, lambda: validate.run(spec), path, key,
           expected.format(corpus=corpus))


def test_python_built_validation_specs_are_checked_the_same_way():
  good = validate.ValidationSpec(dataset="finite_table", learner="logistic",
                                 collectives=(validate.CollectiveSpec(0.1, 1, 1),),
                                 p0=np.array([[.3, .2], [.2, .3]]), num_samples=200)
  assert validate.validated(good).p0 == ((.3, .2), (.2, .3))
  bad = good.__class__(**{**good.__dict__, "learning_rate": float("nan")})
  with pytest.raises(validate.SpecError, match=r"^<spec>: train.learning_rate: .* got nan"):
    validate.validated(bad)
  with pytest.raises(validate.SpecError, match=r"^<spec>: collectives\[0\]: must be a collective"):
    validate.validated(good.__class__(**{**good.__dict__, "collectives": ({"mass": .1},)}))


def test_validation_memory_estimate_counts_every_planted_model():
  spec = validate.load(EXAMPLES / "learners_spec.toml")
  parts = validate.estimated_memory_bytes(spec)
  models = 2 * 3 * 2                      # seeds x mass_grid x configurations
  assert parts["data.num_samples"] >= models * 5000 * 6 * 4
  assert sum(parts.values()) < validate.DEFAULT_MEMORY_CAP_MB * 2**20


def test_digits_size_is_the_bundled_dataset():
  assert len(datasets.digits()) == datasets.DIGITS_SIZE
  assert datasets.digits().num_labels == datasets.DIGITS_LABELS


# -- recommender specs ---------------------------------------------------------------------

RECOMMENDER = """\
kind = "recommender"
seeds = [0]
sizes = [5]
homogeneity = [0.5]
k = 10
num_targets = 5
[data]
source = "synthetic"
num_users = 60
num_items = 30
ratings_per_user = 10
[model]
rank = 4
steps = 3
learning_rate = 0.05
reg = 0.1
[target_sets]
A = [1, 2]
[[collectives]]
name = "p"
archetype = "promoter"
targets = "A"
"""


def _r(old, new):
  return _edit(RECOMMENDER, old, new)


RECOMMENDER_CASES = [
    pytest.param(_r("reg = 0.1", "reg = inf"), "model.reg", "must be a finite number >= 0; got inf",
                 id="reg-inf"),
    pytest.param(_r("reg = 0.1", "reg = -1.0"), "model.reg", "must be a finite number >= 0",
                 id="reg-negative"),
    pytest.param(_r("reg = 0.1", "reg = nan"), "model.reg", "got nan", id="reg-nan"),
    pytest.param(_r("learning_rate = 0.05", "learning_rate = nan"), "model.learning_rate",
                 "must be a finite number > 0; got nan", id="learning-rate-nan"),
    pytest.param(_r("learning_rate = 0.05", "learning_rate = inf"), "model.learning_rate",
                 "got inf", id="learning-rate-inf"),
    pytest.param(_r("learning_rate = 0.05", "learning_rate = 0.0"), "model.learning_rate",
                 "must be a finite number > 0", id="learning-rate-zero"),
    pytest.param(_r("reg = 0.1", "reg = 0.1\ninit_std = inf"), "model.init_std", "got inf",
                 id="init-std-inf"),
    pytest.param(_r("rank = 4", "rank = 0"), "model.rank", "must be an integer >= 1",
                 id="rank-zero"),
    pytest.param(_r("steps = 3", "steps = 0"), "model.steps", "must be an integer >= 1",
                 id="steps-zero"),
    pytest.param(_r("steps = 3", "steps = 3.0"), "model.steps", "got 3.0 (a float)",
                 id="steps-float"),
    pytest.param(_r("reg = 0.1", "reg = 0.1\nbatch_size = 0"), "model.batch_size",
                 "must be an integer >= 1", id="batch-size-zero"),
    pytest.param(_r("sizes = [5]", "sizes = [nan]"), "sizes", "must lie in (0, 1); got nan",
                 id="size-nan"),
    pytest.param(_r("sizes = [5]", "sizes = [1000]"), "sizes",
                 "asks for 1000 members but there are only 60 users", id="size-above-users"),
    pytest.param(_r("sizes = [5]", "sizes = [40]").replace(
        'targets = "A"\n', 'targets = "A"\n[[collectives]]\nname = "d"\narchetype = "demoter"\n'
        'targets = "A"\n'), "sizes", "80 in all (members are disjoint); the data have 60 users",
                 id="disjoint-sizes-above-users"),
    pytest.param(_r("homogeneity = [0.5]", "homogeneity = [nan]"), "homogeneity",
                 "values must lie in (0, 1]", id="homogeneity-nan"),
    pytest.param(_r("k = 10", "k = 0"), "k", "must be a positive integer", id="k-zero"),
    pytest.param(_r("k = 10", "k = 31"), "k", "must be at most the number of items, 30",
                 id="k-above-items"),
    pytest.param(_r("num_targets = 5", "num_targets = 0"), "num_targets",
                 "must be a positive integer", id="num-targets-zero"),
    pytest.param(_r("num_targets = 5", "num_targets = 20").replace("A = [1, 2]",
                                                                   'A = "niche"\nB = "niche"'),
                 "num_targets", "2 niche set(s) of 20 items need 40 distinct items; the data "
                 "have 30", id="num-targets-above-items"),
    pytest.param(_r("seeds = [0]", "seeds = [-1]"), "seeds[0]",
                 "must be an integer in [0, 4294967295]", id="seed-negative"),
    pytest.param(_r("ratings_per_user = 10", "ratings_per_user = 10\nzipf = nan"), "data.zipf",
                 "must be a finite number >= 0; got nan", id="zipf-nan"),
    pytest.param(_r("num_users = 60", "num_users = 60.5"), "data.num_users",
                 "must be an integer >= 1; got 60.5 (a float)", id="num-users-float"),
    pytest.param(_r("ratings_per_user = 10", "ratings_per_user = 31"), "data.ratings_per_user",
                 "must be at most data.num_items = 30", id="ratings-per-user-above-items"),
    pytest.param(_r("num_users = 60", "num_users = 10000000").replace(
        "num_items = 30", "num_items = 100000"), "data",
                 "over run.memory_cap_mb = 4096", id="dense-matrices-memory"),
    pytest.param(RECOMMENDER + "[run]\nmemory_cap_mb = -1\n", "run.memory_cap_mb",
                 "must be a finite number > 0", id="memory-cap-negative"),
    pytest.param(_r('targets = "A"', 'targets = "A"\nrating = nan'), "collectives[0].rating",
                 "must be a finite number in [1, 5]; got nan", id="rating-nan"),
    pytest.param(_r('targets = "A"', 'targets = "A"\nrating = 9.0'), "collectives[0].rating",
                 "in [1, 5]; got 9", id="rating-off-the-scale"),
    pytest.param(RECOMMENDER.split("[data]")[0] + "data = 5\n[target_sets]"
                 + RECOMMENDER.split("[target_sets]")[1], "data", "must be a table; got int",
                 id="data-not-a-table"),
    pytest.param(_r("seeds = [0]", "seeds = [0]\nname = 5"), "name", "must be a string",
                 id="name-number"),
]


@pytest.mark.parametrize("text, key, expected", RECOMMENDER_CASES)
def test_bad_recommender_values_are_refused_at_load(tmp_path, text, key, expected):
  path = tmp_path / "spec.toml"
  path.write_text(text)
  _refused(rec.SpecError, lambda: rec.load(path), path, key, expected)


def _movielens(tmp_path, users=12, items=12):
  rng = np.random.default_rng(0)
  lines = [f"{u}\t{i}\t{rng.integers(1, 6)}\t88125{u:02d}{i:02d}" for u in range(1, users + 1)
           for i in range(1, items + 1) if rng.random() < 0.7 or i == u % items + 1]
  (tmp_path / "u.data").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("old, new, key, expected", [
    ("k = 10", "k = 13", "k", "must be at most the number of items, 12"),
    ("sizes = [5]", "sizes = [20]", "sizes", "asks for 20 members but there are only 12 users"),
], ids=["k-above-items", "size-above-users"])
def test_movielens_sizes_are_checked_once_the_data_are_read(tmp_path, old, new, key, expected):
  _movielens(tmp_path)
  text = _r('source = "synthetic"\nnum_users = 60\nnum_items = 30\nratings_per_user = 10',
            'source = "movielens"\npath = "u.data"\nnum_clusters = 2').replace(old, new)
  path = tmp_path / "spec.toml"
  path.write_text(text)
  spec = rec.load(path)                 # MovieLens sizes are known once the file is read
  _refused(rec.SpecError, lambda: rec._experiment(spec), path, key, expected)


# -- sweep specs ---------------------------------------------------------------------------

SWEEP = """\
bounds = ["feature_label"]
collectives = 2
[fixed]
alpha = [0.05, 0.05]
xi_c = 0.01
delta = 0.5
eps = 0.05
[axes]
xi = {kind = "linspace", start = 0.0, stop = 0.3, num = 4}
"""


def _s(old, new):
  return _edit(SWEEP, old, new)


SWEEP_CASES = [
    pytest.param(_s("alpha = [0.05, 0.05]", "alpha = [0.6, 0.5]"), "fixed.alpha[0]",
                 "masses can sum to 1.1 >= 1 at a grid point (largest values: fixed.alpha[0] = "
                 "0.6, fixed.alpha[1] = 0.5; collectives = 2)", id="fixed-masses-sum"),
    pytest.param(_s("alpha = [0.05, 0.05]", "alpha = 0.5"), "fixed.alpha",
                 "masses can sum to 1 >= 1", id="fixed-mass-for-all-sums-to-one"),
    pytest.param(_s("[axes]", '[axes]\n"alpha[0]" = {kind = "linspace", start = 0.1, stop = 0.99, '
                              'num = 5}'), 'axes."alpha[0]"',
                 'largest values: axes."alpha[0]" = 0.99, fixed.alpha[1] = 0.05',
                 id="swept-mass-sums"),
    pytest.param(_s("alpha = [0.05, 0.05]\n", "").replace(
        "[axes]", '[axes]\nalpha = {kind = "values", values = [0.1, 0.6]}'), "axes.alpha",
                 "masses can sum to 1.2 >= 1", id="alpha-axis-for-all-sums"),
    pytest.param(_s("[axes]", '[axes]\n"alpha[0]" = {kind = "logspace", start = 0.5, stop = 0.01, '
                              'num = 3}\n"alpha[1]" = {kind = "values", values = [0.5, 0.1]}'),
                 'axes."alpha[0]"', "can sum to 1 >= 1", id="two-mass-axes-at-their-extremes"),
    pytest.param(_s("collectives = 2", "collectives = 100000000").replace(
        "alpha = [0.05, 0.05]", "alpha = 0.000000001"), "collectives",
                 "100,000,000 output columns", id="collectives-memory"),
    pytest.param(SWEEP + "[run]\nmax_hours = 0\n", "run.max_hours",
                 "must be a finite number > 0; got 0", id="max-hours-zero"),
    pytest.param(SWEEP + "[run]\nmax_hours = nan\n", "run.max_hours", "got nan",
                 id="max-hours-nan"),
    pytest.param(SWEEP + "[run]\nmax_hours = \"1h\"\n", "run.max_hours", "got '1h' (a string)",
                 id="max-hours-string"),
    pytest.param(SWEEP + "[run]\nmemory_cap_mb = inf\n", "run.memory_cap_mb", "got inf",
                 id="memory-cap-inf"),
    pytest.param(SWEEP + "[run]\nchunk_points = 1e6\n", "run.chunk_points",
                 "got 1e+06 (a float)", id="chunk-points-float"),
    pytest.param(SWEEP + "[run]\nallow_out_of_domain = 1\n", "run.allow_out_of_domain",
                 "must be true or false", id="allow-out-of-domain-number"),
]


@pytest.mark.parametrize("text, key, expected", SWEEP_CASES)
def test_bad_sweep_values_are_refused_at_load(tmp_path, text, key, expected):
  path = tmp_path / "sweep.toml"
  path.write_text(text)
  _refused(sweep.SpecError, lambda: sweep.load(path), path, key, expected)


def test_masses_over_one_load_when_allowed_and_round_trip():
  text = _s("alpha = [0.05, 0.05]", "alpha = [0.6, 0.5]") + "[run]\nallow_out_of_domain = true\n"
  spec = sweep.loads(text)
  assert spec.allow_out_of_domain and "allow_out_of_domain = true" in spec.to_toml()
  assert sweep.loads(spec.to_toml()) == spec
  assert spec.fingerprint() == spec.replace(allow_out_of_domain=False).fingerprint()


def test_max_hours_round_trips_and_leaves_the_fingerprint_alone():
  spec = sweep.loads(SWEEP)
  assert spec.max_hours == sweep.DEFAULT_MAX_HOURS == 24.0
  assert "max_hours" not in spec.to_toml() and "allow_out_of_domain" not in spec.to_toml()
  limited = sweep.loads(SWEEP + "[run]\nmax_hours = 2.5\n")
  assert limited.max_hours == 2.5 and "max_hours = 2.5" in limited.to_toml()
  assert sweep.loads(limited.to_toml()) == limited
  assert limited.fingerprint() == spec.fingerprint()


# The fingerprints of the example sweeps (those older than run.max_hours: unchanged by it).
EXAMPLE_FINGERPRINTS = {"alignment": "a3fdedae1fdd4338", "exact_tightness": "837449e5f204746d",
                        "overlap": "14cb47241db62ecc", "single_collective": "5f3309f4d380183a",
                        "best_split": "44d0c20574ee1a45", "strategy_axis": "4d2b2b9bc1088693",
                        "eraser": "135eb304085e1983"}


def test_example_sweeps_load_unchanged():
  paths = sorted((EXAMPLES / "sweeps").glob("*.toml"))
  assert {p.stem for p in paths} == set(EXAMPLE_FINGERPRINTS)
  for path in paths:
    spec = sweep.load(path)
    assert spec.fingerprint() == EXAMPLE_FINGERPRINTS[path.stem], path
    assert spec.max_hours == 24.0 and not spec.allow_out_of_domain
    assert sweep.loads(spec.to_toml()) == spec
    assert 0 < sweep.estimated_seconds(spec) < 600            # small: well under max_hours
    assert 0 < sweep.estimated_memory_bytes(spec) == spec.estimated_memory_bytes()


def test_estimated_seconds_flags_an_astronomical_sweep():
  axes = {name: Axis.linspace(0.0, 0.3, 2**24) for name in ("xi", "xi_c", "eps")}
  spec = SweepSpec(axes=axes, bounds=("feature_label",), fixed={"alpha": .05, "delta": .5},
                   reduce=Reduce(tuple(axes), ("min",))).validated()   # memory is bounded
  assert spec.num_points == 2**72                                      # 4.7e21 points
  seconds = sweep.estimated_seconds(spec)
  assert seconds > spec.max_hours * 3600 * 1e6
  assert sweep.estimated_seconds(spec, num_devices=4) == pytest.approx(
      (seconds - _compile_s(spec)) / 4 + _compile_s(spec))
  with pytest.raises(ValueError, match="num_devices"):
    sweep.estimated_seconds(spec, num_devices=0)


def _compile_s(spec):
  """The documented compile term of estimated_seconds."""
  return (sweep_spec.COMPILE_S + sweep_spec.COMPILE_S_PER_OUTPUT * len(sweep.output_columns(spec))
          + sweep_spec.COMPILE_S_PER_PAIR * spec.collectives**2)


def test_estimated_seconds_of_the_exact_engine_scales_with_n_k_m():
  def spec(n):
    p0 = np.full((n, 2), 1 / (2 * n)).tolist()
    return SweepSpec(axes={"eps": Axis.linspace(0, .3, 1000)}, bounds=("exact",),
                     fixed={"alpha": .05}, collectives=2, targets=(0, 1),
                     scenario={"p0": p0, "signal_maps": [[0] * n, [1] * n]}).validated()
  small, large = spec(4), spec(400)
  work = (sweep.estimated_seconds(large) - _compile_s(large),
          sweep.estimated_seconds(small) - _compile_s(small))
  assert work[0] == pytest.approx(100 * work[1])


# -- csv_report (finite_sample) ------------------------------------------------------------


def _csv(path, label=lambda i: i % 3, num=300, extra=None):
  rng = np.random.default_rng(0)
  lines = ["color,size,grade"] + [
      f"{['red', 'blue'][rng.integers(2)]},{rng.integers(3)},{label(i)}" for i in range(num)]
  if extra is not None:
    extra(lines)
  path.write_text("\n".join(lines) + "\n")
  return path


CSV_CASES = [
    pytest.param(dict(label=lambda i: 10**20 if i == 5 else i % 3), {},
                 "data.csv, line 7, column 'grade': '100000000000000000000' is too large for a "
                 "category code (int64; at most 2**62", id="code-beyond-int64"),
    pytest.param(dict(label=lambda i: 2**63 - 1 if i == 5 else i % 3), {},
                 "line 7, column 'grade': '9223372036854775807' is too large", id="code-at-int64"),
    pytest.param(dict(label=lambda i: 10**10 if i == 5 else i % 3), {},
                 "data.csv: the count tables would have 2 sizes x at least 1 signal point x "
                 "10,000,000,001 labels (the label column 'grade' holds codes up to 10000000000): "
                 "40,000,000,004 cells, more than int32 indices reach; recode the label column",
                 id="label-codes-too-large"),
    pytest.param({}, dict(target="7"), "--target: label 7 does not occur in the label column "
                 "'grade' of {path} (its bound would be 0 at every n); labels present: 0, 1, 2",
                 id="target-absent"),
    pytest.param({}, dict(sizes_n=[10, 5000]), "--n: 5000 exceeds the 300 data lines",
                 id="n-above-lines"),
    pytest.param({}, dict(sizes_n=[10, 2.5]), "--n: collective sizes must be positive integers; "
                 "got 2.5", id="n-fraction"),
    pytest.param({}, dict(sizes_n=[float("nan")]), "--n: collective sizes must be positive "
                 "integers; got nan", id="n-nan"),
    pytest.param({}, dict(num_test=float("nan")), "--test-size must be positive (inf: the "
                 "population success); got nan", id="num-test-nan"),
    pytest.param({}, dict(num_test=-1.0), "--test-size must be positive", id="num-test-negative"),
    pytest.param({}, dict(num_samples=float("nan")), "--platform-size must be a positive integer; "
                 "got nan", id="num-samples-nan"),
    pytest.param({}, dict(num_samples=0), "--platform-size must be a positive integer; got 0",
                 id="num-samples-zero"),
    pytest.param({}, dict(num_samples=1e400), "--platform-size must be a positive integer; "
                 "got inf", id="num-samples-inf"),
    pytest.param({}, dict(delta=float("nan")), "--delta must lie in (0, 1); got nan",
                 id="delta-nan"),
    pytest.param({}, dict(delta="0.1"), "--delta must lie in (0, 1); got '0.1'",
                 id="delta-string"),
    pytest.param({}, dict(eps=float("inf")), "--eps must lie in [0, 1); got inf", id="eps-inf"),
    pytest.param({}, dict(signal=None), "--signal must be text such as 'col3=2,col7=red'; got None",
                 id="signal-none"),
    pytest.param({}, dict(target=3), "--target must be text such as 'good,bad'; got 3",
                 id="target-number"),
    pytest.param({}, dict(memory_cap_mb=float("nan")), "memory_cap_mb must be a finite number > 0",
                 id="memory-cap-nan"),
]


@pytest.mark.parametrize("data, kwargs, expected", CSV_CASES)
def test_bad_csv_report_arguments_and_files_are_refused(tmp_path, data, kwargs, expected):
  path = _csv(tmp_path / "data.csv", **data)
  args = {**dict(signal="color=red", target="1", sizes_n=[10, 50]), **kwargs}
  with pytest.raises(fs.DataError) as info:
    fs.csv_report(path, **args)
  assert expected.format(path=path) in str(info.value), str(info.value)


def test_a_binary_file_is_a_data_error_naming_the_file_and_line(tmp_path):
  path = tmp_path / "data.csv"
  path.write_bytes(b"color,grade\nred,1\n" + bytes(range(128, 256)))
  with pytest.raises(fs.DataError) as info:
    fs.read_categorical_csv(path)
  assert str(info.value).startswith(f"{path}, line 3: not a UTF-8 text file (byte 18 is 0x80)")


def test_count_tables_over_the_memory_cap_are_refused(tmp_path):
  path = _csv(tmp_path / "data.csv", label=lambda i: i % 300, num=3000)
  args = dict(signal="color=red", target="1", sizes_n=list(range(1, 3001, 10)))
  with pytest.raises(fs.DataError, match=r"about [\d,]+ MB, over memory_cap_mb = 1; use fewer"):
    fs.csv_report(path, memory_cap_mb=1, **args)
  assert fs.estimated_table_bytes(300, 3, 300) > 2**20


# -- valid specs still load unchanged ------------------------------------------------------


def test_example_validation_specs_load_unchanged():
  spec = validate.load(EXAMPLES / "learners_spec.toml")
  assert (spec.seeds, spec.mass_grid, spec.configurations) == ((0, 1), (0.5, 1.0, 1.5),
                                                               ((0,), (0, 1, 2)))
  assert (spec.num_samples, spec.steps, spec.learning_rate, spec.l2) == (5000, 300, 0.1, 1e-4)
  assert spec.p0[1] == (0.05, 0.15, 0.00) and spec.memory_cap_mb == 4096.0
  assert [c.signal for c in spec.collectives] == [4, 5, [4, 5, 4, 5, 4, 5]]
  digits = validate.load(EXAMPLES / "learners_digits.toml")
  assert (digits.num_samples, digits.test_samples) == (1200, 597)
  for path in EXAMPLES.glob("learners_*.toml"):
    assert validate.validated(validate.load(path)) == validate.load(path)


def test_example_recommender_spec_loads_unchanged():
  spec = rec.load(EXAMPLES / "recommender_spec.toml")
  assert spec.model == {"rank": 8, "steps": 150, "learning_rate": 0.05, "reg": 0.1}
  assert spec.data == {"num_users": 600, "num_items": 300, "num_clusters": 10,
                       "ratings_per_user": 40, "seed": 0, "source": "synthetic"}
  assert (spec.sizes, spec.k, spec.num_targets, spec.memory_cap_mb) == ((10, 20, 50), 10, 5,
                                                                        4096.0)
