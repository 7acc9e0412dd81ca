"""The installed wheel benchmarks: `acajax bench` with no source checkout in sight.

Builds the wheel of the working tree offline (``pip wheel --no-deps
--no-build-isolation --no-index`` on a copy of the sources, so that nothing is
built inside the repository), installs it with ``--no-deps --no-index`` into a
fresh virtual environment whose dependencies come from this one (a ``.pth``
line naming this environment's site folders: a plain path, so this
environment's editable-install hook does not run and the wheel's acajax is the
one imported), then runs ``acajax bench --quick --only exact`` from an empty
folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _setuptools_major() -> int | None:
  try:
    found = re.match(r"\d+", metadata.version("setuptools"))
  except metadata.PackageNotFoundError:
    return None
  return int(found.group()) if found else None


def _files(root: Path) -> dict[str, int]:
  """Relative path -> modification time of every file under ``root`` (bytecode caches left out)."""
  if not root.exists():
    return {}
  return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")
          if p.is_file() and "__pycache__" not in p.parts}


def _run(args, *, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
  done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=timeout)
  assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
  return done


def test_installed_wheel_runs_the_suite_outside_a_checkout(tmp_path):
  major = _setuptools_major()
  if major is None or major < 77:
    pytest.skip("building the wheel offline needs setuptools>=77 in this environment (the "
                f"test extra); found major version {major}")
  env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
  env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")

  # The wheel, built from a copy of the working tree.
  source = tmp_path / "source"
  shutil.copytree(REPO / "src" / "acajax", source / "src" / "acajax",
                  ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
  for path in REPO.iterdir():
    if path.is_file() and (path.name in ("pyproject.toml", "README.md")
                           or path.name.upper().startswith(("LICEN", "COPYING", "NOTICE"))):
      shutil.copy2(path, source / path.name)
  dist = tmp_path / "dist"
  _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--quiet", "--wheel-dir", dist, source], cwd=tmp_path, env=env)
  wheel, = dist.glob("acajax-*.whl")

  # A fresh environment: the wheel alone, then this environment's packages on its path.
  venv = tmp_path / "venv"
  _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path, env=env)
  python = venv / "bin" / "python"
  _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--quiet", wheel], cwd=tmp_path, env=env)
  purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                      cwd=tmp_path, env=env).stdout.strip())
  (purelib / "test-environment.pth").write_text("".join(f"{folder}\n"
                                                        for folder in site.getsitepackages()))
  imported = _run([python, "-c", "import acajax; print(acajax.__file__)"], cwd=tmp_path,
                  env=env).stdout.strip()
  assert Path(imported).resolve().is_relative_to(purelib.resolve()), imported
  assert (purelib / "acajax" / "bench" / "_workloads" / "exact.py").is_file()

  # The suite, run from an empty folder (no checkout there).
  work, out = tmp_path / "work", tmp_path / "out"
  work.mkdir()
  installed, results = _files(purelib), _files(REPO / "benchmarks" / "results")
  done = _run([venv / "bin" / "acajax", "bench", "--quick", "--only", "exact", "--out", out,
               "--no-progress"], cwd=work, env=env, timeout=300)
  written, = out.glob("*.json")
  result = json.loads(written.read_text())
  assert result["quick"] is True and result["failures"] == {}
  assert list(result["benchmarks"]) == ["exact"]
  assert result["benchmarks"]["exact"]["throughput"] > 0
  assert (out / "summary.md").is_file() and (out / "scaling.png").is_file()
  assert f"acajax bench: wrote {written}" in done.stdout
  # Nothing written into the installed package, the working folder or the repository.
  assert _files(purelib) == installed
  assert list(work.iterdir()) == []
  assert _files(REPO / "benchmarks" / "results") == results
  assert not (REPO / "acajax-bench").exists()
