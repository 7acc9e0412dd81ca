"""A sweep over two processes (jax.distributed on 127.0.0.1, gloo collectives).

Each process has two host devices, so the mesh spans four devices in two
processes. The result written by process 0 must equal a one-device run of the
same spec in this process.
"""

import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

from acajax import sweep

ROOT = pathlib.Path(__file__).resolve().parents[1]

SPEC = """\
name = "two_processes"
collectives = 2
targets = [0, 1]
bounds = ["feature_label", "critical_mass_feature_label"]
collective = ["each", "s_min", "s_w"]
dtype = "float64"

[fixed]
alpha = [0.05, 0.03]
xi_c = 0.01
delta = 0.5
target_success = 0.9

[axes]
eps = {kind = "linspace", start = 0.0, stop = 0.4, num = 5}
"alpha[0]" = {kind = "linspace", start = 0.01, stop = 0.97, num = 7}
xi = {kind = "values", values = [0.0, 0.05, 0.3]}

[reduce]
over = ["alpha[0]", "xi"]
ops = ["min", "max", "argmin", "argmax"]

[run]
chunk_points = 8
allow_out_of_domain = true      # alpha[0] up to 0.97: NaN points where abar >= 1
"""


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.skipif(not hasattr(jax, "distributed") or not hasattr(jax.distributed, "initialize"),
                    reason="this jax has no jax.distributed")
def test_two_processes_equal_one_device(tmp_path):
  spec_path = tmp_path / "two.toml"
  spec_path.write_text(SPEC)
  spec = sweep.load(spec_path)
  plan = sweep.make_plan(spec, num_devices=4)
  assert plan.shard_dim == 1 and plan.col_blocks > 1   # partial reductions meet across hosts
  out = tmp_path / "out"
  port = _free_port()
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu")
  procs = [subprocess.Popen(
      [sys.executable, "-m", "acajax.cli", "sweep", str(spec_path), "--out", str(out),
       "--no-progress", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
       "--process-id", str(i)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True) for i in range(2)]
  outputs = []
  try:
    for proc in procs:
      outputs.append(proc.communicate(timeout=120))
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
        proc.communicate()
  for proc, (stdout, stderr) in zip(procs, outputs):
    assert proc.returncode == 0, stderr[-3000:]
  assert "on 4 device(s)" in outputs[0][0]     # process 0 reports; process 1 stays quiet
  assert "device(s)" not in outputs[1][0]
  meta = (out / "meta.json").read_text()
  assert '"process_count": 2' in meta

  _, distributed = sweep.read_results(out)
  single = sweep.run(spec, devices=jax.devices()[:1], progress=False).table
  assert len(single) == 5
  pd.testing.assert_frame_equal(distributed, single, check_exact=True, check_dtype=False)
  assert np.isinf(single.filter(like="critical").to_numpy()).any()
