"""Rating data: the container, the synthetic generator, the MovieLens loader, clusters."""

import numpy as np
import pytest

from acajax import ratings

LINES = ["196\t242\t3\t881250949", "186\t302\t3\t891717742", "22\t377\t1\t878887116",
         "196\t377\t5\t881251000"]


def _write(tmp_path, lines, name="u.data"):
  path = tmp_path / name
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  return path


def test_synthetic_is_deterministic_per_seed():
  a = ratings.synthetic(80, 40, num_clusters=4, ratings_per_user=10, seed=3)
  b = ratings.synthetic(80, 40, num_clusters=4, ratings_per_user=10, seed=3)
  c = ratings.synthetic(80, 40, num_clusters=4, ratings_per_user=10, seed=4)
  for x, y in zip(a.ratings, b.ratings):
    np.testing.assert_array_equal(x, y)
  np.testing.assert_array_equal(a.clusters, b.clusters)
  assert not np.array_equal(a.ratings.items, c.ratings.items)


def test_synthetic_shapes_clusters_and_popularity():
  data = ratings.synthetic(300, 100, num_clusters=5, ratings_per_user=15, zipf=1.2, seed=0)
  r = data.ratings
  assert r.num_ratings == 300 * 15
  np.testing.assert_array_equal(np.bincount(r.users), np.full(300, 15))
  assert np.bincount(data.clusters).tolist() == [60] * 5
  assert set(np.unique(r.values)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
  # Popular items are rated more: the 10 most popular get far more ratings than the
  # 10 least popular.
  counts = np.bincount(r.items, minlength=100)
  order = np.argsort(-data.popularity)
  assert counts[order[:10]].mean() > 3 * counts[order[-10:]].mean()


def test_synthetic_bad_arguments():
  with pytest.raises(ratings.RatingsError, match="ratings_per_user must be at most"):
    ratings.synthetic(10, 5, num_clusters=2, ratings_per_user=6)
  with pytest.raises(ratings.RatingsError, match="num_users must be a positive integer"):
    ratings.synthetic(0, 5)


def test_dense_round_trip():
  r = ratings.Ratings.from_coo([0, 2, 2], [1, 0, 2], [4, 1, 5], 3, 3)
  dense = r.dense()
  assert np.isnan(dense[1]).all() and dense[2, 2] == 5
  back = ratings.Ratings.from_dense(dense)
  for x, y in zip(r[:3], back[:3]):
    np.testing.assert_array_equal(x, y)
  np.testing.assert_array_equal(r.rated(), ~np.isnan(dense))


def test_from_coo_rejects_bad_input():
  with pytest.raises(ratings.RatingsError, match="users must lie in 0..1"):
    ratings.Ratings.from_coo([0, 2], [0, 0], [1, 1], 2, 1)
  with pytest.raises(ratings.RatingsError, match="rated twice"):
    ratings.Ratings.from_coo([0, 0], [1, 1], [1, 2], 1, 2)
  with pytest.raises(ratings.RatingsError, match="same length"):
    ratings.Ratings.from_coo([0, 1], [0], [1, 2], 2, 1)


def test_load_movielens(tmp_path):
  r = ratings.load_movielens(_write(tmp_path, LINES + [""]))
  assert (r.num_users, r.num_items, r.num_ratings) == (3, 3, 4)
  assert r.user_ids.tolist() == [22, 186, 196] and r.item_ids.tolist() == [242, 302, 377]
  dense = r.dense()
  assert dense[r.user_index([196])[0], r.item_index([377])[0]] == 5
  assert dense[r.user_index([22])[0], r.item_index([377])[0]] == 1
  assert np.isnan(dense[r.user_index([22])[0], r.item_index([242])[0]])


@pytest.mark.parametrize("bad, message", [
    ("196\t242\t3", "line 3: expected 4 tab-separated fields"),
    ("196 242 3 881250949", "line 3: expected 4 tab-separated fields"),
    ("abc\t242\t3\t881250949", "line 3: user id and item id must be integers"),
    ("196\t242\t7\t881250949", r"line 3: rating must be a number in \[1, 5\]"),
    ("196\t242\tfive\t881250949", r"line 3: rating must be a number in \[1, 5\]"),
    ("196\t242\t3\tyesterday", "line 3: timestamp must be an integer"),
    ("196\t242\t4\t881250950", r"line 3: user 196 rates item 242 a second time \(first on line 1\)"),
])
def test_load_movielens_names_file_and_line(tmp_path, bad, message):
  path = _write(tmp_path, LINES[:2] + [bad])
  with pytest.raises(ratings.RatingsError, match=message) as err:
    ratings.load_movielens(path)
  assert str(path) in str(err.value)
  assert isinstance(err.value, ValueError)


def test_load_movielens_missing_and_empty(tmp_path):
  with pytest.raises(ratings.RatingsError, match="no such file"):
    ratings.load_movielens(tmp_path / "absent.data")
  with pytest.raises(ratings.RatingsError, match="is a folder; expected a u.data file"):
    ratings.load_movielens(tmp_path)
  with pytest.raises(ratings.RatingsError, match="no ratings found"):
    ratings.load_movielens(_write(tmp_path, [""]))


def test_unknown_ids_are_named(tmp_path):
  r = ratings.load_movielens(_write(tmp_path, LINES))
  with pytest.raises(ratings.RatingsError, match=r"unknown user id\(s\) \[5\]"):
    r.user_index([196, 5])
  with pytest.raises(ratings.RatingsError, match=r"unknown item id\(s\) \[1\]"):
    r.item_index([1])


def test_cluster_users_recovers_synthetic_clusters():
  data = ratings.synthetic(120, 80, num_clusters=3, ratings_per_user=40, cluster_spread=0.1,
                           noise=0.2, seed=2)
  found = ratings.cluster_users(data.ratings, 3, seed=0)
  # Purity: each found cluster is dominated by one true cluster.
  purity = sum(np.bincount(data.clusters[found == c]).max() for c in range(3)) / 120
  assert purity > 0.9
  np.testing.assert_array_equal(found, ratings.cluster_users(data.ratings, 3, seed=0))
  with pytest.raises(ratings.RatingsError, match="num_clusters must be an integer in 1..120"):
    ratings.cluster_users(data.ratings, 0)


def test_synthetic_activity_popularity_head_and_quality():
  counts = np.arange(300) % 40 + 5                       # one count per user
  data = ratings.synthetic(300, 400, ratings_per_user=counts, zipf=2.0,
                           popularity_offset=50.0, seed=1).ratings
  assert np.array_equal(np.bincount(data.users, minlength=300), counts)
  per_item = np.bincount(data.items, minlength=400)
  plain = np.bincount(ratings.synthetic(300, 400, ratings_per_user=counts, zipf=2.0,
                                        seed=1).ratings.items, minlength=400)
  assert per_item.max() < plain.max()                    # the offset flattens the head

  def count_rating_correlation(quality):
    d = ratings.synthetic(400, 300, ratings_per_user=30, popularity_quality=quality,
                          seed=2).ratings
    n = np.bincount(d.items, minlength=300)
    mean = np.bincount(d.items, weights=d.values, minlength=300) / np.maximum(n, 1)
    return np.corrcoef(n[n > 0], mean[n > 0])[0, 1]
  assert count_rating_correlation(2.0) > count_rating_correlation(0.0) + 0.3
  # A scalar count and no new options draw exactly what they drew before.
  same = ratings.synthetic(50, 40, ratings_per_user=np.full(50, 10), seed=0).ratings
  assert np.array_equal(same.values, ratings.synthetic(50, 40, ratings_per_user=10,
                                                       seed=0).ratings.values)
  for kwargs, message in ((dict(ratings_per_user=np.ones(3, int)), "one count or one per user"),
                          (dict(ratings_per_user=np.zeros(50, int)), "positive integers"),
                          (dict(popularity_offset=-1.0), "popularity_offset must be"),
                          (dict(popularity_quality=float("nan")), "popularity_quality must be")):
    with pytest.raises(ratings.RatingsError, match=message):
      ratings.synthetic(50, 40, **kwargs)
