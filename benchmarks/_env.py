"""What every benchmark records about the machine it ran on."""

import os
import platform
from pathlib import Path

import jax
import numpy as np


def cpu_model() -> str:
  """The CPU's model name (from /proc/cpuinfo where there is one)."""
  try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def environment() -> dict:
  """Device, platform and versions, as recorded in every result JSON."""
  device = jax.devices()[0]
  return dict(device=str(device), device_kind=device.device_kind,
              platform=platform.platform(), cpu_model=cpu_model(),
              cpu_count=os.cpu_count(), jax_version=jax.__version__,
              numpy_version=np.__version__)
