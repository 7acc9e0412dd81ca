"""Evaluating rating predictors: splits, RMSE and MAE, k-fold CV, grid search.

The study tunes Surprise's ``SVD`` (epochs, learning rate, regularisation)
by grid search with 5-fold cross-validation on RMSE, then trains on an
80/20 split. This module does the same for :mod:`acajax.svd`, with one
difference in how the work is done: every (grid point, fold) model of a grid
search is trained by one :func:`acajax.svd.fit_many` call (chunks of models
trained together), not one fit after another.

* :func:`train_test_split` and :func:`kfold`: index arrays over the ratings,
  from a seeded permutation (each rating in exactly one test fold).
* :func:`rmse`, :func:`mae`: ``sqrt(mean((r - r_hat)^2))`` and
  ``mean(|r - r_hat|)`` (Surprise's ``accuracy.rmse`` and ``accuracy.mae``).
* :func:`grid_search`: the mean and per-fold RMSE and MAE of every point of a
  grid over :class:`acajax.svd.SVDConfig` fields, and the best point by RMSE.

Test ratings whose user or item has no training rating are predicted as
Surprise predicts them (``mu + b_i``, ``mu + b_u`` or ``mu``), clipped to
the rating range.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import numpy as np

from acajax import svd
from acajax.ratings import Ratings

__all__ = ["train_test_split", "kfold", "rmse", "mae", "GridSearch", "grid_search"]


def _check_count(num_ratings) -> int:
  if isinstance(num_ratings, bool) or not isinstance(num_ratings, (int, np.integer)) \
      or num_ratings < 2:
    raise ValueError(f"num_ratings must be an int >= 2; got {num_ratings!r}")
  return int(num_ratings)


def train_test_split(num_ratings: int, test_size: float = 0.2, *,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Indices of a random train/test split of ``num_ratings`` ratings.

  Args:
    num_ratings: how many ratings there are.
    test_size: the test share, in (0, 1); the test set has
      ``ceil(test_size * num_ratings)`` ratings, as Surprise's.
    seed: seed of the permutation.

  Returns:
    ``(train, test)``: disjoint index arrays covering ``range(num_ratings)``,
    train in the ratings' original order (the order Surprise reads them in).

  Raises:
    ValueError: a count below 2, or a test size that leaves a side empty.

  Examples:
    >>> from acajax import rating_eval
    >>> train, test = rating_eval.train_test_split(10, 0.2)
    >>> len(train), len(test), sorted([*train, *test]) == list(range(10))
    (8, 2, True)
  """
  count = _check_count(num_ratings)
  test_count = int(np.ceil(float(test_size) * count)) if np.isfinite(test_size) else 0
  if not 0 < test_size < 1 or not 0 < test_count < count:
    raise ValueError(f"test_size must be in (0, 1) and leave both sides non-empty for "
                     f"{count} ratings; got {test_size!r}")
  perm = np.random.default_rng(seed).permutation(count)
  return np.sort(perm[test_count:]), np.sort(perm[:test_count])


def kfold(num_ratings: int, n_splits: int = 5, *, seed: int = 0
          ) -> list[tuple[np.ndarray, np.ndarray]]:
  """Indices of k-fold cross-validation: each rating in exactly one test fold.

  Args:
    num_ratings: how many ratings there are.
    n_splits: k, between 2 and ``num_ratings``; fold sizes differ by at most
      one.
    seed: seed of the permutation.

  Returns:
    k pairs ``(train, test)`` of sorted index arrays.

  Examples:
    >>> from acajax import rating_eval
    >>> folds = rating_eval.kfold(7, 3)
    >>> [len(test) for _, test in folds], sorted(i for _, t in folds for i in t) == list(range(7))
    ([3, 2, 2], True)
  """
  count = _check_count(num_ratings)
  if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) \
      or not 2 <= n_splits <= count:
    raise ValueError(f"n_splits must be an int in [2, {count}]; got {n_splits!r}")
  perm = np.random.default_rng(seed).permutation(count)
  folds = np.array_split(perm, int(n_splits))
  return [(np.sort(np.concatenate(folds[:f] + folds[f + 1:])), np.sort(test))
          for f, test in enumerate(folds)]


def rmse(truth, predicted) -> float:
  """Root mean squared error (Surprise's ``accuracy.rmse``).

  Examples:
    >>> from acajax import rating_eval
    >>> rating_eval.rmse([1.0, 3.0], [2.0, 3.0])
    0.7071067811865476
  """
  truth, predicted = np.asarray(truth, float), np.asarray(predicted, float)
  return float(np.sqrt(np.mean((truth - predicted) ** 2)))


def mae(truth, predicted) -> float:
  """Mean absolute error (Surprise's ``accuracy.mae``).

  Examples:
    >>> from acajax import rating_eval
    >>> rating_eval.mae([1.0, 3.0], [2.0, 3.0])
    0.5
  """
  truth, predicted = np.asarray(truth, float), np.asarray(predicted, float)
  return float(np.mean(np.abs(truth - predicted)))


class GridSearch(NamedTuple):
  """The result of :func:`grid_search`.

  Attributes:
    points: one dict of the searched fields per grid point (G), in the
      order of ``itertools.product`` over the grid's keys.
    rmse, mae: (G, k) per grid point and fold.
    mean_rmse, mean_mae: (G,) the fold means.
    best: index of the point with the lowest mean RMSE (first on ties).
    best_config: the :class:`acajax.svd.SVDConfig` of that point.
  """
  points: list[dict]
  rmse: np.ndarray
  mae: np.ndarray
  mean_rmse: np.ndarray
  mean_mae: np.ndarray
  best: int
  best_config: svd.SVDConfig


def grid_search(data: Ratings, grid: Mapping[str, Sequence], *, base: svd.SVDConfig = svd.SVDConfig(),
                n_splits: int = 5, seed: int = 0, random_state: int = 0,
                rating_range: tuple[float, float] = (1.0, 5.0), chunk: int = 32,
                progress: Callable[[int], object] | None = None) -> GridSearch:
  """Grid search with k-fold CV, every (point, fold) model in one batched call.

  Args:
    data: the ratings (their order is the order Surprise would read them).
    grid: field name of :class:`acajax.svd.SVDConfig` -> values, e.g.
      ``{"n_epochs": [10, 20], "lr_all": [0.002, 0.005], "reg_all": [0.02]}``
      (``n_factors`` and ``biased`` must stay fixed: set them in ``base``).
    base: the configuration the grid's values replace fields of.
    n_splits: k of the cross-validation.
    seed: seed of the folds.
    random_state: Surprise's ``random_state`` of every model.
    rating_range: predictions are clipped to it, as Surprise's.
    chunk: models per call of :func:`acajax.svd.fit_many`.
    progress: called with the number of models trained after each chunk.

  Returns:
    A :class:`GridSearch`.

  Raises:
    ValueError: an unknown or fixed field, an empty list of values, or a
      value :class:`acajax.svd.SVDConfig` refuses (the message names it).

  Examples:
    >>> from acajax import ratings, rating_eval, svd
    >>> data = ratings.synthetic(num_users=30, num_items=20, ratings_per_user=8).ratings
    >>> result = rating_eval.grid_search(data, {"n_epochs": [1, 20]}, n_splits=3,
    ...                                  base=svd.SVDConfig(n_factors=4))
    >>> result.rmse.shape, result.best_config.n_epochs
    ((2, 3), 20)
  """
  fields = {f.name for f in dataclasses.fields(svd.SVDConfig)}
  for name, values in grid.items():
    if name not in fields:
      raise ValueError(f"grid: unknown SVDConfig field {name!r}; expected one of "
                       f"{', '.join(sorted(fields))}")
    if name in ("n_factors", "biased"):
      raise ValueError(f"grid: {name} must be the same for every model; set it in base")
    if isinstance(values, (str, bytes)) or len(values) == 0:
      raise ValueError(f"grid: {name} must be a non-empty list of values; got {values!r}")
  names = list(grid)
  points = [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]
  configs = [dataclasses.replace(base, **point) for point in points]
  folds = kfold(data.values.size, n_splits, seed=seed)
  jobs = [(g, f) for g in range(len(points)) for f in range(len(folds))]
  train_sets = [(data.users[folds[f][0]], data.items[folds[f][0]], data.values[folds[f][0]])
                for _, f in jobs]
  params = svd.fit_many(train_sets, num_users=data.num_users, num_items=data.num_items,
                        configs=[configs[g] for g, _ in jobs],
                        random_states=[random_state] * len(jobs), chunk=chunk, progress=progress)
  errors = {"rmse": np.zeros((len(points), len(folds))), "mae": np.zeros((len(points), len(folds)))}
  for b, (g, f) in enumerate(jobs):
    test = folds[f][1]
    one = jax.tree_util.tree_map(lambda x, b=b: x[b], params)
    est = np.asarray(svd.predict(one, data.users[test], data.items[test],
                                 rating_range=rating_range))
    errors["rmse"][g, f] = rmse(data.values[test], est)
    errors["mae"][g, f] = mae(data.values[test], est)
  mean_rmse, mean_mae = errors["rmse"].mean(axis=1), errors["mae"].mean(axis=1)
  best = int(np.argmin(mean_rmse))
  return GridSearch(points, errors["rmse"], errors["mae"], mean_rmse, mean_mae, best, configs[best])
