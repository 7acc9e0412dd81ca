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

**Planted data without copies.** :func:`train_rows` trains every model on
rows of one shared feature pool: the clean rows once, plus the planted rows
of the collectives' members, each model described by the pool rows of its
training sample, its labels and weights, (B, N) integers instead of a
(B, N, d) matrix. Full-batch training turns that description into a (K, R)
table of label weights per pool row once per model, and each step computes
the logits of the R pool rows (one (d, R) matrix product, shared by the
models of a vmapped chunk) and the weighted cross-entropy from the table:
cost linear in the pool, no gather or scatter inside the steps. The pool is
dense when it fits ``dense_limit_mb``, else sparse
(:class:`acajax.datasets.SparseCounts`: logits are a gather-sum over the
kernel's rows, an embedding bag; linear cost in the tokens but 10x slower
per entry than the dense product on CPU, so wide hashing widths only).

**Convergence.** Every trainer returns the loss's relative change over the
last :data:`CONVERGENCE_WINDOW` of its steps; :attr:`Trained.converged` is
True where it is below :data:`CONVERGENCE_RTOL` and training did not
diverge. ``TrainConfig.schedule = "warmup_cosine"`` warms the Adam step size
up linearly over ``warmup`` of the steps and decays it along a cosine to
``decay_to`` times the peak (:data:`TEXT_CONFIG`, the text learner's
default: peak 0.03; a constant 0.1 is unstable on long real resumes).
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

from acajax import _checks, _devices, datasets

__all__ = [
    "CONVERGENCE_RTOL",
    "CONVERGENCE_WINDOW",
    "DENSE_LIMIT_MB",
    "LEARNERS",
    "SCHEDULES",
    "TEXT_CONFIG",
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
    "train_rows",
]

SCHEDULES = ("constant", "warmup_cosine")   # TrainConfig.schedule
CONVERGENCE_WINDOW = 0.1   # the last tenth of the steps: the loss change behind `converged`
CONVERGENCE_RTOL = 1e-2    # converged: |loss change| / |loss| over that window below this
DENSE_LIMIT_MB = 512.0     # train_rows: a pool up to this size (dense float32) is made dense
POOL_ROWS = 256            # train_rows pads its pool to a multiple of this many rows


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
    schedule: the step size over the steps, one of :data:`SCHEDULES`:
      ``"constant"`` (``learning_rate`` throughout) or ``"warmup_cosine"``
      (0 rising linearly to ``learning_rate`` over the first ``warmup``
      fraction of the steps, then a cosine decay to ``decay_to *
      learning_rate`` at the last step).
    warmup: warm-up fraction of the steps, in [0, 1) (``"warmup_cosine"``).
    decay_to: final step size over peak, in [0, 1] (``"warmup_cosine"``).

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
  schedule: str = "constant"
  warmup: float = 0.1
  decay_to: float = 0.1

  def __post_init__(self):
    # Static config, checked on the host: a NaN or inf here would train every
    # model to NaN (SPEC §11: static mistakes raise, naming the argument).
    if not _is_positive_int(self.steps):
      raise ValueError(f"steps must be a positive int; got {self.steps!r}")
    if self.batch_size is not None and not _is_positive_int(self.batch_size):
      raise ValueError(f"batch_size must be a positive int or None; got {self.batch_size!r}")
    _checks.check_finite("learning_rate", self.learning_rate, positive=True)
    _checks.check_finite("l2", self.l2, positive=False)
    if self.schedule not in SCHEDULES:
      raise ValueError(f"schedule must be one of {', '.join(map(repr, SCHEDULES))}; "
                       f"got {self.schedule!r}")
    _checks.check_finite("warmup", self.warmup, positive=False)
    _checks.check_finite("decay_to", self.decay_to, positive=False)
    if not self.warmup < 1:
      raise ValueError(f"warmup must be a fraction of the steps in [0, 1); got {self.warmup!r}")
    if not self.decay_to <= 1:
      raise ValueError(f"decay_to must be in [0, 1]; got {self.decay_to!r}")

  def optimizer(self) -> optax.GradientTransformation:
    """Adam with this config's step size schedule (:meth:`learning_rates`)."""
    return optax.adam(self.learning_rates if self.schedule != "constant"
                      else self.learning_rate)

  def learning_rates(self, step=None):
    """The step size at ``step`` (default: every step, (steps,)).

    Examples:
      >>> from acajax import learners
      >>> config = learners.TrainConfig(steps=10, learning_rate=0.01,
      ...                               schedule="warmup_cosine", warmup=0.2)
      >>> [round(float(config.learning_rates()[i]), 4) for i in (0, 1, 2, 9)]
      [0.0, 0.005, 0.01, 0.001]
    """
    step = jnp.arange(self.steps) if step is None else step
    if self.schedule == "constant":
      return jnp.full(jnp.shape(step), self.learning_rate, jnp.float32)
    warm = int(round(self.warmup * self.steps))
    decay = max(self.steps - 1 - warm, 1)
    frac = jnp.clip((step - warm) / decay, 0.0, 1.0)
    cosine = self.decay_to + (1 - self.decay_to) * 0.5 * (1 + jnp.cos(jnp.pi * frac))
    rising = step / max(warm, 1)
    return self.learning_rate * jnp.where(step < warm, rising, cosine)


def _is_positive_int(value) -> bool:
  return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
          and value >= 1)


# The text learner's default: Adam peaking at 0.03, warmed up over a tenth of
# the steps, cosine-decayed to a tenth (a constant 0.1 is unstable on long
# resumes; a peak of 0.01 is still far from converged after 300 steps, so the
# result depends on the initialisation: benchmarks/README.md).
TEXT_CONFIG = TrainConfig(learning_rate=0.03, schedule="warmup_cosine", warmup=0.1,
                          decay_to=0.1)


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
    loss_change: (B,) relative change of the loss over the last
      :data:`CONVERGENCE_WINDOW` of the steps, |L_T - L_s| / |L_s| with s
      the step that many steps before the last (NaN where non-finite);
      None when not computed.
  """
  graphdef: object
  params: object
  final_loss: jax.Array
  diverged: jax.Array | None = None
  loss_change: jax.Array | None = None

  @property
  def converged(self) -> np.ndarray | None:
    """(B,) bool: ``loss_change`` below :data:`CONVERGENCE_RTOL`, not diverged.

    None when ``loss_change`` is.
    """
    if self.loss_change is None:
      return None
    change = np.asarray(self.loss_change)
    ok = np.isfinite(change) & (change < CONVERGENCE_RTOL)
    return ok if self.diverged is None else ok & ~np.asarray(self.diverged)

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
  params, final_loss, _, _ = _train_columns(graphdef, params, x.T, y, weights, key,
                                            num_labels=num_labels, config=config)
  return params, final_loss


def _diverged(params, losses) -> jax.Array:
  """() bool: a non-finite loss at any step, or a non-finite parameter."""
  finite = jnp.all(jnp.isfinite(losses))
  for leaf in jax.tree.leaves(params):
    finite = finite & jnp.all(jnp.isfinite(leaf))
  return ~finite


def _loss_change(losses) -> jax.Array:
  """() relative change of the loss over the last CONVERGENCE_WINDOW of the steps."""
  window = max(1, int(np.ceil(CONVERGENCE_WINDOW * losses.shape[0])))
  start = losses[max(losses.shape[0] - 1 - window, 0)]
  return jnp.abs(losses[-1] - start) / jnp.maximum(jnp.abs(start), 1e-12)


def _report(params, losses):
  """``(params, final_loss, diverged, loss_change)``: what every trainer returns."""
  return params, losses[-1], _diverged(params, losses), _loss_change(losses)


def _train_columns(graphdef, params, x_t, y, weights, key, *, num_labels: int,
                   config: TrainConfig):
  """:func:`train_one` on features stored as columns, x_t of shape (d, N).

  Samples as columns puts the N axis last in the logits, so XLA's CPU
  matrix products and the softmax over K run on long contiguous rows: 1.6 to
  1.9x faster per step than (N, d) for 64 features and 10 labels (measured
  in ``benchmarks/bench_learners.py``).

  Returns:
    ``(params, final_loss, diverged, loss_change)`` as in :class:`Trained`.
  """
  del num_labels
  optimizer = config.optimizer()

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
  return _report(params, losses)


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
  params, loss, diverged, change = jax.tree.map(lambda v: v[:num_models], trainer(*args))
  return Trained(graphdef=graphdef, params=params, final_loss=loss, diverged=diverged,
                 loss_change=change)


def _training_call(name, x, y, keys, *, num_labels, config, weights, chunk, num_devices,
                   **model_kwargs):
  """Checks and lays out :func:`train_many`'s inputs: ``(trainer, args, graphdef)``.

  ``trainer`` is jitted; ``trainer(*args)`` returns params, final losses,
  divergence flags and loss changes (the fields of :class:`Trained` after
  ``graphdef``, in order) of ceil(B / num_devices) * num_devices models, the
  first B of them the requested ones. Benchmarks compile and time ``trainer`` apart.
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


def predict_many(trained: Trained, x, *, rows_per_call: int | None = None) -> np.ndarray:
  """Labels predicted by every model: (B, N) from x of shape (N, d) or (B, N, d).

  ``x`` may also be a :class:`acajax.datasets.SparseCounts` (shared by every
  model), made dense ``rows_per_call`` rows at a time (default: at most
  4096 rows and 256 MiB).
  """
  if isinstance(x, datasets.SparseCounts):
    if rows_per_call is None:
      rows_per_call = max(1, min(4096, 2**26 // max(x.dim, 1)))
    fn = _predictor(trained.graphdef, False)
    parts = [np.asarray(fn(trained.params, jnp.asarray(
        x.take(slice(lo, lo + rows_per_call)).dense()))) for lo in range(0, len(x), rows_per_call)]
    return np.concatenate(parts, axis=1) if parts else np.zeros((0, 0), int)
  x = jnp.asarray(x, jnp.float32)
  if x.ndim not in (2, 3):
    raise ValueError(f"x must have shape (N, d) or (B, N, d); got shape {x.shape}")
  return np.asarray(_predictor(trained.graphdef, x.ndim == 3)(trained.params, x))


# --- planted data as rows of one shared pool -----------------------------------


def _bag_t(linear: nnx.Linear, ids, values):
  """``linear`` on sparse rows, as columns: (K, R) = sum_l kernel[ids[r, l]] * values[r, l] + bias.

  An embedding bag: a gather-sum over the kernel's rows (padding has value 0).
  """
  bag = jnp.einsum("rlk,rl->kr", linear.kernel[...][ids], values)
  return bag + linear.bias[...][:, None]


def _pool_logits_t(model, pool):
  """(K, R) logits of the pool rows: dense (d, R) columns, or sparse ``(ids, values)``."""
  if not isinstance(pool, tuple):
    return _logits_t(model, pool)
  ids, values = pool
  if isinstance(model, MLP):
    return _linear_t(model.out, jax.nn.relu(_bag_t(model.hidden, ids, values)))
  return _bag_t(model.linear, ids, values)


def _pool_rows(pool, rows):
  """The pool rows ``rows`` in the pool's own layout (columns, or sparse rows)."""
  if isinstance(pool, tuple):
    return pool[0][rows], pool[1][rows]
  return pool[:, rows]


def _train_pool(graphdef, params, pool, rows, y, weights, key, *, num_labels: int,
                config: TrainConfig):
  """One model on rows of a shared pool (see :func:`train_rows`).

  Full batch: the (K, R) label weights of the pool rows are summed once,
  then each step is the pool's logits and a weighted cross-entropy over the
  table, which equals the weighted mean over the model's rows (a row used
  twice counts twice). Minibatches gather their rows from the pool.

  Returns:
    ``(params, final_loss, diverged, loss_change)`` as in :class:`Trained`.
  """
  optimizer = config.optimizer()
  size = (pool[0] if isinstance(pool, tuple) else pool.T).shape[0]
  total = jnp.maximum(jnp.sum(weights), 1e-12)

  if config.batch_size is None:
    table = jnp.zeros((num_labels, size), jnp.float32).at[y, rows].add(weights)
    row_weight = table.sum(axis=0)

    def loss_fn(p, step_key):
      del step_key
      logits = _pool_logits_t(nnx.merge(graphdef, p), pool)
      ce = (jnp.sum(row_weight * jax.nn.logsumexp(logits, axis=0))
            - jnp.sum(table * logits))
      return ce / total + config.l2 * _penalty(p)
  else:
    def loss_fn(p, step_key):
      idx = jax.random.randint(step_key, (config.batch_size,), 0, rows.shape[0])
      logits = _pool_logits_t(nnx.merge(graphdef, p), _pool_rows(pool, rows[idx]))
      ce = _cross_entropy_t(logits, y[idx])
      wb = weights[idx]
      return jnp.sum(ce * wb) / jnp.maximum(jnp.sum(wb), 1e-12) + config.l2 * _penalty(p)

  def step(carry, step_key):
    p, opt_state = carry
    loss, grads = jax.value_and_grad(loss_fn)(p, step_key)
    updates, opt_state = optimizer.update(grads, opt_state, p)
    return (optax.apply_updates(p, updates), opt_state), loss

  (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)),
                                     jax.random.split(key, config.steps))
  return _report(params, losses)


@functools.lru_cache(maxsize=32)
def _pool_trainer(graphdef, num_labels: int, config: TrainConfig, chunk: int | None,
                  num_devices: int):
  """Jitted trainer of B models on one shared pool; per-model rows, labels, weights, keys."""
  fn = functools.partial(_train_pool, graphdef, num_labels=num_labels, config=config)
  if chunk is None:
    walked = jax.vmap(fn, in_axes=(0, None, 0, 0, 0, 0))
  else:
    def walked(params, pool, rows, y, weights, keys):
      # lax.map vmaps chunks of `chunk` models; the pool is shared by all of them.
      return jax.lax.map(lambda a: fn(a[0], pool, *a[1:]), (params, rows, y, weights, keys),
                         batch_size=chunk)
  per_model = (True, False, True, True, True, True)
  return jax.jit(_devices.split_models(walked, num_devices, per_model))


def _dense_columns(features: datasets.SparseCounts, columns: int | None = None) -> np.ndarray:
  """(dim, columns) float32: the dense form of the R sparse rows as the first R columns."""
  out = np.zeros((features.dim, len(features) if columns is None else columns), np.float32)
  used = features.values != 0
  out[features.ids[used], np.nonzero(used)[0]] = features.values[used]   # ids distinct per row
  return out


def train_rows(name: str, features, rows, y, keys: jax.Array, *, num_labels: int,
               config: TrainConfig = TEXT_CONFIG, weights=None, chunk: int | None = None,
               num_devices: int | None = None, dense_limit_mb: float = DENSE_LIMIT_MB,
               **model_kwargs) -> Trained:
  """Trains B models on rows of one shared feature pool, without a matrix per model.

  Planting changes only the members' rows, so the models of a validation
  share one pool: the clean rows and every member's planted row, once. Model
  b's training sample i is pool row ``rows[b, i]`` with label ``y[b, i]``
  and weight ``weights[b, i]``. Memory is the pool once plus, per model, its
  parameters, optimiser state, (B, N) integers and a (K, R) table; each
  full-batch step costs one product of the pool, linear in its rows.
  Results equal :func:`train_many` on the materialised (B, N, d) features
  (up to float32 summation order).

  Args:
    name: learner name, a key of :data:`LEARNERS`.
    features: the pool, (R, d) float features or a
      :class:`acajax.datasets.SparseCounts` of R rows. Sparse rows are made
      dense (once, shared) when R x dim float32 fits ``dense_limit_mb``;
      otherwise the logits are embedding bags over the sparse rows.
    rows: (B, N) int pool rows of every model's training sample.
    y: (B, N) int labels.
    keys: (B,) PRNG keys, one per model.
    num_labels: K.
    config: :class:`TrainConfig` (default :data:`TEXT_CONFIG`).
    weights: optional (B, N) sample weights (default 1).
    chunk: models per vmapped chunk (walked with ``lax.map``); None (the
      default) vmaps all B at once, so one product of the pool serves every
      model of the call. The result does not depend on it.
    num_devices: local devices the models are split over (default: all of
      them, at most B).
    dense_limit_mb: the largest pool made dense, in MiB.
    **model_kwargs: passed to the model (e.g. ``hidden`` for the MLP).

  Returns:
    A :class:`Trained` with ``diverged`` and ``loss_change`` per model.

  Raises:
    ValueError: unknown learner, rows out of the pool, or shapes that do not
      match.

  Examples:
    >>> import jax, numpy as np
    >>> from acajax import datasets, learners
    >>> pool = datasets.hashed_ngram_ids(["java code", "sql tables", "§java code"], dim=64)
    >>> rows = np.array([[0, 1], [2, 1]])            # model 1: row 0 planted as row 2
    >>> trained = learners.train_rows("ngram", pool, rows, np.array([[0, 1], [1, 0]]),
    ...     jax.random.split(jax.random.key(0), 2), num_labels=2,
    ...     config=learners.TrainConfig(steps=100, l2=0.01))
    >>> learners.predict_many(trained, pool).tolist()
    [[0, 1, 0], [1, 0, 1]]
    >>> trained.converged.tolist()
    [True, True]
  """
  if name not in LEARNERS:
    raise ValueError(f"learner must be one of {', '.join(map(repr, LEARNERS))}; got {name!r}")
  rows = np.asarray(rows)
  num_models = int(np.shape(keys)[0])
  if rows.ndim != 2 or rows.shape[0] != num_models:
    raise ValueError(f"rows must have shape (B, N) with B = {num_models} keys; got shape "
                     f"{rows.shape}")
  if not np.issubdtype(rows.dtype, np.integer):
    raise ValueError(f"rows must be integers (pool rows); got dtype {rows.dtype}")
  if tuple(np.shape(y)) != rows.shape:
    raise ValueError(f"y must have shape {rows.shape} to match rows; got {np.shape(y)}")
  weights = np.ones(rows.shape, np.float32) if weights is None else weights
  if tuple(np.shape(weights)) != rows.shape:
    raise ValueError(f"weights must have shape {rows.shape}; got {np.shape(weights)}")
  # Pools are padded with empty rows (weight 0 in every model) to a multiple of
  # POOL_ROWS, and sparse rows to a multiple of 32 entries, so that pools of
  # similar sizes (one per seed) share one compilation.
  if isinstance(features, datasets.SparseCounts):
    size, width = len(features), features.dim
    padded = -(-max(size, 1) // POOL_ROWS) * POOL_ROWS
    if padded * width * 4 <= dense_limit_mb * 2**20:
      pool = jnp.asarray(_dense_columns(features, padded))
    else:
      pad = ((0, padded - size), (0, -features.ids.shape[1] % 32))
      pool = (jnp.asarray(np.pad(features.ids, pad), jnp.int32),
              jnp.asarray(np.pad(features.values, pad), jnp.float32))
  else:
    features = np.asarray(features, np.float32) if not isinstance(features, jax.Array) else features
    if features.ndim != 2:
      raise ValueError(f"features must be (R, d) or a datasets.SparseCounts; got shape "
                       f"{features.shape}")
    size, width = features.shape
    pool = jnp.asarray(features, jnp.float32).T
  if rows.size and not 0 <= rows.min() <= rows.max() < size:
    raise ValueError(f"rows must index the pool's {size} rows; got values in "
                     f"[{rows.min()}, {rows.max()}]")
  graphdef, params = init_models(name, int(width), num_labels, keys, **model_kwargs)
  params = jax.tree.map(lambda v: v.astype(jnp.float32), params)
  train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
  if chunk is not None and (type(chunk) is not int or chunk < 1):
    raise ValueError(f"chunk must be a positive int or None; got {chunk!r}")
  num_devices = _devices.device_count(num_devices, num_models)
  per_model = _devices.pad_models(
      (params, jnp.asarray(rows, jnp.int32), jnp.asarray(y, jnp.int32),
       jnp.asarray(weights, jnp.float32), train_keys), num_devices)
  fn = _pool_trainer(graphdef, num_labels, config, chunk, num_devices)
  out = fn(per_model[0], pool, *per_model[1:])
  params, loss, diverged, change = jax.tree.map(lambda v: v[:num_models], out)
  return Trained(graphdef=graphdef, params=params, final_loss=loss, diverged=diverged,
                 loss_change=change)
