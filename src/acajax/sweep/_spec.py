"""Sweep specifications: a TOML file, or the same as a Python object.

A sweep evaluates bounds of the registry in :mod:`acajax.sweep` over a grid:
named axes over their parameters, the other parameters fixed, and optional
reductions over chosen axes. The TOML layout (every table optional except
``[axes]``; keys in the order shown)::

  name = "alignment"                 # used in titles and file names
  description = "free text"
  collectives = 2                    # M; per-collective parameters have M entries
  targets = [0, 1]                   # target label per collective (default 0..M-1)
  bounds = ["feature_label"]         # names from acajax.sweep.BOUNDS
  collective = ["each", "s_min", "s_w"]   # per collective, and/or SPEC §7 corollaries
  dtype = "float32"                  # or "float64"

  [scenario]                         # optional: a finite scenario (SPEC §1)
  p0 = [[0.4, 0.1], [0.1, 0.4]]      # (n, K) joint table of P0, summing to 1
  signal_maps = [[1, 1], [0, 0]]     # (M, n) point indices g_c(x) in [0, n)
  feature_only = false               # or a list of M bools (default false: FL)

  [fixed]                            # parameters held fixed
  alpha = [0.05, 0.05]               # per collective: a list of M, or one number for all
  eps = 0.05

  [axes]                             # the grid, in this order (first = slowest)
  beta = {kind = "linspace", start = 0.0, stop = 0.05, num = 51}
  "alpha[0]" = {kind = "logspace", start = 0.001, stop = 0.3, num = 40}
  xi = {kind = "values", values = [0.0, 0.05, 0.1]}

  [derived]                          # optional: parameters computed from others, per point
  "alpha[1]" = "budget - alpha[0]"   # (budget: a named constant in [fixed])

  [reduce]                           # optional: reduce over these axes
  over = ["alpha[0]"]
  ops = ["min", "argmin"]            # min, max, argmin, argmax

  [run]
  chunk_points = 4194304             # points per evaluated chunk
  memory_cap_mb = 1024               # refuse plans whose buffers exceed this
  max_hours = 24                     # refuse sweeps estimated to take longer (acajax.sweep.run)
  allow_out_of_domain = false        # true: masses summing to >= 1 give NaN points, not an error

Axis kinds: ``linspace`` (``num`` points from ``start`` to ``stop``, both
included, as ``numpy.linspace``), ``logspace`` (``num`` points spaced evenly on
a log scale; ``start`` and ``stop`` are the **endpoints themselves**, not
base-10 exponents — ``numpy.geomspace``), and ``values`` (an explicit list).
An axis named ``alpha`` sets every collective's ``alpha``; ``alpha[1]`` sets
collective 1's only, the others coming from ``[fixed]``.

**Derived parameters.** ``[derived]`` maps a parameter (``alpha[1]``; or
``alpha``, every collective) to an expression in a string: numbers, names,
``+ - * /``, parentheses, ``min(a, b, ...)`` and ``max(a, b, ...)``, parsed
with :mod:`ast` (never evaluated as Python; :mod:`acajax.sweep._expr`). Names
are axes, fixed parameters, other derived parameters (``alpha[0]``; a
per-collective name without an index means the entry's own collective, so
``delta = "max(0, 1 - 2 * p)"`` links each collective's pair), **named
constants** (a ``[fixed]`` number that is not a parameter, such as
``budget``; allowed only when an expression reads it) and **variable axes**
(an axis whose name is not a parameter, such as ``t``, read only by
expressions: ``"alpha[0]" = "budget * t"`` makes a split axis). Checked
before anything compiles: bad syntax, unknown names, a cycle, a parameter
both on an axis and derived (or both fixed for every collective and
derived) are each a :class:`SpecError` naming the key. Each derived value is
evaluated in NumPy over every point of the axes it depends on (at most
``MAX_CHECK_POINTS``), and must lie in its parameter's domain; when masses
are derived, the total-mass check evaluates each group of collectives
linked by shared axes over its axes and adds the groups' largest totals
(exact when the linked masses share their axes, as in a split). In the
kernel they are computed per point, in the spec's dtype, NaN outside their
domain (with ``run.allow_out_of_domain``). The results get a column per
derived value that depends on kept axes only, after the kept axes.

**The strategy.** ``strategy`` takes names, ``"feature_label"`` or
``"feature_only"``: fixed (one name, or a list of M) or swept with a values
axis (``strategy`` for every collective, ``strategy[0]`` for one). The
bounds ``exact`` (per-point strategies) and ``by_strategy`` (Theorem 1 while
every collective is feature-label, else the sound Theorem 2; see
:mod:`acajax.sweep._registry`) read it; with a ``[scenario]``, the overlap
xi the closed forms take from it follows each point's strategies (SPEC §3),
and ``scenario.feature_only`` must then stay false. Result tables hold the
names (in kept axes and in ``argmin``/``argmax`` columns).

A ``[scenario]`` is what the bound ``exact`` (the exact worst-case success of
:mod:`acajax.mixtures`, SPEC §2) evaluates, at each point's masses ``alpha``
and ``eps``, with the spec's ``targets``. Given a scenario, the closed-form
bounds take ``xi_c``, ``xi``, ``delta`` and ``p`` from it
(:func:`acajax.mixtures.scenario_parameters`) unless ``[fixed]`` or an axis
sets them, so ``bounds = ["exact", "feature_label"]`` shows how tight the
bound is at every point.

Every mistake is reported before anything is compiled, as a :class:`SpecError`
whose message names the file, the key and the allowed values or range: among
them masses ``alpha`` that can sum to 1 or more at some grid point (the
largest value of each collective's axis or fixed mass; SPEC §1 needs
alpha_total < 1), and plans whose memory estimate
(:func:`estimated_memory_bytes`) exceeds ``run.memory_cap_mb``.
:func:`estimated_seconds` estimates a sweep's duration, which
:func:`acajax.sweep.run` compares with ``run.max_hours``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from acajax.runs import _spec as spec_io
from acajax.runs._spec import SpecError
from acajax.sweep import _expr
from acajax.sweep._registry import (BOUNDS, PARAMETERS, SCENARIO_PARAMETERS, Param,
                                    chunk_bytes, derived_columns, derived_dependencies,
                                    derived_values, strategy_code)

__all__ = [
    "AXIS_KINDS",
    "Axis",
    "COLLECTIVE_OPS",
    "DTYPES",
    "MAX_AXIS_POINTS",
    "REDUCE_OPS",
    "Reduce",
    "Scenario",
    "SpecError",
    "SweepSpec",
    "estimated_memory_bytes",
    "estimated_seconds",
    "load",
    "loads",
    "parse",
]

AXIS_KINDS = ("linspace", "logspace", "values")
REDUCE_OPS = ("min", "max", "argmin", "argmax")
COLLECTIVE_OPS = ("each", "s_min", "s_w")
DTYPES = ("float32", "float64")
# One axis is materialised as a 1-D array (host and device); the grid never is.
MAX_AXIS_POINTS = 2**24
DEFAULT_CHUNK_POINTS = 2**22
DEFAULT_MEMORY_CAP_MB = 1024.0
DEFAULT_MAX_HOURS = 24.0
# Host memory per output column (its name, accumulator and result arrays, the per-collective
# parameters and operations traced into the chunk function): refuses `collectives` counts
# whose bookkeeping alone exceeds run.memory_cap_mb, before anything per collective is built.
_HOST_BYTES_PER_COLUMN = 1024
# Durations (estimated_seconds). Measured once with `acajax.sweep.run` on the 2-core CPU this
# project is developed on (no accelerator), rounded up to the slowest case seen, so that the
# estimate errs long on faster machines:
# * closed-form bounds (feature_label, feature_only, critical masses): 1.1 to 10 ns per
#   grid point and per collective output (M = 1..8, 2**20 to 2**22 points, reduced or not);
CLOSED_FORM_S_PER_OUTPUT = 1e-8
# * the exact engine: 0.9 to 10 ns per point and per cell of its work, n x K x M (scenarios
#   of n = 6..1024 points, K = 3..8 labels, M = 2..6 collectives);
EXACT_S_PER_CELL = 1e-8
# * tracing and compiling the chunk function: 0.03 s per output column (M = 16..512
#   collectives), plus about 0.1 us per pair of collectives (the aligned masses beta).
COMPILE_S_PER_OUTPUT = 0.05
COMPILE_S_PER_PAIR = 1e-7
COMPILE_S = 1.0
PYTHON_SOURCE = "<SweepSpec>"

_TOP_KEYS = ("name", "description", "collectives", "targets", "bounds", "collective", "dtype",
             "scenario", "fixed", "axes", "derived", "reduce", "run")
# Host evaluation of a derived parameter (domain and total-mass checks): at most this many
# points of the axes it depends on.
MAX_CHECK_POINTS = 2**22
_SCENARIO_KEYS = ("p0", "signal_maps", "feature_only")
_RUN_KEYS = ("chunk_points", "memory_cap_mb", "max_hours", "allow_out_of_domain")
_AXIS_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(-?\d+)\])?$")


_fail = spec_io.fail
# The domain of a variable axis (a named number that [derived] expressions read).
_FREE = Param(False, -math.inf, math.inf, True, True, "a named variable")


@dataclasses.dataclass(frozen=True)
class Axis:
  """One axis of the grid.

  Attributes:
    kind: ``"linspace"``, ``"logspace"`` (endpoints, as ``numpy.geomspace``)
      or ``"values"``.
    start: first value (linspace, logspace).
    stop: last value, included (linspace, logspace).
    num: number of points (linspace, logspace).
    values: the explicit values (values).

  Examples:
    >>> from acajax.sweep import Axis
    >>> print(Axis.linspace(0.0, 0.1, 5).to_numpy().round(3))
    [0.    0.025 0.05  0.075 0.1  ]
    >>> print(Axis.logspace(0.001, 0.1, 3).to_numpy().round(3))
    [0.001 0.01  0.1  ]
    >>> len(Axis.of([0.1, 0.2]))
    2
  """
  kind: str
  start: float | None = None
  stop: float | None = None
  num: int | None = None
  values: tuple[float, ...] | None = None

  @classmethod
  def linspace(cls, start: float, stop: float, num: int) -> "Axis":
    """``num`` evenly spaced points from ``start`` to ``stop`` (both included)."""
    return cls("linspace", start=start, stop=stop, num=num)

  @classmethod
  def logspace(cls, start: float, stop: float, num: int) -> "Axis":
    """``num`` log-evenly spaced points; ``start``/``stop`` are the endpoints."""
    return cls("logspace", start=start, stop=stop, num=num)

  @classmethod
  def of(cls, values: Sequence[float]) -> "Axis":
    """An axis of explicit values."""
    return cls("values", values=tuple(values))

  def __len__(self) -> int:
    return len(self.values) if self.kind == "values" else int(self.num)

  def to_numpy(self) -> np.ndarray:
    """The axis values as a float64 array (1-D; the grid is never built)."""
    if self.kind == "linspace":
      return np.linspace(self.start, self.stop, self.num, dtype=np.float64)
    if self.kind == "logspace":
      return np.geomspace(self.start, self.stop, self.num, dtype=np.float64)
    if any(isinstance(v, str) for v in self.values):   # a strategy axis: its codes
      return np.asarray([strategy_code(v) for v in self.values], dtype=np.float64)
    return np.asarray(self.values, dtype=np.float64)

  @property
  def categorical(self) -> bool:
    """Whether the values are names (a ``strategy`` axis) rather than numbers."""
    return self.kind == "values" and any(isinstance(v, str) for v in self.values or ())

  def to_dict(self) -> dict[str, Any]:
    if self.kind == "values":
      return {"kind": "values",
              "values": [v if isinstance(v, str) else float(v) for v in self.values]}
    return {"kind": self.kind, "start": float(self.start), "stop": float(self.stop),
            "num": int(self.num)}


@dataclasses.dataclass(frozen=True)
class Reduce:
  """Reductions over some axes of the grid.

  Attributes:
    over: the axes reduced away (names as in ``SweepSpec.axes``); empty for
      none, when every grid point is a row of the result.
    ops: any of ``"min"``, ``"max"``, ``"argmin"``, ``"argmax"``. NaN
      (out-of-domain) points are skipped; a row whose reduced points are all
      NaN gives NaN. ``argmin``/``argmax`` report the axis values at the first
      extreme point in grid order (ties go to the first, as ``numpy.argmin``).
  """
  over: tuple[str, ...] = ()
  ops: tuple[str, ...] = ("min",)


@dataclasses.dataclass(frozen=True)
class Scenario:
  """A finite scenario (SPEC §1) for the bound ``exact``; targets come from the spec.

  Validation (:meth:`SweepSpec.validated`) turns the fields into nested tuples,
  so a validated scenario is hashable and compares by value.

  Attributes:
    p0: (n, K) joint table of P0: non-negative, summing to 1 (within 1e-6 in
      float64, 1e-5 in float32, as :mod:`acajax.mixtures`), K >= 2.
    signal_maps: (M, n) deterministic signal maps, entries in [0, n).
    feature_only: one bool for every collective, or M bools (False:
      feature-label).
  """
  p0: Any
  signal_maps: Any
  feature_only: Any = False

  @property
  def shape(self) -> tuple[int, int]:
    """(n, K)."""
    return len(self.p0), len(self.p0[0])

  def to_dict(self) -> dict[str, Any]:
    flags = self.feature_only
    return {"p0": [[float(v) for v in row] for row in self.p0],
            "signal_maps": [[int(v) for v in row] for row in self.signal_maps],
            "feature_only": bool(flags) if isinstance(flags, (bool, np.bool_))
                            else [bool(f) for f in flags]}


@dataclasses.dataclass(frozen=True)
class SweepSpec:
  """A sweep: what to evaluate, over which grid, with which reductions.

  Build it directly, or with :func:`load` / :func:`loads` from TOML (the
  module docstring shows the layout); then pass it to :func:`acajax.sweep.run`.
  Construction does not validate; :meth:`validated` (called by every entry
  point before compiling) does.

  Attributes:
    axes: axis name -> :class:`Axis`, in grid order (the first varies slowest).
    bounds: names of bounds in :data:`acajax.sweep.BOUNDS`.
    fixed: parameter -> a number, or a sequence of M numbers for a
      per-collective parameter.
    collectives: the number M of collectives.
    targets: target label of each collective (default ``0..M-1``: all
      opposed). Alignment ``beta`` is derived from them unless ``beta`` is
      fixed or swept.
    collective: over the collective axis, ``"each"`` (one column per
      collective), ``"s_min"`` and ``"s_w"`` (SPEC §7; success bounds only).
    reduce: the :class:`Reduce` over axes.
    dtype: ``"float32"`` (default, faster) or ``"float64"`` (needs
      ``jax_enable_x64``).
    scenario: an optional finite :class:`Scenario` (or a dict with its
      fields): required by ``exact``; the source of ``xi_c``, ``xi``,
      ``delta`` and ``p`` when neither fixed nor swept.
    name: a short name.
    description: free text.
    chunk_points: points evaluated per chunk (bounds the working memory).
    memory_cap_mb: the plan is refused if its buffers would exceed this.
    max_hours: :func:`acajax.sweep.run` refuses a sweep estimated to take
      longer (:func:`estimated_seconds`); not part of the fingerprint, and
      written to TOML only when it is not the default, 24.
    allow_out_of_domain: evaluate grid points whose masses sum to 1 or more,
      or whose derived parameters leave their domain (NaN there: outside
      every bound's domain) instead of refusing the spec; not part of the
      fingerprint, written to TOML only when true.
    derived: parameter (as ``alpha[1]``, or ``alpha`` for every collective)
      -> an expression over axes, fixed values, named constants and other
      derived parameters (module docstring, "Derived parameters").
    source: where the spec came from, for error messages.
  """
  axes: Mapping[str, Axis]
  bounds: tuple[str, ...]
  fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  collectives: int = 1
  targets: tuple[int, ...] | None = None
  collective: tuple[str, ...] = ("each",)
  reduce: Reduce = Reduce()
  dtype: str = "float32"
  scenario: Scenario | Mapping[str, Any] | None = None
  name: str = "sweep"
  description: str = ""
  chunk_points: int = DEFAULT_CHUNK_POINTS
  memory_cap_mb: float = DEFAULT_MEMORY_CAP_MB
  max_hours: float = DEFAULT_MAX_HOURS
  allow_out_of_domain: bool = False
  derived: Mapping[str, str] = dataclasses.field(default_factory=dict)
  source: str = dataclasses.field(default=PYTHON_SOURCE, compare=False)

  # -- derived views ------------------------------------------------------

  @property
  def axis_names(self) -> tuple[str, ...]:
    return tuple(self.axes)

  @property
  def shape(self) -> tuple[int, ...]:
    """The grid shape, one entry per axis."""
    return tuple(len(axis) for axis in self.axes.values())

  @property
  def num_points(self) -> int:
    """The number of grid points (a Python int; may exceed 2**63 only in theory)."""
    return math.prod(self.shape)

  @property
  def target_labels(self) -> tuple[int, ...]:
    return tuple(range(self.collectives)) if self.targets is None else tuple(self.targets)

  def replace(self, **changes) -> "SweepSpec":
    """A copy with some fields changed (``dataclasses.replace``)."""
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> dict[str, Any]:
    """A plain dict in the TOML layout (round-trips through :func:`parse`)."""
    def number(v):
      return v if isinstance(v, str) else float(v)   # strategy names stay names
    fixed = {k: ([number(x) for x in v] if isinstance(v, (list, tuple, np.ndarray))
                 else number(v)) for k, v in self.fixed.items()}
    # Only when present, so specs without derived parameters keep their fingerprints.
    derived = {"derived": dict(self.derived)} if self.derived else {}
    # Only when present, so specs without one keep their fingerprints.
    scenario = self.scenario
    if isinstance(scenario, Mapping):   # not yet validated
      scenario = Scenario(**scenario)
    scenario = {} if scenario is None else {"scenario": scenario.to_dict()}
    # Likewise max_hours and allow_out_of_domain, only when set (neither changes a result).
    hours = ({} if self.max_hours == DEFAULT_MAX_HOURS else
             {"max_hours": float(self.max_hours) if _is_number(self.max_hours)
              else self.max_hours})
    if self.allow_out_of_domain:
      hours["allow_out_of_domain"] = self.allow_out_of_domain
    return {
        "name": self.name, "description": self.description,
        "collectives": int(self.collectives), "targets": list(self.target_labels),
        "bounds": list(self.bounds), "collective": list(self.collective), "dtype": self.dtype,
        **scenario, "fixed": fixed, "axes": {k: a.to_dict() for k, a in self.axes.items()},
        **derived,
        "reduce": {"over": list(self.reduce.over), "ops": list(self.reduce.ops)},
        "run": {"chunk_points": int(self.chunk_points),
                "memory_cap_mb": float(self.memory_cap_mb), **hours},
    }

  def to_toml(self) -> str:
    """The spec as TOML text (what ``acajax sweep`` records as ``spec.toml``)."""
    return _dump_toml(self.to_dict())

  def fingerprint(self) -> str:
    """A hash of everything that determines the results (for resumption)."""
    data = self.to_dict()
    data.pop("description")
    data.pop("name")
    data["run"].pop("max_hours", None)    # a limit on the run, not on its results
    data["run"].pop("allow_out_of_domain", None)
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

  def validated(self) -> "SweepSpec":
    """Checks the spec against the registry; returns it normalised.

    Raises:
      SpecError: naming the file (``source``), the key and the allowed range.
    """
    return _validate(self)

  def estimated_seconds(self, num_devices: int = 1) -> float:
    """:func:`estimated_seconds` of this (validated) spec."""
    return estimated_seconds(self, num_devices)

  def estimated_memory_bytes(self) -> int:
    """:func:`estimated_memory_bytes` of this (validated) spec."""
    return estimated_memory_bytes(self)


# -- TOML ------------------------------------------------------------------


def load(path: str | pathlib.Path) -> SweepSpec:
  """Reads and validates a TOML sweep spec.

  Args:
    path: the ``.toml`` file.

  Returns:
    The validated :class:`SweepSpec`.

  Raises:
    SpecError: the file is missing, not TOML, or the spec is invalid; the
      message names the file and key.
  """
  return loads(spec_io.read_text(path, "sweep spec"), source=str(path))


def loads(text: str, *, source: str = "<string>") -> SweepSpec:
  """Parses and validates TOML text; ``source`` names it in error messages.

  Examples:
    >>> from acajax import sweep
    >>> spec = sweep.loads('''
    ... bounds = ["feature_label"]
    ... [fixed]
    ... xi_c = 0.01
    ... xi = 0.0
    ... delta = 0.5
    ... eps = 0.05
    ... [axes]
    ... alpha = {kind = "linspace", start = 0.01, stop = 0.2, num = 20}
    ... ''')
    >>> spec.shape, spec.num_points
    ((20,), 20)
  """
  return parse(spec_io.loads_toml(text, source), source=source)


def parse(data: Mapping[str, Any], *, source: str = "<dict>") -> SweepSpec:
  """Builds and validates a spec from a dict in the TOML layout."""
  if not isinstance(data, Mapping):
    raise SpecError(f"{source}: the spec must be a table (dict); got {type(data).__name__}")
  for key in data:
    if key not in _TOP_KEYS:
      raise _fail(source, key, f"unknown key; allowed keys: {', '.join(_TOP_KEYS)}")
  for key in ("axes", "bounds"):
    if key not in data:
      raise _fail(source, key, "missing (a sweep needs [axes] and a bounds list)")
  axes_data = _table(source, "axes", data["axes"])
  axes = {name: _parse_axis(source, f"axes.{_quote(name)}", value)
          for name, value in axes_data.items()}
  reduce_data = _table(source, "reduce", data.get("reduce", {}))
  for key in reduce_data:
    if key not in ("over", "ops"):
      raise _fail(source, f"reduce.{key}", "unknown key; allowed keys: over, ops")
  run = _table(source, "run", data.get("run", {}))
  for key in run:
    if key not in _RUN_KEYS:
      raise _fail(source, f"run.{key}", f"unknown key; allowed keys: {', '.join(_RUN_KEYS)}")
  targets = data.get("targets")
  scenario = data.get("scenario")
  if scenario is not None:
    scenario_data = _table(source, "scenario", scenario)
    for key in scenario_data:
      if key not in _SCENARIO_KEYS:
        raise _fail(source, f"scenario.{key}",
                    f"unknown key; allowed keys: {', '.join(_SCENARIO_KEYS)}")
    for key in _SCENARIO_KEYS[:2]:
      if key not in scenario_data:
        raise _fail(source, f"scenario.{key}", "missing (a scenario needs p0 and signal_maps)")
    scenario = Scenario(scenario_data["p0"], scenario_data["signal_maps"],
                        scenario_data.get("feature_only", False))
  spec = SweepSpec(
      axes=axes,
      bounds=tuple(_string_list(source, "bounds", data["bounds"])),
      fixed=dict(_table(source, "fixed", data.get("fixed", {}))),
      collectives=data.get("collectives", 1),
      targets=None if targets is None else tuple(_list(source, "targets", targets)),
      collective=tuple(_string_list(source, "collective", data.get("collective", ["each"]))),
      reduce=Reduce(over=tuple(_string_list(source, "reduce.over", reduce_data.get("over", []))),
                    ops=tuple(_string_list(source, "reduce.ops", reduce_data.get("ops", ["min"])))),
      dtype=data.get("dtype", "float32"),
      scenario=scenario,
      name=data.get("name", pathlib.Path(source).stem if source.endswith(".toml") else "sweep"),
      description=data.get("description", ""),
      chunk_points=run.get("chunk_points", DEFAULT_CHUNK_POINTS),
      memory_cap_mb=run.get("memory_cap_mb", DEFAULT_MEMORY_CAP_MB),
      max_hours=run.get("max_hours", DEFAULT_MAX_HOURS),
      allow_out_of_domain=run.get("allow_out_of_domain", False),
      derived=dict(_table(source, "derived", data.get("derived", {}))),
      source=source)
  return spec.validated()


def _quote(name: str) -> str:
  return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


_table = spec_io.table
_list = spec_io.list_of
_string_list = spec_io.string_list
_is_number = spec_io.is_number
_is_int = spec_io.is_int


def _parse_axis(source: str, key: str, value) -> Axis:
  if isinstance(value, Axis):
    return value
  if not isinstance(value, Mapping):
    raise _fail(source, key, 'an axis is a table such as {kind = "linspace", start = 0.0, '
                             f'stop = 0.1, num = 11}} (fixed values go in [fixed]); got {value!r}')
  table = value
  kind = table.get("kind")
  if kind not in AXIS_KINDS:
    raise _fail(source, f"{key}.kind", f"must be one of {', '.join(AXIS_KINDS)}; got {kind!r}")
  allowed = ("kind", "values") if kind == "values" else ("kind", "start", "stop", "num")
  for name in table:
    if name not in allowed:
      raise _fail(source, f"{key}.{name}",
                  f"unknown key for a {kind} axis; allowed keys: {', '.join(allowed)}")
  if kind == "values":
    if "values" not in table:
      raise _fail(source, f"{key}.values", "missing (a values axis lists its values)")
    return Axis("values", values=tuple(_list(source, f"{key}.values", table["values"])))
  for name in ("start", "stop", "num"):
    if name not in table:
      raise _fail(source, f"{key}.{name}", f"missing (a {kind} axis needs start, stop, num)")
  return Axis(kind, start=table["start"], stop=table["stop"], num=table["num"])


def _dump_value(value) -> str:
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, int):
    return str(value)
  if isinstance(value, float):
    if math.isnan(value) or math.isinf(value):
      return ("-" if value < 0 else "") + ("nan" if math.isnan(value) else "inf")
    return repr(value)
  if isinstance(value, str):
    return json.dumps(value)  # a TOML basic string is a JSON string
  if isinstance(value, (list, tuple)):
    return "[" + ", ".join(_dump_value(v) for v in value) + "]"
  if isinstance(value, Mapping):
    return "{" + ", ".join(f"{_quote(k)} = {_dump_value(v)}" for k, v in value.items()) + "}"
  raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _dump_toml(data: Mapping[str, Any]) -> str:
  lines, tables = [], []
  for key, value in data.items():
    if isinstance(value, Mapping):
      tables.append((key, value))
    else:
      lines.append(f"{_quote(key)} = {_dump_value(value)}")
  for key, table in tables:
    lines.append("")
    lines.append(f"[{key}]")
    lines.extend(f"{_quote(k)} = {_dump_value(v)}" for k, v in table.items())
  return "\n".join(lines) + "\n"


# -- validation -------------------------------------------------------------


def _range_text(param) -> str:
  low = "[" if param.low_inclusive else "("
  high = "]" if param.high_inclusive else ")"
  return f"{low}{param.low:g}, {param.high:g}{high}"


def _check_in_domain(source: str, key: str, name: str, value, param) -> float:
  if not _is_number(value) or not math.isfinite(value):
    raise _fail(source, key, f"must be a finite number in {name}'s domain "
                             f"{_range_text(param)}; got {value!r}")
  value = float(value)
  low_ok = value >= param.low if param.low_inclusive else value > param.low
  high_ok = value <= param.high if param.high_inclusive else value < param.high
  if not (low_ok and high_ok):
    raise _fail(source, key, f"{value:g} is outside the domain of {name}, {_range_text(param)}")
  return value


def _split_axis_name(source: str, key: str, name: str, parameters, num_collectives: int):
  match = _AXIS_NAME.match(name)
  if match is None:
    raise _fail(source, key, "an axis name is a parameter, optionally with a collective index "
                             "as in alpha[0]")
  base, index = match.group(1), match.group(2)
  if base not in parameters:
    raise _fail(source, key, f"unknown parameter {base!r}; known parameters: "
                             f"{', '.join(parameters)}")
  if index is not None:
    index = int(index)
    if not parameters[base].per_collective:
      raise _fail(source, key, f"{base} is one number per scenario; it takes no collective "
                               "index")
    if not 0 <= index < num_collectives:
      raise _fail(source, key, f"collective index must be in [0, {num_collectives - 1}] "
                               f"(collectives = {num_collectives}); got {index}")
  return base, index


def _validate(spec: SweepSpec) -> SweepSpec:
  src = spec.source
  m = spec.collectives
  if not _is_int(m) or m < 1:
    raise _fail(src, "collectives", f"must be an integer >= 1; got {m!r}")
  m = int(m)
  if spec.dtype not in DTYPES:
    raise _fail(src, "dtype", f"must be one of {', '.join(DTYPES)}; got {spec.dtype!r}")
  if not isinstance(spec.name, str) or not isinstance(spec.description, str):
    raise _fail(src, "name", "name and description must be strings")

  # Bounds and what they need.
  if not spec.bounds:
    raise _fail(src, "bounds", f"must name at least one bound; known: {', '.join(BOUNDS)}")
  for name in spec.bounds:
    if name not in BOUNDS:
      raise _fail(src, "bounds", f"unknown bound {name!r}; known bounds: {', '.join(BOUNDS)}")
  if len(set(spec.bounds)) != len(spec.bounds):
    raise _fail(src, "bounds", f"lists a bound twice: {list(spec.bounds)}")
  for op in spec.collective:
    if op not in COLLECTIVE_OPS:
      raise _fail(src, "collective", f"unknown entry {op!r}; allowed: "
                                     f"{', '.join(COLLECTIVE_OPS)}")
  if not spec.collective:
    raise _fail(src, "collective", f"must list at least one of {', '.join(COLLECTIVE_OPS)}")

  # Run settings, then the collectives' bookkeeping against the cap (before any of it exists).
  _validate_run(spec)
  outputs = _num_outputs(m, spec.bounds, spec.collective)
  spec_io.check_memory(
      src, "collectives", outputs * _HOST_BYTES_PER_COLUMN, spec.memory_cap_mb,
      what=f"{outputs:,} output columns for collectives = {m:,}, about "
           f"{_HOST_BYTES_PER_COLUMN} bytes each before any grid point",
      lower="lower collectives")
  targets = spec.target_labels
  if len(targets) != m or not all(_is_int(t) and t >= 0 for t in targets):
    raise _fail(src, "targets", f"must list {m} non-negative integer labels (one per "
                                f"collective); got {list(targets)!r}")
  needed = {p for name in spec.bounds for p in BOUNDS[name].params}
  optional = {p for name in spec.bounds for p in BOUNDS[name].optional}

  # The finite scenario.
  scenario = None
  if spec.scenario is not None:
    scenario = _validate_scenario(src, spec.scenario, m, targets, spec.dtype)
  users = [name for name in spec.bounds if BOUNDS[name].needs_scenario]
  if users and scenario is None:
    raise _fail(src, "scenario", f"missing: the bound {users[0]!r} needs a finite scenario, a "
                                 "[scenario] table with p0 = (n, K) joint table and "
                                 "signal_maps = (M, n) point indices")
  # Parameters a [scenario] determines (SPEC §3); the strategy from its feature_only.
  from_scenario = set(SCENARIO_PARAMETERS) | {"strategy"} if scenario is not None else set()

  # Derived parameters: parsed first, for the names their expressions read.
  if not isinstance(spec.derived, Mapping):
    raise _fail(src, "derived", f"must be a table of parameter = \"expression\"; got "
                                f"{spec_io.describe(spec.derived)}")
  exprs: dict[str, _expr.Expr] = {}
  for key, text in spec.derived.items():
    try:
      exprs[key] = _expr.parse_expression(text)
    except _expr.ExprError as err:
      raise _fail(src, f"derived.{_quote(key)}", str(err)) from None
  read_names = {base for e in exprs.values() for base, _ in e.names}

  # Fixed parameters (and named constants that expressions read).
  fixed = {}
  constants = set()
  for name, value in spec.fixed.items():
    key = f"fixed.{name}"
    if name not in PARAMETERS:
      if name not in read_names or not _AXIS_NAME.fullmatch(name) or "[" in name:
        raise _fail(src, key, f"unknown parameter; known parameters: {', '.join(PARAMETERS)} "
                              "(a named constant is allowed when a [derived] expression "
                              "reads it)")
      if not _is_number(value) or not math.isfinite(value):
        raise _fail(src, key, f"a named constant must be one finite number; got {value!r}")
      fixed[name] = float(value)
      constants.add(name)
      continue
    param = PARAMETERS[name]
    if param.choices:
      fixed[name] = _check_choices(src, key, name, value, param, m)
      continue
    if isinstance(value, (list, tuple, np.ndarray)):
      if not param.per_collective:
        raise _fail(src, key, f"{name} is one number per scenario; got a list")
      if len(value) != m:
        raise _fail(src, key, f"must have one entry per collective ({m}); got {len(value)}")
      fixed[name] = tuple(_check_in_domain(src, f"{key}[{i}]", name, v, param)
                          for i, v in enumerate(value))
    else:
      fixed[name] = _check_in_domain(src, key, name, value, param)

  # Axes.
  if not spec.axes:
    raise _fail(src, "axes", "must define at least one axis")
  axes = {}
  swept: dict[str, set] = {}
  variables = set()
  for name, axis in spec.axes.items():
    key = f"axes.{_quote(name)}"
    if _AXIS_NAME.fullmatch(name) and name not in PARAMETERS and name in read_names:
      # A variable axis: a named number that only [derived] expressions read.
      if name in fixed:
        raise _fail(src, key, f"{name} is both fixed and swept; remove fixed.{name}")
      axes[name] = _validate_axis(src, key, name, axis, _FREE)
      variables.add(name)
      continue
    base, index = _split_axis_name(src, key, name, PARAMETERS, m)
    param = PARAMETERS[base]
    if base not in needed | optional and base not in read_names:
      raise _fail(src, key, f"{base} is used by none of the bounds {list(spec.bounds)}; "
                            f"they use: {', '.join(sorted(needed | optional))}")
    components = swept.setdefault(base, set())
    whole = set(range(m)) if param.per_collective else {None}
    new = whole if index is None else {index}
    if components & new:
      raise _fail(src, key, f"sweeps {base} twice (an axis '{base}' covers every collective)")
    components |= new
    if index is None and base in fixed:
      raise _fail(src, key, f"{base} is both fixed and swept; remove fixed.{base} or sweep "
                            f"one collective, as in {base}[0]")
    axes[name] = _validate_axis(src, key, base, axis, param)

  # Derived parameters: keys, conflicts, the names they read, cycles.
  derived_parts: dict[str, set] = {}
  for key, e in exprs.items():
    where = f"derived.{_quote(key)}"
    match = _AXIS_NAME.match(key)
    if match is None or match.group(1) not in PARAMETERS:
      raise _fail(src, where, f"a derived key is a parameter, optionally with a collective "
                              f"index as in alpha[1]; known parameters: "
                              f"{', '.join(p for p in PARAMETERS if not PARAMETERS[p].choices)} "
                              "(named constants go in [fixed])")
    base, index = _split_axis_name(src, where, key, PARAMETERS, m)
    param = PARAMETERS[base]
    if param.choices:
      raise _fail(src, where, f"{base} takes names ({', '.join(param.choices)}), not "
                              "numbers: fix it or sweep it with a values axis")
    whole = set(range(m)) if param.per_collective else {None}
    new = whole if index is None else {index}
    if swept.get(base, set()) & new:
      raise _fail(src, where, f"{key} is both on an axis and derived; remove one of them")
    if derived_parts.get(base, set()) & new:
      raise _fail(src, where, f"derives {base} twice (a key '{base}' covers every collective)")
    derived_parts.setdefault(base, set()).update(new)
    if index is None and base in fixed:
      raise _fail(src, where, f"{base} is both fixed and derived; remove fixed.{base} or "
                              f"derive one collective, as in {base}[0]")
    if base not in needed | optional and base not in read_names:
      raise _fail(src, where, f"{base} is used by none of the bounds {list(spec.bounds)}; "
                              f"they use: {', '.join(sorted(needed | optional))}")
  known = sorted(set(fixed) | set(axes) | set(exprs))
  for key, e in exprs.items():
    where = f"derived.{_quote(key)}"
    param = PARAMETERS[key.split("[")[0]]
    for name, at in e.names:
      problem = _name_problem(name, at, param.per_collective, m, fixed, swept, derived_parts,
                              exprs, constants, variables)
      if problem:
        raise _fail(src, where, f"{problem} in {e.text!r}; names it may read: "
                                f"{', '.join(known)}")
  try:
    order = _expr.evaluation_order(exprs, lambda key, e: _reads(key, e, exprs, m))
  except _expr.ExprError as err:
    raise _fail(src, "derived", f"the derived parameters depend on each other in a cycle: "
                                f"{err}") from None
  exprs = {key: exprs[key] for key in order}

  # Every needed parameter is determined.
  for name in sorted(needed):
    param = PARAMETERS[name]
    whole = set(range(m)) if param.per_collective else {None}
    given = swept.get(name, set()) | derived_parts.get(name, set())
    own = [b for b in spec.bounds if name in BOUNDS[b].own_sense]
    if name in from_scenario and own and not (name in fixed or given >= whole):
      raise _fail(src, f"fixed.{name}", f"{own[0]} reads {name} in its own sense (see "
                                        f"bounds.{own[0]}), which a [scenario] does not "
                                        "compute; fix or sweep it")
    if name in fixed or given >= whole or name in from_scenario:
      continue
    missing = sorted(whole - given)
    hint = "" if missing == [None] else f" (collectives {missing} are not swept)"
    users = [b for b in spec.bounds if name in BOUNDS[b].params]
    domain = (f"one of {', '.join(param.choices)}" if param.choices
              else f"domain {_range_text(param)}")
    raise _fail(src, f"fixed.{name}", f"required by {', '.join(users)} but neither fixed nor "
                                      f"swept{hint}; {domain}")
  if scenario is not None and ("strategy" in fixed or "strategy" in swept):
    flags = scenario.feature_only
    if flags is True or (isinstance(flags, tuple) and any(flags)):
      raise _fail(src, "scenario.feature_only", "the strategy is also fixed or swept; give "
                                                "it in one place (leave feature_only false)")
  # Theorem 1 and its critical mass assume every collective plays feature-label
  # (SPEC §4): refuse them where the strategy makes a collective feature-only.
  played = [fixed.get("strategy", ())] + [axis.values for key, axis in axes.items()
                                          if key.split("[")[0] == "strategy"]
  if any("feature_only" in ((v,) if isinstance(v, str) else tuple(v)) for v in played):
    assumes_fl = [b for b in spec.bounds if b in ("feature_label", "critical_mass_feature_label")]
    if assumes_fl:
      verb = "assumes" if len(assumes_fl) == 1 else "assume"
      raise _fail(src, "bounds", f"{', '.join(assumes_fl)} {verb} every collective plays "
                  "feature-label (SPEC §4), but the strategy makes a collective feature-only; "
                  "use by_strategy (Theorem 1 or the sound Theorem 2 by point) or feature_only")

  # Reductions.
  over = spec.reduce.over
  for name in over:
    if name not in axes:
      raise _fail(src, "reduce.over", f"{name!r} is not an axis; axes: {', '.join(axes)}")
  if len(set(over)) != len(over):
    raise _fail(src, "reduce.over", f"lists an axis twice: {list(over)}")
  for op in spec.reduce.ops:
    if op not in REDUCE_OPS:
      raise _fail(src, "reduce.ops", f"unknown op {op!r}; allowed: {', '.join(REDUCE_OPS)}")
  if over and not spec.reduce.ops:
    raise _fail(src, "reduce.ops", f"must list at least one of {', '.join(REDUCE_OPS)}")

  spec = dataclasses.replace(spec, collectives=m, targets=tuple(int(t) for t in targets),
                             scenario=scenario, fixed=fixed, axes=axes,
                             derived={key: e.text for key, e in exprs.items()},
                             chunk_points=int(spec.chunk_points),
                             memory_cap_mb=float(spec.memory_cap_mb),
                             max_hours=float(spec.max_hours),
                             allow_out_of_domain=bool(spec.allow_out_of_domain),
                             bounds=tuple(spec.bounds), collective=tuple(spec.collective),
                             reduce=Reduce(tuple(over), tuple(spec.reduce.ops)))
  if not spec.allow_out_of_domain:
    if exprs:
      _check_derived_domains(spec)
    if any(k == "alpha" or k.startswith("alpha[") for k in exprs):
      _check_linked_alpha_total(spec)
    else:
      _check_alpha_total(src, fixed, axes, m, spec.dtype)
  _check_memory(spec)
  return spec


def _validate_run(spec: SweepSpec) -> None:
  """The [run] settings: chunk_points, memory_cap_mb, max_hours."""
  src = spec.source
  if not _is_int(spec.chunk_points) or not 1 <= spec.chunk_points <= 2**28:
    raise _fail(src, "run.chunk_points", f"must be an integer in [1, {2**28}]; "
                                         f"got {spec_io.describe(spec.chunk_points)}")
  spec_io.number(src, "run.memory_cap_mb", spec.memory_cap_mb, low=0.0, low_open=True)
  spec_io.number(src, "run.max_hours", spec.max_hours, low=0.0, low_open=True)
  if not isinstance(spec.allow_out_of_domain, (bool, np.bool_)):
    raise _fail(src, "run.allow_out_of_domain", f"must be true or false; got "
                                                f"{spec_io.describe(spec.allow_out_of_domain)}")


def _num_outputs(m: int, bounds: Sequence[str], collective: Sequence[str]) -> int:
  """``len(output_columns(spec))``, counted without building the names."""
  count = 0
  for name in bounds:
    if BOUNDS[name].kind == "mass" or "each" in collective:
      count += m
    if BOUNDS[name].kind == "success":
      count += sum(op in collective for op in ("s_min", "s_w"))
  return count


def _num_result_columns(spec: SweepSpec) -> int:
  """``len(result_columns(spec))``, counted without building the names."""
  kept = sum(name not in spec.reduce.over for name in spec.axes) + len(derived_columns(spec))
  outputs = _num_outputs(spec.collectives, spec.bounds, spec.collective)
  if not spec.reduce.over:
    return kept + outputs
  per_output = 0
  for direction in ("min", "max"):
    if direction in spec.reduce.ops or f"arg{direction}" in spec.reduce.ops:
      per_output += 1 + (len(spec.reduce.over) if f"arg{direction}" in spec.reduce.ops else 0)
  return kept + outputs * per_output


def _axis_max(axis: Axis) -> float:
  """The largest value of a validated axis (without building it)."""
  if axis.kind == "values":
    return max(axis.values)
  return max(axis.start, axis.stop)


def _check_alpha_total(src: str, fixed, axes, m: int, dtype: str) -> None:
  """Refuses masses that sum to 1 or more at some grid point (SPEC §1: alpha_total < 1).

  The grid is a product, so the point holding every collective's largest
  mass (its axis's largest value, or its fixed value) is on it: the check is
  exact, not a bound. The sum is taken as the kernel takes it, in ``dtype``.
  """
  largest: list[float | None] = [None] * m
  where: list[str | None] = [None] * m
  if "alpha" in fixed:
    value = fixed["alpha"]
    for c in range(m):
      per = isinstance(value, tuple)
      largest[c] = value[c] if per else value
      where[c] = f"fixed.alpha[{c}]" if per else "fixed.alpha"
  for name, axis in axes.items():
    if name.split("[")[0] not in PARAMETERS:       # a variable axis
      continue
    base, index = _split_axis_name(src, name, name, PARAMETERS, m)
    if base != "alpha":
      continue
    for c in (range(m) if index is None else (index,)):
      largest[c] = _axis_max(axis)
      where[c] = f"axes.{_quote(name)}"
  if any(v is None for v in largest):
    return                              # alpha is not used (reported elsewhere if needed)
  total = np.zeros((), np.dtype(dtype))
  for value in largest:
    total = total + np.asarray(value, np.dtype(dtype))
  if total >= 1:
    swept = [w for w in where if w.startswith("axes.")]
    key = swept[0] if swept else where[0]
    parts = ", ".join(f"{w} = {v:g}" for w, v in dict(zip(where, largest)).items())
    raise _fail(src, key, f"the collectives' masses can sum to {float(total):.6g} >= 1 at a "
                          f"grid point (largest values: {parts}; collectives = {m}); their "
                          "total, alpha_total, must stay below 1 at every point (SPEC §1), "
                          "so lower the masses or the axes' largest values (or set "
                          "run.allow_out_of_domain = true for NaN at those points)")


def _check_choices(src: str, key: str, name: str, value, param, m: int):
  """A fixed name-valued parameter (``strategy``): one name, or M names."""
  def one(k, v):
    if v not in param.choices:
      raise _fail(src, k, f"must be one of {', '.join(param.choices)}; got {v!r}")
    return v
  if isinstance(value, (list, tuple)):
    if len(value) != m:
      raise _fail(src, key, f"must have one entry per collective ({m}); got {len(value)}")
    return tuple(one(f"{key}[{i}]", v) for i, v in enumerate(value))
  return one(key, value)


def _name_problem(name, index, per_collective_key, m, fixed, swept, derived_parts, exprs,
                  constants, variables) -> str | None:
  """Why a name read by a derived expression cannot be resolved, or None."""
  if name not in PARAMETERS:
    if name in constants or name in variables:
      return None if index is None else f"{name} is one number; it takes no index"
    return f"unknown name {name!r} (not an axis, a fixed value or a derived parameter)"
  param = PARAMETERS[name]
  if param.choices:
    return f"{name} takes names, which expressions cannot read"
  if not param.per_collective:
    if index is not None:
      return f"{name} is one number per scenario; it takes no collective index"
    return None if (name in fixed or None in swept.get(name, set())
                    or None in derived_parts.get(name, set())) else (
        f"{name} is neither fixed, swept nor derived")
  if index is None and not per_collective_key:
    return f"{name} has one value per collective: write {name}[0], {name}[1], ..."
  if index is not None and not 0 <= index < m:
    return f"collective index of {name} must be in [0, {m - 1}] (collectives = {m}); got {index}"
  needed = set(range(m)) if index is None else {index}
  given = swept.get(name, set()) | derived_parts.get(name, set())
  if name in fixed or needed <= given:
    return None
  return f"{name}{list(sorted(needed - given))} is neither fixed, swept nor derived"


def _reads(key, e, exprs, m):
  return _expr.reads(key, e, list(exprs),
                     lambda n: n in PARAMETERS and PARAMETERS[n].per_collective)


def _open_mesh(spec: SweepSpec, names) -> dict[str, np.ndarray]:
  """Axis values at the spec's dtype, each along its own dimension (an open mesh)."""
  names = [n for n in spec.axes if n in names]
  dtype = np.dtype(spec.dtype)
  mesh = {}
  for i, name in enumerate(names):
    shape = [1] * len(names)
    shape[i] = len(spec.axes[name])
    mesh[name] = spec.axes[name].to_numpy().astype(dtype).reshape(shape)
  return mesh


def _check_points(spec: SweepSpec, key: str, names) -> None:
  size = math.prod(len(spec.axes[n]) for n in names)
  if size > MAX_CHECK_POINTS:
    raise _fail(spec.source, key, f"depends on axes {', '.join(sorted(names))} with {size:,} "
                                  f"points together; its domain is checked on the host over "
                                  f"at most {MAX_CHECK_POINTS:,} (shorten those axes, or set "
                                  "run.allow_out_of_domain = true for NaN where it leaves "
                                  "its domain)")


def _where(spec: SweepSpec, mesh, flat_index) -> str:
  """The axis values at a position of an open mesh, as text."""
  names = list(mesh)
  if not names:
    return "at every point"
  digits = np.unravel_index(flat_index, tuple(mesh[n].size for n in names))
  return "at " + ", ".join(f"{n} = {float(mesh[n].reshape(-1)[d]):g}"
                           for n, d in zip(names, digits))


def _check_derived_domains(spec: SweepSpec) -> None:
  """Every derived value lies in its parameter's domain at every grid point.

  Each key is evaluated in NumPy, at the spec's dtype, over every point of
  the axes it depends on (an open mesh, at most ``MAX_CHECK_POINTS``): the
  check is exact, not a bound.
  """
  dtype = np.dtype(spec.dtype)
  for key, axes in derived_dependencies(spec).items():
    where = f"derived.{_quote(key)}"
    _check_points(spec, where, axes)
    mesh = _open_mesh(spec, axes)
    with np.errstate(all="ignore"):
      values = derived_values(spec, mesh, np, lambda v: np.asarray(v, dtype), keys=[key])
    base = key.split("[")[0]
    param = PARAMETERS[base]
    shape = tuple(a.size for a in mesh.values())
    for (name, c), value in values.items():
      if name != base or (("[" in key) and c != int(key[len(base) + 1:-1])):
        continue
      value = np.broadcast_to(np.asarray(value, dtype), shape).reshape(-1)
      low = value >= param.low if param.low_inclusive else value > param.low
      high = value <= param.high if param.high_inclusive else value < param.high
      bad = ~(low & high)
      if bad.any():
        i = int(np.argmax(bad))
        label = base if c is None else f"{base}[{c}]"
        raise _fail(spec.source, where, f"{label} = {float(value[i]):g} {_where(spec, mesh, i)}, "
                                        f"outside its domain {_range_text(param)} (or set "
                                        "run.allow_out_of_domain = true for NaN there)")


def _check_linked_alpha_total(spec: SweepSpec) -> None:
  """Total mass < 1 at every grid point when some masses are derived (SPEC §1).

  The collectives are grouped by the axes their masses depend on (linked
  through shared axes); each group's total is evaluated in NumPy, at the
  spec's dtype and in collective order, over every point of its axes, and
  the largest totals of the groups are added. Exact when one group holds
  every collective with a varying mass (as in a split of a budget).
  """
  m, dtype = spec.collectives, np.dtype(spec.dtype)
  deps = derived_dependencies(spec)
  parts: list[tuple[int, frozenset]] = []
  for c in range(m):
    if f"alpha[{c}]" in deps:
      axes = deps[f"alpha[{c}]"]
    elif "alpha" in deps:
      axes = deps["alpha"]
    else:
      axes = frozenset(n for n in (f"alpha[{c}]", "alpha") if n in spec.axes)
    parts.append((c, axes))
  groups: list[tuple[list[int], set]] = []
  for c, axes in parts:
    merged = [g for g in groups if g[1] & axes]
    members, names = [c], set(axes)
    for g in merged:
      groups.remove(g)
      members += g[0]
      names |= g[1]
    groups.append((sorted(members), names))
  total = np.zeros((), dtype)
  details = []
  for members, names in groups:
    _check_points(spec, "derived", names)
    mesh = _open_mesh(spec, names)
    shape = tuple(a.size for a in mesh.values())
    keys = [k for k in deps if k == "alpha" or k in {f"alpha[{c}]" for c in members}]
    with np.errstate(all="ignore"):
      values = derived_values(spec, mesh, np, lambda v: np.asarray(v, dtype), keys=keys)
    group_total = np.zeros(shape, dtype)
    for c in members:
      if ("alpha", c) in values:
        value = values[("alpha", c)]
      elif f"alpha[{c}]" in mesh:
        value = mesh[f"alpha[{c}]"]
      elif "alpha" in mesh:
        value = mesh["alpha"]
      else:
        given = spec.fixed["alpha"]
        value = given[c] if isinstance(given, tuple) else given
      group_total = group_total + np.asarray(value, dtype)
    flat = np.broadcast_to(group_total, shape).reshape(-1)
    i = int(np.nanargmax(flat)) if flat.size and not np.all(np.isnan(flat)) else 0
    total = total + flat[i]
    details.append(f"collectives {members} sum to {float(flat[i]):.6g} {_where(spec, mesh, i)}")
  if total >= 1:
    raise _fail(spec.source, "derived", f"the collectives' masses can sum to "
                                        f"{float(total):.6g} >= 1 at a grid point "
                                        f"({'; '.join(details)}); alpha_total must stay below 1 "
                                        "at every point (SPEC §1) (or set "
                                        "run.allow_out_of_domain = true for NaN there)")


def finish_table(spec: SweepSpec, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Adds the derived parameters' columns and names the strategies of a result table.

  ``data`` holds the kept axes' columns (one value per row, as codes for a
  ``strategy`` axis) and the outputs; a derived parameter that depends on
  kept axes only gets its column (:func:`~acajax.sweep._registry.derived_columns`),
  and strategy codes, in kept axes and in ``argmin``/``argmax`` columns,
  become their names.
  """
  dtype = np.dtype(spec.dtype)
  columns = derived_columns(spec)
  if columns:
    rows = len(next(iter(data.values()))) if data else 1
    grid = {name: np.asarray(data[name]) for name in spec.axes if name in data}
    keys = [k for k, axes in derived_dependencies(spec).items() if axes <= set(grid)]
    with np.errstate(all="ignore"):
      values = derived_values(spec, grid, np, lambda v: np.asarray(v, dtype), keys=keys)
    for column, (base, c) in columns.items():
      data[column] = np.broadcast_to(np.asarray(values[(base, c)], dtype), (rows,)).copy()
  names = np.asarray(PARAMETERS["strategy"].choices, dtype=object)
  for column in list(data):
    axis = column.rsplit(".", 1)[-1] if ".arg" in column else column
    if axis in spec.axes and spec.axes[axis].categorical:
      codes = np.asarray(data[column], np.float64)
      known = np.isfinite(codes)
      data[column] = np.where(known, names[np.where(known, codes, 0).astype(int)], None)
  return data


def _validate_scenario(src: str, scenario, m: int, targets, dtype: str) -> Scenario:
  """Checks a finite scenario (SPEC §1) in NumPy; returns it as nested tuples."""
  if isinstance(scenario, Mapping):
    for key in scenario:
      if key not in _SCENARIO_KEYS:
        raise _fail(src, f"scenario.{key}", f"unknown key; allowed keys: "
                                            f"{', '.join(_SCENARIO_KEYS)}")
    scenario = Scenario(scenario.get("p0"), scenario.get("signal_maps"),
                        scenario.get("feature_only", False))
  if not isinstance(scenario, Scenario):
    raise _fail(src, "scenario", f"must be a table with keys {', '.join(_SCENARIO_KEYS)}; "
                                 f"got {type(scenario).__name__}")

  def numbers(key, value, kind):
    try:
      array = np.asarray(value)
    except (ValueError, TypeError):   # ragged
      array = None
    if (array is None or array.ndim != 2 or array.size == 0
        or not all((_is_number if kind == "number" else _is_int)(v)
                   for v in array.reshape(-1).tolist())):
      raise _fail(src, key, f"must be {kind}s in a rectangular table (list of lists); "
                            f"got {value!r}")
    return array

  p0 = numbers("scenario.p0", scenario.p0, "number").astype(np.float64)
  n, k = p0.shape
  if k < 2:
    raise _fail(src, "scenario.p0", f"must have shape (n, K) with K >= 2 labels; got {p0.shape}")
  if not np.all(np.isfinite(p0)) or np.any(p0 < 0):
    raise _fail(src, "scenario.p0", "must hold finite, non-negative joint probabilities")
  tol = 1e-6 if dtype == "float64" else 1e-5   # as acajax.mixtures, at the spec's dtype
  if abs(p0.sum() - 1) > tol:
    raise _fail(src, "scenario.p0", f"must sum to 1 (tolerance {tol:g} at {dtype}); got "
                                    f"{float(p0.sum()):.10g}")
  maps = numbers("scenario.signal_maps", scenario.signal_maps, "integer")
  if maps.shape != (m, n):
    raise _fail(src, "scenario.signal_maps", f"must have shape (M, n) = ({m}, {n}) (collectives "
                                             f"= {m}, p0 has {n} rows); got {maps.shape}")
  maps = maps.astype(np.int64)
  if np.any(maps < 0) or np.any(maps >= n):
    raise _fail(src, "scenario.signal_maps", f"entries must be point indices in [0, {n - 1}]; "
                                             f"got values in [{maps.min()}, {maps.max()}]")
  flags = scenario.feature_only
  if isinstance(flags, (bool, np.bool_)):
    flags = bool(flags)
  elif (isinstance(flags, (list, tuple, np.ndarray)) and len(flags) == m
        and all(isinstance(f, (bool, np.bool_)) for f in flags)):
    flags = tuple(bool(f) for f in flags)
  else:
    raise _fail(src, "scenario.feature_only", f"must be true, false or a list of {m} bools "
                                              f"(one per collective); got {flags!r}")
  if any(t >= k for t in targets):
    raise _fail(src, "targets", f"must be labels in [0, {k - 1}] (scenario.p0 has K = {k} "
                                f"columns); got {list(targets)!r}")
  return Scenario(tuple(tuple(float(v) for v in row) for row in p0),
                  tuple(tuple(int(v) for v in row) for row in maps), flags)


def _validate_axis(src: str, key: str, name: str, axis, param) -> Axis:
  if not isinstance(axis, Axis):
    axis = _parse_axis(src, key, axis)
  if axis.kind not in AXIS_KINDS:
    raise _fail(src, f"{key}.kind", f"must be one of {', '.join(AXIS_KINDS)}; got {axis.kind!r}")
  if param.choices:
    values = axis.values if axis.kind == "values" and axis.values is not None else ()
    if not values:
      raise _fail(src, key, f"{name} takes names: sweep it with a values axis such as "
                            f'{{kind = "values", values = {list(param.choices)!r}}}')
    for i, v in enumerate(values):
      if v not in param.choices:
        raise _fail(src, f"{key}.values[{i}]", f"must be one of {', '.join(param.choices)}; "
                                               f"got {v!r}")
    if len(set(values)) != len(values):
      raise _fail(src, f"{key}.values", f"lists a value twice: {list(values)}")
    return Axis("values", values=tuple(values))
  if axis.kind == "values":
    values = axis.values if axis.values is not None else ()
    if len(values) == 0:
      raise _fail(src, f"{key}.values", "empty axis; list at least one value")
    if len(values) > MAX_AXIS_POINTS:
      raise _fail(src, f"{key}.values", f"at most {MAX_AXIS_POINTS} values per axis")
    checked = tuple(_check_in_domain(src, f"{key}.values[{i}]", name, v, param)
                    for i, v in enumerate(values))
    return Axis("values", values=checked)
  num = axis.num
  if not _is_int(num) or not 1 <= num <= MAX_AXIS_POINTS:
    problem = "empty axis; " if _is_int(num) and num < 1 else ""
    raise _fail(src, f"{key}.num", f"{problem}must be an integer in [1, {MAX_AXIS_POINTS}]; "
                                   f"got {num!r}")
  start = _check_in_domain(src, f"{key}.start", name, axis.start, param)
  stop = _check_in_domain(src, f"{key}.stop", name, axis.stop, param)
  if axis.kind == "logspace" and (start <= 0 or stop <= 0):
    bad = "start" if start <= 0 else "stop"
    raise _fail(src, f"{key}.{bad}", f"a logspace axis needs endpoints > 0 (they are the "
                                     f"values themselves, not exponents); got {min(start, stop):g}")
  return Axis(axis.kind, start=start, stop=stop, num=int(num))


def _result_bytes(spec: SweepSpec) -> tuple[int, int, int]:
  """(bytes, kept points, columns) of the result table and the accumulator behind it."""
  kept_points = math.prod(len(a) for n, a in spec.axes.items() if n not in spec.reduce.over)
  columns = _num_result_columns(spec)
  # The result table (and the running accumulator behind it): 8 bytes per cell,
  # twice over for the accumulator and the DataFrame built from it.
  return 16 * kept_points * columns, kept_points, columns


def _check_memory(spec: SweepSpec) -> None:
  """Refuses, before compiling, plans whose buffers exceed ``memory_cap_mb``."""
  cap = spec.memory_cap_mb * 2**20
  result_bytes, kept_points, columns = _result_bytes(spec)
  if result_bytes > cap:
    need = math.ceil(result_bytes / 2**20)
    raise _fail(spec.source, "reduce.over",
                f"the result keeps {kept_points:,} grid points x {columns} columns, about "
                f"{need:,} MB, over run.memory_cap_mb = {spec.memory_cap_mb:g}; reduce over "
                f"more axes, or raise run.memory_cap_mb to at least {need}")
  per_chunk = chunk_bytes(spec)
  if per_chunk > cap:
    raise _fail(spec.source, "run.chunk_points",
                f"a chunk of {spec.chunk_points:,} points needs about "
                f"{math.ceil(per_chunk / 2**20):,} MB, over run.memory_cap_mb = "
                f"{spec.memory_cap_mb:g}; lower run.chunk_points (allowed: at most "
                f"{max(1, int(spec.chunk_points * cap / per_chunk)):,})")


# -- estimates ----------------------------------------------------------------


def estimated_memory_bytes(spec: SweepSpec) -> int:
  """Estimated peak memory of a (validated) sweep, in bytes.

  The result table with the accumulator behind it (16 bytes per kept point
  and result column), one chunk's device buffers
  (:func:`acajax.sweep.chunk_bytes`) and the host bookkeeping of the output
  columns. Validation refuses a spec whose table or chunk alone exceeds
  ``run.memory_cap_mb``.

  Examples:
    >>> from acajax import sweep
    >>> from acajax.sweep import Axis, SweepSpec
    >>> spec = SweepSpec(axes={"xi": Axis.linspace(0, .3, 1000)}, bounds=("feature_label",),
    ...                  fixed={"alpha": .05, "xi_c": .01, "delta": .5, "eps": .05},
    ...                  chunk_points=1024).validated()
    >>> sweep.estimated_memory_bytes(spec)       # 16 x 1000 x 2 + 4 x 1024 x 6 + 4 x 1000 + 1024
    61600
  """
  outputs = _num_outputs(spec.collectives, spec.bounds, spec.collective)
  return int(_result_bytes(spec)[0] + chunk_bytes(spec) + outputs * _HOST_BYTES_PER_COLUMN)


def estimated_seconds(spec: SweepSpec, num_devices: int = 1) -> float:
  """Estimated wall time of a (validated) sweep on ``num_devices`` devices, in seconds.

  A documented per-point cost (the constants above this function, measured
  on a 2-core CPU and rounded up): each grid point costs
  ``CLOSED_FORM_S_PER_OUTPUT`` per collective of every closed-form bound,
  and ``EXACT_S_PER_CELL`` x n x K x M for the exact engine on an (n, K)
  scenario; the points are shared by the devices. Compiling the chunk
  function adds ``COMPILE_S_PER_OUTPUT`` per output column and
  ``COMPILE_S_PER_PAIR`` per pair of collectives. It errs long on fast
  hardware; :func:`acajax.sweep.run` compares it with ``max_hours`` before
  compiling.

  Args:
    spec: a validated :class:`SweepSpec`.
    num_devices: devices the points are shared by (>= 1).

  Returns:
    Seconds (a float; may be astronomically large).

  Examples:
    >>> from acajax import sweep
    >>> from acajax.sweep import Axis, SweepSpec
    >>> spec = SweepSpec(axes={"xi": Axis.linspace(0, .3, 2**24),
    ...                        "eps": Axis.linspace(0, .4, 2**24)},
    ...                  bounds=("feature_label",), fixed={"alpha": .05, "xi_c": .01,
    ...                  "delta": .5}, reduce=sweep.Reduce(("xi", "eps"), ("min",))).validated()
    >>> round(sweep.estimated_seconds(spec) / 3600)        # 2.8e14 points: 782 hours
    782
  """
  if not _is_int(num_devices) or num_devices < 1:
    raise ValueError(f"num_devices must be an integer >= 1; got {num_devices!r}")
  m = spec.collectives
  per_point = 0.0
  for name in spec.bounds:
    if BOUNDS[name].needs_scenario:
      scenario = (spec.scenario if isinstance(spec.scenario, Scenario)
                  else Scenario(**spec.scenario))
      num_points, num_labels = scenario.shape
      per_point += EXACT_S_PER_CELL * num_points * num_labels * m
    else:
      per_point += CLOSED_FORM_S_PER_OUTPUT * m
  outputs = _num_outputs(m, spec.bounds, spec.collective)
  compile_s = COMPILE_S + COMPILE_S_PER_OUTPUT * outputs + COMPILE_S_PER_PAIR * m * m
  return float(compile_s + spec.num_points * per_point / num_devices)
