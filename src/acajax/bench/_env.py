"""What every benchmark records about the machine it ran on, and the timing loop they share."""

import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path

import jax
import numpy as np


def timings(call, repeats: int) -> list[float]:
  """Wall seconds of ``repeats`` calls of ``call()``, each ending in ``block_until_ready``.

  Compile and warm up before: every call here is timed.

  Args:
    call: a function of no arguments returning arrays (or a pytree of them).
    repeats: the number of timed calls.

  Returns:
    The ``repeats`` wall times in seconds, in call order.
  """
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(call())
    times.append(time.perf_counter() - start)
  return times


def median_time(call, repeats: int) -> float:
  """The median of :func:`timings`."""
  return statistics.median(timings(call, repeats))


def cpu_model() -> str:
  """The CPU's model name (from /proc/cpuinfo where there is one)."""
  try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def versions() -> dict:
  """Versions of Python and of the installed libraries the benchmarks use."""
  found = {"python": platform.python_version()}
  for name in ("jax", "jaxlib", "numpy", "optax", "flax", "pandas", "scikit-learn"):
    try:
      found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      pass
  return found


def environment() -> dict:
  """Device, platform and versions, as recorded in every result JSON."""
  device = jax.devices()[0]
  return dict(device=str(device), device_kind=device.device_kind,
              device_count=jax.device_count(), backend=jax.default_backend(),
              platform=platform.platform(), cpu_model=cpu_model(),
              cpu_count=os.cpu_count(), jax_version=jax.__version__,
              numpy_version=np.__version__, versions=versions())


def accelerator_plugin() -> bool:
  """Whether a JAX GPU or TPU plugin is installed (found without starting JAX)."""
  import importlib.util  # deferred: only the benchmark children ask
  return any(importlib.util.find_spec(name) is not None for name in (
      "jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin", "jax_rocm7_plugin",
      "libtpu"))


def pin_to_one_core() -> int | None:
  """Pins this process (every thread, and the threads it starts) to one core.

  For CPU benchmarks that compare a one-device JAX run with single-threaded
  NumPy. Call it before JAX's first operation: XLA sizes its CPU thread pool
  by the cores the process may use, and with a pool of several threads it
  hands each loop step's small kernels between them, which halved the
  sweep's speed on the 2-core machine even with every thread on one core
  (``benchmarks/README.md``). Returns the core, or None where affinity is not
  available (or one core is all there is).
  """
  if not hasattr(os, "sched_setaffinity"):
    return None
  cores = os.sched_getaffinity(0)
  if len(cores) < 2:
    return None
  core = max(cores)
  threads = [int(t) for t in os.listdir("/proc/self/task")] if os.path.isdir(
      "/proc/self/task") else [0]
  for thread in threads:
    try:
      os.sched_setaffinity(thread, {core})
    except OSError:       # a thread that ended meanwhile
      pass
  return core


def split_cpu() -> int:
  """Shows the host CPU as one JAX device per usable core; returns the CPU device count.

  Must run before JAX's first operation in the process (a benchmark's own
  process); later, JAX keeps the devices it started with. The learners and
  recommender benchmarks use it because their ``train_many`` split models
  over devices, as ``acajax validate`` does by default.
  """
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  try:
    jax.config.update("jax_num_cpu_devices", cores or 1)
  except RuntimeError:    # JAX's backends have started: keep them
    pass
  return len(jax.devices("cpu"))
