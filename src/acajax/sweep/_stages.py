"""Row-only work of a sweep's block, found at trace time and done once per group of rows.

A block of a sweep evaluates every output on (rows x columns) points: the
kept axes' values vary along one block axis and the reduced axes' along the
other. Much of a bound's arithmetic reads one side only: in Theorem 1,
``(1 - abar) / alpha_c`` reads the masses (SPEC §4). On CPU the kernel walks
a group of rows through many column steps, and XLA's fused loops would
recompute row-only terms at every step (at every point, when a step is a few
columns wide).

:class:`Staged` traces the block once and marks every equation of its jaxpr
(calls to jitted helpers such as ``jnp.clip`` inlined) by what it reads:
:meth:`Staged.rows` evaluates the equations that read the shared values and
the rows only, once per group, and :meth:`Staged.points` the rest at each
step, reusing them. Nothing is rewritten algebraically, so every value is the
one the unsplit block computes, bit for bit. An equation whose result would
be larger than the row vector (a broadcast to the block's shape) is left to
the steps, so each hoisted value is at most one row vector.

(Column-only terms stay in the steps: computed ahead for every step and
indexed inside the loop, they made the fused step slower on CPU.)

Examples:
  >>> import jax.numpy as jnp
  >>> from acajax.sweep._stages import Staged
  >>> fn = lambda shared, rows, cols: (rows / shared) * (1 + 2 * cols)
  >>> rows, cols = jnp.arange(1.0, 4.0)[:, None], jnp.array([[0.0, 0.5]])
  >>> staged = Staged(fn, 2.0, rows, cols, max_rows=3)
  >>> memo = staged.rows(2.0, rows)
  >>> len(memo)            # rows / shared
  1
  >>> print(staged.points(2.0, rows, cols, memo))
  [[0.5 1. ]
   [1.  2. ]
   [1.5 3. ]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
from jax.extend.core import ClosedJaxpr, DropVar, Literal

# Call primitives whose body is inlined (jitted helpers such as jnp.clip).
_CALLS = frozenset({"jit", "pjit"})
_UNKNOWN = object()


def _inner(eqn) -> ClosedJaxpr | None:
  body = eqn.params.get("jaxpr")
  return body if eqn.primitive.name in _CALLS and isinstance(body, ClosedJaxpr) else None


def _bind(eqn, values):
  out = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(eqn.params))
  return out if eqn.primitive.multiple_results else [out]


def _abstract(tree):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(jax.numpy.shape(x), jax.numpy.result_type(x)),
                      tree)


class Staged:
  """A block function traced once, split into a row stage and a point stage.

  Args:
    fn: ``fn(shared, rows, cols) -> outputs`` (pytrees of arrays);
      ``shared`` holds what both stages may read (axis values, chunk
      control).
    shared, rows, cols: example arguments (arrays or
      ``jax.ShapeDtypeStruct``), of the shapes the stages are called with.
    max_rows: the most elements a value hoisted into the row stage may have
      (the block's rows).
  """

  def __init__(self, fn: Callable, shared: Any, rows: Any, cols: Any, *, max_rows: int):
    shared, rows, cols = _abstract(shared), _abstract(rows), _abstract(cols)
    self._closed = jax.make_jaxpr(fn)(shared, rows, cols)
    self._counts = tuple(jax.tree.structure(t).num_leaves for t in (shared, rows, cols))
    self._out_tree = jax.tree.structure(jax.eval_shape(fn, shared, rows, cols))
    self._max_rows = max_rows

  def _leaves(self, shared, rows, cols) -> list:
    parts = []
    for tree, count in zip((shared, rows, cols), self._counts):
      parts += [_UNKNOWN] * count if tree is _UNKNOWN else jax.tree.leaves(tree)
    return parts

  def rows(self, shared: Any, rows: Any) -> dict:
    """Values of every equation that reads ``shared`` and the rows only."""
    memo: dict = {}
    self._walk(self._closed, self._leaves(shared, rows, _UNKNOWN), (), memo, self._max_rows)
    return memo

  def points(self, shared: Any, rows: Any, cols: Any, memo: dict) -> Any:
    """The block's outputs, the row stage's values (``memo``) reused."""
    out = self._walk(self._closed, self._leaves(shared, rows, cols), (), dict(memo), None)
    return jax.tree.unflatten(self._out_tree, out)

  def _walk(self, closed: ClosedJaxpr, args: list, path: tuple, memo: dict,
            limit: int | None):
    """Evaluates ``closed`` on ``args``; ``memo`` maps (path, output index) to values.

    With a ``limit`` (a hoisting stage), an equation is evaluated only if
    every input is known (not ``_UNKNOWN``) and its outputs have at most
    ``limit`` elements, and its values go into ``memo``; the rest stay
    unknown. Without one every equation is evaluated, memoised values reused.
    """
    jaxpr = closed.jaxpr
    env: dict = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, args))

    def read(v):
      return v.val if isinstance(v, Literal) else env[v]

    for index, eqn in enumerate(jaxpr.eqns):
      key = path + (index,)
      inner = _inner(eqn)
      values = [read(v) for v in eqn.invars]
      if inner is not None:
        outs = self._walk(inner, values, key, memo, limit)
      elif (key, 0) in memo:
        outs = [memo[(key, i)] for i in range(len(eqn.outvars))]
      elif limit is not None and (any(v is _UNKNOWN for v in values) or any(
          math.prod(v.aval.shape) > limit for v in eqn.outvars)):
        outs = [_UNKNOWN] * len(eqn.outvars)
      else:
        outs = _bind(eqn, values)
        if limit is not None:
          memo.update(((key, i), o) for i, o in enumerate(outs))
      for var, value in zip(eqn.outvars, outs):
        if not isinstance(var, DropVar):
          env[var] = value
    return [read(v) for v in jaxpr.outvars]
