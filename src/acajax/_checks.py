"""Static argument checks shared by every module (SPEC §11).

Static mistakes (shapes that cannot broadcast, non-numeric dtypes, unknown
option names) raise ``ValueError``/``TypeError`` naming the argument. These
checks look only at shapes and dtypes, so they work on tracers too; values are
never inspected here (out-of-domain values become NaN inside the formulas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import math

import jax
import jax.numpy as jnp
import numpy as np


def dtype_of(name: str, value) -> np.dtype:
  """Returns the dtype of ``value``; raises TypeError unless it is real numeric."""
  if isinstance(value, (str, bytes)):
    raise TypeError(f"{name} must be a real number or array, got a string {value!r}")
  if isinstance(value, (bool, np.bool_)):
    raise TypeError(f"{name} must be a real number or array, got the bool {value!r}")
  dtype = getattr(value, "dtype", None)
  if dtype is None:
    try:
      dtype = np.asarray(value).dtype
    except Exception as err:  # ragged lists and the like
      raise TypeError(f"{name} must be a real number or array, got {type(value).__name__}") from err
  dtype = np.dtype(dtype)
  if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)):
    raise TypeError(f"{name} must have a real numeric dtype (integer or float), got {dtype}")
  return dtype


def float_dtype(*values) -> np.dtype:
  """The floating dtype the inputs promote to under JAX's rules.

  Floats keep their precision (float32 unless one is float64); integers alone
  give the default float, float64 only under ``jax_enable_x64``.
  """
  dtype = jnp.result_type(*values)
  if not jnp.issubdtype(dtype, jnp.floating):
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64)
  return np.dtype(dtype)


def as_float_arrays(named: Mapping[str, object], *,
                    broadcast: bool = True) -> tuple[jax.Array, ...]:
  """Checks dtypes and broadcastability, returns the values as float arrays.

  Args:
    named: argument name -> value, in the order they should be returned.
    broadcast: broadcast the arrays to their common shape (default), or keep
      each one's shape (the shapes are checked either way).

  Returns:
    A tuple of arrays, one per entry, all of one floating dtype and, with
    ``broadcast``, of a common shape.

  Raises:
    TypeError: an argument is not real numeric; the message names it.
    ValueError: an argument's shape does not broadcast with the earlier ones.
  """
  for name, value in named.items():
    dtype_of(name, value)
  dtype = float_dtype(*named.values())
  shape: tuple[int, ...] = ()
  seen: list[str] = []
  for name, value in named.items():
    value_shape = tuple(jnp.shape(value))
    try:
      shape = np.broadcast_shapes(shape, value_shape)
    except ValueError:
      raise ValueError(
          f"{name} has shape {value_shape}, which does not broadcast with the "
          f"shape {shape} of {', '.join(seen)}") from None
    seen.append(name)
  arrays = tuple(jnp.asarray(v, dtype) for v in named.values())
  return tuple(jnp.broadcast_to(a, shape) for a in arrays) if broadcast else arrays


def check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
  """Raises ValueError unless ``value`` is one of ``allowed``."""
  if not isinstance(value, str) or value not in allowed:
    raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
  return value


def check_trailing_axis(name: str, value, size: int | None = None, *, min_rank: int = 1) -> tuple[int, ...]:
  """Checks that ``value`` has a trailing (collective) axis; returns its shape."""
  shape = tuple(jnp.shape(value))
  if len(shape) < min_rank:
    raise ValueError(f"{name} must have a trailing collective axis (rank >= {min_rank}), got shape {shape}")
  if size is not None and shape[-1] != size:
    raise ValueError(f"{name} must have {size} entries on its trailing collective axis, got shape {shape}")
  return shape


def is_concrete(*values) -> bool:
  """Whether no leaf of ``values`` is a tracer, so its values may be checked on the host."""
  return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(values))


def check_finite(name: str, value, *, positive: bool) -> None:
  """Raises ValueError unless ``value`` is a finite real > 0 (or >= 0)."""
  bound = "> 0" if positive else ">= 0"
  try:
    number = float(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be a finite number {bound}; got {value!r}") from None
  if isinstance(value, bool) or not math.isfinite(number) or (
      number <= 0 if positive else number < 0):
    raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
