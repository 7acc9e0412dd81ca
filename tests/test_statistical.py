"""Finite-sample bounds from data (SPEC §9, §4–§5; acajax.statistical)."""

import functools
import math
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from acajax import bounds, mixtures, structured
from acajax import statistical as st
from tests import np_statistical as ref

# --------------------------------------------------------------------------
# A structured data set: 4 columns, 3 labels; the signal sets columns 0 and 3.

SIZES = (3, 2, 4, 3)
SIGNAL = {0: 2, 3: 1}
NUM_LABELS = 3
NUM_POINTS = 2 * 4          # |X*|: the kept columns 1 and 2


def _data(num=3000, seed=0):
  rng = np.random.default_rng(seed)
  rows = np.stack([rng.integers(0, s, num) for s in SIZES], axis=1)
  # Labels lean on the kept columns, so signal points have clear favourites.
  favourite = (rows[:, 1] + rows[:, 2]) % NUM_LABELS
  labels = np.where(rng.random(num) < 0.75, favourite, rng.integers(0, NUM_LABELS, num))
  # Make the signal points frequent enough to matter.
  inside = rng.random(num) < 0.3
  rows[inside, 0], rows[inside, 3] = SIGNAL[0], SIGNAL[3]
  return rows, labels


def _codes(rows):
  return st.dense_signal_codes(rows, SIGNAL, sizes=SIZES)


def _tables(rows, labels, sizes_n):
  codes = _codes(rows)
  return st.prefix_count_tables(codes.image, codes.member, labels, jnp.asarray(sizes_n),
                                num_support=codes.num_support, num_labels=NUM_LABELS)


def _unplant_label(point, target):
  """A fixed unplanting label per signal point (never the target)."""
  label = (point[1] + point[2] + 1) % NUM_LABELS
  return label if label != target else (label + 1) % NUM_LABELS


def _unplant_labels(target):
  grid = np.stack(np.unravel_index(np.arange(NUM_POINTS), (2, 4)), axis=1)
  return np.array([_unplant_label((SIGNAL[0], a, b, SIGNAL[3]), target) for a, b in grid])


# --------------------------------------------------------------------------
# Count tables


def test_codes_and_tables_match_a_direct_count(maybe_jit):
  rows, labels = _data(500)

  def run(rows, labels):
    codes = _codes(rows)
    return st.count_tables(codes.image, codes.member, labels, num_support=codes.num_support,
                           num_labels=NUM_LABELS)

  tables = maybe_jit(run)(rows, labels)
  images, joint = Counter(), Counter()
  for row, y in zip(rows.tolist(), labels.tolist()):
    key = (row[1], row[2])                      # the kept columns number X*
    images[key, y] += 1
    if row[0] == SIGNAL[0] and row[3] == SIGNAL[3]:
      joint[key, y] += 1
  for a in range(2):
    for b in range(4):
      for y in range(NUM_LABELS):
        assert tables.images[a * 4 + b, y] == images[(a, b), y]
        assert tables.joint[a * 4 + b, y] == joint[(a, b), y]
  assert float(tables.total) == 500


def test_prefix_tables_equal_the_tables_of_each_prefix(maybe_jit):
  rows, labels = _data(700)
  sizes_n = np.array([700, 1, 350, 20, 699])        # unsorted on purpose
  prefix = maybe_jit(lambda r, y, n: _tables(r, y, n))(rows, labels, sizes_n)
  codes = _codes(rows)
  for g, n in enumerate(sizes_n):
    # The first n samples: weight 1, the others 0 (one shape, one compilation).
    one = st.count_tables(codes.image, codes.member, labels, num_support=NUM_POINTS,
                          num_labels=NUM_LABELS, weights=(np.arange(700) < n).astype(float))
    np.testing.assert_array_equal(prefix.images[g], one.images)
    np.testing.assert_array_equal(prefix.joint[g], one.joint)
    assert float(prefix.total[g]) == n == float(one.total)
  with pytest.raises(ValueError, match="member must equal image or num_support"):
    st.prefix_count_tables(codes.image, (codes.image + 1) % NUM_POINTS, labels, sizes_n,
                           num_support=NUM_POINTS, num_labels=NUM_LABELS)
  with pytest.raises(ValueError, match="labels must lie in"):
    st.count_tables(codes.image, codes.member, labels + 3, num_support=NUM_POINTS,
                    num_labels=NUM_LABELS)


def test_estimates_are_the_plug_in_quantities():
  rows, labels = _data(400)
  tables = _tables(rows, labels, [400])
  est = st.estimates(tables, target=np.array([[0], [2]]))
  np.testing.assert_allclose(est.signal.sum(-1), 1.0)
  p0 = np.asarray(tables.joint[0]) / 400
  want = np.max(np.delete(p0, 2, axis=1), axis=1) - p0[:, 2]
  np.testing.assert_allclose(est.delta_hat[1, 0], want)


def test_observed_support_gives_the_dense_bounds():
  """Numbering only the observed images changes nothing (SignalCodes docs)."""
  rows, labels = _data(2000, seed=3)
  sizes_n = np.array([100, 600, 2000])
  dense = _codes(rows)
  sparse = st.signal_codes(rows, SIGNAL, sizes=SIZES, dense_limit=1)
  assert sparse.num_signal_points == dense.num_signal_points == NUM_POINTS
  assert sparse.num_support <= NUM_POINTS
  out = []
  for codes in (dense, sparse):
    tables = st.prefix_count_tables(codes.image, codes.member, labels, sizes_n,
                                    num_support=codes.num_support, num_labels=NUM_LABELS)
    out.append(st.feature_label_bound(tables, target=np.arange(3)[:, None], num_samples=2500,
                                      num_signal_points=codes.num_signal_points, clip=False))
  np.testing.assert_allclose(out[0], out[1], rtol=1e-12)


# --------------------------------------------------------------------------
# The bounds against the NumPy reference


BOUND_FNS = dict(feature_label=st.feature_label_bound, feature_only=st.feature_only_bound,
                 unplanting=st.unplanting_bound)


REF_SIZES_N = (60, 1000, 5000, 12000)


@functools.lru_cache(maxsize=None)
def _reference(strategy, target, big_n, delta, eps):
  """NumPy reference values for every n of REF_SIZES_N (cached across eager/jit)."""
  rows, labels = _data(12000, seed=1)
  return tuple(ref.np_bound(rows, labels, SIGNAL, n=n, num_samples=big_n, num_test=5000,
                            delta=delta, eps=eps, target=target, num_labels=NUM_LABELS,
                            sizes=SIZES, strategy=strategy,
                            unplant_label=lambda x: _unplant_label(x, target))
               for n in REF_SIZES_N)


@pytest.mark.parametrize("strategy", sorted(BOUND_FNS))
def test_bounds_match_the_numpy_reference(strategy, maybe_jit):
  rows, labels = _data(12000, seed=1)
  sizes_n = np.array(REF_SIZES_N)
  grid = [(big_n, delta, eps) for big_n in (12800, 40000) for delta, eps in ((.05, 0.), (.3, .01))]

  def run(rows, labels, sizes_n, target, big_n, delta, eps):
    tables = _tables(rows, labels, sizes_n)
    kw = dict(target=target, num_samples=big_n, num_signal_points=NUM_POINTS, delta=delta,
              eps=eps, num_test=5000, clip=False)
    if strategy == "unplanting":
      kw["labels"] = jnp.asarray(_unplant_labels_table())[target]
    return BOUND_FNS[strategy](tables, **kw)

  run = maybe_jit(run)
  values = []
  for target in range(NUM_LABELS):
    for big_n, delta, eps in grid:
      got = run(rows, labels, sizes_n, target, big_n, delta, eps)
      want = _reference(strategy, target, big_n, delta, eps)
      np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
      values.extend(want)
  # The comparison is informative: some points planted, others not.
  values = np.array(values) + 1.0
  assert len(np.unique(values.round(6))) > 8 and values.max() > 1.2


def _unplant_labels_table():
  return np.stack([_unplant_labels(t) for t in range(NUM_LABELS)])


def test_one_call_over_n_N_delta_eps_target_equals_the_loop():
  rows, labels = _data(2000, seed=5)
  sizes_n = np.array([200, 900, 2000])
  tables = _tables(rows, labels, sizes_n)
  big_n = np.array([2000., 5000.])[:, None, None, None, None]
  delta = np.array([.01, .2])[:, None, None, None]
  eps = np.array([0., .02])[:, None, None]
  target = np.arange(3)[:, None]
  grid = st.feature_label_bound(tables, target=target, num_samples=big_n, delta=delta, eps=eps,
                                num_signal_points=NUM_POINTS, num_test=3000.)
  assert grid.shape == (2, 2, 2, 3, 3)
  one = jax.jit(lambda tab, t, big, d, e: st.feature_label_bound(
      tab, target=t, num_samples=big, delta=d, eps=e, num_signal_points=NUM_POINTS,
      num_test=3000.))
  for a, b, c, t, g in np.ndindex(grid.shape):
    want = one(st.CountTables(*(v[g] for v in tables)), t, big_n.ravel()[a], delta.ravel()[b],
               eps.ravel()[c])
    np.testing.assert_allclose(grid[a, b, c, t, g], want, rtol=1e-12)
  # vmap over the n axis equals the broadcast call.
  vmapped = jax.vmap(lambda tab: st.feature_label_bound(
      tab, target=1, num_samples=5000, num_signal_points=NUM_POINTS))(tables)
  np.testing.assert_allclose(vmapped, st.feature_label_bound(
      tables, target=1, num_samples=5000, num_signal_points=NUM_POINTS), rtol=1e-12)


def test_details_report_the_union_bound_split_and_radii():
  rows, labels = _data(1000)
  tables = _tables(rows, labels, [1000])
  out = st.feature_label_bound(tables, target=0, num_samples=4000, num_signal_points=NUM_POINTS,
                               delta=.05, num_test=2000, details=True, clip=False)
  d = .05 / (2 + 2 * NUM_POINTS + 2 * NUM_POINTS * NUM_LABELS)
  np.testing.assert_allclose(out.split_delta, d)
  np.testing.assert_allclose(out.radius_collective, math.sqrt(math.log(1 / d) / 2000))
  np.testing.assert_allclose(out.radius_rest, math.sqrt(math.log(1 / d) / 6000))
  signal = np.asarray(tables.images[0]).sum(-1) / 1000
  np.testing.assert_allclose(out.bound[0], (signal * np.asarray(out.planted[0])).sum()
                             - out.radius_collective[0] - out.radius_test[0])
  # n = N: no other data, R(N - n) is dropped (its weight is 0).
  full = st.feature_label_bound(tables, target=0, num_samples=1000,
                                num_signal_points=NUM_POINTS, details=True)
  assert float(full.radius_rest[0]) == 0.0 and np.isfinite(full.bound[0])


# --------------------------------------------------------------------------
# Population limit


def _random_instance(rng, num_points=7, num_labels=3):
  p0 = rng.dirichlet(np.ones(num_points * num_labels)).reshape(num_points, num_labels)
  signal_map = rng.integers(0, num_points, num_points)
  images = np.zeros_like(p0)
  np.add.at(images, signal_map, p0)
  tables = st.CountTables(images=images, joint=p0, total=np.array(1.0))
  return p0, signal_map, tables


def test_population_limit_is_the_spec9_condition():
  rng = np.random.default_rng(11)
  alphas, epss, targets = np.array([.05, .2, .5]), np.array([0., .03]), np.arange(3)
  scale = 1e18
  checked = 0
  for _ in range(25):
    p0, signal_map, tables = _random_instance(rng)
    # One call over (target, eps, alpha).
    pop = st.population_success(tables, alpha=alphas, eps=epss[:, None],
                                target=targets[:, None, None])
    # n, N -> inf with n/N = alpha: the finite-sample bound tends to the limit.
    big = st.CountTables(*(np.asarray(v) * scale * alphas.reshape((3,) + (1,) * np.ndim(v))
                           for v in tables))
    out = st.feature_label_bound(big, target=targets[:, None, None], num_samples=scale,
                                 num_signal_points=p0.shape[0], eps=epss[:, None], clip=False,
                                 details=True)
    for t, e, a in np.ndindex(pop.shape):
      want = ref.np_population_success(p0.tolist(), signal_map.tolist(), alpha=alphas[a],
                                       eps=epss[e], target=t)
      np.testing.assert_allclose(pop[t, e, a], want, atol=1e-12)
      if np.min(np.abs(np.asarray(out.margin[t, e, a]))) > 1e-6:      # no point on the edge
        np.testing.assert_allclose(out.bound[t, e, a], want, atol=1e-6)
        checked += 1
  assert checked > 300


def test_population_limit_at_eps_0_is_the_bayes_success_of_the_mixture():
  """SPEC §9's limit at eps = 0 is the exact engine's Bayes success (no ties)."""
  rng = np.random.default_rng(12)
  for _ in range(30):
    p0, signal_map, tables = _random_instance(rng)
    for alpha in (.03, .1, .3):
      target = int(rng.integers(0, 3))
      exact = mixtures.bayes_success(p0, signal_map[None, :], np.array([target]),
                                     np.array([alpha]))[0]
      pop = st.population_success(tables, alpha=alpha, target=target)
      np.testing.assert_allclose(pop, exact, atol=1e-12)


# --------------------------------------------------------------------------
# Coverage: the bound holds with frequency >= 1 - delta on simulated data

SIM_SIZES = (2, 3, 2)
SIM_SIGNAL = {0: 1, 1: 2}        # X* = {(1, 2, 0), (1, 2, 1)}: codes 10 and 11
SIM_GRID = np.stack(np.unravel_index(np.arange(12), SIM_SIZES), axis=1)


def _sim_p0():
  rng = np.random.default_rng(7)
  conditional = rng.dirichlet(np.ones(3), size=12)
  conditional[10] = [.8, .1, .1]       # y = 0 clearly ahead
  conditional[11] = [0., .84, .16]     # y = 1 ahead by 0.07 of joint mass
  return conditional / 12              # uniform feature marginal


def _draw(key, p0, num):
  cells = jnp.searchsorted(jnp.cumsum(p0.reshape(-1)), jax.random.uniform(key, (num,)),
                           side="right")
  cells = jnp.minimum(cells, p0.size - 1)
  codes = st.dense_signal_codes(jnp.asarray(SIM_GRID)[cells // 3], SIM_SIGNAL, sizes=SIM_SIZES)
  return codes, cells % 3


SIM_N, SIM_TEST = 12000, 5000       # platform and test sizes of every simulated data set


def _simulate(key, n, target, delta, eps):
  """One simulated data set: every strategy's bound and the success it bounds.

  The collective is the first n of SIM_N samples (weights, so n stays traced);
  unplanting pushes label 0 on both signal points.
  """
  p0 = jnp.asarray(_sim_p0())
  key_train, key_test = jax.random.split(key)
  codes, ys = _draw(key_train, p0, SIM_N)
  first = (jnp.arange(SIM_N) < n).astype(p0.dtype)
  count = lambda c, y, w=None: st.count_tables(c.image, c.member, y, num_support=2,  # noqa: E731
                                               num_labels=3, weights=w)
  mine, rest = count(codes, ys, first), count(codes, ys, 1 - first)
  test = count(*_draw(key_test, p0, SIM_TEST))
  labels = jnp.array([0, 0])
  out = {}
  for strategy, bound_fn in BOUND_FNS.items():
    extra = dict(labels=labels) if strategy == "unplanting" else {}
    out[strategy] = (
        bound_fn(mine, target=target, num_samples=SIM_N, num_signal_points=2, delta=delta,
                 eps=eps, num_test=SIM_TEST, clip=False, **extra),
        st.empirical_success(mine, rest, test, target=target, strategy=strategy, eps=eps,
                             **extra))
  # The plug-in "bound" without any radius: what the simulation must be able to catch.
  est = st.estimates(mine, target=target)
  alpha = n / SIM_N
  naive = jnp.sum(jnp.where(alpha * est.signal - (1 - alpha) * est.delta_hat > 0,
                            est.signal, 0.0))
  intervals = st.parameter_intervals(mine, target=target, delta=delta, num_signal_points=2)
  return out, naive, intervals


# One compilation shared by every simulation test: n, target, delta and eps are traced.
_simulations = jax.jit(jax.vmap(_simulate, in_axes=(0, None, None, None, None)))

SIMULATIONS = {
    # strategy, target, n, eps, smallest mean bound expected
    "feature_label": ("feature_label", 0, 5000, 0.0, 0.9),
    "feature_label_eps": ("feature_label", 0, 5000, 0.1, 0.4),
    "feature_only": ("feature_only", 0, 6000, 0.0, 0.4),
    "unplanting": ("unplanting", 1, 5000, 0.0, 0.9),
}


@pytest.mark.parametrize("name", sorted(SIMULATIONS))
def test_bound_holds_with_frequency_at_least_1_minus_delta(name):
  strategy, target, n, eps, informative = SIMULATIONS[name]
  delta, reps = 0.1, 1000
  keys = jax.random.split(jax.random.key(2024), reps)
  out, _, intervals = _simulations(keys, n, target, delta, eps)
  bound, success = out[strategy]
  coverage = float(jnp.mean(success >= bound))
  print(f"{name}: coverage {coverage:.4f} over {reps} data sets (needs >= {1 - delta}); "
        f"mean bound {float(bound.mean()):.3f}, mean success {float(success.mean()):.3f}")
  assert coverage >= 1 - delta
  assert float(bound.mean()) > informative          # not a vacuous bound
  # The parameter intervals of the same data cover the true xi_c and Delta_c.
  if strategy == "feature_label":
    p0 = _sim_p0()
    conditional = p0[10:12] / p0[10:12].sum(-1, keepdims=True)
    true_difficulty = np.max(conditional.max(-1) - conditional[:, target])
    true_xi_c = float(p0[10:12].sum())
    covered = ((intervals.xi_c.lower <= true_xi_c) & (true_xi_c <= intervals.xi_c.upper)
               & (intervals.difficulty.upper >= true_difficulty))
    assert float(jnp.mean(covered)) >= 1 - delta


def test_simulation_catches_a_bound_without_radii():
  """Power check: near the planting threshold the plug-in guess fails far more than delta."""
  delta, reps = 0.1, 1000
  # alpha Q(x1) = 0.0625 vs (1 - alpha) Delta_x1 = 0.06125 at alpha = 0.125.
  out, naive, _ = _simulations(jax.random.split(jax.random.key(5), reps), SIM_N // 8, 0, delta,
                               0.0)
  bound, success = out["feature_label"]
  coverage, naive_coverage = float(jnp.mean(success >= bound)), float(jnp.mean(success >= naive))
  print(f"near the threshold: coverage {coverage:.4f}; without radii {naive_coverage:.4f}")
  assert coverage >= 1 - delta
  assert naive_coverage < 1 - 2 * delta


# --------------------------------------------------------------------------
# Bad inputs


def _small_tables(total=100.0):
  return st.CountTables(images=np.array([[30., 20.], [25., 25.]]),
                        joint=np.array([[3., 2.], [0., 1.]]), total=np.array(total))


@pytest.mark.parametrize("kwargs, match", [
    (dict(delta=0.0), "delta must lie in \\(0, 1\\)"),
    (dict(delta=1.0), "delta must lie in \\(0, 1\\)"),
    (dict(delta=-0.2), "delta must lie in \\(0, 1\\)"),
    (dict(delta=np.array([.05, 1.5])), "delta must lie in \\(0, 1\\); got 1.5"),
    (dict(eps=1.0), "eps must lie in \\[0, 1\\)"),
    (dict(num_samples=50), "num_samples \\(N\\) must be at least"),
    (dict(num_test=0), "num_test must be positive"),
    (dict(target=2), "target must be a label in \\[0, 2\\)"),
    (dict(num_signal_points=0), "num_signal_points must be >= 1"),
])
def test_bad_values_raise_and_name_the_argument(kwargs, match):
  args = dict(target=1, num_samples=1000, num_signal_points=2, delta=.05) | kwargs
  with pytest.raises(ValueError, match=match):
    st.feature_label_bound(_small_tables(), **args)


def test_empty_collective_is_an_error():
  with pytest.raises(ValueError, match="the collective is empty"):
    st.feature_label_bound(_small_tables(0.0), target=1, num_samples=1000, num_signal_points=2)
  with pytest.raises(ValueError, match="non-empty"):
    st.signal_codes(np.zeros((0, 4), np.int64), SIGNAL)


def test_non_integer_codes_are_an_error():
  rows, _ = _data(10)
  with pytest.raises(TypeError, match="integer category codes"):
    st.dense_signal_codes(rows.astype(float), SIGNAL, sizes=SIZES)
  with pytest.raises(TypeError, match="integer category codes"):
    st.signal_codes(rows + 0.5, SIGNAL)
  with pytest.raises(TypeError, match="target must hold integer"):
    st.feature_label_bound(_small_tables(), target=1.0, num_samples=1000, num_signal_points=2)
  with pytest.raises(ValueError, match="column 2 holds codes outside"):
    st.dense_signal_codes(rows, SIGNAL, sizes=(3, 2, 2, 3))
  with pytest.raises(ValueError, match="negative codes"):
    st.signal_codes(rows - 5, SIGNAL)


def test_unplanting_labels_must_avoid_the_target():
  with pytest.raises(ValueError, match="labels must differ from the target"):
    st.unplanting_bound(_small_tables(), target=1, labels=np.array([0, 1]), num_samples=1000,
                        num_signal_points=2)
  labels = st.unplanting_labels(_small_tables(), target=0)
  assert labels.tolist() == [1, 1]


def test_traced_out_of_domain_values_give_nan():
  fn = jax.jit(lambda delta, eps, n: st.feature_label_bound(
      st.CountTables(*_small_tables()[:2], total=n), target=1, num_samples=1000,
      num_signal_points=2, delta=delta, eps=eps))
  assert np.isnan(fn(1.5, 0.0, 100.0))
  assert np.isnan(fn(0.05, 1.0, 100.0))
  assert np.isnan(fn(0.05, 0.0, 0.0))
  assert np.isfinite(fn(0.05, 0.0, 100.0))


# --------------------------------------------------------------------------
# Several collectives: worst cases over boxes and partial knowledge


def _random_box(rng):
  a_lo = rng.uniform(.02, .2)
  o_lo = rng.uniform(0, .2)
  b_lo = rng.uniform(0, .15)
  return dict(alpha=(a_lo, a_lo + rng.uniform(0, .1)),
              alpha_others=(o_lo, o_lo + rng.uniform(0, .2)),
              beta=(b_lo, b_lo + rng.uniform(0, .1)),
              xi_c=tuple(np.sort(rng.uniform(0, .1, 2))), xi=tuple(np.sort(rng.uniform(0, .3, 2))),
              difficulty=tuple(np.sort(rng.uniform(0, 1, 2))),
              p=tuple(np.sort(rng.uniform(.2, .6, 2))))


def _sample_box(rng, box, size):
  draw = {k: rng.uniform(lo, hi, size) for k, (lo, hi) in box.items()}
  # Include the ends: each parameter at an end with probability 1/2.
  for k, (lo, hi) in box.items():
    pick = rng.random(size)
    draw[k] = np.where(pick < .25, lo, np.where(pick > .75, hi, draw[k]))
  return draw


@pytest.mark.parametrize("strategy", ["feature_label", "feature_only"])
def test_worst_case_over_a_box_is_the_minimum_of_the_box(strategy):
  rng = np.random.default_rng(21)
  eps = .05
  informative = 0
  evaluate = jax.jit(bounds.feature_label if strategy == "feature_label" else bounds.feature_only,
                     static_argnames=("clip",))
  for _ in range(40):
    box = _random_box(rng)
    worst = float(st.worst_case_bound(st.parameter_box(**box), eps=eps, strategy=strategy,
                                      clip=False))
    draw = _sample_box(rng, box, 20000)
    feasible = draw["beta"] <= draw["alpha_others"]
    total = draw["alpha"] + draw["alpha_others"]
    extra = (dict(delta=draw["difficulty"]) if strategy == "feature_label"
             else dict(p=draw["p"]))
    values = evaluate(draw["alpha"], alpha_total=total, beta=draw["beta"], xi_c=draw["xi_c"],
                      xi=draw["xi"], eps=eps, clip=False, **extra)
    values = np.asarray(values)[feasible]
    if box["beta"][0] > box["alpha_others"][1]:
      assert np.isnan(worst) and values.size == 0
      continue
    assert np.all(values >= worst - 1e-9)
    # Attained (closed form at an end or the kink): random search gets close.
    assert values.min() - worst < 0.02 * max(1.0, abs(worst))
    informative += -1 < worst < 1
  assert informative > 12


def test_total_mass_only_is_the_worst_of_every_split():
  rng = np.random.default_rng(22)
  for _ in range(50):
    alpha, a_o = rng.uniform(.05, .3), rng.uniform(0, .3)
    xi_c, difficulty, eps = rng.uniform(0, .05), rng.uniform(0, 1), .05
    worst = st.total_mass_only(alpha=alpha, alpha_others=a_o, xi_c=xi_c, difficulty=difficulty,
                               eps=eps, clip=False)
    beta = rng.uniform(0, a_o, 5000)
    xi = rng.uniform(0, 1, 5000)
    values = bounds.feature_label(alpha, alpha_total=alpha + a_o, beta=beta, xi_c=xi_c, xi=xi,
                                  delta=difficulty, eps=eps, clip=False)
    assert np.all(np.asarray(values) >= float(worst) - 1e-9)
    np.testing.assert_allclose(worst, bounds.feature_label(
        alpha, alpha_total=alpha + a_o, beta=0., xi_c=xi_c, xi=1., delta=difficulty, eps=eps,
        clip=False), rtol=1e-12)


@jax.jit
def _pairwise_bounds(alpha, masses, aligned, overlap, xi_c, difficulty, eps):
  """Collective 0's pairwise Theorem 1 from full scenarios (an independent path).

  ``masses`` (B, J): one scenario per row; the others' targets and overlaps fixed.
  """
  num = masses.shape[-1] + 1
  targets = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.where(aligned, 0, 1)])
  matrix = jnp.full((num, num), .5).at[:, 0].set(jnp.concatenate([jnp.ones(1), overlap]))

  def one(row):
    return bounds.scenario_bounds(jnp.concatenate([alpha[None], row]), targets, xi_c=xi_c,
                                  xi=1., delta=difficulty, eps=eps, overlap=matrix,
                                  clip=False)[0]
  return jax.vmap(one)(masses)


def _pairwise_bound(alpha, masses, aligned, overlap, *, xi_c, difficulty, eps):
  return _pairwise_bounds(jnp.asarray(alpha), jnp.asarray(masses)[None], jnp.asarray(aligned),
                          jnp.asarray(overlap), xi_c, difficulty, eps)[0]


def test_aggregate_knowledge_worst_case_is_valid_and_attained():
  rng = np.random.default_rng(23)
  eps, xi_c, difficulty = .05, .02, .5
  for _ in range(40):
    alpha = rng.uniform(.05, .3)
    masses = rng.dirichlet(np.ones(4)) * rng.uniform(.01, .3)
    aligned = rng.random(4) < .5
    overlap = rng.uniform(0, 1, 4) ** 2
    a_o = masses.sum()
    phi = masses[aligned].sum() / a_o
    omega = (masses * overlap).sum() / a_o
    worst = st.aggregate_worst_case(alpha=alpha, alpha_others=a_o, aligned_share=phi,
                                    overlap_share=omega, xi_c=xi_c, difficulty=difficulty,
                                    eps=eps, clip=False)
    actual = _pairwise_bound(alpha, masses, aligned, overlap, xi_c=xi_c,
                             difficulty=difficulty, eps=eps)
    assert float(actual) >= float(worst) - 1e-9
    # The worst configuration consistent with (a_o, phi, omega): all overlap misaligned.
    if 0 < phi < 1:
      worst_masses = np.array([phi * a_o, (1 - phi) * a_o])
      on_misaligned = min(1., omega / (1 - phi))
      on_aligned = max(0., (omega - (1 - phi)) / phi)
      attained = _pairwise_bound(alpha, worst_masses, np.array([True, False]),
                                 np.array([on_aligned, on_misaligned]), xi_c=xi_c,
                                 difficulty=difficulty, eps=eps)
      np.testing.assert_allclose(attained, worst, rtol=1e-9, atol=1e-12)


def test_unknown_split_worst_case_is_valid_and_attained_at_a_vertex():
  rng = np.random.default_rng(24)
  eps, xi_c, difficulty = .05, .02, .5
  for _ in range(40):
    alpha, a_o = rng.uniform(.05, .3), rng.uniform(.01, .3)
    aligned = rng.random(3) < .5
    overlap = rng.uniform(0, 1, 3)
    worst = float(st.split_worst_case(alpha=alpha, alpha_others=a_o, others_aligned=aligned,
                                      others_overlap=overlap, xi_c=xi_c, difficulty=difficulty,
                                      eps=eps, clip=False))
    splits = rng.dirichlet(np.ones(3), 500) * a_o
    values = _pairwise_bounds(jnp.asarray(alpha), jnp.asarray(splits), jnp.asarray(aligned),
                              jnp.asarray(overlap), xi_c, difficulty, eps)
    vertices = _pairwise_bounds(jnp.asarray(alpha), jnp.asarray(a_o * np.eye(3)),
                                jnp.asarray(aligned), jnp.asarray(overlap), xi_c, difficulty, eps)
    assert float(values.min()) >= worst - 1e-9
    np.testing.assert_allclose(vertices.min(), worst, rtol=1e-9, atol=1e-12)
    # The plain Theorem 1 form is never above the pairwise one.
    plain = st.split_worst_case(alpha=alpha, alpha_others=a_o, others_aligned=aligned,
                                others_overlap=overlap, xi_c=xi_c, difficulty=difficulty,
                                eps=eps, pairwise=False, clip=False)
    assert float(plain) <= worst + 1e-12


def test_feature_only_split_and_interval_inputs():
  b = st.split_worst_case(alpha=st.interval(.04, .06), alpha_others=(.03, .05),
                          others_aligned=np.array([True, False]),
                          others_overlap=np.array([.1, .05]), xi_c=.01, p=.3, eps=.1,
                          strategy="feature_only", clip=False)
  want = min(float(bounds.feature_only(a, alpha_total=a + .05, beta=0., xi_c=.01, xi=.1, p=.3,
                                       eps=.1, clip=False)) for a in np.linspace(.04, .06, 201))
  np.testing.assert_allclose(b, want, rtol=1e-6)


def test_structured_codes_helper_is_shared():
  """acajax.statistical reuses structured's mixed-radix codes (no second encoding)."""
  rows = np.array([[1, 3, 0], [0, 2, 1]])
  codes = st.dense_signal_codes(rows, {1: 0}, sizes=(2, 4, 2))
  np.testing.assert_array_equal(codes.image, structured.mixed_radix_codes(rows[:, [0, 2]], [2, 2]))
