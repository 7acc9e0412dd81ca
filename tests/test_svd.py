"""Surprise's SVD in JAX, against a NumPy transcription of Surprise's loop and against Surprise."""

import numpy as np
import pytest

from acajax import ratings, recommender, svd

SMALL = svd.SVDConfig(n_factors=5, n_epochs=4)


def _numpy_sgd(users, items, values, config, random_state):
  """Surprise's ``SVD.sgd``, line by line in NumPy (inner ids by first appearance)."""
  order = svd.surprise_order(users, items, values)
  pu, qi = svd.initial_factors(random_state, order.user_index.size, order.item_index.size,
                               config)
  bu, bi = np.zeros(len(pu)), np.zeros(len(qi))
  mu = order.global_mean if config.biased else 0.0
  (lr_bu, lr_bi, lr_pu, lr_qi), (reg_bu, reg_bi, reg_pu, reg_qi) = (
      config.learning_rates(), config.regularisations())
  for _ in range(config.n_epochs):
    for u, i, r in zip(order.users, order.items, order.values):
      err = r - (mu + bu[u] + bi[i] + sum(qi[i, f] * pu[u, f] for f in range(config.n_factors)))
      if config.biased:
        bu[u] += lr_bu * (err - reg_bu * bu[u])
        bi[i] += lr_bi * (err - reg_bi * bi[i])
      for f in range(config.n_factors):
        puf, qif = pu[u, f], qi[i, f]
        pu[u, f] += lr_pu * (err * qif - reg_pu * puf)
        qi[i, f] += lr_qi * (err * puf - reg_qi * qif)
  return order, bu, bi, pu, qi


def _small_ratings(seed, count=60, num_users=9, num_items=11):
  rng = np.random.default_rng(seed)
  return (rng.integers(0, num_users, count), rng.integers(0, num_items, count),
          rng.integers(1, 6, count).astype(float))


def test_surprise_order_numbers_by_first_appearance_and_walks_user_by_user():
  order = svd.surprise_order([5, 2, 5, 9, 2], [1, 1, 0, 3, 4], [1.0, 2.0, 3.0, 4.0, 5.0])
  assert order.user_index.tolist() == [5, 2, 9]
  assert order.item_index.tolist() == [1, 0, 3, 4]
  assert order.values.tolist() == [1.0, 3.0, 2.0, 5.0, 4.0]
  assert order.users.tolist() == [0, 0, 1, 1, 2]
  assert order.items.tolist() == [0, 1, 0, 3, 2]
  assert order.global_mean == 3.0


@pytest.mark.parametrize("config", [
    SMALL,
    svd.SVDConfig(n_factors=3, n_epochs=3, biased=False),
    svd.SVDConfig(n_factors=4, n_epochs=2, lr_bu=0.02, lr_qi=0.01, reg_pu=0.1, reg_bi=0.0,
                  init_mean=0.05, init_std_dev=0.3),
])
def test_fit_equals_surprises_loop_in_numpy(config):
  users, items, values = _small_ratings(0)
  order, bu, bi, pu, qi = _numpy_sgd(users, items, values, config, random_state=7)
  params = svd.fit(users, items, values, num_users=12, num_items=13, config=config,
                   random_state=7)
  np.testing.assert_allclose(params.user_factors[order.user_index], pu, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(params.item_factors[order.item_index], qi, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(params.user_bias[order.user_index], bu, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(params.item_bias[order.item_index], bi, rtol=1e-12, atol=1e-14)
  unseen = np.setdiff1d(np.arange(12), order.user_index)
  assert np.all(np.asarray(params.user_factors)[unseen] == 0)


def test_fit_many_trains_each_model_on_its_own_data_config_and_seed():
  data = [_small_ratings(s, count=40 + 10 * s) for s in range(3)]
  configs = [SMALL, svd.SVDConfig(n_factors=5, n_epochs=2, lr_all=0.01),
             svd.SVDConfig(n_factors=5, n_epochs=6, reg_all=0.1)]
  ticks = []
  many = svd.fit_many(data, num_users=9, num_items=11, configs=configs, random_states=[4, 5, 6],
                      chunk=2, progress=ticks.append)
  assert ticks == [2, 3]
  for b in range(3):
    one = svd.fit(*data[b], num_users=9, num_items=11, config=configs[b], random_state=4 + b)
    for name in recommender.MFParams._fields:
      np.testing.assert_allclose(getattr(many, name)[b], getattr(one, name), rtol=1e-12,
                                 atol=1e-14)


def test_bad_arguments_name_what_was_expected():
  users, items, values = _small_ratings(0)
  with pytest.raises(ValueError, match="n_factors must be a positive int"):
    svd.SVDConfig(n_factors=0)
  with pytest.raises(ValueError, match="lr_pu must be a finite number >= 0"):
    svd.SVDConfig(lr_pu=float("nan"))
  with pytest.raises(ValueError, match=r"items must lie in \[0, 5\)"):
    svd.fit(users, items, values, num_users=9, num_items=5)
  with pytest.raises(ValueError, match="share n_factors"):
    svd.fit_many([(users, items, values)] * 2, num_users=9, num_items=11,
                 configs=[SMALL, svd.SVDConfig(n_factors=2)])
  with pytest.raises(ValueError, match="random_state must be an int"):
    svd.fit(users, items, values, num_users=9, num_items=11, random_state=None)


# --- against scikit-surprise (a test-only dependency) ------------------------------------

def _surprise():
  return pytest.importorskip(
      "surprise", reason="scikit-surprise (the test extra) is not installed; the comparison "
      "with the study's library needs it")


def _split(data, seed=0):
  perm = np.random.default_rng(seed).permutation(data.values.size)
  cut = perm.size // 5
  return perm[cut:], perm[:cut]


def _surprise_fit(surprise, data, train, seed, rating_range=(1, 5)):
  import pandas as pd  # deferred: only the comparison with Surprise needs a DataFrame
  frame = pd.DataFrame({"u": data.users[train], "i": data.items[train],
                        "r": data.values[train]})
  reader = surprise.Reader(rating_scale=rating_range)
  trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
  return surprise.SVD(random_state=seed).fit(trainset)


def _surprise_scores(algo, num_users, num_items):
  return np.array([[algo.predict(u, i, clip=False).est for i in range(num_items)]
                   for u in range(num_users)])


def _top10(scores, rated):
  return np.argsort(-np.where(rated, -np.inf, scores), axis=1, kind="stable")[:, :10]


def _jaccard(a, b):
  return np.mean([len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(a, b)])


def test_matches_surprise_svd_rmse_and_top10_on_the_same_split():
  surprise = _surprise()
  data = ratings.synthetic(num_users=120, num_items=150, ratings_per_user=30, seed=1).ratings
  train, test = _split(data)
  rated = np.zeros((data.num_users, data.num_items), bool)
  rated[data.users[train], data.items[train]] = True
  algo, other = (_surprise_fit(surprise, data, train, seed) for seed in (3, 4))
  params = svd.fit(data.users[train], data.items[train], data.values[train],
                   num_users=data.num_users, num_items=data.num_items, random_state=3)

  truth = data.values[test]
  ours = np.asarray(svd.predict(params, data.users[test], data.items[test]))
  theirs = np.array([algo.predict(u, i).est for u, i in zip(data.users[test], data.items[test])])
  rmse_ours, rmse_theirs = (np.sqrt(np.mean((truth - e) ** 2)) for e in (ours, theirs))
  assert abs(rmse_ours - rmse_theirs) < 0.005
  np.testing.assert_allclose(ours, theirs, atol=1e-9)      # same seed: the same model

  top_surprise = _top10(_surprise_scores(algo, data.num_users, data.num_items), rated)
  top_other_seed = _top10(_surprise_scores(other, data.num_users, data.num_items), rated)
  top_ours = _top10(np.asarray(recommender.scores(params)), rated)
  seed_to_seed = _jaccard(top_surprise, top_other_seed)
  assert _jaccard(top_ours, top_surprise) >= seed_to_seed
  assert seed_to_seed < 0.9          # the comparison means something: seeds do differ


def test_predict_out_of_range_raises_on_the_host_and_is_nan_under_jit():
  import jax
  params = svd.fit(*_small_ratings(1), num_users=9, num_items=11, config=SMALL)
  with pytest.raises(ValueError, match=r"items must be indices in \[0, 11\)"):
    svd.predict(params, [0], [11])
  out = jax.jit(svd.predict)(params, np.array([0, 9, -1]), np.array([0, 0, 3]))
  assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])


@pytest.mark.parametrize("width", [1, 2, 8])
def test_steps_run_every_rating_after_all_it_depends_on(width):
  rng = np.random.default_rng(3)
  users, items = rng.integers(0, 6, 80), rng.integers(0, 7, 80)
  step, slot = svd._steps(svd._levels(users, items), width)
  assert slot.max() < width
  assert len(set(zip(step.tolist(), slot.tolist()))) == users.size   # one rating a slot
  for a in range(users.size):
    for b in range(a):
      if users[a] == users[b] or items[a] == items[b]:
        assert step[b] < step[a]


def test_fit_many_with_other_orders_and_biases_equals_one_fit_each():
  users, items, values = _small_ratings(5, count=50)
  data = [(users, items, values), (users[::-1], items[::-1], values[::-1]),
          (np.r_[users, 1, 1], np.r_[items, 2, 2], np.r_[values, 5.0, 1.0])]
  configs = [SMALL, svd.SVDConfig(n_factors=5, n_epochs=3, biased=False), SMALL]
  many = svd.fit_many(data, num_users=9, num_items=11, configs=configs, random_states=[1, 2, 3])
  for b in range(3):
    one = svd.fit(*data[b], num_users=9, num_items=11, config=configs[b], random_state=1 + b)
    order, bu, bi, pu, qi = _numpy_sgd(*data[b], configs[b], random_state=1 + b)
    np.testing.assert_allclose(one.user_factors[order.user_index], pu, rtol=1e-12, atol=1e-14)
    for name in recommender.MFParams._fields:
      np.testing.assert_allclose(getattr(many, name)[b], getattr(one, name), rtol=1e-12,
                                 atol=1e-14)
