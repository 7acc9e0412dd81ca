"""Biased MF, top-k and hit ratio (against NumPy), collectives on ratings, recommender specs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tqdm import tqdm

from acajax import rating_collectives as rc
from acajax import ratings, recommender
from acajax.runs import recommender as rec_experiment

# One configuration and a few shapes throughout: compiled trainings are shared between tests.
TINY = recommender.MFConfig(rank=2, steps=300, reg=0.0)
LENGTH = 256        # ratings per training, padded with weight 0


def _random_params(rng, num_users, num_items, rank):
  return recommender.MFParams(
      mu=jnp.asarray(3.0), user_bias=jnp.asarray(rng.normal(size=num_users)),
      item_bias=jnp.asarray(rng.normal(size=num_items)),
      user_factors=jnp.asarray(rng.normal(size=(num_users, rank))),
      item_factors=jnp.asarray(rng.normal(size=(num_items, rank))))


# --- the model --------------------------------------------------------------------------


def test_dense_objective_equals_rating_objective():
  rng = np.random.default_rng(0)
  params = _random_params(rng, 5, 4, 2)
  users = np.array([0, 0, 1, 2, 4, 4, 3])
  items = np.array([1, 1, 0, 3, 2, 0, 3])          # (0, 1) twice: counts twice
  values = rng.uniform(1, 5, size=7)
  weights = np.array([1.0, 1.0, 0.5, 0.0, 1.0, 2.0, 1.0])
  expected = jax.jit(recommender.objective)(params, users, items, values, weights, 0.3)
  cells = jax.jit(recommender.dense_cells, static_argnums=(4, 5))(
      jnp.asarray(users), jnp.asarray(items), jnp.asarray(values), jnp.asarray(weights), 5, 4)
  np.testing.assert_allclose(jax.jit(recommender.dense_objective)(params, *cells, 0.3),
                             expected, rtol=1e-10)
  # And the formula itself, in NumPy.
  p = jax.tree.map(np.asarray, params)
  pred = (3.0 + p.user_bias[users] + p.item_bias[items]
          + np.sum(p.user_factors[users] * p.item_factors[items], -1))
  pen = (p.user_bias[users] ** 2 + p.item_bias[items] ** 2
         + np.sum(p.user_factors[users] ** 2, -1) + np.sum(p.item_factors[items] ** 2, -1))
  np.testing.assert_allclose(expected, np.sum(weights * ((values - pred) ** 2 + 0.3 * pen))
                             / weights.sum(), rtol=1e-12)


def _train_one(users, items, values, seed=0):
  """train_one with TINY, padded to LENGTH ratings (weight 0)."""
  pad = LENGTH - len(users)
  coo = [np.concatenate([np.asarray(v), np.zeros(pad, np.asarray(v).dtype)]) for v in
         (users, items, np.asarray(values, np.float32), np.ones(len(users), np.float32))]
  return recommender.train_one(*coo, recommender.init_params(seed, 30, 20, TINY), config=TINY)


def test_training_recovers_a_low_rank_matrix():
  rng = np.random.default_rng(1)
  truth = (3.0 + 0.5 * rng.normal(size=(30, 1)) + 0.5 * rng.normal(size=(1, 20))
           + rng.normal(size=(30, 2)) @ rng.normal(size=(2, 20)) * 0.7)
  observed = np.zeros(600, bool)
  observed[rng.permutation(600)[:LENGTH]] = True
  observed = observed.reshape(30, 20)
  users, items = np.nonzero(observed)
  params, losses = _train_one(users, items, truth[users, items])
  assert losses[-1] < 1e-4 * losses[0]
  predicted = np.asarray(recommender.scores(params))
  held_out = ~observed
  rmse_held_out = np.sqrt(np.mean((predicted[held_out] - truth[held_out]) ** 2))
  baseline = np.sqrt(np.mean((truth[held_out] - truth[observed].mean()) ** 2))
  assert rmse_held_out < 0.05 * baseline
  assert float(params.mu) == pytest.approx(truth[observed].mean(), rel=1e-5)


def test_minibatch_training_needs_a_key_and_lowers_the_loss():
  data = ratings.synthetic(20, 12, num_clusters=2, ratings_per_user=6, seed=0).ratings
  config = recommender.MFConfig(rank=2, steps=60, learning_rate=0.1, batch_size=32)
  init = recommender.init_params(0, 20, 12, config)
  with pytest.raises(ValueError, match="key is required"):
    recommender.train_one(data.users, data.items, data.values, np.ones(120, np.float32),
                          init, config=config)
  params, _ = recommender.train_one(data.users, data.items, data.values,
                                    np.ones(120, np.float32), init, jax.random.key(0),
                                    config=config)
  objective = jax.jit(recommender.objective)
  full = lambda p: float(objective(p._replace(mu=params.mu), data.users,  # noqa: E731
                                   data.items, data.values, 1.0, config.reg))
  assert full(params) < 0.5 * full(jax.tree.map(jnp.asarray, init))


def _numpy_top_k(scores, rated, k):
  masked = np.where(rated, -np.inf, scores)
  return np.argsort(-masked, axis=1, kind="stable")[:, :k]


def test_top_k_and_hit_ratio_against_numpy():
  rng = np.random.default_rng(2)
  num_users, num_items, k = 9, 7, 3
  params = _random_params(rng, num_users, num_items, 2)
  rated = rng.random((num_users, num_items)) < 0.35
  targets = np.zeros((2, num_items), bool)
  targets[0, [1, 4]] = True
  targets[1, [6]] = True
  p = jax.tree.map(np.asarray, params)
  scores = (3.0 + p.user_bias[:, None] + p.item_bias[None] + p.user_factors @ p.item_factors.T)
  top = _numpy_top_k(scores, rated, k)
  np.testing.assert_array_equal(recommender.top_k(scores, rated, k), top)
  expected = np.array([[set(row) & set(np.flatnonzero(t)) != set() for row in top]
                       for t in targets])
  got = np.asarray(recommender.hits(params, rated, targets, k))
  np.testing.assert_array_equal(got, expected)
  # Rated items are recommended only to users with fewer than k unrated items, last.
  full = (~rated).sum(1) >= k
  assert not rated[np.arange(num_users)[:, None], top][full].any()
  assert not full.all()
  evaluation = np.arange(num_users) % 3 != 0
  hr = recommender.hit_ratio(got, evaluation)
  np.testing.assert_allclose(hr, expected[:, evaluation].mean(1))
  # Stacked models, in chunks: the same lists.
  stacked = jax.tree.map(lambda v: jnp.stack([v, v]), params)
  np.testing.assert_array_equal(recommender.hits_many(stacked, rated, targets, k, chunk=1),
                                np.stack([expected, expected]))


def test_hit_ratio_and_relative_hit_ratio_edge_cases():
  with pytest.raises(ValueError, match="at least one user"):
    recommender.hit_ratio([True, False], [False, False])
  np.testing.assert_allclose(recommender.hit_ratio([[True, False], [True, True]]), [0.5, 1.0])
  assert np.isnan(recommender.relative_hit_ratio(0.2, 0.0))
  assert recommender.relative_hit_ratio(0.3, 0.2) == pytest.approx(1.5)


# --- many trainings ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
  data = ratings.synthetic(30, 20, num_clusters=3, ratings_per_user=8, seed=0)
  return data.ratings, data.clusters


def test_train_many_equals_one_at_a_time_chunks_and_progress(tiny, capsys):
  base, _ = tiny
  # Model 0: base; models 1 and 2: a promoter's edits (its members' target ratings).
  planted = rc.plant(base.dense(), [rc.targeted_promoter([3, 5])], [[0, 4, 7]])
  w, extra = rc.overlay(base, planted, [[0, 4, 7]])
  weights = np.stack([np.ones(base.num_ratings, np.float32), w, w])
  extras = rc.stack_extras([(np.zeros(0, int),) * 3, extra, extra])
  seeds = [1, 1, 1]
  with tqdm() as bar:
    params, losses = recommender.train_many(base, seeds, base_weights=weights, extras=extras,
                                            config=TINY, chunk=1, num_devices=1,
                                            progress=bar)
  assert "3/3" in capsys.readouterr().err                 # one tick per model (one device)
  assert bool((losses[:, -1] < losses[:, 0]).all())
  np.testing.assert_array_equal(params.user_factors[1], params.user_factors[2])  # determinism
  assert not np.allclose(params.item_factors[0], params.item_factors[1])
  # Chunks of 2 vmapped models: the same models.
  again, _ = recommender.train_many(base, seeds, base_weights=weights, extras=extras,
                                    config=TINY, chunk=2, num_devices=1)
  for a, b in zip(params, again):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  # Each model equals one training on its ratings written out (vmap equals loop).
  for b, matrix in enumerate([base.dense(), planted]):
    data = ratings.Ratings.from_dense(matrix)
    one, _ = _train_one(data.users, data.items, data.values, seed=1)
    np.testing.assert_allclose(params.item_factors[b], one.item_factors, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(params.mu[b], one.mu, rtol=1e-6)


def test_train_many_rejects_bad_inputs(tiny):
  base, _ = tiny
  with pytest.raises(ValueError, match=r"base_weights must have shape \(2, 240\)"):
    recommender.train_many(base, [0, 1], base_weights=np.ones((2, 5)), config=TINY)
  bad = rc.stack_extras([(np.array([30]), np.array([0]), np.array([5.0]))])
  with pytest.raises(ValueError, match=r"extras.users must lie in 0..29"):
    recommender.train_many(base, [0], extras=bad, config=TINY)
  with pytest.raises(ValueError, match="seeds must be"):
    recommender.train_many(base, [-1], config=TINY)
  with pytest.raises(ValueError, match="chunk must be"):
    recommender.train_many(base, [0], config=TINY, chunk=0)
  with pytest.raises(ValueError, match="rank must be a positive int"):
    recommender.MFConfig(rank=0)



def test_diverged_flags_only_the_non_finite_models(tiny):
  """An inf rating in one model's extras makes that model diverge; the others stay False."""
  base, _ = tiny
  extras = rc.stack_extras([(np.zeros(0, int),) * 3,
                            (np.array([0]), np.array([1]), np.array([np.inf])),
                            (np.array([2]), np.array([3]), np.array([4.0]))])
  config = recommender.MFConfig(rank=2, steps=20)
  params, losses = recommender.train_many(base, [0, 1, 2], extras=extras, config=config)
  flags = recommender.diverged(params, losses)
  assert isinstance(flags, np.ndarray) and flags.dtype == bool
  assert flags.tolist() == [False, True, False]
  # Non-finite parameters alone (finite losses) count too: model 1's are NaN
  # after its training, model 2 gets one.
  broken = params._replace(item_factors=params.item_factors.at[2, 0, 0].set(jnp.nan))
  assert recommender.diverged(broken, np.zeros((3, 20))).tolist() == [False, True, True]
  with pytest.raises(ValueError, match="leading model axis"):
    recommender.diverged(params, losses[:2])


def test_diverged_flags_an_exploding_step_size(tiny):
  """A step size so large that float32 overflows diverges every model.

  (Adam moves each parameter by at most about the step size per step, so 1e6
  gives huge but finite losses; 1e30 overflows.)
  """
  base, _ = tiny
  config = recommender.MFConfig(rank=2, steps=20, learning_rate=1e30)
  params, losses = recommender.train_many(base, [0, 1], config=config)
  assert recommender.diverged(params, losses).tolist() == [True, True]


@pytest.mark.parametrize("field, value", [
    ("learning_rate", float("nan")), ("learning_rate", float("inf")),
    ("init_std", float("inf")), ("init_std", float("nan")), ("reg", float("nan")),
    ("reg", float("inf")), ("reg", -0.1)])
def test_mf_config_rejects_non_finite_hyperparameters_naming_the_field(field, value):
  with pytest.raises(ValueError, match=f"^{field} must be a finite number"):
    recommender.MFConfig(**{field: value})


# --- collectives on ratings -------------------------------------------------------------


@pytest.mark.parametrize("build, rating", [(rc.targeted_promoter, 5.0),
                                           (rc.targeted_demoter, 1.0)])
def test_strategies_change_exactly_the_members_target_ratings(build, rating):
  rng = np.random.default_rng(4)
  matrix = np.where(rng.random((12, 9)) < 0.5, rng.integers(1, 6, (12, 9)), np.nan)
  members, targets = np.array([1, 5, 6]), np.array([0, 4, 8])
  planted = rc.plant(matrix, [build(targets)], [members])
  cell = np.zeros(matrix.shape, bool)
  cell[np.ix_(members, targets)] = True
  assert (planted[cell] == rating).all()
  np.testing.assert_array_equal(planted[~cell], matrix[~cell].astype(np.float32))
  before = matrix.copy()
  rc.plant(matrix, [build(targets)], [members])
  np.testing.assert_array_equal(matrix, before)          # the input is not modified


def test_two_collectives_overlapping_targets_and_overlay():
  base = ratings.synthetic(40, 15, num_clusters=4, ratings_per_user=6, seed=1).ratings
  promoters, demoters = [2, 9, 11], [3, 20]
  planted = rc.plant(base.dense(), [rc.targeted_promoter([1, 2, 3]),
                                    rc.targeted_demoter([3, 4])], [promoters, demoters])
  assert (planted[np.ix_(promoters, [1, 2, 3])] == 5).all()
  assert (planted[np.ix_(demoters, [3, 4])] == 1).all()
  weights, (users, items, values) = rc.overlay(base, planted, [promoters, demoters])
  # Base ratings with weight 1 plus the extras are exactly the planted matrix.
  rebuilt = np.full(planted.shape, np.nan, np.float32)
  keep = weights > 0
  rebuilt[base.users[keep], base.items[keep]] = base.values[keep]
  assert np.isnan(rebuilt[users, items]).all()           # no rating twice
  rebuilt[users, items] = values
  np.testing.assert_array_equal(rebuilt, planted)
  assert set(users.tolist()) <= set(promoters + demoters)
  with pytest.raises(rc.CollectiveError, match="disjoint"):
    rc.plant(base.dense(), [rc.targeted_promoter([1])] * 2, [[1, 2], [2]])


def test_select_members_homogeneity_sizes_and_determinism():
  clusters = np.repeat(np.arange(10), 30)
  for h, size in [(0.1, 10), (0.5, 20), (1.0, 20), (0.34, 0.1)]:
    members, home = rc.select_members(clusters, size, h, rng=7)
    count = rc.member_count(size, 300)
    assert len(members) == count == len(set(members.tolist()))
    assert (clusters[members] == home).sum() == max(1, int(np.floor(h * count + 0.5)))
  a, _ = rc.select_members(clusters, 20, 0.5, rng=3)
  b, _ = rc.select_members(clusters, 20, 0.5, rng=3)
  np.testing.assert_array_equal(a, b)
  other, _ = rc.select_members(clusters, 20, 0.5, rng=3, exclude=a)
  assert not set(a.tolist()) & set(other.tolist())


@pytest.mark.parametrize("h", [0.0, -0.1, 1.5, float("nan"), "high"])
def test_homogeneity_outside_unit_interval_is_rejected(h):
  with pytest.raises(rc.CollectiveError, match=r"homogeneity must be a share in \(0, 1\]"):
    rc.select_members(np.zeros(10, int), 2, h, rng=0)
  with pytest.raises(ValueError, match="homogeneity"):
    rc.RatingCollective("promoter", (1,), homogeneity=h)


def test_bad_collectives_are_named():
  with pytest.raises(rc.CollectiveError, match="archetype must be one of 'promoter', 'demoter'"):
    rc.RatingCollective("booster", (1,))
  with pytest.raises(rc.CollectiveError, match=r"size as a fraction must lie in \(0, 1\)"):
    rc.member_count(1.5, 100)
  with pytest.raises(rc.CollectiveError, match="only 100 users"):
    rc.member_count(101, 100)
  with pytest.raises(rc.CollectiveError, match="no cluster has 20 available users"):
    rc.select_members(np.repeat(np.arange(10), 10), 20, 1.0, rng=0)
  with pytest.raises(rc.CollectiveError, match=r"targets must be item indices in 0..8"):
    rc.targeted_promoter([9])(np.zeros((1, 9)))


# --- specs ------------------------------------------------------------------------------

SPEC = """
kind = "recommender"
seeds = [0]
sizes = [5]
homogeneity = [0.5]
[data]
source = "synthetic"
num_users = 60
num_items = 30
ratings_per_user = 10
[target_sets]
A = [1, 2]
[[collectives]]
name = "p"
archetype = "promoter"
targets = "A"
"""


@pytest.mark.parametrize("change, key, message", [
    (("homogeneity = [0.5]", "homogeneity = [0.0, 0.5]"), "homogeneity",
     r"values must lie in \(0, 1\]"),
    (("homogeneity = [0.5]", "homogeneity = [1.2]"), "homogeneity", r"\(0, 1\]"),
    (("sizes = [5]", "sizes = [0]"), "sizes", "count >= 1"),
    (("seeds = [0]", "seeds = [0]\ncolour = 1"), "colour", "unknown key"),
    (('targets = "A"', 'targets = "Z"'), r"collectives\[0\].targets", "must name a set"),
    (('archetype = "promoter"', 'archetype = "booster"'), r"collectives\[0\].archetype",
     "must be one of"),
    (('source = "synthetic"\nnum_users = 60\nnum_items = 30\nratings_per_user = 10',
      'source = "movielens"'), "data.path", "missing"),
    (("num_items = 30", "num_items = 30\nsteps = 3"), "data.steps", "unknown key"),
    (("[target_sets]", "[model]\nreg = inf\n[target_sets]"), "model.reg",
     "must be a finite number >= 0; got inf"),
    (("[target_sets]", "[model]\nlearning_rate = nan\n[target_sets]"), "model.learning_rate",
     "must be a finite number > 0; got nan"),
    (("[target_sets]", "[model]\nrank = 0\n[target_sets]"), "model.rank",
     "must be an integer >= 1"),
    (("seeds = [0]", "seeds = [0]\nk = 31"), "k", r"must be at most the number of items, 30"),
    (("sizes = [5]", "sizes = [61]"), "sizes", "only 60 users"),
    (('targets = "A"', 'targets = "A"\nrating = nan'), r"collectives\[0\].rating",
     r"must be a finite number in \[1, 5\]; got nan"),
])
def test_spec_errors_name_file_and_key(tmp_path, change, key, message):
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.replace(*change), encoding="utf-8")
  with pytest.raises(rec_experiment.SpecError, match=f"spec.toml: {key}: .*{message}"):
    rec_experiment.load(path)


def test_spec_unknown_item_ids_and_bad_data_file(tmp_path):
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.replace("A = [1, 2]", "A = [1, 99]"), encoding="utf-8")
  spec = rec_experiment.load(path)
  with pytest.raises(rec_experiment.SpecError, match=r"target_sets.A: unknown item id\(s\) \[99\]"):
    rec_experiment.run(spec)
  (tmp_path / "u.data").write_text("1\t2\t3\t4\n1\t3\n", encoding="utf-8")
  path.write_text(SPEC.replace('source = "synthetic"\nnum_users = 60\nnum_items = 30\n'
                               'ratings_per_user = 10', 'source = "movielens"\npath = "u.data"'),
                  encoding="utf-8")
  spec = rec_experiment.load(path)
  with pytest.raises(rec_experiment.SpecError, match=r"u.data, line 2: expected 4 tab-separated"):
    rec_experiment.run(spec)
  assert rec_experiment.is_recommender_spec(path)
  assert not rec_experiment.is_recommender_spec(tmp_path / "u.data")


def test_movielens_spec_builds_experiment_in_file_ids(tmp_path):
  rng = np.random.default_rng(0)
  lines = [f"{u}\t{i}\t{rng.integers(1, 6)}\t88125{u:02d}{i:02d}" for u in range(101, 131)
           for i in range(7, 47, 2) if rng.random() < 0.6]
  (tmp_path / "u.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.replace('source = "synthetic"\nnum_users = 60\nnum_items = 30\n'
                               'ratings_per_user = 10',
                               'source = "movielens"\npath = "u.data"\nnum_clusters = 3')
                  .replace("A = [1, 2]", "A = [9, 45]"), encoding="utf-8")
  exp = rec_experiment._experiment(rec_experiment.load(path))
  assert exp.ratings.num_users == 30 and exp.ratings.item_ids[exp.target_sets["A"]].tolist() == [
      9, 45]
  assert sorted(set(exp.clusters.tolist())) == [0, 1, 2]


SVD_MODEL = '[model]\ntrainer = "svd"\nn_factors = 3\nn_epochs = 5\nlr_all = 0.01\n[target_sets]'


@pytest.mark.parametrize("change, key, message", [
    ('trainer = "svd"', "model.trainer", 'must be "adam"'),
    ("n_epochs = 5", "model.n_epochs", "must be an integer >= 0"),
    ("lr_all = 0.01", "model.lr_all", "must be a finite number >= 0; got nan"),
    ("n_factors = 3", "model.rank", "unknown key"),
])
def test_svd_model_spec_errors_name_the_key(tmp_path, change, key, message):
  bad = {'trainer = "svd"': 'trainer = "sgd"', "n_epochs = 5": "n_epochs = 1.5",
         "lr_all = 0.01": "lr_all = nan", "n_factors = 3": "rank = 3"}[change]
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.replace("[target_sets]", SVD_MODEL.replace(change, bad)), encoding="utf-8")
  with pytest.raises(rec_experiment.SpecError, match=f"spec.toml: {key}: .*{message}"):
    rec_experiment.load(path)


def test_svd_trainer_experiment_trains_surprises_model_per_scenario(tmp_path):
  from acajax import svd
  path = tmp_path / "spec.toml"
  path.write_text(SPEC.replace("[target_sets]", SVD_MODEL), encoding="utf-8")
  spec = rec_experiment.load(path)
  result = rec_experiment.run(spec)
  exp = rec_experiment._experiment(spec)
  assert exp.config == svd.SVDConfig(n_factors=3, n_epochs=5, lr_all=0.01)
  base = exp.ratings
  # The baseline, independently: Surprise's SVD on the base ratings with the seed as state.
  params = svd.fit(base.users, base.items, base.values, num_users=base.num_users,
                   num_items=base.num_items, config=exp.config, random_state=0)
  row = result.frame.iloc[0]
  hits = np.asarray(recommender.hits(params, base.rated(), np.eye(base.num_items, dtype=bool)[[1]]
                                     | np.eye(base.num_items, dtype=bool)[[2]], 10))[0]
  members = row["evaluation_users"]
  assert members == base.num_users - 5
  assert 0 <= row["hr_without"] <= 1 and not row["diverged"]
  # The run's baseline over all users is that model's HR@10 exactly; the evaluation
  # users' HR (all but the 5 members) is within 5 / members of it.
  assert result.baseline_hr["A"][0] == pytest.approx(hits.mean(), abs=1e-12)
  assert abs(row["hr_without"] - hits.mean()) <= 5 / members + 1e-12
