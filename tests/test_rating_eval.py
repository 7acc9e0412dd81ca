"""Splits, errors, k-fold CV and the batched grid search, against one fit at a time and Surprise."""

import numpy as np
import pytest

from acajax import rating_eval, ratings, svd


def test_splits_partition_the_ratings():
  train, test = rating_eval.train_test_split(101, 0.2, seed=3)
  assert len(test) == 21 and len(np.intersect1d(train, test)) == 0
  assert sorted([*train, *test]) == list(range(101))
  folds = rating_eval.kfold(23, 5, seed=1)
  tests = np.concatenate([t for _, t in folds])
  assert sorted(tests) == list(range(23)) and {len(t) for _, t in folds} == {4, 5}
  for tr, te in folds:
    assert sorted([*tr, *te]) == list(range(23))


def test_errors_equal_their_definitions():
  rng = np.random.default_rng(0)
  truth, est = rng.uniform(1, 5, 50), rng.uniform(1, 5, 50)
  assert rating_eval.rmse(truth, est) == pytest.approx(np.sqrt(np.mean((truth - est) ** 2)))
  assert rating_eval.mae(truth, est) == pytest.approx(np.mean(np.abs(truth - est)))


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="test_size must be in"):
    rating_eval.train_test_split(10, 1.0)
  with pytest.raises(ValueError, match=r"n_splits must be an int in \[2, 10\]"):
    rating_eval.kfold(10, 11)
  data = ratings.synthetic(num_users=10, num_items=8, ratings_per_user=4).ratings
  with pytest.raises(ValueError, match="unknown SVDConfig field 'lr'"):
    rating_eval.grid_search(data, {"lr": [0.1]})
  with pytest.raises(ValueError, match="n_factors must be the same"):
    rating_eval.grid_search(data, {"n_factors": [2, 3]})
  with pytest.raises(ValueError, match="reg_all must be a finite number >= 0"):
    rating_eval.grid_search(data, {"reg_all": [-1.0]})


def test_grid_search_equals_one_fit_per_point_and_fold():
  data = ratings.synthetic(num_users=40, num_items=30, ratings_per_user=10, seed=2).ratings
  base = svd.SVDConfig(n_factors=4)
  grid = {"n_epochs": [2, 8], "lr_all": [0.005, 0.02]}
  result = rating_eval.grid_search(data, grid, base=base, n_splits=3, seed=5, random_state=1,
                                   chunk=3)
  assert [tuple(p.values()) for p in result.points] == [(2, 0.005), (2, 0.02), (8, 0.005),
                                                         (8, 0.02)]
  folds = rating_eval.kfold(data.values.size, 3, seed=5)
  for g, point in enumerate(result.points):
    config = svd.SVDConfig(n_factors=4, **point)
    for f, (train, test) in enumerate(folds):
      params = svd.fit(data.users[train], data.items[train], data.values[train],
                       num_users=data.num_users, num_items=data.num_items, config=config,
                       random_state=1)
      est = np.clip(np.asarray(svd.predict(params, data.users[test], data.items[test],
                                           rating_range=None)), 1, 5)
      truth = data.values[test]
      assert result.rmse[g, f] == pytest.approx(np.sqrt(np.mean((truth - est) ** 2)), rel=1e-10)
      assert result.mae[g, f] == pytest.approx(np.mean(np.abs(truth - est)), rel=1e-10)
  assert result.best == int(np.argmin(result.rmse.mean(axis=1)))
  assert result.best_config == svd.SVDConfig(n_factors=4, **result.points[result.best])


def test_cross_validated_rmse_matches_surprise_on_the_same_folds():
  surprise = pytest.importorskip(
      "surprise", reason="scikit-surprise (the test extra) is not installed; the comparison "
      "with the study's library needs it")
  import pandas as pd  # deferred: only the comparison with Surprise needs a DataFrame
  data = ratings.synthetic(num_users=60, num_items=50, ratings_per_user=12, seed=4).ratings
  config = svd.SVDConfig(n_factors=10, n_epochs=10)
  result = rating_eval.grid_search(data, {"lr_all": [0.005]}, base=config, n_splits=3, seed=0,
                                   random_state=2)
  for f, (train, test) in enumerate(rating_eval.kfold(data.values.size, 3, seed=0)):
    frame = pd.DataFrame({"u": data.users[train], "i": data.items[train],
                          "r": data.values[train]})
    trainset = surprise.Dataset.load_from_df(
        frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = surprise.SVD(n_factors=10, n_epochs=10, random_state=2).fit(trainset)
    preds = algo.test([(u, i, r) for u, i, r in zip(data.users[test], data.items[test],
                                                    data.values[test])])
    assert result.rmse[0, f] == pytest.approx(surprise.accuracy.rmse(preds, verbose=False),
                                              abs=0.005)
    assert result.mae[0, f] == pytest.approx(surprise.accuracy.mae(preds, verbose=False),
                                             abs=0.005)
