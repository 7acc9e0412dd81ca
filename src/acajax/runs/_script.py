"""The command line of an example script, and the record of its run.

Every script in ``examples/`` reads its command line with :func:`parse_args`
(``--out DIR``, ``--quick`` and the script's own options; ``--help`` prints
the usage and exits before anything runs or any folder is made) and ends by
writing ``meta.json`` into its output folder with :func:`record_run`: the kind
``"example"``, the example's name, the arguments it ran with, the seeds it
used, the versions of acajax, JAX, jaxlib, NumPy and Python, the devices JAX
saw and the command line, which is what it takes to run it again. The file is
written atomically (:func:`acajax.runs._io.atomic_write_json`).
"""

from __future__ import annotations

import argparse
import math
import datetime
import json
import pathlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from acajax._version import versions
from acajax.runs import _io

__all__ = ["KIND", "make_parser", "parse_args", "record_run", "versions"]

KIND = "example"


def _summary(description: str) -> str:
  """The first paragraph of a docstring, on one line."""
  first = description.strip().split("\n\n", 1)[0]
  return " ".join(first.split())


def positive_int(text: str) -> int:
  """An argparse type: a whole number >= 1 (else a usage error naming it).

  Examples:
    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number >= 1; got '0'
  """
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
  return value


def finite_float(text: str) -> float:
  """An argparse type: a finite number (else a usage error naming it).

  Examples:
    >>> finite_float("0.5")
    0.5
    >>> finite_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number; got 'nan'
  """
  try:
    value = float(text)
  except ValueError:
    value = float("nan")
  if not math.isfinite(value):
    raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
  return value


def make_parser(description: str, default_out: str,
                extra: Callable[[argparse.ArgumentParser], Any] | None = None
                ) -> argparse.ArgumentParser:
  """The parser of an example script: ``--out``, ``--quick`` and its own options.

  Args:
    description: the script's docstring; its first paragraph is the usage's
      description.
    default_out: the output folder when neither ``--out`` nor ``OUT_DIR`` is
      given.
    extra: called with the parser to add the script's own options.

  Returns:
    The parser (``OUT_DIR``, the positional form of older command lines, is
    folded into ``out`` by :func:`parse_args`).
  """
  parser = argparse.ArgumentParser(
      description=_summary(description),
      epilog="Writes its tables, figures and meta.json (the arguments, seeds, versions, "
             "devices and command line of the run) into the output folder.")
  parser.add_argument("out_dir", nargs="?", default=None, metavar="OUT_DIR",
                      help="same as --out (the form of older command lines)")
  parser.add_argument("--out", default=None, metavar="DIR",
                      help=f"output folder (default: {default_out})")
  parser.add_argument("--quick", action="store_true",
                      help="tiny settings that run in seconds (those of the smoke tests)")
  if extra is not None:
    extra(parser)
  parser.set_defaults(default_out=default_out)
  return parser


def parse_args(description: str, default_out: str,
               extra: Callable[[argparse.ArgumentParser], Any] | None = None,
               argv: Sequence[str] | None = None) -> argparse.Namespace:
  """Reads an example's command line; ``--help`` prints the usage and exits 0.

  Args:
    description: the script's docstring (see :func:`make_parser`).
    default_out: the output folder when none is given.
    extra: called with the parser to add the script's own options.
    argv: the arguments (default ``sys.argv[1:]``).

  Returns:
    The namespace: ``out`` (the folder, a string, created if missing),
    ``quick`` and the script's own options.

  Raises:
    SystemExit: after ``--help`` (status 0) or on a bad command line
      (status 2, with the usage on stderr), including an output folder that
      cannot be created or written (:func:`acajax.runs._io.prepare_output`).

  Examples:
    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "demo-out")
    >>> args = parse_args("A demo.", out, argv=["--quick"])
    >>> args.out == out, args.quick, os.path.isdir(out)
    (True, True, True)
  """
  parser = make_parser(description, default_out, extra)
  args = parser.parse_args(argv)
  if args.out is not None and args.out_dir is not None and args.out != args.out_dir:
    parser.error(f"two output folders: OUT_DIR {args.out_dir!r} and --out {args.out!r}; "
                 "give one")
  args.out = args.out or args.out_dir or args.default_out
  del args.out_dir, args.default_out
  try:       # before anything loads or trains: a file, an unwritable place, an empty path
    _io.prepare_output(args.out, kind=KIND)
  except _io.OutputError as err:
    parser.error(str(err))
  return args


def record_run(out_dir: str | pathlib.Path, name: str,
               args: argparse.Namespace | Mapping[str, Any], *,
               seeds: Mapping[str, Any] | None = None, merge: bool = False,
               argv: Sequence[str] | None = None, **extra: Any) -> pathlib.Path:
  """Writes ``meta.json`` for an example's run into ``out_dir``, atomically.

  Args:
    out_dir: the example's output folder (it exists).
    name: the example's name (its file name without ``.py``).
    args: the arguments the example ran with (a namespace or a mapping).
    seeds: every seed the run used, by what it seeds (``{}``: none, the run is
      deterministic).
    merge: keep the ``meta.json`` that the library wrote there during this run
      (its ``kind`` included, e.g. a sweep's record, which ``acajax plot``
      reads back) and add the example's keys to it; otherwise the file is
      replaced.
    argv: the command line (default ``sys.argv``).
    **extra: more keys to record.

  Returns:
    The path of ``meta.json``.

  Examples:
    >>> import json, tempfile
    >>> path = record_run(tempfile.mkdtemp(), "demo", {"quick": True}, seeds={"data": 0},
    ...                   argv=["demo.py", "--quick"])
    >>> meta = json.loads(path.read_text())
    >>> meta["kind"], meta["example"], meta["args"], meta["seeds"], meta["argv"]
    ('example', 'demo', {'quick': True}, {'data': 0}, ['demo.py', '--quick'])
    >>> sorted(meta["versions"])
    ['acajax', 'jax', 'jaxlib', 'numpy', 'python']
  """
  path = pathlib.Path(out_dir) / _io.RUN_FILE
  meta: dict[str, Any] = {"kind": KIND}
  if merge:
    try:
      existing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
      existing = None
    if isinstance(existing, dict):
      meta = existing
  arguments = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
  meta.update(
      example=name, args=arguments, seeds=dict(seeds or {}),
      versions={**meta.get("versions", {}), **versions()},
      backend=jax.default_backend(), devices=[str(device) for device in jax.devices()],
      argv=list(sys.argv if argv is None else argv),
      finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      **extra)
  return _io.atomic_write_json(path, meta)
