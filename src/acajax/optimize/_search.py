"""The discrete search shared by signal placement and target choice.

One choice per collective among C candidates (a signal point, a target
label): the relaxation (softmax over the candidates) runs the shared optax
loop, each restart's rounded (argmax) choice is scored exactly at every
step, and the kept choices are polished by exact coordinate ascent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from acajax.optimize._restarts import _run_restarts


def _discrete_search(loss, exact, choices, logits, opt, temperature_at, steps: int,
                     polish_sweeps: int):
  """One choice per collective among ``choices``, by a relaxation and a polish.

  From each restart's (M, C) logits, ``opt`` minimises ``loss(logits,
  temperature)`` for ``steps`` steps (temperature from ``temperature_at``),
  keeping each restart's best rounded choice (argmax per collective) by the
  exact objective ``exact`` (higher is better); then coordinate ascent on
  ``exact``, one collective at a time (cyclically, ``polish_sweeps`` rounds)
  over every choice, from each restart's best, taking strict improvements.

  Returns:
    (choices (R, M), exact values (R,), final logits (R, M, C), history
    (steps,) of the best value so far).
  """
  num = logits.shape[1]

  def rounded(logits):
    return choices[jnp.argmax(logits, axis=-1)]

  picked, values, logits, history = _run_restarts(loss, exact, rounded, logits, opt,
                                                  temperature_at, steps)

  def polish(picked, value):
    def move(i, carry):
      picked, value = carry
      trial = jnp.broadcast_to(picked, (choices.shape[0], num)).at[:, i % num].set(choices)
      trial_values = jax.vmap(exact)(trial)
      k = jnp.argmax(trial_values)
      better = trial_values[k] > value
      return jnp.where(better, trial[k], picked), jnp.where(better, trial_values[k], value)
    return jax.lax.fori_loop(0, polish_sweeps * num, move, (picked, value))

  if polish_sweeps > 0:
    picked, values = jax.vmap(polish)(picked, values)
  return picked, values, logits, history
