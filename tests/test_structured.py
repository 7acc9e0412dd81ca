"""Tests of structured feature spaces, acajax.structured (SPEC §1–§3)."""

import itertools
import time

import numpy as np
import pytest

from acajax import mixtures, structured
from tests import numpy_reference as ref


def _samples(rng, num_samples, sizes, num_labels):
  """Samples whose label depends on the first column, so margins vary."""
  features = np.stack([rng.integers(0, size, num_samples) for size in sizes], axis=1)
  bias = (features[:, 0] % num_labels)
  labels = np.where(rng.random(num_samples) < 0.6, bias, rng.integers(0, num_labels, num_samples))
  return features, labels


def _full_product(features, labels, settings, sizes, num_labels):
  """Reference: P0 and signal maps on the whole enumerated product space."""
  points = np.array(list(itertools.product(*[range(s) for s in sizes])))
  index = {tuple(p): i for i, p in enumerate(points)}
  p0 = np.zeros((len(points), num_labels))
  for row, label in zip(features, labels):
    p0[index[tuple(row)], label] += 1
  p0 /= p0.sum()
  maps = np.array([[index[tuple(np.where(s >= 0, s, p))] for p in points] for s in settings])
  return points, p0, maps


@pytest.mark.parametrize("seed,fo", [(0, False), (1, True), (2, np.array([True, False, False]))])
def test_equals_full_enumeration(seed, fo):
  rng = np.random.default_rng(seed)
  sizes, num_labels = (2, 3, 2, 3), 3
  features, labels = _samples(rng, 60, sizes, num_labels)
  settings = np.array([[-1, 2, -1, 0], [1, -1, -1, -1], [0, 0, 1, 2]])
  targets, masses, eps = np.array([1, 2, 1]), np.array([.1, .05, .15]), 0.05

  table = structured.structured_table(features, labels, settings, num_labels=num_labels)
  assert len(table.rows) < np.prod(sizes)  # the product space was not enumerated
  points, p0_full, maps_full = _full_product(features, labels, settings, sizes, num_labels)

  exact = mixtures.exact_analysis(table.p0, table.signal_maps, targets, masses, eps=eps,
                                  feature_only=fo)
  full = mixtures.exact_analysis(p0_full, maps_full, targets, masses, eps=eps, feature_only=fo)
  np.testing.assert_allclose(exact.success, full.success, atol=1e-12)
  for got, want in zip(exact.parameters, full.parameters):
    np.testing.assert_allclose(got, want, atol=1e-12)
  # The mixture on the table's rows equals the full mixture there, and the
  # full mixture has no mass elsewhere.
  where = np.array([np.flatnonzero((points == row).all(axis=1))[0] for row in table.rows])
  np.testing.assert_allclose(exact.mixture, full.mixture[where], atol=1e-12)
  np.testing.assert_allclose(np.asarray(full.mixture).sum(), np.asarray(exact.mixture).sum(),
                             atol=1e-12)
  np.testing.assert_allclose(
      exact.success,
      ref.np_worst_case_success(np.asarray(table.p0), np.asarray(table.signal_maps), targets,
                                masses, eps, fo), atol=1e-12)


def test_eighteen_columns_from_samples():
  """18 columns (product space ~1.3e11 points) from 20,000 samples, fast."""
  rng = np.random.default_rng(3)
  sizes = (2, 3, 4, 5, 6, 7) * 3
  features, labels = _samples(rng, 20_000, sizes, 2)
  signals = [{0: 1, 5: 6}, {17: 0}, {3: 4, 4: 5, 9: 1}]
  start = time.perf_counter()
  table = structured.structured_table(features, labels, signals)
  out = mixtures.exact_analysis(table.p0, table.signal_maps, np.array([1, 0, 1]),
                                np.array([.02, .03, .01]), eps=0.05)
  elapsed = time.perf_counter() - start
  assert float(np.prod(np.array(sizes, dtype=float))) > 1e11
  assert table.num_observed <= 20_000 and len(table.rows) <= 4 * table.num_observed
  np.testing.assert_allclose(np.asarray(table.p0).sum(), 1, atol=1e-12)
  assert np.all((np.asarray(out.success) >= 0) & (np.asarray(out.success) <= 1))
  assert elapsed < 20
  # Every signal image row really is the observed row with the columns set.
  observed = table.rows[:table.num_observed]
  settings = structured.signal_array(signals, 18)
  for c in range(3):
    images = table.rows[np.asarray(table.signal_maps)[c, :table.num_observed]]
    np.testing.assert_array_equal(images, np.where(settings[c] >= 0, settings[c], observed))


def test_mixed_radix_and_row_unique_agree():
  rng = np.random.default_rng(4)
  rows = rng.integers(0, 3, size=(500, 6))
  small_unique, small_inverse = structured.unique_rows(rows)
  # Same rows with one huge column value: the product of sizes exceeds 2**62.
  big = rows.copy()
  big[:, 0] = big[:, 0] * (2**61)
  big_unique, big_inverse = structured.unique_rows(big)
  np.testing.assert_array_equal(small_inverse, big_inverse)
  np.testing.assert_array_equal(small_unique[small_inverse], rows)
  np.testing.assert_array_equal(big_unique[big_inverse], big)


def test_sample_weights_and_duplicates():
  features = np.array([[0, 1], [0, 1], [1, 0]])
  labels = np.array([0, 1, 1])
  table = structured.structured_table(features, labels, [{0: 1}], sample_weights=[1., 3., 4.])
  np.testing.assert_allclose(table.p0[:2], [[1 / 8, 3 / 8], [0, 4 / 8]])
  assert table.num_observed == 2
  np.testing.assert_array_equal(table.rows, [[0, 1], [1, 0], [1, 1]])
  np.testing.assert_array_equal(table.signal_maps, [[2, 1, 2]])
  wrapped = structured.structured_worst_case_success(features, labels, [{0: 1}], np.array([0]),
                                                     np.array([.1]), eps=0.0,
                                                     sample_weights=[1., 3., 4.])
  direct = mixtures.worst_case_success(table.p0, table.signal_maps, np.array([0]),
                                       np.array([.1]), eps=0.0)
  np.testing.assert_array_equal(wrapped, direct)


@pytest.mark.parametrize("name,kwargs", [
    ("features", dict(features=np.array([0, 1, 2]))),
    ("features", dict(features=np.array([[0, -1], [1, 0]]))),
    ("features", dict(features=np.array([[0., 1.], [1., 0.]]))),
    ("labels", dict(labels=np.array([0, 1, 2]))),
    ("labels", dict(labels=np.array([0, 5]), num_labels=3)),
    ("num_labels", dict(num_labels=1)),
    ("signals", dict(signals=[{2: 1}])),
    ("signals", dict(signals=[{0: -3}])),
    ("signals", dict(signals=np.array([[0, 1, 1]]))),
    ("signals", dict(signals=np.array([[-2, 1]]))),
    ("sample_weights", dict(sample_weights=[1., -1.])),
])
def test_bad_input_names_the_argument(name, kwargs):
  args = dict(features=np.array([[0, 1], [1, 0]]), labels=np.array([0, 1]), signals=[{0: 1}])
  args.update(kwargs)
  with pytest.raises(ValueError, match=name):
    structured.structured_table(args.pop("features"), args.pop("labels"), args.pop("signals"),
                                **args)
