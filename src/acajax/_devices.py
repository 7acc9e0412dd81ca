"""Independent models split over local devices (learners and recommender).

``learners.train_many`` and ``recommender.train_many`` train B independent
models in one jitted call. With several local devices (GPUs, or a CPU shown
as one JAX device per core, as ``acajax validate`` does), the model axis is
padded to a multiple of the device count and split over the devices with
``shard_map``: each device runs the same walk over its share, and nothing
is exchanged between them. On a 2-core CPU this ran 256 logistic models on
digits 2.2–2.6x faster than one device, and 64 recommender trainings 1.6x
(``benchmarks/README.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

AXIS = "models"


def device_count(num_devices: int | None, num_models: int) -> int:
  """The devices B models are split over: ``num_devices`` checked, or by default all (at most B).

  Raises:
    ValueError: not an int from 1 to the number of local devices.

  Examples:
    >>> from acajax import _devices
    >>> _devices.device_count(None, 5) >= 1
    True
  """
  available = jax.local_device_count()
  if num_devices is None:
    return max(1, min(available, num_models))
  if type(num_devices) is not int or not 1 <= num_devices <= available:
    raise ValueError(f"num_devices must be an int from 1 to {available} (the local devices); "
                     f"got {num_devices!r}")
  return num_devices


def pad_models(tree, num_devices: int):
  """Pads the leading (model) axis of every leaf to a multiple of ``num_devices``.

  The padding repeats the last model, so the extra models are valid and
  are cut off afterwards (every device gets as many models).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import _devices
    >>> _devices.pad_models(jnp.arange(5), 3).tolist()
    [0, 1, 2, 3, 4, 4]
  """
  num = jax.tree.leaves(tree)[0].shape[0]
  padded = -num % num_devices
  if not padded:
    return tree
  return jax.tree.map(lambda v: jnp.concatenate([v, jnp.repeat(v[-1:], padded, axis=0)]), tree)


def split_models(fn: Callable, num_devices: int, per_model: Sequence[bool]) -> Callable:
  """``fn`` with its model axis split over the first ``num_devices`` local devices.

  Args:
    fn: a function of positional arguments whose outputs all have a leading
      model axis.
    num_devices: how many devices; 1 returns ``fn`` itself.
    per_model: for each argument, whether it has the leading model axis
      (split) or is shared by every model (copied to every device).

  Returns:
    The function under ``jax.shard_map``; jit it.
  """
  if num_devices == 1:
    return fn
  mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()[:num_devices]), (AXIS,))
  models, shared = jax.sharding.PartitionSpec(AXIS), jax.sharding.PartitionSpec()
  return jax.shard_map(fn, mesh=mesh, in_specs=tuple(models if s else shared for s in per_model),
                       out_specs=models)
