"""A griffe extension: the reStructuredText left in acajax's docstrings, as Markdown.

acajax's docstrings are Google style, but they keep a few Sphinx habits that
Markdown would show verbatim. Before mkdocstrings renders a docstring, this
extension rewrites its text (the source files are not touched):

* ``.. math::`` blocks become display math and ``:math:`x``` inline math
  (``$$ ... $$`` and ``$ ... $``, rendered by pymdownx.arithmatex and MathJax);
* cross-reference roles (``:func:`run```, ``:class:`~acajax.mixtures.Strategy```)
  become code that links to the object where the reference documents it (an
  optional cross-reference: plain code, and no warning, where it does not);
* ``SPEC §N`` (and ``SPEC §N–§M``) links to section N of the theory guide
  (anchor ``spec-N``), unless it is already a link;
* a paragraph ending in ``::`` followed by an indented block becomes a
  paragraph and a fenced code block;
* an ``Args:`` entry that documents several arguments at once
  (``p0, signal_maps, targets: as in ...``, names possibly continued on the
  next line) becomes one entry per argument with the same description. Google
  style, as griffe parses it, wants one name per entry, and would otherwise
  fail the strict build with "Parameter 'p0, signal_maps, targets' does not
  appear in the function signature".

Doctest lines (``>>>``, ``...``) are left alone.
"""

from __future__ import annotations

import html
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(mod|func|class|meth|attr|data|obj|exc|const):`(~?)([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_SPEC = re.compile(r"(?<![\[\w/#])SPEC(?:\.md)? §(\d+)((?:\s*[–-]\s*§?\d+)?)(?![\]\w])")
_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*$")


def _indent(line: str) -> int:
  return len(line) - len(line.lstrip())


def _block(lines: list[str], start: int, base: int) -> int:
  """End (exclusive) of the block indented deeper than ``base`` from ``start``."""
  end = start
  while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
    end += 1
  while end > start and not lines[end - 1].strip():
    end -= 1
  return end


def _dedented(lines: list[str]) -> list[str]:
  depth = min((_indent(line) for line in lines if line.strip()), default=0)
  return [line[depth:] for line in lines]


def _blocks(text: str) -> str:
  """``.. math::`` directives and ``::`` literal blocks."""
  lines = text.split("\n")
  out: list[str] = []
  i = 0
  while i < len(lines):
    line = lines[i]
    directive = _DIRECTIVE.match(line)
    literal = (line.rstrip().endswith("::") and not line.lstrip().startswith(("..", ">>>"))
               and i + 1 < len(lines) and not lines[i + 1].strip())
    if directive or literal:
      base = _indent(line)
      end = _block(lines, i + 1, base)
      body = _dedented([l for l in lines[i + 1:end]])
      while body and not body[0].strip():
        body.pop(0)
      if body:
        pad = " " * base
        if directive:
          out += ["", pad + "$$", *(pad + l for l in body), pad + "$$", ""]
        else:
          head = line.rstrip()[:-2].rstrip()
          if head:
            out += [pad + head.lstrip() + ":", ""] if head.strip() else []
          out += [pad + "```text", *(pad + l for l in body), pad + "```", ""]
        i = end
        continue
    out.append(line)
    i += 1
  return "\n".join(out)


_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|"
                      r"Other Parameters|Attributes):\s*$")
_GROUPED = re.compile(r"^([\w*]+(?:\s*,\s*[\w*]+)+)\s*:\s*(.*)$", re.DOTALL)


def _grouped_args(text: str) -> str:
  """One entry per argument where an entry names several (see the module docstring)."""
  lines = text.split("\n")
  out: list[str] = []
  i = 0
  while i < len(lines):
    out.append(lines[i])
    header = _SECTION.match(lines[i])
    i += 1
    if not header:
      continue
    base = len(header.group(1))
    item = None
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
      if not lines[i].strip():
        out.append(lines[i])
        i += 1
        continue
      item = _indent(lines[i]) if item is None else item
      if _indent(lines[i]) != item:   # a stray continuation line: keep it
        out.append(lines[i])
        i += 1
        continue
      end = i + 1
      while end < len(lines) and lines[end].strip() and _indent(lines[end]) > item:
        end += 1
      joined = " ".join(line.strip() for line in lines[i:end])
      grouped = _GROUPED.match(joined)
      if grouped:
        for name in re.split(r"\s*,\s*", grouped.group(1)):
          out.append(" " * item + f"{name}: {grouped.group(2)}")
      else:
        out.extend(lines[i:end])
      i = end
  return "\n".join(out)


def _lookup(collection, path: str):
  try:
    return collection[path]
  except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
    return None


class ReStructuredText(griffe.Extension):
  """Rewrites each docstring's reST constructs (see the module docstring)."""

  def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs) -> None:
    if obj.docstring is None:
      return
    collection = loader.modules_collection
    scopes = [obj.path]
    parent = obj.parent
    while parent is not None:
      scopes.append(parent.path)
      parent = parent.parent

    def role(match: re.Match) -> str:
      tilde, name = match.group(2), match.group(3).strip()
      shown = name.rsplit(".", 1)[-1] if tilde else name
      code = f"<code>{html.escape(shown)}</code>"
      for scope in [*scopes, ""]:
        path = f"{scope}.{name}" if scope else name
        if _lookup(collection, path) is not None:
          return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'
      return code

    def spec(match: re.Match) -> str:
      return f"[{match.group(0)}][spec-{match.group(1)}]"

    lines = []
    for line in _blocks(_grouped_args(obj.docstring.value)).split("\n"):
      if not line.lstrip().startswith((">>>", "... ")):
        line = _MATH_ROLE.sub(lambda m: f"${m.group(1).strip()}$", line)
        line = _ROLE.sub(role, line)
        line = _SPEC.sub(spec, line)
      lines.append(line)
    obj.docstring.value = "\n".join(lines)
