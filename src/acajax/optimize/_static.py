"""Static jit arguments keyed by structure: optax optimisers and schedules.

An optax ``GradientTransformation`` is a pair of Python closures, not a
pytree of arrays, so the optimisers of :mod:`acajax.optimize` reach the
jitted cores as *static* arguments, and ``jax.jit`` looks static arguments
up in its cache by ``__hash__`` and ``__eq__``. Closures compare by
identity: ``optax.adam(0.05)`` built afresh on every call would miss the
cache and recompile every time (about a second instead of a millisecond)
while the cache grows without bound. :class:`Static` compares what the
closures *compute* instead: a structural fingerprint, so two optimisers
(or temperature schedules) built by the same code with the same
hyperparameters share one compilation, and different hyperparameters
compile anew.

The fingerprint is conservative. Whatever it cannot read for certain
(tracers, large arrays, objects of unknown classes, sets) counts by
identity, so an unknown case recompiles as it did before; it never
conflates two callables that could compute differently, with the one
exception ``jax.jit`` itself makes: a mutable object reached by identity
(a global list, an instance) is read at trace time, and changing it later
is not seen.
"""

from __future__ import annotations

import functools
import types

import jax
import numpy as np

# Arrays up to this many elements count by value (dtype, shape, bytes);
# larger ones, and longer containers, by identity.
_MAX_ELEMENTS = 10_000

_SCALARS = (type(None), bool, int, str, bytes)


class _Identity:
  """A key part that equals only the very same object (and keeps it alive)."""
  __slots__ = ("obj",)

  def __init__(self, obj):
    self.obj = obj

  def __eq__(self, other):
    return isinstance(other, _Identity) and other.obj is self.obj

  def __hash__(self):
    return id(self.obj)


def _code_names(code: types.CodeType) -> set[str]:
  """Global names a code object (and the code nested in it) may read."""
  names = set(code.co_names)
  for const in code.co_consts:
    if isinstance(const, types.CodeType):
      names |= _code_names(const)
  return names


def _leaf(obj):
  """Key of a value read from a function's globals: by value when simple, else identity."""
  if isinstance(obj, _SCALARS) or isinstance(obj, (float, complex, np.dtype)):
    return _fingerprint(obj, ())
  if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
    return _fingerprint(obj, ())
  return _Identity(obj)


def _array(obj):
  """(dtype, shape, bytes) of a small concrete array; identity otherwise."""
  if isinstance(obj, jax.core.Tracer) or np.size(obj) > _MAX_ELEMENTS:
    return _Identity(obj)
  try:
    value = np.asarray(obj)
  except Exception:  # an array not readable on this host (sharded, deleted)
    return _Identity(obj)
  return ("array", type(obj).__name__, value.dtype.str, value.shape, value.tobytes())


def _fingerprint(obj, path: tuple[int, ...]):
  """Hashable structural key of ``obj``; ``path`` holds the ids being visited (cycles)."""
  if type(obj) in _SCALARS:
    return (type(obj).__name__, obj)
  if type(obj) is float:
    return ("float", obj.hex())          # hex: -0.0 and NaN keep their bits
  if type(obj) is complex:
    return ("complex", obj.real.hex(), obj.imag.hex())
  if isinstance(obj, np.dtype):
    return ("dtype", obj.str)
  if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
    return _array(obj)
  if id(obj) in path:                    # a cycle: name the ancestor by its depth
    return ("cycle", path.index(id(obj)))
  inner = path + (id(obj),)
  if isinstance(obj, (tuple, list)):
    if len(obj) > _MAX_ELEMENTS:
      return _Identity(obj)
    return ("sequence", _Identity(type(obj)), tuple(_fingerprint(v, inner) for v in obj))
  if type(obj) is dict:
    if len(obj) > _MAX_ELEMENTS:
      return _Identity(obj)
    return ("dict", tuple((_fingerprint(k, inner), _fingerprint(v, inner))
                          for k, v in obj.items()))
  if isinstance(obj, functools.partial):
    return ("partial", _Identity(type(obj)), _fingerprint(obj.func, inner),
            _fingerprint(obj.args, inner), _fingerprint(obj.keywords, inner))
  if isinstance(obj, types.MethodType):
    return ("method", _fingerprint(obj.__func__, inner), _fingerprint(obj.__self__, inner))
  if isinstance(obj, types.FunctionType):
    code = obj.__code__
    cells = []
    for cell in obj.__closure__ or ():
      try:
        cells.append(_fingerprint(cell.cell_contents, inner))
      except ValueError:                 # a cell not yet filled
        cells.append(("empty",))
    module_globals = obj.__globals__
    read = tuple((name, _leaf(module_globals[name]))
                 for name in sorted(_code_names(code)) if name in module_globals)
    return ("function", code, _Identity(module_globals), read,
            _fingerprint(obj.__defaults__, inner), _fingerprint(obj.__kwdefaults__, inner),
            tuple(cells))
  return _Identity(obj)


class Static:
  """A static jit argument that compares by structure instead of identity.

  ``Static(optax.adam(0.05)) == Static(optax.adam(0.05))`` (same code, same
  hyperparameters), while ``Static(optax.adam(0.1))`` differs. The key is
  computed once, when the wrapper is made: a function counts by its code,
  defaults, closure contents and the simple globals it reads; tuples, lists,
  NamedTuples and dicts element-wise; ``None``, bools, ints, floats,
  complex numbers and strings by type and value; NumPy/JAX scalars and
  concrete arrays of at most 10,000 elements by dtype, shape and bytes;
  anything else (tracers, unknown objects) by identity.

  Attributes:
    value: the wrapped object, unchanged.

  Examples:
    >>> import optax
    >>> Static(optax.adam(0.05)) == Static(optax.adam(0.05))
    True
    >>> Static(optax.adam(0.05)) == Static(optax.adam(0.1))
    False
  """
  __slots__ = ("value", "_key")

  def __init__(self, value):
    self.value = value
    self._key = _fingerprint(value, ())

  def __eq__(self, other):
    return isinstance(other, Static) and self._key == other._key

  def __hash__(self):
    return hash(self._key)

  def __repr__(self):
    return f"Static({self.value!r})"
