"""The text learner on a shared pool of sparse n-gram rows (learners.train_rows).

References are independent: the dense featuriser and NumPy matrix products
for the sparse logits, :func:`learners.train_many` on the materialised
(B, N, d) planted features for the pool trainer, shorter trainings for the
loss change, and NumPy for the step size schedule.
"""

import dataclasses

import jax
import numpy as np
import pytest
from flax import nnx

from acajax import datasets, learners
from acajax.runs import validate


def _pool_and_models(dim=128):
  """A small pool (clean texts, then planted ones) and three models' row descriptions."""
  data = datasets.synthetic_resumes(60, seed=2, words=30)
  planted = datasets.insertion_signal("\u00a7", every=5)(data.x[:8])
  pool = datasets.hashed_ngram_ids(np.concatenate([data.x, planted]), orders=(1, 2), dim=dim)
  rows = np.tile(np.arange(60), (3, 1))
  rows[1, :8] = 60 + np.arange(8)                    # model 1: the first 8 planted
  rows[2, 4:8] = 64 + np.arange(4)                   # model 2: 4 of them
  rows[2, 50] = rows[2, 51]                          # a pool row used twice
  y = np.tile(data.y, (3, 1))
  y[1, :8] = 3
  y[2, 4:8] = 0
  weights = np.ones((3, 60), np.float32)
  weights[0, ::7] = 0.5
  return pool, rows, y, weights


def test_sparse_ids_are_the_dense_features():
  texts = list(datasets.synthetic_resumes(20, seed=0, words=40).x) + ["", "x", "é\u2028y ~z"]
  for orders, dim in (((1, 2), 1024), ((1, 2, 3), 64), ((2,), 3)):
    sparse = datasets.hashed_ngram_ids(texts, orders=orders, dim=dim)
    dense = datasets.hashed_ngrams(texts, orders=orders, dim=dim)
    np.testing.assert_array_equal(sparse.dense(), dense)
    assert sparse.ids.shape[1] == max(1, int((dense > 0).sum(axis=1).max()))
  wide = datasets.hashed_ngram_ids(texts[:3], orders=(1, 2), dim=2**20)   # np.unique branch
  np.testing.assert_array_equal(wide.dense(), datasets.hashed_ngrams(texts[:3], dim=2**20))


@pytest.mark.parametrize("name", ["ngram", "mlp"])
def test_sparse_logits_equal_dense_logits(name):
  pool, *_ = _pool_and_models()
  model = learners.make_model(name, pool.dim, 4, key=3)
  got = np.asarray(learners._pool_logits_t(model, (pool.ids, pool.values))).T
  dense = pool.dense().astype(np.float64)
  state = nnx.state(model)
  if name == "ngram":
    want = dense @ np.asarray(state["linear"]["kernel"][...]) + np.asarray(
        state["linear"]["bias"][...])
  else:
    hidden = np.maximum(dense @ np.asarray(state["hidden"]["kernel"][...])
                        + np.asarray(state["hidden"]["bias"][...]), 0)
    want = hidden @ np.asarray(state["out"]["kernel"][...]) + np.asarray(
        state["out"]["bias"][...])
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_pool_training_equals_training_on_materialised_rows(batch_size):
  """Same initialisation, same losses and parameters as the (B, N, d) planted matrices.

  (Full batch, the loss trajectory's prefixes are checked through shorter
  trainings in the loss-change test below.)
  """
  pool, rows, y, weights = _pool_and_models()
  keys = jax.random.split(jax.random.key(5), 3)
  config = learners.TrainConfig(steps=8, learning_rate=0.05, batch_size=batch_size,
                                schedule="warmup_cosine", warmup=0.25)
  dense = pool.dense()
  want = learners.train_many("ngram", dense[rows], y, keys, num_labels=4, config=config,
                             weights=weights)
  for limit in (learners.DENSE_LIMIT_MB, 0.0):       # dense pool, then embedding bags
    got = learners.train_rows("ngram", pool, rows, y, keys, num_labels=4, config=config,
                              weights=weights, dense_limit_mb=limit)
    np.testing.assert_allclose(got.final_loss, want.final_loss, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params)):
      np.testing.assert_allclose(a, b, atol=2e-5)
  np.testing.assert_array_equal(learners.predict_many(got, pool),
                                learners.predict_many(want, dense))


def test_train_rows_checks_its_description():
  pool, rows, y, _ = _pool_and_models()
  keys = jax.random.split(jax.random.key(0), 3)
  with pytest.raises(ValueError, match=r"rows must index the pool's 68 rows"):
    learners.train_rows("ngram", pool, rows + 60, y, keys, num_labels=4)
  with pytest.raises(ValueError, match=r"y must have shape \(3, 60\)"):
    learners.train_rows("ngram", pool, rows, y[:2], keys, num_labels=4)
  with pytest.raises(ValueError, match=r"rows must have shape \(B, N\) with B = 2 keys"):
    learners.train_rows("ngram", pool, rows, y, keys[:2], num_labels=4)


def test_loss_change_and_converged_from_shorter_trainings():
  """Full batch: a training of s steps ends where a longer one was at step s."""
  pool, rows, y, weights = _pool_and_models()
  keys = jax.random.split(jax.random.key(1), 3)
  # l2 = 0.05 makes the loss strongly convex: 300 steps converge, 30 do not.
  config = learners.TrainConfig(steps=300, learning_rate=0.05, l2=0.05)
  for steps, converged in ((300, True), (30, False)):
    full = learners.train_rows("ngram", pool, rows, y, keys, num_labels=4, weights=weights,
                               config=dataclasses.replace(config, steps=steps))
    window = int(np.ceil(learners.CONVERGENCE_WINDOW * steps))
    earlier = learners.train_rows("ngram", pool, rows, y, keys, num_labels=4, weights=weights,
                                  config=dataclasses.replace(config, steps=steps - window))
    start, end = np.asarray(earlier.final_loss, float), np.asarray(full.final_loss, float)
    change = np.abs(end - start) / start
    np.testing.assert_allclose(full.loss_change, change, rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(full.converged, change < learners.CONVERGENCE_RTOL)
    assert np.all(full.converged == converged)


def test_warmup_cosine_schedule():
  config = learners.TrainConfig(steps=50, learning_rate=0.02, schedule="warmup_cosine",
                                warmup=0.2, decay_to=0.1)
  step = np.arange(50)
  warm = 10
  frac = np.clip((step - warm) / (50 - 1 - warm), 0, 1)
  want = 0.02 * np.where(step < warm, step / warm,
                         0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * frac)))
  np.testing.assert_allclose(config.learning_rates(), want, rtol=1e-6, atol=1e-9)
  assert (learners.TEXT_CONFIG.learning_rate, learners.TEXT_CONFIG.schedule) == (
      0.03, "warmup_cosine")
  for field, value, message in (("schedule", "cosine", "schedule must be one of"),
                                ("warmup", 1.0, "warmup must be a fraction"),
                                ("decay_to", 1.5, "decay_to must be in"),
                                ("warmup", float("nan"), "warmup must be a finite")):
    with pytest.raises(ValueError, match=message):
      learners.TrainConfig(**{field: value})


SPEC = """\
dataset = "synthetic_resumes"
learner = "ngram"
seeds = [0, 1]
configurations = [[0], [0, 1]]
[data]
num_samples = 120
test_samples = 40
[train]
steps = 40
ngram_width = 96
ngram_range = [1, 3]
{extra}
[[collectives]]
mass = 0.1
target = 1
signal = "\u00a7"
[[collectives]]
mass = 0.05
target = 2
signal = "\u00b6"
"""


def test_spec_train_keys(tmp_path):
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.format(extra=""), encoding="utf-8")
  spec = validate.load(path)
  assert (spec.learning_rate, spec.schedule, spec.warmup, spec.decay_to) == (
      0.03, "warmup_cosine", 0.1, 0.1)
  assert (spec.ngram_width, spec.ngram_range) == (96, (1, 3))
  path.write_text(SPEC.format(extra='learning_rate = 0.1\nschedule = "constant"\nwarmup = 0.0'),
                  encoding="utf-8")
  spec = validate.load(path)
  assert (spec.learning_rate, spec.schedule, spec.warmup) == (0.1, "constant", 0.0)
  finite = validate.validated(validate.ValidationSpec(
      dataset="finite_table", learner="logistic", p0=((.5, .2), (.1, .2)),
      collectives=(validate.CollectiveSpec(.1, 0, 1),)))
  assert (finite.learning_rate, finite.schedule) == (0.1, "constant")
  for extra, key in (('schedule = "linear"', "train.schedule"), ("warmup = 1.0", "train.warmup"),
                     ("decay_to = -0.1", "train.decay_to")):
    path.write_text(SPEC.format(extra=extra), encoding="utf-8")
    with pytest.raises(validate.SpecError, match=rf"spec.toml: {key}: "):
      validate.load(path)


def test_validation_plants_rows_not_matrices(tmp_path, monkeypatch):
  """The models share one pool per seed; each is described by (N,) rows and labels."""
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.format(extra=""), encoding="utf-8")
  spec = validate.load(path)
  calls = []
  train_rows = learners.train_rows

  def spy(name, features, rows, y, keys, **kwargs):
    calls.append((features, np.asarray(rows), np.asarray(y)))
    return train_rows(name, features, rows, y, keys, **kwargs)

  monkeypatch.setattr(learners, "train_rows", spy)
  monkeypatch.setattr(learners, "train_many", lambda *a, **k: pytest.fail("dense path"))
  frame = validate.run(spec).frame
  assert len(calls) == 2                               # one pool per seed
  members = 12 + (12 + 6)                              # [0] and [0, 1], 120 samples
  for seed, (pool, rows, y) in zip((0, 1), calls):
    train = validate._data(spec, seed, None)[0]
    assert isinstance(pool, datasets.SparseCounts) and pool.dim == 96
    assert 120 < len(pool) <= 120 + members and rows.shape == y.shape == (2, 120)
    clean = datasets.hashed_ngrams(train.x, orders=(1, 2, 3), dim=96)
    same = rows == np.arange(120)
    assert (~same).sum() == members
    np.testing.assert_array_equal(pool.take(slice(0, 120)).dense(), clean)
    planted_rows = rows[~same]
    assert planted_rows.min() >= 120                 # members read planted rows of the pool
  # Convergence columns, one value per model.
  assert {"final_loss", "loss_change", "converged"} <= set(frame.columns)
  per_model = frame.drop_duplicates(["configuration", "seed"])
  assert len(per_model) == 4
  np.testing.assert_array_equal(per_model["converged"],
                                per_model["loss_change"] < learners.CONVERGENCE_RTOL)
  assert np.all(per_model["final_loss"] > 0)
