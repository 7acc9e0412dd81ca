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

from acajax import bounds as _bounds
from acajax.sweep import _stages
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


class Output(NamedTuple):
  """One output column on a block: values, and where they are defined.

  ``value`` is meaningful only where ``valid`` (out of domain it may hold
  anything finite or not); as a column of results it reads
  ``where(valid, value, nan)`` (SPEC §11).
  """
  value: jax.Array
  valid: jax.Array


def evaluate(spec: SweepSpec, params: Mapping[str, Any], *,
             clip: bool = True) -> dict[str, Output]:
  """Every output column of the spec from one block of parameters.

  Args:
    spec: the sweep.
    params: as for :attr:`Bound.fn` (arrays that broadcast together).
    clip: clip success values to [0, 1] (SPEC §7); ``False`` clips only
      from below (raw values can overflow to -inf), for min and max
      reductions that clip after reducing (clipping is monotone, so the
      extremes are the same); S_w is clipped either way.

  Returns:
    Output column name (see :func:`output_columns`) -> :class:`Output`.
  """
  targets = spec.target_labels
  out: dict[str, Output] = {}
  for name in spec.bounds:
    bound = BOUNDS[name]
    if bound.parts is not None:
      raw, conditions = zip(*bound.parts(params, targets))
    else:
      raw = (bound.fn(params, targets, spec.scenario) if bound.needs_scenario
             else bound.fn(params, targets))
      conditions = tuple((~jnp.isnan(v),) for v in raw)
    success = bound.kind == "success"
    clipped = tuple(_clip01(v) for v in raw) if success else raw
    values = clipped if clip or not success else raw
    late = (lambda v: v) if clip or not success else _clip_low
    if not success or "each" in spec.collective:
      out.update({f"{name}[{c}]": Output(late(v), _bounds._all(*conditions[c]))
                  for c, v in enumerate(values)})
    every = [c for group in conditions for c in group]
    if success and "s_min" in spec.collective:
      out[f"{name}.s_min"] = Output(late(_s_min(values)), _bounds._all(*every))
    if success and "s_w" in spec.collective:
      total = _alpha_total(params["alpha"])
      out[f"{name}.s_w"] = Output(_s_weighted(clipped, params["alpha"]),
                                  _bounds._all(*every, total > 0))
  return out


def _clip01(value: jax.Array) -> jax.Array:
  """``jnp.clip(value, 0, 1)`` (NaN stays NaN) with two selects, cheaper than max/min."""
  zero, one = jnp.zeros((), value.dtype), jnp.ones((), value.dtype)
  return jnp.where(value < zero, zero, jnp.where(value > one, one, value))


def _clip_low(value: jax.Array) -> jax.Array:
  """``value`` clipped from below at 0 (NaN stays NaN): finite wherever a raw bound is valid.

  A raw bound is at most 1 (up to rounding) but can overflow to -inf; the
  clip from above comes after the reduction.
  """
  zero = jnp.zeros((), value.dtype)
  return jnp.where(value < zero, zero, value)


def _s_min(values: tuple) -> jax.Array:
  """``bounds.s_min`` over a tuple of per-collective arrays (SPEC §7), where defined.

  Unrolled over the collective axis: stacking a trailing axis of size M
  would make XLA materialise (rows, cols, M) blocks. A select, not
  ``jnp.minimum``: NaN needs no handling here (the validity is carried apart,
  :class:`Output`), and XLA's NaN-propagating minimum costs several
  instructions per point. The values come clipped or not, as the caller chose.
  """
  return functools.reduce(lambda a, b: jnp.where(b < a, b, a), values)


def _s_weighted(values: tuple, alpha: tuple) -> jax.Array:
  """``bounds.s_weighted`` over tuples of clipped per-collective values (SPEC §7), unrolled.

  Defined where the total mass is positive (the caller's validity). The
  sum divided by the total, as :func:`bounds.s_weighted` does: with every
  value 1 it is exactly 1 (a product with 1/abar can round above 1 and
  break ties at 1).
  """
  total = _alpha_total(alpha)
  weighted = functools.reduce(jnp.add, [a * v for a, v in zip(alpha, values)])
  return weighted / jnp.where(total > 0, total, 1.0)


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


def _init_running(columns, shape, dtype, directions, argmin, argmax, finite=frozenset()):
  """Running results of a block's shape; columns in ``finite`` keep no found flag.

  A column whose values are finite wherever valid (every success value)
  needs no flag: its running extreme leaves its infinite start at the first
  valid point (:func:`_found`).
  """
  running = {}
  for column in columns:
    parts = {} if column in finite else {"found": jnp.zeros(shape, bool)}
    for direction in directions:
      parts[direction] = jnp.full(shape, jnp.inf if direction == "min" else -jnp.inf, dtype)
      if (argmin and direction == "min") or (argmax and direction == "max"):
        parts[f"arg{direction}"] = jnp.full(shape, _NOT_FOUND, jnp.int32)
    running[column] = parts
  return running


def _update_running(running, outputs, col):
  """Folds one step's block of :class:`Output` into the running results, elementwise.

  Steps go in increasing column order and only a strictly better value
  replaces a found one, so each lane keeps the first extreme. Points out of
  domain (not ``valid``) are skipped.
  """
  new = {}
  for column, (value, valid) in outputs.items():
    parts = running[column]
    shape = next(iter(parts.values())).shape
    value, valid = jnp.broadcast_to(value, shape), jnp.broadcast_to(valid, shape)
    found = parts.get("found")
    updated = {} if found is None else {"found": found | valid}
    for direction in ("min", "max"):
      if direction not in parts:
        continue
      old = parts[direction]
      improves = (value < old) if direction == "min" else (value > old)
      if f"arg{direction}" in parts:
        # Without a flag the start is infinite, so a finite value improves it.
        better = valid & (improves if found is None else (~found | improves))
        updated[f"arg{direction}"] = jnp.where(better, jnp.broadcast_to(col, shape),
                                               parts[f"arg{direction}"])
      else:
        better = valid & improves
      updated[direction] = jnp.where(better, value, old)
    new[column] = updated
  return new


def _found(parts) -> jax.Array:
  """The found flag of running results, kept or read off the extremes.

  Columns without a flag hold values that are finite wherever valid (success
  values, clipped, or clipped from below), so an extreme still at its
  infinite start means no valid point.
  """
  if "found" in parts:
    return parts["found"]
  return functools.reduce(jnp.logical_or, [jnp.isfinite(parts[d]) for d in ("min", "max")
                                           if d in parts])


def _collapse(running, axis: int):
  """Reduces running results along ``axis`` (lanes, or devices), exactly."""
  results = {}
  for column, parts in running.items():
    found = _found(parts)
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


def _build_kernel(spec: SweepSpec, plan: ChunkPlan, mesh: Mesh, *,
                  gather: bool = True) -> _Kernel:
  """The jitted chunk function: (axis values, chunk control) -> results.

  With ``gather``, the devices' parts are gathered in the program and every
  device holds the chunk's results (needed across processes). Without it,
  the program has no collective (on host devices, a collective makes the
  devices wait on each other and the second core is lost): results come back
  split over devices, rows concatenated (``shard_dim`` 0), or with a leading
  device axis of column parts for the host to combine in device order.
  """
  dtype = jnp.dtype(spec.dtype)
  position = {name: i for i, name in enumerate(spec.axes)}
  kept, reduced = plan.kept, plan.reduced
  directions, argmin, argmax = _reduce_fields(spec.reduce.ops)
  columns = output_columns(spec)
  success = {c for c in columns if BOUNDS[c.split("[")[0].split(".")[0]].kind == "success"}
  # Min and max reductions clip success values after reducing (clipping is
  # monotone): the points skip it. Arg-reductions need clipped ties.
  clip_late = bool(reduced) and not (argmin or argmax)
  traces: list = []

  def axis_block(axis_values, names, digits, block_axis):
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

    # Padding (offsets past the chunk's valid rows or columns) repeats the
    # last valid row or column: padded rows are dropped on the host, and a
    # repeated column never wins a reduction (ties go to the smaller index),
    # so no point needs a mask.
    def rows_of(row):
      """Kept-axis values of some rows, shaped along row_axis."""
      row = jnp.minimum(row, rows_valid - 1)
      digits = _add_offsets(starts[:len(kept)], row, plan.kept_sizes, plan.padded_rows - 1)
      return axis_block(axis_values, kept, digits, col_axis)

    def block(shared, row_grid, col):
      """Every output on (rows x columns) points, ``col`` the in-chunk column offsets.

      ``shared`` is (axis values, chunk start digits).
      """
      values, first = shared
      reduced_digits = _add_offsets(first[len(kept):], col, plan.reduced_sizes,
                                    plan.padded_cols - 1)
      grid = dict(row_grid, **axis_block(values, reduced, reduced_digits, row_axis))
      outputs = evaluate(spec, _assemble(spec, grid, dtype), clip=not clip_late)
      return {c: outputs[c] for c in columns}

    if not reduced:
      # Every point is kept: blocks of ``group`` rows, each written in place.
      def store(g, out):
        first = g * plan.group
        row = row_base + first + lax.iota(jnp.int32, plan.group)
        outputs = block((axis_values, starts), rows_of(row), lax.iota(jnp.int32, 1))
        return {c: lax.dynamic_update_slice(
            out[c], jnp.broadcast_to(jnp.where(valid, value, jnp.nan), (plan.group, 1))[:, 0],
            (first,)) for c, (value, valid) in outputs.items()}

      empty = {c: jnp.zeros((plan.local_rows,), dtype) for c in columns}
      results = {c: {"value": v} for c, v in
                 lax.fori_loop(0, plan.groups, store, empty).items()}
      if not gather:
        return results
      return jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS, tiled=True), results)

    shape = (plan.lanes, plan.group) if plan.tall else (plan.group, plan.lanes)
    shared = (axis_values, starts)
    lane = lax.iota(jnp.int32, plan.lanes)
    # Row-only work once per group, outside the column steps (_stages).
    staged = _stages.Staged(block, shared, jax.eval_shape(rows_of, lax.iota(jnp.int32, plan.group)),
                            lane, max_rows=plan.group)

    def group_step(g, out):
      first = g * plan.group
      rows = rows_of(row_base + first + lax.iota(jnp.int32, plan.group))
      row_memo = staged.rows(shared, rows)

      def step(i, running):
        col = jnp.minimum(col_base + i * plan.lanes + lane, cols_valid - 1)
        return _update_running(running, staged.points(shared, rows, col, row_memo),
                               jnp.expand_dims(col, row_axis))

      running = _init_running(columns, shape, dtype, directions, argmin, argmax, success)
      running = lax.fori_loop(0, plan.steps, step, running)
      results = _collapse(running, axis=col_axis)            # (group,) each
      if clip_late:
        results = {c: {k: _clip01(v) if c in success and k in ("min", "max") else v
                       for k, v in r.items()} for c, r in results.items()}
      return jax.tree.map(lambda o, r: lax.dynamic_update_slice(o, r, (first,)), out, results)

    shapes = _collapse(_init_running(columns, (1, 1), dtype, directions, argmin, argmax), 1)
    out = jax.tree.map(lambda x: jnp.zeros((plan.local_rows,), x.dtype), shapes)
    results = lax.fori_loop(0, plan.groups, group_step, out)
    if not gather:
      return results if plan.shard_dim == 0 else jax.tree.map(lambda x: x[None], results)
    # Gather to every device: row parts are concatenated; column parts are
    # combined like lanes, in device order (identical to one device).
    if plan.shard_dim == 0:
      return jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS, tiled=True), results)
    gathered = jax.tree.map(lambda x: lax.all_gather(x, MESH_AXIS), results)
    return _collapse(gathered, axis=0)

  replicated = PartitionSpec()
  fn = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(replicated, replicated),
                             out_specs=replicated if gather else PartitionSpec(MESH_AXIS),
                             check_vma=False))
  return _Kernel(fn, traces)


# -- host side: accumulation, checkpoints, results --------------------------------
