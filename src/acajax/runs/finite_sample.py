"""The ``acajax finite-sample`` report: bounds against n from a categorical CSV file (SPEC §9).

Run layer on top of :mod:`acajax.statistical`. :func:`read_categorical_csv`
reads a CSV of categorical data into integer codes, :func:`parse_signal` and
the target parsing turn the command-line options into codes, and
:func:`csv_report` computes the finite-sample bound against the collective
size n, the collective holding the first n lines of the file (one jitted call
for the whole n-grid, :func:`acajax.statistical.prefix_count_tables`), and
writes a CSV table and a figure (:func:`plot_curves`). Files and options are
checked before anything is compiled; :class:`DataError` names the file, the
line and the column.
"""

from __future__ import annotations

import csv
import io
import math
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from jax.typing import ArrayLike

from acajax import statistical, structured
from acajax.runs import _io

__all__ = [
    "CategoricalData",
    "DEFAULT_MEMORY_CAP_MB",
    "DataError",
    "MAX_CODE",
    "csv_report",
    "estimated_table_bytes",
    "parse_signal",
    "plot_curves",
    "read_categorical_csv",
]


class DataError(ValueError):
  """A malformed data file or option; the message names the file, line and column."""


class CategoricalData(NamedTuple):
  """A categorical data file as integer codes.

  Attributes:
    rows: (N, d) int64 feature codes.
    labels: (N,) int64 label codes.
    columns: the d feature column names.
    label_column: the label column's name.
    categories: per feature column, the strings of its codes (code = index)
      for string columns, or None for columns of integer codes.
    label_categories: the same for the label column.
    path: the file read.
  """
  rows: np.ndarray
  labels: np.ndarray
  columns: tuple[str, ...]
  label_column: str
  categories: tuple[tuple[str, ...] | None, ...]
  label_categories: tuple[str, ...] | None
  path: str


_INTEGER = re.compile(r"^\+?\d+$")
# The largest integer code: codes are int64, and the column sizes (code + 1) must be too.
MAX_CODE = 2**62
# csv_report refuses count tables whose estimated memory exceeds this (``memory_cap_mb``).
DEFAULT_MEMORY_CAP_MB = 4096.0
# Segment ids of the count tables are int32 (acajax.statistical.prefix_count_tables), whose
# per-block counts stay within a budget of 2**22 cells.
_MAX_TABLE_CELLS = 2**31 - 1
_PREFIX_CELLS = 2**22


def _is_number(text: str) -> bool:
  try:
    float(text)
  except ValueError:
    return False
  return True


def read_categorical_csv(path, *, label_column: str | None = None) -> CategoricalData:
  """Reads a CSV of categorical data (header line, then one sample per line).

  A column whose values are all integer literals holds integer codes (used
  as they are); a column with any non-numeric value holds strings, mapped to
  codes in sorted order; a column of numbers that are not all non-negative
  integers is an error (codes must be integers). Blank lines are skipped.

  Args:
    path: the CSV file.
    label_column: the label column's name (default: the last column).

  Returns:
    :class:`CategoricalData`.

  Raises:
    DataError: unreadable or empty file, duplicate or unknown column names, a
      line with the wrong number of fields, an empty value or a non-integer
      code; the message names the file, the line and the column.
  """
  path = pathlib.Path(path)
  try:
    raw = path.read_bytes()
  except OSError as err:
    raise DataError(f"{path}: cannot read the file ({err.strerror})") from None
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as err:
    line = raw.count(b"\n", 0, err.start) + 1
    raise DataError(f"{path}, line {line}: not a UTF-8 text file (byte {err.start} is "
                    f"0x{raw[err.start]:02x}); a CSV of categorical data is UTF-8 text") from None
  del raw
  reader = csv.reader(io.StringIO(text, newline=""))
  try:
    header = None
    for fields in reader:
      if any(field.strip() for field in fields):
        header = [field.strip() for field in fields]
        header_line = reader.line_num
        break
    if header is None:
      raise DataError(f"{path}: the file is empty (expected a header line of column names)")
    for j, name in enumerate(header):
      if not name:
        raise DataError(f"{path}, line {header_line}: column {j + 1} has no name")
      if header.index(name) != j:
        raise DataError(f"{path}, line {header_line}: the column name {name!r} appears twice")
    width = len(header)
    if width < 2:
      raise DataError(f"{path}, line {header_line}: need at least one feature column and a "
                      f"label column; found {width} column")
    lookup = [dict() for _ in range(width)]     # string -> (id, first line)
    ids = [[] for _ in range(width)]
    for fields in reader:
      if not any(field.strip() for field in fields):
        continue
      line = reader.line_num
      if len(fields) != width:
        raise DataError(f"{path}, line {line}: expected {width} fields, found {len(fields)}")
      for j, field in enumerate(fields):
        value = field.strip()
        if not value:
          raise DataError(f"{path}, line {line}, column {header[j]!r}: empty value")
        seen = lookup[j].get(value)
        if seen is None:
          seen = lookup[j][value] = (len(lookup[j]), line)
        ids[j].append(seen[0])
  except csv.Error as err:
    raise DataError(f"{path}, line {reader.line_num}: not a CSV line ({err})") from None
  del text
  if not ids[0]:
    raise DataError(f"{path}: no data lines after the header")
  if label_column is None:
    label_column = header[-1]
  if label_column not in header:
    raise DataError(f"{path}: --label-column {label_column!r} is not a column; columns are "
                    f"{', '.join(header)}")
  codes, categories = [], []
  for j in range(width):
    values = sorted(lookup[j].items(), key=lambda item: item[1][0])
    strings = [text for text, _ in values]
    if all(_INTEGER.match(text) for text in strings):
      numbers = [int(text) for text in strings]
      if max(numbers) > MAX_CODE:
        big, (_, line) = min(((t, v) for (t, v), n in zip(values, numbers) if n > MAX_CODE),
                             key=lambda item: item[1][1])
        raise DataError(f"{path}, line {line}, column {header[j]!r}: {big!r} is too large for "
                        f"a category code (int64; at most 2**62 = {MAX_CODE}); recode the "
                        "column as 0, 1, ... or as strings")
      table = np.array(numbers, dtype=np.int64)
      categories.append(None)
    elif all(_is_number(text) for text in strings):
      bad, (_, line) = min(((t, v) for t, v in values if not _INTEGER.match(t)),
                           key=lambda item: item[1][1])
      raise DataError(f"{path}, line {line}, column {header[j]!r}: {bad!r} is not a "
                      "non-negative integer code (a column of numbers must hold integer "
                      "category codes)")
    else:
      order = sorted(strings)
      rank = {text: k for k, text in enumerate(order)}
      table = np.array([rank[text] for text in strings], dtype=np.int64)
      categories.append(tuple(order))
    codes.append(table[np.asarray(ids[j], dtype=np.int64)])
  label_index = header.index(label_column)
  feature_index = [j for j in range(width) if j != label_index]
  rows = np.stack([codes[j] for j in feature_index], axis=1)
  return CategoricalData(rows=rows, labels=codes[label_index],
                         columns=tuple(header[j] for j in feature_index),
                         label_column=label_column,
                         categories=tuple(categories[j] for j in feature_index),
                         label_categories=categories[label_index], path=str(path))


def _code(value: str, categories, what: str, path: str) -> int:
  value = value.strip()
  if categories is None:
    if not _INTEGER.match(value):
      raise DataError(f"{what}: {value!r} is not a non-negative integer code (the column "
                      f"holds integer codes in {path})")
    return int(value)
  if value not in categories:
    raise DataError(f"{what}: {value!r} is not a value of the column in {path}; values are "
                    f"{', '.join(categories)}")
  return categories.index(value)


def parse_signal(text: str, data: CategoricalData) -> np.ndarray:
  """Parses ``"col3=2,col7=red"`` into a (d,) signal array (-1 = keep).

  Examples:
    >>> import numpy as np
    >>> from acajax.runs import finite_sample
    >>> data = finite_sample.CategoricalData(rows=np.zeros((1, 3), np.int64),
    ...     labels=np.zeros(1, np.int64), columns=("a", "b", "c"), label_column="y",
    ...     categories=(None, ("blue", "red"), None), label_categories=None, path="d.csv")
    >>> finite_sample.parse_signal("b=red, c=4", data).tolist()
    [-1, 1, 4]
  """
  setting = np.full(len(data.columns), structured.KEEP, dtype=np.int64)
  parts = [part for part in text.split(",") if part.strip()]
  if not parts:
    raise DataError("--signal: empty; give column=value pairs such as 'col3=2,col7=0'")
  for part in parts:
    if "=" not in part:
      raise DataError(f"--signal: {part.strip()!r} is not column=value")
    name, value = (s.strip() for s in part.split("=", 1))
    if name == data.label_column:
      raise DataError(f"--signal: {name!r} is the label column of {data.path}; a signal sets "
                      "feature columns")
    if name not in data.columns:
      raise DataError(f"--signal: unknown column {name!r} in {data.path}; columns are "
                      f"{', '.join(data.columns)}")
    j = data.columns.index(name)
    if setting[j] != structured.KEEP:
      raise DataError(f"--signal: column {name!r} is set twice")
    setting[j] = _code(value, data.categories[j], f"--signal, column {name!r}", data.path)
  return setting


def _parse_targets(text: str, data: CategoricalData) -> list[int]:
  targets = [_code(part, data.label_categories, f"--target (label column "
                   f"{data.label_column!r})", data.path)
             for part in text.split(",") if part.strip()]
  if not targets:
    raise DataError("--target: give at least one label")
  present = np.unique(data.labels)
  for target in targets:
    if target not in present:   # only integer codes can be absent: strings come from the data
      shown = ", ".join(str(int(v)) for v in present[:20]) + (", ..." if len(present) > 20
                                                              else "")
      raise DataError(f"--target: label {target} does not occur in the label column "
                      f"{data.label_column!r} of {data.path} (its bound would be 0 at every "
                      f"n); labels present: {shown}")
  return targets


def _whole(value) -> bool:
  """An integer, or a float with an integer value (not a bool)."""
  if isinstance(value, (bool, np.bool_)):
    return False
  if isinstance(value, (int, np.integer)):
    return True
  return isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value)


def _real(value) -> bool:
  return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
      value, (bool, np.bool_))


def estimated_table_bytes(num_sizes: int, num_support: int, num_labels: int,
                          num_targets: int = 1) -> int:
  """Estimated peak memory of the count tables and bounds of :func:`csv_report` (bytes).

  :func:`acajax.statistical.prefix_count_tables` counts (support point,
  label, in X*) cells: 2 S K of them per block of samples (up to 4,096
  blocks, within its cell budget) and per size n; the bounds then take a few
  (targets, sizes, S, K) temporaries. Four bytes a cell.
  """
  width = 2 * num_support * num_labels
  blocks = max(1, min(4096, _PREFIX_CELLS // max(width, 1)))
  return 4 * (width * (blocks + 1 + 3 * num_sizes)
              + 4 * num_targets * num_sizes * num_support * num_labels)


def _check_tables(data: CategoricalData, num_sizes: int, num_support: int, num_labels: int,
                  num_targets: int, memory_cap_mb: float) -> None:
  """Refuses count tables too large for memory or for int32 cell indices."""
  cells = num_sizes * 2 * num_support * num_labels
  need = estimated_table_bytes(num_sizes, num_support, num_labels, num_targets)
  if cells <= _MAX_TABLE_CELLS and need <= memory_cap_mb * 2**20:
    return
  why = (f"about {math.ceil(need / 2**20):,} MB, over memory_cap_mb = {memory_cap_mb:g}"
         if cells <= _MAX_TABLE_CELLS else f"{cells:,} cells, more than int32 indices reach")
  hint = ("recode the label column as 0, 1, ... (or as strings)"
          if data.label_categories is None and num_labels > 2 * len(np.unique(data.labels))
          else "use fewer sizes (--n) or a signal that sets more columns")
  support = "at least 1 signal point" if num_support == 1 else f"{num_support:,} signal points"
  raise DataError(f"{data.path}: the count tables would have {num_sizes} sizes x {support} x "
                  f"{num_labels:,} labels (the label column {data.label_column!r} holds codes up "
                  f"to {num_labels - 1}): {why}; {hint}")


def _wrap(title: str, width: int = 64) -> str:
  """Breaks a title after commas into lines of at most ``width`` visible characters.

  Mathtext (``$...$``) counts as its symbols, so formulas never split.
  """
  lines = []
  for item in title.split(", "):
    if lines and _visible(lines[-1] + ", " + item) <= width:
      lines[-1] += ", " + item
    else:
      lines.append(item)
      if len(lines) > 1:
        lines[-2] += ","
  return "\n".join(lines)


def _visible(text: str) -> int:
  """Characters a title shows: a mathtext command counts as one."""
  return len(re.sub(r"\\[A-Za-z]+", "x", text.replace("$", "")))


def plot_curves(sizes_n: ArrayLike, curves: Mapping[str, ArrayLike], path, *,
                success: Mapping[str, ArrayLike] | None = None, title: str | None = None,
                xlabel: str = "collective size $n$ (members)") -> pathlib.Path:
  """Bound against n, one line per target label, log-x; success dashed (headless).

  Each curve is drawn through its sizes with a marker at each (the bound is
  known there only); the legend, outside the data, names the target labels
  by colour and the bound and the success by line style. A long title is
  wrapped to fit the figure.

  Args:
    sizes_n: (G,) collective sizes.
    curves: target label -> (G,) bounds.
    path: the PNG to write.
    success: optional target label -> (G,) success curves, drawn dashed in
      the same colour.
    title: figure title.
    xlabel: x-axis label.

  Returns:
    The path written.
  """
  import matplotlib  # deferred: matplotlib loads (and switches to Agg) only to draw a figure
  matplotlib.use("Agg")  # headless: the CLI and CI have no display
  import matplotlib.pyplot as plt  # deferred: as above, after the backend is set

  order = np.argsort(np.asarray(sizes_n))
  x = np.asarray(sizes_n)[order]
  fig, ax = plt.subplots(figsize=(7.5, 4.2))
  handles, labels = [], []
  for k, (name, values) in enumerate(curves.items()):
    color = f"C{k % 10}"
    # Equal bounds of several targets overlap: the later ones are drawn thinner on top.
    width = 2.0 + 1.2 * (len(curves) - 1 - k)
    line, = ax.plot(x, np.asarray(values)[order], color=color, lw=width, marker="o",
                    markersize=2 + width)
    handles.append(line)
    labels.append(f"target {name}")
    if success is not None and name in success:
      ax.plot(x, np.asarray(success[name])[order], ls="--", color=color, lw=1.2)
  handles.append(plt.Line2D([], [], color="k", lw=2))
  labels.append("lower bound (probability\n" r"$\geq 1 - \delta$)")
  if success is not None:
    handles.append(plt.Line2D([], [], color="k", lw=1.2, ls="--"))
    labels.append("success of the trained\nclassifier")
  ax.set_xscale("log")
  ax.set_ylim(-0.02, 1.02)
  ax.set_xlabel(xlabel)
  ax.set_ylabel("success of the collective")
  if title:
    ax.set_title(_wrap(title), fontsize=10)
  ax.grid(alpha=0.3, which="both")
  ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0, frameon=False)
  fig.tight_layout()
  path = pathlib.Path(path)
  _io.save_figure(fig, path, dpi=130)
  plt.close(fig)
  return path


def csv_report(path, *, signal: str, target: str, sizes_n: Sequence[int] | None = None,
               num_samples: int | None = None, num_test: float | None = None,
               delta: float = 0.05, eps: float = 0.0, strategy: str = "feature_label",
               label_column: str | None = None, out_dir=None,
               memory_cap_mb: float = DEFAULT_MEMORY_CAP_MB):
  """The ``acajax finite-sample`` report: the bound against n for a CSV file.

  The collective's data are the first n data lines of the file, for every n
  of ``sizes_n``; the platform trains on ``num_samples`` samples (default:
  the number of data lines) and success is measured on ``num_test`` test
  points (default: ``num_samples``; ``inf`` for the population success).

  Args:
    path: CSV file (see :func:`read_categorical_csv`).
    signal: ``"col=value,..."``, the columns the signal sets.
    target: the target label(s), ``"1"`` or ``"good,bad"``.
    sizes_n: collective sizes (default: 12 sizes, log-spaced up to half the
      data).
    num_samples: N.
    num_test: N_test.
    delta: failure probability in (0, 1).
    eps: TV-ball eps in [0, 1).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    label_column: the label column (default: last).
    out_dir: if given, write ``finite_sample.csv`` and ``finite_sample.png``.
    memory_cap_mb: refuse count tables whose estimated memory exceeds this
      (:func:`estimated_table_bytes`).

  Returns:
    ``(frame, paths)``: a pandas DataFrame (n, alpha, one bound column per
    target) and the files written.

  Raises:
    DataError: a malformed file or option (the message names it): also a
      target label absent from the data, non-integer or out-of-range sizes,
      non-finite ``delta``/``eps``/``num_samples``, a NaN ``num_test``, and
      count tables whose estimated memory exceeds ``memory_cap_mb``.
  """
  if strategy not in ("feature_label", "feature_only"):
    raise DataError(f"--strategy must be feature_label or feature_only; got {strategy!r}")
  if not _real(delta) or not 0 < delta < 1:
    raise DataError(f"--delta must lie in (0, 1); got {delta!r}")
  if not _real(eps) or not 0 <= eps < 1:
    raise DataError(f"--eps must lie in [0, 1); got {eps!r}")
  if num_samples is not None and (not _whole(num_samples) or num_samples < 1):
    raise DataError(f"--platform-size must be a positive integer; got {num_samples!r}")
  if num_test is not None and (not _real(num_test) or not num_test > 0):
    raise DataError(f"--test-size must be positive (inf: the population success); got "
                    f"{num_test!r}")
  if not _real(memory_cap_mb) or not 0 < memory_cap_mb < math.inf:
    raise DataError(f"memory_cap_mb must be a finite number > 0; got {memory_cap_mb!r}")
  for flag, value, example in (("--signal", signal, "'col3=2,col7=red'"),
                               ("--target", target, "'good,bad'")):
    if not isinstance(value, str):
      raise DataError(f"{flag} must be text such as {example}; got {value!r}")
  if label_column is not None and not isinstance(label_column, str):
    raise DataError(f"--label-column must be a column name; got {label_column!r}")
  if sizes_n is not None:
    sizes_n = list(sizes_n)
    bad = [n for n in sizes_n if not _whole(n) or n < 1]
    if bad or not sizes_n:
      raise DataError(f"--n: collective sizes must be positive integers"
                      f"{f'; got {bad[0]!r}' if bad else ''}")
  data = read_categorical_csv(path, label_column=label_column)
  setting = parse_signal(signal, data)
  targets = _parse_targets(target, data)
  num_rows = data.rows.shape[0]
  num_samples = num_rows if num_samples is None else int(num_samples)
  num_test = num_samples if num_test is None else float(num_test)
  if sizes_n is None:
    top = max(1, min(num_rows, num_samples) // 2)
    sizes_n = np.unique(np.geomspace(max(1, top // 500), top, 12).astype(np.int64))
  sizes_n = np.asarray(sorted(int(n) for n in sizes_n), dtype=np.int64)
  if sizes_n.size == 0 or sizes_n[0] < 1:
    raise DataError("--n: collective sizes must be positive integers")
  if sizes_n[-1] > num_rows:
    raise DataError(f"--n: {sizes_n[-1]} exceeds the {num_rows} data lines of {data.path} "
                    "(the collective's data are the first n lines)")
  if sizes_n[-1] > num_samples:
    raise DataError(f"--n: {sizes_n[-1]} exceeds the platform size N = {num_samples}")
  if num_test <= 0:
    raise DataError(f"--test-size must be positive; got {num_test}")
  num_labels = max(2, int(data.labels.max()) + 1, max(targets) + 1)
  rows = data.rows[:sizes_n[-1]]
  sizes = np.maximum(data.rows.max(axis=0) + 1, setting + 1)
  # The labels alone (one support point) first, then the support the signal has.
  _check_tables(data, len(sizes_n), 1, num_labels, len(targets), memory_cap_mb)
  codes = statistical.signal_codes(rows, setting, sizes=sizes)
  _check_tables(data, len(sizes_n), codes.num_support, num_labels, len(targets), memory_cap_mb)
  tables = statistical.prefix_count_tables(codes.image, codes.member,
                                           data.labels[:sizes_n[-1]], sizes_n,
                                           num_support=codes.num_support, num_labels=num_labels)
  bound_fn = (statistical.feature_label_bound if strategy == "feature_label"
              else statistical.feature_only_bound)
  values = bound_fn(tables, target=np.asarray(targets)[:, None], num_samples=num_samples,
                    num_signal_points=codes.num_signal_points, delta=delta, eps=eps,
                    num_test=num_test)
  values = np.asarray(values)
  names = [str(t) if data.label_categories is None else data.label_categories[t]
           for t in targets]
  frame = pd.DataFrame({"n": sizes_n, "alpha": sizes_n / num_samples})
  for name, column in zip(names, values):
    frame[f"bound_{name}"] = column
  paths = []
  if out_dir is not None:
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _io.write_csv(frame, out_dir / "finite_sample.csv")
    paths.append(out_dir / "finite_sample.csv")
    paths.append(plot_curves(sizes_n, dict(zip(names, values)), out_dir / "finite_sample.png",
                             title=f"{pathlib.Path(data.path).name}: signal {signal}, "
                                   rf"$\delta$ = {delta:g}, $\varepsilon$ = {eps:g}, "
                                   f"N = {num_samples:,}"))
  return frame, paths
