"""Scenario builder (acajax.scenarios) and the exact critical mass (optimize).

* ``finite_scenario``: on many random valid inputs, the table's parameters as
  ``mixtures.scenario_parameters`` computes them are the prescribed ones;
  values the construction cannot realise raise (concrete) or give NaN (traced).
* ``exact_critical_mass``: against a brute-force scan of a NumPy worst-case
  success (SPEC §2) on fine grids over random finite tables, also where the
  success is not monotone in the collective's own mass; and below the closed
  form ``bounds.critical_mass`` (SPEC §8) at the table's own parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from acajax import bounds, mixtures, optimize, scenarios

SLACK = 64 * np.finfo(np.float64).eps     # mixtures.success_tolerance in float64


# --------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------


def random_parameters(rng, num, labels):
  """Valid inputs of the construction: targets, xi_c, xi, delta, shared_mass."""
  xi = 0.0 if num == 1 or rng.random() < .2 else rng.uniform(0, .9)
  shared = rng.uniform(0, xi) if rng.random() < .5 else 0.0
  own = rng.dirichlet(np.ones(num + 1))[:num] * (1 - xi)     # sum(xi_c - shared) <= 1 - xi
  delta = rng.uniform(0, 1, num)
  delta[rng.random(num) < .2] = 0.0
  delta[rng.random(num) < .2] = 1.0
  return rng.integers(0, labels, num), shared + own, xi, delta, shared


@pytest.mark.parametrize("num, labels", [(1, 2), (2, 3), (4, 2)])
def test_finite_scenario_has_the_prescribed_parameters(num, labels):
  rng = np.random.default_rng(num * 10 + labels)
  batch = [random_parameters(rng, num, labels) for _ in range(60)]
  targets, xi_c, xi, delta, shared = (np.stack([b[i] for b in batch]) for i in range(5))
  build = jax.vmap(lambda t, a, b, d, w: scenarios.finite_scenario(
      t, num_labels=labels, xi_c=a, xi=b, delta=d, shared_mass=w))
  tables = build(targets, xi_c, xi, delta, shared)
  masses = jnp.full((len(batch), num), .5 / num)
  par = jax.vmap(mixtures.scenario_parameters)(*tables, masses)
  np.testing.assert_allclose(par.xi_c, xi_c, rtol=0, atol=1e-12)
  np.testing.assert_allclose(par.delta, delta, rtol=0, atol=1e-12)
  np.testing.assert_allclose(par.xi, np.broadcast_to(xi[:, None] if num > 1 else 0, xi_c.shape),
                             rtol=0, atol=1e-12)
  off_diagonal = ~np.eye(num, dtype=bool)
  np.testing.assert_allclose(np.asarray(par.overlap)[:, off_diagonal],
                             np.broadcast_to(xi[:, None], (len(batch), num * num - num)),
                             rtol=0, atol=1e-12)
  # Eagerly (value checks on) the same table comes out.
  one = scenarios.finite_scenario(targets[0], num_labels=labels, xi_c=xi_c[0], xi=xi[0],
                                  delta=delta[0], shared_mass=shared[0])
  np.testing.assert_array_equal(one.p0, tables.p0[0])
  assert one.p0.shape == (num + 3, labels) and one.signal_maps.shape == (num, num + 3)
  assert np.all(np.asarray(tables.p0) >= 0) and np.allclose(tables.p0.sum((1, 2)), 1)


def test_finite_scenario_at_the_edges_of_the_construction():
  # Everything fits exactly (no filler mass left) and every collective is on the shared point.
  kw = dict(num_labels=3, xi=.4, delta=jnp.array([0., 1.]))
  table = scenarios.finite_scenario(jnp.array([0, 2]), xi_c=jnp.array([.4, .6]),
                                    shared_mass=.4, **kw)
  par = mixtures.scenario_parameters(*table, jnp.array([.1, .1]))
  np.testing.assert_allclose(par.xi_c, [.4, .6], atol=1e-12)
  np.testing.assert_allclose(par.delta, [0, 1], atol=1e-12)
  np.testing.assert_allclose(par.xi, [.4, .4], atol=1e-12)


GOOD = dict(targets=np.array([0, 1]), num_labels=2, xi_c=np.array([.1, .2]), xi=.3,
            delta=np.array([.2, .5]), shared_mass=0.0)


@pytest.mark.parametrize("change, argument", [
    (dict(xi_c=np.array([-.1, .2])), "xi_c must lie in"),
    (dict(delta=np.array([.2, 1.5])), "delta must lie in"),
    (dict(xi=1.2), "xi must lie in"),
    (dict(targets=np.array([0]), xi_c=.1, delta=.2), "xi must be 0 with one collective"),
    (dict(shared_mass=.4), "shared_mass must lie in"),
    (dict(shared_mass=.15), "shared_mass must be at most every xi_c"),
    (dict(xi_c=np.array([0., .2])), "delta must be 0 where xi_c is 0, for any table"),
    (dict(xi_c=np.array([.1, .2]), shared_mass=.1), "delta must be 0 where xi_c equals"),
    (dict(xi_c=np.array([.4, .4])), "xi_c does not fit"),
    (dict(xi=1.0, xi_c=np.array([.5, .6]), delta=0.0, shared_mass=.5), "xi_c does not fit"),
    (dict(targets=np.array([0, 2])), "targets must lie in"),
    (dict(num_labels=1), "num_labels must be an integer >= 2"),
    (dict(xi_c=np.ones(3) * .1), r"xi_c must be a scalar or have shape \(2,\)"),
    (dict(xi=np.array([.1, .1])), "xi must be a scalar"),
])
def test_finite_scenario_says_what_it_cannot_build(change, argument):
  kwargs = {**GOOD, **change}
  with pytest.raises(ValueError, match=argument):
    scenarios.finite_scenario(kwargs.pop("targets"), **kwargs)


def test_finite_scenario_refuses_float_targets():
  with pytest.raises(TypeError, match="targets must be integer"):
    scenarios.finite_scenario(np.array([0., 1.]), num_labels=2, xi_c=.1, xi=.1, delta=.1)


def test_finite_scenario_traced_gives_nan_where_it_cannot_build():
  build = jax.vmap(lambda xi: scenarios.finite_scenario(
      jnp.array([0, 1]), num_labels=2, xi_c=jnp.array([.1, .2]), xi=xi, delta=.3))
  p0 = np.asarray(build(jnp.array([.2, .8, -.1])).p0)
  assert np.isfinite(p0[0]).all() and np.isnan(p0[1:]).all()


# --------------------------------------------------------------------------
# The exact critical mass against brute force
# --------------------------------------------------------------------------


def np_worst_case_success(p0, maps, targets, masses, eps, feature_only=False):
  """SPEC §1–§2 in NumPy, float64: S_c^wc for deterministic maps, FL or FO."""
  p0 = np.asarray(p0, np.float64)
  marginal = p0.sum(1)
  joint = (1 - masses.sum()) * p0
  for c, (g, y) in enumerate(zip(maps, targets)):
    pushed = p0.copy() if feature_only else np.zeros_like(p0)
    moved = p0[:, y] if feature_only else marginal
    pushed[:, y] = 0 if feature_only else pushed[:, y]
    np.add.at(pushed[:, y], g, moved)
    joint += masses[c] * pushed
  total = joint.sum(1)
  success = []
  for g, y in zip(maps, targets):
    rival = np.delete(joint, y, axis=1).max(1)
    margin = np.where(total > 0, (joint[:, y] - rival) / np.where(total > 0, total, 1), -1)
    success.append(marginal @ (margin[g] >= 2 * eps - SLACK))
  return np.array(success)


def success_on_grid(p0, maps, targets, masses, c, eps, feature_only=False, points=2001):
  """(grid over [0, 1 - a_o), NumPy S_c^wc there, the NumPy S_c^wc as a function)."""
  room = 1 - (masses.sum() - masses[c])

  def success(alpha):
    trial = masses.copy()
    trial[c] = alpha
    return np_worst_case_success(p0, maps, targets, trial, eps, feature_only)[c]

  grid = np.linspace(0, room, points)[:-1]
  return grid, np.array([success(a) for a in grid]), success


def brute_force_check(critical, target, grid, on_grid, success):
  """``critical`` reaches ``target`` and no grid mass below it does."""
  reached = on_grid >= target - SLACK
  if np.isinf(critical):
    assert not reached.any()
    return
  assert 0 <= critical < grid[-1] + grid[1]
  below = grid < critical * (1 - 1e-9) - 1e-12
  assert not reached[below].any()
  if critical > 0:
    assert success(critical) >= target - SLACK
  else:   # 0 is the infimum: every small positive mass reaches the target
    assert success(1e-9 * grid[1]) >= target - SLACK
  if reached.any():
    assert critical <= grid[np.argmax(reached)] + 1e-12


def random_table(rng, points=5, labels=3, num=2):
  p0 = rng.dirichlet(np.ones(points * labels)).reshape(points, labels)
  maps = rng.integers(0, points, (num, points))
  targets = rng.integers(0, labels, num)
  masses = rng.uniform(.02, .3, num)
  return p0, maps, targets, masses


@pytest.mark.parametrize("feature_only", [False, True])
def test_exact_critical_mass_is_the_first_crossing_on_random_tables(feature_only):
  rng = np.random.default_rng(1 + feature_only)
  goals = np.array([.3, .6, .8, .95, 1.])
  solve = jax.jit(jax.vmap(
      lambda s, p0, maps, targets, masses, eps: optimize.exact_critical_mass(
          s, p0, maps, targets, masses, collective=1, eps=eps, feature_only=feature_only),
      in_axes=(0, None, None, None, None, None)))
  finite = 0
  for _ in range(6):
    p0, maps, targets, masses = random_table(rng)
    eps = rng.choice([0., .05, .2])
    critical = np.asarray(solve(goals, p0, maps, targets, masses, eps))
    finite += np.isfinite(critical).sum()
    scan = success_on_grid(p0, maps, targets, masses, 1, eps, feature_only)
    for s, value in zip(goals, critical):
      brute_force_check(value, s, *scan)
  assert finite >= 10     # the scan compared real crossings, not only infeasible targets


def test_worst_case_success_is_not_monotone_in_the_own_mass():
  # Point 1 favours c's label under P0 but receives few of c's members (only
  # point 0's); c's members dilute the base data there until c1's members win it.
  p0 = np.array([[.05, 0.], [.45, .05], [.1, .35]])
  maps = np.array([[1, 2, 2], [1, 1, 1]])
  targets, masses = np.array([0, 1]), np.array([0., .2])
  alphas = np.array([.05, .3, .6])
  success = [np_worst_case_success(p0, maps, targets, np.array([a, .2]), 0.)[0] for a in alphas]
  assert success[1] > success[0] and success[1] > success[2]   # up, then down again
  critical = optimize.exact_critical_mass(1., p0, maps, targets, masses, collective=0, eps=0.)
  brute_force_check(float(critical), 1., *success_on_grid(p0, maps, targets, masses, 0, 0.))
  assert 0 < float(critical) < .3


def test_exact_critical_mass_vmaps_like_a_loop_and_marks_infeasible_and_out_of_domain():
  rng = np.random.default_rng(7)
  p0, maps, targets, _ = random_table(rng, num=3)
  # Rows 4 and 5 are out of domain (others' total mass 1.2; eps = 1/2): NaN under vmap.
  others = jnp.array(np.vstack([rng.uniform(0, .3, (4, 3)), [[.6, .6, 0.], [.1, .1, 0.]]]))
  eps = jnp.array([0., .05, .1, .3, .1, .5])

  def one(masses, e):
    return optimize.exact_critical_mass(.8, p0, maps, targets, masses, collective=2, eps=e)

  batched = np.asarray(jax.vmap(one)(others, eps))
  looped = [one(m, e) for m, e in zip(others[:4], eps[:4])]
  np.testing.assert_allclose(batched[:4], looped, rtol=1e-14)
  assert np.isnan(batched[4:]).all()
  kw = dict(collective=0, eps=.1)
  # Two opposed collectives on one point: c0 cannot win it while c1 keeps 0.6 of the mass.
  table = scenarios.finite_scenario(jnp.array([0, 1]), num_labels=2, xi_c=.1, xi=.9, delta=0.,
                                    shared_mass=.1)
  assert np.isinf(optimize.exact_critical_mass(.9, *table, jnp.array([0., .6]), **kw))
  assert np.isnan(optimize.exact_critical_mass(1.1, *table, jnp.array([0., .1]), **kw))
  assert float(optimize.exact_critical_mass(0., *table, jnp.array([0., .1]), **kw)) == 0
  with pytest.raises(ValueError, match="collective must be an int index in"):
    optimize.exact_critical_mass(.9, *table, jnp.array([0., .1]), collective=2, eps=.1)
  with pytest.raises(ValueError, match="masses"):
    optimize.exact_critical_mass(.9, *table, jnp.array([0., 1.1]), **kw)


def test_closed_form_critical_mass_is_never_below_the_exact_one():
  # SPEC §4: every FL bound is <= S_c^wc, and the FL bound increases in alpha_c;
  # at the bound's critical mass the exact success is >= s too (SPEC §8).
  rng = np.random.default_rng(3)
  checked = 0
  for trial in range(40):
    if trial % 2:
      targets, xi_c, xi, delta, shared = random_parameters(rng, 2, 3)
      table = scenarios.finite_scenario(targets, num_labels=3, xi_c=xi_c, xi=xi, delta=delta,
                                        shared_mass=shared)
    else:
      table = random_table(rng)[:3]
    masses = np.array([0., rng.uniform(0, .3)])
    eps, s = rng.choice([0., .05, .1]), rng.uniform(.5, .99)
    par = mixtures.scenario_parameters(*table, masses)
    closed = bounds.critical_mass(s, strategy="feature_label", alpha_others=masses[1],
                                  beta=par.beta[0], xi_c=par.xi_c[0], xi=par.xi[0],
                                  delta=par.delta[0], eps=eps)
    exact = optimize.exact_critical_mass(s, *table, masses, collective=0, eps=eps)
    assert float(exact) <= float(closed) + 1e-12
    checked += bool(np.isfinite(closed))
  assert checked >= 10
