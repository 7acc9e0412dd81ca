"""The example scripts' command line (``--help``, ``--out``) and the meta.json of a run.

``python examples/X.py --help`` must print the usage and exit 0 before
anything runs (no folder named ``--help``); every run writes ``meta.json``
(:mod:`acajax.runs._script`). The smoke tests of each example
(``tests/test_examples_*.py``) check its ``meta.json`` with :func:`check_meta`.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

from acajax import sweep
from acajax.runs import _script

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py"))
VERSIONS = {"acajax", "jax", "jaxlib", "numpy", "python"}

# Runs each script as __main__, as `python examples/X.py --help` does, in ONE interpreter: a
# fresh one per script spends about 4 s importing JAX and the libraries. Records the exit
# status (None: the script did not exit), what it printed and what appeared in the folder.
RUNNER = """
import contextlib, io, json, os, runpy, sys
found = {}
for path in sys.argv[1:]:
  printed = io.StringIO()
  sys.argv = [path, "--help"]
  code = None
  with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
    try:
      runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
      code = stop.code
  found[os.path.basename(path)] = dict(code=code, printed=printed.getvalue(),
                                       folder=sorted(os.listdir(".")))
print(json.dumps(found))
"""


def check_meta(folder: pathlib.Path, name: str, *, kind: str = "example", quick: bool = True,
               seeds: dict | None = None) -> dict:
  """Asserts ``folder/meta.json`` records the example ``name``'s run; returns it."""
  meta = json.loads((pathlib.Path(folder) / "meta.json").read_text(encoding="utf-8"))
  assert meta["kind"] == kind and meta["example"] == name
  assert {"versions", "devices", "backend", "seeds", "args", "argv", "finished"} <= set(meta)
  assert VERSIONS <= set(meta["versions"])
  assert meta["devices"] and all(isinstance(device, str) for device in meta["devices"])
  assert meta["args"]["quick"] is quick
  assert pathlib.Path(meta["args"]["out"]) == pathlib.Path(folder)
  assert meta["argv"] == sys.argv
  if seeds is not None:
    assert meta["seeds"] == seeds
  return meta


@pytest.fixture(scope="module")
def helps(tmp_path_factory):
  """What ``--help`` did for every script, run in an empty folder."""
  cwd = tmp_path_factory.mktemp("cwd")
  done = subprocess.run([sys.executable, "-c", RUNNER, *(str(EXAMPLES / s) for s in SCRIPTS)],
                        cwd=cwd, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_example_is_covered():
  assert len(SCRIPTS) >= 11 and "exact_engine.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_the_usage_and_runs_nothing(helps, script):
  found = helps[script]
  assert found["code"] == 0, found["printed"][-2000:]
  assert "usage:" in found["printed"] and "--out DIR" in found["printed"]
  assert "--quick" in found["printed"]
  assert found["folder"] == [], f"--help made {found['folder']}"


def test_recommender_keeps_its_movielens_option(helps):
  assert "--movielens U.DATA" in helps["recommender_collectives.py"]["printed"]


def test_parse_args_reads_out_quick_and_the_older_positional_folder(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)       # the output folders are created where the script runs
  args = _script.parse_args("Demo.\n\nMore.", "demo-out", argv=[])
  assert vars(args) == {"out": "demo-out", "quick": False}
  assert _script.parse_args("Demo.", "demo-out", argv=["--out", "a", "--quick"]).out == "a"
  assert _script.parse_args("Demo.", "demo-out", argv=["a", "--out", "a"]).out == "a"


def test_parse_args_refuses_two_folders_and_unknown_flags(capsys, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  for argv in (["a", "--out", "b"], ["--bogus"]):
    with pytest.raises(SystemExit) as stop:
      _script.parse_args("Demo.", "demo-out", argv=argv)
    assert stop.value.code == 2
  err = capsys.readouterr().err
  assert "two output folders" in err and "unrecognized arguments: --bogus" in err


def test_parse_args_adds_the_script_options(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  def extra(parser):
    parser.add_argument("--movielens", default=None)
  args = _script.parse_args("Demo.", "demo-out", extra=extra, argv=["--movielens", "u.data"])
  assert args.movielens == "u.data" and args.out == "demo-out"


def test_parse_args_refuses_an_output_folder_it_cannot_create(tmp_path, capsys):
  (tmp_path / "afile").write_text("x")
  for out in (tmp_path / "afile", tmp_path / "afile" / "sub"):
    with pytest.raises(SystemExit) as stop:
      _script.parse_args("Demo.", "demo-out", argv=["--out", str(out)])
    assert stop.value.code == 2
  err = capsys.readouterr().err
  assert "is a file, not a folder" in err and "cannot create the folder" in err


def test_record_run_replaces_an_older_record_unless_merging(tmp_path):
  (tmp_path / "meta.json").write_text(json.dumps({"kind": "sweep", "name": "old"}))
  meta = json.loads(_script.record_run(tmp_path, "demo", {"quick": True},
                                       argv=["x"]).read_text())
  assert meta["kind"] == "example" and "name" not in meta and meta["seeds"] == {}
  (tmp_path / "meta.json").write_text(json.dumps({"kind": "sweep", "name": "s",
                                                  "versions": {"pandas": "2"}}))
  meta = json.loads(_script.record_run(tmp_path, "demo", {"quick": True}, merge=True,
                                       seeds={"data": [0, 1]}, argv=["x"]).read_text())
  assert meta["kind"] == "sweep" and meta["name"] == "s" and meta["example"] == "demo"
  assert meta["versions"]["pandas"] == "2" and VERSIONS <= set(meta["versions"])
  assert meta["seeds"] == {"data": [0, 1]}
  assert not list(tmp_path.glob(".meta.json.*"))     # no temporary file left behind


def test_sweep_example_keeps_the_sweep_record(tmp_path):
  spec = importlib.util.spec_from_file_location("sweep_alignment_example",
                                                EXAMPLES / "sweep_alignment.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  module.main(tmp_path, quick=True)
  meta = check_meta(tmp_path, "sweep_alignment", kind="sweep", seeds={})
  assert meta["status"] == "finished"
  spec_back, table = sweep.read_results(tmp_path)     # `acajax plot` still reads the folder
  assert spec_back.name == "alignment" and len(table) == 5 * 4


def test_study_refuses_zero_repetitions(tmp_path, capsys):
  spec = importlib.util.spec_from_file_location("study", EXAMPLES / "recommender_study.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  with pytest.raises(SystemExit) as stop:
    _script.parse_args(module.__doc__, str(tmp_path / "x"), extra=module._options,
                       argv=["--repetitions", "0"])
  assert stop.value.code == 2
  assert "--repetitions: must be a whole number >= 1; got '0'" in capsys.readouterr().err
