"""The one spec toolkit: reading TOML specs and checking their keys and values.

Every TOML file acajax reads (sweep specs, validation specs, recommender
specs) goes through :func:`read_toml` or :func:`loads_toml`, and every mistake
in one is a :class:`SpecError` whose message has one form::

  <file>: <key>: <what was expected>; got <what was found>

so that a user can find the line to change. The helpers here check keys and
typed values (:func:`number`, :func:`integer`, :func:`numbers`, :func:`matrix`,
...: finite, in a stated range, never a bool for a number) and estimated memory
(:func:`check_memory`); each spec module states its ranges with them and checks
the rest with :func:`fail`.
"""

from __future__ import annotations

import math
import pathlib
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["SpecError", "UsageError", "check_keys", "check_memory", "describe", "fail",
           "integer", "integers", "interval", "is_int", "is_number", "list_of", "loads_toml",
           "matrix", "megabytes", "number", "numbers", "one_of", "read_kind", "read_toml",
           "require", "string_list", "table", "tables", "text"]


class SpecError(ValueError):
  """A spec that cannot run; the message names the file, the key and what was expected."""


class UsageError(ValueError):
  """A command-line flag with a value that cannot run; the message names the flag.

  The CLI reports it as bad input (exit status 2), like :class:`SpecError`.
  """


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


# --- typed values ----------------------------------------------------------------
#
# Every spec checks its values with these, so that a wrong type or a value out of
# range is one SpecError naming the key and the allowed range (never a TypeError
# later, and never a NaN that flows into a table).


def describe(value: Any) -> str:
  """A value as a message shows it: its repr, and its TOML type where that helps.

  Examples:
    >>> describe(1e11), describe(3.0), describe("a"), describe(True), describe(float("nan"))
    ('1e+11 (a float)', '3.0 (a float)', "'a' (a string)", 'true (a boolean)', 'nan')
  """
  if isinstance(value, (bool, np.bool_)):
    return f"{str(bool(value)).lower()} (a boolean)"
  if isinstance(value, (float, np.floating)):
    if not np.isfinite(value):
      return repr(float(value))
    shown = f"{float(value):g}"
    return f"{shown}{'' if any(c in shown for c in '.e') else '.0'} (a float)"
  if isinstance(value, str):
    return f"{value!r} (a string)"
  if isinstance(value, Mapping):
    return "a table"
  if isinstance(value, (list, tuple)):
    text = repr(list(value))
    return (text if len(text) <= 60 else text[:57] + "...") + " (a list)"
  return repr(value)


def _show(value: float) -> str:
  if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
    return str(int(value))
  return f"{value:g}"


def interval(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> str:
  """The allowed range as text: ``>= 1``, ``> 0``, ``in [0, 0.5)``.

  Examples:
    >>> interval(0, 0.5, high_open=True), interval(0, low_open=True), interval(1)
    ('in [0, 0.5)', '> 0', '>= 1')
  """
  if low is None and high is None:
    return ""
  if high is None:
    return f"{'>' if low_open else '>='} {_show(low)}"
  if low is None:
    return f"{'<' if high_open else '<='} {_show(high)}"
  return f"in {'(' if low_open else '['}{_show(low)}, {_show(high)}{')' if high_open else ']'}"


def _inside(value, low, high, low_open, high_open) -> bool:
  if low is not None and not (value > low if low_open else value >= low):
    return False
  return high is None or (value < high if high_open else value <= high)


def number(source: str, key: str, value: Any, *, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False,
           finite: bool = True) -> float:
  """``value`` as a float if it is a number in the range, else the error naming ``key``.

  NaN is always refused, and so are the infinities unless ``finite=False``
  (where an infinite value means something, such as a population).

  Examples:
    >>> number("v.toml", "train.l2", 0.5, low=0)
    0.5
    >>> number("v.toml", "train.learning_rate", float("inf"), low=0, low_open=True)
    Traceback (most recent call last):
    ...
    acajax.runs._spec.SpecError: v.toml: train.learning_rate: must be a finite number > 0; got inf
  """
  what = ("a finite number" if finite else "a number") + (
      f" {interval(low, high, low_open=low_open, high_open=high_open)}"
      if low is not None or high is not None else "")
  if not is_number(value) or np.isnan(value) or (finite and not np.isfinite(value)):
    raise fail(source, key, f"must be {what}; got {describe(value)}")
  value = float(value)
  if not _inside(value, low, high, low_open, high_open):
    raise fail(source, key, f"must be {what}; got {_show(value)}")
  return value


def integer(source: str, key: str, value: Any, *, low: int | None = None,
            high: int | None = None) -> int:
  """``value`` as an int if it is an integer in ``[low, high]``, else the error naming ``key``.

  A float is refused even when whole (``1e11`` is a float in TOML): sizes and
  counts are written as integers.

  Examples:
    >>> integer("v.toml", "data.num_samples", 1e11, low=1)
    Traceback (most recent call last):
    ...
    acajax.runs._spec.SpecError: v.toml: data.num_samples: must be an integer >= 1; got 1e+11 (a float)
  """
  what = "an integer" + (f" {interval(low, high)}" if low is not None or high is not None
                         else "")
  if not is_int(value):
    raise fail(source, key, f"must be {what}; got {describe(value)}")
  value = int(value)
  if not _inside(value, low, high, False, False):
    raise fail(source, key, f"must be {what}; got {value}")
  return value


def numbers(source: str, key: str, value: Any, *, min_length: int = 1, **limits) -> tuple:
  """A list of numbers (each as :func:`number`); an element's error names ``key[i]``."""
  items = list_of(source, key, value)
  if len(items) < min_length:
    raise fail(source, key, f"must list at least {min_length} value(s); got {describe(value)}")
  return tuple(number(source, f"{key}[{i}]", item, **limits) for i, item in enumerate(items))


def integers(source: str, key: str, value: Any, *, min_length: int = 1, **limits) -> tuple:
  """A list of integers (each as :func:`integer`); an element's error names ``key[i]``."""
  items = list_of(source, key, value)
  if len(items) < min_length:
    raise fail(source, key, f"must list at least {min_length} value(s); got {describe(value)}")
  return tuple(integer(source, f"{key}[{i}]", item, **limits) for i, item in enumerate(items))


def text(source: str, key: str, value: Any) -> str:
  """``value`` if it is a string, else the error naming ``key``."""
  if not isinstance(value, str):
    raise fail(source, key, f"must be a string; got {describe(value)}")
  return value


def one_of(source: str, key: str, value: Any, allowed: Iterable[str], what: str = "") -> str:
  """``value`` if it is one of the strings ``allowed``, else the error listing them."""
  allowed = tuple(allowed)
  if not isinstance(value, str) or value not in allowed:
    shown = repr(value) if isinstance(value, str) else describe(value)
    raise fail(source, key, f"unknown {what + ' ' if what else ''}{shown}; allowed: "
                            f"{', '.join(allowed)}")
  return value


def tables(source: str, key: str, value: Any) -> list[Mapping[str, Any]]:
  """An array of tables (``[[key]]``); an entry that is not a table names ``key[i]``."""
  items = list_of(source, key, value)
  for i, item in enumerate(items):
    if not isinstance(item, Mapping):
      raise fail(source, f"{key}[{i}]", f"must be a table ([[{key}]] entry); got "
                                        f"{describe(item)}")
  return items


def matrix(source: str, key: str, value: Any, *, low: float | None = None) -> np.ndarray:
  """A rectangular list of lists of finite numbers (>= ``low``) as a float64 (n, m) array."""
  rows = list_of(source, key, value)
  if not rows or not all(isinstance(row, (list, tuple)) for row in rows):
    raise fail(source, key, f"must be a table of rows (a list of lists of numbers); got "
                            f"{describe(value)}")
  width = len(rows[0])
  for i, row in enumerate(rows):
    if len(row) != width or width == 0:
      raise fail(source, key, f"must be rectangular: row 0 has {width} entries, row {i} has "
                              f"{len(row)}")
    for j, item in enumerate(row):
      if not is_number(item) or not np.isfinite(item) or (low is not None and item < low):
        raise fail(source, f"{key}[{i}][{j}]", f"must be a finite number"
                                               f"{' ' + interval(low) if low is not None else ''}"
                                               f"; got {describe(item)}")
  return np.asarray(rows, dtype=np.float64)


def megabytes(num_bytes: float) -> str:
  """A byte count in MB for messages (``38,147 MB``)."""
  return f"{math.ceil(num_bytes / 2**20):,} MB"


def check_memory(source: str, key: str, need_bytes: float, cap_mb: float, *, what: str,
                 lower: str, cap_key: str = "run.memory_cap_mb") -> None:
  """Refuses a plan whose estimated memory ``need_bytes`` exceeds ``cap_mb``.

  The message names ``key``, gives the estimate and what it counts (``what``),
  the cap, and how to lower it (``lower``) or raise the cap.

  Examples:
    >>> check_memory("v.toml", "data.num_samples", 3 * 2**30, 1024, what="features",
    ...              lower="lower data.num_samples")
    Traceback (most recent call last):
    ...
    acajax.runs._spec.SpecError: v.toml: data.num_samples: needs about 3,072 MB (features), over run.memory_cap_mb = 1024; lower data.num_samples, or raise run.memory_cap_mb to at least 3072
  """
  if need_bytes > cap_mb * 2**20:
    need = math.ceil(need_bytes / 2**20)
    raise fail(source, key, f"needs about {need:,} MB ({what}), over {cap_key} = {cap_mb:g}; "
                            f"{lower}, or raise {cap_key} to at least {need}")
