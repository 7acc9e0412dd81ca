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

How it runs: a rating's update reads and writes only its user's and its
item's rows, so it depends only on the last earlier rating of the same user
or item. Each rating gets a *level* (one more than the level of the
ratings it depends on); ratings of one level touch distinct rows, and
running the levels in turn, each as one vectorised step (a gather, the
update, a scatter), is exactly the per-rating SGD in Surprise's order.
The 80,000 training ratings of a MovieLens-100k-sized synthetic set fall
into about 1,000 levels (2,300 to 6,000 once a collective of 10 to 50
members appends its ratings of popular items), so an epoch is a few
thousand steps of a few dozen ratings instead of 80,000 steps of one
(levels wider than a step are cut into several steps; each epoch ends
before the next begins).

Many models at once: :func:`fit_many` trains B models (their own ratings,
hyperparameters and seeds) in one jitted call per chunk of models; each
model follows its own levels, and a step updates a slice of ratings of
every model. Several host devices (``jax_num_cpu_devices``) each train a
share of a chunk at the same time. The returned parameters are
:class:`acajax.recommender.MFParams`, so :func:`acajax.recommender.top_k`,
:func:`~acajax.recommender.hits` and the hit ratios apply unchanged.
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


def _levels(users, items) -> np.ndarray:
  """Each rating's level: one more than the last earlier rating of its user or item.

  Ratings of one level touch distinct users and items, and each comes after
  every rating it depends on, so running the levels in turn, each as one
  vectorised step, is exactly the per-rating SGD in training order.
  """
  last_user, last_item, level = {}, {}, np.empty(users.size, np.int64)
  for n, (u, i) in enumerate(zip(users.tolist(), items.tolist())):
    lv = max(last_user.get(u, 0), last_item.get(i, 0))
    level[n] = lv
    last_user[u] = last_item[i] = lv + 1
  return level


def _steps(level: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
  """Cuts each level into steps of at most ``width`` ratings: (step, slot) of each."""
  counts = np.bincount(level)
  first_step = np.cumsum(-(-counts // width)) - -(-counts // width)
  order = np.argsort(level, kind="stable")
  rank = np.empty(level.size, np.int64)
  rank[order] = np.arange(level.size) - np.repeat(np.cumsum(counts) - counts, counts)
  return first_step[level] + rank // width, rank % width


def _width(levels, models: int) -> int:
  """The step width that needs the least work, padding and a per-step cost
  (about 32 rating updates) counted: the steps of the longest schedule times
  the ratings a step holds for all models."""
  counts = [np.bincount(level) for level in levels]
  cost = {w: max(int(np.sum(-(-c // w))) for c in counts) * (w * models + 32)
          for w in range(8, 129, 8)}
  return min(cost, key=cost.get)


def _bucket(n: int, step: int) -> int:
  return max(step, -(-n // step) * step)


def _sgd(tables, rows, values, epochs, mu, rates, regs, *, max_epochs: int,
         num_factors: int):
  """SGD of B models at once, a step of ratings per model at a time.

  ``tables`` are the user rows ``[p_u | b_u | 0...]`` (U B, c) and the item
  rows ``[q_i | b_i | 0...]`` (I B, c), row ``u B + b`` for model b, with
  ``k = num_factors`` factors, the bias in column k and zero columns up to
  a whole number of vectors c. A bias is a factor whose partner is 1, so
  one update serves both: ``row += lr * (err * partner - reg * row)`` with
  per-column ``rates`` and ``regs``, (2, B, c) for user and item rows (0 for
  the zero columns, and for the bias column's rate when unbiased). ``rows``
  (2, S, W, B) are each step's user and item rows (padding: distinct rows
  out of range, whose writes are dropped); ``values`` (S, W, B);
  ``epochs``, ``mu`` (B,). The ratings of a step touch distinct rows
  (:func:`_levels`).
  """
  k = num_factors
  factor = jnp.arange(tables[0].shape[-1]) < k
  put = dict(unique_indices=True, mode="drop")

  def step(lr, state, ratings):
    user_rows, item_rows = state
    u, i, r = ratings
    p, q = user_rows.at[u].get(mode="clip"), item_rows.at[i].get(mode="clip")
    dot = jnp.sum(jnp.where(factor, p * q, 0), axis=-1)
    err = (r - (mu + p[..., k] + q[..., k] + dot))[..., None]
    new_p = p + lr[0] * (err * jnp.where(factor, q, 1) - regs[0] * p)
    new_q = q + lr[1] * (err * jnp.where(factor, p, 1) - regs[1] * q)
    return user_rows.at[u].set(new_p, **put), item_rows.at[i].set(new_q, **put)

  def epoch(e, state):
    # A model past its epochs steps with rate 0: its rows stay as they are.
    lr = jnp.where((e < epochs)[:, None], rates, 0)
    return jax.lax.scan(lambda s, x: (step(lr, s, x), None), state,
                        (rows[0], rows[1], values))[0]

  return jax.lax.fori_loop(0, max_epochs, epoch, tables)


@functools.lru_cache(maxsize=32)
def _trainer(max_epochs: int, num_factors: int):
  return jax.jit(functools.partial(_sgd, max_epochs=max_epochs, num_factors=num_factors))


def _check_configs(configs, count: int) -> list[SVDConfig]:
  configs = [configs] * count if isinstance(configs, SVDConfig) else list(configs)
  if len(configs) != count:
    raise ValueError(f"configs must be one SVDConfig or one per model ({count}); got "
                     f"{len(configs)}")
  for b, config in enumerate(configs):
    if not isinstance(config, SVDConfig):
      raise ValueError(f"configs[{b}] must be an SVDConfig; got {type(config).__name__}")
  factors = {c.n_factors for c in configs}
  if len(factors) > 1:
    raise ValueError(f"configs must share n_factors to train in one call; got {sorted(factors)}")
  return configs


def _train_share(trainer, orders, configs, random_states, models, mu, num_users: int,
                 num_items: int, k: int, dtype, device):
  """Starts training ``models`` on ``device``: returns the (unfinished) user and item rows."""
  count = len(models)
  if (max(num_users, num_items) + 128) * count >= 2**31:
    raise ValueError(f"chunk: {count} models of {max(num_users, num_items)} rows exceed the "
                     f"int32 row index; use a smaller chunk")
  users = [orders[b].user_index[orders[b].users] for b in models]   # the caller's indices
  items = [orders[b].item_index[orders[b].items] for b in models]
  # Models with the same ratings (seeds, grid points of one fold) share their levels.
  known, levels = {}, []
  for u, i in zip(users, items):
    key = (u.tobytes(), i.tobytes())
    if key not in known:
      known[key] = _levels(u, i)
    levels.append(known[key])
  width = _width(levels, count)
  cuts = [_steps(level, width) for level in levels]
  num_steps = _bucket(max(int(step.max()) + 1 for step, _ in cuts), 64)
  # Model b's rows are u B + b; padding takes distinct rows past the end.
  spare = np.arange(width)[:, None] * count + np.arange(count)
  user_at = np.broadcast_to(num_users * count + spare, (num_steps, width, count)).copy()
  item_at = np.broadcast_to(num_items * count + spare, (num_steps, width, count)).copy()
  values = np.zeros((num_steps, width, count), dtype)
  cols = -(-(k + 1) // 8) * 8                 # rows padded to whole vectors (rate 0)
  user_rows = np.zeros((num_users, count, cols), dtype)
  item_rows = np.zeros((num_items, count, cols), dtype)
  rates, regs = np.zeros((2, 2, count, cols), dtype)
  for j, b in enumerate(models):
    o, c = orders[b], configs[b]
    step, slot = cuts[j]
    user_at[step, slot, j] = users[j] * count + j
    item_at[step, slot, j] = items[j] * count + j
    values[step, slot, j] = o.values
    pu, qi = initial_factors(random_states[b], o.user_index.size, o.item_index.size, c)
    user_rows[o.user_index, j, :k], item_rows[o.item_index, j, :k] = pu, qi
    (lr_bu, lr_bi, lr_pu, lr_qi), (reg_bu, reg_bi, reg_pu, reg_qi) = (
        c.learning_rates(), c.regularisations())
    # Columns 0..k-1 are the factors, column k the bias (rate 0 when unbiased).
    biased = float(c.biased)
    rates[:, j, :k + 1] = [[lr_pu] * k + [lr_bu * biased], [lr_qi] * k + [lr_bi * biased]]
    regs[:, j, :k + 1] = [[reg_pu] * k + [reg_bu], [reg_qi] * k + [reg_bi]]
  put = lambda a: jax.device_put(a, device)
  rows = np.stack([user_at, item_at]).astype(np.int32)
  return trainer((put(user_rows.reshape(-1, cols)), put(item_rows.reshape(-1, cols))),
                 put(rows), put(values),
                 put(np.array([configs[b].n_epochs for b in models])), put(mu), put(rates),
                 put(regs))


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
      share ``n_factors``; biases, epochs, rates and regularisation
      may differ, as in a grid search).
    random_states: B int seeds (default ``0, 1, ..., B - 1``).
    chunk: models per jitted call (split over the host devices).
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
  k = configs[0].n_factors
  trainer = _trainer(max(c.n_epochs for c in configs), k)
  devices = jax.local_devices()
  out = {name: np.zeros((count, *shape), dtype) for name, shape in
         (("user_bias", (num_users,)), ("item_bias", (num_items,)),
          ("user_factors", (num_users, k)), ("item_factors", (num_items, k)))}
  mu = np.array([o.global_mean if c.biased else 0.0 for o, c in zip(orders, configs)], dtype)
  for start in range(0, count, chunk):
    chunk_models = range(start, min(start + chunk, count))
    # Host devices (CPU cores as devices) each train a share of the chunk at once.
    shares = [part for part in np.array_split(np.asarray(chunk_models), len(devices)) if part.size]
    running = [(models, _train_share(trainer, orders, configs, random_states, models,
                                     mu[models], num_users, num_items, k, dtype, device))
               for models, device in zip(shares, devices)]
    for models, (user_rows, item_rows) in running:
      user_rows = np.asarray(user_rows).reshape(num_users, len(models), -1)
      item_rows = np.asarray(item_rows).reshape(num_items, len(models), -1)
      out["user_factors"][models] = user_rows[..., :k].transpose(1, 0, 2)
      out["item_factors"][models] = item_rows[..., :k].transpose(1, 0, 2)
      out["user_bias"][models] = user_rows[..., k].T
      out["item_bias"][models] = item_rows[..., k].T
    if progress is not None:
      progress(chunk_models.stop)
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
