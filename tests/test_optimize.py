"""Tests of acajax.optimize: allocation, critical budgets, signal placement, targets.

References are brute force: a fine simplex grid for allocations, the full
enumeration of n^M placements and of K^M target assignments, and the
closed-form bounds themselves for critical budgets.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from acajax import bounds, mixtures, optimize
from acajax.optimize import Allocation, _allocation, _common, _signals, _static, _targets

# SPEC §10, the closed-form check.
SPEC = dict(targets=np.array([1, 0, 1]), xi_c=np.array([.01, .02, .005]), xi=.05,
            delta=np.array([.6, .4, .8]), eps=.1)
P0_SPEC = np.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
                    [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])


def test_package_exports_exactly_the_public_api():
  public = ["Allocation", "CoalitionGains", "CriticalBudget", "Placement", "TargetChoice",
            "allocate_masses", "allocation_value", "choose_targets", "coalition_gains",
            "critical_budget", "enumerate_targets", "exact_critical_mass", "exact_eraser_mass",
            "exact_mixed_critical_mass", "place_signals", "placement_value", "targets_value"]
  assert sorted(optimize.__all__) == public
  assert sorted(n for n in vars(optimize) if not n.startswith("_")) == public
  assert Allocation is optimize.Allocation is _allocation.Allocation


# --------------------------------------------------------------------------
# Random instances and brute-force references
# --------------------------------------------------------------------------


def allocation_instances(seed, count, strategy):
  """Random M = 3 allocation problems with informative (non-zero) optima."""
  rng = np.random.default_rng(seed)
  out = dict(budget=rng.uniform(0.05, 0.5, count), targets=rng.integers(0, 2, (count, 3)),
             xi_c=rng.uniform(0.002, 0.04, (count, 3)), xi=rng.uniform(0, 0.25, (count, 3)),
             eps=rng.uniform(0, 0.15, count))
  if strategy == "feature_label":
    out["delta"] = rng.uniform(0, 1, (count, 3))
  else:
    out["p"] = rng.uniform(0.35, 0.75, (count, 3))
    out["xi"] = out["xi"] / 4
  return out


def simplex_grid(divisions):
  """Interior points of the 3-simplex with step 1/divisions (all shares > 0)."""
  i, j = np.meshgrid(np.arange(1, divisions), np.arange(1, divisions), indexing="ij")
  k = divisions - i - j
  keep = k >= 1
  return np.stack([i[keep], j[keep], k[keep]], axis=-1) / divisions


GRID = jnp.asarray(simplex_grid(500))   # step 0.002 of the budget
OBJECTIVE_SEEDS = {("min", "feature_label"): 1, ("weighted", "feature_label"): 2,
                   ("min", "feature_only"): 3}


@functools.partial(jax.jit, static_argnames=("objective", "strategy"))
def grid_best(problem, *, objective, strategy):
  """Best clipped S_min / S_w over the simplex grid, one problem."""
  params = {k: v for k, v in problem.items() if k not in ("budget", "targets")}

  def one(shares):
    masses = problem["budget"] * shares
    b = bounds.scenario_bounds(masses, problem["targets"], strategy=strategy, **params)
    return bounds.s_min(b) if objective == "min" else bounds.s_weighted(b, masses)
  return jnp.nanmax(jax.lax.map(one, GRID, batch_size=4096))


@functools.cache
def batch_solver(objective, strategy):
  """One jitted, vmapped allocation per configuration (compiled once per shape)."""
  def one(problem):
    rest = {k: v for k, v in problem.items() if k != "budget"}
    return optimize.allocate_masses(problem["budget"], objective=objective, strategy=strategy,
                                    **rest)
  return jax.jit(jax.vmap(one))


def allocate_batch(problems, *, objective, strategy):
  return batch_solver(objective, strategy)(problems)


def placement_instances(seed, count, m, n=6, k=3):
  rng = np.random.default_rng(seed)
  p0 = rng.gamma(0.5, size=(count, n, k))
  p0 /= p0.sum(axis=(1, 2), keepdims=True)
  targets = rng.integers(0, k, (count, m))
  masses = rng.dirichlet(np.ones(m), count) * rng.uniform(0.01, 0.12, (count, 1))
  eps = rng.uniform(0, 0.25, count)
  return p0, targets, masses, eps


# --------------------------------------------------------------------------
# allocate_masses
# --------------------------------------------------------------------------


@pytest.mark.parametrize("objective, strategy", [
    ("min", "feature_label"), ("weighted", "feature_label"), ("min", "feature_only")])
def test_allocation_reaches_grid_optimum(objective, strategy):
  problems = allocation_instances(OBJECTIVE_SEEDS[objective, strategy], 6, strategy)
  out = allocate_batch(problems, objective=objective, strategy=strategy)
  for i in range(6):
    problem = {k: v[i] for k, v in problems.items()}
    best = float(grid_best(problem, objective=objective, strategy=strategy))
    value = float(out.value[i])
    assert value >= best - 0.005, (i, value, best)
    masses = np.asarray(out.masses[i])
    assert np.all(masses >= 0) and abs(masses.sum() - problem["budget"]) < 1e-12
    # The value is the exact clipped metric at the returned masses.
    exact = optimize.allocation_value(masses, objective=objective, strategy=strategy,
                                      **{k: v for k, v in problem.items() if k != "budget"})
    np.testing.assert_allclose(value, exact, atol=1e-12)
    history = np.asarray(out.history[i])
    assert np.all(np.diff(history) >= 0) and history[-1] <= value + 1e-12
  # Informative instances: most optima are not trivial.
  assert np.mean(np.asarray(out.value) > 0.05) >= 0.5


def test_allocation_spec_example_and_weighted_vertex():
  out = optimize.allocate_masses(.1, **SPEC)
  start = optimize.allocation_value(np.array([.05, .03, .02]), **SPEC)
  np.testing.assert_allclose(start, .375, atol=1e-12)
  assert float(out.value) > .6
  # At the S_min optimum the active bounds are equal (equalisation).
  b = bounds.scenario_bounds(out.masses, SPEC["targets"], xi_c=SPEC["xi_c"], xi=SPEC["xi"],
                             delta=SPEC["delta"], eps=SPEC["eps"])
  assert float(jnp.max(b) - jnp.min(b)) < 1e-3
  # S_w is convex in the masses at a fixed total: its optimum is a vertex, and
  # the best vertex is the collective with the best bound on its own.
  # (Solved in the batch shapes of the grid test, which are compiled already.)
  batch = {k: np.broadcast_to(np.asarray(v), (6,) + np.shape(v)) for k, v in SPEC.items()}
  batch["xi"] = np.full((6, 3), SPEC["xi"])
  weighted = allocate_batch({"budget": np.full(6, .1), **batch}, objective="weighted",
                            strategy="feature_label")
  rarity = SPEC["xi_c"] * (SPEC["delta"] + 2 * .1) / (1 - .2)
  alone = 1 - rarity * (1 - .1) / .1
  assert int(np.count_nonzero(np.asarray(weighted.masses[0]))) == 1
  np.testing.assert_allclose(weighted.value[0], alone.max(), atol=1e-12)


def test_allocation_batched_equals_per_problem_and_seeds():
  problems = allocation_instances(5, 6, "feature_label")
  batched = allocate_batch(problems, objective="min", strategy="feature_label")
  for i in range(3):
    problem = {k: v[i] for k, v in problems.items()}
    budget = problem.pop("budget")
    single = optimize.allocate_masses(budget, **problem)
    np.testing.assert_allclose(single.masses, batched.masses[i], atol=1e-10)
    np.testing.assert_allclose(single.history, batched.history[i], atol=1e-10)
    again = optimize.allocate_masses(budget, **problem)
    np.testing.assert_array_equal(again.masses, single.masses)
    other = optimize.allocate_masses(budget, seed=4, **problem)
    np.testing.assert_allclose(other.value, single.value, atol=5e-4)   # optimum is unique


def test_allocation_no_recompile_on_new_values():
  optimize.allocate_masses(.2, **SPEC)
  size = _allocation._allocate_core._cache_size()
  optimize.allocate_masses(.3, **{**SPEC, "xi": .07, "eps": .05})
  assert _allocation._allocate_core._cache_size() == size


def fresh_optimizer_calls(fn, core, learning_rate):
  """Three calls of ``fn``, each with a fresh optax.adam(learning_rate).

  Returns the results and the compilations of ``core`` by the first call and
  by the two later ones.
  """
  start = core._cache_size()
  results = [fn(optax.adam(learning_rate))]
  first = core._cache_size()
  results += [fn(optax.adam(learning_rate)) for _ in range(2)]
  return results, first - start, core._cache_size() - first


@pytest.mark.parametrize("name", ["allocate_masses", "place_signals", "choose_targets"])
def test_fresh_optimizer_with_same_hyperparameters_does_not_recompile(name):
  """A new optax object with the same hyperparameters hits the jit cache; new ones compile."""
  masses = np.array([.05, .03, .02])
  fn, core = {
      "allocate_masses": (lambda opt: optimize.allocate_masses(.1, **SPEC, optimizer=opt,
                                                               steps=20),
                          _allocation._allocate_core),
      "place_signals": (lambda opt: optimize.place_signals(
          P0_SPEC, np.array([1, 2, 1]), masses, eps=.05, optimizer=opt, steps=20),
                        _signals._place_core),
      "choose_targets": (lambda opt: optimize.choose_targets(
          masses, num_labels=2, xi_c=.01, xi=.05, delta=np.array([[.6, .2], [.2, .6], [.5, .5]]),
          eps=.1, optimizer=opt, steps=20), _targets._targets_core),
  }[name]
  results, first, later = fresh_optimizer_calls(fn, core, .05)
  assert (first, later) == (1, 0)
  for result in results[1:]:
    for leaf, again in zip(jax.tree.leaves(results[0]), jax.tree.leaves(result), strict=True):
      np.testing.assert_array_equal(leaf, again)
  # A different learning rate is a different optimiser: it compiles again, once.
  results, first, later = fresh_optimizer_calls(fn, core, .1)
  assert (first, later) == (1, 0)


def test_static_keys_follow_hyperparameters():
  """Static compares optimisers and schedules by code and values, unknowns by identity."""
  same = _static.Static(optax.adam(optax.cosine_decay_schedule(.1, 50, alpha=.01)))
  assert same == _static.Static(optax.adam(optax.cosine_decay_schedule(.1, 50, alpha=.01)))
  assert hash(same) == hash(
      _static.Static(optax.adam(optax.cosine_decay_schedule(.1, 50, alpha=.01))))
  assert same != _static.Static(optax.adam(optax.cosine_decay_schedule(.1, 60, alpha=.01)))
  assert _static.Static(optax.adam(.05)) != _static.Static(optax.sgd(.05))
  assert _static.Static(optax.adam(.05, b1=.8)) != _static.Static(optax.adam(.05))
  assert _static.Static(optax.adam(np.float32(.05))) == _static.Static(optax.adam(np.float32(.05)))
  assert _static.Static(optax.adam(np.float32(.05))) != _static.Static(optax.adam(.05))
  assert _static.Static(optax.adam(jnp.array(.05))) == _static.Static(optax.adam(jnp.array(.05)))
  assert _static.Static((.1, 1e-3)) == _static.Static((.1, 1e-3))
  assert _static.Static(None) == _static.Static(None)

  def schedule(rate):
    return lambda step: rate * .99 ** step
  assert _static.Static(schedule(.05)) == _static.Static(schedule(.05))
  assert _static.Static(schedule(.05)) != _static.Static(schedule(.06))
  # Unknown objects count by identity: equal only to themselves.
  marker = object()
  assert _static.Static(schedule(marker)) == _static.Static(schedule(marker))
  assert _static.Static(schedule(object())) != _static.Static(schedule(object()))


def test_static_keys_see_globals_and_survive_cycles():
  namespace = {"rate": .05}
  exec("def sched(step):\n  return rate * step", namespace)
  before = _static.Static(namespace["sched"])
  namespace["rate"] = .1
  assert _static.Static(namespace["sched"]) != before

  def recursive(n):
    return 0 if n == 0 else recursive(n - 1)
  assert _static.Static(recursive) == _static.Static(recursive)


def test_allocation_custom_optimizer_schedule_and_soft_targets():
  soft = np.eye(2)[SPEC["targets"]]
  base = optimize.allocate_masses(.1, **SPEC)
  out = optimize.allocate_masses(
      .1, **{**SPEC, "targets": soft}, optimizer=optax.sgd(optax.exponential_decay(.5, 100, .5)),
      steps=400, temperature=lambda step: .05 * .99 ** step)
  assert abs(float(out.value) - float(base.value)) < 5e-3


def test_allocation_float32():
  spec32 = {k: np.asarray(v, np.float32) if k != "targets" else v for k, v in SPEC.items()}
  out = optimize.allocate_masses(np.float32(.1), **spec32)
  assert out.masses.dtype == jnp.float32 and out.value.dtype == jnp.float32
  assert abs(float(out.value) - float(optimize.allocate_masses(.1, **SPEC).value)) < 1e-3


def test_allocation_traced_bad_budget_is_nan():
  problems = allocation_instances(5, 6, "feature_label")
  problems["budget"] = np.array([0.0, 1.0, 1.5, -0.1, np.nan, 0.2])
  out = allocate_batch(problems, objective="min", strategy="feature_label")
  assert np.all(np.isnan(out.value[:5])) and np.all(np.isnan(out.masses[:5]))
  assert np.isfinite(out.value[5])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(budget=0.0), ValueError, "budget"),
    (dict(budget=1.0), ValueError, "budget"),
    (dict(budget=-.2), ValueError, "budget"),
    (dict(budget=np.array([.1, .2])), ValueError, "budget"),
    (dict(objective="max"), ValueError, "objective"),
    (dict(strategy="noise"), ValueError, "strategy"),
    (dict(xi_c=np.ones(4) * .01), ValueError, "xi_c"),
    (dict(delta=np.ones((3, 2))), ValueError, "delta"),
    (dict(delta=None), ValueError, "delta"),
    (dict(p=.5), ValueError, "p is only used"),
    (dict(targets=np.array([[1, 0]])), ValueError, "targets"),
    (dict(targets=np.array([.5, .5, 0.])), ValueError, "targets"),
    (dict(eps=np.ones(3)), ValueError, "eps"),
    (dict(steps=0), ValueError, "steps"),
    (dict(restarts=1.5), ValueError, "restarts"),
    (dict(temperature=(0.1, -1.0)), ValueError, "temperature"),
    (dict(optimizer="adam"), TypeError, "optimizer"),
    (dict(xi="a"), TypeError, "xi"),
])
def test_allocation_bad_inputs(kwargs, error, match):
  args = dict(budget=.1, **SPEC)
  args.update(kwargs)
  budget = args.pop("budget")
  with pytest.raises(error, match=match):
    optimize.allocate_masses(budget, **args)


def test_allocation_value_bad_shapes_and_jit(maybe_jit):
  fn = maybe_jit(optimize.allocation_value, static=("objective", "strategy"))
  np.testing.assert_allclose(fn(np.array([.05, .03, .02]), objective="weighted", **SPEC), .62125,
                             atol=1e-12)
  # Zero mass: weighs nothing in S_w (the vertex), counts 0 in S_min.
  np.testing.assert_allclose(fn(np.array([.1, 0., 0.]), objective="weighted", **SPEC),
                             1 - .01 * .8 / .8 * .9 / .1, atol=1e-12)
  np.testing.assert_allclose(fn(np.array([.1, 0., 0.]), **SPEC), 0.0)
  with pytest.raises(ValueError, match="masses"):
    optimize.allocation_value(np.ones(2) * .1, **SPEC)


def test_smooth_objectives_gradients_match_finite_differences():
  problem = _common._problem(3, targets=SPEC["targets"], xi_c=SPEC["xi_c"], xi=SPEC["xi"],
                             eps=SPEC["eps"], delta=SPEC["delta"], p=None, dtype=np.float64)

  def smooth(logits, objective):
    masses = .1 * jax.nn.softmax(logits)
    raw = _common._scenario_bounds(masses, problem, "feature_label", False)
    return _common._smooth_metric(masses, raw, objective, .05)

  logits = jnp.array([.3, -.2, .1])
  for objective in ("min", "weighted"):
    check_grads(jax.jit(lambda z: smooth(z, objective)), (logits,), order=1, modes=["rev"],
                eps=1e-6)
  # Soft targets (target choice): alignment and per-label difficulty.
  delta = jnp.array([[.6, .2], [.2, .6], [.5, .5]])

  def soft(logits):
    pr = _targets._label_problem(problem._replace(delta=delta), jax.nn.softmax(logits, -1))
    masses = jnp.array([.05, .03, .02])
    return _common._smooth_metric(masses, _common._scenario_bounds(
        masses, pr, "feature_label", False), "min", .05)

  check_grads(jax.jit(soft), (jnp.array([[.2, -.1], [0., .3], [.4, .1]]),), order=1,
              modes=["rev"], eps=1e-6)


def test_placement_surrogate_gradients_match_finite_differences():
  def objective(logits):
    success = mixtures.surrogate_success(P0_SPEC, logits, jnp.array([1, 2, 1]),
                                         jnp.array([.06, .04, .03]), eps=.05, temperature=.05)
    return -.05 * jax.nn.logsumexp(-success / .05)

  logits = jax.random.normal(jax.random.key(0), (3, 6), jnp.float64)
  # Reverse mode: what the optimiser uses.
  check_grads(jax.jit(objective), (logits,), order=1, modes=["rev"], eps=1e-6)


# --------------------------------------------------------------------------
# critical_budget
# --------------------------------------------------------------------------


def raw_min(masses, problem, strategy):
  b = bounds.scenario_bounds(jnp.asarray(masses), problem["targets"], strategy=strategy,
                             clip=False, **{k: v for k, v in problem.items() if k != "targets"})
  return float(jnp.min(b))


@pytest.mark.parametrize("strategy", ["feature_label", "feature_only"])
def test_critical_budget_with_shares_is_tight(strategy):
  rng = np.random.default_rng(11)
  reached = 0
  for _ in range(20):
    problem = {k: v[0] for k, v in allocation_instances(int(rng.integers(1e6)), 1,
                                                        strategy).items() if k != "budget"}
    shares = rng.dirichlet(np.ones(3) * 3)
    target = rng.uniform(0.05, 0.6)
    out = optimize.critical_budget(target, shares=shares, strategy=strategy, **problem)
    if not out.feasible:
      assert np.all(np.isnan(out.masses))
      continue
    if float(out.budget) == 0:   # every positive budget reaches the target
      assert raw_min(1e-6 * shares, problem, strategy) >= target - 1e-9
      continue
    reached += 1
    budget = float(out.budget)
    np.testing.assert_allclose(out.masses, budget * shares, rtol=1e-12)
    assert raw_min(budget * shares, problem, strategy) >= target - 1e-9
    assert raw_min(budget * (1 - 1e-4) * shares, problem, strategy) < target
  assert reached >= 8


@pytest.mark.parametrize("strategy", ["feature_label", "feature_only"])
def test_critical_budget_optimised_shares(strategy):
  problems = allocation_instances(12, 6, strategy)
  targets = np.random.default_rng(13).uniform(0.05, 0.6, 6)
  budgets = np.full(6, .5)
  checked = []
  for i in range(6):
    problem = {k: v[i] for k, v in problems.items() if k != "budget"}
    out = optimize.critical_budget(targets[i], strategy=strategy, **problem)
    with_uniform = optimize.critical_budget(targets[i], strategy=strategy, shares=np.ones(3),
                                            **problem)
    assert float(out.budget) <= float(with_uniform.budget) + 1e-12
    if not out.feasible or float(out.budget) < 1e-3:
      continue
    budget = float(out.budget)
    np.testing.assert_allclose(np.sum(out.masses), budget, rtol=1e-9)
    # A zero entry: that collective needs no members (any positive mass).
    masses = np.maximum(np.asarray(out.masses), 1e-12)
    assert raw_min(masses, problem, strategy) >= targets[i] - 1e-6
    budgets[i] = budget * .98
    checked.append(i)
  assert len(checked) >= 3
  # Slightly less budget: even the best split (allocate_masses) falls short.
  less = allocate_batch({**problems, "budget": budgets}, objective="min", strategy=strategy)
  assert np.all(np.asarray(less.value)[checked] < targets[checked])


@pytest.mark.parametrize("strategy, extra", [("feature_label", dict(delta=.6)),
                                             ("feature_only", dict(p=.3))])
def test_critical_budget_single_collective_is_spec_section_8(strategy, extra):
  out = optimize.critical_budget(.9, targets=np.array([0]), xi_c=.01, xi=.05, eps=.1,
                                 strategy=strategy, **extra)
  want = bounds.critical_mass(.9, strategy=strategy, alpha_others=0., beta=0., xi_c=.01,
                              xi=.05, eps=.1, **extra)
  np.testing.assert_allclose(out.budget, want, rtol=1e-12)
  shares = optimize.critical_budget(.9, targets=np.array([0]), xi_c=.01, xi=.05, eps=.1,
                                    strategy=strategy, shares=np.ones(1), **extra)
  np.testing.assert_allclose(shares.budget, want, rtol=1e-12)


def test_critical_budget_infeasible_and_out_of_domain():
  out = optimize.critical_budget(.99, **SPEC)
  assert not out.feasible and np.isinf(out.budget) and np.all(np.isnan(out.masses))
  traced = jax.jit(lambda s: optimize.critical_budget(s, **SPEC))(1.5)
  assert np.isnan(traced.budget) and not traced.feasible


def test_critical_budget_root_matches_closed_form_and_gradients():
  """Soft one-hot targets go through root finding; it agrees with the closed form."""
  problem = dict(xi_c=np.array([.01, .02, .005]), xi=np.array([.05, .08, .03]),
                 delta=np.array([.6, .4, .8]), eps=.1)
  labels = np.array([0, 1, 0])
  soft = np.eye(2)[labels]

  def closed_fn(xi_c, delta):
    return optimize.critical_budget(.5, targets=labels, xi_c=xi_c, xi=problem["xi"],
                                    delta=delta, eps=.1).budget

  # Closed form: gradients against finite differences.
  check_grads(jax.jit(closed_fn), (problem["xi_c"], problem["delta"]), order=1,
              modes=["fwd", "rev"], eps=1e-6)
  # Root finding: value and implicit-function derivative (one jvp) agree with
  # the closed form's, and the returned split reaches the target.
  direction = np.array([1., -.5, 2.])
  closed, closed_dot = jax.jvp(lambda x: closed_fn(x, problem["delta"]), (problem["xi_c"],),
                               (direction,))

  def root_fn(xi_c):
    out = optimize.critical_budget(.5, targets=soft, xi_c=xi_c, xi=problem["xi"],
                                   delta=problem["delta"], eps=.1)
    return out.budget, out.masses

  (root, masses), (root_dot, _) = jax.jvp(root_fn, (problem["xi_c"],), (direction,))
  np.testing.assert_allclose(root, closed, rtol=2e-3)
  np.testing.assert_allclose(root_dot, closed_dot, rtol=0.05)
  np.testing.assert_allclose(np.sum(masses), root, rtol=1e-9)
  assert raw_min(masses, dict(targets=labels, **problem), "feature_label") >= .5 - 1e-9


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=np.ones(2)), "target"),
    (dict(shares=np.ones(2)), "shares"),
    (dict(shares=np.array([1., 0., 1.])), "shares"),
    (dict(method="newton"), "method"),
    (dict(method="root", shares=np.ones(3)), "root"),
    (dict(method="closed_form", targets=np.eye(2)[[1, 0, 1]]), "closed_form"),
    (dict(strategy="feature_only"), "p is required"),
])
def test_critical_budget_bad_inputs(kwargs, match):
  args = dict(target=.5, **SPEC)
  args.update(kwargs)
  target = args.pop("target")
  with pytest.raises(ValueError, match=match):
    optimize.critical_budget(target, **args)


# --------------------------------------------------------------------------
# place_signals
# --------------------------------------------------------------------------


def enumerate_placements(p0, targets, masses, eps, objective, feature_only):
  """Exact objective of every one of the n^M placements, batched over problems."""
  num, n = targets.shape[1], p0.shape[1]
  table = jnp.asarray(list(itertools.product(range(n), repeat=num)))

  def one(p0, targets, masses, eps):
    return jax.vmap(lambda pts: optimize.placement_value(
        p0, targets, masses, pts, eps=eps, objective=objective, feature_only=feature_only))(table)
  return np.asarray(jax.jit(jax.vmap(one))(p0, targets, masses, eps))


PLACEMENT_CONFIGS = [(3, "min", False), (2, "weighted", True)]   # (M, objective, feature_only)


@pytest.fixture(scope="module")
def placements():
  """15 random instances per configuration, solved in one vmapped call each."""
  out = {}
  for m, objective, feature_only in PLACEMENT_CONFIGS:
    instances = placement_instances(100 * m + len(objective), 15, m)
    solve = jax.jit(jax.vmap(lambda a, b, c, d, s: optimize.place_signals(
        a, b, c, eps=d, objective=objective, feature_only=feature_only, seed=s)))
    out[m, objective, feature_only] = instances, solve(*instances, jnp.arange(15))
  return out


def test_place_signals_matches_enumeration(placements):
  """Over 30 random n = 6, K = 3 instances: >= 80 % exact optima, never below random."""
  rng = np.random.default_rng(7)
  hits, total = 0, 0
  for (m, objective, feature_only), (instances, out) in placements.items():
    p0, targets, masses, eps = instances
    values = enumerate_placements(p0, targets, masses, eps, objective, feature_only)
    for i in range(len(eps)):
      value = float(out.value[i])
      exact = optimize.placement_value(p0[i], targets[i], masses[i], out.signal_points[i],
                                       eps=eps[i], objective=objective,
                                       feature_only=feature_only)
      np.testing.assert_allclose(value, exact, atol=1e-12)
      random_best = values[i, rng.integers(0, values.shape[1], 20)].max()
      assert value >= random_best - 1e-12, (m, objective, i)
      hits += value >= values[i].max() - 1e-12
      total += 1
  assert total == 30
  assert hits / total >= 0.8, hits / total


def test_place_signals_reproducible_and_batched_equals_single(placements):
  (p0, targets, masses, eps), batched = placements[3, "min", False]
  for i in range(2):
    single = optimize.place_signals(p0[i], targets[i], masses[i], eps=eps[i], seed=i)
    again = optimize.place_signals(p0[i], targets[i], masses[i], eps=eps[i], seed=i)
    np.testing.assert_array_equal(single.signal_points, again.signal_points)
    np.testing.assert_array_equal(single.history, again.history)
    np.testing.assert_array_equal(single.signal_points, batched.signal_points[i])
    np.testing.assert_allclose(single.value, batched.value[i], atol=1e-12)
    np.testing.assert_allclose(single.history, batched.history[i], atol=1e-12)
    assert np.all(np.diff(np.asarray(single.history)) >= 0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(objective="median"), ValueError, "objective"),
    (dict(candidates=np.array([0, 0])), ValueError, "candidates"),
    (dict(candidates=np.array([9])), ValueError, "candidates"),
    (dict(masses=np.array([.5, .6, .1])), ValueError, "masses"),
    (dict(targets=np.array([1, 2])), ValueError, "masses must have shape"),
    (dict(p0=np.ones((6, 3))), ValueError, "p0"),
    (dict(feature_only=np.array([1, 0, 1])), TypeError, "feature_only"),
    (dict(eps=np.ones(2)), ValueError, "eps"),
    (dict(polish_sweeps=-1), ValueError, "polish_sweeps"),
])
def test_place_signals_bad_inputs(kwargs, error, match):
  args = dict(p0=P0_SPEC, targets=np.array([1, 2, 1]), masses=np.array([.06, .04, .03]),
              eps=.05)
  args.update(kwargs)
  with pytest.raises(error, match=match):
    optimize.place_signals(args.pop("p0"), args.pop("targets"), args.pop("masses"), **args)


# --------------------------------------------------------------------------
# Targets and coalitions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["min", "weighted"])
def test_choose_targets_matches_enumeration(objective):
  rng = np.random.default_rng(len(objective))
  count, m, k = 10, 3, 3
  masses = rng.dirichlet(np.ones(m), count) * rng.uniform(0.05, 0.3, (count, 1))
  xi_c = rng.uniform(0.002, 0.03, (count, m))
  xi = rng.uniform(0, 0.3, (count, m))
  delta = rng.uniform(0, 1, (count, m, k))
  eps = rng.uniform(0, 0.15, count)

  def one(masses, xi_c, xi, delta, eps):
    kw = dict(num_labels=k, xi_c=xi_c, xi=xi, delta=delta, eps=eps, objective=objective)
    return optimize.choose_targets(masses, **kw), optimize.enumerate_targets(masses, **kw)[1]

  out, table = jax.jit(jax.vmap(one))(masses, xi_c, xi, delta, eps)
  best = np.asarray(table).max(axis=1)
  np.testing.assert_allclose(out.value, best, atol=1e-12)
  for i in range(count):
    np.testing.assert_allclose(
        optimize.targets_value(masses[i], out.targets[i], xi_c=xi_c[i], xi=xi[i],
                               delta=delta[i], eps=eps[i], objective=objective),
        out.value[i], atol=1e-12)
    np.testing.assert_allclose(np.asarray(out.soft_targets[i]).sum(-1), 1, atol=1e-9)


def test_targets_with_label_free_difficulty_align_everyone():
  """With delta per collective only, sharing a target never hurts: all align."""
  masses = np.array([.05, .03, .02])
  kw = dict(num_labels=3, xi_c=SPEC["xi_c"], xi=SPEC["xi"], delta=SPEC["delta"], eps=SPEC["eps"])
  for objective in ("min", "weighted"):
    table, values = optimize.enumerate_targets(masses, objective=objective, **kw)
    best = np.asarray(table)[np.asarray(values) >= np.max(values) - 1e-12]
    assert np.all(best == best[:, :1])   # every best assignment is a single target


def test_coalition_gains_match_direct_evaluation():
  rng = np.random.default_rng(4)
  masses = np.array([.04, .03, .05, .02])
  targets = np.array([0, 1, 2, 1])
  delta = rng.uniform(0, 1, (4, 3))
  kw = dict(xi_c=rng.uniform(0.002, 0.02, 4), xi=.1, delta=delta, eps=.05)
  for objective in ("min", "weighted"):
    out = optimize.coalition_gains(masses, targets, objective=objective, **kw)
    base = optimize.targets_value(masses, targets, objective=objective, **kw)
    np.testing.assert_allclose(out.value, base, atol=1e-12)
    for i, j in itertools.product(range(4), repeat=2):
      joined = targets.copy()
      joined[j] = targets[i]
      want = optimize.targets_value(masses, joined, objective=objective, **kw) - base
      np.testing.assert_allclose(out.gain[i, j], want, atol=1e-12)
      if targets[i] == targets[j]:
        assert out.gain[i, j] == 0
    np.testing.assert_allclose(out.joined_bounds[0, 0], out.bounds, atol=1e-12)


@pytest.mark.parametrize("fn, kwargs, match", [
    ("choose_targets", dict(num_labels=0), "num_labels"),
    ("choose_targets", dict(delta=np.ones((3, 4)) * .5), "delta"),
    ("choose_targets", dict(masses=np.array([.5, .4, .3])), "masses"),
    ("choose_targets", dict(objective="sum"), "objective"),
    ("coalition_gains", dict(targets=np.array([0, 1])), "targets"),
    ("coalition_gains", dict(targets=np.array([0, 1, 5]), delta=np.ones((3, 2)) * .5),
     "targets"),
])
def test_target_functions_bad_inputs(fn, kwargs, match):
  args = dict(masses=np.array([.05, .03, .02]), xi_c=.01, xi=.05, delta=.5, eps=.1)
  if fn == "choose_targets":
    args["num_labels"] = 2
  else:
    args["targets"] = np.array([0, 1, 0])
  args.update(kwargs)
  masses = args.pop("masses")
  with pytest.raises(ValueError, match=match):
    if fn == "choose_targets":
      optimize.choose_targets(masses, **args)
    else:
      optimize.coalition_gains(masses, args.pop("targets"), **args)
