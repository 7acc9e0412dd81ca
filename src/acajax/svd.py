"""Surprise's ``SVD`` in JAX: per-rating SGD in Surprise's order.

The study's recommender is ``surprise.SVD`` (scikit-surprise): biased matrix
factorisation, ``r_hat(u, i) = mu + b_u + b_i + q_i . p_u`` with ``mu`` the
mean training rating, trained by plain stochastic gradient descent, one
rating at a time, for a fixed number of epochs. For each rating ``(u, i, r)``
in turn::

    err  = r - (mu + b_u + b_i + q_i . p_u)
    b_u += lr_bu (err - reg_bu b_u)
    b_i += lr_bi (err - reg_bi b_i)
    p_u += lr_pu (err q_i - reg_pu p_u)        (both with the old p_u, q_i)
    q_i += lr_qi (err p_u - reg_qi q_i)

Biases start at 0 and factors at ``N(init_mean, init_std_dev^2)``, drawn by
``numpy.random.RandomState(random_state).normal`` for the users' then the
items' factors, rows numbered as Surprise numbers them (its *inner ids*: by
first appearance in the training ratings). Each epoch walks the ratings user
by user (users in inner-id order, each user's ratings in the order given),
which is Surprise's ``Trainset.all_ratings``. With ``biased=False`` there are
no biases and ``mu`` is 0. This module reproduces all of it, so a model
trained here with the same ``random_state`` is Surprise's model up to
floating-point summation order (in float64, Surprise's precision, with
``jax_enable_x64`` on; in float32 otherwise).

Twenty epochs of plain SGD stop far from the minimum of the regularised
objective, and that matters: an item's parameters move in proportion to its
number of ratings, so rarely rated items stay near their initial values and
rarely reach a top-k list. :mod:`acajax.recommender` trains the same
objective to convergence with Adam instead; there rarely rated items move as
fast as popular ones and fill top-k lists. Use this module to reproduce the
study's model.

Many models at once: :func:`fit_many` trains B models (their own ratings,
hyperparameters and seeds) in one jitted call per chunk of models, vmapped;
per step each model updates its two rows, so B models cost little more than
one. The returned parameters are :class:`acajax.recommender.MFParams`, so
:func:`acajax.recommender.top_k`, :func:`~acajax.recommender.hits` and the
hit ratios apply unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from acajax import _checks
from acajax.recommender import MFParams

__all__ = ["SVDConfig", "SurpriseOrder", "surprise_order", "initial_factors", "fit", "fit_many",
           "predict"]

_PARAMETERS = ("bu", "bi", "pu", "qi")


@dataclasses.dataclass(frozen=True)
class SVDConfig:
  """Hyperparameters of Surprise's ``SVD``, with its names and defaults.

  Attributes:
    n_factors: number of factors (100).
    n_epochs: passes over the training ratings (20).
    biased: learn ``mu + b_u + b_i`` (True) or the factors alone.
    init_mean, init_std_dev: the factors' initial normal distribution
      (0 and 0.1).
    lr_all, reg_all: learning rate (0.005) and regularisation (0.02) of
      every parameter unless overridden.
    lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi: per-parameter
      overrides (None: ``lr_all`` / ``reg_all``).

  Raises:
    ValueError: at construction, ``n_factors`` not a positive int,
      ``n_epochs`` not a non-negative int, or a rate, regularisation or
      ``init_std_dev`` not finite and >= 0 (``init_mean`` finite). The
      message names the field.

  Examples:
    >>> from acajax import svd
    >>> svd.SVDConfig(lr_bu=0.01).learning_rates()
    (0.01, 0.005, 0.005, 0.005)
    >>> svd.SVDConfig(reg_all=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: reg_all must be a finite number >= 0; got -1.0
  """
  n_factors: int = 100
  n_epochs: int = 20
  biased: bool = True
  init_mean: float = 0.0
  init_std_dev: float = 0.1
  lr_all: float = 0.005
  reg_all: float = 0.02
  lr_bu: float | None = None
  lr_bi: float | None = None
  lr_pu: float | None = None
  lr_qi: float | None = None
  reg_bu: float | None = None
  reg_bi: float | None = None
  reg_pu: float | None = None
  reg_qi: float | None = None

  def __post_init__(self):
    if isinstance(self.n_factors, bool) or not isinstance(self.n_factors, int) \
        or self.n_factors < 1:
      raise ValueError(f"n_factors must be a positive int; got {self.n_factors!r}")
    if isinstance(self.n_epochs, bool) or not isinstance(self.n_epochs, int) or self.n_epochs < 0:
      raise ValueError(f"n_epochs must be a non-negative int; got {self.n_epochs!r}")
    if not isinstance(self.biased, bool):
      raise ValueError(f"biased must be a bool; got {self.biased!r}")
    names = ["init_std_dev", "lr_all", "reg_all"]
    names += [f"{kind}_{p}" for kind in ("lr", "reg") for p in _PARAMETERS
              if getattr(self, f"{kind}_{p}") is not None]
    for name in names:
      _checks.check_finite(name, getattr(self, name), positive=False)
    if not np.isfinite(self.init_mean):
      raise ValueError(f"init_mean must be a finite number; got {self.init_mean!r}")

  def learning_rates(self) -> tuple[float, float, float, float]:
    """``(lr_bu, lr_bi, lr_pu, lr_qi)`` with the overrides applied."""
    return tuple(self.lr_all if getattr(self, f"lr_{p}") is None else getattr(self, f"lr_{p}")
                 for p in _PARAMETERS)

  def regularisations(self) -> tuple[float, float, float, float]:
    """``(reg_bu, reg_bi, reg_pu, reg_qi)`` with the overrides applied."""
    return tuple(self.reg_all if getattr(self, f"reg_{p}") is None else getattr(self, f"reg_{p}")
                 for p in _PARAMETERS)


class SurpriseOrder(NamedTuple):
  """Training ratings numbered and ordered as Surprise's trainset.

  Attributes:
    users, items: (L,) inner ids of each rating, in training order.
    values: (L,) the ratings in training order.
    user_index: (n_users,) the caller's user index of each inner user id.
    item_index: (n_items,) the caller's item index of each inner item id.
    global_mean: the mean training rating.
  """
  users: np.ndarray
  items: np.ndarray
  values: np.ndarray
  user_index: np.ndarray
  item_index: np.ndarray
  global_mean: float


def _first_appearance(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Inner ids by first appearance, and the original id of each inner id."""
  unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
  rank = np.empty(unique.size, np.int64)
  rank[np.argsort(first, kind="stable")] = np.arange(unique.size)
  return rank[inverse], unique[np.argsort(first, kind="stable")]


def surprise_order(users, items, values) -> SurpriseOrder:
  """Numbers users and items by first appearance and orders ratings user by user.

  This is how ``surprise.Dataset`` builds a trainset from ratings in a given
  order (``load_from_df(...).build_full_trainset()``) and how
  ``Trainset.all_ratings`` walks it: users in order of first appearance,
  each user's ratings in their given order.

  Args:
    users, items: (L,) integer user and item indices of the ratings, in the
      order Surprise would read them.
    values: (L,) the ratings.

  Returns:
    A :class:`SurpriseOrder`.

  Raises:
    ValueError: arrays of different lengths, or no rating.

  Examples:
    >>> from acajax import svd
    >>> order = svd.surprise_order([7, 3, 7], [0, 1, 2], [5.0, 1.0, 3.0])
    >>> order.users.tolist(), order.items.tolist(), order.user_index.tolist()
    ([0, 0, 1], [0, 2, 1], [7, 3])
  """
  users = np.asarray(users).reshape(-1)
  items = np.asarray(items).reshape(-1)
  values = np.asarray(values, float).reshape(-1)
  if not users.size == items.size == values.size:
    raise ValueError(f"users, items and values must have one entry per rating; got lengths "
                     f"{users.size}, {items.size} and {values.size}")
  if users.size == 0:
    raise ValueError("there must be at least one training rating; got none")
  inner_users, user_index = _first_appearance(users)
  inner_items, item_index = _first_appearance(items)
  order = np.argsort(inner_users, kind="stable")
  return SurpriseOrder(inner_users[order].astype(np.int32), inner_items[order].astype(np.int32),
                       values[order], user_index, item_index, float(np.mean(values[order])))


def initial_factors(random_state, n_users: int, n_items: int,
                    config: SVDConfig = SVDConfig()) -> tuple[np.ndarray, np.ndarray]:
  """Surprise's initial ``(pu, qi)``: the same draws for the same ``random_state``.

  Args:
    random_state: an int seed or a ``numpy.random.RandomState`` (as
      Surprise's ``random_state``; None is refused, as it would not be
      reproducible).
    n_users, n_items: rows of ``pu`` and ``qi`` (inner ids).
    config: ``n_factors``, ``init_mean`` and ``init_std_dev``.

  Returns:
    ``(pu, qi)``, float64 arrays of shapes (n_users, n_factors) and
    (n_items, n_factors).

  Examples:
    >>> import numpy as np
    >>> from acajax import svd
    >>> pu, qi = svd.initial_factors(0, 2, 3, svd.SVDConfig(n_factors=4))
    >>> pu.shape, qi.shape, bool(np.allclose(pu[0, 0], 0.1 * 1.7640523))
    ((2, 4), (3, 4), True)
  """
  if isinstance(random_state, np.random.RandomState):
    rng = random_state
  elif isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
    rng = np.random.RandomState(int(random_state))
  else:
    raise ValueError("random_state must be an int or a numpy.random.RandomState; got "
                     f"{random_state!r}")
  shape = (config.n_factors,)
  pu = rng.normal(config.init_mean, config.init_std_dev, size=(n_users, *shape))
  qi = rng.normal(config.init_mean, config.init_std_dev, size=(n_items, *shape))
  return pu, qi


def _sgd(table, users, items, values, active, mu, rates, regs, epochs, *, item_offset: int,
         max_epochs: int, biased: bool):
  """One model's SGD (vmapped by the caller).

  ``table`` holds the user rows ``[p_u | b_u]`` followed, from
  ``item_offset``, by the item rows ``[q_i | b_i]``; each step reads the two
  rows and writes both back in one scatter (which XLA does in place; two
  separate updates would copy the table every step).
  """
  k = table.shape[1] - 1
  lr_bu, lr_bi, lr_pu, lr_qi = rates
  reg_bu, reg_bi, reg_pu, reg_qi = regs

  def step(epoch, table, rating):
    u, i, r, on = rating
    rows = jnp.stack([u, i + item_offset])
    old = table[rows]
    p, b_u, q, b_i = old[0, :k], old[0, k], old[1, :k], old[1, k]
    err = r - (mu + b_u + b_i + jnp.dot(q, p))
    if biased:
      b_u = b_u + lr_bu * (err - reg_bu * b_u)
      b_i = b_i + lr_bi * (err - reg_bi * b_i)
    new = jnp.stack([jnp.append(p + lr_pu * (err * q - reg_pu * p), b_u),
                     jnp.append(q + lr_qi * (err * p - reg_qi * q), b_i)])
    new = jnp.where(on & (epoch < epochs), new, old)
    return table.at[rows].set(new, unique_indices=True)

  def epoch(e, table):
    return jax.lax.scan(lambda t, x: (step(e, t, x), None), table,
                        (users, items, values, active))[0]

  return jax.lax.fori_loop(0, max_epochs, epoch, table)


@functools.lru_cache(maxsize=32)
def _trainer(item_offset: int, max_epochs: int, biased: bool):
  fn = functools.partial(_sgd, item_offset=item_offset, max_epochs=max_epochs, biased=biased)
  return jax.jit(jax.vmap(fn))


def _check_configs(configs, count: int) -> list[SVDConfig]:
  configs = [configs] * count if isinstance(configs, SVDConfig) else list(configs)
  if len(configs) != count:
    raise ValueError(f"configs must be one SVDConfig or one per model ({count}); got "
                     f"{len(configs)}")
  for b, config in enumerate(configs):
    if not isinstance(config, SVDConfig):
      raise ValueError(f"configs[{b}] must be an SVDConfig; got {type(config).__name__}")
  for field in ("n_factors", "biased"):
    values = {getattr(c, field) for c in configs}
    if len(values) > 1:
      raise ValueError(f"configs must share {field} to train in one call; got {sorted(values)}")
  return configs


def fit_many(ratings: Sequence[tuple], *, num_users: int, num_items: int,
             configs: SVDConfig | Sequence[SVDConfig] = SVDConfig(), random_states=None,
             chunk: int = 32, dtype=None,
             progress: Callable[[int], object] | None = None) -> MFParams:
  """Trains B Surprise ``SVD`` models, each on its own ratings.

  Args:
    ratings: B tuples ``(users, items, values)``, each model's training
      ratings in the order Surprise would read them (user and item indices
      in ``[0, num_users)`` and ``[0, num_items)``).
    num_users, num_items: size of the returned parameters (the caller's
      index space); users or items without a training rating keep zero
      parameters, which predicts ``mu + b_i`` or ``mu + b_u`` as Surprise
      does for an unknown user or item.
    configs: one :class:`SVDConfig` for all, or one per model (they must
      share ``n_factors`` and ``biased``; epochs, rates and regularisation
      may differ, as in a grid search).
    random_states: B int seeds (default ``0, 1, ..., B - 1``).
    chunk: models per vmapped call.
    dtype: float dtype of training (default: float64 under
      ``jax_enable_x64``, as Surprise, else float32).
    progress: called with the number of models finished after each chunk.

  Returns:
    :class:`acajax.recommender.MFParams` with a leading model axis B.

  Raises:
    ValueError: an empty ``ratings``, indices out of range, mismatched
      configs or seeds.

  Examples:
    >>> from acajax import svd
    >>> data = ([0, 0, 1, 1], [0, 1, 0, 2], [5.0, 3.0, 4.0, 1.0])
    >>> params = svd.fit_many([data, data], num_users=2, num_items=3,
    ...                       configs=svd.SVDConfig(n_factors=2, n_epochs=3),
    ...                       random_states=[0, 0])
    >>> params.user_factors.shape, bool((params.item_bias[0] == params.item_bias[1]).all())
    ((2, 2, 2), True)
  """
  ratings = list(ratings)
  if not ratings:
    raise ValueError("ratings must hold at least one model's (users, items, values); got none")
  count = len(ratings)
  configs = _check_configs(configs, count)
  random_states = list(range(count)) if random_states is None else list(random_states)
  if len(random_states) != count:
    raise ValueError(f"random_states must have one seed per model ({count}); got "
                     f"{len(random_states)}")
  if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
    raise ValueError(f"chunk must be a positive int; got {chunk!r}")
  orders = []
  for b, (users, items, values) in enumerate(ratings):
    order = surprise_order(users, items, values)
    for name, index, size in (("users", order.user_index, num_users),
                              ("items", order.item_index, num_items)):
      if index.min() < 0 or index.max() >= size:
        raise ValueError(f"ratings[{b}]: {name} must lie in [0, {size}); got values from "
                         f"{index.min()} to {index.max()}")
    orders.append(order)
  dtype = np.dtype(dtype or jax.dtypes.canonicalize_dtype(jnp.float64))
  k, biased = configs[0].n_factors, configs[0].biased
  length = max(o.users.size for o in orders)
  n_users = max(o.user_index.size for o in orders)
  n_items = max(o.item_index.size for o in orders)
  trainer = _trainer(n_users, max(c.n_epochs for c in configs), biased)

  def model_inputs(b):
    o, c = orders[b], configs[b]
    pu, qi = initial_factors(random_states[b], o.user_index.size, o.item_index.size, c)
    table = np.zeros((n_users + n_items, k + 1))
    table[:pu.shape[0], :k] = pu
    table[n_users:n_users + qi.shape[0], :k] = qi
    pad = length - o.users.size
    return (table, np.pad(o.users, (0, pad)), np.pad(o.items, (0, pad)),
            np.pad(o.values, (0, pad)), np.arange(length) < o.users.size,
            o.global_mean if biased else 0.0, c.learning_rates(), c.regularisations(), c.n_epochs)

  out = {name: np.zeros((count, *shape), dtype) for name, shape in
         (("user_bias", (num_users,)), ("item_bias", (num_items,)),
          ("user_factors", (num_users, k)), ("item_factors", (num_items, k)))}
  mu = np.zeros(count, dtype)
  for start in range(0, count, chunk):
    stop = min(start + chunk, count)
    parts = [model_inputs(b) for b in range(start, stop)]
    args = [np.stack([p[j] for p in parts]) for j in range(len(parts[0]))]
    args = [jnp.asarray(a, dtype) if a.dtype.kind == "f" else jnp.asarray(a) for a in args]
    tables = np.asarray(trainer(*args))
    for b in range(start, stop):
      o = orders[b]
      users, items = tables[b - start, :o.user_index.size], tables[b - start, n_users:][
          :o.item_index.size]
      out["user_factors"][b, o.user_index] = users[:, :k]
      out["user_bias"][b, o.user_index] = users[:, k]
      out["item_factors"][b, o.item_index] = items[:, :k]
      out["item_bias"][b, o.item_index] = items[:, k]
      mu[b] = o.global_mean if biased else 0.0
    if progress is not None:
      progress(stop)
  return MFParams(jnp.asarray(mu), *(jnp.asarray(out[name]) for name in
                                     ("user_bias", "item_bias", "user_factors", "item_factors")))


def fit(users, items, values, *, num_users: int, num_items: int,
        config: SVDConfig = SVDConfig(), random_state: int = 0, dtype=None) -> MFParams:
  """Trains one Surprise ``SVD`` model (:func:`fit_many` with B = 1).

  Args:
    users, items, values: the training ratings, in the order Surprise would
      read them.
    num_users, num_items: size of the returned parameters.
    config: the :class:`SVDConfig` (Surprise's defaults).
    random_state: Surprise's ``random_state`` (an int seed).
    dtype: float dtype of training (default: float64 under
      ``jax_enable_x64``, Surprise's precision; float32 otherwise, which
      gives Surprise's model up to float32 rounding).

  Returns:
    One model's :class:`acajax.recommender.MFParams`.

  Examples:
    >>> from acajax import svd
    >>> params = svd.fit([0, 0, 1], [0, 1, 1], [5.0, 1.0, 2.0], num_users=2, num_items=2,
    ...                  config=svd.SVDConfig(n_factors=3, n_epochs=50))
    >>> round(float(params.mu), 4)
    2.6667
    >>> print(svd.predict(params, [0], [0]).round(1))
    [3.3]
  """
  params = fit_many([(users, items, values)], num_users=num_users, num_items=num_items,
                    configs=config, random_states=[random_state], dtype=dtype)
  return jax.tree_util.tree_map(lambda x: x[0], params)


def predict(params: MFParams, users, items, *, rating_range: tuple[float, float] | None = (1, 5)
            ) -> jax.Array:
  """Predicted ratings, clipped to the rating scale as Surprise's ``predict`` does.

  Args:
    params: one model's parameters.
    users, items: indices of the pairs to predict (broadcast together).
    rating_range: ``(lowest, highest)`` rating to clip to; None: no clipping
      (Surprise's ``predict(..., clip=False)``).

  Returns:
    The predictions, shaped as ``users`` and ``items`` broadcast; NaN for
    an index out of range under ``jit`` (SPEC §11).

  Raises:
    ValueError: on concrete inputs, a user or item index out of range.

  Examples:
    >>> from acajax import svd
    >>> params = svd.fit([0, 1], [0, 1], [4.0, 2.0], num_users=2, num_items=2,
    ...                  config=svd.SVDConfig(n_factors=2, n_epochs=0))
    >>> print(svd.predict(params, [0, 1], [1, 1]).round(3))
    [3. 3.]
    >>> svd.predict(params, [5], [0])
    Traceback (most recent call last):
    ...
    ValueError: users must be indices in [0, 2); got values from 5 to 5
  """
  users, items = jnp.asarray(users), jnp.asarray(items)
  sizes = (("users", users, params.user_bias.shape[-1]),
           ("items", items, params.item_bias.shape[-1]))
  for name, index, size in sizes:
    if _checks.is_concrete(index) and index.size and (index.min() < 0 or index.max() >= size):
      raise ValueError(f"{name} must be indices in [0, {size}); got values from "
                       f"{int(index.min())} to {int(index.max())}")
  valid = functools.reduce(jnp.logical_and, [(i >= 0) & (i < n) for _, i, n in sizes])
  est = (params.mu + params.user_bias[users] + params.item_bias[items]
         + jnp.sum(params.user_factors[users] * params.item_factors[items], axis=-1))
  if rating_range is not None:
    est = jnp.clip(est, *rating_range)
  return jnp.where(valid, est, jnp.nan)
