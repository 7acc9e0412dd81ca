"""Sweeps under faults: kills, signals, damaged checkpoints, shared and tampered folders.

One tiny sweep (40 chunks of one row each) serves every test; in this
process it is compiled once. Two child processes (a SIGTERM, then a SIGKILL)
cover what only a separate process can show.
"""

import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pandas as pd
import pytest

from acajax import sweep
from acajax.runs import _io
from acajax.sweep import _driver, _plan

ROOT = pathlib.Path(__file__).resolve().parents[1]

SPEC = """\
name = "faults"
bounds = ["feature_label"]
collectives = 2
collective = ["each", "s_min"]
dtype = "float64"

[fixed]
alpha = [0.05, 0.03]
xi_c = 0.01
delta = 0.5

[axes]
"alpha[0]" = {kind = "linspace", start = 0.01, stop = 0.6, num = 20}
xi = {kind = "values", values = [0.0, 0.3]}
eps = {kind = "linspace", start = 0.0, stop = 0.4, num = 5}

[reduce]
over = ["eps"]
ops = ["min", "argmax"]

[run]
chunk_points = 5
"""
TOTAL = 40          # chunks: one row of 5 reduced points each
# Chunks launched ahead of the one folded in (1 on one CPU device; one per
# device on several host devices); a signal or a kill can lose at most these.
_ACCELERATOR = _plan._accelerator_layout(jax.devices())
IN_FLIGHT = sweep.IN_FLIGHT if _ACCELERATOR else len(jax.devices())
CHILD_IN_FLIGHT = sweep.IN_FLIGHT if _ACCELERATOR else 1   # the child: one device

# A child that runs the sweep and prints each finished chunk. At chunk
# STOP_AT it waits for a SIGTERM (passed on to acajax's handler, which sets a
# flag: the sweep stops after its chunk in flight) or a SIGKILL. It exits as
# the CLI will: a message, no traceback, 128 + signum.
CHILD = textwrap.dedent("""
    import signal, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    from acajax import sweep
    spec, out, stop_at, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    every = None if sys.argv[5] == "auto" else float(sys.argv[5])
    def on_chunk(done):
      time.sleep(delay)
      if done != stop_at:
        print("done", done, flush=True)
        return
      received, handler = [], signal.getsignal(signal.SIGTERM)
      def wrapper(signum, frame):
        received.append(signum)
        handler(signum, frame)
      signal.signal(signal.SIGTERM, wrapper)
      print("done", done, flush=True)
      while not received:
        time.sleep(0.01)
    try:
      sweep.run(spec, out, progress=False, on_chunk=on_chunk, checkpoint_every_s=every)
    except sweep.SweepInterrupted as err:
      print("interrupted", err.signum, err.done, err.total, err.checkpoint, flush=True)
      print(f"acajax sweep: error: {err}", file=sys.stderr)
      sys.exit(128 + err.signum)
    print("finished", flush=True)
""")


class _Stop(Exception):
  pass


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
  path = tmp_path_factory.mktemp("spec") / "faults.toml"
  path.write_text(SPEC)
  return path


@pytest.fixture(scope="module")
def reference(spec_path, tmp_path_factory):
  """An uninterrupted run: its folder (results.csv, meta.json, ...)."""
  out = tmp_path_factory.mktemp("reference")
  result = sweep.run(spec_path, out, progress=False)
  assert result.plan.num_chunks == TOTAL and result.chunks_run == TOTAL
  return out


def _stop_at(count):
  def on_chunk(done):
    if done == count:
      raise _Stop
  return on_chunk


def _checkpoint_meta(path) -> dict:
  with np.load(path) as data:
    return json.loads(str(data["__meta__"]))


def _partial(spec_path, out, done=5):
  """A folder holding an unfinished run of the spec (``done`` chunks in its checkpoint)."""
  with pytest.raises(_Stop):
    sweep.run(spec_path, out, progress=False, checkpoint_every_s=0, on_chunk=_stop_at(done))
  assert _checkpoint_meta(out / "checkpoint.npz")["done"] == done
  return out


# -- kills and signals -----------------------------------------------------------------------


def _child(spec_path, out, stop_at, every="auto", delay=0.02):
  # One JAX device, whatever XLA_FLAGS earlier tests in this process set: with
  # several host devices each runs a chunk of its own, one in flight on each.
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  return subprocess.Popen([sys.executable, "-c", CHILD, str(spec_path), str(out), str(stop_at),
                           str(delay), str(every)], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_chunk(proc, count) -> list[int]:
  """Reads the child's progress until it reports ``count`` finished chunks."""
  seen = []
  for line in proc.stdout:
    if line.startswith("done"):
      seen.append(int(line.split()[1]))
      if seen[-1] == count:
        return seen
  proc.wait()
  raise AssertionError(f"the child stopped at {seen[-1:]}: {proc.stderr.read()[-3000:]}")


def test_sigterm_then_sigkill_then_resume_is_byte_identical(spec_path, reference, tmp_path):
  out = tmp_path / "run"
  # SIGTERM at 30%: the chunk in flight is folded in, saved, and the child exits cleanly.
  proc = _child(spec_path, out, stop_at=12)
  try:
    seen = _wait_for_chunk(proc, 12)
    assert seen[0] == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    stdout, stderr = proc.communicate(timeout=30)
  finally:
    if proc.poll() is None:
      proc.kill()
  assert "Traceback" not in stderr, stderr
  signum, done, total, where = stdout.split("interrupted", 1)[1].split()
  assert (int(signum), int(total), where) == (signal.SIGTERM, TOTAL, str(out / "checkpoint.npz"))
  assert 12 <= int(done) <= 12 + CHILD_IN_FLIGHT
  assert (f"acajax sweep: error: interrupted (SIGTERM) after {done} of {TOTAL} chunks; they are "
          f"kept in {out / 'checkpoint.npz'}: run the same command again to continue") in stderr
  assert _checkpoint_meta(out / "checkpoint.npz")["done"] == int(done)
  meta = json.loads((out / "meta.json").read_text())
  assert meta["kind"] == "sweep" and meta["status"] == "running"
  assert not (out / "results.csv").exists()
  with pytest.raises(sweep.ResultsError, match="has not finished"):
    sweep.read_results(out)

  # Resumed, then SIGKILL at 60%: with a checkpoint after every chunk (what the
  # default does while saving costs under 5% of the run: fsync on a busy disk
  # can cost more than these tiny chunks), only the chunk in flight is lost.
  proc = _child(spec_path, out, stop_at=24, every=0)
  try:
    seen = _wait_for_chunk(proc, 24)
    assert seen[0] == int(done) + 1          # resumed where the SIGTERM left it
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL
  finally:
    if proc.poll() is None:
      proc.kill()
    proc.communicate()
  kept = _checkpoint_meta(out / "checkpoint.npz")["done"]
  assert kept >= 24                          # every finished chunk was saved
  # The killed child had finished 24 chunks and launched CHILD_IN_FLIGHT more.
  redone = 24 + CHILD_IN_FLIGHT - kept
  assert redone <= CHILD_IN_FLIGHT

  seen = []
  result = sweep.run(spec_path, out, progress=False, on_chunk=seen.append)
  assert result.chunks_run == TOTAL - kept and seen[0] == kept + 1
  assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
  meta = json.loads((out / "meta.json").read_text())
  assert meta["status"] == "finished" and set(meta["sha256"]) == {"results.csv", "spec.toml"}
  _, table = sweep.read_results(out)
  assert len(table) == 40
  print(f"\nSIGKILL after 24 of {TOTAL} chunks (60%): {kept} kept, {redone} chunk(s) redone = "
        f"{redone / TOTAL:.1%} of the sweep's work")


def test_sigint_in_process_stops_after_the_chunk_in_flight(spec_path, reference, tmp_path):
  out = tmp_path / "run"
  before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

  def interrupt_at_three(done):
    if done == 3:
      os.kill(os.getpid(), signal.SIGINT)

  with pytest.raises(sweep.SweepInterrupted) as err:
    sweep.run(spec_path, out, progress=False, on_chunk=interrupt_at_three)
  assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
  assert isinstance(err.value, KeyboardInterrupt)
  assert err.value.signum == signal.SIGINT and err.value.total == TOTAL
  assert err.value.done == 3 + IN_FLIGHT
  assert err.value.checkpoint == out / "checkpoint.npz"
  assert str(err.value).startswith(f"interrupted (SIGINT) after {3 + IN_FLIGHT} of {TOTAL} "
                                   f"chunks; they are kept in {out / 'checkpoint.npz'}")
  assert _checkpoint_meta(out / "checkpoint.npz")["done"] == 3 + IN_FLIGHT

  # A second SIGINT stops at once (a plain KeyboardInterrupt); the checkpoint still holds.
  def interrupt_twice(done):
    if done == 6:
      os.kill(os.getpid(), signal.SIGINT)
      os.kill(os.getpid(), signal.SIGINT)

  with pytest.raises(KeyboardInterrupt) as err:
    sweep.run(spec_path, out, progress=False, on_chunk=interrupt_twice)
  assert not isinstance(err.value, sweep.SweepInterrupted)
  assert _checkpoint_meta(out / "checkpoint.npz")["done"] == 6
  assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

  assert sweep.run(spec_path, out, progress=False).chunks_run == TOTAL - 6
  assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()

  # Without a folder nothing is kept, and the message says so.
  with pytest.raises(sweep.SweepInterrupted,
                     match=rf"after {3 + IN_FLIGHT} of 40 chunks; nothing was kept"):
    sweep.run(spec_path, progress=False, on_chunk=interrupt_at_three)


# -- damaged checkpoints -----------------------------------------------------------------------


def _rewrite(path, *, drop=(), replace=None, meta=None, fix_checksum=False):
  """Rewrites a checkpoint's arrays and metadata (optionally with a valid checksum)."""
  with np.load(path) as data:
    arrays = {k: data[k] for k in data.files if k != "__meta__" and k not in drop}
    info = json.loads(str(data["__meta__"]))
  arrays.update(replace or {})
  info.update(meta or {})
  if fix_checksum:
    info["sha256"] = _driver._checksum(info, arrays)
  buffer = io.BytesIO()
  np.savez(buffer, __meta__=np.asarray(json.dumps(info)), **arrays)
  path.write_bytes(buffer.getvalue())


def _first_key(path):
  with np.load(path) as data:
    return next(k for k in data.files if k.endswith("|min"))


DAMAGE = {
    "text": (lambda p: p.write_text("not a checkpoint\n"), "not an .npz archive"),
    "empty": (lambda p: p.write_bytes(b""), "an empty file"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
                  "not a readable .npz archive"),
    "npy": (lambda p: p.write_bytes(b"\x93NUMPY" + p.read_bytes()[6:]), "single .npy array"),
    "no-metadata": (lambda p: np.savez(p, a=np.zeros(3)), "no metadata"),
    "bad-metadata": (lambda p: np.savez(p, __meta__=np.asarray("{not json")),
                     "not a readable .npz archive"),
    "old-format": (lambda p: _rewrite(p, meta={"format": 1}), "format 1, expected 2"),
    "missing-array": (lambda p: _rewrite(p, drop=[_first_key(p)]), "missing"),
    "pickled": (lambda p: _rewrite(p, replace={_first_key(p): np.array([{}] * 40, dtype=object)}),
                "pickled (object) arrays"),
    "wrong-shape": (lambda p: _rewrite(p, replace={_first_key(p): np.zeros(3)}), "shape (3,)"),
    "wrong-dtype": (lambda p: _rewrite(p, replace={_first_key(p): np.zeros(40, np.float32)}),
                    "dtype float32"),
    "edited-value": (lambda p: _rewrite(p, replace={_first_key(p): np.ones(40)}),
                     "checksum mismatch"),
    "edited-done": (lambda p: _rewrite(p, meta={"done": 30}), "checksum mismatch"),
    "done-out-of-range": (lambda p: _rewrite(p, meta={"done": 41}, fix_checksum=True),
                          "count 41 outside [0, 40]"),
    "done-negative": (lambda p: _rewrite(p, meta={"done": -1}, fix_checksum=True),
                      "count -1 outside [0, 40]"),
}


def test_damaged_checkpoints_are_refused_then_restart_works(spec_path, reference, tmp_path):
  base = _partial(spec_path, tmp_path / "base")
  for kind, (damage, reason) in DAMAGE.items():
    out = tmp_path / kind
    shutil.copytree(base, out)
    path = out / "checkpoint.npz"
    damage(path)
    with pytest.raises(sweep.CheckpointError) as err:
      sweep.run(spec_path, out, progress=False)
    message = str(err.value)
    assert message.startswith(f"{path}: "), (kind, message)
    assert reason in message, (kind, message)
    assert "restart=True" in message and "--restart" in message, (kind, message)
    assert isinstance(err.value, ValueError)
  # One of them, restarted: the same results as an uninterrupted run.
  result = sweep.run(spec_path, tmp_path / "done-out-of-range", progress=False, restart=True)
  assert result.chunks_run == TOTAL
  assert ((tmp_path / "done-out-of-range" / "results.csv").read_bytes()
          == (reference / "results.csv").read_bytes())


def test_checkpoint_of_another_spec_or_plan(spec_path, tmp_path):
  out = _partial(spec_path, tmp_path / "run")
  other = sweep.load(spec_path).replace(fixed={**sweep.load(spec_path).fixed, "xi_c": 0.02})
  with pytest.raises(sweep.CheckpointError, match="checkpoint of a different sweep"):
    sweep.run(other, out, progress=False)
  _rewrite(out / "checkpoint.npz", meta={"plan": {"rows": 2}}, fix_checksum=True)
  with pytest.raises(sweep.CheckpointError, match="different sweep.*--restart"):
    sweep.run(spec_path, out, progress=False)
  # force: another sweep's checkpoint is replaced, not resumed.
  result = sweep.run(other, out, progress=False, force=True)
  assert result.chunks_run == TOTAL
  assert _checkpoint_meta(out / "checkpoint.npz")["fingerprint"] == other.fingerprint()


# -- the output folder ---------------------------------------------------------------------------


def test_second_run_into_a_locked_folder_fails_at_once(spec_path, tmp_path):
  out = _partial(spec_path, tmp_path / "run")
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  with _io.FolderLock(out):
    start = time.perf_counter()
    with pytest.raises(_io.OutputError) as err:
      sweep.run(spec_path, out, progress=False, restart=True)
    assert time.perf_counter() - start < 5
  assert f"process {os.getpid()}" in str(err.value) and "another acajax run" in str(err.value)
  assert str(out) in str(err.value)
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # restart deleted nothing


def test_another_runs_results_are_kept_unless_forced(spec_path, tmp_path):
  out = tmp_path / "run"
  out.mkdir()
  (out / "results.csv").write_text("a,b\n1,2\n")
  (out / "meta.json").write_text(json.dumps({"kind": "validate"}))
  with pytest.raises(_io.OutputError, match="holds the results of another run"):
    sweep.run(spec_path, out, progress=False)
  with pytest.raises(_io.OutputError, match="holds the results of another run"):
    sweep.run(spec_path, out, progress=False, restart=True)   # restart clears sweeps only
  assert (out / "results.csv").read_text() == "a,b\n1,2\n"
  assert sweep.run(spec_path, out, progress=False, force=True).chunks_run == TOTAL
  with pytest.raises(_io.OutputError, match="is a file"):
    sweep.run(spec_path, out / "results.csv", progress=False)


def test_restart_clears_old_results_first(spec_path, reference, tmp_path):
  out = tmp_path / "run"
  shutil.copytree(reference, out)
  for name in ("feature_label_vs_alpha_0_.png", "heatmap_feature_label.s_min.min.png"):
    (out / name).write_bytes(b"\x89PNG old")
  (out / "notes.png").write_bytes(b"mine")
  (out / ".results.csv.abc123.tmp").write_text("left by a killed run")
  other = sweep.load(spec_path).replace(name="other", fixed={**sweep.load(spec_path).fixed,
                                                             "xi_c": 0.02})
  with pytest.raises(_Stop):
    sweep.run(other, out, progress=False, restart=True, on_chunk=_stop_at(1))
  names = sorted(p.name for p in out.iterdir())
  assert names == [".acajax.lock", "checkpoint.npz", "meta.json", "notes.png", "spec.toml"]
  assert sweep.load(out / "spec.toml").name == "other"
  meta = json.loads((out / "meta.json").read_text())
  assert (meta["status"], meta["fingerprint"]) == ("running", other.fingerprint())
  with pytest.raises(sweep.ResultsError, match="has not finished"):
    sweep.read_results(out)
  assert sweep.run(other, out, progress=False).chunks_run == TOTAL - 1
  assert sweep.read_results(out)[0].name == "other"


# -- reading results back --------------------------------------------------------------------


def test_read_results_refuses_unfinished_tampered_and_foreign_folders(reference, tmp_path):
  spec, table = sweep.read_results(reference)
  assert spec.name == "faults" and len(table) == 40
  for name in ("results.csv", "spec.toml", "meta.json", "checkpoint.npz"):   # as open() makes them
    assert (reference / name).stat().st_mode & 0o777 == _io._FILE_MODE, name

  def copy(name):
    out = tmp_path / name
    shutil.copytree(reference, out)
    return out

  cases = []
  out = copy("tampered-results")
  (out / "results.csv").write_text((out / "results.csv").read_text().replace("0.", "1.", 1))
  cases.append((out, "results.csv was changed after the sweep finished"))
  out = copy("tampered-spec")
  (out / "spec.toml").write_text((out / "spec.toml").read_text() + "\n")
  cases.append((out, "spec.toml was changed after the sweep finished"))
  out = copy("no-meta")
  (out / "meta.json").unlink()
  cases.append((out, "has not finished (no meta.json)"))
  out = copy("running")
  meta = json.loads((out / "meta.json").read_text())
  (out / "meta.json").write_text(json.dumps(dict(meta, status="running")))
  cases.append((out, "has not finished (meta.json: status 'running')"))
  out = copy("no-results")
  (out / "results.csv").unlink()
  cases.append((out, "results.csv cannot be read"))
  out = copy("bad-meta")
  (out / "meta.json").write_text("{")
  cases.append((out, "meta.json cannot be read"))
  out = copy("old-meta")
  (out / "meta.json").write_text(json.dumps({"fingerprint": meta["fingerprint"]}))
  cases.append((out, "written by an older acajax"))

  def consistent(name, files):   # files changed and meta.json's checksums with them
    out = copy(name)
    sums = {}
    for file, text in files.items():
      (out / file).write_text(text)
      sums[file] = _driver._sha256(text.encode())
    (out / "meta.json").write_text(json.dumps(dict(meta, sha256=sums)))
    return out

  cases.append((consistent("bad-spec", {"results.csv": (reference / "results.csv").read_text(),
                                        "spec.toml": "bounds = ["}),
                "its spec.toml is not a valid sweep spec"))
  cases.append((consistent("few-columns", {"results.csv": "xi\n0.0\n",
                                           "spec.toml": (reference / "spec.toml").read_text()}),
                "results.csv lacks the columns of its spec"))
  empty = tmp_path / "empty"
  empty.mkdir()
  cases.append((empty, "not the output folder of a sweep"))
  other = tmp_path / "validate"
  other.mkdir()
  (other / "meta.json").write_text(json.dumps({"kind": "validate", "status": "finished"}))
  cases.append((other, "holds the results of a 'validate' run, not of a sweep"))
  cases.append((tmp_path / "missing", "no such folder"))
  cases.append((reference / "results.csv", "is a file"))
  for out, message in cases:
    with pytest.raises(sweep.ResultsError) as err:
      sweep.read_results(out)
    assert str(err.value).startswith(f"{out}: "), str(err.value)
    assert message in str(err.value), (out, str(err.value))
  with pytest.raises(sweep.ResultsError, match="changed after"):
    sweep.plot(tmp_path / "tampered-results")


# -- checkpoint timing and the time limit ----------------------------------------------------------


def test_automatic_checkpoints_stay_under_five_percent(tmp_path):
  plan = sweep.make_plan(sweep.loads(SPEC))
  auto = _driver._Checkpoints(tmp_path / "c.npz", "f", plan, None, start=0.0)
  assert auto.due(0.001)                   # nothing spent yet: save
  auto.seconds, auto.last_cost, auto.last_at = 0.4, 0.1, 9.0
  assert auto.due(10.0)                    # 0.5 s of 10 s: 5%
  assert not auto.due(9.5)                 # 0.5 s of 9.5 s: over, and 0.5 s < max(2, 20 x 0.1)
  assert auto.due(11.0)                    # 2 s since the last save
  auto.seconds, auto.last_cost = 5.0, 1.0
  assert not auto.due(20.0) and auto.due(29.0)   # every 20 x the last save
  fixed = _driver._Checkpoints(tmp_path / "c.npz", "f", plan, 0.0, start=0.0)
  assert fixed.due(0.0)
  hourly = _driver._Checkpoints(tmp_path / "c.npz", "f", plan, 3600.0, start=0.0)
  assert not hourly.due(100.0) and hourly.due(3600.0)


def test_max_hours_refuses_a_long_sweep(spec_path, reference, tmp_path, monkeypatch):
  out = tmp_path / "run"
  # Estimated before anything is written or compiled (sweep.estimated_seconds).
  with pytest.raises(sweep.SpecError, match=r"run\.max_hours: this sweep is estimated to take "
                                            r"about .* hours on \d+ device\(s\) \(200 points; .* "
                                            r"over the limit of 1e-09 hours; raise run\.max_hours "
                                            r"\(acajax sweep --max-hours\)"):
    sweep.run(spec_path, out, progress=False, max_hours=1e-9)
  assert not out.exists()
  with pytest.raises(ValueError, match="max_hours must be positive"):
    sweep.run(spec_path, out, progress=False, max_hours=0)
  # Measured over the first chunks, when the estimate was too kind: the chunks are kept.
  monkeypatch.setattr(sweep._spec, "estimated_seconds", lambda spec, num_devices: 0.0)
  with pytest.raises(sweep.SpecError, match=r"run\.max_hours: this sweep would take about .* "
                                            r"hours \(40 chunks at .* over the limit of 1e-09"):
    sweep.run(spec_path, out, progress=False, max_hours=1e-9)
  assert _checkpoint_meta(out / "checkpoint.npz")["done"] == 3
  # The estimate counts only what the checkpoint does not hold: 37 of 40 chunks.
  monkeypatch.setattr(sweep._spec, "estimated_seconds", lambda spec, num_devices: 3600.0)
  with pytest.raises(sweep.SpecError, match="estimated to take about 1 hours on"):
    sweep.run(spec_path, tmp_path / "fresh", progress=False, max_hours=0.95)
  result = sweep.run(spec_path, out, progress=False, max_hours=0.95)
  assert result.chunks_run == TOTAL - 3
  pd.testing.assert_frame_equal(result.table, sweep.read_results(reference)[1],
                                check_exact=True, check_dtype=False)
