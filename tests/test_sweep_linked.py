"""Linked sweeps: derived parameters ([derived]) and the strategy as an axis.

References are independent: the bounds at each point from the scalar float64
formulas of ``tests/np_bounds.py`` with the linked values computed here in
NumPy, and the exact engine from ``tests/numpy_reference.py``.
"""

import itertools
import math

import numpy as np
import pytest

from acajax import sweep
from acajax.sweep import Axis, SweepSpec
from tests import np_bounds
from tests.numpy_reference import np_scenario_parameters, np_worst_case_success

# A finite scenario with P0(y|x) > 0 everywhere (so p_c > 0 and Theorem 2 applies).
P0 = ((0.10, 0.05, 0.05), (0.05, 0.15, 0.02), (0.10, 0.05, 0.05),
      (0.05, 0.05, 0.10), (0.04, 0.03, 0.03), (0.03, 0.02, 0.04))
P0 = tuple(tuple(v / sum(map(sum, P0)) for v in row) for row in P0)
MAPS = ((4, 4, 4, 4, 4, 4), (5, 5, 5, 5, 5, 5))
TARGETS = (1, 2)


def _points(table, name):
  return table[name].to_numpy()


def test_derived_mass_matches_the_numpy_reference():
  spec = SweepSpec(
      axes={"alpha[0]": Axis.linspace(0.01, 0.09, 5), "eps": Axis.of([0.0, 0.1])},
      bounds=("feature_label", "feature_only"), collectives=2, targets=(0, 1),
      fixed={"budget": 0.1, "xi_c": (0.02, 0.03), "xi": 0.1, "delta": 0.5, "p": 0.4},
      derived={"alpha[1]": "budget - alpha[0]"}, collective=("each", "s_min"),
      dtype="float64")
  table = sweep.run(spec).table
  assert list(table.columns[:3]) == ["alpha[0]", "eps", "alpha[1]"]
  for _, row in table.iterrows():
    a0, eps = row["alpha[0]"], row["eps"]
    a1 = 0.1 - a0
    assert row["alpha[1]"] == pytest.approx(a1, abs=1e-15)
    total = a0 + a1
    fl = [np_bounds.feature_label(a, total, 0.0, xi_c, 0.1, 0.5, eps)
          for a, xi_c in ((a0, 0.02), (a1, 0.03))]
    fo = [np_bounds.feature_only(a, total, 0.0, xi_c, 0.1, 0.4, eps)
          for a, xi_c in ((a0, 0.02), (a1, 0.03))]
    np.testing.assert_allclose([row["feature_label[0]"], row["feature_label[1]"]], fl,
                               atol=1e-12)
    np.testing.assert_allclose([row["feature_only[0]"], row["feature_only[1]"]], fo,
                               atol=1e-12)
    assert row["feature_label.s_min"] == pytest.approx(min(fl), abs=1e-12)


def test_split_axis_with_min_max_and_chained_derived_parameters():
  """A variable axis t splits a budget; eps is derived from a derived mass (a chain)."""
  spec = sweep.loads("""
collectives = 2
bounds = ["feature_label"]
dtype = "float64"
[fixed]
budget = 0.2
xi_c = 0.05
xi = 0.2
delta = 0.3
[axes]
t = {kind = "linspace", start = 0.1, stop = 0.9, num = 9}
[derived]
eps = "min(0.1, max(alpha[0], alpha[1]) / 2)"
"alpha[0]" = "budget * t"
"alpha[1]" = "budget * (1 - t)"
""")
  assert list(spec.derived) == ["alpha[0]", "alpha[1]", "eps"]    # evaluation order
  table = sweep.run(spec).table
  t = np.linspace(0.1, 0.9, 9)
  a0, a1 = 0.2 * t, 0.2 * (1 - t)
  eps = np.minimum(0.1, np.maximum(a0, a1) / 2)
  np.testing.assert_allclose(_points(table, "eps"), eps, atol=1e-15)
  expected = [[np_bounds.feature_label(a, x + y, 0.0, 0.05, 0.2, 0.3, e)
               for a in (x, y)] for x, y, e in zip(a0, a1, eps)]
  np.testing.assert_allclose(table[["feature_label[0]", "feature_label[1]"]].to_numpy(),
                             expected, atol=1e-12)


def test_reduced_axis_derived_values_and_toml_round_trip():
  """A derived mass over a reduced axis gets no column; the spec survives TOML.

  The masses are not symmetric (0.11, not 0.1), so the argmax is no tie that
  rounding decides.
  """
  spec = SweepSpec(
      axes={"xi": Axis.of([0.0, 0.2]), "alpha[0]": Axis.linspace(0.02, 0.08, 4)},
      bounds=("feature_label",), collectives=2, derived={"alpha[1]": "0.11 - alpha[0]"},
      fixed={"xi_c": 0.02, "delta": 0.5, "eps": 0.0}, collective=("s_min",),
      reduce=sweep.Reduce(("alpha[0]",), ("max", "argmax")), dtype="float64").validated()
  again = sweep.loads(spec.to_toml())
  assert again.fingerprint() == spec.fingerprint() and again.derived == spec.derived
  table = sweep.run(spec).table
  assert "alpha[1]" not in table.columns
  for _, row in table.iterrows():
    values = [min(np_bounds.feature_label(a, 0.11, 0.0, 0.02, row["xi"], 0.5, 0.0),
                  np_bounds.feature_label(0.11 - a, 0.11, 0.0, 0.02, row["xi"], 0.5, 0.0))
              for a in np.linspace(0.02, 0.08, 4)]
    assert row["feature_label.s_min.max"] == pytest.approx(max(values), abs=1e-12)
    best = np.linspace(0.02, 0.08, 4)[int(np.argmax(values))]
    assert row["feature_label.s_min.argmax.alpha[0]"] == pytest.approx(best, abs=1e-15)


def _strategy_spec(**changes):
  base = dict(axes={"strategy[0]": Axis.of(["feature_label", "feature_only"]),
                    "alpha[0]": Axis.of([0.02, 0.05, 0.12]), "eps": Axis.of([0.0, 0.05])},
              bounds=("exact", "by_strategy"), collectives=2, targets=TARGETS,
              scenario=dict(p0=P0, signal_maps=MAPS), fixed={"alpha": (0.05, 0.06),
                                                             "strategy": "feature_label"},
              collective=("each",), dtype="float64")
  base.update(changes)
  return SweepSpec(**base)


def test_strategy_axis_equals_separate_sweeps_and_the_numpy_engine(tmp_path):
  table = sweep.run(_strategy_spec(), tmp_path / "out").table
  _, read = sweep.read_results(tmp_path / "out")
  assert sorted(read["strategy[0]"].unique()) == ["feature_label", "feature_only"]
  # The mixed half against a separate sweep whose scenario fixes the strategies.
  alone = sweep.run(SweepSpec(
      axes={"alpha[0]": Axis.of([0.02, 0.05, 0.12]), "eps": Axis.of([0.0, 0.05])},
      bounds=("exact", "feature_only"), collectives=2, targets=TARGETS,
      scenario=dict(p0=P0, signal_maps=MAPS, feature_only=[True, False]),
      fixed={"alpha": (0.05, 0.06)}, dtype="float64")).table
  part = table[table["strategy[0]"] == "feature_only"].reset_index(drop=True)
  for c in (0, 1):
    np.testing.assert_allclose(part[f"exact[{c}]"], alone[f"exact[{c}]"], atol=1e-12)
    # With collective 0 feature-only, the sound Theorem 2 for both (SPEC §5).
    np.testing.assert_allclose(part[f"by_strategy[{c}]"], alone[f"feature_only[{c}]"],
                               atol=1e-12)
  # Both halves against the independent engine.
  for strategy, flags in (("feature_label", [False, False]), ("feature_only", [True, False])):
    part = table[table["strategy[0]"] == strategy].reset_index(drop=True)
    assert (read[read["strategy[0]"] == strategy]["exact[0]"].to_numpy()
            == pytest.approx(part["exact[0]"].to_numpy()))
    for _, row in part.iterrows():
      masses = [row["alpha[0]"], 0.06]
      exact = np_worst_case_success(np.array(P0), np.array(MAPS), np.array(TARGETS),
                                    np.array(masses), row["eps"], feature_only=flags)
      np.testing.assert_allclose([row["exact[0]"], row["exact[1]"]], exact, atol=1e-9)
      # The bound's scenario parameters come from the independent engine, with the
      # overlap at these strategies (SPEC §3), and it lies below the exact success.
      par = np_scenario_parameters(np.array(P0), np.array(MAPS), np.array(TARGETS),
                                   np.array(masses), feature_only=flags)
      for c in (0, 1):
        args = dict(alpha=masses[c], alpha_total=sum(masses), beta=0.0, xi_c=par["xi_c"][c],
                    xi=par["xi"][c], eps=row["eps"])
        expected = (np_bounds.feature_label(delta=par["delta"][c], **args) if not flags[0]
                    else np_bounds.feature_only(p=par["p"][c], **args))
        assert row[f"by_strategy[{c}]"] == pytest.approx(expected, abs=1e-9)
        assert row[f"by_strategy[{c}]"] <= row[f"exact[{c}]"] + 1e-12


def test_global_strategy_axis_and_fixed_strategy_names():
  """strategy sweeps every collective at once; a fixed list of names sets each one."""
  axes = {"strategy": Axis.of(["feature_label", "feature_only"]),
          "alpha[0]": Axis.of([0.05, 0.1])}
  table = sweep.run(_strategy_spec(axes=axes, fixed={"alpha": (0.05, 0.06), "eps": 0.0},
                                   bounds=("exact",))).table
  mixed = sweep.run(_strategy_spec(axes={"alpha[0]": Axis.of([0.05, 0.1])}, bounds=("exact",),
                                   fixed={"alpha": (0.05, 0.06), "eps": 0.0,
                                          "strategy": ["feature_label", "feature_only"]})).table
  for frame, flags in [(table[table["strategy"] == "feature_label"], [False, False]),
                       (table[table["strategy"] == "feature_only"], [True, True]),
                       (mixed, [False, True])]:
    for _, row in frame.iterrows():
      exact = np_worst_case_success(np.array(P0), np.array(MAPS), np.array(TARGETS),
                                    np.array([row["alpha[0]"], 0.06]), 0.0, feature_only=flags)
      np.testing.assert_allclose([row["exact[0]"], row["exact[1]"]], exact, atol=1e-9)


BASE = """
collectives = 2
bounds = ["feature_label"]
[fixed]
xi_c = 0.01
xi = 0.1
delta = 0.5
eps = 0.05
{fixed}
[axes]
"alpha[0]" = {{kind = "linspace", start = 0.01, stop = 0.09, num = 5}}
{axes}
[derived]
{derived}
"""


@pytest.mark.parametrize("fixed, axes, derived, match", [
    ("budget = 0.1", "", '"alpha[1]" = "budget - alpha[0"', r"derived\.\"alpha\[1\]\": bad syntax"),
    ("", "", '"alpha[1]" = "budjet - alpha[0]"', r"unknown name 'budjet'.*may read: alpha\[0\]"),
    ("", "", '"alpha[1]" = "__import__(\'os\').getcwd()"', r"only min\(\.\.\.\) and max"),
    ("", "", '"alpha[1]" = "alpha[0] ** 2"', r"the operator \*\* is not allowed"),
    ("budget = 0.1", "", '"alpha[1]" = "budget - alpha[0]"\n"alpha[0]" = "budget - alpha[1]"',
     r"alpha\[0\]\": alpha\[0\] is both on an axis and derived"),
    ("", "", '"alpha[1]" = "0.1 - xi_c[1]"\n"xi_c[1]" = "alpha[1] / 2"', r"cycle: "),
    ("budget = 0.1\nunused = 2.0", "", '"alpha[1]" = "budget - alpha[0]"',
     r"fixed\.unused: unknown parameter"),
    ("budget = 0.05", "", '"alpha[1]" = "budget - alpha[0]"',
     r"alpha\[1\] = 0 at alpha\[0\] = 0\.05, outside its domain \(0, 1\)"),
    ("", "", '"alpha[1]" = "0.95 + alpha[0] / 2"', r"derived: the collectives' masses can sum "
     r"to 1\.0\d* >= 1"),
    ("", "", '"alpha[1]" = "0.1 - alpha"', r"cycle: alpha\[1\] -> alpha\[1\]"),
    ("", "", 'eps = "alpha / 2"', r"derived\.eps: alpha has one value per collective"),
    ("", "", '"alpha[1]" = "0.1 - alpha[2]"', r"collective index of alpha must be in \[0, 1\]"),
    ("", "", 'strategy = "feature_only"', r"strategy takes names"),
    ("", "", '"bogus[1]" = "0.1"', r"a derived key is a parameter"),
    ("", 'strategy = {kind = "values", values = ["feature_label", "featureonly"]}',
     '"alpha[1]" = "0.05"', r"axes\.strategy\.values\[1\]: must be one of feature_label"),
    ("strategy = \"fl\"", "", '"alpha[1]" = "0.05"', r"fixed\.strategy: must be one of"),
])
def test_spec_errors_name_the_key(fixed, axes, derived, match):
  text = BASE.format(fixed=fixed, axes=axes, derived=derived)
  if derived.startswith("eps"):
    text = text.replace("eps = 0.05\n", "")
  if "strategy" in text:
    text = text.replace('bounds = ["feature_label"]', 'bounds = ["by_strategy"]\n'
                        ).replace("delta = 0.5", "delta = 0.5\np = 0.5")
  with pytest.raises(sweep.SpecError, match=match):
    sweep.loads(text, source="s.toml")


@pytest.mark.parametrize("strategy", ['fixed.strategy = ["feature_label", "feature_only"]',
                                      'axes.strategy = {kind = "values", values = '
                                      '["feature_label", "feature_only"]}'])
def test_theorem_1_is_refused_where_a_collective_plays_feature_only(strategy):
  section, line = strategy.split(".", 1)
  text = BASE.format(fixed=line if section == "fixed" else "",
                     axes=line if section == "axes" else "", derived='"alpha[1]" = "0.05"')
  text = text.replace("delta = 0.5", "delta = 0.5\np = 0.5")
  with pytest.raises(sweep.SpecError, match=r"bounds: feature_label assumes every collective "
                                            r"plays feature-label .*use by_strategy"):
    sweep.loads(text.replace('bounds = ["feature_label"]', 'bounds = ["by_strategy", '
                             '"feature_label"]'), source="s.toml")
  sweep.loads(text.replace('bounds = ["feature_label"]', 'bounds = ["by_strategy"]'),
              source="s.toml")


def test_out_of_domain_derived_values_are_nan_when_allowed():
  spec = SweepSpec(axes={"alpha[0]": Axis.of([0.02, 0.08])}, bounds=("feature_label",),
                   collectives=2, fixed={"budget": 0.05, "xi_c": 0.01, "xi": 0.1, "delta": 0.5,
                                         "eps": 0.0},
                   derived={"alpha[1]": "budget - alpha[0]"}, dtype="float64",
                   allow_out_of_domain=True)
  table = sweep.run(spec).table
  assert math.isfinite(table["feature_label[0]"][0]) and math.isfinite(table["feature_label[1]"][0])
  assert table[["feature_label[0]", "feature_label[1]"]].iloc[1].isna().all()
  assert list(itertools.chain(table["alpha[1]"].round(6))) == [0.03, -0.03]


# -- validation specs: masses as a split of a budget ------------------------------------

SPLIT_SPEC = """
name = "split"
dataset = "finite_table"
learner = "logistic"
seeds = [0]
{split}
[data]
num_samples = 400
p0 = [[0.10, 0.05, 0.05], [0.05, 0.14, 0.02], [0.10, 0.05, 0.05],
      [0.05, 0.05, 0.10], [0.04, 0.03, 0.03], [0.03, 0.03, 0.03]]
[train]
steps = 20
{collectives}
"""
TWO = """
[[collectives]]
mass = 0.05
target = 1
signal = 4
[[collectives]]
mass = 0.05
target = 2
signal = 5
"""


def _split_spec(tmp_path, split, collectives=TWO):
  from acajax.runs import validate       # deferred: the learners stack is slow to import
  path = tmp_path / "split.toml"
  path.write_text(SPLIT_SPEC.format(split=split, collectives=collectives))
  return validate, validate.load(path)


def test_split_masses_results_column_and_exact_success(tmp_path):
  validate, spec = _split_spec(tmp_path, "split = {budget = 0.1, num = 3}")
  assert spec.split == {"budget": 0.1, "t": (0.25, 0.5, 0.75)}
  frame = validate.run(spec).frame
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  for t, group in per.groupby("split_t"):
    masses = group.sort_values("collective")["mass"].to_numpy()
    np.testing.assert_allclose(masses, [0.1 * t, 0.1 * (1 - t)], atol=1e-15)
    used = group.sort_values("collective")["mass_used"].to_numpy()
    # The exact worst-case success at the learner's eps_hat, from the independent engine.
    for c, row in enumerate(group.sort_values("collective").itertuples()):
      exact = np_worst_case_success(np.array(P0_SPLIT), np.array([[4] * 6, [5] * 6]),
                                    np.array([1, 2]), used, row.eps_hat)
      assert row.exact_success == pytest.approx(exact[c], abs=1e-6)
  # Three collectives: c0 gets t * budget, the others share the rest by their masses.
  three = TWO + "[[collectives]]\nmass = 0.15\ntarget = 1\nsignal = 5\n"
  validate, spec = _split_spec(tmp_path, "split = {budget = 0.2, t = [0.5]}", three)
  assert [validate.mass_at(spec, c, 0.5) for c in range(3)] == pytest.approx([0.1, 0.025, 0.075])


P0_SPLIT = ((0.10, 0.05, 0.05), (0.05, 0.14, 0.02), (0.10, 0.05, 0.05),
            (0.05, 0.05, 0.10), (0.04, 0.03, 0.03), (0.03, 0.03, 0.03))


@pytest.mark.parametrize("split, match", [
    ("split = {budget = 0.1, num = 3}\nmass_grid = [1.0, 2.0]", r"split: replaces mass_grid"),
    ("split = {budget = 1.5, num = 3}", r"split\.budget: .*\(0, 1\)"),
    ("split = {budget = 0.1, num = 3, t = [0.5]}", r"split: give num .* or t"),
    ("split = {budget = 0.1, t = [0.5, 1.0]}", r"split\.t\[1\]"),
    ("split = {budget = 0.1, share = 3}", r"split\.share"),
    ("split = 0.1", r"split: must be a table"),
    ("split = {budget = 0.002, num = 1}", r"split: share t = 0\.5 gives collectives\[0\] mass "
     r"0\.001, no member"),
])
def test_split_errors_name_the_key(tmp_path, split, match):
  from acajax.runs import _spec as spec_io   # deferred: as _split_spec
  with pytest.raises(spec_io.SpecError, match=match):
    _split_spec(tmp_path, split)


def test_derived_parameters_on_kept_and_reduced_axes_together():
  """A derived mass on a kept axis gets its column; one on a reduced axis does not."""
  spec = SweepSpec(
      axes={"alpha[0]": Axis.of([0.02, 0.06]), "u": Axis.of([0.0, 0.1])},
      bounds=("feature_label",), collectives=2,
      derived={"alpha[1]": "0.1 - alpha[0]", "eps": "u / 2"},
      fixed={"xi_c": 0.02, "xi": 0.1, "delta": 0.5}, reduce=sweep.Reduce(("u",), ("min",)),
      dtype="float64")
  table = sweep.run(spec).table
  assert list(table.columns[:2]) == ["alpha[0]", "alpha[1]"] and "eps" not in table.columns
  for _, row in table.iterrows():
    a0 = row["alpha[0]"]
    worst = min(np_bounds.feature_label(a0, 0.1, 0.0, 0.02, 0.1, 0.5, eps) for eps in (0, .05))
    assert row["feature_label[0].min"] == pytest.approx(worst, abs=1e-12)
