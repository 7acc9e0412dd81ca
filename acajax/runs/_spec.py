"""The one spec toolkit: reading TOML specs and checking their keys and values.

Every TOML file acajax reads (sweep specs, validation specs, recommender
specs) goes through :func:`read_toml` or :func:`loads_toml`, and every mistake
in one is a :class:`SpecError` whose message has one form::

  <file>: <key>: <what was expected>; got <what was found>

so that a user can find the line to change. The helpers here check types and
keys; each spec module checks its own values with :func:`fail`.
"""

from __future__ import annotations

import pathlib
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["SpecError", "check_keys", "fail", "is_int", "is_number", "list_of", "loads_toml",
           "read_kind", "read_toml", "require", "string_list", "table"]


class SpecError(ValueError):
  """A spec that cannot run; the message names the file, the key and what was expected."""


def fail(source: str, key: str, message: str) -> SpecError:
  """The :class:`SpecError` for ``key`` of the spec ``source`` (the caller raises it).

  Examples:
    >>> str(fail("sweep.toml", "axes.alpha", "must be a table; got int"))
    'sweep.toml: axes.alpha: must be a table; got int'
  """
  return SpecError(f"{source}: {key}: {message}" if key else f"{source}: {message}")


def read_text(path: str | pathlib.Path, what: str = "spec") -> str:
  """A spec file's text; a :class:`SpecError` naming the file if it cannot be read as UTF-8."""
  path = pathlib.Path(path)
  if path.is_dir():
    raise SpecError(f"{path}: is a folder, not a {what} file (.toml)")
  try:
    return path.read_bytes().decode("utf-8")
  except FileNotFoundError:
    raise SpecError(f"{path}: no such file") from None
  except UnicodeDecodeError as err:
    raise SpecError(f"{path}: not a UTF-8 text file (byte {err.start}); a {what} is TOML "
                    "text") from None
  except OSError as err:
    raise SpecError(f"{path}: cannot read the {what} ({err.strerror})") from None


def loads_toml(text: str, source: str) -> dict[str, Any]:
  """Parses TOML text; a :class:`SpecError` naming ``source`` if it is not TOML.

  Examples:
    >>> loads_toml("a = 1", "x.toml")
    {'a': 1}
    >>> loads_toml("a = ", "x.toml")
    Traceback (most recent call last):
    ...
    acajax.runs._spec.SpecError: x.toml: not valid TOML (...)
  """
  try:
    return tomllib.loads(text)
  except tomllib.TOMLDecodeError as err:
    raise SpecError(f"{source}: not valid TOML ({err})") from None


def read_toml(path: str | pathlib.Path, what: str = "spec") -> dict[str, Any]:
  """Reads a TOML file; :class:`SpecError` naming the file if missing, unreadable or not TOML."""
  return loads_toml(read_text(path, what), str(path))


def read_kind(path: str | pathlib.Path) -> str | None:
  """The top-level ``kind`` of a TOML spec, or None (absent, or the file unreadable).

  Lets a command send a spec to the reader of its kind; that reader reports
  any problem with the file itself.
  """
  try:
    kind = read_toml(path).get("kind")
  except SpecError:
    return None
  return kind if isinstance(kind, str) else None


def table(source: str, key: str, value: Any) -> Mapping[str, Any]:
  """``value`` if it is a TOML table, else the error naming ``key``."""
  if not isinstance(value, Mapping):
    raise fail(source, key, f"must be a table; got {type(value).__name__}")
  return value


def list_of(source: str, key: str, value: Any) -> list:
  """``value`` as a list if it is a TOML array, else the error naming ``key``."""
  if not isinstance(value, (list, tuple)):
    raise fail(source, key, f"must be a list; got {value!r}")
  return list(value)


def string_list(source: str, key: str, value: Any) -> list[str]:
  """``value`` if it is a list of strings, else the error naming ``key``."""
  items = list_of(source, key, value)
  if not all(isinstance(item, str) for item in items):
    raise fail(source, key, f"must be a list of strings; got {value!r}")
  return items


def check_keys(source: str, section: str, data: Mapping[str, Any],
               allowed: Iterable[str]) -> None:
  """Refuses any key of ``data`` outside ``allowed``; keys are named ``section.key``.

  Examples:
    >>> check_keys("v.toml", "train", {"steps": 1, "stpes": 2}, ["steps", "l2"])
    Traceback (most recent call last):
    ...
    acajax.runs._spec.SpecError: v.toml: train.stpes: unknown key; allowed: l2, steps
  """
  allowed = sorted(allowed)
  for key in data:
    if key not in allowed:
      name = f"{section}.{key}" if section else key
      raise fail(source, name, f"unknown key; allowed: {', '.join(allowed)}")


def require(source: str, section: str, data: Mapping[str, Any], keys: Iterable[str],
            why: str = "") -> None:
  """Refuses ``data`` without every key of ``keys``."""
  for key in keys:
    if key not in data:
      name = f"{section}.{key}" if section else key
      raise fail(source, name, "missing" + (f" ({why})" if why else ""))


def is_number(value: Any) -> bool:
  """A real number (int or float, NumPy's too), not a bool."""
  return (isinstance(value, (int, float, np.integer, np.floating))
          and not isinstance(value, (bool, np.bool_)))


def is_int(value: Any) -> bool:
  """An integer (Python's or NumPy's), not a bool."""
  return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
