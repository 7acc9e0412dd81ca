"""Out-of-domain values give NaN inside jit, never ordinary numbers (SPEC §11).

Table-driven over invalid inputs for every exact-engine entry point
(acajax.mixtures) and every bound (acajax.bounds):

* eager (concrete arguments): the engine raises ``ValueError`` naming the
  argument, as it always did; the building blocks and the bounds give NaN;
* under ``jax.jit`` (traced arguments): every floating output is NaN, and
  ``jax.grad`` of the (NaN) result is finite where the function is
  differentiable (the double-where trick).

Property tests check that valid random inputs still give the values of the
independent NumPy references, without NaN.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acajax import bounds, mixtures
from tests import np_bounds
from tests import numpy_reference as ref

# SPEC §10 worked example.
P0 = np.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
               [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
MAPS = np.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
TARGETS = np.array([1, 2, 1])
MASSES = np.array([.06, .04, .03])
EPS = 0.05
KERNELS = np.eye(6)[MAPS]                                 # the same maps as kernels
WEIGHTS = mixtures.SignalDistribution(np.full((3, 6), 1 / 6))
NOISE = mixtures.CoordinationNoise(abstain=.1, wrong_signal=.05, wrong_label=.05)


def _signed_kernels():
  """KERNELS with one row of collective 0 summing to 1 through a negative entry."""
  kernels = KERNELS.copy()
  kernels[0, 0] = 1.5 * np.eye(6)[4] - 0.5 * np.eye(6)[3]
  return kernels


def _p0_with(row, col, value, compensate=True):
  """P0 with one entry set to ``value`` (and, if asked, the sum kept at 1)."""
  table = P0.copy()
  shift = value - table[row, col]
  table[row, col] = value
  if compensate:
    table[0, 0] -= shift
  return table


# --------------------------------------------------------------------------
# Exact engine: scenario-level entry points
# --------------------------------------------------------------------------

# name -> (changes to the valid arguments, the argument the eager error names)
SCENARIO_CASES = {
    "p0 negative entry": (dict(p0=_p0_with(1, 2, -.01)), "p0"),
    "p0 sums to 1.01": (dict(p0=P0 * 1.01), "p0"),
    "p0 sums to 0.5": (dict(p0=P0 * 0.5), "p0"),
    "p0 NaN entry": (dict(p0=_p0_with(2, 1, np.nan, compensate=False)), "p0"),
    "p0 inf entry": (dict(p0=_p0_with(2, 1, np.inf, compensate=False)), "p0"),
    "map entry = n": (dict(signal_maps=np.where(MAPS == 5, 6, MAPS)), "signal_maps"),
    "map entry = -1": (dict(signal_maps=np.where(MAPS == 5, -1, MAPS)), "signal_maps"),
    "kernel rows sum to 1.2": (dict(signal_maps=KERNELS * 1.2), "signal_maps"),
    "kernel negative entry": (dict(signal_maps=_signed_kernels()), "signal_maps"),
    "weights sum to 0.5": (dict(signal_maps=mixtures.SignalDistribution(WEIGHTS.weights / 2)),
                           "signal_maps.weights"),
    "target = K": (dict(targets=np.array([1, 3, 1])), "targets"),
    "target = -1": (dict(targets=np.array([1, -1, 1])), "targets"),
    "masses negative": (dict(masses=np.array([.06, -.04, .03])), "masses"),
    "masses sum to 1": (dict(masses=np.array([.5, .4, .1])), "masses"),
    "masses NaN": (dict(masses=np.array([.06, np.nan, .03])), "masses"),
    "noise negative": (dict(noise=mixtures.CoordinationNoise(abstain=-.1)), "noise"),
    "noise sums past 1": (dict(noise=mixtures.CoordinationNoise(abstain=.6, wrong_label=.6)),
                          "noise"),
}


def _valid_args():
  return dict(p0=P0, signal_maps=MAPS, targets=TARGETS, masses=MASSES, eps=EPS, noise=None)


# name -> (function of the keyword arguments of _valid_args, its arguments,
#          differentiable in p0 and masses)
SCENARIO_ENTRIES = {
    "worst_case_success": (lambda p0, signal_maps, targets, masses, eps, noise:
                           mixtures.worst_case_success(p0, signal_maps, targets, masses, eps=eps,
                                                       noise=noise),
                           {"p0", "signal_maps", "targets", "masses", "eps", "noise"}),
    "bayes_success": (lambda p0, signal_maps, targets, masses, eps, noise:
                      mixtures.bayes_success(p0, signal_maps, targets, masses, noise=noise),
                      {"p0", "signal_maps", "targets", "masses", "noise"}),
    "mixture": (lambda p0, signal_maps, targets, masses, eps, noise:
                mixtures.mixture(p0, signal_maps, targets, masses, noise=noise),
                {"p0", "signal_maps", "targets", "masses", "noise"}),
    "scenario_parameters": (lambda p0, signal_maps, targets, masses, eps, noise:
                            mixtures.scenario_parameters(p0, signal_maps, targets, masses,
                                                         noise=noise),
                            {"p0", "signal_maps", "targets", "masses", "noise"}),
    "exact_analysis": (lambda p0, signal_maps, targets, masses, eps, noise:
                       mixtures.exact_analysis(p0, signal_maps, targets, masses, eps=eps,
                                               noise=noise),
                       {"p0", "signal_maps", "targets", "masses", "eps", "noise"}),
    "tightness_report": (lambda p0, signal_maps, targets, masses, eps, noise:
                         mixtures.tightness_report(p0, signal_maps, targets, masses, eps=eps),
                         {"p0", "signal_maps", "targets", "masses", "eps"}),
    "pushforwards": (lambda p0, signal_maps, targets, masses, eps, noise:
                     mixtures.pushforwards(p0, signal_maps, targets, noise=noise),
                     {"p0", "signal_maps", "targets", "noise"}),
}

# One jitted wrapper per entry point, reused by every case (compiled once
# per argument structure, not once per case).
JITTED = {name: jax.jit(fn) for name, (fn, _) in SCENARIO_ENTRIES.items()}


def _scenario_params():
  out = []
  for entry, (_, takes) in SCENARIO_ENTRIES.items():
    for case, (changes, _) in SCENARIO_CASES.items():
      if set(changes) <= takes:
        out.append(pytest.param(entry, case, id=f"{entry}-{case}"))
  return out


def _float_leaves(tree):
  return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)
          if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact)]


def _all_nan(tree) -> bool:
  leaves = _float_leaves(tree)
  return bool(leaves) and all(np.all(np.isnan(leaf)) for leaf in leaves)


def _args_for(case):
  args = _valid_args()
  args.update(SCENARIO_CASES[case][0])
  return args


@pytest.mark.parametrize("entry,case", _scenario_params())
def test_engine_eager_raises_naming_the_argument(entry, case):
  fn, _ = SCENARIO_ENTRIES[entry]
  with pytest.raises(ValueError, match=SCENARIO_CASES[case][1]):
    fn(**_args_for(case))


@pytest.mark.parametrize("entry,case", _scenario_params())
def test_engine_jit_gives_nan(entry, case):
  out = JITTED[entry](**_args_for(case))
  assert _all_nan(out), f"{entry} under jit with {case}: {out}"


def _loss(entry, args):
  """Sum of every floating output (NaN when out of domain) as a scalar."""
  out = JITTED[entry](**args)        # every argument traced, as inside a user's jit
  return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(out)
             if jnp.issubdtype(leaf.dtype, jnp.inexact))


@pytest.mark.parametrize("entry,case", [
    # exact_analysis covers the cores of success and parameters.
    p for p in _scenario_params() if p.values[0] in ("mixture", "exact_analysis",
                                                     "pushforwards")])
def test_engine_gradient_is_finite_out_of_domain(entry, case):
  """The result is NaN, its gradient in the float arguments finite (double where)."""
  args = _args_for(case)
  names = ["p0"] + (["masses"] if entry != "pushforwards" else [])
  if isinstance(args["signal_maps"], mixtures.SignalDistribution) or np.issubdtype(
      np.asarray(args["signal_maps"]).dtype, np.floating):
    names.append("signal_maps")
  if args["noise"] is not None:
    names.append("noise")

  def loss(*values):
    return _loss(entry, {**args, **dict(zip(names, values))})

  grads = jax.grad(loss, argnums=tuple(range(len(names))))(
      *(jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), args[n]) for n in names))
  assert np.isnan(float(jax.jit(loss)(*(args[n] for n in names))))
  for name, grad in zip(names, grads):
    for leaf in jax.tree.leaves(grad):
      assert np.all(np.isfinite(leaf)), f"{entry}: d/d{name} not finite with {case}"


def test_engine_valid_arguments_give_no_nan_under_jit():
  """The flag is false only out of domain: the valid worked example is unchanged."""
  for entry in SCENARIO_ENTRIES:
    for extra in (dict(), dict(signal_maps=KERNELS), dict(signal_maps=WEIGHTS),
                  dict(noise=NOISE)):
      args = {**_valid_args(), **extra}
      if not set(extra) <= SCENARIO_ENTRIES[entry][1]:
        continue
      eager = SCENARIO_ENTRIES[entry][0](**args)
      traced = JITTED[entry](**args)
      if entry == "tightness_report":   # NaN marks bounds that do not apply
        eager, traced = eager.exact, traced.exact
      for got, want in zip(_float_leaves(traced), _float_leaves(eager)):
        assert not np.any(np.isnan(got)), entry
        np.testing.assert_allclose(got, want, atol=1e-14)
  np.testing.assert_allclose(JITTED["worst_case_success"](**_valid_args()), [1, 1, .5])


def test_engine_vmap_flags_each_scenario_alone():
  """Under vmap one bad scenario is NaN, the others keep their values."""
  p0 = np.stack([P0, P0 * 1.01, P0])
  masses = np.stack([MASSES, MASSES, np.array([.06, -.04, .03])])
  out = jax.jit(jax.vmap(lambda p, m: mixtures.worst_case_success(p, MAPS, TARGETS, m,
                                                                  eps=EPS)))(p0, masses)
  np.testing.assert_allclose(out[0], [1, 1, .5])
  assert np.all(np.isnan(out[1:]))


# Surrogate: its own arguments (logits over candidates, temperature).
LOGITS = np.linspace(-1, 1, 12).reshape(3, 4)
CANDIDATES = np.array([0, 2, 4, 5])

SURROGATE_CASES = {
    "p0 negative entry": (dict(p0=_p0_with(1, 2, -.01)), "p0"),
    "p0 sums to 1.01": (dict(p0=P0 * 1.01), "p0"),
    "p0 NaN entry": (dict(p0=_p0_with(2, 1, np.nan, compensate=False)), "p0"),
    "target = K": (dict(targets=np.array([1, 3, 1])), "targets"),
    "masses negative": (dict(masses=np.array([.06, -.04, .03])), "masses"),
    "masses sum to 1": (dict(masses=np.array([.5, .4, .1])), "masses"),
    "candidate = n": (dict(candidates=np.array([0, 2, 4, 6])), "candidates"),
    "candidate = -1": (dict(candidates=np.array([0, 2, -1, 5])), "candidates"),
    "candidate repeated": (dict(candidates=np.array([0, 2, 2, 5])), "candidates"),
}


def _surrogate(p0, logits, targets, masses, eps, temperature, candidates):
  return mixtures.surrogate_success(p0, logits, targets, masses, eps=eps,
                                    temperature=temperature, candidates=candidates)


_surrogate_jit = jax.jit(_surrogate)


def _surrogate_args(case=None):
  args = dict(p0=P0, logits=LOGITS, targets=TARGETS, masses=MASSES, eps=EPS, temperature=0.1,
              candidates=CANDIDATES)
  if case is not None:
    args.update(SURROGATE_CASES[case][0])
  return args


@pytest.mark.parametrize("case", SURROGATE_CASES)
def test_surrogate_eager_raises_jit_gives_nan_with_finite_gradient(case):
  args = _surrogate_args(case)
  with pytest.raises(ValueError, match=SURROGATE_CASES[case][1]):
    _surrogate(**args)
  assert np.all(np.isnan(_surrogate_jit(**args)))

  def loss(p0, logits, masses):
    return jnp.sum(_surrogate_jit(**{**args, "p0": p0, "logits": logits, "masses": masses}))

  grads = jax.grad(loss, argnums=(0, 1, 2))(args["p0"], args["logits"], args["masses"])
  assert all(np.all(np.isfinite(g)) for g in grads), case
  assert not np.any(np.isnan(_surrogate_jit(**_surrogate_args())))


# --------------------------------------------------------------------------
# Exact engine: building blocks (no eager value checks; NaN in both modes)
# --------------------------------------------------------------------------

MEASURE = P0.sum(axis=1)
BLOCK_CASES = {
    "push_forward map entry = n": (mixtures.push_forward, (np.array([2, 6, 0, 1, 1, 1]), MEASURE)),
    "push_forward map entry = -1": (mixtures.push_forward,
                                    (np.array([2, -1, 0, 1, 1, 1]), MEASURE)),
    "push_forward kernel rows sum to 1.2": (mixtures.push_forward, (np.eye(6) * 1.2, MEASURE)),
    "push_forward weights NaN": (mixtures.push_forward, (
        mixtures.SignalDistribution(np.r_[np.nan, np.full(5, .2)]), MEASURE)),
    "pull_back map entry = n": (mixtures.pull_back, (np.array([2, 6, 0, 1, 1, 1]), MEASURE)),
    "pull_back kernel negative": (mixtures.pull_back,
                                  (1.5 * np.eye(6) - 0.5 * np.roll(np.eye(6), 1, axis=1),
                                   MEASURE)),
    "feature_label_strategy target = K": (mixtures.feature_label_strategy, (P0, MAPS[0], 3)),
    "feature_only_strategy target = -1": (mixtures.feature_only_strategy, (P0, MAPS[0], -1)),
    "feature_label_strategy map entry = n": (mixtures.feature_label_strategy,
                                             (P0, np.full(6, 6), 1)),
    "noisy strategy, noise sums past 1": (mixtures.with_coordination_noise(
        mixtures.feature_label_strategy, mixtures.CoordinationNoise(abstain=.7, wrong_label=.6)),
        (P0, MAPS[0], 1)),
    "margins negative entry": (mixtures.margins, (np.array([[.1, .3], [-.1, .3]]),)),
    "margins NaN entry": (mixtures.margins, (np.array([[.1, .3], [np.nan, .3]]),)),
    "margins inf entry": (mixtures.margins, (np.array([[.1, .3], [np.inf, .3]]),)),
}


def _nan_part(case, out):
  """The part of the output that must be NaN (per point for pull_back/margins)."""
  out = np.asarray(out)
  if case.startswith("pull_back map"):
    return out[1:2]                     # only x = 1 maps out of range
  if case.startswith("margins"):
    return out[1]                       # only row 1 is out of domain
  return out


@pytest.mark.parametrize("case", BLOCK_CASES)
def test_building_blocks_give_nan_eager_and_jit(case):
  fn, args = BLOCK_CASES[case]
  for mode, call in (("eager", fn), ("jit", jax.jit(fn))):
    out = call(*args)
    assert np.all(np.isnan(_nan_part(case, out))), f"{case} ({mode}): {out}"
  if case.startswith(("pull_back map", "margins")):    # the valid part keeps its value
    assert not np.any(np.isnan(np.asarray(fn(*args))[0]))


def test_strategy_kernel_and_soft_signal_out_of_domain():
  for target in (-1, 3):
    kernel = jax.jit(functools.partial(mixtures.strategy_kernel, num_labels=3),
                     static_argnums=0)(mixtures.feature_label_strategy, MAPS[0], target)
    assert np.all(np.isnan(kernel))
  soft = jax.jit(lambda c: mixtures.soft_signal(jnp.zeros(2), num_points=4,
                                                candidates=c).weights)
  for candidates in ([0, 4], [1, 1], [-1, 2]):
    assert np.all(np.isnan(soft(np.array(candidates)))), candidates
  np.testing.assert_allclose(soft(np.array([0, 3])), [.5, 0, 0, .5])


def test_margins_gradient_finite_on_an_invalid_row():
  def loss(joint):
    return jnp.sum(mixtures.margins(joint)[:, 1])
  grad = jax.grad(loss)(jnp.array([[.1, .3], [-.1, .3], [np.nan, .2]]))
  assert np.all(np.isfinite(grad)) and np.any(grad[0] != 0)


def test_integer_map_primitives_mask_out_of_range_under_vmap():
  """A bad index in one batch member must not land in (or read from) another's slice."""
  values = np.arange(12.0).reshape(2, 6)
  ids = np.array([[0, 1, 2, 3, 4, 6], [5, 5, 5, 5, 5, 5]])
  pushed = jax.jit(jax.vmap(mixtures.push_forward))(ids, values)
  assert np.all(np.isnan(pushed[0]))
  np.testing.assert_allclose(pushed[1], [0, 0, 0, 0, 0, values[1].sum()])
  pulled = jax.jit(jax.vmap(mixtures.pull_back))(ids, values)
  np.testing.assert_allclose(pulled[0, :5], values[0, :5])
  assert np.isnan(pulled[0, 5])
  np.testing.assert_allclose(pulled[1], np.full(6, values[1, 5]))
  ints = mixtures.pull_back(np.array([0, 7]), np.array([3, 4]))
  assert ints.tolist() == [3, np.iinfo(ints.dtype).min]


# --------------------------------------------------------------------------
# Bounds
# --------------------------------------------------------------------------

ALPHA = np.array([.05, .03, .02])
B_TARGETS = np.array([1, 0, 1])
XI_C = np.array([.01, .02, .005])
DELTA = np.array([.6, .4, .8])
P = np.array([.3, .4, .3])
SOFT = np.eye(3)[B_TARGETS]
FL_KW = dict(alpha_total=.1, beta=np.array([.02, 0., .05]), xi_c=XI_C, xi=.05, delta=DELTA,
             eps=.1)
FO_KW = dict(alpha_total=.1, beta=np.array([.02, 0., .05]), xi_c=XI_C, xi=.05, p=P, eps=.1)
PAIR_KW = dict(alpha_total=.1, xi_c=XI_C, delta=DELTA, eps=.1, competition=.0015)
CRIT_KW = dict(strategy="feature_label", alpha_others=.05, beta=.02, xi_c=.01, xi=.05, eps=.1,
               delta=.6)
SB_KW = dict(xi_c=XI_C, xi=.05, delta=DELTA, eps=.1)


def _soft(row, values):
  soft = SOFT.copy()
  soft[row] = values
  return soft


def _overlap(j, c, value):
  overlap = np.full((3, 3), .1)
  overlap[j, c] = value
  return overlap


# name -> (function of one float array, the invalid array, where the output
#          must be NaN (None: everywhere), differentiable)
BOUND_CASES = {
    "feature_label eps = 0.5": (lambda v: bounds.feature_label(ALPHA, **{**FL_KW, "eps": v}),
                                np.array(.5), None, True),
    "feature_label alpha = 0": (lambda v: bounds.feature_label(v, **FL_KW),
                                np.array([0., .03, .02]), [0], True),
    "feature_label delta = 1.5": (lambda v: bounds.feature_label(ALPHA, **{**FL_KW, "delta": v}),
                                  np.array([1.5, .4, .8]), [0], True),
    "feature_label xi NaN": (lambda v: bounds.feature_label(ALPHA, **{**FL_KW, "xi": v}),
                             np.array(np.nan), None, False),
    "feature_label_pairwise competition > misaligned": (
        lambda v: bounds.feature_label_pairwise(ALPHA, **{**PAIR_KW, "competition": v}),
        np.array(.09), [0], True),
    "feature_only p = 0": (lambda v: bounds.feature_only(ALPHA, **{**FO_KW, "p": v}),
                           np.array([0., .4, .3]), [0], True),
    "feature_only alpha_total = 1": (
        lambda v: bounds.feature_only(ALPHA, **{**FO_KW, "alpha_total": v}),
        np.array(1.), None, True),
    "critical_mass target = 1": (lambda v: bounds.critical_mass(v, **CRIT_KW), np.array(1.),
                                 None, True),
    "critical_mass beta > alpha_others": (
        lambda v: bounds.critical_mass(.9, **{**CRIT_KW, "beta": v}), np.array(.2), None, True),
    "s_weighted negative mass": (lambda v: bounds.s_weighted(np.array([.5, .6, .7]), v),
                                 np.array([.05, -.03, .02]), None, True),
    "s_weighted negative mass, clip=False": (
        lambda v: bounds.s_weighted(np.array([-.7, .6, .7]), v, clip=False),
        np.array([.5, -.1, .1]), None, True),
    "s_weighted masses sum to 1": (lambda v: bounds.s_weighted(np.array([.5, .6, .7]), v),
                                   np.array([.5, .3, .2]), None, True),
    "s_weighted masses sum past 1": (lambda v: bounds.s_weighted(np.array([.5, .6, .7]), v),
                                     np.array([.5, .6, .2]), None, True),
    "s_weighted mass NaN": (lambda v: bounds.s_weighted(np.array([.5, .6, .7]), v),
                            np.array([.5, np.nan, .2]), None, False),
    "s_min bound NaN": (lambda v: bounds.s_min(v), np.array([.5, np.nan, .2]), None, False),
    "scenario_bounds soft target negative": (
        lambda v: bounds.scenario_bounds(ALPHA, v, **SB_KW), _soft(1, [-.2, 1.2, 0.]), None,
        True),
    "scenario_bounds soft target negative, rows sum to 1": (
        lambda v: bounds.scenario_bounds(ALPHA, v, **SB_KW), _soft(0, [.1, 1., -.1]), None,
        True),
    "scenario_bounds soft row sums to 1.5": (
        lambda v: bounds.scenario_bounds(ALPHA, v, **SB_KW), _soft(1, [.5, .5, .5]), None,
        True),
    "scenario_bounds soft row sums to 0.9": (
        lambda v: bounds.scenario_bounds(ALPHA, v, **SB_KW), _soft(2, [0., .9, 0.]), None,
        True),
    "scenario_bounds soft target NaN": (
        lambda v: bounds.scenario_bounds(ALPHA, v, **SB_KW), _soft(0, [np.nan, 1., 0.]), None,
        False),
    "scenario_bounds one collective, soft row sums to 2": (
        lambda v: bounds.scenario_bounds(np.array([.1]), v, xi_c=.01, xi=0., delta=.5,
                                         eps=.1), np.array([[1., 1.]]), None, True),
    "scenario_bounds another mass negative": (
        lambda v: bounds.scenario_bounds(v, np.array([0, 1, 1]), **SB_KW),
        np.array([.1, -.01, .05]), None, True),
    "scenario_bounds feature_only soft row sums to 1.5": (
        lambda v: bounds.scenario_bounds(ALPHA, v, xi_c=XI_C, xi=.05, p=P, eps=.1,
                                         strategy="feature_only"), _soft(1, [.5, .5, .5]), None,
        True),
    "scenario_bounds overlap > 1": (
        lambda v: bounds.scenario_bounds(ALPHA, B_TARGETS, overlap=v, **SB_KW),
        _overlap(2, 1, 1.2), [1], True),
    "scenario_bounds overlap negative": (
        lambda v: bounds.scenario_bounds(ALPHA, B_TARGETS, overlap=v, **SB_KW),
        _overlap(2, 0, -.1), [0], True),   # an aligned pair: unused by the formula
    "alignment soft row off the simplex": (lambda v: bounds.alignment(v),
                                           _soft(1, [.5, .5, .5]), (1, slice(None)), True),
}


@pytest.mark.parametrize("case", BOUND_CASES)
def test_bounds_out_of_domain_nan_eager_and_jit(case):
  fn, value, where, _ = BOUND_CASES[case]
  for mode, call in (("eager", fn), ("jit", jax.jit(fn))):
    out = np.asarray(call(value))
    part = out if where is None else out[tuple(where) if isinstance(where, tuple) else where]
    assert np.all(np.isnan(part)), f"{case} ({mode}): {out}"


@pytest.mark.parametrize("case", [c for c, (*_, diff) in BOUND_CASES.items() if diff])
def test_bounds_gradient_finite_out_of_domain(case):
  fn, value, _, _ = BOUND_CASES[case]
  grad = jax.grad(lambda v: jnp.sum(fn(v)))(jnp.asarray(value, jnp.float64))
  assert np.all(np.isfinite(grad)), f"{case}: {grad}"


def test_alignment_keeps_valid_rows_and_checks_shapes():
  out = np.asarray(bounds.alignment(_soft(1, [.5, .5, .5])))
  assert out[0, 2] == 1.0 and out[0, 0] == 0.0
  assert np.all(np.isnan(out[1])) and np.all(np.isnan(out[:, 1]))
  with pytest.raises(ValueError, match="soft targets"):
    bounds.alignment(np.array([.5, .5]))
  with pytest.raises(ValueError, match="integer targets"):
    bounds.alignment(np.array([[0, 1]]))


def test_s_weighted_valid_edge_values_stay_numbers():
  """Zero masses beside positive ones and totals just below 1 are in the domain."""
  np.testing.assert_allclose(bounds.s_weighted(np.array([.5, .9]), np.array([0., .5])), .9)
  np.testing.assert_allclose(bounds.s_weighted(np.array([.5, .9]), np.array([.5, .4999])),
                             (.25 + .4999 * .9) / .9999)


# --------------------------------------------------------------------------
# Property tests: valid random inputs keep their values, without NaN
# --------------------------------------------------------------------------

N_PAD, K_PAD, M = 7, 3, 3


@jax.jit
def _engine(p0, maps, targets, masses, eps, fo):
  success = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=fo)
  par = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=fo)
  mix = mixtures.mixture(p0, maps, targets, masses, feature_only=fo)
  return success, par, mix


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), zeros=st.booleans(), kernels=st.booleans())
def test_valid_random_scenarios_match_the_numpy_reference(seed, zeros, kernels):
  rng = np.random.default_rng(seed)
  p0 = rng.gamma(0.7, size=(N_PAD, K_PAD))
  if zeros:
    p0 *= rng.random((N_PAD, K_PAD)) > 0.3
    p0[0, 0] += p0.sum() == 0
  p0 /= p0.sum()
  maps = rng.integers(0, N_PAD, size=(M, N_PAD))
  if kernels:
    maps = rng.dirichlet(np.ones(N_PAD) * 0.3, size=(M, N_PAD))
  targets = rng.integers(0, K_PAD, size=M)
  masses = rng.dirichlet(np.ones(M + 1))[:M] * rng.uniform(0.05, 0.99)
  eps = rng.uniform(0, 0.49)
  fo = rng.random(M) < 0.5
  success, par, mix = _engine(p0, maps, targets, masses, eps, fo)
  for leaf in (success, mix, *par):
    assert not np.any(np.isnan(leaf))
  np.testing.assert_allclose(success, ref.np_worst_case_success(p0, maps, targets, masses, eps,
                                                                fo), atol=1e-12)
  want = ref.np_scenario_parameters(p0, maps, targets, masses, fo)
  for name in ("xi_c", "xi", "overlap", "beta", "delta", "p", "misaligned"):
    np.testing.assert_allclose(getattr(par, name), want[name], atol=1e-12, err_msg=name)
  np.testing.assert_allclose(mix, ref.np_mixture(p0, maps, targets, masses, fo), atol=1e-13)


@jax.jit
def _soft_bounds(alpha, soft, xi_c, xi, delta, p, eps):
  fl = bounds.scenario_bounds(alpha, soft, xi_c=xi_c, xi=xi, delta=delta, eps=eps, clip=False)
  fo = bounds.scenario_bounds(alpha, soft, xi_c=xi_c, xi=xi, p=p, eps=eps,
                              strategy="feature_only", clip=False)
  return fl, fo, bounds.s_weighted(fl, alpha), bounds.alignment(soft)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num=st.integers(1, 4), hard=st.booleans())
def test_valid_random_bounds_match_the_numpy_reference(seed, num, hard):
  rng = np.random.default_rng(seed)
  alpha = rng.dirichlet(np.ones(num + 1))[:num] * rng.uniform(0.05, 0.99)
  labels = rng.integers(0, 3, size=num)
  soft = np.eye(3)[labels] if hard else rng.dirichlet(np.ones(3), size=num)
  xi_c, delta, p = rng.uniform(0, 1, num), rng.uniform(0, 1, num), rng.uniform(.05, 1, num)
  xi, eps = rng.uniform(0, 1), rng.uniform(0, .45)
  fl, fo, weighted, align = _soft_bounds(alpha, soft, xi_c, xi, delta, p, eps)
  want_align = (soft @ soft.T) * (1 - np.eye(num))
  beta = want_align.T @ alpha
  want_fl = np.array([np_bounds.feature_label(alpha[c], alpha.sum(), beta[c], xi_c[c], xi,
                                              delta[c], eps, clip=False) for c in range(num)])
  want_fo = np.array([np_bounds.feature_only(alpha[c], alpha.sum(), beta[c], xi_c[c], xi, p[c],
                                             eps, clip=False) for c in range(num)])
  for got, want in ((align, want_align), (fl, want_fl), (fo, want_fo)):
    assert not np.any(np.isnan(got))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(weighted, np.sum(alpha * np.clip(want_fl, 0, 1)) / alpha.sum(),
                             rtol=1e-12)
  if hard:
    np.testing.assert_allclose(fl, bounds.scenario_bounds(alpha, labels, xi_c=xi_c, xi=xi,
                                                          delta=delta, eps=eps, clip=False),
                               rtol=1e-12)
