"""Planting (acajax.planting): members, strategies, noise, masses used, errors."""

import numpy as np
import pytest

from acajax import datasets, planting


def _collective(mass, target, point, **kw):
  return planting.Collective(mass=mass, target=target, signal=datasets.point_signal(point), **kw)


def test_member_counts_round_and_report_masses():
  # round half up: 12.5 -> 13, 0.5 -> 1
  assert planting.member_counts(1000, [.05, .0125, .0005]).tolist() == [50, 13, 1]


def test_mass_too_small_is_a_clear_error():
  with pytest.raises(planting.PlantingError, match=r"collective 1 \(mass 0.0004\) would get no "
                     r"member among N = 1000.*N >= 1250"):
    planting.member_counts(1000, [.05, .0004])
  with pytest.raises(planting.PlantingError, match="need 1100 members"):
    planting.member_counts(1000, [.6, .5])
  with pytest.raises(planting.PlantingError, match="masses must be >= 0"):
    planting.member_counts(1000, [-.1])


def test_assign_members_disjoint_sized_and_deterministic():
  members = planting.assign_members(500, [.1, .2, .05], rng=3)
  assert [len(m) for m in members] == [50, 100, 25]
  flat = np.concatenate(members)
  assert len(np.unique(flat)) == len(flat) and flat.min() >= 0 and flat.max() < 500
  again = planting.assign_members(500, [.1, .2, .05], rng=3)
  assert all(np.array_equal(a, b) for a, b in zip(members, again))
  other = planting.assign_members(500, [.1, .2, .05], rng=4)
  assert not np.array_equal(members[0], other[0])


def test_feature_label_applied_to_exactly_the_members():
  rng = np.random.default_rng(0)
  x, y = rng.integers(0, 4, 400), rng.integers(0, 3, 400)
  cols = [_collective(.1, 2, 7), _collective(.05, 1, 8)]
  xp, yp, report = planting.plant(x, y, cols, rng=1, num_labels=3)
  members = report.members
  outside = np.setdiff1d(np.arange(400), np.concatenate(members))
  assert np.array_equal(xp[outside], x[outside]) and np.array_equal(yp[outside], y[outside])
  assert np.all(xp[members[0]] == 7) and np.all(yp[members[0]] == 2)
  assert np.all(xp[members[1]] == 8) and np.all(yp[members[1]] == 1)
  assert report.counts.tolist() == [40, 20]
  np.testing.assert_allclose(report.masses_used, [.1, .05])
  assert report.followers.tolist() == [40, 20] and report.changed.tolist() == [40, 20]
  assert (x == np.random.default_rng(0).integers(0, 4, 400)).all()  # inputs untouched


def test_feature_only_leaves_non_target_members_in_place():
  rng = np.random.default_rng(0)
  x, y = rng.integers(0, 4, 300), rng.integers(0, 3, 300)
  xp, yp, report = planting.plant(x, y, [_collective(.2, 1, 9, strategy="feature_only")], rng=2)
  m = report.members[0]
  hit = m[y[m] == 1]
  miss = m[y[m] != 1]
  assert np.all(xp[hit] == 9) and np.array_equal(yp, y)
  assert np.array_equal(xp[miss], x[miss])
  assert report.changed[0] == len(hit)


def test_coordination_noise_groups():
  x, y = np.zeros(1000, int), np.zeros(1000, int)
  col = _collective(.2, 1, 5, abstain=.25, wrong_signal=.25, wrong_label=.25)
  xp, yp, report = planting.plant(x, y, [col], rng=0, num_labels=3,
                                  random_signal=lambda b: np.full(len(b), 3))
  m = report.members[0]
  assert (report.followers[0], report.abstained[0], report.wrong_signal[0],
          report.wrong_label[0]) == (50, 50, 50, 50)
  assert np.sum((xp[m] == 5) & (yp[m] == 1)) == 50          # followers
  assert np.sum((xp[m] == 0) & (yp[m] == 0)) == 50          # abstainers keep their data
  assert np.sum((xp[m] == 3) & (yp[m] == 1)) == 50          # wrong signal, right label
  assert np.sum((xp[m] == 5) & (yp[m] != 1)) == 50          # right signal, a wrong label
  with pytest.raises(ValueError, match="no random_signal"):
    planting.plant(x, y, [col], rng=0, num_labels=3)


def test_bad_collectives_and_members():
  with pytest.raises(ValueError, match="strategy must be one of"):
    _collective(.1, 0, 1, strategy="label_only")
  with pytest.raises(ValueError, match="abstain must lie in"):
    _collective(.1, 0, 1, abstain=1.5)
  with pytest.raises(ValueError, match="sum must be|must be <= 1"):
    _collective(.1, 0, 1, abstain=.6, wrong_label=.6)
  with pytest.raises(planting.PlantingError, match="disjoint"):
    planting.plant(np.zeros(10, int), np.zeros(10, int), [_collective(.1, 0, 1)] * 2, rng=0,
                   members=[np.array([1, 2]), np.array([2, 3])])


def test_success_weighted_and_batched():
  assert planting.success([1, 0], 1, weights=[.75, .25]) == .75
  np.testing.assert_allclose(planting.success(np.array([[1, 0], [1, 1]]), 1), [.5, 1.])
