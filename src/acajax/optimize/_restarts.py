"""The optax loop every optimiser shares: restarts at once, annealed, best kept exactly.

A relaxation (logits -> smooth loss at a temperature) is minimised by an
optax optimiser from R restarts at once (``vmap``) in one ``lax.scan``; at
every step each restart's candidate (its logits, or its rounded choice) is
scored by the exact objective and the best so far kept. The optimiser and
the temperature schedule travel to the jitted cores as :class:`Static`
arguments, keyed by their hyperparameters, so a fresh ``optax.adam(0.05)``
per call does not recompile.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from acajax.optimize._common import _nan_to_neg_inf
from acajax.optimize._static import Static

# Logits are kept in [-30, 30]: softmax weights stay above e^-60 (positive in
# float32, so every mass stays in the bounds' domain alpha > 0) whatever the
# optimiser does.
_LOGIT_LIMIT = 30.0

Schedule = Callable[[jax.Array], jax.Array]


def _check_optimizer(optimizer) -> None:
  if optimizer is not None and not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
    raise TypeError("optimizer must be an optax.GradientTransformation or None, got "
                    f"{type(optimizer).__name__}")


def _check_temperature(temperature) -> None:
  if callable(temperature):
    return
  if (not isinstance(temperature, tuple) or len(temperature) != 2
      or not all(isinstance(t, (int, float)) and t > 0 for t in temperature)):
    raise ValueError("temperature must be a (start, end) pair of positive floats or a "
                     f"callable schedule step -> temperature, got {temperature!r}")


def _static_search_args(optimizer, temperature) -> tuple[Static, Static]:
  """Checks ``optimizer`` and ``temperature``; returns them as static jit arguments."""
  _check_optimizer(optimizer)
  _check_temperature(temperature)
  return Static(optimizer), Static(temperature)


def _optimizer(optimizer: Static, steps: int) -> optax.GradientTransformation:
  """The wrapped optimiser; by default Adam, step size 0.1 cosine-decayed over ``steps``."""
  if optimizer.value is not None:
    return optimizer.value
  return optax.adam(optax.cosine_decay_schedule(0.1, steps, alpha=0.01))


def _schedule(temperature: Static, steps: int) -> Schedule:
  """A (start, end) pair -> geometric decay over ``steps``; callables unchanged."""
  if callable(temperature.value):
    return temperature.value
  start, end = (float(t) for t in temperature.value)

  def schedule(step):
    return start * (end / start) ** (step / max(steps - 1, 1))
  return schedule


def _run_restarts(loss, score, candidate, logits, optimizer, temperature_at, steps: int, *,
                  loss_scores: bool = False):
  """Minimises ``loss`` from every restart at once, keeping each restart's best candidate.

  Args:
    loss: ``(logits, temperature) -> loss`` of one restart; with
      ``loss_scores`` it returns ``(loss, exact value of candidate(logits))``,
      the exact value read off the same forward pass.
    score: ``candidate -> exact objective`` of one restart (higher is
      better; NaN counts as -inf).
    candidate: ``logits -> candidate`` of one restart: what is scored and kept
      (the logits themselves, or a rounded choice).
    logits: (R, ...) the restarts' starting logits.
    optimizer: an optax ``GradientTransformation``.
    temperature_at: schedule, step -> temperature.
    steps: optimiser steps.
    loss_scores: whether ``loss`` returns the exact value as well.

  Returns:
    (candidates (R, ...), exact values (R,) with NaN as -inf, final logits
    (R, ...), history (steps,) of the best value so far over all restarts).
  """
  restarts = logits.shape[0]
  dtype = logits.dtype
  grad = jax.vmap(jax.grad(loss, has_aux=loss_scores), in_axes=(0, None))

  def keep_best(best, logits, value=None):
    picked = jax.vmap(candidate)(logits)
    if value is None:
      value = jax.vmap(score)(picked)
    value = _nan_to_neg_inf(value)
    better = value > best[1]
    keep = better.reshape(better.shape + (1,) * (picked.ndim - 1))
    return jnp.where(keep, picked, best[0]), jnp.where(better, value, best[1])

  def step(carry, i):
    logits, state, best = carry
    out = grad(logits, jnp.asarray(temperature_at(i), dtype))
    grads, value = out if loss_scores else (out, None)
    best = keep_best(best, logits, value)
    updates, state = jax.vmap(optimizer.update)(grads, state, logits)
    logits = jnp.clip(optax.apply_updates(logits, updates), -_LOGIT_LIMIT, _LOGIT_LIMIT)
    return (logits, state, best), jnp.max(best[1])

  state = jax.vmap(optimizer.init)(logits)
  best = (jax.vmap(candidate)(logits), jnp.full((restarts,), -jnp.inf, dtype))
  (logits, _, best), history = jax.lax.scan(step, (logits, state, best), jnp.arange(steps))
  picked, values = keep_best(best, logits)
  return picked, values, logits, history
