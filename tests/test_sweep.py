"""Sweeps (acajax.sweep): grids, reductions, chunks, resumption, CLI.

The reference is an independent NumPy computation: the small test grids are
materialised here (never in acajax), each point evaluated with the scalar
float64 formulas of ``tests/np_bounds.py`` and SPEC §8, and each reduction done
row by row in plain Python.
"""

import importlib.util
import itertools
import math
import pathlib
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from acajax import bounds, cli, sweep
from acajax.runs import figures as plots
from acajax.sweep import _driver, _kernel, _plan
from acajax.sweep import Axis, Reduce, SweepSpec
from tests import host_devices, np_bounds

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "sweeps"

# SPEC §10's three collectives, with collective 0's mass, the overlap and eps swept.
FIXED = dict(alpha=(.05, .03, .02), xi_c=(.01, .02, .005), delta=(.6, .4, .8),
             p=(.3, .4, .3), target_success=0.9)
AXES = {"alpha[0]": Axis.linspace(0.01, 0.97, 6),          # abar >= 1 at the top: NaN
        "xi": Axis.of([0.0, 0.05, 0.3]),
        "eps": Axis.linspace(0.0, 0.45, 4)}


def _spec(**changes) -> SweepSpec:
  base = dict(axes=AXES, bounds=("feature_label", "feature_only", "critical_mass_feature_label"),
              fixed=FIXED, collectives=3, targets=(1, 0, 1),
              collective=("each", "s_min", "s_w"), dtype="float64", chunk_points=64,
              allow_out_of_domain=True)      # abar >= 1 at the top of alpha[0]: NaN points
  base.update(changes)
  return SweepSpec(**base)


def _light_spec(**changes) -> SweepSpec:
  """One bound, fewer outputs: quicker to compile, same machinery."""
  return _spec(bounds=("feature_label",), collective=("each", "s_min"), **changes)


# -- the independent reference ------------------------------------------------------


def _np_critical_mass_fl(s, a_o, beta, xi_c, xi, eps, delta):
  """SPEC §8, feature-label, scalar float64."""
  if not (0 <= s < 1 and 0 <= a_o < 1 and beta >= 0 and a_o - beta >= -1e-12
          and 0 <= xi_c <= 1 and 0 <= xi <= 1 and 0 <= eps < .5 and 0 <= delta <= 1):
    return math.nan
  rarity = xi_c * (delta + 2 * eps) / (1 - 2 * eps)
  competition = xi * (1 + 2 * eps) / (1 - 2 * eps) * (a_o - beta)
  alpha = (rarity * (1 - a_o) + competition) / (1 - s + rarity)
  return alpha if alpha < 1 - a_o else math.inf


def _np_point(spec, point):
  """Every output column at one grid point (a dict axis name -> value)."""
  m = spec.collectives
  targets = spec.target_labels

  def param(name, c=None):
    if c is not None and f"{name}[{c}]" in point:
      return point[f"{name}[{c}]"]
    if name in point:
      return point[name]
    value = spec.fixed[name]
    return value[c] if isinstance(value, tuple) else value

  alpha = [param("alpha", c) for c in range(m)]
  total = sum(alpha)
  if "beta" in spec.fixed or any(k.startswith("beta") for k in spec.axes):
    beta = [param("beta", c) for c in range(m)]
  else:
    beta = [sum(alpha[j] for j in range(m) if j != c and targets[j] == targets[c])
            for c in range(m)]
  eps = param("eps")
  out = {}
  for name in spec.bounds:
    if name == "feature_label":
      values = [np_bounds.feature_label(alpha[c], total, beta[c], param("xi_c", c),
                                        param("xi", c), param("delta", c), eps) for c in range(m)]
    elif name in ("feature_only", "feature_only_published"):
      variant = "sound" if name == "feature_only" else "published"
      values = [np_bounds.feature_only(alpha[c], total, beta[c], param("xi_c", c),
                                       param("xi", c), param("p", c), eps, variant=variant)
                for c in range(m)]
    elif name == "critical_mass_feature_label":
      others = [sum(a for j, a in enumerate(alpha) if j != c) for c in range(m)]
      values = [_np_critical_mass_fl(param("target_success"), others[c], beta[c],
                                     param("xi_c", c), param("xi", c), eps, param("delta", c))
                for c in range(m)]
    else:
      raise NotImplementedError(name)
    if name.startswith("critical") or "each" in spec.collective:
      out.update({f"{name}[{c}]": v for c, v in enumerate(values)})
    if not name.startswith("critical"):
      if "s_min" in spec.collective:
        out[f"{name}.s_min"] = min(values) if not any(map(math.isnan, values)) else math.nan
      if "s_w" in spec.collective:
        out[f"{name}.s_w"] = sum(a * v for a, v in zip(alpha, values)) / total
  return out


def _np_table(spec) -> pd.DataFrame:
  """The result table, from the materialised grid and per-row Python reductions."""
  names = list(spec.axes)
  values = {n: spec.axes[n].to_numpy() for n in names}
  kept = [n for n in names if n not in spec.reduce.over]
  reduced = [n for n in names if n in spec.reduce.over]
  rows = []
  for kept_values in itertools.product(*(values[n] for n in kept)):
    points = [dict(zip(kept, kept_values), **dict(zip(reduced, r)))
              for r in itertools.product(*(values[n] for n in reduced))]
    outputs = [_np_point(spec, point) for point in points]
    row = dict(zip(kept, kept_values))
    for column in outputs[0]:
      series = [o[column] for o in outputs]
      if not reduced:
        row[column] = series[0]
        continue
      present = [i for i, v in enumerate(series) if not math.isnan(v)]
      for op in ("min", "max"):
        if op not in spec.reduce.ops and f"arg{op}" not in spec.reduce.ops:
          continue
        if not present:
          row[f"{column}.{op}"] = math.nan
          best = None
        else:
          pick = min if op == "min" else max
          extreme = pick(series[i] for i in present)
          row[f"{column}.{op}"] = extreme
          best = next(i for i in present if series[i] == extreme)   # first occurrence
        if f"arg{op}" in spec.reduce.ops:
          for name in reduced:
            row[f"{column}.arg{op}.{name}"] = math.nan if best is None else points[best][name]
    rows.append(row)
  return pd.DataFrame(rows)


def _assert_tables_match(result: pd.DataFrame, reference: pd.DataFrame, rtol=1e-12):
  assert list(result.columns) == list(reference.columns)
  assert len(result) == len(reference)
  for column in result.columns:
    got, want = result[column].to_numpy(float), reference[column].to_numpy(float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=column)
    if ".arg" in column:   # axis values at the extreme: exact
      np.testing.assert_array_equal(got, want, err_msg=column)
    else:
      np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-14, err_msg=column)


def _assert_same(result: pd.DataFrame, expected: pd.DataFrame):
  """Same table up to the last bit of the float64 values.

  XLA contracts a * b + c into fused multiply-adds where its code generator
  sees fit, which can differ between block shapes (the chunk size, the device
  count); values then differ in the last bit (1e-16). The positions of
  extremes (argmin/argmax columns) must agree exactly.
  """
  pd.testing.assert_frame_equal(result, expected, check_exact=False, rtol=1e-12, atol=1e-15)
  for column in result.columns:
    if ".arg" in column:
      np.testing.assert_array_equal(result[column], expected[column], err_msg=column)


# -- correctness -----------------------------------------------------------------


REDUCTIONS = [
    pytest.param((), ("min",), 64, id="no-reduction"),
    pytest.param(("xi",), ("min", "max", "argmin", "argmax"), 64, id="over-xi"),
    pytest.param(("alpha[0]", "eps"), ("min", "max", "argmin", "argmax"), 7,
                 id="over-alpha0-eps-split-columns"),
    pytest.param(("alpha[0]", "xi", "eps"), ("argmin", "max"), 10, id="over-everything"),
    pytest.param(("eps",), ("argmax",), 1, id="one-point-chunks"),
]


@pytest.mark.parametrize("over, ops, chunk_points", REDUCTIONS)
def test_matches_independent_numpy_reference(over, ops, chunk_points):
  spec = _spec(reduce=Reduce(over, ops), chunk_points=chunk_points)
  result = sweep.run(spec, progress=False)
  reference = _np_table(spec)
  _assert_tables_match(result.table, reference)
  assert result.kernel_traces == 1


def test_reference_grid_has_out_of_domain_and_infeasible_points():
  grid = _np_table(_spec())
  assert grid.isna().to_numpy().any()                                   # NaN: abar >= 1
  assert np.isinf(grid.filter(like="critical").to_numpy(float)).any()  # inf: infeasible
  reduced = _np_table(_spec(reduce=Reduce(("xi",), ("min",))))
  assert reduced.isna().all(axis=1).sum() == 0 and reduced.isna().any(axis=1).any()


def test_spec_worked_example_single_point():
  """SPEC §10: Theorem 1 (0.775, 0.375, 0.60625), S_min .375, S_w .62125."""
  spec = _spec(axes={"eps": Axis.of([0.1])}, fixed=dict(FIXED, xi=0.05),
               bounds=("feature_label", "critical_mass_feature_label"))
  row = sweep.run(spec, progress=False).table.iloc[0]
  np.testing.assert_allclose([row[f"feature_label[{c}]"] for c in range(3)],
                             [0.775, 0.375, 0.60625], rtol=1e-12)
  np.testing.assert_allclose(row["feature_label.s_min"], 0.375, rtol=1e-12)
  np.testing.assert_allclose(row["feature_label.s_w"], 0.62125, rtol=1e-12)
  np.testing.assert_allclose(row["critical_mass_feature_label[0]"], 0.1068182, atol=5e-8)


def test_beta_axis_overrides_targets():
  spec = SweepSpec(axes={"beta": Axis.linspace(0.0, 0.05, 6), "xi": Axis.of([0.1, 0.2])},
                   bounds=("feature_label", "feature_only_published"), collectives=2,
                   fixed=dict(alpha=(0.05, 0.05), xi_c=0.01, delta=0.5, p=0.45, eps=0.05),
                   collective=("each", "s_min", "s_w"), dtype="float64")
  _assert_tables_match(sweep.run(spec, progress=False).table, _np_table(spec))


def test_float32_default_close_to_float64_reference():
  spec = _light_spec(dtype="float32", reduce=Reduce(("xi",), ("min", "max")))
  result = sweep.run(spec, progress=False).table
  assert result["feature_label.s_min.min"].dtype == np.float32
  reference = _np_table(spec.replace(dtype="float64"))
  for column in result.columns:
    np.testing.assert_allclose(result[column].to_numpy(float), reference[column].to_numpy(float),
                               rtol=2e-5, atol=2e-6, err_msg=column)


def test_unrolled_corollaries_equal_bounds_functions():
  rng = np.random.default_rng(0)
  values = rng.uniform(-0.3, 1.3, (3, 50))
  values[1, :5] = np.nan
  alpha = rng.uniform(0.01, 0.3, (3, 50))
  stacked = jnp.asarray(values.T)
  # The kernel carries validity apart (NaN marks it here) and may clip after
  # the minimum (clipping is monotone); either order gives the corollary.
  valid = ~np.isnan(values).any(axis=0)
  raw = tuple(jnp.asarray(values))
  clipped = tuple(_kernel._clip01(v) for v in raw)
  expected = np.asarray(bounds.s_min(stacked))
  assert np.isnan(expected[~valid]).all() and valid.sum() == 45
  for got in (_kernel._clip01(_kernel._s_min(raw)), _kernel._s_min(clipped)):
    np.testing.assert_array_equal(np.where(valid, got, np.nan), expected)
  np.testing.assert_array_equal(_kernel._clip01(raw[0]), np.clip(values[0], 0, 1))
  np.testing.assert_allclose(
      np.where(valid, _kernel._s_weighted(clipped, tuple(jnp.asarray(alpha))), np.nan),
      bounds.s_weighted(stacked, jnp.asarray(alpha.T)), rtol=1e-15)


@pytest.mark.parametrize("over, sizes", [
    ((), (5, 72)),                          # 72 = the whole grid
    (("xi", "eps"), (13, 24)),              # 12 reduced points per row: 1 or 2 rows per chunk
    (("alpha[0]",), (4, 1000)),             # 6 reduced points: split into 2 chunks, or not
    (("alpha[0]", "xi", "eps"), (7, 72)),
])
def test_chunk_size_does_not_change_results(over, sizes):
  spec = _light_spec(reduce=Reduce(over, ("argmin", "argmax")))
  tables = []
  for chunk_points in sizes:
    result = sweep.run(spec.replace(chunk_points=chunk_points), progress=False)
    assert result.kernel_traces == 1
    tables.append(result.table)
  for table in tables[1:]:
    _assert_same(table, tables[0])


@pytest.mark.parametrize("layout", ["wide", "wide-split-columns", "tall", "accelerator"])
def test_block_layouts_match_reference(layout, monkeypatch):
  """Blocks of (rows, lanes) walked in steps; tall groups of rows; the accelerator layout."""
  if layout == "accelerator":   # the GPU/TPU layout, forced here on CPU devices
    monkeypatch.setattr(_driver, "_accelerator_layout", lambda devices: True)
  if layout in ("tall", "accelerator"):   # many rows, few reduced points: groups of rows, a few columns a step
    axes = {"alpha[0]": Axis.linspace(0.01, 0.97, 4100), "xi": Axis.of([0.0, 0.1, 0.3]),
            "eps": Axis.linspace(0.0, 0.45, 5)}
  else:                  # few rows, many reduced points: blocks of (rows, lanes)
    axes = {"alpha[0]": Axis.linspace(0.01, 0.97, 20), "xi": Axis.linspace(0.0, 0.3, 32),
            "eps": Axis.linspace(0.0, 0.45, 16)}
  spec = _light_spec(axes=axes, reduce=Reduce(("xi", "eps"), ("argmin",)),
                     chunk_points={"wide": 2**16, "wide-split-columns": 300, "tall": 2**22,
                                   "accelerator": 2**12}[layout])
  plan = sweep.make_plan(spec, accelerator=layout == "accelerator")
  if layout == "accelerator":
    assert not plan.tall and plan.groups == 1 and plan.steps == 1 and plan.row_blocks > 1
  elif layout == "wide":
    assert not plan.tall and plan.lanes >= 64 and plan.steps >= 8 and plan.groups > 1
  elif layout == "tall":
    # 15 columns in steps of 8: the last step repeats the last column.
    assert plan.tall and plan.lanes == 8 and plan.steps == 2 and plan.groups > 1
  else:
    assert plan.col_blocks > 1
  _assert_tables_match(sweep.run(spec, progress=False).table, _np_table(spec))


def test_tall_chunks_that_split_columns_equal_row_chunks():
  """Many reduced points per row: chunks of many rows x part of the columns (CPU)."""
  axes = {"alpha[0]": Axis.linspace(0.01, 0.97, 300), "xi": Axis.linspace(0.0, 0.3, 64),
          "eps": Axis.linspace(0.0, 0.45, 1100)}
  spec = _light_spec(axes=axes, reduce=Reduce(("xi", "eps"), ("min", "max", "argmin", "argmax")),
                     chunk_points=2**16)
  tall, rows_of_one = sweep.make_plan(spec), sweep.make_plan(spec.replace(chunk_points=60_000))
  assert tall.rows > 1 and tall.col_blocks > 1 and rows_of_one.rows == 1
  for plan in (tall, rows_of_one):
    done = [plan.points_done(d) for d in range(plan.num_chunks + 1)]
    assert done[0] == 0 and done[-1] == spec.num_points and done == sorted(done)
    assert plan.points_done(plan.col_blocks) == plan.rows * plan.reduced_points
  first = sweep.run(spec, progress=False)
  assert first.plan.rows == tall.rows and first.chunks_run == tall.num_chunks
  _assert_same(first.table, sweep.run(spec.replace(chunk_points=60_000), progress=False).table)


def test_compiled_once_for_many_chunks():
  spec = _light_spec(reduce=Reduce(("eps",), ("min",)), chunk_points=4)
  result = sweep.run(spec, progress=False)
  assert result.plan.num_chunks == 18 and result.chunks_run == 18
  assert result.kernel_traces == 1


def test_huge_grid_plan_is_bounded_and_int32_safe():
  """A 10^10-point grid: the plan's buffers are bounded by the chunk, and a
  chunk far past 2**31 evaluates the right points (offsets carried per axis)."""
  axes = {"alpha[0]": Axis.linspace(0.01, 0.2, 1000), "alpha[1]": Axis.linspace(0.01, 0.2, 1000),
          "xi": Axis.linspace(0.0, 0.3, 100), "eps": Axis.linspace(0.0, 0.2, 100)}
  spec = SweepSpec(axes=axes, bounds=("feature_label",), collectives=2, collective=("s_min",),
                   fixed=dict(xi_c=0.01, delta=0.5), reduce=Reduce(("xi", "eps"), ("argmin",)),
                   dtype="float64", chunk_points=2**12)
  assert spec.num_points == 10**10
  plan = sweep.make_plan(spec)
  assert plan.rows * plan.cols <= 2**12 and plan.num_chunks * plan.rows * plan.cols >= 10**6 * 10**4
  assert plan.peak_chunk_bytes < 2**20          # a megabyte, for 10^10 points
  assert sweep.DEFAULT_MEMORY_CAP_MB * 2**20 > 16 * 10**6 * 3   # result fits the cap
  # Evaluate the last chunk only (its first flat index is ~10^10 > 2**31).
  last = plan.chunk(plan.num_chunks - 1)
  assert last.row_start * plan.reduced_points > 2**31
  mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), (sweep.MESH_AXIS,))
  kernel = _kernel._build_kernel(spec, plan, mesh)
  axis_values = tuple(jnp.asarray(a.to_numpy()) for a in axes.values())
  control = np.asarray(_plan._digits(last.row_start, plan.kept_sizes)
                       + _plan._digits(last.col_start, plan.reduced_sizes)
                       + [last.rows_valid, last.cols_valid], np.int32)
  out = kernel.fn(axis_values, control)["feature_label.s_min"]
  small = spec.replace(axes={"alpha[0]": Axis.of([0.2]),
                             "alpha[1]": Axis.of(axes["alpha[1]"].to_numpy()[-last.rows_valid:]),
                             "xi": axes["xi"], "eps": axes["eps"]})
  reference = _np_table(small)
  np.testing.assert_allclose(np.asarray(out["min"])[:last.rows_valid],
                             reference["feature_label.s_min.min"], rtol=1e-12)


# -- files, resumption, progress ------------------------------------------------------


class _Stop(Exception):
  pass


def test_interrupted_sweep_resumes_from_finished_chunks(tmp_path):
  spec = _light_spec(reduce=Reduce(("eps",), ("min", "argmax")), chunk_points=4)
  full = sweep.run(spec, progress=False).table
  out = tmp_path / "run"

  def stop_after_five(done):
    if done == 5:
      raise _Stop

  with pytest.raises(_Stop):
    sweep.run(spec, out, progress=False, checkpoint_every_s=0, on_chunk=stop_after_five)
  assert (out / "checkpoint.npz").exists() and not (out / "results.csv").exists()
  seen = []
  resumed = sweep.run(spec, out, progress=False, on_chunk=seen.append)
  assert resumed.chunks_run == resumed.plan.num_chunks - 5
  assert seen[0] == 6 and seen[-1] == resumed.plan.num_chunks
  pd.testing.assert_frame_equal(resumed.table, full, check_exact=True)
  # The files: results, the spec that produced them, versions.
  _, table = sweep.read_results(out)
  pd.testing.assert_frame_equal(table, full, check_exact=True, check_dtype=False)
  assert sweep.load(out / "spec.toml") == spec
  meta = __import__("json").loads((out / "meta.json").read_text())
  assert meta["versions"]["jax"] == jax.__version__ and meta["num_points"] == 72
  # Finished: running again evaluates nothing.
  assert sweep.run(spec, out, progress=False).chunks_run == 0


def test_checkpoint_of_another_spec_is_refused(tmp_path):
  spec = _light_spec(reduce=Reduce(("eps",), ("min",)))
  sweep.run(spec, tmp_path, progress=False)
  other = spec.replace(fixed=dict(FIXED, xi_c=0.02))
  with pytest.raises(ValueError, match="different sweep"):
    sweep.run(other, tmp_path, progress=False)
  assert sweep.run(other, tmp_path, progress=False, restart=True).chunks_run > 0


def test_progress_bar_and_parquet_option(tmp_path, capsys):
  spec = _light_spec(reduce=Reduce(("eps",), ("min",)))
  sweep.run(spec, progress=True)
  err = capsys.readouterr().err
  assert "100%" in err and "pt/s" in err
  if importlib.util.find_spec("pyarrow") is None:
    with pytest.raises(ValueError, match="pyarrow"):
      sweep.run(spec, tmp_path, progress=False, file_format="parquet")


# -- spec errors --------------------------------------------------------------------

GOOD = """\
bounds = ["feature_label"]
collectives = 2
[fixed]
alpha = [0.05, 0.05]
xi_c = 0.01
delta = 0.5
eps = 0.05
[axes]
xi = {kind = "linspace", start = 0.0, stop = 0.3, num = 4}
"""


def _edit(old, new):
  assert old in GOOD
  return GOOD.replace(old, new)


SPEC_ERRORS = [
    pytest.param(_edit("xi = {", "xii = {"), 'axes.xii', "unknown parameter 'xii'",
                 id="unknown-parameter"),
    pytest.param(_edit("xi_c = 0.01", "xi_c = 0.01\nsigma = 1"), "fixed.sigma",
                 "known parameters", id="unknown-fixed"),
    pytest.param(_edit("num = 4", "num = 0"), "axes.xi.num", "empty axis", id="empty-linspace"),
    pytest.param(_edit('{kind = "linspace", start = 0.0, stop = 0.3, num = 4}',
                       '{kind = "values", values = []}'), "axes.xi.values", "empty axis",
                 id="empty-values"),
    pytest.param(_edit("stop = 0.3", "stop = 1.5"), "axes.xi.stop", "[0, 1]", id="out-of-domain"),
    pytest.param(_edit("eps = 0.05", "eps = 0.5"), "fixed.eps", "[0, 0.5)", id="eps-at-half"),
    pytest.param(_edit('kind = "linspace", start = 0.0', 'kind = "logspace", start = 0.0'),
                 "axes.xi.start", "endpoints > 0", id="logspace-zero"),
    pytest.param(_edit('"feature_label"', '"feature_lable"'), "bounds",
                 "unknown bound 'feature_lable'", id="unknown-bound"),
    pytest.param(_edit("delta = 0.5\n", ""), "fixed.delta", "neither fixed nor swept",
                 id="missing-parameter"),
    pytest.param(_edit("alpha = [0.05, 0.05]", "alpha = [0.05]"), "fixed.alpha",
                 "one entry per collective (2)", id="wrong-length"),
    pytest.param(_edit("xi = {", '"alpha[2]" = {kind = "values", values = [0.1]}\nxi = {'),
                 "axes.\"alpha[2]\"", "[0, 1]", id="collective-index"),
    pytest.param(_edit("xi = {", 'p = {kind = "values", values = [0.1]}\nxi = {'), "axes.p",
                 "used by none", id="unused-axis"),
    pytest.param(_edit("[axes]", "[reduce]\nover = [\"eps\"]\n[axes]"), "reduce.over",
                 "not an axis", id="reduce-unknown-axis"),
    pytest.param(_edit("[axes]", "[reduce]\nover = [\"xi\"]\nops = [\"median\"]\n[axes]"),
                 "reduce.ops", "allowed: min, max, argmin, argmax", id="reduce-unknown-op"),
    pytest.param("steps = 3\n" + GOOD, "steps", "unknown key; allowed keys: name",
                 id="unknown-top-level-key"),
    pytest.param(GOOD + "eps = 0.1\n", "axes.eps", "an axis is a table",
                 id="axis-not-a-table"),
    pytest.param(_edit("num = 4}", 'num = 10000}\n"alpha[0]" = {kind = "linspace", start = 0.01, '
                                   'stop = 0.2, num = 10000}'),
                 "reduce.over", "run.memory_cap_mb", id="too-large-for-memory-cap"),
    pytest.param(_edit("bounds", 'dtype = "float16"\nbounds'), "dtype", "float32, float64",
                 id="bad-dtype"),
    pytest.param("bounds = [", "", "not valid TOML", id="not-toml"),
    pytest.param(_edit("alpha = [0.05, 0.05]", "alpha = [0.6, 0.5]"), "fixed.alpha[0]",
                 "masses can sum to 1.1 >= 1", id="fixed-masses-sum-to-one"),
    pytest.param(_edit("xi = {", '"alpha[1]" = {kind = "linspace", start = 0.1, stop = 0.96, '
                                 'num = 3}\nxi = {'), 'axes."alpha[1]"',
                 "alpha_total, must stay below 1", id="swept-mass-sums-to-one"),
    pytest.param(_edit("collectives = 2", "collectives = 100000000").replace(
        "alpha = [0.05, 0.05]", "alpha = 0.000000001"), "collectives", "run.memory_cap_mb",
                 id="collectives-too-many-for-memory"),
    pytest.param(GOOD + "[run]\nmax_hours = -1\n", "run.max_hours", "finite number > 0",
                 id="max-hours-negative"),
    pytest.param(_edit("eps = 0.05", "eps = nan"), "fixed.eps", "finite number", id="eps-nan"),
]


@pytest.mark.parametrize("text, key, message", SPEC_ERRORS)
def test_bad_spec_names_file_key_and_range(tmp_path, text, key, message):
  path = tmp_path / "bad.toml"
  path.write_text(text)
  with pytest.raises(sweep.SpecError) as err:
    sweep.load(path)
  assert str(path) in str(err.value)
  assert key in str(err.value)
  assert message in str(err.value)


def test_too_large_chunk_for_memory_cap_is_refused():
  with pytest.raises(sweep.SpecError, match=r"run\.chunk_points.*at most"):
    _spec(chunk_points=2**26, memory_cap_mb=16).validated()


def test_python_spec_errors_name_the_object():
  with pytest.raises(sweep.SpecError, match=r"<SweepSpec>: axes.xi.num"):
    _spec(axes={"xi": Axis.linspace(0, .1, 0)}).validated()


def test_toml_round_trip_and_example_specs():
  spec = _spec(reduce=Reduce(("xi",), ("argmin",))).validated()
  assert sweep.loads(spec.to_toml()) == spec
  names = sorted(p.stem for p in EXAMPLES.glob("*.toml"))
  assert names == ["alignment", "best_split", "eraser", "exact_tightness", "overlap",
                   "single_collective", "strategy_axis"]
  for path in EXAMPLES.glob("*.toml"):
    loaded = sweep.load(path)
    assert loaded.source == str(path)
    assert sweep.make_plan(loaded).num_chunks >= 1
  assert sweep.load(EXAMPLES / "single_collective.toml").collectives == 1


# -- CLI, plots, example -------------------------------------------------------------------


def test_cli_sweep_then_plot(tmp_path, capsys):
  spec_path = tmp_path / "overlap.toml"
  text = (EXAMPLES / "overlap.toml").read_text()
  spec_path.write_text(text.replace("num = 101", "num = 6").replace("num = 120", "num = 8"))
  out = tmp_path / "run"
  assert cli.main(["sweep", str(spec_path), "--out", str(out), "--no-progress",
                   "--cpu-devices", "1"]) == 0
  assert "48 points" in capsys.readouterr().out
  for name in ("results.csv", "spec.toml", "meta.json", "checkpoint.npz"):
    assert (out / name).stat().st_size > 0, name
  assert cli.main(["plot", str(out)]) == 0
  written = capsys.readouterr().out
  pngs = sorted(out.glob("*.png"))
  assert len(pngs) >= 3 and all(str(p) in written for p in pngs)
  assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_cli_bad_spec_fails_cleanly(tmp_path, capsys):
  path = tmp_path / "bad.toml"
  path.write_text(_edit('"feature_label"', '"nope"'))
  assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
  err = capsys.readouterr().err
  assert "bad.toml: bounds: unknown bound 'nope'" in err
  assert not (tmp_path / "o").exists()


def test_plot_helpers():
  ax = plots.bound_vs_exact(np.array([.1, .5, .9, .95]), np.array([.2, .5, .8, np.nan]))
  labels = [t.get_text() for t in ax.get_legend().get_texts()]
  assert labels == ["bound (2)", "violations (1)"]
  with pytest.raises(ValueError, match="same shape"):
    plots.bound_vs_exact(np.zeros(3), np.zeros(4))
  x, y = np.linspace(0, 1, 5), np.linspace(0, .5, 4)
  ax = plots.heatmap(x, y, np.outer(x, y), xlabel="x", ylabel="y", label="z")
  assert ax.get_xlabel() == "x"
  critical = np.add.outer(x, y)
  critical[-1, -1] = np.inf
  ax = plots.critical_mass_contour(x, y, critical, xlabel="x", ylabel="y")
  assert ax.get_ylabel() == "y"
  plots.plt.close("all")


def test_example_sweep_alignment_smoke(tmp_path):
  spec = importlib.util.spec_from_file_location("sweep_alignment", ROOT / "examples" /
                                                "sweep_alignment.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  table = module.main(tmp_path, quick=True)
  assert len(table) > 0 and (tmp_path / "results.csv").exists()
  assert any(tmp_path.glob("*.png"))


# -- several devices (one process) ------------------------------------------------------------

MULTI_DEVICE = textwrap.dedent("""
    import jax
    jax.config.update("jax_enable_x64", True)
    import pandas as pd
    from acajax import sweep
    from acajax.sweep import Axis, Reduce, SweepSpec
    assert len(jax.devices()) == 4, jax.devices()
    axes = {"alpha[0]": Axis.linspace(0.01, 0.97, 7), "xi": Axis.of([0.0, 0.05, 0.3]),
            "eps": Axis.linspace(0.0, 0.45, 5)}
    base = SweepSpec(axes=axes, bounds=("feature_label", "critical_mass_feature_label"),
                     collectives=2, fixed=dict(alpha=(.05, .03), xi_c=.01, delta=.5,
                     target_success=.9), collective=("each", "s_min"), dtype="float64",
                     allow_out_of_domain=True)
    wide = dict(axes, xi=Axis.linspace(0.0, 0.3, 100), eps=Axis.linspace(0.0, 0.45, 100))
    cases = [((), 64, axes), (("eps",), 64, axes), (("xi", "eps"), 5, axes),
             (("xi", "eps"), 2**16, wide)]
    ones = {}
    for over, chunk, grid in cases:
      spec = base.replace(axes=grid, reduce=Reduce(over, ("argmin",)), chunk_points=chunk)
      one = ones[over, chunk] = sweep.run(spec, devices=jax.devices()[:1], progress=False)
      four = sweep.run(spec, progress=False)
      # Host devices run whole chunks each, in turn.
      used = min(4, four.plan.num_chunks)     # no device without a chunk to run
      assert four.num_devices == used and four.plan.num_devices == 1
      assert four.kernel_traces == used
      pd.testing.assert_frame_equal(one.table, four.table, check_exact=False, rtol=1e-12, atol=1e-15)
      exact = one.table.equals(four.table)
      print(over, "bitwise equal:", exact)
      print(over, "chunks per device", "ok")
    # The accelerators' layout, here on host devices: every chunk split over
    # the four devices, their parts combined on the host in device order.
    from acajax.sweep import _driver
    _driver._accelerator_layout = lambda devices: True
    dims = set()
    for over, chunk, grid in cases:
      spec = base.replace(axes=grid, reduce=Reduce(over, ("argmin",)), chunk_points=chunk)
      split = sweep.run(spec, progress=False)
      assert split.plan.num_devices == 4
      dims.add(split.plan.shard_dim)
      pd.testing.assert_frame_equal(ones[over, chunk].table, split.table, check_exact=False,
                                    rtol=1e-12, atol=1e-15)
      print(over, "split, shard_dim", split.plan.shard_dim, "ok")
    assert dims == {0, 1}, dims
""")


def test_four_host_devices_equal_one_device():
  result = host_devices.run(MULTI_DEVICE, 4)
  assert result.stdout.count("ok") == 8
  assert "shard_dim 0" in result.stdout and "shard_dim 1" in result.stdout


# -- the exact engine as a sweep entry -------------------------------------------------------

from acajax import mixtures  # noqa: E402

# SPEC §10's finite scenario.
P0_EXAMPLE = [[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
              [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]]
MAPS_EXAMPLE = [[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]]


def _exact_spec(**changes) -> SweepSpec:
  # The grid of the example test below, shrunk: the same sweep, so compiled once.
  base = dict(axes={"alpha[0]": Axis.logspace(0.005, 0.5, 6), "eps": Axis.of([0.0, 0.05, 0.1, 0.2])},
              bounds=("exact", "feature_label"), fixed=dict(alpha=(.06, .04, .03)),
              collectives=3, targets=(1, 2, 1), collective=("each", "s_min", "s_w"),
              scenario=sweep.Scenario(P0_EXAMPLE, MAPS_EXAMPLE), dtype="float64")
  base.update(changes)
  return SweepSpec(**base)


def _exact_reference(spec) -> pd.DataFrame:
  """Unreduced table: direct calls of the exact engine, NumPy Theorem 1, point by point."""
  scenario = spec.scenario
  flags = scenario.feature_only
  flags = flags if isinstance(flags, bool) else np.asarray(flags)
  p0, maps, targets = np.asarray(P0_EXAMPLE), np.asarray(MAPS_EXAMPLE), np.asarray(spec.targets)
  par = mixtures.scenario_parameters(p0, maps, targets, np.zeros(3), feature_only=flags)
  rows = []
  for a0, eps in itertools.product(*(axis.to_numpy() for axis in spec.axes.values())):
    alpha = np.array([a0, .04, .03])
    exact = np.asarray(mixtures.worst_case_success(p0, maps, targets, alpha, eps=eps,
                                                   feature_only=flags))
    beta = [sum(alpha[j] for j in range(3) if j != c and targets[j] == targets[c])
            for c in range(3)]
    xi = [spec.fixed.get("xi", par.xi[c]) for c in range(3)]
    label = [np_bounds.feature_label(alpha[c], alpha.sum(), beta[c], float(par.xi_c[c]),
                                     float(xi[c]), float(par.delta[c]), eps) for c in range(3)]
    row = {"alpha[0]": a0, "eps": eps}
    for name, values in (("exact", exact), ("feature_label", label)):
      row.update({f"{name}[{c}]": values[c] for c in range(3)})
      row[f"{name}.s_min"] = min(values)
      row[f"{name}.s_w"] = float(np.dot(alpha, values) / alpha.sum())
    rows.append(row)
  return pd.DataFrame(rows)


@pytest.mark.parametrize("reduced", [False, True], ids=["no-reduction", "min-argmin-over-eps"])
def test_exact_sweep_equals_direct_calls(reduced):
  if reduced:   # a mixed population; xi fixed here, the rest from the scenario
    scenario = sweep.Scenario(P0_EXAMPLE, MAPS_EXAMPLE, [False, True, False])
    spec = _exact_spec(scenario=scenario, fixed=dict(alpha=(.06, .04, .03), xi=0.2),
                       reduce=Reduce(("eps",), ("min", "argmin")), chunk_points=7)
  else:
    spec = _exact_spec()
  result = sweep.run(spec, progress=False)
  assert result.kernel_traces == 1
  reference = _exact_reference(spec.validated())
  assert reference["exact[2]"].min() < 1 and (reference["feature_label[0]"] > 0).any()
  if reduced:
    rows = []
    for a0, group in reference.groupby("alpha[0]", sort=False):
      row = {"alpha[0]": a0}
      for column in reference.columns[2:]:
        values = group[column].to_numpy()
        row[f"{column}.min"] = values.min()
        row[f"{column}.argmin.eps"] = group["eps"].to_numpy()[np.argmin(values)]
      rows.append(row)
    reference = pd.DataFrame(rows)
  _assert_tables_match(result.table, reference[result.table.columns], rtol=1e-12)


def test_exact_spec_worked_example_single_point():
  """SPEC §10 as a one-point sweep: S = (1, 1, .5)."""
  spec = _exact_spec(axes={"eps": Axis.of([0.05])}, bounds=("exact",))
  row = sweep.run(spec, progress=False).table.iloc[0]
  np.testing.assert_allclose([row[f"exact[{c}]"] for c in range(3)], [1.0, 1.0, 0.5],
                             rtol=1e-12)
  np.testing.assert_allclose(row["exact.s_min"], 0.5, rtol=1e-12)
  assert sweep.loads(spec.validated().to_toml()) == spec.validated()


GOOD_EXACT = """\
bounds = ["exact"]
collectives = 2
targets = [1, 2]
[scenario]
p0 = [[0.2, 0.1, 0.1], [0.1, 0.3, 0.2]]
signal_maps = [[1, 1], [0, 1]]
[fixed]
alpha = [0.05, 0.05]
[axes]
eps = {kind = "linspace", start = 0.0, stop = 0.3, num = 4}
"""


def _edit_exact(old, new):
  assert old in GOOD_EXACT
  return GOOD_EXACT.replace(old, new)


EXACT_SPEC_ERRORS = [
    pytest.param(_edit_exact("0.2, 0.1, 0.1", "0.2, 0.1, 0.2"), "scenario.p0",
                 "must sum to 1 (tolerance 1e-05 at float32); got 1.1", id="p0-sum"),
    pytest.param(_edit_exact("0.2, 0.1, 0.1", "0.3, -0.1, 0.2"), "scenario.p0",
                 "non-negative", id="p0-negative"),
    pytest.param(_edit_exact("[0.1, 0.3, 0.2]]", "[0.1, 0.3]]"), "scenario.p0",
                 "rectangular table", id="p0-ragged"),
    pytest.param(_edit_exact("[[1, 1], [0, 1]]", "[[1, 2], [0, 1]]"), "scenario.signal_maps",
                 "point indices in [0, 1]", id="map-out-of-range"),
    pytest.param(_edit_exact("[[1, 1], [0, 1]]", "[[1, 1]]"), "scenario.signal_maps",
                 "shape (M, n) = (2, 2)", id="map-wrong-M"),
    pytest.param(_edit_exact("[[1, 1], [0, 1]]", "[[1, 1.5], [0, 1]]"), "scenario.signal_maps",
                 "integers", id="map-not-integer"),
    pytest.param(_edit_exact("targets = [1, 2]", "targets = [1, 3]"), "targets",
                 "labels in [0, 2] (scenario.p0 has K = 3", id="target-out-of-range"),
    pytest.param(_edit_exact("[0, 1]]\n", "[0, 1]]\nfeature_only = [true]\n"),
                 "scenario.feature_only", "list of 2 bools", id="feature-only-length"),
    pytest.param(_edit_exact("[0, 1]]\n", "[0, 1]]\nnoise = 0.1\n"), "scenario.noise",
                 "allowed keys: p0, signal_maps, feature_only", id="unknown-key"),
    pytest.param(_edit_exact("signal_maps = [[1, 1], [0, 1]]\n", ""), "scenario.signal_maps",
                 "missing", id="no-maps"),
    pytest.param(_edit_exact("[scenario]\np0 = [[0.2, 0.1, 0.1], [0.1, 0.3, 0.2]]\n"
                             "signal_maps = [[1, 1], [0, 1]]\n", ""),
                 "scenario", "the bound 'exact' needs a finite scenario", id="exact-no-scenario"),
]


@pytest.mark.parametrize("text, key, message", EXACT_SPEC_ERRORS)
def test_bad_scenario_names_file_key_and_range(tmp_path, text, key, message):
  sweep.loads(GOOD_EXACT)   # the unedited spec is fine
  path = tmp_path / "bad.toml"
  path.write_text(text)
  with pytest.raises(sweep.SpecError) as err:
    sweep.load(path)
  assert f"{path}: {key}: " in str(err.value)
  assert message in str(err.value)


def test_example_exact_tightness_runs_and_plots(tmp_path, monkeypatch):
  spec = sweep.load(EXAMPLES / "exact_tightness.toml")
  assert spec.bounds == ("exact", "feature_label") and spec.scenario is not None
  small = spec.replace(axes={"alpha[0]": Axis.logspace(0.005, 0.5, 6), "eps": spec.axes["eps"]})
  assert small.fingerprint() == _exact_spec().validated().fingerprint()
  table = sweep.run(small, tmp_path, progress=False).table
  exact = table[[f"exact[{c}]" for c in range(3)]].to_numpy()
  bound = table[[f"feature_label[{c}]" for c in range(3)]].to_numpy()
  assert np.all(bound <= exact + 1e-12)      # SPEC §2: every bound <= the exact success
  drawn, save = {}, plots.save
  monkeypatch.setattr(plots, "save", lambda fig, path: (drawn.setdefault(path.name, fig),
                                                        save(fig, path)))
  pngs = sweep.plot(tmp_path)
  assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
  # Exact solid and the bound dashed, in one colour per eps (tests/test_figures.py).
  panels = [ax for ax in drawn["exact_and_feature_label_vs_alpha_0.png"].axes if ax.get_lines()]
  assert len(panels) == 5                    # 3 collectives, S_min, S_w
  lines = panels[0].get_lines()
  solid = [tuple(line.get_color()) for line in lines if line.get_linestyle() == "-"]
  dashed = [tuple(line.get_color()) for line in lines if line.get_linestyle() == "--"]
  assert solid == dashed and len(set(solid)) == 4
  plots.plt.close("all")


def test_raw_bounds_that_overflow_still_clip_to_zero_under_min_and_max():
  """A valid point whose raw Theorem 1 value overflows to -inf reduces to 0, not NaN."""
  for ops in (("min",), ("max",)):
    spec = SweepSpec(axes={"xi": Axis.of([0.0]), "alpha[0]": Axis.of([2e-38, 3e-38]),
                           "alpha[1]": Axis.of([0.4])},
                     bounds=("feature_label",), collectives=2, collective=("s_min", "each"),
                     fixed={"xi_c": 1.0, "delta": 1.0, "eps": 0.49},
                     reduce=Reduce(("alpha[0]",), ops), dtype="float32")
    row = sweep.run(spec, progress=False).table.iloc[0]
    assert row[f"feature_label[0].{ops[0]}"] == 0.0
    assert row[f"feature_label.s_min.{ops[0]}"] == 0.0


def test_s_weighted_of_ones_is_exactly_one():
  rng = np.random.default_rng(1)
  alpha = tuple(jnp.asarray(a, jnp.float32) for a in rng.uniform(1e-4, 0.45, (2, 10_000)))
  ones = tuple(jnp.ones_like(a) for a in alpha)
  np.testing.assert_array_equal(np.asarray(_kernel._s_weighted(ones, alpha)), 1.0)
