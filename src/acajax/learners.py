"""Flax (nnx) learners trained with optax, many at once.

The firm's classifier f of SPEC §2, trained for real: logistic regression,
an MLP, and a character n-gram text classifier (hashed n-gram counts from
:func:`acajax.datasets.hashed_ngrams` -> linear). Models are nnx modules;
training is functional: ``nnx.split`` gives a graph definition and a
parameter pytree, one model's training is a pure function of (params, x, y,
weights) written for one unbatched example, with its optimiser steps in
``lax.scan``, and :func:`train_many` vmaps it over a leading model axis
(seeds × mass grid × collective configurations) inside one ``jax.jit``,
split over every local device with ``shard_map``. On CPU the vmapped
function is walked in chunks with ``lax.map`` (one model per chunk by
default), which is faster there than one wide vmap (see
:func:`default_chunk`), and ``acajax validate`` shows JAX one device per
core so that the models are split over the cores. The trainers hold
features as columns, (d, N), which runs faster (see :func:`train_one`).

Features are float32 (the learners' dtype whatever ``jax_enable_x64`` says),
so results are the same with x64 on and off.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from acajax import _checks, _devices

__all__ = [
    "LEARNERS",
    "LogisticRegression",
    "MLP",
    "NgramClassifier",
    "TrainConfig",
    "Trained",
    "default_chunk",
    "init_models",
    "make_model",
    "predict_many",
    "train_many",
    "train_one",
]


class LogisticRegression(nnx.Module):
  """Multinomial logistic regression: a linear map to K logits.

  Examples:
    >>> from flax import nnx
    >>> from acajax import learners
    >>> model = learners.LogisticRegression(4, 3, rngs=nnx.Rngs(0))
    >>> model(jnp.ones((2, 4))).shape
    (2, 3)
  """

  def __init__(self, num_features: int, num_labels: int, *, rngs: nnx.Rngs):
    self.linear = nnx.Linear(num_features, num_labels, rngs=rngs)

  def __call__(self, x):
    return self.linear(x)

  def logits_t(self, x_t):
    """Logits of samples stored as columns: (d, N) -> (K, N), ``self(x_t.T).T``.

    The trainers use this layout (see :func:`train_one`).

    Examples:
      >>> from flax import nnx
      >>> from acajax import learners
      >>> model = learners.LogisticRegression(4, 3, rngs=nnx.Rngs(0))
      >>> x = jnp.arange(8.0).reshape(2, 4)
      >>> bool(jnp.allclose(model.logits_t(x.T), model(x).T))
      True
    """
    return _linear_t(self.linear, x_t)


def _linear_t(linear: nnx.Linear, x_t):
  """``linear`` applied to the columns of x_t: kernel^T x_t + bias."""
  return linear.kernel[...].T @ x_t + linear.bias[...][:, None]


class MLP(nnx.Module):
  """One hidden ReLU layer of ``hidden`` units, then K logits."""

  def __init__(self, num_features: int, num_labels: int, *, hidden: int = 32, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(num_features, hidden, rngs=rngs)
    self.out = nnx.Linear(hidden, num_labels, rngs=rngs)

  def __call__(self, x):
    return self.out(jax.nn.relu(self.hidden(x)))

  def logits_t(self, x_t):
    """Logits of samples stored as columns: (d, N) -> (K, N), ``self(x_t.T).T``."""
    return _linear_t(self.out, jax.nn.relu(_linear_t(self.hidden, x_t)))


class NgramClassifier(nnx.Module):
  """Character n-gram text classifier: hashed n-gram counts -> linear.

  Takes the (N, dim) log-count features of
  :func:`acajax.datasets.hashed_ngrams`; the hashing is host-side
  preprocessing, the model is the linear map.
  """

  def __init__(self, num_features: int, num_labels: int, *, rngs: nnx.Rngs):
    self.linear = nnx.Linear(num_features, num_labels, rngs=rngs)

  def __call__(self, x):
    return self.linear(x)

  def logits_t(self, x_t):
    """Logits of samples stored as columns: (d, N) -> (K, N), ``self(x_t.T).T``."""
    return _linear_t(self.linear, x_t)


LEARNERS: dict[str, Callable[..., nnx.Module]] = {
    "logistic": LogisticRegression,
    "mlp": MLP,
    "ngram": NgramClassifier,
}


def make_model(name: str, num_features: int, num_labels: int, key: jax.Array | int = 0,
               **kwargs) -> nnx.Module:
  """One model by name (``"logistic"``, ``"mlp"``, ``"ngram"``).

  Raises:
    ValueError: unknown name (the message lists the allowed ones).
  """
  if name not in LEARNERS:
    raise ValueError(f"learner must be one of {', '.join(map(repr, LEARNERS))}; got {name!r}")
  return LEARNERS[name](num_features, num_labels, rngs=nnx.Rngs(key), **kwargs)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Hyperparameters of training (static under jit).

  Attributes:
    steps: optimiser steps, a positive int.
    learning_rate: Adam step size, finite and > 0.
    l2: weight decay added to the loss, l2 * sum of squared kernel weights;
      finite and >= 0.
    batch_size: None for full-batch; otherwise minibatches drawn with
      replacement (keyed per model), a positive int.

  Raises:
    ValueError: at construction, a field out of its range (NaN and inf
      included); the message names the field.

  Examples:
    >>> from acajax import learners
    >>> learners.TrainConfig(learning_rate=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be a finite number > 0; got nan
  """
  steps: int = 300
  learning_rate: float = 0.1
  l2: float = 1e-4
  batch_size: int | None = None

  def __post_init__(self):
    # Static config, checked on the host: a NaN or inf here would train every
    # model to NaN (SPEC §11: static mistakes raise, naming the argument).
    if not _is_positive_int(self.steps):
      raise ValueError(f"steps must be a positive int; got {self.steps!r}")
    if self.batch_size is not None and not _is_positive_int(self.batch_size):
      raise ValueError(f"batch_size must be a positive int or None; got {self.batch_size!r}")
    _checks.check_finite("learning_rate", self.learning_rate, positive=True)
    _checks.check_finite("l2", self.l2, positive=False)


def _is_positive_int(value) -> bool:
  return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
          and value >= 1)


@dataclasses.dataclass(frozen=True)
class Trained:
  """Trained models: one graph definition and params with a leading model axis.

  Attributes:
    graphdef: the nnx graph definition.
    params: nnx.State with a leading axis of size B on every leaf.
    final_loss: (B,) training loss at the last step.
    diverged: (B,) bool, True where training went non-finite: a NaN or
      infinite loss at any step, or a non-finite parameter at the end
      (computed inside the jitted training call). None for a ``Trained``
      assembled by hand without it.
  """
  graphdef: object
  params: object
  final_loss: jax.Array
  diverged: jax.Array | None = None

  def model(self, index: int) -> nnx.Module:
    """Model ``index`` as an nnx module."""
    return nnx.merge(self.graphdef, jax.tree.map(lambda v: v[index], self.params))


def init_models(name: str, num_features: int, num_labels: int, keys: jax.Array, **kwargs):
  """Initial parameters of B models (one per key), vmapped.

  Returns:
    ``(graphdef, params)``, params with a leading axis B.
  """
  make = functools.partial(make_model, name, num_features, num_labels, **kwargs)
  graphdef, abstract = nnx.split(nnx.eval_shape(lambda: make(0)))
  # Host-side LeCun-normal kernels and zero biases (flax's Linear defaults),
  # one NumPy stream per model key: an XLA initialiser would cost seconds of
  # compilation on CPU for microseconds of work.
  seeds = np.asarray(jax.random.key_data(keys)).reshape(len(keys), -1)
  rngs = [np.random.default_rng(seed.tolist()) for seed in seeds]

  def init(path, leaf):
    shape = tuple(leaf.shape)
    if "kernel" not in jax.tree_util.keystr(path):
      return jnp.zeros((len(rngs),) + shape, jnp.float32)
    scale = 1.0 / np.sqrt(np.prod(shape[:-1]))
    return jnp.asarray(np.stack([rng.standard_normal(shape) * scale for rng in rngs]),
                       jnp.float32)

  return graphdef, jax.tree_util.tree_map_with_path(init, abstract)


def _penalty(params) -> jax.Array:
  leaves = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
            if "kernel" in jax.tree_util.keystr(path)]
  return sum(jnp.sum(leaf ** 2) for leaf in leaves)


def _cross_entropy_t(logits_t, y):
  """Softmax cross-entropy of each column of (K, N) logits against labels y."""
  picked = jnp.take_along_axis(logits_t, y[None, :], axis=0)[0]
  return jax.nn.logsumexp(logits_t, axis=0) - picked


def _logits_t(model, x_t):
  """(K, N) logits of the columns of x_t; models without ``logits_t`` go through ``__call__``."""
  if hasattr(model, "logits_t"):
    return model.logits_t(x_t)
  return model(x_t.T).T


def train_one(graphdef, params, x, y, weights, key, *, num_labels: int, config: TrainConfig):
  """Trains one model (unbatched; vmap for many).

  Minimises the weighted mean softmax cross-entropy plus
  ``l2 * sum(kernel**2)`` with Adam, ``config.steps`` steps in ``lax.scan``.
  The steps run on the transpose of x (samples as columns; see
  ``_train_columns``); models with a ``logits_t`` method use it, others go
  through ``__call__``.

  Args:
    graphdef: nnx graph definition.
    params: the model's parameter state.
    x: (N, d) float features.
    y: (N,) int labels.
    weights: (N,) non-negative sample weights.
    key: PRNG key for minibatches.
    num_labels: K (static).
    config: :class:`TrainConfig` (static).

  Returns:
    ``(params, final_loss)``.
  """
  params, final_loss, _ = _train_columns(graphdef, params, x.T, y, weights, key,
                                         num_labels=num_labels, config=config)
  return params, final_loss


def _diverged(params, losses) -> jax.Array:
  """() bool: a non-finite loss at any step, or a non-finite parameter."""
  finite = jnp.all(jnp.isfinite(losses))
  for leaf in jax.tree.leaves(params):
    finite = finite & jnp.all(jnp.isfinite(leaf))
  return ~finite


def _train_columns(graphdef, params, x_t, y, weights, key, *, num_labels: int,
                   config: TrainConfig):
  """:func:`train_one` on features stored as columns, x_t of shape (d, N).

  Samples as columns puts the N axis last in the logits, so XLA's CPU
  matrix products and the softmax over K run on long contiguous rows: 1.6 to
  1.9x faster per step than (N, d) for 64 features and 10 labels (measured
  in ``benchmarks/bench_learners.py``).

  Returns:
    ``(params, final_loss, diverged)``, ``diverged`` as in :class:`Trained`.
  """
  del num_labels
  optimizer = optax.adam(config.learning_rate)

  def loss_fn(p, xb, yb, wb):
    ce = _cross_entropy_t(_logits_t(nnx.merge(graphdef, p), xb), yb)
    return jnp.sum(ce * wb) / jnp.maximum(jnp.sum(wb), 1e-12) + config.l2 * _penalty(p)

  def step(carry, step_key):
    p, opt_state = carry
    if config.batch_size is None:
      xb, yb, wb = x_t, y, weights
    else:
      idx = jax.random.randint(step_key, (config.batch_size,), 0, x_t.shape[1])
      xb, yb, wb = x_t[:, idx], y[idx], weights[idx]
    loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb, wb)
    updates, opt_state = optimizer.update(grads, opt_state, p)
    return (optax.apply_updates(p, updates), opt_state), loss

  (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)),
                                     jax.random.split(key, config.steps))
  return params, losses[-1], _diverged(params, losses)


def default_chunk() -> int | None:
  """Models per vmapped chunk by default: all at once, except 1 on CPU.

  On CPU, XLA's batched matrix products over a model axis run slower than
  the same products one model at a time (one wide vmap of 256 logistic
  models on digits: 0.8x the chunks of one, measured in
  ``benchmarks/bench_learners.py``), so the jitted call walks the models with
  ``lax.map``; accelerators take the whole vmap.
  """
  return 1 if jax.default_backend() == "cpu" else None


@functools.lru_cache(maxsize=32)
def _trainer(graphdef, num_labels: int, config: TrainConfig, batched_data: bool,
             chunk: int | None = None, num_devices: int = 1):
  """Jitted trainer of B models on features stored as columns, (B, d, N) or (d, N).

  With ``num_devices`` > 1 the model axis (B a multiple of it) is split over
  the first ``num_devices`` devices (:func:`acajax._devices.split_models`);
  each device walks its share in chunks of ``chunk`` (None: one vmap).
  """
  fn = functools.partial(_train_columns, graphdef, num_labels=num_labels, config=config)
  data_axis = 0 if batched_data else None
  if chunk is None:
    walked = jax.vmap(fn, in_axes=(0, data_axis, data_axis, data_axis, 0))
  else:
    def walked(params, x_t, y, weights, keys):
      # lax.map vmaps chunks of `chunk` models and walks them in one call.
      if batched_data:
        return jax.lax.map(lambda a: fn(*a), (params, x_t, y, weights, keys), batch_size=chunk)
      return jax.lax.map(lambda a: fn(a[0], x_t, y, weights, a[1]), (params, keys),
                         batch_size=chunk)
  per_model = (True, batched_data, batched_data, batched_data, True)
  return jax.jit(_devices.split_models(walked, num_devices, per_model))


def _check_data(x, y, weights, num_models):
  x = np.asarray(x) if not isinstance(x, jax.Array) else x
  if x.ndim not in (2, 3):
    raise ValueError(f"x must have shape (N, d) (shared) or (B, N, d) (one dataset per "
                     f"model); got shape {x.shape}")
  batched = x.ndim == 3
  if batched and x.shape[0] != num_models:
    raise ValueError(f"x has {x.shape[0]} datasets but there are {num_models} keys")
  if tuple(np.shape(y)) != tuple(x.shape[:-1]):
    raise ValueError(f"y must have shape {tuple(x.shape[:-1])} to match x; got {np.shape(y)}")
  if weights is None:
    weights = np.ones(x.shape[:-1], np.float32)
  if tuple(np.shape(weights)) != tuple(x.shape[:-1]):
    raise ValueError(f"weights must have shape {tuple(x.shape[:-1])}; got {np.shape(weights)}")
  return (jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32),
          jnp.asarray(weights, jnp.float32), batched)


def train_many(name: str, x, y, keys: jax.Array, *, num_labels: int,
               config: TrainConfig = TrainConfig(), weights=None, chunk: int | None | str = "auto",
               num_devices: int | None = None, **model_kwargs) -> Trained:
  """Trains B models in one jitted, vmapped call.

  Each model has its own initialisation key and (with ``x`` of rank 3) its
  own dataset: the leading axis is the flattened grid of seeds × masses ×
  collective configurations. Datasets of one call share N (planting changes
  data, not sizes); use ``weights`` = 0 to pad.

  Args:
    name: learner name, a key of :data:`LEARNERS`.
    x: (N, d) features shared by all models, or (B, N, d).
    y: (N,) or (B, N) int labels.
    keys: (B,) PRNG keys (``jax.random.split``), one per model.
    num_labels: K.
    config: :class:`TrainConfig`.
    weights: optional (N,) or (B, N) sample weights.
    chunk: models per vmapped chunk inside the one jitted call (walked with
      ``lax.map``); None vmaps all B at once; ``"auto"``:
      :func:`default_chunk`. The result does not depend on it.
    num_devices: local devices the models are split over (default: all of
      them, at most B). On CPU JAX shows one device unless told otherwise;
      ``acajax validate`` shows one per core (``--cpu-devices``), and so
      can a script, right after ``import jax``:
      ``jax.config.update("jax_num_cpu_devices", os.cpu_count())``.
    **model_kwargs: passed to the model (e.g. ``hidden`` for the MLP).

  Returns:
    A :class:`Trained`; its ``diverged`` flags the models whose training
    went non-finite.

  Raises:
    ValueError: unknown learner, or shapes that do not match.

  Examples:
    >>> import jax, numpy as np
    >>> from acajax import learners
    >>> x = np.eye(2, dtype=np.float32)[[0, 0, 1, 1]]
    >>> trained = learners.train_many("logistic", x, np.array([0, 0, 1, 1]),
    ...     jax.random.split(jax.random.key(0), 3), num_labels=2,
    ...     config=learners.TrainConfig(steps=50))
    >>> learners.predict_many(trained, x).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    >>> trained.diverged.tolist()
    [False, False, False]
  """
  num_models = int(np.shape(keys)[0])
  trainer, args, graphdef = _training_call(
      name, x, y, keys, num_labels=num_labels, config=config, weights=weights, chunk=chunk,
      num_devices=num_devices, **model_kwargs)
  params, loss, diverged = jax.tree.map(lambda v: v[:num_models], trainer(*args))
  return Trained(graphdef=graphdef, params=params, final_loss=loss, diverged=diverged)


def _training_call(name, x, y, keys, *, num_labels, config, weights, chunk, num_devices,
                   **model_kwargs):
  """Checks and lays out :func:`train_many`'s inputs: ``(trainer, args, graphdef)``.

  ``trainer`` is jitted; ``trainer(*args)`` returns params, final losses and
  divergence flags (the fields of :class:`Trained` after ``graphdef``, in
  order) of ceil(B / num_devices) * num_devices models, the first B of them
  the requested ones. Benchmarks compile and time ``trainer`` apart.
  """
  if name not in LEARNERS:
    raise ValueError(f"learner must be one of {', '.join(map(repr, LEARNERS))}; got {name!r}")
  num_models = int(np.shape(keys)[0])
  x, y, weights, batched = _check_data(x, y, weights, num_models)
  graphdef, params = init_models(name, int(x.shape[-1]), num_labels, keys, **model_kwargs)
  params = jax.tree.map(lambda v: v.astype(jnp.float32), params)
  train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
  if chunk == "auto":
    chunk = default_chunk()
  if chunk is not None and (type(chunk) is not int or chunk < 1):
    raise ValueError(f"chunk must be a positive int, None or 'auto'; got {chunk!r}")
  num_devices = _devices.device_count(num_devices, num_models)
  # Samples as columns (see _train_columns), transposed once outside the trainer.
  x_t = jnp.swapaxes(x, -1, -2)
  per_model = (params, train_keys) + ((x_t, y, weights) if batched else ())
  per_model = _devices.pad_models(per_model, num_devices)
  params, train_keys = per_model[:2]
  if batched:
    x_t, y, weights = per_model[2:]
  fn = _trainer(graphdef, num_labels, config, batched, chunk, num_devices)
  return fn, (params, x_t, y, weights, train_keys), graphdef


@functools.lru_cache(maxsize=32)
def _predictor(graphdef, batched_data: bool):
  def one(params, x):
    return jnp.argmax(nnx.merge(graphdef, params)(x), axis=-1)
  return jax.jit(jax.vmap(one, in_axes=(0, 0 if batched_data else None)))


def predict_many(trained: Trained, x) -> np.ndarray:
  """Labels predicted by every model: (B, N) from x of shape (N, d) or (B, N, d)."""
  x = jnp.asarray(x, jnp.float32)
  if x.ndim not in (2, 3):
    raise ValueError(f"x must have shape (N, d) or (B, N, d); got shape {x.shape}")
  return np.asarray(_predictor(trained.graphdef, x.ndim == 3)(trained.params, x))
