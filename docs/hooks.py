"""MkDocs hooks of the acajax documentation (``hooks:`` in ``mkdocs.yml``).

* The CLI reference (``cli.md``) is generated at build time from
  :func:`acajax.cli.build_parser`, so it never goes stale.
* MathJax is served from the site itself: its single-file SVG build is copied
  from the ``django-static-mathjax`` package (the ``docs`` extra), so neither
  the build nor the pages need a network.
* The benchmark figures that ``benchmarks/README.md`` shows are copied beside
  the page that includes it (``benchmarks/results/*.png``).

The reST habits of the docstrings (roles, ``.. math::``, ``SPEC §N``) are
rendered by the griffe extension in ``docs/griffe_rst.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import pathlib
import textwrap

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

from acajax import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLI_PAGE = "cli.md"
MATHJAX_FILES = ("es5/tex-svg.js",)  # self-contained: SVG output needs no font files
MATHJAX_SITE_DIR = "assets/mathjax"
BENCHMARK_FIGURES = ROOT / "benchmarks" / "results"


# --------------------------------------------------------------------------
# The CLI reference.
# --------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
  for action in parser._actions:  # argparse keeps its subcommands here, nowhere public
    if isinstance(action, argparse._SubParsersAction):
      return dict(action.choices)
  return {}


def _help_text(parser: argparse.ArgumentParser) -> str:
  # A fixed width, so the page does not depend on the terminal of the build.
  formatter_width = 80
  parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=formatter_width)
  return parser.format_help().rstrip()


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
  rows = []
  for action in parser._actions:
    if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
      continue
    names = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
    if action.option_strings and action.nargs != 0:
      names += f" `{action.metavar or action.dest.upper()}`"
    help_text = (action.help or "").replace("%(default)s", str(action.default))
    required = "yes" if (action.required or not action.option_strings) else ""
    default = ("" if action.default in (None, False, argparse.SUPPRESS) or not action.option_strings
               else f"`{action.default}`")
    choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
    help_text = help_text.replace("|", "\\|")
    rows.append(f"| {names} | {required} | {default} | {choices} | {help_text} |")
  return rows


def cli_markdown() -> str:
  """The CLI reference page, as Markdown, from ``acajax.cli.build_parser()``."""
  parser = cli.build_parser()
  out = io.StringIO()
  out.write("# Command line\n\n")
  out.write("This page is generated from `acajax.cli.build_parser()` each time the "
            "documentation is built, so it always matches the installed command. "
            "`acajax COMMAND --help` prints the same text.\n\n")
  out.write(f"```text\n$ acajax --help\n{_help_text(parser)}\n```\n\n")
  for name, sub in _subparsers(parser).items():
    out.write(f"## `acajax {name}` {{#{name}}}\n\n")
    if sub.description:
      out.write(textwrap.fill(sub.description, 100) + "\n\n")
    out.write("| argument | required | default | choices | meaning |\n")
    out.write("| --- | --- | --- | --- | --- |\n")
    out.write("\n".join(_option_rows(sub)) + "\n\n")
    out.write(f"```text\n$ acajax {name} --help\n{_help_text(sub)}\n```\n\n")
  return out.getvalue()


# --------------------------------------------------------------------------
# MathJax from an installed package.
# --------------------------------------------------------------------------


def _mathjax_root() -> pathlib.Path:
  spec = importlib.util.find_spec("mathjax")
  root = (pathlib.Path(spec.origin).parent / "static" / "mathjax"
          if spec is not None and spec.origin else None)
  if root is None or not all((root / name).is_file() for name in MATHJAX_FILES):
    raise PluginError(
        "MathJax not found: the documentation serves MathJax from the django-static-mathjax "
        "package; install the docs extra (pip install -e '.[docs]').")
  return root


# --------------------------------------------------------------------------
# Hooks.
# --------------------------------------------------------------------------


def on_files(files, config):
  """Adds the generated CLI page, MathJax and the benchmark figures."""
  files.append(File.generated(config, CLI_PAGE, content=cli_markdown()))
  root = _mathjax_root()
  for name in MATHJAX_FILES:
    site_name = f"{MATHJAX_SITE_DIR}/{pathlib.Path(name).name}"
    files.append(File.generated(config, site_name, abs_src_path=str(root / name)))
  for figure in sorted(BENCHMARK_FIGURES.glob("*.png")):
    files.append(File.generated(config, f"benchmarks/results/{figure.name}",
                                abs_src_path=str(figure)))
  return files
