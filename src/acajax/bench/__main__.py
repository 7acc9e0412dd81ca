"""``python -m acajax.bench``: the command line of ``acajax bench``, and the suite's children.

``python -m acajax.bench ARGS`` is ``acajax bench ARGS``; with ``--child
NAME`` or ``--memory-child E`` it runs one benchmark (or one sweep's memory
measurement) in this process and prints its record as JSON.
"""

import sys

from acajax import cli
from acajax.bench import _suite


def main(argv: list[str] | None = None) -> int:
  """Runs a child, or ``acajax bench`` with ``argv``; returns the exit status."""
  argv = sys.argv[1:] if argv is None else argv
  if _suite.is_child(argv):
    return _suite.child_main(argv)
  return cli.main(["bench", *argv])


if __name__ == "__main__":
  sys.exit(main())
