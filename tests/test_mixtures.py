"""Tests of the exact engine, acajax.mixtures (SPEC §1–§5, §7, §10, §11)."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from acajax import bounds, mixtures
from acajax.runs import tables
from tests import numpy_reference as ref

# SPEC §10 worked example.
P0_SPEC = np.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
                    [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
MAPS_SPEC = np.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])
TARGETS_SPEC = np.array([1, 2, 1])
MASSES_SPEC = np.array([.06, .04, .03])

TOL = 1e-9  # bound <= exact + TOL, float64


# --------------------------------------------------------------------------
# Random instances
# --------------------------------------------------------------------------

# Property tests pad every instance to N_PAD points and K_PAD labels so that one
# compilation (per M) serves all sizes: padded points and labels carry no P0
# mass and are never targets, which leaves every quantity of SPEC §2–§3
# unchanged (a zero column never wins a max; a zero row is in no signal set and
# is excluded from Delta and p).
N_PAD, K_PAD = 8, 4


def make_batch(seed, n, k, m, batch, *, fo_mode, zero_rows=True, zero_entries=True):
  """A batch of valid random scenarios, padded to (N_PAD, K_PAD).

  Returns (p0, maps, targets, masses, eps, feature_only) as NumPy arrays with
  a leading batch axis.
  """
  rng = np.random.default_rng(seed)
  real = rng.gamma(0.7, size=(batch, n, k))
  if zero_entries:
    real *= rng.random((batch, n, k)) > 0.25
  if zero_rows:
    real *= (rng.random((batch, n)) > 0.25)[..., None]
  real[:, 0, 0] += real.sum(axis=(1, 2)) == 0
  p0 = np.zeros((batch, N_PAD, K_PAD))
  p0[:, :n, :k] = real / real.sum(axis=(1, 2), keepdims=True)
  # Half the collectives send everything to a few points (rare signals, so the
  # bounds are often informative); the others use fully random maps.
  maps = rng.integers(0, n, size=(batch, m, N_PAD))
  few = rng.integers(0, n, size=(batch, m, 2))
  concentrated = np.take_along_axis(few, rng.integers(0, 2, size=(batch, m, N_PAD)), axis=-1)
  maps = np.where((rng.random((batch, m)) < 0.5)[..., None], concentrated, maps)
  targets = rng.integers(0, k, size=(batch, m))
  total = rng.uniform(0.02, 0.95, size=(batch, 1))
  masses = rng.dirichlet(np.ones(m), size=batch) * total
  eps = np.where(rng.random(batch) < 0.3, 0.0, rng.uniform(0, 0.45, size=batch))
  if fo_mode == "fl":
    fo = np.zeros((batch, m), bool)
  elif fo_mode == "fo":
    fo = np.ones((batch, m), bool)
  else:
    fo = rng.random((batch, m)) < 0.5
  return p0, maps, targets, masses, eps, fo


@jax.jit
@jax.vmap
def analyse(p0, maps, targets, masses, eps, fo):
  """Exact success and every raw (unclipped) bound with SPEC §3 parameters."""
  exact = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=fo)
  par = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=fo)
  common = dict(alpha_total=masses.sum(), xi_c=par.xi_c, eps=eps, clip=False)
  misaligned_pair = targets[:, None] != targets[None, :]
  competition = jnp.sum(masses[:, None] * par.overlap * misaligned_pair, axis=0)
  return dict(
      exact=exact,
      theorem1=bounds.feature_label(masses, beta=par.beta, xi=par.xi, delta=par.delta, **common),
      pairwise=bounds.feature_label_pairwise(masses, delta=par.delta, competition=competition,
                                             **common),
      sound=bounds.feature_only(masses, beta=par.beta, xi=par.xi, p=par.p, variant="sound",
                                **common),
      published=bounds.feature_only(masses, beta=par.beta, xi=par.xi, p=par.p,
                                    variant="published", **common),
      report=mixtures.tightness_report(p0, maps, targets, masses, eps=eps, feature_only=fo))


def run_analysis(batch):
  return jax.tree_util.tree_map(np.asarray, analyse(*batch))


def assert_below(bound, exact, name):
  """bound <= exact + TOL wherever the bound is defined (not NaN)."""
  bound = np.broadcast_to(bound, exact.shape)
  defined = ~np.isnan(bound)
  excess = np.where(defined, bound - exact, -np.inf)
  worst = np.unravel_index(np.argmax(excess), excess.shape)
  assert excess[worst] <= TOL, f"{name} exceeds the exact success at {worst}: {excess[worst]}"


def corollaries(per_collective, masses, exact):
  """(S_min exact, S_min bound, S_w exact, S_w bound) from per-collective bounds."""
  s_w = np.sum(masses * exact, axis=-1) / np.sum(masses, axis=-1)
  return (exact.min(axis=-1), np.asarray(bounds.s_min(per_collective)), s_w,
          np.asarray(bounds.s_weighted(per_collective, masses)))


instance_sizes = dict(n=st.integers(3, 8), k=st.integers(2, 4), m=st.integers(1, 3),
                      seed=st.integers(0, 2**32 - 1))


# --------------------------------------------------------------------------
# SPEC §10 and the NumPy reference
# --------------------------------------------------------------------------


def test_spec_worked_example(maybe_jit):
  mix = maybe_jit(mixtures.mixture)(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC)
  np.testing.assert_allclose(mix[4], [.0348, .1011, .0261], atol=1e-12)
  np.testing.assert_allclose(mix[5], [.0261, .0411, .0748], atol=1e-12)
  success = maybe_jit(mixtures.worst_case_success)(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC,
                                                   eps=0.05)
  np.testing.assert_allclose(success, [1.0, 1.0, 0.5], atol=1e-12)
  par = maybe_jit(mixtures.scenario_parameters)(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC)
  np.testing.assert_allclose(par.xi_c, [.1, .1, .2], atol=1e-12)
  np.testing.assert_allclose(par.beta, [.03, 0, .06], atol=1e-12)
  np.testing.assert_allclose(par.delta, [.1, 0, .1], atol=1e-12)
  np.testing.assert_allclose(par.overlap[:, 0], [1, 0, .5], atol=1e-12)
  np.testing.assert_allclose(par.overlap[:, 2], [1, 1, 1], atol=1e-12)
  np.testing.assert_allclose(par.misaligned, [.04, .09, .04], atol=1e-12)


def test_spec_worked_example_float32():
  success = mixtures.worst_case_success(P0_SPEC.astype(np.float32), MAPS_SPEC, TARGETS_SPEC,
                                        MASSES_SPEC.astype(np.float32), eps=0.05)
  assert success.dtype == jnp.float32
  np.testing.assert_allclose(success, [1.0, 1.0, 0.5], atol=1e-6)


def test_bayes_success_is_eps_zero():
  at_zero = mixtures.worst_case_success(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, eps=0.0)
  bayes = mixtures.bayes_success(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC)
  np.testing.assert_array_equal(bayes, at_zero)


@pytest.mark.parametrize("n,k,m,fo_mode,kernels", [
    (3, 2, 1, "fl", False), (5, 3, 2, "fo", False), (6, 4, 3, "mixed", False),
    (4, 3, 2, "mixed", True), (7, 2, 3, "fl", True)])
def test_matches_numpy_reference(n, k, m, fo_mode, kernels):
  rng = np.random.default_rng(n * 100 + k * 10 + m)
  for _ in range(4):
    p0 = rng.gamma(0.7, size=(n, k)) * (rng.random((n, k)) > 0.2)
    p0[0, 0] += 1e-3
    p0 /= p0.sum()
    if kernels:
      maps = rng.gamma(0.3, size=(m, n, n)) * (rng.random((m, n, n)) > 0.5)
      maps[:, :, 0] += 1e-3
      maps /= maps.sum(axis=-1, keepdims=True)
    else:
      maps = rng.integers(0, n, size=(m, n))
    targets = rng.integers(0, k, size=m)
    masses = rng.dirichlet(np.ones(m + 1))[:m]
    fo = {"fl": False, "fo": True, "mixed": rng.random(m) < 0.5}[fo_mode]
    eps = rng.uniform(0, 0.3)
    np.testing.assert_allclose(
        mixtures.mixture(p0, maps, targets, masses, feature_only=fo),
        ref.np_mixture(p0, maps, targets, masses, fo), atol=1e-13)
    np.testing.assert_allclose(
        mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=fo),
        ref.np_worst_case_success(p0, maps, targets, masses, eps, fo), atol=1e-12)
    par = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=fo)
    for name, expected in ref.np_scenario_parameters(p0, maps, targets, masses, fo).items():
      np.testing.assert_allclose(getattr(par, name), expected, atol=1e-12, err_msg=name)


def test_signal_forms_agree():
  """A map, its one-hot kernel, and a SignalDistribution vs its kernel."""
  rng = np.random.default_rng(1)
  n, k, m = 6, 3, 2
  p0 = rng.random((n, k))
  p0 /= p0.sum()
  maps = rng.integers(0, n, size=(m, n))
  kernels = np.eye(n)[maps]
  targets, masses, fo = np.array([0, 2]), np.array([.2, .3]), np.array([False, True])
  for eps in (0.0, 0.1):
    np.testing.assert_allclose(
        mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=fo),
        mixtures.worst_case_success(p0, kernels, targets, masses, eps=eps, feature_only=fo),
        atol=1e-13)
  weights = rng.dirichlet(np.ones(n), size=m)
  broadcast = np.broadcast_to(weights[:, None, :], (m, n, n))
  dist = mixtures.SignalDistribution(weights)
  np.testing.assert_allclose(mixtures.mixture(p0, dist, targets, masses, feature_only=fo),
                             mixtures.mixture(p0, broadcast, targets, masses, feature_only=fo),
                             atol=1e-13)
  np.testing.assert_allclose(
      mixtures.worst_case_success(p0, dist, targets, masses, eps=0.05, feature_only=fo),
      mixtures.worst_case_success(p0, broadcast, targets, masses, eps=0.05, feature_only=fo),
      atol=1e-13)


def test_builtin_fast_path_equals_strategy_functions():
  """The assembled FL/FO mixture equals pushing P0 through the strategy kernels."""
  p0, maps, targets, masses, eps, fo = (x[0] for x in make_batch(9, 7, 3, 3, 1, fo_mode="mixed"))
  rng = np.random.default_rng(9)
  distribution = mixtures.SignalDistribution(rng.dirichlet(np.ones(N_PAD), size=3))
  cases = [(maps, fo), (maps, False), (np.eye(N_PAD)[maps], True), (distribution, fo)]
  for signals, flags in cases:
    @jax.jit  # one compilation per case
    def both_paths(p0, signals, targets, masses, eps):
      pushed = mixtures.pushforwards(p0, signals, targets, feature_only=flags)  # per strategy
      expected = (1 - masses.sum()) * p0 + jnp.tensordot(masses, pushed, axes=1)
      mix = mixtures.mixture(p0, signals, targets, masses, feature_only=flags)
      fast = mixtures.exact_analysis(p0, signals, targets, masses, eps=eps, feature_only=flags)
      # Zero noise forces the general path through the same computation.
      general = mixtures.exact_analysis(p0, signals, targets, masses, eps=eps, feature_only=flags,
                                        noise=mixtures.CoordinationNoise())
      return mix, expected, fast, general

    mix, expected, fast, general = both_paths(p0, signals, targets, masses, eps)
    np.testing.assert_allclose(mix, expected, atol=1e-14)
    for got, want in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(general)):
      np.testing.assert_allclose(got, want, atol=1e-14)


def test_equality_counts_as_success():
  """A margin equal to 2 eps in exact arithmetic succeeds; just above it fails."""
  p0 = np.array([[.3, .2], [.25, .25]])
  maps, targets, masses = np.array([[0, 0]]), np.array([0]), np.array([.1])
  # Mixture row x0 = .9 [.3, .2] + [.1, 0] = [.37, .18]: margin .19 / .55.
  eps = (.19 / .55) / 2
  assert float(mixtures.worst_case_success(p0, maps, targets, masses, eps=eps)[0]) == 1.0
  assert float(mixtures.worst_case_success(p0, maps, targets, masses, eps=eps + 1e-9)[0]) == 0.0


def test_out_of_domain_gives_nan(maybe_jit):
  success = maybe_jit(mixtures.worst_case_success)
  for eps in (0.5, 0.7, -0.01):
    assert np.all(np.isnan(success(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, eps=eps)))
  assert not np.any(np.isnan(success(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, eps=0.4999)))
  # Masses are checked eagerly (ValueError) and become NaN when traced.
  traced = jax.jit(lambda masses: mixtures.worst_case_success(
      P0_SPEC, MAPS_SPEC, TARGETS_SPEC, masses, eps=0.1))
  assert np.all(np.isnan(traced(np.array([.5, .4, .2]))))
  assert np.all(np.isnan(traced(np.array([-.1, .4, .2]))))


def test_zero_mass_point_in_image_is_lost():
  """alpha_c = 0 and a signal point without P0 mass: no conditional, counted lost."""
  p0 = np.array([[.5, .0], [.0, .5], [0., 0.]])
  success = mixtures.worst_case_success(p0, np.array([[2, 2, 2]]), np.array([0]),
                                        np.array([0.]), eps=0.0)
  assert float(success[0]) == 0.0
  par = mixtures.scenario_parameters(p0, np.array([[2, 2, 2]]), np.array([0]), np.array([0.]))
  assert float(par.xi_c[0]) == 0.0 and float(par.delta[0]) == 0.0 and float(par.xi[0]) == 0.0


# --------------------------------------------------------------------------
# Strategies as kernels, coordination noise, custom strategies
# --------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [
    mixtures.feature_label_strategy, mixtures.feature_only_strategy,
    mixtures.with_coordination_noise(mixtures.feature_only_strategy,
                                     mixtures.CoordinationNoise(.1, .2, .3))])
@pytest.mark.parametrize("kind", ["map", "kernel", "distribution"])
def test_strategy_is_a_kernel(strategy, kind):
  rng = np.random.default_rng(2)
  n, k = 5, 3
  p0 = rng.random((n, k))
  p0 /= p0.sum()
  signal = {"map": rng.integers(0, n, size=n),
            "kernel": rng.dirichlet(np.ones(n), size=n),
            "distribution": mixtures.SignalDistribution(rng.dirichlet(np.ones(n)))}[kind]
  kernel = np.asarray(mixtures.strategy_kernel(strategy, signal, 1, num_labels=k))
  assert kernel.shape == (n * k, n * k)
  assert np.all(kernel >= 0)
  np.testing.assert_allclose(kernel.sum(axis=1), 1, atol=1e-13)
  np.testing.assert_allclose(p0.reshape(-1) @ kernel,
                             np.asarray(strategy(jnp.asarray(p0), signal, 1)).reshape(-1),
                             atol=1e-13)


def test_integer_signal_batching_rules():
  """push_forward/pull_back of integer maps under nested vmap, jvp and grad.

  They batch by folding the batch axis into the point axis (custom_vmap); the
  results must equal the stock segment sum and gather.
  """
  rng = np.random.default_rng(8)
  values = rng.random((3, 2, 5))
  ids = rng.integers(0, 5, size=(3, 2, 5))
  want_push = np.zeros_like(values)
  for b, c in np.ndindex(3, 2):
    np.add.at(want_push[b, c], ids[b, c], values[b, c])
  want_pull = np.take_along_axis(values, ids, axis=-1)
  for fn, want in ((mixtures.push_forward, want_push), (mixtures.pull_back, want_pull)):
    nested = jax.jit(jax.vmap(jax.vmap(lambda v, g: fn(g, v))))
    np.testing.assert_allclose(nested(values, ids), want, atol=1e-15)
    # One side unbatched: shared values, or a shared map.
    shared_values = jax.vmap(lambda g: fn(g, values[0, 0]))(ids[:, 0])
    shared_map = jax.vmap(lambda v: fn(ids[0, 0], v))(values[:, 0])
    for b in range(3):
      np.testing.assert_allclose(shared_values[b], fn(ids[b, 0], values[0, 0]), atol=1e-15)
      np.testing.assert_allclose(shared_map[b], fn(ids[0, 0], values[b, 0]), atol=1e-15)

  def loss(v, fn, stock):
    if stock:
      out = jax.vmap(lambda v, g: jax.ops.segment_sum(v, g, num_segments=5) if fn is
                     mixtures.push_forward else v[g])(v, ids[:, 0])
    else:
      out = jax.vmap(lambda v, g: fn(g, v))(v, ids[:, 0])
    return jnp.sum(jnp.sin(out) * jnp.arange(5.0))

  for fn in (mixtures.push_forward, mixtures.pull_back):
    np.testing.assert_allclose(jax.grad(loss)(values[:, 0], fn, False),
                               jax.grad(loss)(values[:, 0], fn, True), atol=1e-14)
    tangent = rng.random((3, 5))
    _, jvp_custom = jax.jvp(lambda v: loss(v, fn, False), (values[:, 0],), (tangent,))
    _, jvp_stock = jax.jvp(lambda v: loss(v, fn, True), (values[:, 0],), (tangent,))
    np.testing.assert_allclose(jvp_custom, jvp_stock, atol=1e-14)


def test_coordination_noise():
  p0, maps, targets, masses = P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC
  # Everyone abstains: the firm sees P0.
  everyone = mixtures.CoordinationNoise(abstain=1.0)
  np.testing.assert_allclose(mixtures.mixture(p0, maps, targets, masses, noise=everyone), p0,
                             atol=1e-13)
  # No noise: identical to the plain strategy.
  none = mixtures.CoordinationNoise()
  np.testing.assert_allclose(mixtures.mixture(p0, maps, targets, masses, noise=none),
                             mixtures.mixture(p0, maps, targets, masses), atol=1e-13)
  # Per-collective fractions against the hand-written mixture of SPEC §1.
  noise = mixtures.CoordinationNoise(abstain=np.array([.1, 0, .2]), wrong_signal=.1,
                                     wrong_label=np.array([0, .3, .1]))
  expected = (1 - masses.sum()) * p0
  for c in range(3):
    a, s, l = noise.abstain[c], 0.1, noise.wrong_label[c]
    follow = ref.np_pushforward(p0, maps[c], targets[c], False)
    uniform = ref.np_pushforward(p0, np.full((6, 6), 1 / 6), targets[c], False)
    wrong = np.mean([ref.np_pushforward(p0, maps[c], y, False)
                     for y in range(3) if y != targets[c]], axis=0)
    expected += masses[c] * ((1 - a - s - l) * follow + a * p0 + s * uniform + l * wrong)
  np.testing.assert_allclose(mixtures.mixture(p0, maps, targets, masses, noise=noise), expected,
                             atol=1e-13)
  # Noise only lowers c2's success here, and success stays measured on g_c.
  noisy = mixtures.worst_case_success(p0, maps, targets, masses, eps=0.05, noise=noise)
  assert noisy.shape == (3,) and np.all((noisy >= 0) & (noisy <= 1))


def test_custom_strategy_is_one_function():
  def label_flip(p0, signal, target):
    """Feature-label, but half the members keep their own label (a new kernel)."""
    return 0.5 * mixtures.feature_label_strategy(p0, signal, target) + 0.5 * jnp.stack(
        [mixtures.push_forward(signal, p0[:, y]) for y in range(p0.shape[1])], axis=1)
  mix = mixtures.mixture(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, strategy=label_flip)
  np.testing.assert_allclose(mix.sum(), 1, atol=1e-13)
  np.testing.assert_allclose(
      mixtures.mixture(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC,
                       strategy=mixtures.feature_label_strategy),
      mixtures.mixture(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC), atol=1e-15)


# --------------------------------------------------------------------------
# Property tests: every bound <= exact worst-case success (SPEC §4, §5, §7)
# --------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(**instance_sizes)
def test_feature_label_bounds_hold(n, k, m, seed):
  batch = make_batch(seed, n, k, m, 32, fo_mode="fl")
  out = run_analysis(batch)
  exact, masses = out["exact"], batch[3]
  assert not np.any(np.isnan(exact))
  assert not np.any(np.isnan(out["theorem1"]))
  assert_below(out["theorem1"], exact, "Theorem 1")
  assert_below(out["pairwise"], exact, "Theorem 1 (pairwise)")
  assert np.all(out["pairwise"] >= out["theorem1"] - TOL)  # O[j, c] <= xi
  for name in ("theorem1", "pairwise"):
    smin, smin_bound, sw, sw_bound = corollaries(out[name], masses, exact)
    assert_below(smin_bound, smin, f"S_min from {name}")
    assert_below(sw_bound, sw, f"S_w from {name}")
  report = out["report"]
  for name in ("theorem1", "theorem1_pairwise", "best"):
    assert_below(report.bounds[name], exact, f"report {name}")
    assert_below(report.bounds_min[name], report.exact_min, f"report S_min {name}")
    assert_below(report.bounds_weighted[name], report.exact_weighted, f"report S_w {name}")


@settings(max_examples=50, deadline=None)
@given(mixed=st.booleans(), **instance_sizes)
def test_feature_only_sound_bound_holds(mixed, n, k, m, seed):
  # No zero entries inside rows, so p_c > 0 and the bound is defined.
  batch = make_batch(seed, n, k, m, 32, fo_mode="mixed" if mixed else "fo", zero_entries=False)
  out = run_analysis(batch)
  exact, masses, fo = out["exact"], batch[3], batch[5]
  sound = np.where(fo, out["sound"], np.nan)
  assert_below(sound, exact, "Theorem 2 (sound)")
  # Corollaries with the trivial bound 0 for feature-label collectives.
  per_collective = np.where(fo, out["sound"], 0.0)
  smin, smin_bound, sw, sw_bound = corollaries(per_collective, masses, exact)
  assert_below(smin_bound, smin, "S_min from Theorem 2")
  assert_below(sw_bound, sw, "S_w from Theorem 2")
  report = out["report"]
  assert_below(report.bounds["theorem2_sound"], exact, "report theorem2_sound")
  assert_below(report.bounds["best"], exact, "report best")
  assert_below(report.bounds_min["best"], report.exact_min, "report S_min best")
  assert_below(report.bounds_weighted["best"], report.exact_weighted, "report S_w best")
  if mixed:
    assert np.all(np.isnan(report.bounds["theorem1"][fo.any(axis=1)]))


def test_property_instances_are_informative():
  """The random instances above do make the bounds bite (not all vacuous)."""
  fl = run_analysis(make_batch(0, 5, 3, 2, 2000, fo_mode="fl"))
  fo = run_analysis(make_batch(0, 5, 3, 2, 2000, fo_mode="fo", zero_entries=False))
  assert np.mean(fl["theorem1"] > 0.05) > 0.05
  assert np.mean(fo["sound"] > 0.05) > 0.02
  assert np.mean(fo["published"] > fo["exact"] + 1e-6) > 0  # SPEC §5: published fails


# --------------------------------------------------------------------------
# Regression instances (SPEC §4–§5), found once by a random search: 20,000
# random instances with P0 entries in multiples of 1/total, vmapped through
# worst_case_success, scenario_parameters and acajax.bounds; the cleanest
# violating instance of each kind is kept here, checked against the NumPy
# reference as well.
# --------------------------------------------------------------------------


def test_published_theorem2_exceeds_exact():
  """SPEC §5: the published Theorem 2 is violated; the sound form holds.

  One feature-only collective (M = 1, so no competition term), every stated
  assumption met: p = 1/2 <= (1 + 2 eps)/2, alpha > 0, eps < 1/2.
  """
  p0 = np.array([[1, 0], [7, 6], [9, 9]]) / 32
  maps, targets, masses, eps = np.array([[0, 0, 2]]), np.array([0]), np.array([.37]), 0.02
  exact = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=True)
  np.testing.assert_allclose(exact, ref.np_worst_case_success(p0, maps, targets, masses, eps, True))
  np.testing.assert_allclose(exact, [0.4375])  # x2 (P0_X = 18/32) keeps a margin below 2 eps
  par = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=True)
  np.testing.assert_allclose(par.p, [0.5])
  assert float(par.p[0]) <= (1 + 2 * eps) / 2
  kw = dict(alpha_total=masses.sum(), beta=par.beta, xi_c=par.xi_c, xi=par.xi, p=par.p, eps=eps)
  published = bounds.feature_only(masses, variant="published", **kw)
  sound = bounds.feature_only(masses, variant="sound", **kw)
  assert float(published[0]) > float(exact[0]) + 0.4   # about 0.866 > 0.4375
  assert 0 < float(sound[0]) <= float(exact[0])         # about 0.248, informative and valid


def test_theorem1_fails_with_aligned_feature_only_collective():
  """SPEC §4: Theorem 1 fails once an aligned collective is feature-only.

  c1 (feature-only, same target) leaves its label-1 members at x1, x2 — on
  c0's signal point x2 — adding non-target mass that Theorem 1 does not count.
  With c1 feature-label instead, Theorem 1 holds; in the mixed population the
  sound Theorem 2 holds for c1.
  """
  p0 = np.array([[2, 0], [6, 1], [7, 7]]) / 23
  maps, targets = np.array([[2, 2, 2], [0, 1, 1]]), np.array([0, 0])
  masses, eps = np.array([.13, .39]), 0.04

  def thm1(fo):
    par = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=fo)
    value = bounds.feature_label(masses, alpha_total=masses.sum(), beta=par.beta, xi_c=par.xi_c,
                                 xi=par.xi, delta=par.delta, eps=eps)
    return value, par

  mixed = np.array([False, True])
  exact = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=mixed)
  np.testing.assert_allclose(exact,
                             ref.np_worst_case_success(p0, maps, targets, masses, eps, mixed))
  np.testing.assert_allclose(exact, [0.0, 1.0])
  value, par = thm1(mixed)
  assert float(value[0]) > float(exact[0]) + 0.8  # about 0.805 > 0
  sound = bounds.feature_only(masses, alpha_total=masses.sum(), beta=par.beta, xi_c=par.xi_c,
                              xi=par.xi, p=par.p, eps=eps)
  assert float(sound[1]) <= float(exact[1])
  all_fl = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps)
  assert np.all(np.asarray(thm1(False)[0]) <= np.asarray(all_fl) + TOL)


# --------------------------------------------------------------------------
# Batching, jit, recompilation
# --------------------------------------------------------------------------


def test_vmap_equals_loop():
  p0, maps, targets, masses, eps, fo = make_batch(7, 6, 3, 3, 3, fo_mode="mixed")
  kernels = np.eye(N_PAD)[maps]
  logits = np.log1p(maps.astype(float))

  def one(p0, signals, logits, targets, masses, eps, fo):
    return (mixtures.worst_case_success(p0, signals, targets, masses, eps=eps, feature_only=fo),
            mixtures.scenario_parameters(p0, signals, targets, masses, feature_only=fo),
            mixtures.exact_analysis(p0, signals, targets, masses, eps=eps, feature_only=fo),
            mixtures.tightness_report(p0, signals, targets, masses, eps=eps, feature_only=fo),
            mixtures.surrogate_success(p0, logits, targets, masses, eps=eps, temperature=0.05,
                                       feature_only=fo))

  def one_kernel(p0, signals, logits, targets, masses, eps, fo):
    return mixtures.exact_analysis(p0, signals, targets, masses, eps=eps, feature_only=fo)

  for fn, signals in ((one, maps), (one_kernel, kernels)):
    single = jax.jit(fn)  # the loop: one scenario per call
    batched = jax.vmap(fn)(p0, signals, logits, targets, masses, eps, fo)
    for i in range(len(p0)):
      want = single(p0[i], signals[i], logits[i], targets[i], masses[i], eps[i], fo[i])
      for got, expected in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(got)[i], expected, atol=1e-13)


def test_jit_equals_eager(maybe_jit):
  p0, maps, targets, masses, eps, fo = (x[0] for x in make_batch(3, 7, 4, 3, 1, fo_mode="mixed"))
  eager = mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=fo)
  got = maybe_jit(mixtures.worst_case_success)(p0, maps, targets, masses, eps=eps,
                                               feature_only=fo)
  np.testing.assert_array_equal(got, eager)
  par = maybe_jit(mixtures.scenario_parameters)(p0, maps, targets, masses, feature_only=fo)
  want = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=fo)
  for got_leaf, want_leaf in zip(par, want):
    np.testing.assert_allclose(got_leaf, want_leaf, atol=1e-15)
  logits = np.linspace(-1, 1, 3 * N_PAD).reshape(3, N_PAD)
  surrogate = maybe_jit(mixtures.surrogate_success)(p0, logits, targets, masses, eps=eps,
                                                    temperature=0.1, feature_only=fo)
  np.testing.assert_allclose(surrogate, mixtures.surrogate_success(
      p0, logits, targets, masses, eps=eps, temperature=0.1, feature_only=fo), atol=1e-14)


def test_no_recompilation_for_new_values():
  args = make_batch(11, 5, 3, 2, 2, fo_mode="fl")
  mixtures.worst_case_success(*(x[0] for x in args[:4]), eps=0.1)
  size = mixtures._success_core._cache_size()
  mixtures.worst_case_success(*(x[1] for x in args[:4]), eps=0.2)
  assert mixtures._success_core._cache_size() == size


def test_batch_of_ten_thousand_scenarios_is_one_call():
  """10,000 scenarios (n = 64, K = 4, M = 4): one jitted, vmapped call."""
  batch, n, k, m = 10_000, 64, 4, 4
  rng = np.random.default_rng(0)
  p0 = rng.random((batch, n, k))
  p0 /= p0.sum(axis=(1, 2), keepdims=True)
  maps = rng.integers(0, n, size=(batch, m, n))
  targets = rng.integers(0, k, size=(batch, m))
  masses = rng.dirichlet(np.ones(m + 1), size=batch)[:, :m]

  @jax.jit
  def analyse_all(p0, maps, targets, masses):
    def one(p0, maps, targets, masses):
      out = mixtures.exact_analysis(p0, maps, targets, masses, eps=0.05)
      return out.success, out.parameters
    return jax.vmap(one)(p0, maps, targets, masses)

  jax.block_until_ready(analyse_all(p0, maps, targets, masses))  # compile
  start = time.perf_counter()
  success, par = jax.block_until_ready(analyse_all(p0, maps, targets, masses))
  elapsed = time.perf_counter() - start
  assert success.shape == (batch, m) and par.overlap.shape == (batch, m, m)
  assert np.all((success >= 0) & (success <= 1))
  assert elapsed < 10, f"10,000 scenarios took {elapsed:.1f} s"
  for i in (0, 4321, batch - 1):
    np.testing.assert_allclose(success[i], ref.np_worst_case_success(
        p0[i], maps[i], targets[i], masses[i], 0.05), atol=1e-12)


# --------------------------------------------------------------------------
# Differentiable surrogate
# --------------------------------------------------------------------------


def _surrogate_case():
  rng = np.random.default_rng(5)
  n, k = 6, 3
  p0 = rng.random((n, k))
  p0 /= p0.sum()
  logits = rng.normal(size=(2, 4))
  candidates = np.array([0, 2, 3, 5])
  return p0, logits, candidates, np.array([0, 2]), np.array([.2, .15]), 0.05


@pytest.mark.parametrize("fo", [False, True])
def test_surrogate_tends_to_exact(fo):
  p0, logits, candidates, targets, masses, eps = _surrogate_case()
  signal = mixtures.soft_signal(logits, num_points=6, candidates=candidates)
  kernels = np.broadcast_to(np.asarray(signal.weights)[:, None, :], (2, 6, 6))
  exact = mixtures.worst_case_success(p0, kernels, targets, masses, eps=eps, feature_only=fo)
  # Premise: no candidate margin sits at 2 eps.
  margin = np.asarray(mixtures.margins(mixtures.mixture(p0, kernels, targets, masses,
                                                        feature_only=fo)))
  assert np.min(np.abs(margin[candidates][:, targets] - 2 * eps)) > 1e-2
  errors = [float(np.max(np.abs(mixtures.surrogate_success(
      p0, logits, targets, masses, eps=eps, temperature=t, candidates=candidates,
      feature_only=fo) - exact))) for t in (1e-1, 1e-2, 1e-3, 1e-4)]
  assert all(later <= earlier for earlier, later in zip(errors, errors[1:])), errors
  assert errors[0] > errors[-1]
  assert errors[-1] < 1e-3


def test_surrogate_gradients_finite():
  p0, logits, candidates, targets, masses, eps = _surrogate_case()

  def total(masses, logits, temperature=0.05):
    return jnp.sum(mixtures.surrogate_success(p0, logits, targets, masses, eps=eps,
                                              temperature=temperature, candidates=candidates,
                                              feature_only=np.array([False, True])))

  grad_masses, grad_logits = jax.grad(total, argnums=(0, 1))(masses, logits)
  assert np.all(np.isfinite(grad_masses)) and np.all(np.isfinite(grad_logits))
  assert np.any(grad_masses != 0) and np.any(grad_logits != 0)
  check_grads(total, (masses, logits), order=1, modes=["rev"])
  # Domain edges: a candidate without P0 mass whose weight underflows to 0,
  # a zero mass, and a tiny temperature.
  p0_hole = np.vstack([p0[:5], np.zeros((1, 3))])
  p0_hole /= p0_hole.sum()
  edge_logits = np.array([[0., 1., 2., -800.], [-800., 0., 0., 0.]])

  def edge(masses, logits):
    return jnp.sum(mixtures.surrogate_success(p0_hole, logits, targets, masses, eps=eps,
                                              temperature=1e-6, candidates=candidates))

  grads = jax.grad(edge, argnums=(0, 1))(np.array([0., .1]), edge_logits)
  assert all(np.all(np.isfinite(g)) for g in grads)


def test_surrogate_temperature_out_of_domain():
  p0, logits, candidates, targets, masses, eps = _surrogate_case()
  for temperature in (0.0, -1.0):
    out = mixtures.surrogate_success(p0, logits, targets, masses, eps=eps,
                                     temperature=temperature, candidates=candidates)
    assert np.all(np.isnan(out))


# --------------------------------------------------------------------------
# Tightness report
# --------------------------------------------------------------------------


def test_tightness_report_and_frame():
  report = mixtures.tightness_report(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, eps=0.05)
  np.testing.assert_allclose(report.exact, [1, 1, .5], atol=1e-12)
  assert np.all(np.isnan(report.bounds["theorem2_sound"]))  # no feature-only collective
  for name in ("theorem1", "theorem1_pairwise", "best"):
    assert np.all(report.gaps[name] >= -TOL)
  np.testing.assert_allclose(report.gaps["theorem1"], report.exact - report.bounds["theorem1"])
  frame = tables.tightness_frame(report)
  assert list(frame.index) == ["c0", "c1", "c2", "S_min", "S_w"]
  assert list(frame.columns) == (["exact", *mixtures.BOUND_NAMES]
                                 + [f"gap_{name}" for name in mixtures.BOUND_NAMES])
  np.testing.assert_allclose(frame.loc["S_w", "exact"], (.06 + .04 + .015) / .13)
  with pytest.raises(ValueError, match="report"):
    tables.tightness_frame(jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), report))
  fo = mixtures.tightness_report(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, eps=0.05,
                                 feature_only=np.array([True, False, True]))
  assert np.all(np.isnan(fo.bounds["theorem1"]))
  assert np.isnan(fo.bounds["theorem2_sound"][1]) and float(fo.bounds["best"][1]) == 0.0


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


def _bad(**changes):
  args = dict(p0=P0_SPEC, signal_maps=MAPS_SPEC, targets=TARGETS_SPEC, masses=MASSES_SPEC,
              eps=0.05, feature_only=False, noise=None)
  args.update(changes)
  return args


BAD_INPUTS = [
    ("p0", ValueError, _bad(p0=np.vstack([P0_SPEC[:5], [[.1, -.01, -.09]]]))),
    ("p0", ValueError, _bad(p0=P0_SPEC * 1.01)),
    ("p0", ValueError, _bad(p0=P0_SPEC.reshape(-1))),
    ("p0", ValueError, _bad(p0=P0_SPEC[:, :1] / P0_SPEC[:, 0].sum())),
    ("signal_maps", ValueError, _bad(signal_maps=MAPS_SPEC + 2)),
    ("signal_maps", ValueError, _bad(signal_maps=MAPS_SPEC[:, :5])),
    ("signal_maps", TypeError, _bad(signal_maps=MAPS_SPEC.astype(float))),
    ("signal_maps", ValueError, _bad(signal_maps=np.full((3, 6, 6), 0.2))),
    ("signal_maps", ValueError, _bad(signal_maps=np.full((3, 6, 5), 0.2))),
    ("signal_maps", ValueError, _bad(signal_maps=np.zeros((3, 6, 6, 1)))),
    ("targets", ValueError, _bad(targets=np.array([1, 3, 1]))),
    ("targets", ValueError, _bad(targets=np.array([1, 2]))),
    ("targets", TypeError, _bad(targets=np.array([1., 2., 1.]))),
    ("masses", ValueError, _bad(masses=np.array([.06, -.04, .03]))),
    ("masses", ValueError, _bad(masses=np.array([.5, .4, .1]))),
    ("masses", ValueError, _bad(masses=np.array([.06, .04]))),
    ("feature_only", ValueError, _bad(feature_only=np.array([True, False]))),
    ("feature_only", TypeError, _bad(feature_only=np.array([1, 0, 1]))),
    ("eps", ValueError, _bad(eps=np.array([.05, .1]))),
    ("noise", ValueError, _bad(noise=mixtures.CoordinationNoise(abstain=-.1))),
    ("noise", ValueError, _bad(noise=mixtures.CoordinationNoise(abstain=.6, wrong_label=.6))),
]


@pytest.mark.parametrize("name,error,args", BAD_INPUTS,
                         ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(BAD_INPUTS)])
def test_bad_input_names_the_argument(name, error, args):
  with pytest.raises(error, match=name):
    mixtures.worst_case_success(args.pop("p0"), args.pop("signal_maps"), args.pop("targets"),
                                args.pop("masses"), **args)


def test_shape_errors_while_tracing():
  with pytest.raises(ValueError, match="masses"):
    jax.jit(lambda masses: mixtures.worst_case_success(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, masses,
                                                       eps=0.1))(np.array([.1, .1]))
  with pytest.raises(ValueError, match="candidates"):
    mixtures.surrogate_success(P0_SPEC, np.zeros((3, 2)), TARGETS_SPEC, MASSES_SPEC, eps=0.1,
                               temperature=0.1, candidates=np.array([0, 9]))
  with pytest.raises(ValueError, match="strategy"):
    mixtures.mixture(P0_SPEC, MAPS_SPEC, TARGETS_SPEC, MASSES_SPEC, feature_only=True,
                     strategy=mixtures.feature_label_strategy)
