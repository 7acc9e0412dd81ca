"""Where a suite run writes: a source checkout's ``benchmarks/``, or a folder of the user's.

* In a source checkout (a ``benchmarks/`` folder holding ``README.md`` in the
  working directory, or beside the imported acajax package of an editable
  install): a full run writes ``benchmarks/results/<device>.json``, the plots
  beside it, and regenerates the summary section of ``benchmarks/README.md``;
  a quick run writes ``benchmarks/results/quick/results.json`` with
  ``summary.md`` and the plots beside it.
* Elsewhere (an installed wheel): ``./acajax-bench/<device>.json`` (with
  ``-quick`` before ``.json`` for quick runs), ``summary.md`` and the plots
  beside it. Nothing is ever written inside the installed package.
* ``--out PATH`` overrides both: a path ending in ``.json`` is the result
  file, anything else a folder for ``<device>.json``; the summary
  (``summary.md``) and plots go into the result file's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

DEFAULT_FOLDER = "acajax-bench"
# The checkout this module lives in, for an editable install (src layout).
_PACKAGE_ROOT = Path(__file__).resolve().parents[3]


class Destination(NamedTuple):
  """The files of one suite run.

  Attributes:
    folder: where the result JSON (unless ``file`` names it), the plots and
      ``summary.md`` go; the summary reads every result file there.
    file: the result JSON, when named; otherwise ``folder/<device>.json``.
    readme: a README whose generated section the summary replaces (a source
      checkout's ``benchmarks/README.md``); None: ``folder/summary.md``.
  """

  folder: Path
  file: Path | None = None
  readme: Path | None = None

  def json_path(self, slug: str, quick: bool) -> Path:
    """The result file of a run on the device ``slug``.

    Examples:
      >>> from pathlib import Path
      >>> from acajax.bench import Destination
      >>> Destination(Path("out")).json_path("cpu-2core", quick=True).as_posix()
      'out/cpu-2core-quick.json'
      >>> Destination(Path("out"), Path("out/r.json")).json_path("cpu-2core", False).name
      'r.json'
    """
    if self.file is not None:
      return self.file
    return self.folder / f"{slug}{'-quick' if quick else ''}.json"


def _is_checkout(root: Path) -> bool:
  return (root / "benchmarks" / "README.md").is_file()


def checkout_root(cwd: str | Path | None = None) -> Path | None:
  """The source checkout whose ``benchmarks/`` receives results, or None.

  The working directory when it holds ``benchmarks/README.md``; else the
  source tree of this acajax (an editable install: ``pyproject.toml`` and
  ``benchmarks/README.md`` beside the package); else None (an installed
  wheel).

  Args:
    cwd: the working directory to look in (default: the current one).
  """
  here = Path.cwd() if cwd is None else Path(cwd)
  if _is_checkout(here):
    return here
  if (_PACKAGE_ROOT / "pyproject.toml").is_file() and _is_checkout(_PACKAGE_ROOT):
    return _PACKAGE_ROOT
  return None


def destination(out: str | Path | None = None, *, quick: bool = False,
                cwd: str | Path | None = None) -> Destination:
  """Where a run writes (see the module docstring).

  Args:
    out: ``--out``: a ``.json`` file, or a folder; None for the defaults.
    quick: a CI-sized run (kept apart from the measured results).
    cwd: the working directory (default: the current one).

  Returns:
    A :class:`Destination`.

  Examples:
    >>> from acajax.bench import destination
    >>> where = destination("runs/h200.json")
    >>> where.folder.as_posix(), where.file.name, where.readme
    ('runs', 'h200.json', None)
    >>> destination("runs").json_path("nvidia-h200", quick=False).as_posix()
    'runs/nvidia-h200.json'
  """
  if out is not None:
    out = Path(out)
    if out.suffix == ".json":
      return Destination(out.parent, out)
    return Destination(out)
  root = checkout_root(cwd)
  if root is None:
    return Destination((Path.cwd() if cwd is None else Path(cwd)) / DEFAULT_FOLDER)
  results = root / "benchmarks" / "results"
  if quick:
    return Destination(results / "quick", results / "quick" / "results.json")
  return Destination(results, None, root / "benchmarks" / "README.md")
