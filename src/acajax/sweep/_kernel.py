"""The device kernel of a sweep: one jitted ``shard_map`` evaluates a chunk.

Per-axis start digits come from the host, in-chunk offsets are added with
carries in int32, axis values are gathered per row and per column, the
registry's bounds are evaluated, and the reduction is a running elementwise
fold over column steps (never the whole chunk). Devices' partial results are
gathered and combined in device order, so the result equals one device's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh, PartitionSpec

from acajax.sweep._plan import ChunkPlan
from acajax.sweep._registry import (BOUNDS, PARAMETERS, _alpha_total, _reduce_fields,
                                    _scenario_defaults, derived_values, output_columns,
                                    strategy_code)
from acajax.sweep._spec import SweepSpec

MESH_AXIS = "sweep"


# -- the device kernel ----------------------------------------------------------


def _add_offsets(start, offset, sizes: tuple[int, ...], max_offset: int) -> list[jax.Array]:
  """Digits of (start + offset) in mixed radix, in int32.

  ``start`` holds the chunk's per-axis start digits (from Python ints on the
  host); ``offset`` is an int32 vector of in-chunk offsets. Strides larger
  than every offset contribute digit 0, so nothing overflows int32 however
  large the grid. Offsets past the end wrap around (they are masked).
  """
  digits = [None] * len(sizes)
  carry = jnp.zeros_like(offset)
  stride = 1
  for j in reversed(range(len(sizes))):
    size = sizes[j]
    if stride > max_offset:
      part = jnp.zeros_like(offset)
    else:
      part = lax.div(offset, jnp.int32(stride))
      if stride * size <= max_offset:
        part = lax.rem(part, jnp.int32(size))
    total = start[j] + part + carry
    carry = (total >= size).astype(jnp.int32)
    digits[j] = total - carry * size
    stride *= size
  return digits


def _in_domain(value, param, dtype):
  """A derived value, NaN outside its parameter's domain (SPEC §11)."""
  value = jnp.asarray(value, dtype)
  low = value >= param.low if param.low_inclusive else value > param.low
  high = value <= param.high if param.high_inclusive else value < param.high
  return jnp.where(low & high, value, jnp.nan)


def _assemble(spec: SweepSpec, grid: Mapping[str, jax.Array], dtype) -> dict[str, Any]:
  """Parameter dict for the registry from axis blocks, derived and fixed values.

  Precedence per parameter (and collective): an axis, a derived value, a
  fixed value, the scenario's value. A ``strategy`` given by names becomes
  its codes; with a scenario and a per-point strategy, each collective's xi
  is the largest overlap O[j, c] of the others at their strategies (SPEC §3).
  """
  fixed = spec.fixed
  from_scenario = ({} if spec.scenario is None
                   else _scenario_defaults(spec.scenario, spec.target_labels, spec.dtype))
  derived = (derived_values(spec, grid, jnp, lambda v: jnp.asarray(v, dtype))
             if spec.derived else {})

  def fixed_value(name, value):
    return jnp.asarray(strategy_code(value) if isinstance(value, str) else value, dtype)

  params: dict[str, Any] = {}
  for name, param in PARAMETERS.items():
    if param.per_collective:
      parts = []
      for c in range(spec.collectives):
        if f"{name}[{c}]" in grid:
          parts.append(grid[f"{name}[{c}]"])
        elif name in grid:
          parts.append(grid[name])
        elif (name, c) in derived:
          parts.append(_in_domain(derived[(name, c)], param, dtype))
        elif name in fixed:
          value = fixed[name][c] if isinstance(fixed[name], tuple) else fixed[name]
          parts.append(fixed_value(name, value))
        elif name in from_scenario:
          parts.append(jnp.asarray(from_scenario[name][c], dtype))
        else:
          parts = None
          break
      if parts is not None:
        params[name] = tuple(parts)
    elif name in grid:
      params[name] = grid[name]
    elif (name, None) in derived:
      params[name] = _in_domain(derived[(name, None)], param, dtype)
    elif name in fixed:
      params[name] = jnp.asarray(fixed[name], dtype)
  strategy_given = "strategy" in fixed or any(n.split("[")[0] == "strategy" for n in grid)
  xi_given = ("xi" in fixed or any(n.split("[")[0] == "xi" for n in grid)
              or any(name == "xi" for name, _ in derived))
  if from_scenario and strategy_given and not xi_given:
    # xi_c = max over j != c of O[j, c] at j's strategy (SPEC §3), per point.
    fl, fo = (jnp.asarray(o, dtype) for o in from_scenario["overlap"])
    strategy = params["strategy"]
    xi = []
    for c in range(spec.collectives):
      value = jnp.zeros((), dtype)
      for j in range(spec.collectives):
        if j != c:
          value = jnp.maximum(value, jnp.where(strategy[j] > 0.5, fo[j, c], fl[j, c]))
      xi.append(value)
    params["xi"] = tuple(xi)
  return params


def evaluate(spec: SweepSpec, params: Mapping[str, Any]) -> dict[str, jax.Array]:
  """Every output column of the spec from one block of parameters.

  Args:
    spec: the sweep.
    params: as for :attr:`Bound.fn` (arrays that broadcast together).

  Returns:
    Output column name (see :func:`output_columns`) -> array.
  """
  targets = spec.target_labels
  out: dict[str, jax.Array] = {}
  for name in spec.bounds:
    bound = BOUNDS[name]
    values = (bound.fn(params, targets, spec.scenario) if bound.needs_scenario
              else bound.fn(params, targets))
    if bound.kind == "mass" or "each" in spec.collective:
      out.update({f"{name}[{c}]": v for c, v in enumerate(values)})
    if bound.kind == "success" and "s_min" in spec.collective:
      out[f"{name}.s_min"] = _s_min(values)
    if bound.kind == "success" and "s_w" in spec.collective:
      out[f"{name}.s_w"] = _s_weighted(values, params["alpha"])
  return out


def _s_min(values: tuple) -> jax.Array:
  """``bounds.s_min`` over a tuple of per-collective arrays (SPEC §7).

  The same formula, unrolled over the collective axis: stacking a trailing
  axis of size M would make XLA materialise (rows, cols, M) blocks.
  """
  return functools.reduce(jnp.minimum, [jnp.clip(v, 0.0, 1.0) for v in values])


def _s_weighted(values: tuple, alpha: tuple) -> jax.Array:
  """``bounds.s_weighted`` over tuples of per-collective arrays (SPEC §7), unrolled."""
  total = _alpha_total(alpha)
  weighted = functools.reduce(jnp.add, [a * jnp.clip(v, 0.0, 1.0) for a, v in zip(alpha, values)])
  valid = total > 0
  return jnp.where(valid, weighted / jnp.where(valid, total, 1.0), jnp.nan)


def _lexicographic(kinds):
  """Combiner of (found, extreme[, index]) tuples for ``lax.reduce``.

  ``kinds`` lists, per output and direction, ``"min"``/``"max"`` (value only)
  or ``"argmin"``/``"argmax"`` (value and index). A slot not found holds a
  neutral value and an index past every real one, so the winner is the
  extreme found value, ties going to the smallest index (first in grid order).
  """
  def combine(a, b):
    out, i = [], 0
    for kind in kinds:
      if kind == "found":
        out.append(a[i] | b[i])
        i += 1
      elif kind in ("min", "max"):
        out.append(jnp.minimum(a[i], b[i]) if kind == "min" else jnp.maximum(a[i], b[i]))
        i += 1
      else:
        va, ia, vb, ib = a[i], a[i + 1], b[i], b[i + 1]
        better = (va < vb) if kind == "argmin" else (va > vb)
        take_a = better | ((va == vb) & (ia < ib))
        out += [jnp.where(take_a, va, vb), jnp.where(take_a, ia, ib)]
        i += 2
    return tuple(out)
  return combine


_NOT_FOUND = 2**31 - 1


def _init_running(columns, shape, dtype, directions, argmin, argmax):
  running = {}
  for column in columns:
    parts = {"found": jnp.zeros(shape, bool)}
    for direction in directions:
      parts[direction] = jnp.full(shape, jnp.inf if direction == "min" else -jnp.inf, dtype)
      if (argmin and direction == "min") or (argmax and direction == "max"):
        parts[f"arg{direction}"] = jnp.full(shape, _NOT_FOUND, jnp.int32)
    running[column] = parts
  return running


def _update_running(running, outputs, col):
  """Folds one step's block into the running results, elementwise.

  Steps go in increasing column order and only a strictly better value
  replaces a found one, so each lane keeps the first extreme. NaN (out of
  domain, or masked padding) is skipped.
  """
  new = {}
  for column, value in outputs.items():
    parts = running[column]
    value = jnp.broadcast_to(value, parts["found"].shape)
    present = ~jnp.isnan(value)
    found = parts["found"]
    updated = {"found": found | present}
    for direction in ("min", "max"):
      if direction not in parts:
        continue
      old = parts[direction]
      if f"arg{direction}" in parts:
        better = present & (~found | ((value < old) if direction == "min" else (value > old)))
        updated[direction] = jnp.where(better, value, old)
        updated[f"arg{direction}"] = jnp.where(better, jnp.broadcast_to(col, value.shape),
                                               parts[f"arg{direction}"])
      else:
        merge = jnp.minimum if direction == "min" else jnp.maximum
        updated[direction] = jnp.where(present, merge(old, value), old)
    new[column] = updated
  return new


def _collapse(running, axis: int):
  """Reduces running results along ``axis`` (lanes, or devices), exactly."""
  results = {}
  for column, parts in running.items():
    found = parts["found"]
    operands, inits, kinds = [found], [jnp.asarray(False)], ["found"]
    for direction in ("min", "max"):
      if direction not in parts:
        continue
      neutral = jnp.asarray(jnp.inf if direction == "min" else -jnp.inf, parts[direction].dtype)
      operands.append(jnp.where(found, parts[direction], neutral))
      inits.append(neutral)
      if f"arg{direction}" in parts:
        operands.append(jnp.where(found, parts[f"arg{direction}"], _NOT_FOUND))
        inits.append(jnp.int32(_NOT_FOUND))
        kinds.append(f"arg{direction}")
      else:
        kinds.append(direction)
    reduced = lax.reduce(tuple(operands), tuple(inits), _lexicographic(kinds), (axis,))
    out, i = {"found": reduced[0]}, 1
    for direction in ("min", "max"):
      if direction in parts:
        out[direction] = reduced[i]
        i += 1
        if f"arg{direction}" in parts:
          out[f"arg{direction}"] = reduced[i]
          i += 1
    results[column] = out
  return results


class _Kernel(NamedTuple):
  fn: Callable
  traces: list  # one entry per trace of the chunk function (compile guard)


# Compiled chunk functions of recent sweeps: (spec fingerprint, plan, device
# ids, process count) -> (_Kernel, executable). Small, oldest dropped first.
_COMPILED: dict = {}


def _build_kernel(spec: SweepSpec, plan: ChunkPlan, mesh: Mesh) -> _Kernel:
  """The jitted chunk function: (axis values, chunk control) -> replicated results."""
  dtype = jnp.dtype(spec.dtype)
  position = {name: i for i, name in enumerate(spec.axes)}
  kept, reduced = plan.kept, plan.reduced
  directions, argmin, argmax = _reduce_fields(spec.reduce.ops)
  columns = output_columns(spec)
  nan = jnp.asarray(jnp.nan, dtype)
  traces: list = []

  def gather(axis_values, names, digits, block_axis):
    return {name: jnp.expand_dims(
        axis_values[position[name]].at[digit].get(mode="promise_in_bounds"), block_axis)
            for name, digit in zip(names, digits)}

  def local(axis_values, control):
    traces.append(1)
    starts, rows_valid, cols_valid = control[:-2], control[-2], control[-1]
    device = lax.axis_index(MESH_AXIS)
    row_base, col_base = jnp.int32(0), jnp.int32(0)
    if plan.shard_dim == 0:
      row_base = device * plan.local_rows
    else:
      col_base = device * plan.local_cols

    # Block layout: rows on axis 1 and columns on axis 0 when tall, else the
    # other way round; reductions fold over the column axis.
    row_axis, col_axis = (1, 0) if plan.tall else (0, 1)

    def rows_of(row):
      """Kept-axis values of some rows, and their mask, shaped along row_axis."""
      digits = _add_offsets(starts[:len(kept)], row, plan.kept_sizes, plan.padded_rows - 1)
      return (gather(axis_values, kept, digits, col_axis),
              jnp.expand_dims(row < rows_valid, col_axis))

    def block(row_grid, row_valid, col):
      """Every output on (rows x columns) points; NaN where masked."""
      reduced_digits = _add_offsets(starts[len(kept):], col, plan.reduced_sizes,
                                    plan.padded_cols - 1)
      grid = dict(row_grid, **gather(axis_values, reduced, reduced_digits, row_axis))
      outputs = evaluate(spec, _assemble(spec, grid, dtype))
      valid = row_valid & jnp.expand_dims(col < cols_valid, row_axis)
      return {c: jnp.where(valid, outputs[c], nan) for c in columns}

    if not reduced:
      row = row_base + lax.iota(jnp.int32, plan.local_rows)
      outputs = block(*rows_of(row), lax.iota(jnp.int32, 1))
      results = {c: {"value": jnp.broadcast_to(v, (plan.local_rows, 1))[:, 0]}
                 for c, v in outputs.items()}
      return jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS, tiled=True), results)

    lane = lax.iota(jnp.int32, plan.lanes)
    shape = (plan.lanes, plan.group) if plan.tall else (plan.group, plan.lanes)

    def group_step(g, out):
      first = g * plan.group
      row_grid, row_valid = rows_of(row_base + first + lax.iota(jnp.int32, plan.group))

      def step(i, running):
        col = col_base + i * plan.lanes + lane
        return _update_running(running, block(row_grid, row_valid, col),
                               jnp.expand_dims(col, row_axis))

      running = _init_running(columns, shape, dtype, directions, argmin, argmax)
      running = lax.fori_loop(0, plan.steps, step, running)
      results = _collapse(running, axis=col_axis)            # (group,) each
      return jax.tree.map(lambda o, r: lax.dynamic_update_slice(o, r, (first,)), out, results)

    shapes = _collapse(_init_running(columns, (1, 1), dtype, directions, argmin, argmax), 1)
    out = jax.tree.map(lambda x: jnp.zeros((plan.local_rows,), x.dtype), shapes)
    results = lax.fori_loop(0, plan.groups, group_step, out)
    # Gather to every device: row parts are concatenated; column parts are
    # combined like lanes, in device order (identical to one device).
    if plan.shard_dim == 0:
      return jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS, tiled=True), results)
    gathered = jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS), results)
    return _collapse(gathered, axis=0)

  replicated = PartitionSpec()
  fn = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(replicated, replicated),
                             out_specs=replicated, check_vma=False))
  return _Kernel(fn, traces)


# -- host side: accumulation, checkpoints, results --------------------------------
