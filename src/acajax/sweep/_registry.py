"""The sweep registry: sweepable parameters, evaluable bounds and output columns.

:data:`PARAMETERS` holds each parameter's domain (SPEC §3, §11); :data:`BOUNDS`
maps each evaluable name to a function of a dict of per-point parameters
(per-collective ones as tuples of M arrays). A new evaluator joins with one
entry, its parameters with entries in :data:`PARAMETERS`. The exact engine is
the entry ``exact``: the exact worst-case success (SPEC §2) of a spec's
finite ``[scenario]``, vmapped over the points of a block.

The parameter ``strategy`` takes names, ``"feature_label"`` or
``"feature_only"`` (:data:`STRATEGIES`), carried through the kernel as codes
0 and 1 (:func:`strategy_code`). Two entries read it: ``exact`` (per-point
feature-only flags for :func:`acajax.mixtures.worst_case_success`) and
``by_strategy``, the bound that applies to the population's strategies:
Theorem 1 for every collective while every collective is feature-label
(SPEC §4 assumes all FL), else the sound Theorem 2 for every collective
(SPEC §5: valid whatever strategies the others use; a feature-label
collective does at least as well as it would feature-only, since moving its
remaining members' data to its signal with its target label only raises its
margins, so Theorem 2 bounds it too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from acajax import bounds as _bounds
from acajax import mixtures
from acajax.sweep import _expr

if TYPE_CHECKING:  # annotations only: the spec module imports this registry
  from acajax.sweep._spec import Scenario, SweepSpec

# -- the registry -------------------------------------------------------------


class Param(NamedTuple):
  """A sweepable parameter and its domain (SPEC §3, §11).

  Attributes:
    per_collective: one value per collective (axis names may index it, as in
      ``alpha[0]``) or one per scenario.
    low, high: the domain's ends.
    low_inclusive, high_inclusive: whether the ends belong to the domain.
    doc: one line for error messages and docs.
    choices: for a parameter that takes names (``strategy``), the names,
      carried as their index (code) in the kernel; empty for numbers.
  """
  per_collective: bool
  low: float
  high: float
  low_inclusive: bool
  high_inclusive: bool
  doc: str
  choices: tuple[str, ...] = ()


# The strategies a sweep's `strategy` parameter names (SPEC §1), as codes 0 and 1.
STRATEGIES = ("feature_label", "feature_only")


def strategy_code(name: str) -> float:
  """The kernel's code of a strategy name: 0.0 feature-label, 1.0 feature-only.

  Examples:
    >>> strategy_code("feature_only")
    1.0
  """
  return float(STRATEGIES.index(name))


PARAMETERS: dict[str, Param] = {
    "alpha": Param(True, 0.0, 1.0, False, False, "mass alpha_c of each collective"),
    "beta": Param(True, 0.0, 1.0, True, False,
                  "aligned mass beta_c (default: derived from targets)"),
    "xi_c": Param(True, 0.0, 1.0, True, True, "rarity of the signal, P0_X(X*_c)"),
    "xi": Param(True, 0.0, 1.0, True, True, "global uniqueness (signal overlap)"),
    "delta": Param(True, 0.0, 1.0, True, True, "difficulty Delta_c"),
    "p": Param(True, 0.0, 1.0, False, True, "positivity p_c"),
    "eps": Param(False, 0.0, 0.5, True, False, "suboptimality of the classifier"),
    "target_success": Param(False, 0.0, 1.0, True, False,
                            "success level s of the critical mass (SPEC §8)"),
    "strategy": Param(True, 0.0, 1.0, True, True,
                      "strategy of each collective: feature_label or feature_only (SPEC §1)",
                      STRATEGIES),
    "transform": Param(False, 0.0, 1.0, False, True,
                       "fraction q of an eraser's members who move their point (default 0.5; "
                       "erasing needs q < 1)"),
}


class Bound(NamedTuple):
  """An evaluable quantity of the registry.

  Attributes:
    fn: ``fn(params, targets) -> tuple of M arrays``, one per collective.
      ``params`` maps each parameter name to an array (scenario parameters) or
      a tuple of M arrays (per-collective ones); the arrays broadcast against
      each other (the sweep passes (rows, 1) and (1, cols) blocks, and a
      single point is all shapes ``()``). ``targets`` is the static tuple of
      target labels. Parameters absent from the spec are absent from
      ``params``.
    params: parameters it requires.
    optional: parameters it uses when given (``beta`` overrides ``targets``).
    kind: ``"success"`` (a lower bound on S_c, or S_c itself, in [0, 1]
      or NaN; SPEC §7 corollaries apply) or ``"mass"`` (a critical mass; reported per
      collective only).
    doc: one line, with the SPEC section.
    needs_scenario: the spec must give a ``[scenario]``; ``fn`` is then
      called as ``fn(params, targets, scenario)`` with the validated
      :class:`~acajax._spec.Scenario`.
    parts: optional, ``parts(params, targets) -> tuple of M (value,
      conditions)``: the raw (unclipped) value and the domain conditions
      that ``fn`` combines, so the sweep engine can fold the conditions
      into its reductions and clip after reducing (bounds._all of the
      conditions, clipped, is ``fn``).
    own_sense: parameters it reads in another sense than SPEC §3's (an
      eraser's rarity is the base mass of every point it plants on), so a
      ``[scenario]``, which computes SPEC §3's, cannot supply them: the spec
      must fix or sweep them.
  """
  fn: Callable[..., tuple[jax.Array, ...]]
  params: tuple[str, ...]
  optional: tuple[str, ...]
  kind: str
  doc: str
  needs_scenario: bool = False
  parts: Callable[..., tuple[tuple[jax.Array, tuple[jax.Array, ...]], ...]] | None = None
  own_sense: tuple[str, ...] = ()


def _alpha_total(alpha):
  return functools.reduce(jnp.add, alpha)


def _betas(params, targets) -> tuple:
  """Aligned mass per collective: given, or sum of same-target masses (SPEC §3)."""
  if "beta" in params:
    return params["beta"]
  alpha = params["alpha"]
  zero = jnp.zeros((), alpha[0].dtype)
  return tuple(functools.reduce(jnp.add, [alpha[j] for j in range(len(targets))
                                          if j != c and targets[j] == targets[c]], zero)
               for c in range(len(targets)))


def _feature_label_parts(params, targets):
  alpha, beta = params["alpha"], _betas(params, targets)
  total = _alpha_total(alpha)
  return tuple(_bounds._feature_label_parts(alpha[c], total, beta[c], params["xi_c"][c],
                                            params["xi"][c], params["delta"][c], params["eps"])
               for c in range(len(targets)))


def _finished(parts):
  """``fn`` of a bound from its ``parts``: NaN out of domain, clipped (SPEC §11)."""
  def fn(params, targets):
    return tuple(_bounds._finish(value, _bounds._all(*conditions), True)
                 for value, conditions in parts(params, targets))
  return fn


_feature_label = _finished(_feature_label_parts)


def _feature_only_parts(variant):
  def parts(params, targets):
    alpha, beta = params["alpha"], _betas(params, targets)
    total = _alpha_total(alpha)
    return tuple(_bounds._feature_only_parts(alpha[c], total, beta[c], params["xi_c"][c],
                                             params["xi"][c], params["p"][c], params["eps"],
                                             variant=variant)
                 for c in range(len(targets)))
  return parts


def _feature_only(variant):
  return _finished(_feature_only_parts(variant))


def _critical_mass(strategy):
  extra_name = "delta" if strategy == "feature_label" else "p"

  def fn(params, targets):
    alpha, beta = params["alpha"], _betas(params, targets)
    others = _others(alpha, len(targets))
    return tuple(_bounds.critical_mass(
        params["target_success"], strategy=strategy, alpha_others=others[c],
        beta=beta[c], xi_c=params["xi_c"][c], xi=params["xi"][c], eps=params["eps"],
        **{extra_name: params[extra_name][c]}) for c in range(len(targets)))
  return fn


def _scenario_arrays(scenario: Scenario, dtype) -> tuple[np.ndarray, np.ndarray, Any]:
  """p0 at the sweep's dtype, the maps, and ``feature_only`` as mixtures takes it."""
  flags = scenario.feature_only
  flags = flags if isinstance(flags, bool) else np.asarray(flags, bool)
  return (np.asarray(scenario.p0, np.dtype(dtype)), np.asarray(scenario.signal_maps, np.int32),
          flags)


def _exact(params, targets, scenario):
  """Exact worst-case success (SPEC §2) at every point of a block.

  The per-point masses and eps broadcast to the block's shape, are flattened
  to a batch of scenarios and go through ``jax.vmap`` of
  :func:`acajax.mixtures.worst_case_success`; p0 and the maps are constants.
  """
  alpha, eps = params["alpha"], params["eps"]
  dtype = eps.dtype
  p0, maps, flags = _scenario_arrays(scenario, dtype)
  strategy = params.get("strategy")
  shapes = [eps.shape, *(a.shape for a in alpha)]
  if strategy is not None:
    shapes += [jnp.shape(s) for s in strategy]
  shape = jnp.broadcast_shapes(*shapes)
  masses = jnp.stack([jnp.broadcast_to(a, shape).reshape(-1) for a in alpha], axis=-1)
  labels = np.asarray(targets, np.int32)

  def one(masses_point, eps_point, flags_point):
    return mixtures.worst_case_success(p0, maps, labels, masses_point, eps=eps_point,
                                       feature_only=flags if flags_point is None
                                       else flags_point)

  # Per-point feature-only flags from the strategy parameter (codes 0 and 1).
  point_flags = None if strategy is None else jnp.stack(
      [jnp.broadcast_to(s, shape).reshape(-1) > 0.5 for s in strategy], axis=-1)
  success = jax.vmap(one)(masses, jnp.broadcast_to(eps, shape).reshape(-1),
                          point_flags).astype(dtype)
  return tuple(success[:, c].reshape(shape) for c in range(len(targets)))


def _by_strategy(params, targets):
  """Theorem 1 while every collective is FL, else the sound Theorem 2 (SPEC §4–§5)."""
  feature_label = _feature_label(params, targets)
  feature_only = _feature_only("sound")(params, targets)
  any_fo = functools.reduce(jnp.logical_or, [s > 0.5 for s in params["strategy"]])
  return tuple(jnp.where(any_fo, fo, fl) for fl, fo in zip(feature_label, feature_only))


def _transform(params, dtype):
  return params.get("transform", jnp.asarray(0.5, dtype))


def _erasing(params, targets):
  """Every collective read as an eraser, every other collective misaligned."""
  alpha = params["alpha"]
  total = _alpha_total(alpha)
  transform = _transform(params, alpha[0].dtype)
  return tuple(_bounds.erasing(alpha[c], alpha_total=total, xi_c=params["xi_c"][c],
                               xi=params["xi"][c], delta=params["delta"][c], eps=params["eps"],
                               transform=transform) for c in range(len(targets)))


def _others(alpha, count):
  zero = jnp.zeros((), alpha[0].dtype)
  # The others' mass summed directly (not total - alpha_c, which would make it
  # wobble with alpha_c by rounding).
  return [functools.reduce(jnp.add, [a for j, a in enumerate(alpha) if j != c], zero)
          for c in range(count)]


def _critical_eraser_mass(params, targets):
  """Per planter c: the mass of an added eraser on c's signal that holds c at or below s.

  The sweep's collectives are the eraser's others (a_o = their total); they
  put c's whole mass and at most the share xi_c' = xi[c] of the rest on X*_c.
  """
  alpha = params["alpha"]
  total = _alpha_total(alpha)
  others = _others(alpha, len(targets))
  transform = _transform(params, alpha[0].dtype)
  return tuple(_bounds.critical_eraser_mass(
      params["target_success"], alpha_others=total, xi_c=params["xi_c"][c],
      competition=alpha[c] + params["xi"][c] * others[c], eps=params["eps"],
      transform=transform) for c in range(len(targets)))


# Parameters that a [scenario] determines when neither fixed nor swept (SPEC §3).
SCENARIO_PARAMETERS = ("xi_c", "xi", "delta", "p")


@functools.lru_cache(maxsize=16)
def _scenario_defaults(scenario: Scenario, targets: tuple[int, ...], dtype: str):
  """xi_c, xi, delta, p of the scenario (none depends on the masses), per collective.

  Also ``strategy`` (the scenario's feature-only flags as codes) and
  ``overlap``: the overlap matrices O[j, c] (SPEC §3) with every collective
  feature-label and with every collective feature-only, from which a
  per-point strategy gives xi_c = max over j != c of O[j, c] at j's strategy.
  """
  p0, maps, flags = _scenario_arrays(scenario, dtype)
  labels = np.asarray(targets, np.int32)
  zeros = np.zeros(len(targets), p0.dtype)
  with jax.ensure_compile_time_eval():   # concrete even when first asked inside a trace
    par = mixtures.scenario_parameters(p0, maps, labels, zeros, feature_only=flags)
    overlap = tuple(tuple(map(tuple, np.asarray(mixtures.scenario_parameters(
        p0, maps, labels, zeros, feature_only=fo).overlap).tolist())) for fo in (False, True))
  out = {name: tuple(np.asarray(getattr(par, name)).tolist()) for name in SCENARIO_PARAMETERS}
  out["strategy"] = tuple(float(f) for f in np.broadcast_to(flags, (len(targets),)))
  out["overlap"] = overlap
  return out


_COMMON = ("alpha", "xi_c", "xi", "eps")
BOUNDS: dict[str, Bound] = {
    "exact": Bound(_exact, ("alpha", "eps"), ("strategy",), "success",
                   "exact worst-case success of the spec's finite [scenario] (SPEC §2)",
                   needs_scenario=True),
    "feature_label": Bound(_feature_label, _COMMON + ("delta",), ("beta",), "success",
                           "Theorem 1, feature-label collectives (SPEC §4)",
                           parts=_feature_label_parts),
    "feature_only": Bound(_feature_only("sound"), _COMMON + ("p",), ("beta",), "success",
                          "Theorem 2, feature-only, sound form (SPEC §5)",
                          parts=_feature_only_parts("sound")),
    "by_strategy": Bound(_by_strategy, _COMMON + ("delta", "p", "strategy"), ("beta",),
                         "success", "Theorem 1 while every collective is feature-label, else "
                         "the sound Theorem 2 (SPEC §4–§5), by the strategy parameter"),
    "feature_only_published": Bound(
        _feature_only("published"), _COMMON + ("p",), ("beta",), "success",
        "Theorem 2 as published (not a valid bound; SPEC §5)",
        parts=_feature_only_parts("published")),
    "critical_mass_feature_label": Bound(
        _critical_mass("feature_label"), _COMMON + ("delta", "target_success"), ("beta",),
        "mass", "critical mass of each collective, others fixed, feature-label (SPEC §8)"),
    "critical_mass_feature_only": Bound(
        _critical_mass("feature_only"), _COMMON + ("p", "target_success"), ("beta",), "mass",
        "critical mass of each collective, others fixed, feature-only sound (SPEC §8)"),
    # Theorem 1's form, read with the unplanting difficulty (bounds.unplanting).
    "unplanting": Bound(_feature_label, _COMMON + ("delta",), ("beta",), "success",
                        "every collective an unplanter (bounds.unplanting; delta is the "
                        "unplanting difficulty)", parts=_feature_label_parts,
                        own_sense=("delta",)),
    "erasing": Bound(_erasing, _COMMON + ("delta",), ("transform",), "success",
                     "every collective an eraser, the others misaligned (bounds.erasing)",
                     own_sense=("xi_c", "xi", "delta")),
    "critical_eraser_mass": Bound(
        _critical_eraser_mass, _COMMON + ("target_success",), ("transform",), "mass",
        "mass of an added eraser on each collective's signal that holds it at or below s "
        "(bounds.critical_eraser_mass)"),
}


# -- outputs and columns --------------------------------------------------------


def output_columns(spec: SweepSpec) -> list[str]:
  """The per-point outputs of a spec, before any reduction over axes.

  Examples:
    >>> from acajax.sweep import Axis, SweepSpec, output_columns
    >>> spec = SweepSpec(axes={"xi": Axis.linspace(0, .2, 3)}, bounds=("feature_label",),
    ...                  collectives=2, collective=("each", "s_min"))
    >>> output_columns(spec)
    ['feature_label[0]', 'feature_label[1]', 'feature_label.s_min']
  """
  columns = []
  for name in spec.bounds:
    if BOUNDS[name].kind == "mass" or "each" in spec.collective:
      columns += [f"{name}[{c}]" for c in range(spec.collectives)]
    if BOUNDS[name].kind == "success":
      columns += [f"{name}.{op}" for op in ("s_min", "s_w") if op in spec.collective]
  return columns


def _reduce_fields(ops) -> tuple[tuple[str, ...], bool, bool]:
  """Which running values a reduction needs: (directions, argmin?, argmax?)."""
  directions = tuple(d for d in ("min", "max") if d in ops or f"arg{d}" in ops)
  return directions, "argmin" in ops, "argmax" in ops


def result_columns(spec: SweepSpec) -> list[str]:
  """Every column of the result table, in order: kept axes, then outputs.

  Examples:
    >>> from acajax.sweep import Axis, Reduce, SweepSpec, result_columns
    >>> spec = SweepSpec(axes={"xi": Axis.linspace(0, .2, 3), "eps": Axis.of([0, .1])},
    ...                  bounds=("feature_label",), reduce=Reduce(("eps",), ("argmin",)))
    >>> result_columns(spec)
    ['xi', 'feature_label[0].min', 'feature_label[0].argmin.eps']
  """
  kept = [name for name in spec.axes if name not in spec.reduce.over]
  kept += list(derived_columns(spec))
  if not spec.reduce.over:
    return kept + output_columns(spec)
  directions, _, _ = _reduce_fields(spec.reduce.ops)
  columns = list(kept)
  for out in output_columns(spec):
    for direction in directions:
      columns.append(f"{out}.{direction}")
      if f"arg{direction}" in spec.reduce.ops:
        columns += [f"{out}.arg{direction}.{axis}" for axis in spec.reduce.over]
  return columns


# -- derived parameters ------------------------------------------------------------


def _per_collective(name: str) -> bool:
  return name in PARAMETERS and PARAMETERS[name].per_collective


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> _expr.Expr:
  return _expr.parse_expression(text)


def derived_exprs(spec: SweepSpec) -> dict[str, _expr.Expr]:
  """The spec's derived parameters, parsed, in its (evaluation) order."""
  return {key: _parse(text) for key, text in spec.derived.items()}


def derived_dependencies(spec: SweepSpec) -> dict[str, frozenset[str]]:
  """Per derived key, the axes its value depends on (through other keys too)."""
  return _expr.axis_dependencies(derived_exprs(spec), tuple(spec.axes), _per_collective)


def derived_columns(spec: SweepSpec) -> dict[str, tuple[str, int | None]]:
  """Result columns of the derived parameters: column -> (parameter, collective).

  One column per derived value that depends on kept axes only (``alpha[1]``;
  a key ``alpha`` gives ``alpha[0]``, ..., ``alpha[M-1]``), after the kept
  axes. A derived parameter that depends on a reduced axis varies within a
  result row and gets no column.
  """
  kept = {name for name in spec.axes if name not in spec.reduce.over}
  columns = {}
  for key, axes in derived_dependencies(spec).items():
    if not axes <= kept:
      continue
    base, index = _expr._split_key(key)
    if _per_collective(base) and index is None:
      columns.update({f"{base}[{c}]": (base, c) for c in range(spec.collectives)})
    else:
      columns[key] = (base, index)
  return columns


def derived_values(spec: SweepSpec, grid, xp, cast, keys=None) -> dict[tuple[str, Any], Any]:
  """Values of the derived parameters on a block of axis values.

  Args:
    spec: a validated spec (its ``derived`` in evaluation order).
    grid: axis name -> values (arrays that broadcast together); only the
      axes the evaluated keys depend on are needed.
    xp: ``numpy`` or ``jax.numpy``.
    cast: turns a fixed number into an array of the sweep's dtype.
    keys: the derived keys to evaluate (default all), with every key they
      read.

  Returns:
    (parameter, collective) -> value; collective is None for scenario-wide
    parameters.
  """
  exprs = derived_exprs(spec)
  m, fixed = spec.collectives, spec.fixed
  values: dict[tuple[str, Any], Any] = {}

  def lookup(context):
    def value(base, index):
      if base not in PARAMETERS:
        return grid[base] if base in grid else cast(fixed[base])
      if PARAMETERS[base].per_collective:
        c = context if index is None else index
        for source in (values.get((base, c)), grid.get(f"{base}[{c}]"), grid.get(base)):
          if source is not None:
            return source
        given = fixed[base]
        return cast(given[c] if isinstance(given, tuple) else given)
      if (base, None) in values:
        return values[(base, None)]
      return grid[base] if base in grid else cast(fixed[base])
    return value

  wanted = None
  if keys is not None:
    wanted = set()
    pending = list(keys)
    while pending:
      key = pending.pop()
      if key not in wanted:
        wanted.add(key)
        pending += _expr.reads(key, exprs[key], list(exprs), _per_collective)
  for key, e in exprs.items():
    if wanted is not None and key not in wanted:
      continue
    base, index = _expr._split_key(key)
    targets = (range(m) if _per_collective(base) and index is None else [index])
    for c in targets:
      values[(base, c)] = e.evaluate(lookup(c), xp)
  return values


def chunk_bytes(spec: SweepSpec) -> int:
  """Estimated peak device memory of one chunk (used by the memory cap check).

  XLA fuses the formulas into the reductions, but may materialise each output
  (and a few parameter blocks) once per chunk; the estimate counts two
  buffers per output plus four, at the spec's dtype, and the axes. The exact
  engine adds per point about four (K, n) and (M, n) tables (mixture,
  margins, hits) for every point evaluated at once (at most the grid).
  """
  itemsize = np.dtype(spec.dtype).itemsize
  outputs = len(output_columns(spec))
  axes = sum(len(axis) for axis in spec.axes.values())
  total = spec.chunk_points * itemsize * (2 * outputs + 4) + axes * itemsize
  if any(BOUNDS[name].needs_scenario for name in spec.bounds) and spec.scenario is not None:
    num_points, num_labels = spec.scenario.shape
    at_once = min(spec.chunk_points, spec.num_points)
    total += at_once * itemsize * 4 * num_points * (num_labels + spec.collectives)
  return total


# -- the chunk plan -------------------------------------------------------------
