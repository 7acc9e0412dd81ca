"""The suite's fresh processes: ``python -m acajax.bench`` importing this very acajax.

Each benchmark, and each size of the sweep's memory table, runs in a fresh
process, so that its dtype settings, device count, compile cache and peak
memory are its own. The child runs ``python -P -m acajax.bench`` with this
interpreter: ``-P`` keeps the working directory off ``sys.path`` (a folder
named ``acajax`` there cannot shadow the package), and when this acajax is
not installed in one of the interpreter's site folders (a source checkout, an
editable install, a ``PYTHONPATH`` run) its folder goes first on the child's
``PYTHONPATH``. From an installed wheel nothing is added.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

# The folder that holds the ``acajax`` package this module belongs to
# (``src/`` in a checkout, ``site-packages`` in an installed wheel).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _site_folders() -> set[Path]:
  folders = set(site.getsitepackages())
  folders |= {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
  if site.ENABLE_USER_SITE:
    folders.add(site.getusersitepackages())
  return {Path(folder).resolve() for folder in folders}


def command(*args: str) -> list[str]:
  """The command line of a child: ``python -P -m acajax.bench ARGS``."""
  return [sys.executable, "-P", "-m", "acajax.bench", *args]


def environment() -> dict[str, str]:
  """The child's environment variables.

  No preallocation of accelerator memory: several processes may share one
  accelerator (quick runs, the sweep's memory children), and peak memory is
  then what was used.
  """
  env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
  if PACKAGE_ROOT not in _site_folders():
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + parts)
  return env


def start(*args: str) -> subprocess.Popen:
  """Starts a child with ``args``; its stdout and stderr are pipes (text)."""
  return subprocess.Popen(command(*args), env=environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def last_json(stdout: str):
  """The JSON value on the last line of ``stdout``, or None.

  Examples:
    >>> from acajax.bench._process import last_json
    >>> last_json('compiling...\\n{"rows": 3}\\n')
    {'rows': 3}
    >>> last_json("") is None
    True
  """
  try:
    return json.loads(stdout.strip().splitlines()[-1])
  except (json.JSONDecodeError, IndexError):
    return None


def run(*args: str) -> dict:
  """Runs a child to the end; returns the JSON object on its last line.

  Raises:
    RuntimeError: the child failed or printed no JSON object (its stderr's
      tail in the message).
  """
  proc = start(*args)
  stdout, stderr = proc.communicate()
  record = last_json(stdout)
  if proc.returncode or not isinstance(record, dict):
    raise RuntimeError(f"`{' '.join(command(*args))}` failed (exit status {proc.returncode}):\n"
                       f"{stderr[-2000:]}")
  return record
