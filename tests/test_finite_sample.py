"""The ``acajax finite-sample`` report: CSV reading, the CLI and its errors (SPEC §9).

Tests of :mod:`acajax.runs.finite_sample`; the maths it calls is tested in
tests/test_statistical.py.
"""

import re

import numpy as np
import pandas as pd
import pytest

from acajax import cli
from acajax import statistical as st
from acajax.runs import finite_sample as fs


def _write_csv(path, num=3000, seed=0):
  rng = np.random.default_rng(seed)
  colors = np.array(["blue", "green", "red"])
  lines = ["color,size,shape,grade"]
  for _ in range(num):
    color = colors[rng.integers(0, 3)]
    size = int(rng.integers(0, 4))
    shape = int(rng.integers(0, 2))
    grade = "good" if (size + shape) % 2 == 0 and rng.random() < .8 else "bad"
    lines.append(f"{color},{size},{shape},{grade}")
  path.write_text("\n".join(lines) + "\n")
  return path


def test_read_categorical_csv_maps_strings_and_keeps_codes(tmp_path):
  data = fs.read_categorical_csv(_write_csv(tmp_path / "d.csv", 50))
  assert data.columns == ("color", "size", "shape") and data.label_column == "grade"
  assert data.categories[0] == ("blue", "green", "red") and data.categories[1] is None
  assert data.label_categories == ("bad", "good")
  first = (tmp_path / "d.csv").read_text().splitlines()[1].split(",")
  assert data.rows[0, 0] == ("blue", "green", "red").index(first[0])
  assert data.rows[0, 1] == int(first[1])


def test_cli_finite_sample_prints_the_bound_table(tmp_path, capsys):
  path = _write_csv(tmp_path / "data.csv")
  out = tmp_path / "out"
  code = cli.main(["finite-sample", str(path), "--signal", "color=red,shape=0",
                   "--target", "good,bad", "--n", "50,400,1500", "--platform-size", "3000",
                   "--delta", "0.1", "--out", str(out)])
  assert code == 0
  printed = capsys.readouterr().out
  assert "bound_good" in printed and "bound_bad" in printed
  assert (out / "finite_sample.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  table = pd.read_csv(out / "finite_sample.csv")
  assert table["n"].tolist() == [50, 400, 1500]
  # Same numbers from the library directly.
  data = fs.read_categorical_csv(path)
  setting = fs.parse_signal("color=red,shape=0", data)
  codes = st.signal_codes(data.rows[:1500], setting)
  tables = st.prefix_count_tables(codes.image, codes.member, data.labels[:1500],
                                  np.array([50, 400, 1500]), num_support=codes.num_support,
                                  num_labels=2)
  want = st.feature_label_bound(tables, target=1, num_samples=3000, delta=.1, num_test=3000,
                                num_signal_points=codes.num_signal_points)
  np.testing.assert_allclose(table["bound_good"], want, atol=1e-12)
  assert table["bound_good"].iloc[-1] > 0.3                 # informative at n = 1500


@pytest.mark.parametrize("edit, args, match", [
    (lambda lines: lines.insert(7, "red,1,0"), [], "data.csv, line 8: expected 4 fields, found 3"),
    (lambda lines: lines.__setitem__(5, "red,2.5,0,good"), [],
     "data.csv, line 6, column 'size': '2.5' is not a non-negative integer code"),
    (lambda lines: lines.__setitem__(4, "red,-1,0,good"), [],
     "line 5, column 'size': '-1' is not a non-negative integer code"),
    (lambda lines: lines.__setitem__(3, "red,,0,good"), [], "line 4, column 'size': empty value"),
    (lambda lines: None, ["--signal", "colour=red"], "unknown column 'colour'"),
    (lambda lines: None, ["--signal", "size=big"], "'big' is not a non-negative integer code"),
    (lambda lines: None, ["--target", "great"], "'great' is not a value"),
    (lambda lines: None, ["--n", "10,5000"], "5000 exceeds the 3000 data lines"),
    (lambda lines: None, ["--delta", "1.5"], "--delta must lie in \\(0, 1\\)"),
    (lambda lines: None, ["--label-column", "weight"], "'weight' is not a column"),
    (lambda lines: lines.__setitem__(5, "red,100000000000000000000,0,good"), [],
     "data.csv, line 6, column 'size': '100000000000000000000' is too large for a category code"),
])
def test_cli_errors_name_the_file_line_and_column(tmp_path, capsys, edit, args, match):
  path = _write_csv(tmp_path / "data.csv")
  lines = path.read_text().splitlines()
  edit(lines)
  path.write_text("\n".join(lines) + "\n")
  base = {"--signal": "color=red", "--target": "good", "--n": "50,100"}
  for flag, value in zip(args[::2], args[1::2]):
    base[flag] = value
  argv = ["finite-sample", str(path)] + [item for pair in base.items() for item in pair]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err
  assert "acajax finite-sample: error:" in err
  assert re.search(match, err), err


@pytest.mark.parametrize("name", ["CategoricalData", "DataError", "csv_report", "parse_signal",
                                  "plot_curves", "read_categorical_csv"])
def test_old_statistical_paths_warn_and_give_the_same_object(name):
  message = f"acajax.statistical.{name} moved to acajax.runs.finite_sample.{name}"
  with pytest.warns(DeprecationWarning, match=re.escape(message)):
    old = getattr(st, name)
  assert old is getattr(fs, name)
