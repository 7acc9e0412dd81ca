"""The CLI on bad input and on failures: a one-paragraph message, the right exit status.

Bad input to every subcommand (flag values, input files, output folders) is
refused before any work with exit status 2 and a message naming the flag, the
key or the file; a failure while running exits 1 naming the file (or saying
"internal error"); an interrupt exits 128 + the signal. Never a traceback,
unless ``--debug`` (or ``ACAJAX_DEBUG=1``) asks for it. The cases run in this
process (``cli.main``); one subprocess checks a real ``acajax`` process.
"""

import errno
import json
import os
import pathlib
import subprocess
import sys

import pytest

from acajax import cli
from acajax.runs import demo

ROOT = pathlib.Path(__file__).resolve().parents[1]

SWEEP_TOML = """
name = "tiny"
collectives = 1
bounds = ["feature_label"]
[fixed]
xi_c = 0.01
xi = 0.0
delta = 0.5
eps = 0.05
[axes]
alpha = {kind = "values", values = [0.1, 0.2]}
"""

VALIDATE_TOML = """
name = "tiny"
dataset = "finite_table"
learner = "logistic"
seeds = [0]
mass_grid = [1.0]
[data]
num_samples = 500
p0 = [[0.10, 0.05, 0.05], [0.05, 0.15, 0.00], [0.10, 0.05, 0.05],
      [0.05, 0.05, 0.10], [0.04, 0.03, 0.03], [0.03, 0.03, 0.04]]
[train]
steps = 5
[[collectives]]
mass = 0.06
target = 1
signal = 4
"""

RECOMMENDER_TOML = """
kind = "recommender"
name = "tiny"
seeds = [0]
sizes = [5]
homogeneity = [1.0]
[data]
source = "synthetic"
num_users = 60
num_items = 40
num_clusters = 4
ratings_per_user = 10
seed = 0
[model]
rank = 2
steps = 5
[target_sets]
A = "niche"
[[collectives]]
name = "promoter"
archetype = "promoter"
targets = "A"
"""

# Bytes that are not text: invalid UTF-8 from the first byte, NUL bytes inside.
GARBAGE = b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes((i * 167 + 13) % 256 for i in range(2048))


def make_files(root: pathlib.Path) -> dict[str, str]:
  """The inputs and folders the cases name, under ``root``; returns {name: path}."""
  root.mkdir(parents=True, exist_ok=True)
  paths = {}

  def put(name, data):
    path = root / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    paths[name.split(".")[0]] = str(path)
    return path

  put("sweep.toml", SWEEP_TOML)
  put("validate.toml", VALIDATE_TOML)
  put("recommender.toml", RECOMMENDER_TOML)
  put("badkey.toml", VALIDATE_TOML.replace("steps = 5", "stpes = 5"))
  put("badsweep.toml", SWEEP_TOML.replace('"feature_label"', '"nope"'))
  put("garbage.bin", GARBAGE)
  put("nul.csv", b"a,b,label\n1,2,\x003\n")
  put("afile.txt", "not a folder\n")
  lines = ["color,size,grade"] + [f"{c},{i % 3},{'good' if i % 2 else 'bad'}"
                                  for i, c in zip(range(60), ["red", "blue", "green"] * 20)]
  put("data.csv", "\n".join(lines) + "\n")
  put("notsuite.json", json.dumps({"hello": "world"}))
  for name in ("emptydir", "otherrun", "nosweepresults", "fakesweep", "brokenbench",
               "readonly"):
    (root / name).mkdir()
    paths[name] = str(root / name)
  (root / "otherrun" / "results.csv").write_text("x\n1\n")
  (root / "otherrun" / "meta.json").write_text(json.dumps({"kind": "sweep", "fingerprint": "x"}))
  (root / "nosweepresults" / "spec.toml").write_text(SWEEP_TOML)
  (root / "fakesweep" / "spec.toml").write_text(SWEEP_TOML)
  (root / "fakesweep" / "results.csv").write_text("alpha,feature_label[0]\n0.1,0.5\n")
  (root / "brokenbench" / "cpu.json").write_text("{not json")
  (root / "readonly").chmod(0o500)
  paths["missing"] = str(root / "missing")
  return paths


S, V, R, F = "{sweep}", "{validate}", "{recommender}", "{data}"
FS = ["finite-sample", F, "--signal", "color=red", "--target", "good"]
BENCH = ["bench", "--quick", "--only", "exact", "--no-progress"]
ROOT_SKIP = "root"      # marks a case that cannot be built as root (os.access says writable)

# (id, argv, exit status, what stderr must name); "{new}" is a fresh path.
CASES = [
    # -- flag values ---------------------------------------------------------------------------
    ("sweep-cpu-devices-negative", ["sweep", S, "--out", "{new}", "--cpu-devices", "-3"], 2,
     ["--cpu-devices", "-3"]),
    ("validate-cpu-devices-zero", ["validate", V, "--out", "{new}", "--cpu-devices", "0"], 2,
     ["--cpu-devices"]),
    ("sweep-num-processes-zero", ["sweep", S, "--out", "{new}", "--coordinator",
                                  "127.0.0.1:1234", "--num-processes", "0",
                                  "--process-id", "0"], 2, ["--num-processes"]),
    ("sweep-process-id-out-of-range", ["sweep", S, "--out", "{new}", "--coordinator",
                                       "127.0.0.1:1234", "--num-processes", "2",
                                       "--process-id", "5"], 2, ["--process-id", "0..1"]),
    ("sweep-coordinator-unresolvable", ["sweep", S, "--out", "{new}", "--coordinator",
                                        "no-such-host.invalid:1234", "--num-processes", "2",
                                        "--process-id", "0"], 2,
     ["--coordinator", "no-such-host.invalid"]),
    ("sweep-coordinator-no-port", ["sweep", S, "--out", "{new}", "--coordinator", "localhost",
                                   "--num-processes", "2", "--process-id", "0"], 2,
     ["--coordinator", "HOST:PORT"]),
    ("sweep-coordinator-port-range", ["sweep", S, "--out", "{new}", "--coordinator",
                                      "127.0.0.1:70000", "--num-processes", "2",
                                      "--process-id", "0"], 2, ["--coordinator", "65535"]),
    ("sweep-process-flags-alone", ["sweep", S, "--out", "{new}", "--process-id", "0"], 2,
     ["--coordinator", "--num-processes", "--process-id"]),
    ("sweep-chunk-points-zero", ["sweep", S, "--out", "{new}", "--chunk-points", "0"], 2,
     ["--chunk-points"]),
    ("sweep-max-hours-zero", ["sweep", S, "--out", "{new}", "--max-hours", "0"], 2,
     ["--max-hours"]),
    ("sweep-max-hours-nan", ["sweep", S, "--out", "{new}", "--max-hours", "nan"], 2,
     ["--max-hours"]),
    ("bench-jobs-negative", BENCH + ["--out", "{new}", "--jobs", "-1"], 2, ["--jobs", "-1"]),
    ("bench-only-unknown", ["bench", "--only", "sweep,gpu-burn", "--out", "{new}"], 2,
     ["--only", "gpu-burn"]),
    ("bench-summary-flags-clash", ["bench", "--summary-only", "--no-summary", "--out", "{new}"],
     2, ["--summary-only", "--no-summary"]),
    ("fs-test-size-nan", FS + ["--test-size", "nan"], 2, ["--test-size", "nan"]),
    ("fs-test-size-negative", FS + ["--test-size", "-1"], 2, ["--test-size"]),
    ("fs-n-overflows-int64", FS + ["--n", "99999999999999999999"], 2,
     ["--n", "99999999999999999999", "64-bit"]),
    ("fs-n-zero", FS + ["--n", "0,5"], 2, ["--n"]),
    ("fs-n-not-integers", FS + ["--n", "ten"], 2, ["--n", "ten"]),
    ("fs-n-beyond-the-lines", FS + ["--n", "10,5000"], 2, ["--n", "5000", "60 data lines"]),
    ("fs-delta-two", FS + ["--delta", "2"], 2, ["--delta", "(0, 1)"]),
    ("fs-delta-zero", FS + ["--delta", "0"], 2, ["--delta"]),
    ("fs-eps-half", FS + ["--eps", "0.5"], 2, ["--eps", "1/2"]),
    ("fs-eps-negative", FS + ["--eps", "-0.1"], 2, ["--eps"]),
    ("fs-platform-size-zero", FS + ["--platform-size", "0"], 2, ["--platform-size"]),
    ("demo-unknown-flag", ["demo", "--out", "{new}", "--bogus"], 2, ["--bogus"]),
    ("sweep-without-out", ["sweep", S], 2, ["--out"]),
    # -- input files ----------------------------------------------------------------------------
    ("sweep-binary-spec", ["sweep", "{garbage}", "--out", "{new}"], 2, ["{garbage}", "UTF-8"]),
    ("sweep-missing-spec", ["sweep", "{missing}", "--out", "{new}"], 2, ["{missing}"]),
    ("sweep-spec-is-a-folder", ["sweep", "{emptydir}", "--out", "{new}"], 2,
     ["{emptydir}", "folder"]),
    ("sweep-spec-bad-value", ["sweep", "{badsweep}", "--out", "{new}"], 2,
     ["{badsweep}", "bounds", "nope"]),
    ("validate-on-a-folder", ["validate", "{emptydir}", "--out", "{new}"], 2,
     ["{emptydir}", "folder"]),
    ("validate-binary-spec", ["validate", "{garbage}", "--out", "{new}"], 2,
     ["{garbage}", "UTF-8"]),
    ("validate-missing-spec", ["validate", "{missing}", "--out", "{new}"], 2, ["{missing}"]),
    ("validate-unknown-key", ["validate", "{badkey}", "--out", "{new}"], 2,
     ["{badkey}", "train.stpes"]),
    ("fs-binary-csv", ["finite-sample", "{garbage}", "--signal", "a=1", "--target", "1"], 2,
     ["{garbage}", "not a UTF-8 text file (byte 0)"]),
    ("fs-csv-with-nul-bytes", ["finite-sample", "{nul}", "--signal", "a=1", "--target", "1"], 2,
     ["{nul}", "NUL"]),
    ("fs-csv-is-a-folder", ["finite-sample", "{emptydir}", "--signal", "a=1", "--target", "1"],
     2, ["{emptydir}", "folder"]),
    ("fs-missing-csv", ["finite-sample", "{missing}", "--signal", "a=1", "--target", "1"], 2,
     ["{missing}"]),
    ("fs-unknown-signal-column", ["finite-sample", F, "--signal", "colour=red", "--target",
                                  "good"], 2, ["--signal", "colour"]),
    ("plot-not-a-sweep-folder", ["plot", "{emptydir}"], 2, ["{emptydir}", "spec.toml"]),
    ("plot-on-a-file", ["plot", "{afile}"], 2, ["{afile}"]),
    ("plot-missing-folder", ["plot", "{missing}"], 2, ["{missing}"]),
    ("plot-sweep-without-results", ["plot", "{nosweepresults}"], 2,
     ["{nosweepresults}", "results"]),
    # -- output folders -------------------------------------------------------------------------
    ("demo-out-empty", ["demo", "--out", ""], 2, ["--out", "empty path"]),
    ("demo-out-is-a-file", ["demo", "--out", "{afile}"], 2, ["--out {afile}", "file"]),
    ("demo-out-under-a-file", ["demo", "--out", "{afile}/sub"], 2,
     ["--out {afile}/sub", "cannot create"]),
    ("demo-out-read-only", ["demo", "--out", "{readonly}"], 2, ["--out {readonly}"], ROOT_SKIP),
    ("demo-out-another-run", ["demo", "--out", "{otherrun}"], 2,
     ["--out {otherrun}", "another run", "--force"]),
    ("sweep-out-empty", ["sweep", S, "--out", ""], 2, ["--out", "empty path"]),
    ("sweep-out-is-a-file", ["sweep", S, "--out", "{afile}"], 2, ["--out {afile}"]),
    ("sweep-out-under-a-file", ["sweep", S, "--out", "{afile}/sub"], 2, ["--out {afile}/sub"]),
    ("sweep-out-another-run", ["sweep", S, "--out", "{otherrun}", "--no-progress"], 2,
     ["--out {otherrun}", "another run", "--force"]),
    ("validate-out-is-a-file", ["validate", V, "--out", "{afile}"], 2, ["--out {afile}"]),
    ("validate-out-another-run", ["validate", V, "--out", "{otherrun}"], 2,
     ["--out {otherrun}", "another run"]),
    ("validate-out-empty", ["validate", V, "--out", ""], 2, ["--out", "empty path"]),
    ("recommender-out-is-a-file", ["validate", R, "--out", "{afile}"], 2, ["--out {afile}"]),
    ("recommender-out-another-run", ["validate", R, "--out", "{otherrun}"], 2,
     ["--out {otherrun}", "another run"]),
    ("fs-out-is-a-file", FS + ["--out", "{afile}"], 2, ["--out {afile}"]),
    ("fs-out-another-run", FS + ["--out", "{otherrun}"], 2, ["--out {otherrun}", "another run"]),
    ("fs-out-empty", FS + ["--out", ""], 2, ["--out", "empty path"]),
    ("plot-out-is-a-file", ["plot", "{fakesweep}", "--out", "{afile}"], 2, ["--out {afile}"]),
    ("plot-out-another-run", ["plot", "{fakesweep}", "--out", "{otherrun}"], 2,
     ["--out {otherrun}", "another run"]),
    ("plot-out-empty", ["plot", "{fakesweep}", "--out", ""], 2, ["--out", "empty path"]),
    ("bench-out-empty", BENCH + ["--out", ""], 2, ["--out", "empty path"]),
    ("bench-out-is-a-file", BENCH + ["--out", "{afile}"], 2, ["--out {afile}"]),
    ("bench-out-another-run", BENCH + ["--out", "{otherrun}"], 2,
     ["--out {otherrun}", "another run"]),
    ("bench-out-not-a-suite-result", BENCH + ["--out", "{notsuite}"], 2,
     ["--out {notsuite}", "--force"]),
    ("bench-folder-with-broken-json", BENCH + ["--out", "{brokenbench}"], 2,
     ["cpu.json", "not valid JSON"]),
    ("bench-summary-only-nothing-there", ["bench", "--summary-only", "--out", "{missing}"], 2,
     ["no suite results", "{missing}"]),
]


@pytest.fixture(autouse=True)
def _no_debug_env(monkeypatch):
  monkeypatch.delenv(cli.DEBUG_ENV, raising=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  return make_files(tmp_path_factory.mktemp("inputs"))


def _fill(items, files, new):
  return [item.format(**files, new=new) for item in items]


def _param(case):
  marks = ()
  if len(case) > 4 and case[4] == ROOT_SKIP:
    marks = pytest.mark.skipif(
        hasattr(os, "geteuid") and os.geteuid() == 0,
        reason="as root a 0o500 folder stays writable (os.access and the write probe succeed); "
               "demo-out-under-a-file covers a folder that cannot be created")
  return pytest.param(case, id=case[0], marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input_exits_2_naming_the_culprit(case, files, tmp_path, capsys):
  _, argv, code, needles = case[:4]
  new = str(tmp_path / "new")
  assert cli.main(_fill(argv, files, new)) == code
  captured = capsys.readouterr()
  assert "Traceback" not in captured.err and "Traceback" not in captured.out
  assert captured.err.count("error:") == 1, captured.err       # one message
  for needle in _fill(needles, files, new):
    assert needle in captured.err, (needle, captured.err)
  assert not pathlib.Path(new).exists()                        # refused before writing


def test_the_cases_cover_every_subcommand():
  commands = {case[1][0] for case in CASES}
  assert commands == {"demo", "sweep", "plot", "finite-sample", "validate", "bench"}
  assert len(CASES) >= 40


# -- failures while running, interrupts, --debug -----------------------------------------------

RUN_FAILURES = [
    ("disk-full", lambda out: OSError(errno.ENOSPC, "No space left on device", f"{out}/bounds.csv"),
     1, ["bounds.csv", "No space left on device", "free some space"]),
    ("permission-denied", lambda out: PermissionError(errno.EACCES, "Permission denied",
                                                      f"{out}/report.md"),
     1, ["report.md", "Permission denied"]),
    ("internal-error", lambda out: RuntimeError("boom"), 1,
     ["internal error (RuntimeError: boom)", "--debug"]),
    ("out-of-memory", lambda out: MemoryError(), 1, ["out of memory"]),
    ("ctrl-c", lambda out: KeyboardInterrupt(), 130, ["interrupted"]),
]


@pytest.mark.parametrize("name, error, code, needles", RUN_FAILURES,
                         ids=[case[0] for case in RUN_FAILURES])
def test_failures_while_running(monkeypatch, tmp_path, capsys, name, error, code, needles):
  out = tmp_path / "demo"

  def fail(*args, **kwargs):
    raise error(out)

  monkeypatch.setattr(demo, "main", fail)
  assert cli.main(["demo", "--out", str(out)]) == code
  err = capsys.readouterr().err
  assert err.startswith("acajax demo: error: ") and "Traceback" not in err
  assert err.count("\n") == 1                                   # one paragraph
  for needle in needles:
    assert needle in err, (needle, err)


def test_an_interrupted_sweep_exits_128_plus_its_signal(monkeypatch, tmp_path, capsys, files):
  from acajax import sweep

  def run(*args, **kwargs):
    raise sweep.SweepInterrupted(
        "interrupted (SIGTERM) after 3 of 8 chunks; they are kept in out/checkpoint.npz: run "
        "the same command again to continue", signum=15, done=3, total=8, checkpoint=None)

  monkeypatch.setattr(sweep, "run", run)
  assert cli.main(["sweep", files["sweep"], "--out", str(tmp_path / "o"), "--no-progress"]) == 143
  err = capsys.readouterr().err.splitlines()
  assert "estimated at most" in err[0]            # the time estimate comes first
  assert err[1:] == ["acajax sweep: error: interrupted (SIGTERM) after 3 of 8 chunks; they are "
                     "kept in out/checkpoint.npz: run the same command again to continue"]


def test_debug_flag_and_environment_show_the_error(monkeypatch, tmp_path, files):
  monkeypatch.setattr(demo, "main", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
  with pytest.raises(RuntimeError, match="boom"):
    cli.main(["--debug", "demo", "--out", str(tmp_path / "a")])
  monkeypatch.setenv(cli.DEBUG_ENV, "1")
  with pytest.raises(ValueError, match="is a folder"):
    cli.main(["validate", files["emptydir"], "--out", str(tmp_path / "b")])


def test_a_real_process_prints_no_traceback_and_debug_shows_it(files, tmp_path):
  env = {k: v for k, v in os.environ.items() if k != cli.DEBUG_ENV}
  argv = ["validate", files["emptydir"], "--out", str(tmp_path / "o")]
  plain = subprocess.run([sys.executable, "-m", "acajax.cli", *argv], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=120)
  assert plain.returncode == 2
  assert plain.stderr == f"acajax validate: error: {files['emptydir']}: is a folder, not a " \
                         "validation spec file (.toml)\n"
  debug = subprocess.run([sys.executable, "-m", "acajax.cli", "--debug", *argv],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
  assert debug.returncode == 1                # Python's status for an uncaught exception
  assert "Traceback (most recent call last)" in debug.stderr and "SpecError" in debug.stderr


# -- output folders: the same run again, another run, --force -------------------------------------


def test_output_folder_takes_the_same_run_again_and_another_only_with_force(files, tmp_path,
                                                                           capsys):
  out = tmp_path / "fs"
  argv = ["--signal", "color=red", "--target", "good", "--n", "5,20", "--out", str(out)]
  assert cli.main(["finite-sample", files["data"], *argv]) == 0
  meta = json.loads((out / "meta.json").read_text())
  assert meta["kind"] == "finite_sample" and meta["data"] == str(pathlib.Path(files["data"]))
  assert meta["argv"][:2] == ["acajax", "finite-sample"]
  assert cli.main(["finite-sample", files["data"], *argv]) == 0           # the same run again
  other = tmp_path / "other.csv"
  other.write_text(pathlib.Path(files["data"]).read_text())
  capsys.readouterr()
  assert cli.main(["finite-sample", str(other), *argv]) == 2
  assert "holds the results of another run" in capsys.readouterr().err
  assert cli.main(["finite-sample", str(other), *argv, "--force"]) == 0
  assert json.loads((out / "meta.json").read_text())["data"] == str(other.resolve())
  assert not list(out.glob(".*.tmp"))                                    # atomic writes
