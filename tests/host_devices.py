"""Runs a script in a fresh Python whose CPU shows as several JAX devices."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(script: str, count: int) -> subprocess.CompletedProcess:
  """Runs ``script`` with ``count`` host devices (CPU only); fails the test on a non-zero exit."""
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}",
             JAX_PLATFORMS="cpu")
  result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  return result
