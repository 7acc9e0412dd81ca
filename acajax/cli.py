"""The ``acajax`` command line.

Subcommands:

* ``acajax demo [--out DIR]`` — the README's main job: a two-collective
  report (table and figure) written into DIR.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
  from acajax import demo
  demo.main(args.out)
  return 0


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="acajax",
      description="Algorithmic collective action with several collectives: closed-form "
                  "bounds, exact computation and experiments in JAX.")
  parser.add_argument("--version", action="store_true", help="print the version and exit")
  sub = parser.add_subparsers(dest="command", metavar="COMMAND")
  demo = sub.add_parser("demo", help="write a two-collective report (table + figure)",
                        description="Bounds of a two-collective scenario as a table, and a "
                                    "PNG of each collective's bound against its mass with "
                                    "the critical mass marked.")
  demo.add_argument("--out", default="acajax-demo", help="output folder (default: %(default)s)")
  demo.set_defaults(func=_demo)
  return parser


def main(argv: list[str] | None = None) -> int:
  """Runs the CLI; returns the exit status."""
  parser = build_parser()
  args = parser.parse_args(argv)
  if args.version:
    from acajax import __version__
    print(__version__)
    return 0
  if args.command is None:
    parser.print_help()
    return 2
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
