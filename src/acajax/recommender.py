"""Biased matrix factorisation in JAX: training, top-k lists, hit ratio.

The platform's model in the recommender setting, as in the study's Surprise
``SVD``: a predicted rating

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

with ``mu`` the mean of the training ratings (fixed, not learned), user and
item biases ``b_u``, ``b_i`` and rank-``k`` factors ``p_u``, ``q_i``. Training
minimises Surprise's objective, the squared error on the observed ratings
with an L2 penalty counted once per observed rating (which is what Surprise's
per-rating SGD step regularises):

    sum_(u,i observed) w_ui [ (r_ui - r_hat(u, i))^2
                              + reg (b_u^2 + b_i^2 + |p_u|^2 + |q_i|^2) ] / sum w_ui

with optax Adam (full batch, or minibatches of observed ratings) in
``lax.scan``; factors start at N(0, ``init_std``^2), biases at 0 (Surprise's
defaults: ``init_std`` = 0.1, ``reg`` = 0.02). Adam replaces Surprise's plain
SGD because it converges in a fixed, small number of full-batch steps, which
is what a vmapped batch of trainings needs; the objective is the same.

Recommendation and its measure:

* :func:`top_k`: each user's k highest-scoring items among those the user
  has not rated in the training data.
* HR@k (:func:`hits`, :func:`hit_ratio`): the share of evaluation users whose
  top-k list contains at least one item of the target set T,

      HR@k(T) = (1 / |E|) sum_(u in E) 1[ top_k(u) ∩ T ≠ ∅ ],

  where the evaluation users E are chosen by the caller; the experiments
  (:mod:`acajax.runs.recommender`) take every user who is not a member of an
  acting collective, so that the measure is about the platform's other users
  and not about the members' own lists.
* relative hit ratio (:func:`relative_hit_ratio`): HR@k with collective
  action over HR@k without, on the same users and the same seed (same data
  apart from the members' ratings, same initialisation); above 1 the target
  set is recommended more, below 1 less. NaN where HR without is 0.

The study reports a (relative) hit ratio but its blog post does not define it
further; the formulas above are acajax's choices (any-hit over the target
set, non-members as evaluation users, ratio to the no-action run of the same
seed).

Many trainings at once: :func:`train_many` trains B models, one per
(seed, configuration), in one jitted call. The training data of model b is a
base rating set shared by all (passed once) plus, per model, a weight on each
base rating (0 removes it) and a padded set of extra ratings; that is how
collectives' edits are expressed (:func:`acajax.rating_collectives.overlay`).
Inside the call ``lax.map`` walks chunks of ``chunk`` models, each chunk one
``vmap``; a progress bar passed by the caller ticks once per model from
inside the call.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax

from acajax import _checks, _devices
from acajax.ratings import Ratings

__all__ = [
    "Extras",
    "MFConfig",
    "MFParams",
    "default_chunk",
    "dense_cells",
    "diverged",
    "dense_objective",
    "hit_ratio",
    "hits",
    "hits_many",
    "init_params",
    "objective",
    "predict",
    "relative_hit_ratio",
    "scores",
    "top_k",
    "train_many",
    "train_one",
]


@dataclasses.dataclass(frozen=True)
class MFConfig:
  """Hyperparameters of biased MF training (static: hashable).

  Attributes:
    rank: k, the dimension of the factors (Surprise's ``n_factors``).
    steps: optimiser steps (full-batch steps are epochs).
    learning_rate: Adam's step size.
    reg: L2 weight per observed rating (Surprise's ``reg_all``, 0.02).
    init_std: standard deviation of the initial factors (Surprise: 0.1).
    batch_size: observed ratings per step, drawn uniformly with replacement;
      None: full batch.

  Raises:
    ValueError: at construction, a field out of range; ``learning_rate``
      and ``init_std`` must be finite and > 0, ``reg`` finite and >= 0
      (NaN and inf raise). The message names the field.

  Examples:
    >>> from acajax import recommender
    >>> recommender.MFConfig(learning_rate=float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be a finite number > 0; got inf
  """
  rank: int = 16
  steps: int = 200
  learning_rate: float = 0.05
  reg: float = 0.02
  init_std: float = 0.1
  batch_size: int | None = None

  def __post_init__(self):
    for name in ("rank", "steps"):
      value = getattr(self, name)
      if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    if self.batch_size is not None and (not isinstance(self.batch_size, int)
                                        or self.batch_size < 1):
      raise ValueError(f"batch_size must be a positive int or None; got {self.batch_size!r}")
    # Static config, checked on the host: NaN or inf would train every model
    # to NaN (SPEC §11: static mistakes raise, naming the argument).
    for name, positive in (("learning_rate", True), ("init_std", True), ("reg", False)):
      _checks.check_finite(name, getattr(self, name), positive=positive)


class MFParams(NamedTuple):
  """Parameters of one model (a leading batch axis when stacked).

  Attributes:
    mu: () global mean.
    user_bias: (U,) b_u.
    item_bias: (I,) b_i.
    user_factors: (U, k) p_u.
    item_factors: (I, k) q_i.
  """
  mu: jax.Array
  user_bias: jax.Array
  item_bias: jax.Array
  user_factors: jax.Array
  item_factors: jax.Array


class ProgressBar(Protocol):
  """What :func:`train_many` needs of a progress bar (``tqdm.tqdm`` has it)."""

  def reset(self, total: int | None = None) -> None: ...

  def update(self, n: int = 1) -> object: ...


class Extras(NamedTuple):
  """Per-model extra ratings, padded to a common length E (weight 0 = padding).

  Attributes:
    users, items: (B, E) int32.
    values, weights: (B, E) float32.
  """
  users: np.ndarray
  items: np.ndarray
  values: np.ndarray
  weights: np.ndarray


def init_params(seed: int | np.random.Generator, num_users: int, num_items: int,
                config: MFConfig = MFConfig(), dtype=np.float32) -> MFParams:
  """Initial parameters, drawn on the host: factors N(0, init_std^2), biases and mu 0.

  NumPy streams (one per seed) rather than ``jax.random`` inside the jitted
  training: compiling the initialiser cost more than the training itself.

  Examples:
    >>> from acajax import recommender
    >>> p = recommender.init_params(0, 5, 3, recommender.MFConfig(rank=2))
    >>> p.user_factors.shape, p.item_factors.shape, float(p.item_bias.sum())
    ((5, 2), (3, 2), 0.0)
  """
  rng = np.random.default_rng(seed)
  std = config.init_std
  return MFParams(
      mu=np.zeros((), dtype), user_bias=np.zeros(num_users, dtype),
      item_bias=np.zeros(num_items, dtype),
      user_factors=(std * rng.standard_normal((num_users, config.rank))).astype(dtype),
      item_factors=(std * rng.standard_normal((num_items, config.rank))).astype(dtype))


def predict(params: MFParams, users, items) -> jax.Array:
  """r_hat(u, i) = mu + b_u + b_i + p_u . q_i for paired index arrays.

  Examples:
    >>> import jax, numpy as np
    >>> from acajax import recommender
    >>> params = recommender.MFParams(np.float32(3), np.array([0.5, -0.5], np.float32),
    ...     np.array([0.0, 1.0], np.float32), np.array([[1.0], [0.0]], np.float32),
    ...     np.array([[1.0], [2.0]], np.float32))
    >>> jax.jit(recommender.predict)(params, np.array([0, 1]), np.array([1, 1])).tolist()
    [6.5, 3.5]
  """
  return (params.mu + params.user_bias[users] + params.item_bias[items]
          + jnp.sum(params.user_factors[users] * params.item_factors[items], axis=-1))


def scores(params: MFParams) -> jax.Array:
  """(U, I) predicted ratings of every user for every item."""
  return (params.mu + params.user_bias[:, None] + params.item_bias[None, :]
          + params.user_factors @ params.item_factors.T)


def objective(params: MFParams, users, items, values, weights, reg) -> jax.Array:
  """Surprise's SVD objective, averaged: weighted squared error + per-rating L2.

  Args:
    params: :class:`MFParams`.
    users, items: (n,) int indices of observed ratings.
    values: (n,) ratings.
    weights: (n,) non-negative weights (0 drops a rating).
    reg: L2 weight per observed rating.

  Returns:
    The scalar loss (see the module docstring).

  Examples:
    >>> import jax, numpy as np
    >>> from acajax import recommender
    >>> params = recommender.MFParams(np.float32(3), np.array([0.5, 0.0], np.float32),
    ...     np.zeros(2, np.float32), np.zeros((2, 1), np.float32), np.ones((2, 1), np.float32))
    >>> users, items = np.array([0, 1, 1]), np.array([0, 0, 1])
    >>> values, weights = np.array([4.0, 2.0, 5.0], np.float32), np.ones(3, np.float32)
    >>> # errors 0.5, -1, 2; penalties 0.25 + 1, then |q_i|^2 = 1 twice: (5.25 + 0.1 * 3.25) / 3
    >>> round(float(jax.jit(recommender.objective)(params, users, items, values, weights, 0.1)), 4)
    1.8583
  """
  err = values - predict(params, users, items)
  penalty = (params.user_bias[users] ** 2 + params.item_bias[items] ** 2
             + jnp.sum(params.user_factors[users] ** 2, -1)
             + jnp.sum(params.item_factors[items] ** 2, -1))
  total = jnp.sum(weights * (err ** 2 + reg * penalty))
  return total / jnp.maximum(jnp.sum(weights), 1.0)


def dense_cells(users, items, values, weights, num_users: int, num_items: int):
  """Per-cell sums (W, W r, W r^2), each (U, I), of weighted ratings.

  Repeated (user, item) pairs add up, so :func:`dense_objective` on the cells
  equals :func:`objective` on the ratings.
  """
  flat = users * num_items + items
  size = num_users * num_items
  sums = [jax.ops.segment_sum(v, flat, num_segments=size).reshape(num_users, num_items)
          for v in (weights, weights * values, weights * values ** 2)]
  return tuple(sums)


def dense_objective(params: MFParams, weight, weighted_value, weighted_square, reg) -> jax.Array:
  """:func:`objective` from cell sums (:func:`dense_cells`): the same value.

  With W, W r and W r^2 summed per cell, sum_j w_j (r_j - r_hat)^2 =
  sum_cells (W r_hat^2 - 2 (W r) r_hat + W r^2), and the per-rating penalty
  counts each user and item by its total weight.
  """
  pred = scores(params)
  error = jnp.sum(weight * pred ** 2 - 2 * weighted_value * pred + weighted_square)
  per_user = jnp.sum(weight, axis=1)
  per_item = jnp.sum(weight, axis=0)
  penalty = (jnp.sum(per_user * (params.user_bias ** 2 + jnp.sum(params.user_factors ** 2, -1)))
             + jnp.sum(per_item * (params.item_bias ** 2
                                   + jnp.sum(params.item_factors ** 2, -1))))
  return (error + reg * penalty) / jnp.maximum(jnp.sum(weight), 1.0)


@functools.partial(jax.jit, static_argnames=("config",))
def train_one(users, items, values, weights, params: MFParams, key: jax.Array | None = None, *,
              config: MFConfig = MFConfig()) -> tuple[MFParams, jax.Array]:
  """Trains one biased MF model on observed ratings (unbatched, jitted; vmap for many).

  Args:
    users, items: (n,) int indices.
    values: (n,) float ratings.
    weights: (n,) weights; 0 marks padding or a removed rating.
    params: initial :class:`MFParams` (:func:`init_params`); U and I are
      read from their shapes, ``mu`` is replaced by the weighted mean rating.
    key: PRNG key of the minibatches (only with ``config.batch_size``).
    config: :class:`MFConfig` (static).

  Returns:
    ``(params, losses)``, losses of shape (steps,) (the objective before each
    step; on minibatches, the minibatch objective).

  Examples:
    >>> import jax, numpy as np
    >>> from acajax import recommender
    >>> u, i = np.divmod(np.arange(12), 4)
    >>> values = np.array([5, 4, 1, 1, 4, 5, 1, 2, 1, 1, 5, 4], np.float32)
    >>> config = recommender.MFConfig(rank=2, steps=300, reg=0.0)
    >>> params, losses = recommender.train_one(u, i, values, np.ones(12, np.float32),
    ...     recommender.init_params(0, 3, 4, config), config=config)
    >>> bool(losses[-1] < 0.01 * losses[0])
    True
  """
  users = jnp.asarray(users, jnp.int32)
  items = jnp.asarray(items, jnp.int32)
  values = jnp.asarray(values)
  weights = jnp.asarray(weights, values.dtype)
  mu = jnp.sum(weights * values) / jnp.maximum(jnp.sum(weights), 1.0)
  params = jax.tree.map(lambda v: jnp.asarray(v, values.dtype), params)._replace(mu=mu)
  num_users, num_items = params.user_bias.shape[0], params.item_bias.shape[0]
  if config.batch_size is not None and key is None:
    raise ValueError("key is required when config.batch_size is set (minibatches)")
  optimizer = optax.adam(config.learning_rate)
  if config.batch_size is None:
    # Full batch: the same objective from (U, I) cell sums, so every step is
    # two matrix products instead of gathers and scatters over n ratings.
    cells = dense_cells(users, items, values, weights, num_users, num_items)
    loss_fn = lambda p, _: dense_objective(p, *cells, config.reg)  # noqa: E731
  else:
    def loss_fn(p, key_t):
      idx = jax.random.randint(key_t, (config.batch_size,), 0, users.shape[0])
      return objective(p, users[idx], items[idx], values[idx], weights[idx], config.reg)
  grad_fn = jax.value_and_grad(lambda p, mu_fixed, key_t: loss_fn(p._replace(mu=mu_fixed), key_t))

  def step(carry, key_t):
    params, opt_state = carry
    loss, grads = grad_fn(params, params.mu, key_t)
    grads = grads._replace(mu=jnp.zeros_like(grads.mu))       # mu stays the data mean
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss

  step_keys = None if config.batch_size is None else jax.random.split(key, config.steps)
  (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), step_keys,
                                     length=config.steps)
  return params, losses


def default_chunk() -> int:
  """Models per vmapped chunk by default: 1 on CPU, 256 on accelerators.

  Measured in ``benchmarks/bench_recommender.py`` (600 × 300 ratings, rank 8):
  on a 2-core CPU vmapped chunks are no faster than one model per step
  (chunks of 4: within noise; all 64 at once: about half the speed); on an
  H100, 1024 trainings ran at about 1,290/s in chunks of 64, 1,860/s in
  chunks of 256 and 1,980/s in one vmap, against 180/s one call per model.
  256 keeps a chunk's (U, I) cell sums and gradients small enough for
  MovieLens-sized matrices (1.6M cells: about 16 GB per chunk).
  """
  return 1 if jax.default_backend() == "cpu" else 256


@functools.lru_cache(maxsize=16)
def _trainer(num_users: int, num_items: int, config: MFConfig, chunk: int, num_devices: int = 1):
  """Jitted trainer of B models, split over ``num_devices`` devices.

  With ``num_devices`` > 1, B must be a multiple of it
  (:func:`acajax._devices.split_models`).
  """
  del num_users, num_items        # in the cache key: shapes of the parameters

  def one(base_users, base_items, base_values, base_weights, extras, params, seed):
    users = jnp.concatenate([base_users, extras[0]])
    items = jnp.concatenate([base_items, extras[1]])
    values = jnp.concatenate([base_values, extras[2]])
    weights = jnp.concatenate([base_weights, extras[3]])
    key = None if config.batch_size is None else jax.random.key(seed)
    return train_one(users, items, values, weights, params, key, config=config)

  def run(base_users, base_items, base_values, base_weights, extras, params, seeds):
    def per_model(own):
      params, losses = one(base_users, base_items, base_values, *own)
      jax.debug.callback(_tick, losses[-1])        # after this model's training
      return params, losses
    # One model per scan step on CPU (no vmap: the same result, half the compile
    # time); vmapped chunks of ``chunk`` models per step on accelerators.
    return jax.lax.map(per_model, (base_weights, extras, params, seeds),
                       batch_size=None if chunk == 1 else chunk)
  shared, own = False, True
  return jax.jit(_devices.split_models(run, num_devices, (shared,) * 3 + (own,) * 4))


def _check_batch(base: Ratings, seeds, base_weights, extras):
  seeds = np.asarray(seeds)
  if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer) or np.any(seeds < 0):
    raise ValueError(f"seeds must be a 1-D sequence of non-negative ints; got {seeds.tolist()}")
  num_models = len(seeds)
  if base_weights is None:
    base_weights = np.ones((num_models, base.num_ratings), np.float32)
  base_weights = np.asarray(base_weights, np.float32)
  if base_weights.shape != (num_models, base.num_ratings):
    raise ValueError(f"base_weights must have shape ({num_models}, {base.num_ratings}) (models, "
                     f"base ratings); got {base_weights.shape}")
  if extras is None:
    extras = Extras(*(np.zeros((num_models, 0), dt) for dt in
                      (np.int32, np.int32, np.float32, np.float32)))
  extras = Extras(*(np.asarray(v) for v in extras))
  for name, value in zip(Extras._fields, extras):
    if value.ndim != 2 or value.shape[0] != num_models or value.shape != extras.users.shape:
      raise ValueError(f"extras.{name} must have shape ({num_models}, E) like extras.users; got "
                       f"{value.shape}")
  for name, idx, bound in (("users", extras.users, base.num_users),
                           ("items", extras.items, base.num_items)):
    if idx.size and (idx.min() < 0 or idx.max() >= bound):
      raise ValueError(f"extras.{name} must lie in 0..{bound - 1}; got values in "
                       f"{idx.min()}..{idx.max()}")
  return base_weights, extras


def train_many(base: Ratings, seeds, *, base_weights=None, extras: Extras | None = None,
               config: MFConfig = MFConfig(), chunk: int | str = "auto",
               num_devices: int | None = None,
               progress: ProgressBar | None = None) -> tuple[MFParams, jax.Array]:
  """Trains B biased MF models in one jitted call, vmapped over chunks.

  Model b trains on the base ratings weighted by ``base_weights[b]`` plus
  the ratings ``extras[b]`` (weight 0: padding), from the initial
  parameters of its seed (:func:`init_params`; minibatches from
  ``jax.random.key(seed)``). The leading axis is the flattened grid of seeds
  × configurations. Equal seeds and data give equal models, whatever the
  chunking.

  Args:
    base: the shared :class:`acajax.ratings.Ratings`.
    seeds: (B,) non-negative ints, one per model.
    base_weights: (B, n) weights of the base ratings (default 1).
    extras: :class:`Extras` of shape (B, E) (default none).
    config: :class:`MFConfig`.
    chunk: models per vmapped chunk; ``"auto"``: :func:`default_chunk`.
    num_devices: local devices the models are split over (default: all of
      them, at most B; on CPU, ``acajax validate`` shows one per core).
    progress: a progress bar (e.g. ``tqdm.tqdm()``; anything with
      ``reset(total)`` and ``update(n)``), reset to the number of models and
      advanced once per trained model; None for none.

  Returns:
    ``(params, losses)``: stacked :class:`MFParams` (leading axis B) and the
    (B, steps) losses. :func:`diverged` tells which models went non-finite.

  Raises:
    ValueError: shapes that do not match, indices out of range, bad chunk
      or num_devices.

  Examples:
    >>> from acajax import ratings, recommender
    >>> data = ratings.synthetic(200, 100, num_clusters=10, ratings_per_user=20, seed=0)
    >>> config = recommender.MFConfig(rank=4, steps=40, learning_rate=0.1, reg=0.1)
    >>> params, losses = recommender.train_many(data.ratings, [0], config=config)
    >>> params.user_factors.shape, bool(losses[0, -1] < 0.8 * losses[0, 0])
    ((1, 200, 4), True)
  """
  if chunk == "auto":
    chunk = default_chunk()
  if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
    raise ValueError(f"chunk must be a positive int or 'auto'; got {chunk!r}")
  base_weights, extras = _check_batch(base, seeds, base_weights, extras)
  num_models = base_weights.shape[0]
  num_devices = _devices.device_count(num_devices, num_models)
  per_device = -(-num_models // num_devices)
  chunk = min(chunk, max(per_device, 1))
  if progress is not None and progress is not False:
    if not callable(getattr(progress, "update", None)):
      raise TypeError(f"progress must be a progress bar with update() and reset() (such as "
                      f"tqdm.tqdm()) or None; got {progress!r}")
    progress.reset(total=num_devices * per_device)
    _BAR[0] = progress
  try:
    init = [init_params(int(s), base.num_users, base.num_items, config) for s in seeds]
    init = MFParams(*(jnp.asarray(np.stack(v)) for v in zip(*init)))
    own = _devices.pad_models((jnp.asarray(base_weights), Extras(*(jnp.asarray(v) for v in extras)),
                               init, jnp.asarray(seeds)), num_devices)
    fn = _trainer(base.num_users, base.num_items, config, chunk, num_devices)
    params, losses = fn(jnp.asarray(base.users), jnp.asarray(base.items),
                        jnp.asarray(base.values), *own)
    params, losses = jax.tree.map(lambda v: v[:num_models], (params, losses))
    jax.block_until_ready(losses)
    jax.effects_barrier()                    # every tick has reached the bar
  finally:
    _BAR[0] = None
  return params, losses


@jax.jit
def _diverged(params: MFParams, losses: jax.Array) -> jax.Array:
  finite = jnp.all(jnp.isfinite(losses.reshape(losses.shape[0], -1)), axis=-1)
  for leaf in params:
    finite = finite & jnp.all(jnp.isfinite(leaf.reshape(leaf.shape[0], -1)), axis=-1)
  return ~finite


def diverged(params: MFParams, losses) -> np.ndarray:
  """Which of B trained models went non-finite, from :func:`train_many`'s result.

  A model diverged when any of its losses (at any step) or any of its
  parameters at the end is NaN or infinite (too large a learning rate, or a
  non-finite rating in its data).

  Args:
    params: stacked :class:`MFParams`, leading axis B.
    losses: (B, steps) losses.

  Returns:
    (B,) bool NumPy array, True for the models that diverged.

  Raises:
    ValueError: ``losses`` and the parameters do not share the leading axis B.

  Examples:
    >>> import numpy as np
    >>> from acajax import ratings, recommender
    >>> data = ratings.synthetic(50, 30, num_clusters=5, ratings_per_user=10, seed=0)
    >>> config = recommender.MFConfig(rank=2, steps=20)
    >>> params, losses = recommender.train_many(data.ratings, [0, 1], config=config)
    >>> recommender.diverged(params, losses).tolist()
    [False, False]
    >>> losses = np.array(losses)
    >>> losses[1, 3] = np.inf                    # as if model 1 had blown up at step 3
    >>> recommender.diverged(params, losses).tolist()
    [False, True]
  """
  losses = jnp.asarray(losses)
  params = MFParams(*(jnp.asarray(leaf) for leaf in params))
  num = losses.shape[0] if losses.ndim else None
  if num is None or any(leaf.ndim == 0 or leaf.shape[0] != num for leaf in params):
    raise ValueError(f"params and losses must share the leading model axis B; got losses of "
                     f"shape {losses.shape} and params of shapes "
                     f"{[tuple(leaf.shape) for leaf in params]}")
  return np.asarray(_diverged(params, losses))


_BAR = [None]      # the bar of the running train_many call, if any


def _tick(_):
  """Host callback, once per trained model: advances the running call's bar."""
  if _BAR[0] is not None:
    _BAR[0].update(1)


def top_k(scores_ui, rated, k: int) -> jax.Array:
  """Each user's k best items among those not yet rated.

  Args:
    scores_ui: (U, I) predicted ratings.
    rated: (U, I) bool, items each user has rated (never recommended).
    k: list length (static), at most I.

  Returns:
    (U, k) int32 item indices, best first (ties: lower index first). A user
    with fewer than k unrated items gets rated items at the end of the list,
    after every unrated one.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import recommender
    >>> s = jnp.array([[3.0, 1.0, 2.0, 0.0]])
    >>> recommender.top_k(s, jnp.array([[True, False, False, False]]), 2).tolist()
    [[2, 1]]
  """
  scores_ui = jnp.asarray(scores_ui)
  masked = jnp.where(jnp.asarray(rated), -jnp.inf, scores_ui)
  return jax.lax.top_k(masked, k)[1].astype(jnp.int32)


def hits(params: MFParams, rated, targets, k: int) -> jax.Array:
  """Which users' top-k lists contain a target item, per target set.

  Args:
    params: one model's :class:`MFParams`.
    rated: (U, I) bool, excluded from the lists.
    targets: (S, I) bool, S target sets.
    k: list length (static).

  Returns:
    (S, U) bool: ``top_k(u) ∩ T_s ≠ ∅``.

  Examples:
    >>> import numpy as np
    >>> from acajax import recommender
    >>> params = recommender.MFParams(np.float32(3), np.zeros(2, np.float32),
    ...     np.array([1, 0, -1], np.float32), np.zeros((2, 1), np.float32),
    ...     np.zeros((3, 1), np.float32))
    >>> rated = np.array([[True, False, False], [False, False, False]])
    >>> recommender.hits(params, rated, np.array([[True, False, False]]), 1).tolist()
    [[False, True]]
  """
  top = top_k(scores(params), rated, k)                      # (U, k)
  return jnp.any(jnp.asarray(targets)[:, top], axis=-1)     # (S, U, k) -> (S, U)


@functools.lru_cache(maxsize=16)
def _hitter(k: int, chunk: int):
  def run(params, rated, targets):
    return jax.lax.map(lambda p: hits(p, rated, targets, k), params,
                       batch_size=None if chunk == 1 else chunk)
  return jax.jit(run)


def hits_many(params: MFParams, rated, targets, k: int, *, chunk: int = 8) -> np.ndarray:
  """:func:`hits` for stacked models: (B, S, U) bool, in chunks of ``chunk`` models."""
  targets = np.asarray(targets, bool)
  if targets.ndim != 2 or targets.shape[1] != np.shape(rated)[1]:
    raise ValueError(f"targets must have shape (S, {np.shape(rated)[1]}) (target sets, items); "
                     f"got {targets.shape}")
  num = int(params.mu.shape[0])
  out = _hitter(int(k), min(chunk, max(num, 1)))(params, jnp.asarray(rated, bool),
                                                 jnp.asarray(targets))
  return np.asarray(out)


def hit_ratio(user_hits, evaluation=None) -> np.ndarray | float:
  """HR@k: the share of evaluation users with a target item in their top-k list.

  Args:
    user_hits: (..., U) bool from :func:`hits`.
    evaluation: (..., U) bool, the evaluation users (broadcast; default all).

  Returns:
    (...) hit ratios (a float for one list of users).

  Raises:
    ValueError: no evaluation user.

  Examples:
    >>> from acajax import recommender
    >>> recommender.hit_ratio([True, False, True, True], [True, True, False, False])
    0.5
  """
  user_hits = np.asarray(user_hits, bool)
  evaluation = np.ones_like(user_hits) if evaluation is None else np.broadcast_to(
      np.asarray(evaluation, bool), user_hits.shape)
  count = evaluation.sum(-1)
  if np.any(count == 0):
    raise ValueError("evaluation must select at least one user")
  out = (user_hits & evaluation).sum(-1) / count
  return float(out) if np.ndim(out) == 0 else out


def relative_hit_ratio(hr_with, hr_without) -> np.ndarray | float:
  """HR@k with collective action over HR@k without (same users, same seed).

  Returns NaN where ``hr_without`` is 0 (the ratio is undefined).

  Examples:
    >>> from acajax import recommender
    >>> recommender.relative_hit_ratio([0.3, 0.1, 0.2], [0.1, 0.2, 0.0]).round(2).tolist()
    [3.0, 0.5, nan]
  """
  hr_with = np.asarray(hr_with, float)
  hr_without = np.asarray(hr_without, float)
  safe = np.where(hr_without > 0, hr_without, 1.0)
  out = np.where(hr_without > 0, hr_with / safe, np.nan)
  return float(out) if np.ndim(out) == 0 else out
