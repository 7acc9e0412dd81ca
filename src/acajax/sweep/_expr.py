"""Derived (linked) parameters of a sweep: small arithmetic expressions.

A sweep spec's ``[derived]`` table defines parameters from axes, fixed
values, named constants and other derived parameters, such as
``"alpha[1]" = "budget - alpha[0]"``. An expression is parsed with :mod:`ast`
(never ``eval``) into a tree of numbers, names (``alpha[0]``: a parameter
with a collective index; ``budget``: a named constant or variable axis), the
operators ``+ - * /``, unary minus, parentheses and the functions ``min`` and
``max`` (two or more arguments). The same tree is evaluated on the host with
NumPy (the spec's domain checks) and inside the jitted sweep kernel with
``jax.numpy`` (per point), so both see the same formula.

Names resolve per collective: in the expression of a per-collective entry
(``alpha`` or ``alpha[1]``), a per-collective parameter written without an
index means the same collective's value; a scenario-wide entry (``eps``)
must index per-collective parameters.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Expr", "ExprError", "parse_expression"]

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_FUNCTIONS = ("min", "max")
MAX_LENGTH = 1000


class ExprError(ValueError):
  """An expression that is not in the small arithmetic language (what was expected)."""


@dataclasses.dataclass(frozen=True)
class Expr:
  """A parsed expression: a nested tuple tree and the names it reads.

  Nodes: ``("num", value)``, ``("name", base, index or None)``,
  ``("neg", node)``, ``(op, left, right)`` for op in ``+ - * /``, and
  ``("min" | "max", node, node, ...)``.

  Attributes:
    text: the source text.
    tree: the root node.
    names: every (base, index) read, in order of first use.
  """
  text: str
  tree: tuple
  names: tuple[tuple[str, int | None], ...]

  def evaluate(self, lookup: Callable[[str, int | None], Any], xp) -> Any:
    """The value, reading names through ``lookup(base, index)``.

    Args:
      lookup: returns the value of a name (an array or a number).
      xp: ``numpy`` or ``jax.numpy`` (``minimum``/``maximum`` come from it).

    Examples:
      >>> import numpy as np
      >>> e = parse_expression("budget - alpha[0]")
      >>> float(e.evaluate(lambda b, i: {"budget": 0.1, "alpha": 0.03}[b], np))
      0.07
      >>> e = parse_expression("max(0, 2 * (t - 0.5))")
      >>> e.evaluate(lambda b, i: np.array([0.2, 0.75]), np).tolist()
      [0.0, 0.5]
    """
    def run(node):
      kind = node[0]
      if kind == "num":
        return node[1]
      if kind == "name":
        return lookup(node[1], node[2])
      if kind == "neg":
        return -run(node[1])
      if kind in ("min", "max"):
        fold = xp.minimum if kind == "min" else xp.maximum
        value = run(node[1])
        for arg in node[2:]:
          value = fold(value, run(arg))
        return value
      left, right = run(node[1]), run(node[2])
      if kind == "+":
        return left + right
      if kind == "-":
        return left - right
      if kind == "*":
        return left * right
      return left / right
    return run(self.tree)


def parse_expression(text: str) -> Expr:
  """Parses an expression of the derived-parameter language (see the module docstring).

  Raises:
    ExprError: not a string, bad syntax, or anything outside the language
      (attribute access, calls other than ``min``/``max``, ``**``, comparisons,
      non-integer indices...), with what is allowed.

  Examples:
    >>> parse_expression("budget - alpha[0]").names
    (('budget', None), ('alpha', 0))
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    acajax.sweep._expr.ExprError: only min(...) and max(...) may be called; got __import__(...)
  """
  if not isinstance(text, str):
    raise ExprError(f"must be an expression in a string, such as \"budget - alpha[0]\"; "
                    f"got {text!r}")
  if not text.strip():
    raise ExprError("empty expression")
  if len(text) > MAX_LENGTH:
    raise ExprError(f"at most {MAX_LENGTH} characters")
  try:
    root = ast.parse(text.strip(), mode="eval").body
  except SyntaxError as err:
    raise ExprError(f"bad syntax ({err.msg}) in {text!r}") from None
  names: list[tuple[str, int | None]] = []

  def convert(node) -> tuple:
    if isinstance(node, ast.Constant):
      if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        raise ExprError(f"constants must be numbers; got {node.value!r}")
      return ("num", float(node.value))
    if isinstance(node, ast.Name):
      names.append((node.id, None))
      return ("name", node.id, None)
    if isinstance(node, ast.Subscript):
      if not isinstance(node.value, ast.Name):
        raise ExprError("only a parameter name takes an index, as in alpha[0]")
      index = node.slice
      negative = isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub)
      inner = index.operand if negative else index
      if not (isinstance(inner, ast.Constant) and isinstance(inner.value, int)
              and not isinstance(inner.value, bool)):
        raise ExprError(f"an index is a collective number, as in {node.value.id}[0]")
      value = -inner.value if negative else inner.value
      names.append((node.value.id, value))
      return ("name", node.value.id, value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
      operand = convert(node.operand)
      return ("neg", operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
      if type(node.op) not in _BINARY:
        symbol = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@"}.get(
            type(node.op), type(node.op).__name__)
        raise ExprError(f"the operator {symbol} is not allowed; use + - * /, min and max")
      return (_BINARY[type(node.op)], convert(node.left), convert(node.right))
    if isinstance(node, ast.Call):
      name = node.func.id if isinstance(node.func, ast.Name) else "<expression>"
      if name not in _FUNCTIONS:
        raise ExprError(f"only min(...) and max(...) may be called; got {name}(...)")
      if node.keywords or len(node.args) < 2:
        raise ExprError(f"{name} takes two or more arguments, as in {name}(a, b)")
      return (name, *(convert(arg) for arg in node.args))
    what = type(node).__name__
    raise ExprError(f"{what} is not allowed; use numbers, names (alpha[0], budget), "
                    "+ - * /, parentheses, min and max")

  tree = convert(root)
  return Expr(text, tree, tuple(dict.fromkeys(names)))


def evaluation_order(exprs: Mapping[str, Expr], depends: Callable[[str, Expr], list[str]]
                     ) -> list[str]:
  """Keys in an order where each comes after the derived keys it reads.

  Args:
    exprs: key -> expression.
    depends: the derived keys an entry reads.

  Raises:
    ExprError: a cycle, naming its keys in order (``a -> b -> a``).
  """
  order: list[str] = []
  state: dict[str, int] = {}

  def visit(key, path):
    if state.get(key) == 2:
      return
    if state.get(key) == 1:
      cycle = path[path.index(key):] + [key]
      raise ExprError(" -> ".join(cycle))
    state[key] = 1
    for dep in depends(key, exprs[key]):
      visit(dep, path + [key])
    state[key] = 2
    order.append(key)

  for key in exprs:
    visit(key, [])
  return order


def _split_key(key: str) -> tuple[str, int | None]:
  if key.endswith("]") and "[" in key:
    base, index = key[:-1].split("[", 1)
    return base, int(index)
  return key, None


def reads(key: str, expr: Expr, keys, per_collective: Callable[[str], bool]) -> list[str]:
  """The derived keys (among ``keys``) that the entry ``key`` reads.

  A read of ``alpha[0]`` depends on the keys ``alpha[0]`` and ``alpha``; an
  unindexed read of a per-collective parameter in the entry ``x[c]`` reads
  collective c, in the entry ``x`` every collective.
  """
  _, own = _split_key(key)
  found = []
  for base, index in expr.names:
    index = own if index is None and per_collective(base) else index
    for other in keys:
      other_base, other_index = _split_key(other)
      if other_base == base and (other_index is None or index is None or other_index == index):
        found.append(other)
  return list(dict.fromkeys(found))


def axis_dependencies(exprs: Mapping[str, Expr], axis_names, per_collective: Callable[[str], bool]
                      ) -> dict[str, frozenset[str]]:
  """Per derived key, every axis its value depends on (directly or through other keys).

  ``exprs`` must be in evaluation order (:func:`evaluation_order`).
  """
  result: dict[str, frozenset[str]] = {}
  for key, expr in exprs.items():
    axes = set(reads(key, expr, axis_names, per_collective))   # axes match as keys do
    for dep in reads(key, expr, [k for k in result], per_collective):
      axes |= result[dep]
    result[key] = frozenset(axes)
  return result
