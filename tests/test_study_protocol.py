"""The study's recommender protocol: clustering of user vectors, seed clusters,
members by propensity, targets as the collective's top items.

References are independent: per-pair NumPy loops for the distances, a plain
Lloyd loop, brute force over every partition or medoid set, every single
swap, binomial tolerances derived below.
"""

import itertools
import math

import numpy as np
import pytest

from acajax import clustering, recommender
from acajax import rating_collectives as rc

# Two-sided normal quantile with tail probability 1e-6: a correct sampler
# fails a check at this tolerance about once in a million runs (the seeds are
# fixed, so a run is deterministic anyway).
Z = 4.9


def _blobs(rng, centres, per, spread):
  centres = np.asarray(centres, float)
  x = np.concatenate([c + spread * rng.normal(size=(per, centres.shape[1])) for c in centres])
  return x, np.repeat(np.arange(len(centres)), per)


def _same_partition(a, b) -> bool:
  pairs = set(zip(np.asarray(a).tolist(), np.asarray(b).tolist()))
  return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


# Distances.

def test_cosine_and_euclidean_distances_match_per_pair_numpy():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(7, 4)), rng.normal(size=(5, 4))
  cos = np.array([[1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) for v in b] for u in a])
  l2 = np.array([[np.linalg.norm(u - v) for v in b] for u in a])
  np.testing.assert_allclose(clustering.cosine_distances(a, b), cos, rtol=0, atol=1e-12)
  np.testing.assert_allclose(clustering.distances(a, b, metric="cosine"), cos, atol=1e-12)
  np.testing.assert_allclose(clustering.distances(a, b), l2, rtol=1e-10, atol=1e-12)
  assert np.all(np.diag(clustering.cosine_distances(a)) == 0.0)


def test_distance_errors_name_the_argument():
  with pytest.raises(clustering.ClusteringError, match="a row 1 is a zero vector"):
    clustering.cosine_distances([[1.0, 0.0], [0.0, 0.0]])
  with pytest.raises(clustering.ClusteringError, match="metric must be one of"):
    clustering.distances([[1.0]], metric="manhattan")
  with pytest.raises(clustering.ClusteringError, match=r"q must be an integer in 1\.\.3"):
    clustering.kmeans(np.eye(3), 4)
  with pytest.raises(clustering.ClusteringError, match="vectors must be finite"):
    clustering.kmedoids([[np.nan, 1.0]], 1)


# k-means.

def _lloyd_reference(x, centres):
  """Plain Lloyd: per-point nearest centre (first on ties), per-cluster means."""
  centres = np.array(centres, float)
  labels = None
  while True:
    new = np.array([min(range(len(centres)), key=lambda c: np.sum((p - centres[c]) ** 2))
                    for p in x])
    if labels is not None and np.array_equal(new, labels):
      return labels, centres
    labels = new
    for c in range(len(centres)):
      assert np.any(labels == c)
      centres[c] = x[labels == c].mean(0)


def test_kmeans_matches_a_numpy_lloyd_loop_from_the_same_start():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(60, 3))
  init = x[[0, 10, 20, 30]]
  found = clustering.kmeans(x, 4, init=init)
  labels, centres = _lloyd_reference(x, init)
  assert _same_partition(found.labels, labels)
  # Same partition: the same centres, matched by cluster.
  for c in range(4):
    np.testing.assert_allclose(found.centres[found.labels[labels == c][0]], centres[c],
                               rtol=1e-12, atol=1e-12)
  cost = sum(np.sum((x[labels == c] - centres[c]) ** 2) for c in range(4))
  assert found.cost == pytest.approx(cost, rel=1e-12)


def test_kmeans_finds_the_optimum_of_a_tiny_separable_instance():
  rng = np.random.default_rng(2)
  x, truth = _blobs(rng, [[0, 0], [6, 0], [0, 6]], 3, 0.5)
  best = math.inf
  for labels in itertools.product(range(3), repeat=len(x)):   # every labelling: 3^9
    labels = np.array(labels)
    if len(set(labels.tolist())) == 3:
      best = min(best, sum(np.sum((x[labels == c] - x[labels == c].mean(0)) ** 2)
                           for c in range(3)))
  for seed in range(5):
    found = clustering.kmeans(x, 3, seed=seed)
    assert found.cost == pytest.approx(best, rel=1e-12)
    assert _same_partition(found.labels, truth)


def test_kmeans_is_a_lloyd_fixed_point_numbered_by_size_and_seeded():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(80, 5))
  found = clustering.kmeans(x, 6, seed=4)
  assert found.medoids is None and found.labels.dtype == np.int32
  for c in range(6):
    np.testing.assert_allclose(found.centres[c], x[found.labels == c].mean(0), atol=1e-12)
  d = ((x[:, None, :] - found.centres[None]) ** 2).sum(-1)
  np.testing.assert_array_equal(found.labels, np.argmin(d, axis=1))
  sizes = np.bincount(found.labels, minlength=6)
  assert np.all(np.diff(sizes) <= 0)
  again = clustering.kmeans(x, 6, seed=4)
  np.testing.assert_array_equal(found.labels, again.labels)
  np.testing.assert_array_equal(found.centres, again.centres)


def test_kmeans_refills_an_empty_cluster_with_the_farthest_vector():
  x = np.array([[0.0], [1.0], [2.0], [10.0]])
  found = clustering.kmeans(x, 2, init=[[1.0], [100.0]])     # the second centre wins nothing
  assert sorted(np.bincount(found.labels).tolist()) == [1, 3]
  assert found.cost == pytest.approx(2.0, rel=1e-12)         # {0, 1, 2} around 1, {10} alone


# k-medoids.

def _medoid_cost(dist, medoids):
  return dist[:, list(medoids)].min(1).sum()


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_kmedoids_no_single_swap_lowers_its_cost(metric):
  rng = np.random.default_rng(5)
  x = rng.normal(size=(40, 3))
  if metric == "cosine":
    dist = np.array([[1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) for v in x] for u in x])
  else:
    dist = np.array([[np.linalg.norm(u - v) for v in x] for u in x])
  found = clustering.kmedoids(x, 4, metric=metric, seed=0)
  cost = _medoid_cost(dist, found.medoids)
  assert found.cost == pytest.approx(cost, rel=1e-12)
  for i, m in enumerate(found.medoids):
    for candidate in set(range(len(x))) - set(found.medoids.tolist()):
      swapped = found.medoids.copy()
      swapped[i] = candidate
      assert _medoid_cost(dist, swapped) >= cost - 1e-9, (m, candidate)
  # Labels: the nearest medoid; centres: the medoids' vectors.
  np.testing.assert_array_equal(found.labels, np.argmin(dist[:, found.medoids], axis=1))
  np.testing.assert_array_equal(found.centres, x[found.medoids])
  np.testing.assert_array_equal(found.medoids[found.labels[found.medoids]], found.medoids)


def test_kmedoids_equals_the_brute_force_optimum_of_a_tiny_instance():
  rng = np.random.default_rng(6)
  # Three bundles of directions (cosine ignores lengths: scale them).
  x, truth = _blobs(rng, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 4, 0.25)
  x *= rng.uniform(0.5, 3.0, size=(len(x), 1))
  dist = np.array([[1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) for v in x] for u in x])
  best = min(_medoid_cost(dist, m) for m in itertools.combinations(range(len(x)), 3))
  for seed in range(5):
    found = clustering.kmedoids(x, 3, metric="cosine", seed=seed)
    assert found.cost == pytest.approx(best, rel=1e-12)
    assert _same_partition(found.labels, truth)


def test_kmedoids_is_deterministic_for_a_seed_and_checks_init():
  x = np.random.default_rng(7).normal(size=(30, 4))
  a = clustering.kmedoids(x, 3, seed=1)
  b = clustering.kmedoids(x, 3, seed=1)
  np.testing.assert_array_equal(a.medoids, b.medoids)
  np.testing.assert_array_equal(a.labels, b.labels)
  from_init = clustering.kmedoids(x, 3, init=[0, 1, 2])
  assert from_init.cost >= 0
  with pytest.raises(clustering.ClusteringError, match="init must be 3 distinct indices"):
    clustering.kmedoids(x, 3, init=[0, 0, 2])


def test_user_vectors_read_the_factors_and_optionally_the_bias():
  rng = np.random.default_rng(8)
  stack = recommender.MFParams(np.zeros(2), rng.normal(size=(2, 5)), np.zeros((2, 3)),
                               rng.normal(size=(2, 5, 4)), np.zeros((2, 3, 4)))
  one = clustering.user_vectors(stack, model=1)
  np.testing.assert_array_equal(one, stack.user_factors[1])
  with_bias = clustering.user_vectors(stack, bias=True, model=0)
  np.testing.assert_array_equal(with_bias[:, :4], stack.user_factors[0])
  np.testing.assert_array_equal(with_bias[:, 4], stack.user_bias[0])
  with pytest.raises(clustering.ClusteringError, match="model must name one"):
    clustering.user_vectors(stack)


# Seed clusters.

def test_farthest_seed_clusters_are_the_farthest_pair_then_greedy():
  rng = np.random.default_rng(9)
  centres = rng.normal(size=(10, 3))
  d = np.array([[np.linalg.norm(u - v) for v in centres] for u in centres])
  pair = max(itertools.combinations(range(10), 2), key=lambda ij: d[ij])
  assert rc.seed_clusters(centres, 2, how="farthest").tolist() == list(pair)
  chosen = rc.seed_clusters(centres, 4, how="farthest").tolist()
  assert chosen[:2] == list(pair) and len(set(chosen)) == 4
  for k in (2, 3):
    rest = [c for c in range(10) if c not in chosen[:k]]
    assert chosen[k] == max(rest, key=lambda c: min(d[c, s] for s in chosen[:k]))
  dc = np.array([[1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) for v in centres]
                 for u in centres])
  pair = max(itertools.combinations(range(10), 2), key=lambda ij: dc[ij])
  assert rc.seed_clusters(centres, 2, how="farthest", metric="cosine").tolist() == list(pair)


def test_random_seed_clusters_are_distinct_seeded_and_uniform():
  labels = np.arange(50) % 5
  draws = np.array([rc.seed_clusters(labels, 2, rng=s) for s in range(2000)])
  assert np.all(draws[:, 0] != draws[:, 1]) and set(draws.ravel().tolist()) == set(range(5))
  np.testing.assert_array_equal(rc.seed_clusters(labels, 3, rng=4), rc.seed_clusters(
      labels, 3, rng=4))
  # Each cluster is a seed with probability 2/5 per draw.
  share = np.bincount(draws.ravel(), minlength=5) / 2000
  assert np.all(np.abs(share - 0.4) <= Z * math.sqrt(0.4 * 0.6 / 2000))


def test_seed_cluster_errors_name_the_argument():
  with pytest.raises(rc.CollectiveError, match="count: 3 collectives need 3 distinct seed "
                                               "clusters; there are only 2"):
    rc.seed_clusters(np.array([0, 1, 1, 0]), 3)
  with pytest.raises(rc.CollectiveError, match="how must be one of"):
    rc.seed_clusters(np.array([0, 1]), 2, how="nearest")
  with pytest.raises(rc.CollectiveError, match="clusters: how='farthest' needs"):
    rc.seed_clusters(np.array([0, 1]), 2, how="farthest")


# Members by propensity.

@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.75, 1.0])
def test_share_from_home_is_binomial_with_mean_p(p):
  clusters = np.arange(500) % 10          # 50 users a cluster: no pool runs out
  size, runs = 10, 1000
  counts = np.array([np.sum(clusters[rc.select_by_propensity(clusters, size, 3, p, rng=s)]
                            == 3) for s in range(runs)])
  # The total from home is Binomial(runs * size, p): its share lies within
  # Z standard deviations sqrt(p (1 - p) / (runs size)) of p.
  share = counts.sum() / (runs * size)
  assert abs(share - p) <= Z * math.sqrt(p * (1 - p) / (runs * size))
  # Per draw Binomial(size, p), not a fixed round(p size): each count's
  # frequency within Z binomial standard deviations of the pmf.
  pmf = np.array([math.comb(size, k) * p ** k * (1 - p) ** (size - k) for k in range(size + 1)])
  freq = np.bincount(counts, minlength=size + 1) / runs
  assert np.all(np.abs(freq - pmf) <= Z * np.sqrt(pmf * (1 - pmf) / runs) + 1e-12)


def test_members_from_other_clusters_are_uniform_over_their_users():
  sizes = [40, 10, 20, 30]                 # home 0; others in proportion 1 : 2 : 3
  clusters = np.repeat(np.arange(4), sizes)
  others = np.concatenate([clusters[rc.select_by_propensity(clusters, 6, 0, 0.25, rng=s)]
                           for s in range(1500)])
  others = others[others != 0]
  for c, expected in ((1, 1 / 6), (2, 2 / 6), (3, 3 / 6)):
    share = np.mean(others == c)
    assert abs(share - expected) <= Z * math.sqrt(expected * (1 - expected) / len(others))


def test_propensity_members_are_disjoint_sorted_and_seeded():
  clusters = np.arange(200) % 10
  taken = rc.select_by_propensity(clusters, 20, 2, 0.5, rng=0)
  members = rc.select_by_propensity(clusters, 20, 7, 0.5, rng=1, exclude=taken)
  assert len(np.intersect1d(taken, members)) == 0
  assert len(np.unique(members)) == 20 and np.all(np.diff(members) > 0)
  np.testing.assert_array_equal(members, rc.select_by_propensity(clusters, 20, 7, 0.5, rng=1,
                                                                 exclude=taken))
  assert rc.select_by_propensity(clusters, 0.1, 7, 0.5, rng=1).shape == (20,)


def test_propensity_errors_are_clear():
  clusters = np.repeat(np.arange(3), [5, 50, 50])
  with pytest.raises(rc.CollectiveError, match="pool runs out: .* 10 of the 10 members from "
                                               "home cluster 0"):
    rc.select_by_propensity(clusters, 10, 0, 1.0, rng=0)
  with pytest.raises(rc.CollectiveError, match=r"p must be a probability in \[0, 1\]"):
    rc.select_by_propensity(clusters, 10, 0, 1.5, rng=0)
  with pytest.raises(rc.CollectiveError, match="home must be one of the clusters"):
    rc.select_by_propensity(clusters, 10, 5, 0.5, rng=0)


# Targets.

def test_collective_top_items_match_a_numpy_ranking():
  rng = np.random.default_rng(10)
  dense = rng.integers(1, 6, size=(30, 25)).astype(np.float32)
  dense[rng.random(dense.shape) < 0.6] = np.nan
  members = rng.choice(30, 8, replace=False)
  totals = [sum(float(dense[u, i]) for u in members if not np.isnan(dense[u, i]))
            for i in range(25)]
  expected = sorted(range(25), key=lambda i: (-totals[i], i))[:10]
  assert rc.collective_top_items(dense, members, 10).tolist() == expected
  assert rc.collective_top_items(dense, members, 25).tolist() == sorted(
      range(25), key=lambda i: (-totals[i], i))


def test_collective_top_items_sum_not_mean_and_errors():
  # Item 0: one member rates it 5; item 1: three rate it 4. The sum ranks item 1 first.
  dense = np.array([[5.0, 4.0], [np.nan, 4.0], [np.nan, 4.0]])
  assert rc.collective_top_items(dense, [0, 1, 2], 1).tolist() == [1]
  with pytest.raises(rc.CollectiveError, match=r"v must be an integer in 1\.\.2"):
    rc.collective_top_items(dense, [0], 3)
  with pytest.raises(rc.CollectiveError, match="members must be a non-empty list"):
    rc.collective_top_items(dense, [], 1)


# The protocol in the recommender experiment.

PROTOCOL_SPEC = """
kind = "recommender"
seeds = [0]
sizes = [6]
homogeneity = [1.0]
num_targets = 4
membership = "propensity"
seed_clusters = "farthest"
clustering = "kmedoids"
[data]
source = "synthetic"
num_users = 60
num_items = 30
num_clusters = 4
ratings_per_user = 10
[model]
trainer = "svd"
n_factors = 3
n_epochs = 5
[target_sets]
top = "collective_top"
[[collectives]]
name = "p"
archetype = "promoter"
targets = "top"
[[collectives]]
name = "d"
archetype = "demoter"
targets = "top"
"""


def test_experiment_runs_the_study_protocol_from_a_spec(tmp_path):
  from acajax import svd
  from acajax.runs import recommender as rec_experiment
  path = tmp_path / "spec.toml"
  path.write_text(PROTOCOL_SPEC, encoding="utf-8")
  spec = rec_experiment.load(path)
  result = rec_experiment.run(spec, tmp_path / "out")
  exp = rec_experiment._experiment(spec)
  base = exp.ratings
  # Clusters: k-medoids (cosine) of the baseline's user factors, trained independently.
  params = svd.fit(base.users, base.items, base.values, num_users=base.num_users,
                   num_items=base.num_items, config=exp.config, random_state=0)
  vectors = np.asarray(params.user_factors)
  found = clustering.kmedoids(vectors, 4, metric="cosine", seed=0)
  np.testing.assert_array_equal(result.clusters, found.labels)
  # Homes: the two clusters whose medoids are farthest apart (cosine), distinct.
  dist = np.array([[1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) for v in
                    found.centres] for u in found.centres])
  pair = max(itertools.combinations(range(4), 2), key=lambda ij: dist[ij])
  frame = result.frame
  homes = {row.collective: row.home for row in frame.itertuples()}
  assert [homes["p"], homes["d"]] == list(pair)
  # p = 1: every member from home; members disjoint; targets their top items.
  dense = base.dense()
  members = {name: result.cell_members[(0, 6, 1.0, name)] for name in ("p", "d")}
  assert len(np.intersect1d(members["p"], members["d"])) == 0
  for name, m in members.items():
    assert np.all(found.labels[m] == homes[name]) and len(m) == 6
    totals = np.where(np.isnan(dense[m]), 0.0, dense[m]).sum(0)
    expected = sorted(range(base.num_items), key=lambda i: (-totals[i], i))[:4]
    assert result.cell_targets[(0, 6, 1.0, name)].tolist() == expected
  assert (tmp_path / "out" / "results.csv").is_file()
  assert frame["relative_hr"].notna().all() or frame["diverged"].any()
  # A bad protocol value names the key.
  path.write_text(PROTOCOL_SPEC.replace('"propensity"', '"quota"'), encoding="utf-8")
  with pytest.raises(rec_experiment.SpecError, match="spec.toml: membership: unknown 'quota'"):
    rec_experiment.load(path)


def test_seed_clusters_are_drawn_among_clusters_large_enough_for_the_collective():
  import dataclasses
  from acajax.runs import recommender as rec_experiment
  from acajax.runs.recommender import CollectiveSpec, Experiment
  clusters = np.repeat([0, 1, 2, 3], [30, 5, 40, 12])       # cluster 1 holds 5 users
  exp = Experiment(ratings=None, clusters=clusters, target_sets={},
                   collectives=(CollectiveSpec("a", "promoter", "A"),
                                CollectiveSpec("b", "demoter", "A")), seed_clusters="random")
  homes = {tuple(rec_experiment._seed_homes(exp, clusters, None, None,
                                            np.random.default_rng(s), 10)) for s in range(200)}
  assert set(np.concatenate([list(h) for h in homes])) == {0, 2, 3}   # never the 5-user one
  homes = {tuple(rec_experiment._seed_homes(exp, clusters, None, None,
                                            np.random.default_rng(s), 20)) for s in range(200)}
  assert homes == {(0, 2), (2, 0)}                                   # only two hold 20
  centres = np.array([[0.0, 0.0], [9.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
  farthest = dataclasses.replace(exp, seed_clusters="farthest")
  assert rec_experiment._seed_homes(farthest, clusters, centres, "euclidean", None,
                                    5).tolist() == [0, 1]           # all eligible: the farthest
  assert rec_experiment._seed_homes(farthest, clusters, centres, "euclidean", None,
                                    10).tolist() == [0, 3]          # cluster 1 too small
  with pytest.raises(rc.CollectiveError, match=r"only 1 of the 4 clusters are that large"):
    rec_experiment._seed_homes(exp, clusters, None, None, np.random.default_rng(0), 35)
