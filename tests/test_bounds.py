"""Tests of acajax.bounds against SPEC §10, a NumPy reference, and invariants."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from acajax import bounds
from tests import np_bounds

# SPEC §10, closed-form check: three collectives.
ALPHA = np.array([.05, .03, .02])
TARGETS = np.array([1, 0, 1])
XI_C = np.array([.01, .02, .005])
XI = .05
DELTA = np.array([.6, .4, .8])
P = np.array([.3, .4, .3])
EPS = .1
BETA = np.array([.02, 0., .05])
FL_EXPECTED = np.array([0.775, 0.375, 0.60625])
FO_SOUND_EXPECTED = np.array([0.325, -0.354167, -0.03125])
FO_PUBLISHED_EXPECTED = np.array([0.383333, -0.229167, 0.041667])


def _fl(dtype=np.float64, **overrides):
  kw = dict(alpha_total=ALPHA.sum(), beta=BETA, xi_c=XI_C, xi=XI, delta=DELTA, eps=EPS)
  kw.update(overrides)
  kw = {k: np.asarray(v, dtype) for k, v in kw.items()}
  return np.asarray(ALPHA, dtype), kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spec_example_feature_label(maybe_jit, dtype):
  alpha, kw = _fl(dtype)
  fn = maybe_jit(functools.partial(bounds.feature_label, clip=False))
  out = fn(alpha, **kw)
  assert out.dtype == dtype
  np.testing.assert_allclose(out, FL_EXPECTED, rtol=1e-5 if dtype == np.float32 else 1e-12)
  np.testing.assert_allclose(bounds.s_min(out), .375, rtol=1e-5)
  np.testing.assert_allclose(bounds.s_weighted(out, alpha), .62125, rtol=1e-5)


@pytest.mark.parametrize("variant, expected", [("sound", FO_SOUND_EXPECTED),
                                               ("published", FO_PUBLISHED_EXPECTED)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spec_example_feature_only(maybe_jit, variant, expected, dtype):
  fn = maybe_jit(functools.partial(bounds.feature_only, variant=variant, clip=False))
  cast = lambda v: np.asarray(v, dtype)
  out = fn(cast(ALPHA), alpha_total=cast(ALPHA.sum()), beta=cast(BETA), xi_c=cast(XI_C),
           xi=cast(XI), p=cast(P), eps=cast(EPS))
  assert out.dtype == dtype
  np.testing.assert_allclose(out, expected, atol=1e-6)
  clipped = bounds.feature_only(cast(ALPHA), alpha_total=cast(ALPHA.sum()), beta=cast(BETA),
                                xi_c=cast(XI_C), xi=cast(XI), p=cast(P), eps=cast(EPS),
                                variant=variant)
  np.testing.assert_allclose(clipped, np.clip(expected, 0, 1), atol=1e-6)


def test_spec_example_scenario_bounds_computes_beta(maybe_jit):
  fn = maybe_jit(functools.partial(bounds.scenario_bounds, clip=False))
  out = fn(ALPHA, TARGETS, xi_c=XI_C, xi=XI, delta=DELTA, eps=EPS)
  np.testing.assert_allclose(out, FL_EXPECTED, rtol=1e-12)
  fo = bounds.scenario_bounds(ALPHA, TARGETS, xi_c=XI_C, xi=XI, p=P, eps=EPS,
                              strategy="feature_only", clip=False)
  np.testing.assert_allclose(fo, FO_SOUND_EXPECTED, atol=1e-6)


@pytest.mark.parametrize("strategy, extra, expected", [
    ("feature_label", dict(delta=.6), 0.1068182),
    ("feature_only", dict(p=.3), 0.3785714),
])
def test_spec_example_critical_mass(maybe_jit, strategy, extra, expected):
  fn = maybe_jit(functools.partial(bounds.critical_mass, strategy=strategy))
  out = fn(.9, alpha_others=.05, beta=.02, xi_c=.01, xi=.05, eps=.1, **extra)
  np.testing.assert_allclose(out, expected, atol=5e-8)


def _random_inputs(rng, size):
  """Random points, most in the domain, some deliberately outside it."""
  alpha_total = rng.uniform(0.01, 0.99, size)
  alpha = alpha_total * rng.uniform(0.01, 1, size)
  beta = (alpha_total - alpha) * rng.uniform(0, 1, size)
  xi_c = rng.uniform(0, 1, size)
  xi = rng.uniform(0, 1, size)
  delta = rng.uniform(0, 1, size)
  p = rng.uniform(0.01, 1, size)
  eps = rng.uniform(0, 0.49, size)
  # About 10% out of domain, one condition each.
  bad = rng.integers(0, 40, size)
  eps = np.where(bad == 0, 0.5 + rng.uniform(0, 0.3, size), eps)
  alpha = np.where(bad == 1, -rng.uniform(0, .1, size), alpha)
  p = np.where(bad == 2, -rng.uniform(0, .1, size), p)
  alpha_total = np.where(bad == 3, 1 + rng.uniform(0, .1, size), alpha_total)
  return dict(alpha=alpha, alpha_total=alpha_total, beta=beta, xi_c=xi_c, xi=xi,
              delta=delta, p=p, eps=eps)


@pytest.mark.parametrize("clip", [True, False])
def test_feature_label_matches_numpy_reference(maybe_jit, clip):
  inputs = _random_inputs(np.random.default_rng(0), 3000)
  keys = ("alpha_total", "beta", "xi_c", "xi", "delta", "eps")
  fn = maybe_jit(functools.partial(bounds.feature_label, clip=clip))
  out = np.asarray(fn(inputs["alpha"], **{k: inputs[k] for k in keys}))
  ref = np.array([np_bounds.feature_label(*vals, clip=clip)
                  for vals in zip(inputs["alpha"], *(inputs[k] for k in keys))])
  assert np.isnan(ref).sum() > 100  # the out-of-domain points are exercised
  np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
  np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("variant", ["sound", "published"])
@pytest.mark.parametrize("clip", [True, False])
def test_feature_only_matches_numpy_reference(maybe_jit, variant, clip):
  inputs = _random_inputs(np.random.default_rng(1), 3000)
  keys = ("alpha_total", "beta", "xi_c", "xi", "p", "eps")
  fn = maybe_jit(functools.partial(bounds.feature_only, variant=variant, clip=clip))
  out = np.asarray(fn(inputs["alpha"], **{k: inputs[k] for k in keys}))
  ref = np.array([np_bounds.feature_only(*vals, variant=variant, clip=clip)
                  for vals in zip(inputs["alpha"], *(inputs[k] for k in keys))])
  np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
  np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


def test_sound_and_published_differ_by_abar_one_minus_p():
  """SPEC §5: the first brackets differ by abar (1 - p) (both maxima inactive)."""
  alpha, abar, beta, xi_c, p, eps = .1, .3, .05, .2, .3, .05
  kw = dict(alpha_total=abar, beta=beta, xi_c=xi_c, xi=0., p=p, eps=eps, clip=False)
  sound = bounds.feature_only(alpha, **kw)
  published = bounds.feature_only(alpha, variant="published", **kw)
  gap = xi_c * abar * (1 - p) / ((1 - 2 * eps) * p * alpha)
  np.testing.assert_allclose(published - sound, gap, rtol=1e-12)


def test_one_collective_reduces_to_hardt_et_al():
  """SPEC §6: M = 1 (abar = alpha, beta = 0) removes the competition term."""
  alpha = np.linspace(0.01, 0.9, 50)
  xi_c, delta, eps = .2, .7, .1
  out = bounds.feature_label(alpha, alpha_total=alpha, beta=0., xi_c=xi_c, xi=.9,
                             delta=delta, eps=eps, clip=False)
  expected = 1 - xi_c * (delta + 2 * eps) / (1 - 2 * eps) * (1 - alpha) / alpha
  np.testing.assert_allclose(out, expected, rtol=1e-12)
  at_zero_eps = bounds.feature_label(alpha, alpha_total=alpha, beta=0., xi_c=xi_c, xi=.9,
                                     delta=delta, eps=0., clip=False)
  np.testing.assert_allclose(at_zero_eps, 1 - delta * xi_c * (1 - alpha) / alpha, rtol=1e-12)
  # Through the scenario-level function as well.
  one = bounds.scenario_bounds(np.array([.3]), np.array([2]), xi_c=xi_c, xi=.9,
                               delta=delta, eps=0., clip=False)
  np.testing.assert_allclose(one, [1 - delta * xi_c * .7 / .3], rtol=1e-12)


def test_weighted_closed_form_spec_7():
  rng = np.random.default_rng(2)
  for _ in range(20):
    num = rng.integers(1, 6)
    alpha = rng.dirichlet(np.ones(num)) * rng.uniform(0.05, 0.9)
    targets = rng.integers(0, 3, num)
    xi_c, delta = rng.uniform(0, 1, num), rng.uniform(0, 1, num)
    xi, eps = rng.uniform(0, 1), rng.uniform(0, .45)
    per = bounds.scenario_bounds(alpha, targets, xi_c=xi_c, xi=xi, delta=delta, eps=eps,
                                 clip=False)
    abar = alpha.sum()
    misaligned = np.array([abar - alpha[c] - alpha[(targets == targets[c])].sum() + alpha[c]
                           for c in range(num)])
    closed = 1 - ((1 - abar) * np.sum(xi_c * (delta + 2 * eps))
                  + xi * (1 + 2 * eps) * misaligned.sum()) / ((1 - 2 * eps) * abar)
    np.testing.assert_allclose(bounds.s_weighted(per, alpha, clip=False), closed, rtol=1e-10)


def test_s_min_and_s_weighted_clip_each_bound_first():
  raw = np.array([1.4, -0.5, 0.5])
  alpha = np.array([.1, .1, .2])
  assert float(bounds.s_min(raw)) == 0.0
  assert float(bounds.s_min(raw, clip=False)) == -0.5
  np.testing.assert_allclose(bounds.s_weighted(raw, alpha), (.1 + 0 + .1) / .4)
  np.testing.assert_allclose(bounds.s_weighted(raw, alpha, clip=False), (.14 - .05 + .1) / .4)
  # Leading axes broadcast.
  batch = np.stack([raw, raw * 0.5])
  np.testing.assert_allclose(bounds.s_min(batch), [0.0, 0.0])
  assert bounds.s_weighted(batch, alpha).shape == (2,)


def test_pairwise_form_is_sharper_and_reduces_to_theorem_1():
  rng = np.random.default_rng(3)
  inputs = _random_inputs(rng, 500)
  keep = (inputs["eps"] < .5) & (inputs["alpha"] > 0) & (inputs["alpha_total"] < 1)
  inputs = {k: v[keep] for k, v in inputs.items()}
  misaligned = inputs["alpha_total"] - inputs["alpha"] - inputs["beta"]
  common = dict(alpha_total=inputs["alpha_total"], xi_c=inputs["xi_c"], delta=inputs["delta"],
                eps=inputs["eps"], clip=False)
  theorem_1 = bounds.feature_label(inputs["alpha"], beta=inputs["beta"], xi=inputs["xi"], **common)
  same = bounds.feature_label_pairwise(inputs["alpha"], competition=inputs["xi"] * misaligned,
                                       **common)
  np.testing.assert_allclose(same, theorem_1, rtol=1e-12, atol=1e-12)
  sharper = bounds.feature_label_pairwise(
      inputs["alpha"], competition=inputs["xi"] * misaligned * rng.uniform(0, 1, misaligned.shape),
      **common)
  assert np.all(np.asarray(sharper) >= np.asarray(theorem_1) - 1e-12)


def test_scenario_bounds_pairwise_uses_overlap_of_misaligned_only():
  overlap = np.array([[1., .2, .5], [.3, 1., .1], [.4, .6, 1.]])
  out = bounds.scenario_bounds(ALPHA, TARGETS, xi_c=XI_C, xi=XI, delta=DELTA, eps=EPS,
                               overlap=overlap, clip=False)
  # Collective 0 (target 1): only collective 1 (target 0) is misaligned.
  competition = np.array([ALPHA[1] * overlap[1, 0], ALPHA[0] * overlap[0, 1]
                          + ALPHA[2] * overlap[2, 1], ALPHA[1] * overlap[1, 2]])
  expected = bounds.feature_label_pairwise(ALPHA, alpha_total=ALPHA.sum(), xi_c=XI_C,
                                           delta=DELTA, eps=EPS, competition=competition,
                                           clip=False)
  np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_soft_targets_match_hard_targets_and_are_differentiable():
  soft = jax.nn.one_hot(TARGETS, 3)
  kw = dict(xi_c=XI_C, xi=XI, delta=DELTA, eps=EPS, clip=False)
  np.testing.assert_allclose(bounds.scenario_bounds(ALPHA, soft, **kw),
                             bounds.scenario_bounds(ALPHA, TARGETS, **kw), rtol=1e-12)
  def weighted(targets):
    return bounds.s_weighted(bounds.scenario_bounds(ALPHA, targets, **kw), ALPHA, clip=False)
  mixed = jnp.array([[.1, .8, .1], [.7, .2, .1], [.2, .5, .3]])
  check_grads(weighted, (mixed,), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)
  # Moving collective 1 towards target 1 (shared with 0 and 2) helps S_w.
  grad = jax.grad(weighted)(soft)
  assert float(grad[1, 1]) > float(grad[1, 0])


def test_broadcasting_over_leading_shapes():
  alpha = np.linspace(.01, .2, 5)[:, None]
  eps = np.array([0., .1, .2])
  out = bounds.feature_label(alpha, alpha_total=.3, beta=0., xi_c=.1, xi=.1, delta=.5, eps=eps)
  assert out.shape == (5, 3)
  for i in range(5):
    for j in range(3):
      np.testing.assert_allclose(out[i, j], np_bounds.feature_label(
          alpha[i, 0], .3, 0., .1, .1, .5, eps[j]), rtol=1e-12)


def test_vmap_equals_loop_scenario_bounds():
  rng = np.random.default_rng(4)
  batch, num = 64, 4
  alpha = rng.dirichlet(np.ones(num), batch) * rng.uniform(.05, .9, (batch, 1))
  targets = rng.integers(0, 3, (batch, num))
  xi_c, delta = rng.uniform(0, 1, (batch, num)), rng.uniform(0, 1, (batch, num))
  xi, eps = rng.uniform(0, 1, batch), rng.uniform(0, .45, batch)
  fn = lambda a, t, c, x, d, e: bounds.scenario_bounds(a, t, xi_c=c, xi=x, delta=d, eps=e)
  batched = jax.jit(jax.vmap(fn))(alpha, targets, xi_c, xi, delta, eps)
  looped = np.stack([fn(*args) for args in zip(alpha, targets, xi_c, xi, delta, eps)])
  np.testing.assert_allclose(batched, looped, rtol=1e-12)


def test_vmap_equals_loop_critical_mass():
  rng = np.random.default_rng(5)
  target = rng.uniform(0, .99, 32)
  fn = lambda s: bounds.critical_mass(s, strategy="feature_only", alpha_others=.1, beta=.05,
                                      xi_c=.05, xi=.1, eps=.05, p=.4)
  batched = jax.vmap(fn)(target)
  looped = np.array([fn(s) for s in target])
  np.testing.assert_allclose(batched, looped, rtol=1e-12)


@pytest.mark.parametrize("out_of_domain", [
    dict(eps=.5), dict(eps=.7), dict(eps=-.01), dict(alpha=0.), dict(alpha=-.1),
    dict(alpha_total=1.), dict(alpha_total=1.2), dict(p=0.), dict(p=-.2),
])
def test_out_of_domain_gives_nan_under_jit(out_of_domain):
  kw = dict(alpha=.1, alpha_total=.3, beta=.05, xi_c=.1, xi=.1, eps=.1, p=.3, delta=.5)
  kw.update(out_of_domain)
  if "alpha" in out_of_domain and out_of_domain["alpha"] <= 0:
    kw["beta"] = 0.
  fo = jax.jit(lambda k: bounds.feature_only(k.pop("alpha"), **k))
  assert math.isnan(float(fo({k: v for k, v in kw.items() if k != "delta"})))
  if "p" not in out_of_domain:
    fl = jax.jit(lambda k: bounds.feature_label(k.pop("alpha"), **k))
    assert math.isnan(float(fl({k: v for k, v in kw.items() if k != "p"})))


def test_published_variant_outside_its_assumption_is_nan():
  kw = dict(alpha_total=.3, beta=.05, xi_c=.1, xi=.1, eps=.1)
  assert math.isnan(float(bounds.feature_only(.1, p=.61, variant="published", **kw)))
  assert not math.isnan(float(bounds.feature_only(.1, p=.59, variant="published", **kw)))
  assert not math.isnan(float(bounds.feature_only(.1, p=.61, **kw)))


def test_inconsistent_masses_give_nan():
  # alpha + beta > alpha_total: the misaligned mass would be negative.
  assert math.isnan(float(bounds.feature_label(.2, alpha_total=.3, beta=.2, xi_c=.1, xi=.1,
                                               delta=.5, eps=.1)))


def test_gradients_float64_interior():
  kw = dict(alpha_total=.3, beta=.05, xi_c=.1, xi=.2, eps=.1)
  fl = lambda a, t, e, d: bounds.feature_label(a, alpha_total=t, beta=.05, xi_c=.1, xi=.2,
                                               delta=d, eps=e, clip=False)
  check_grads(fl, (.1, .3, .1, .5), order=2, modes=["fwd", "rev"], eps=1e-6)
  for variant in ("sound", "published"):
    fo = lambda a, p, e, variant=variant: bounds.feature_only(
        a, alpha_total=.3, beta=.05, xi_c=.1, xi=.2, p=p, eps=e, variant=variant, clip=False)
    check_grads(fo, (.1, .3, .1), order=2, modes=["fwd", "rev"], eps=1e-6)
  pair = lambda a, c: bounds.feature_label_pairwise(a, alpha_total=.3, xi_c=.1, delta=.5,
                                                    eps=.1, competition=c, clip=False)
  check_grads(pair, (.1, .02), order=2, modes=["fwd", "rev"], eps=1e-6)
  for strategy, extra in (("feature_label", dict(delta=.5)), ("feature_only", dict(p=.4))):
    cm = lambda s, x, strategy=strategy, extra=extra: bounds.critical_mass(
        s, strategy=strategy, alpha_others=.1, beta=.02, xi_c=.05, xi=x, eps=.05, **extra)
    check_grads(cm, (.8, .1), order=1, modes=["fwd", "rev"])
  del kw


def test_gradients_finite_at_clip_and_domain_edges():
  def fl(alpha, eps):
    return bounds.feature_label(alpha, alpha_total=.5, beta=0., xi_c=.1, xi=.1, delta=.5,
                                eps=eps)
  grad = jax.grad(fl, argnums=(0, 1))
  # Bound exactly 1 (xi_c = 0 and no competition) and clipped at 0.
  edge_one = jax.grad(lambda a: bounds.feature_label(a, alpha_total=a, beta=0., xi_c=0.,
                                                     xi=0., delta=.5, eps=.1))(.3)
  assert np.isfinite(edge_one)
  for alpha, eps in [(1e-4, .1), (.5, .1), (0., .1), (-.1, .1), (.1, .5), (.1, .49999)]:
    assert all(np.isfinite(g) for g in grad(alpha, eps)), (alpha, eps)
  fo_grad = jax.grad(lambda p: bounds.feature_only(.1, alpha_total=.3, beta=0., xi_c=.1,
                                                   xi=.1, p=p, eps=.1))
  for p in (0., -.1, 1e-6, 1.):
    assert np.isfinite(fo_grad(p))
  cm_grad = jax.grad(lambda s: bounds.critical_mass(s, strategy="feature_only",
                                                    alpha_others=.1, beta=0., xi_c=.1, xi=.1,
                                                    eps=.1, p=.3))
  for s in (0., .5, .99, 1.):
    assert np.isfinite(cm_grad(s))


def _fo_bound_of_alpha(alpha_others, beta, xi_c, xi, eps, p):
  return lambda a: np_bounds.feature_only(a, alpha_others + a, beta, xi_c, xi, p, eps,
                                          clip=False)


def _fl_bound_of_alpha(alpha_others, beta, xi_c, xi, eps, delta):
  return lambda a: np_bounds.feature_label(a, alpha_others + a, beta, xi_c, xi, delta, eps,
                                           clip=False)


def test_critical_mass_inverts_the_bound():
  """Against an independent scan-and-bisect inversion of the NumPy reference."""
  rng = np.random.default_rng(6)
  feasible_seen = {"feature_label": 0, "feature_only": 0}
  infeasible_seen = 0
  for trial in range(120):
    a_o = rng.uniform(0, .6)
    beta = a_o * rng.uniform(0, 1)
    xi_c, xi, eps = rng.uniform(0, .4), rng.uniform(0, .4), rng.uniform(0, .3)
    target = rng.uniform(0, .95)
    strategy = ("feature_label", "feature_only")[trial % 2]
    if strategy == "feature_label":
      extra = dict(delta=rng.uniform(0, 1))
      bound_of_alpha = _fl_bound_of_alpha(a_o, beta, xi_c, xi, eps, extra["delta"])
    else:
      # Include p > 1/2, where the sound rarity term can switch off (SPEC §5 max).
      extra = dict(p=rng.uniform(.05, 1))
      bound_of_alpha = _fo_bound_of_alpha(a_o, beta, xi_c, xi, eps, extra["p"])
    out = bounds.critical_mass(target, strategy=strategy, alpha_others=a_o, beta=beta,
                               xi_c=xi_c, xi=xi, eps=eps, with_mask=True, **extra)
    ref = np_bounds.critical_mass_by_bisection(bound_of_alpha, target, a_o)
    if math.isinf(ref):
      # The reference scan stops 5e-5 short of 1 - a_o; allow that sliver.
      assert (not bool(out.feasible)) or float(out.alpha) > (1 - a_o) * (1 - 1e-4)
      infeasible_seen += 1
      continue
    assert bool(out.feasible)
    feasible_seen[strategy] += 1
    alpha_star = float(out.alpha)
    np.testing.assert_allclose(alpha_star, ref, rtol=1e-6, atol=1e-9)
    if alpha_star > 0:
      assert bound_of_alpha(alpha_star * (1 + 1e-9)) >= target - 1e-9
      assert bound_of_alpha(alpha_star * (1 - 1e-6)) < target
  assert min(feasible_seen.values()) > 20 and infeasible_seen > 5


def test_critical_mass_feature_only_beyond_spec_regime():
  """Where 1 + 2eps - (2 - abar) p < 0 at the solution, only competition binds."""
  kw = dict(alpha_others=.1, beta=0., xi_c=.3, xi=.2, eps=0., p=.9)
  out = float(bounds.critical_mass(.5, strategy="feature_only", **kw))
  # Rarity term off: 1 - xi m / (p alpha) = .5  ->  alpha = xi m / (.5 p).
  np.testing.assert_allclose(out, .2 * .1 / (.5 * .9), rtol=1e-12)
  assert 1 - (2 - (.1 + out)) * .9 < 0


def test_critical_mass_infeasible_is_inf_with_mask():
  out = bounds.critical_mass(np.array([.5, .999]), strategy="feature_label", alpha_others=.6,
                             beta=0., xi_c=.5, xi=.5, eps=.2, delta=1., with_mask=True)
  assert np.isinf(out.alpha[1]) and not out.feasible[1]
  assert math.isnan(float(bounds.critical_mass(1., strategy="feature_label", alpha_others=.1,
                                               beta=0., xi_c=.1, xi=.1, eps=.1, delta=.5)))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: bounds.feature_label(np.ones(3), alpha_total=np.ones(4) * .5, beta=0., xi_c=.1,
                                  xi=.1, delta=.5, eps=.1), ValueError, "alpha_total"),
    (lambda: bounds.feature_only(.1, alpha_total=.3, beta=0., xi_c=.1, xi=.1, p=.3, eps=.1,
                                 variant="paper"), ValueError, "variant"),
    (lambda: bounds.feature_label(.1, alpha_total=.3, beta=0., xi_c="0.1", xi=.1, delta=.5,
                                  eps=.1), TypeError, "xi_c"),
    (lambda: bounds.feature_label(.1, alpha_total=.3, beta=0., xi_c=.1, xi=.1,
                                  delta=np.array([1 + 1j]), eps=.1), TypeError, "delta"),
    (lambda: bounds.feature_only(.1, alpha_total=True, beta=0., xi_c=.1, xi=.1, p=.3, eps=.1),
     TypeError, "alpha_total"),
    (lambda: bounds.critical_mass(.9, strategy="fl", alpha_others=.1, beta=0., xi_c=.1, xi=.1,
                                  eps=.1, delta=.5), ValueError, "strategy"),
    (lambda: bounds.critical_mass(.9, strategy="feature_label", alpha_others=.1, beta=0.,
                                  xi_c=.1, xi=.1, eps=.1), ValueError, "delta"),
    (lambda: bounds.critical_mass(.9, strategy="feature_only", alpha_others=.1, beta=0.,
                                  xi_c=.1, xi=.1, eps=.1, delta=.3), ValueError, "p"),
    (lambda: bounds.scenario_bounds(ALPHA, np.array([0, 1]), xi_c=.1, xi=.1, delta=.5, eps=.1),
     ValueError, "targets"),
    (lambda: bounds.scenario_bounds(ALPHA, TARGETS, xi_c=np.ones(2) * .1, xi=.1, delta=.5,
                                    eps=.1), ValueError, "xi_c"),
    (lambda: bounds.scenario_bounds(ALPHA, TARGETS, xi_c=.1, xi=.1, eps=.1), ValueError,
     "delta"),
    (lambda: bounds.scenario_bounds(ALPHA, TARGETS * 1.0, xi_c=.1, xi=.1, delta=.5, eps=.1),
     TypeError, "targets"),
    (lambda: bounds.s_min(.5), ValueError, "bounds"),
])
def test_static_mistakes_raise_naming_the_argument(call, exc, words):
  with pytest.raises(exc, match=words):
    call()


def test_no_recompilation_for_new_values():
  fn = jax.jit(lambda a, e: bounds.feature_label(a, alpha_total=.3, beta=0., xi_c=.1, xi=.1,
                                                 delta=.5, eps=e))
  fn(.1, .1)
  before = fn._cache_size()
  for value in (.05, .2, .25):
    fn(value, value / 3)
  assert fn._cache_size() == before


def test_sound_feature_only_plateau_is_exact():
  """Where 1 + 2 eps <= (2 - abar) p the rarity term is exactly 0 (SPEC §5)."""
  alpha = jnp.linspace(0.0001, 0.6, 50)
  value = bounds.feature_only(alpha, alpha_total=alpha + 0.2, beta=0.0, xi_c=0.3, xi=0.0, p=1.0,
                              eps=0.1, clip=False)
  np.testing.assert_array_equal(np.asarray(value), 1.0)
