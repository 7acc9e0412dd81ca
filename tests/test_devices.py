"""Independent models split over local devices (acajax._devices): learners and recommender."""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from acajax import _devices, learners, ratings, recommender
from tests import host_devices


def test_device_count_and_padding():
  assert _devices.device_count(None, 5) == min(jax.local_device_count(), 5)
  assert _devices.device_count(1, 5) == 1
  for bad in (0, jax.local_device_count() + 1, 1.0, True):
    with pytest.raises(ValueError, match=r"num_devices must be an int from 1 to \d+"):
      _devices.device_count(bad, 5)
  tree = {"a": jnp.arange(5), "b": jnp.arange(10).reshape(5, 2)}
  padded = _devices.pad_models(tree, 4)
  assert padded["a"].tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
  assert padded["b"][-1].tolist() == [8, 9]
  assert _devices.pad_models(tree, 5) is tree


def test_train_many_names_num_devices():
  x = np.zeros((4, 3), np.float32)
  with pytest.raises(ValueError, match="num_devices must be an int from 1 to"):
    learners.train_many("logistic", x, np.zeros(4, int), jax.random.split(jax.random.key(0), 1),
                        num_labels=2, num_devices=jax.local_device_count() + 1)
  base = ratings.Ratings.from_dense(np.array([[5.0, 0.0], [0.0, 3.0]]))
  with pytest.raises(ValueError, match="num_devices must be an int from 1 to"):
    recommender.train_many(base, [0], num_devices=0)


MULTI_DEVICE = textwrap.dedent("""
    import jax, numpy as np
    from acajax import learners, ratings, recommender
    from tqdm import tqdm
    assert jax.local_device_count() == 3
    rng = np.random.default_rng(0)

    def same(a, b):
      for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert u.shape == v.shape and u.shape[0] == 5, (u.shape, v.shape)
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)

    # Five models (padded to six) on three devices; per-model and shared data.
    x = rng.standard_normal((5, 40, 6)).astype(np.float32)
    y = rng.integers(0, 3, (5, 40))
    keys = jax.random.split(jax.random.key(0), 5)
    cfg = learners.TrainConfig(steps=20)
    for name, data in (("logistic", (x, y)), ("mlp", (x[0], y[0]))):
      one = learners.train_many(name, *data, keys, num_labels=3, config=cfg, num_devices=1)
      three = learners.train_many(name, *data, keys, num_labels=3, config=cfg)
      same((one.params, one.final_loss), (three.params, three.final_loss))
      print(name, "ok")

    dense = np.where(rng.random((12, 8)) < 0.5, rng.integers(1, 6, (12, 8)), 0).astype(float)
    base = ratings.Ratings.from_dense(dense)
    weights = (rng.random((5, base.num_ratings)) < 0.8).astype(np.float32)
    cfg = recommender.MFConfig(rank=2, steps=20)
    one = recommender.train_many(base, [0, 1, 2, 3, 4], base_weights=weights, config=cfg,
                                 num_devices=1)
    with tqdm() as bar:
      three = recommender.train_many(base, [0, 1, 2, 3, 4], base_weights=weights, config=cfg,
                                     progress=bar)
    same(one, three)
    print("recommender ok")
""")


def test_models_split_over_three_devices_equal_one_device():
  """Learners and recommender trainings on three host devices train as on one."""
  result = host_devices.run(MULTI_DEVICE, 3)
  assert result.stdout.split() == ["logistic", "ok", "mlp", "ok", "recommender", "ok"]
  assert "6/6" in result.stderr          # progress: 3 devices x 2 models (5, padded to 6)
