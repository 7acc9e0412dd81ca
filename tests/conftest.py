"""Shared test set-up: float64 available, warnings are errors, eager/jit fixture.

x64 is enabled for the whole suite so that float64 references and gradient
checks are possible; float32 behaviour is tested by passing float32 arrays
explicitly (JAX keeps the dtype of array inputs).
"""

import jax
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture(params=["eager", "jit"])
def maybe_jit(request):
  """Returns a function transform: identity (eager) or ``jax.jit``.

  Keyword arguments named in ``static`` stay static under jit (strings,
  booleans such as ``variant`` or ``clip``).
  """
  def transform(fn, static=()):
    if request.param == "eager":
      return fn
    return jax.jit(fn, static_argnames=tuple(static))
  return transform
