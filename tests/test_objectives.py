"""Mixed objectives: exact engine against an independent NumPy reference, bounds' soundness."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from acajax import bounds, objectives, optimize
from acajax.bench._workloads import mixed_bounds
from tests.np_objectives import np_admissible, np_success

ROLE_SETS = [("plant", "erase"), ("unplant", "plant"), ("erase", "unplant", "plant"),
             ("plant", "plant", "erase"), ("erase", "erase")]


def _instance(rng, n, k, roles):
  p0 = rng.dirichlet(np.ones(n * k)).reshape(n, k)
  maps = mixed_bounds._idempotent_maps(rng, 1, len(roles), n)[0]
  targets = rng.integers(0, k, len(roles)).astype(np.int32)
  masses = rng.uniform(0, 0.9 / len(roles), len(roles))
  flags = rng.random(len(roles)) < 0.5
  return p0, maps, targets, masses, flags


@pytest.mark.parametrize("roles", ROLE_SETS)
@pytest.mark.parametrize("best", [False, True])
def test_success_matches_numpy_reference(roles, best):
  rng = np.random.default_rng(len(roles) + 10 * best)
  fn = objectives.best_case_success if best else objectives.worst_case_success
  for _ in range(12):
    n, k = int(rng.integers(3, 6)), int(rng.integers(2, 4))
    p0, maps, targets, masses, flags = _instance(rng, n, k, roles)
    eps, q = float(rng.uniform(0, 0.3)), float(rng.uniform(0.1, 0.9))
    got = fn(p0, maps, targets, masses, roles, eps=eps, feature_only=flags, transform=q)
    want = np_success(p0, maps, targets, masses, roles, eps, flags, q, best=best)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-12)


def test_admissible_matches_least_total_variation():
  rng = np.random.default_rng(3)
  for _ in range(30):
    joint = rng.dirichlet(np.ones(4), 6) * rng.uniform(0.1, 1, (6, 1))
    eps = float(rng.uniform(0, 0.4))
    np.testing.assert_array_equal(np.asarray(objectives.admissible_labels(joint, eps)),
                                  np_admissible(joint, eps))


def test_unplanter_needs_more_than_the_pairwise_margin_with_three_labels():
  # 0.1, 0.45, 0.45 and eps = 0.2: no label beats y* = 0 by 2 eps, yet lifting 0
  # to the top needs 7/30 of mass: the unplanter is safe below that.
  joint = jnp.array([[.1, .45, .45]])
  assert not bool(objectives.admissible_labels(joint, 7 / 30 - 1e-6)[0, 0])
  assert bool(objectives.admissible_labels(joint, 7 / 30 + 1e-6)[0, 0])


def test_eraser_worst_case_is_the_minimum_over_classifiers():
  # Two sources forced to opposite labels around a tied signal point z: the
  # adversary labels z like the lighter source. With a (massless) eraser z
  # stays tied; with mass 0.01 the eraser breaks the tie towards L(z) = 0.
  p0 = np.array([[.30, .05], [.05, .20], [.2, .2]])
  maps = np.array([[2, 2, 2]], np.int32)
  for mass, want_value in ((0., .4 + .25), (.01, .4 + .35)):
    got = objectives.worst_case_success(p0, maps, np.array([0], np.int32), np.array([mass]),
                                        ("erase",), eps=0.0)
    want = np_success(p0, maps, [0], [mass], ("erase",), 0.0, [False], 0.5)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-12)
    assert float(got[0]) == pytest.approx(want_value)


def test_jit_and_vmap_agree_with_single_calls():
  rng = np.random.default_rng(5)
  roles = ("plant", "unplant", "erase")
  cases = [_instance(rng, 5, 3, roles) for _ in range(6)]
  stack = [np.stack(a) for a in zip(*cases)]
  eps = np.linspace(0, .25, 6)
  batched = jax.jit(jax.vmap(lambda p, g, t, m, f, e: objectives.worst_case_success(
      p, g, t, m, roles, eps=e, feature_only=f)))(*stack, eps)
  for i, (p0, maps, targets, masses, flags) in enumerate(cases):
    one = objectives.worst_case_success(p0, maps, targets, masses, roles, eps=eps[i],
                                        feature_only=flags)
    np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(one), atol=1e-14)


@pytest.mark.parametrize("form", mixed_bounds.FORMS)
def test_bound_is_sound_on_random_instances(form):
  result = mixed_bounds.check(form, 1200, seed=11, batch_size=600)
  assert result["violations"] == 0, result["counterexample"]
  assert result["informative"] > 0
  # Only Theorem 2 has a domain the instances can leave (p_c = 0 on exact zeros).
  assert result["nan"] == 0 if form != "planter_fo" else result["nan"] < result["instances"]


@pytest.mark.parametrize("form", ["planter_fl", "unplanter", "eraser"])
def test_leaving_the_opponents_out_breaks_the_bound(form):
  # The check can fail: the naive form (no competition term) is violated.
  result = mixed_bounds.check(form, 1200, seed=11, batch_size=600, ignore_opponents=True)
  assert result["violations"] > 0
  assert result["counterexample"]["bound"] > result["counterexample"]["exact"]


def test_parameters_of_a_planter_and_an_eraser_by_hand():
  p0 = np.array([[.3, .1], [.25, .15], [.1, .1]])
  maps = np.array([[2, 2, 2], [2, 2, 2]], np.int32)
  par = objectives.parameters(p0, maps, np.array([1, 0], np.int32), np.array([.05, .2]),
                              ("plant", "erase"))
  # Eraser labels L(2) = 0 at every point; it plants on all three points.
  np.testing.assert_allclose(np.asarray(par.xi_c), [.2, 1.])
  np.testing.assert_allclose(np.asarray(par.overlap), [[1., 1.], [.6, 1.]])
  np.testing.assert_allclose(np.asarray(par.delta), [0., 0.])   # label 1 ties at z; 0 leads
  np.testing.assert_allclose(np.asarray(par.misaligned), [.2, .05])
  np.testing.assert_allclose(np.asarray(par.competition), [.2 * .6, .05 * 1.])
  assert not np.asarray(par.aligned).any()


def test_aligned_mass_by_role():
  p0 = np.full((4, 2), 1 / 8)
  maps = np.array([[3, 3, 3, 3]] * 4, np.int32)
  roles = ("plant", "plant", "unplant", "unplant")
  targets = np.array([1, 1, 0, 0], np.int32)
  par = objectives.parameters(p0, maps, targets, np.array([.1, .2, .05, .03]), roles,
                              feature_only=np.array([False, True, False, False]))
  # The FL planter gets no help from an FO planter; the FO planter counts the FL one.
  np.testing.assert_allclose(np.asarray(par.beta), [0., .1, .03, .05])


def test_bad_arguments_name_themselves():
  p0 = np.array([[.3, .1], [.25, .15], [.1, .1]])
  maps = np.array([[2, 2, 2], [2, 2, 2]], np.int32)
  args = (p0, maps, np.array([1, 0], np.int32), np.array([.05, .2]))
  with pytest.raises(ValueError, match="roles must name one role per collective"):
    objectives.worst_case_success(*args, ("plant",), eps=.1)
  with pytest.raises(ValueError, match="roles"):
    objectives.worst_case_success(*args, ("plant", "wipe"), eps=.1)
  with pytest.raises(TypeError, match="roles must be a tuple"):
    objectives.worst_case_success(*args, "plant", eps=.1)
  with pytest.raises(ValueError, match="idempotent"):
    objectives.worst_case_success(p0, np.array([[2, 2, 2], [1, 2, 2]], np.int32), *args[2:],
                                  ("plant", "erase"), eps=.1)
  with pytest.raises(TypeError, match="integer maps"):
    objectives.worst_case_success(p0, np.full((2, 3, 3), 1 / 3), *args[2:],
                                  ("plant", "erase"), eps=.1)
  with pytest.raises(ValueError, match="transform"):
    objectives.worst_case_success(*args, ("plant", "erase"), eps=.1, transform=1.5)


def test_out_of_domain_values_give_nan_under_jit():
  p0 = np.array([[.3, .1], [.25, .15], [.1, .1]])
  targets, masses = np.array([1, 0], np.int32), np.array([.05, .2])
  fn = jax.jit(lambda maps, eps, q: objectives.worst_case_success(
      p0, maps, targets, masses, ("plant", "erase"), eps=eps, transform=q))
  good = np.array([[2, 2, 2], [2, 2, 2]], np.int32)
  assert np.isfinite(np.asarray(fn(good, .1, .5))).all()
  assert np.isnan(np.asarray(fn(np.array([[2, 2, 2], [1, 2, 2]], np.int32), .1, .5))).all()
  assert np.isnan(np.asarray(fn(good, .5, .5))).all()
  assert np.isnan(np.asarray(fn(good, .1, 1.5))).all()


# -- closed forms ---------------------------------------------------------------


def test_unplanting_is_theorem_one_in_its_parameters():
  kw = dict(alpha_total=.2, beta=.03, xi_c=.1, xi=.4, delta=.3, eps=.05)
  want = 1 - .1 * (.3 + .1) / .9 * .8 / .1 - .4 * 1.1 / .9 * (.2 - .1 - .03) / .1
  assert float(bounds.unplanting(.1, clip=False, **kw)) == pytest.approx(want, abs=1e-12)


def test_erasing_value_and_share():
  kw = dict(alpha_total=.3, xi_c=.9, xi=.5, delta=.1, eps=.05)
  for q in (.3, .7):
    want = 1 - (.9 * .7 * (.1 + .1) + .5 * 1.1 * .05) / (.3 * .9 * .25)
    assert float(bounds.erasing(.25, transform=q, clip=False, **kw)) == pytest.approx(want)
  assert np.isnan(float(bounds.erasing(.25, transform=1., **kw)))
  assert np.isnan(float(bounds.erasing(.25, transform=.5, **{**kw, "eps": .5})))


def test_critical_eraser_mass_inverts_the_ceiling():
  kw = dict(xi_c=.08, competition=.03, eps=.04, transform=.6)
  for s in (.1, .5, .9):
    alpha = float(bounds.critical_eraser_mass(s, alpha_others=.05, **kw))
    ceiling = bounds.planter_ceiling(alpha, alpha_total=alpha + .05, clip=False, **kw)
    assert float(ceiling) == pytest.approx(s, abs=1e-12)
    smaller = bounds.planter_ceiling(.99 * alpha, alpha_total=.99 * alpha + .05, **kw)
    assert float(smaller) > s
  out = bounds.critical_eraser_mass(.001, alpha_others=.5, xi_c=.08, competition=.5, eps=.04,
                                    with_mask=True)
  assert np.isinf(float(out.alpha)) and not bool(out.feasible)
  assert np.isnan(float(bounds.critical_eraser_mass(.5, alpha_others=.1, xi_c=.1,
                                                    competition=.2, eps=.1)))


def test_mixed_bounds_have_finite_gradients_at_the_domain_edge():
  grads = jax.grad(lambda a: bounds.erasing(a, alpha_total=a + .1, xi_c=1., xi=1., delta=0.,
                                            eps=.6, clip=False))(0.2)
  assert np.isfinite(float(grads))
  grads = jax.grad(lambda a: bounds.planter_ceiling(a, alpha_total=a + .1, xi_c=.1,
                                                    competition=.1, eps=.1, clip=False))(0.2)
  assert np.isfinite(float(grads)) and float(grads) < 0
  check_grads(lambda a: bounds.unplanting(
      a, alpha_total=a + .1, beta=0., xi_c=.1, xi=.5, delta=.2, eps=.05, clip=False),
      (0.3,), order=1)


# -- critical masses ------------------------------------------------------------

P0_THREE = np.array([[.3, .1], [.25, .15], [.1, .1]])
MAPS_THREE = np.array([[2, 2, 2], [2, 2, 2]], np.int32)


def test_exact_critical_masses_by_hand():
  # Everything lands on z = 2, so success is all or nothing there. The planter
  # (target 1) wins z iff alpha - .03 >= .1 (.2 (1 - abar) + alpha + .03) with
  # abar = alpha + .05 (the eraser puts .05 (.5 + .5 * .2) on z, labelled 0).
  mass = optimize.exact_mixed_critical_mass(.9, P0_THREE, MAPS_THREE, np.array([1, 0]),
                                            np.array([0., .05]), ("plant", "erase"),
                                            collective=0, eps=.05)
  assert float(mass) == pytest.approx(.052 / .92, rel=1e-9)
  # The eraser denies the planter every classifier once label 0 leads z by
  # more than 2 eps: .6 a - .05 > .1 (.2 (1 - abar) + .05 + .6 a), abar = a + .05.
  mass = optimize.exact_eraser_mass(.5, P0_THREE, MAPS_THREE, np.array([1, 0]),
                                    np.array([.05, 0.]), ("plant", "erase"), eraser=1,
                                    planter=0, eps=.05)
  assert float(mass) == pytest.approx(.074 / .56, rel=1e-9)


def test_closed_form_critical_masses_are_never_below_the_exact_ones():
  rng = np.random.default_rng(8)
  checked = 0
  for _ in range(40):
    n = 6
    p0 = rng.dirichlet(np.ones(2 * n)).reshape(n, 2)
    maps = mixed_bounds._idempotent_maps(rng, 1, 1, n)[0]
    maps = np.stack([maps[0], maps[0]])
    labels = p0.argmax(axis=1)[np.unique(maps[0])]
    if len(set(labels.tolist())) > 1:
      continue                                 # the ceiling needs L(z) != y_c on X*
    target_label = 1 - int(labels[0])
    targets = np.array([target_label, 0], np.int32)
    planter, eps, s = rng.uniform(.01, .1), rng.uniform(0, .1), rng.uniform(.1, .9)
    par = objectives.parameters(p0, maps, targets, np.array([planter, .1]), ("plant", "erase"))
    closed = bounds.critical_eraser_mass(s, alpha_others=planter, xi_c=par.xi_c[0],
                                         competition=planter, eps=eps)
    exact = optimize.exact_eraser_mass(s, p0, maps, targets, np.array([planter, 0.]),
                                       ("plant", "erase"), eraser=1, planter=0, eps=eps)
    assert float(exact) <= float(closed) + 1e-9
    checked += np.isfinite(float(closed))
  assert checked >= 5


def test_sweep_registry_evaluates_the_mixed_forms():
  from acajax import sweep
  spec = sweep.SweepSpec(
      name="mixed", axes={"alpha[0]": sweep.Axis.linspace(.05, .5, 4),
                          "alpha[1]": sweep.Axis.linspace(.01, .1, 3)},
      bounds=("erasing", "critical_eraser_mass", "unplanting"), collectives=2, targets=(0, 1),
      collective=("each",), dtype="float64",
      fixed=dict(xi_c=.9, xi=1., delta=.1, eps=.02, target_success=.5, transform=.4))
  table = sweep.run(spec, progress=False).table
  a0, a1 = table["alpha[0]"].to_numpy(), table["alpha[1]"].to_numpy()
  np.testing.assert_allclose(table["erasing[0]"], bounds.erasing(
      a0, alpha_total=a0 + a1, xi_c=.9, xi=1., delta=.1, eps=.02, transform=.4), atol=1e-12)
  # An added eraser on collective 1's signal: a_o is everyone, C = alpha_1 + xi alpha_0.
  np.testing.assert_allclose(table["critical_eraser_mass[1]"], bounds.critical_eraser_mass(
      .5, alpha_others=a0 + a1, xi_c=.9, competition=a1 + 1. * a0, eps=.02, transform=.4),
      atol=1e-12)
  np.testing.assert_allclose(table["unplanting[1]"], bounds.unplanting(
      a1, alpha_total=a0 + a1, beta=0., xi_c=.9, xi=1., delta=.1, eps=.02), atol=1e-12)


def test_a_scenario_cannot_supply_what_the_mixed_forms_read_in_their_own_sense():
  from acajax import sweep
  # The reviewer's table: a [scenario] computes the planters' delta (0 here),
  # the unplanting difficulty is 0.4; a sweep must refuse to fill it in.
  scenario = sweep.Scenario(p0=((.05, .40), (.05, .40), (.07, .03)), signal_maps=((2, 2, 2),))
  for bound, name, fixed in (("unplanting", "delta", {}), ("erasing", "delta", {}),
                             ("erasing", "xi", dict(delta=.5, xi_c=1.))):
    spec = sweep.SweepSpec(name="s", axes={"alpha": sweep.Axis.linspace(.01, .1, 3)},
                           bounds=(bound,), collectives=1, targets=(0,), scenario=scenario,
                           fixed=dict(eps=0., **fixed))
    with pytest.raises(sweep.SpecError, match=rf"fixed.{name}: {bound} reads {name} in its "
                                              "own sense"):
      spec.validated()
  fixed = dict(eps=0., xi_c=1., xi=0., delta=.4)
  spec = sweep.SweepSpec(name="s", axes={"alpha": sweep.Axis.linspace(.01, .1, 3)},
                         bounds=("unplanting", "erasing"), collectives=1, targets=(0,),
                         scenario=scenario, fixed=fixed)
  assert spec.validated().bounds == ("unplanting", "erasing")


def test_critical_eraser_mass_at_full_success_is_zero():
  # The planter's success never exceeds 1: every eraser mass holds it there.
  assert float(bounds.critical_eraser_mass(1., alpha_others=.5, xi_c=.5, competition=.5,
                                           eps=.1)) == 0.


def test_optimize_indices_and_roles_are_checked():
  args = (.5, P0_THREE, MAPS_THREE, np.array([1, 0]), np.array([.05, 0.]), ("plant", "erase"))
  with pytest.raises(ValueError, match="roles\\[planter\\] must be 'plant'"):
    optimize.exact_eraser_mass(*args, eraser=1, planter=1, eps=.05)
  # NumPy integers are indices too (a loop over np.arange(M)).
  mass = optimize.exact_eraser_mass(*args, eraser=np.int64(1), planter=np.int32(0), eps=.05)
  assert float(mass) == pytest.approx(.074 / .56, rel=1e-9)
  with pytest.raises(ValueError, match="collective must be an int index in \\[0, M\\)"):
    optimize.exact_mixed_critical_mass(*args, collective=2, eps=.05)
  # A planter already at or below s: the exact answer is 0, not a rounding residue.
  assert float(optimize.exact_eraser_mass(1., *args[1:], eraser=1, planter=0, eps=.05)) == 0.


def test_lists_and_dtypes_are_named():
  p0 = [[.3, .1], [.25, .15], [.1, .1]]
  got = objectives.worst_case_success(p0, [[2, 2, 2], [2, 2, 2]], [1, 0], [.05, .2],
                                      ("plant", "erase"), eps=.05)
  np.testing.assert_allclose(np.asarray(got), [0., 1.])
  with pytest.raises(TypeError, match="signal_maps must be integer point indices, got dtype"):
    objectives.worst_case_success(p0, np.full((2, 3), 2.), [1, 0], [.05, .2],
                                  ("plant", "erase"), eps=.05)
  with pytest.raises(ValueError, match="eps must lie in \\[0, 1/2\\)"):
    objectives.admissible_labels(np.array([[.1, .9]]), .5)
