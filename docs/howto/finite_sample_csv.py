"""A finite-sample bound on a collective's success, from a CSV of its data.

Run: python docs/howto/finite_sample_csv.py [OUT_DIR]
"""

import pathlib
import sys

import numpy as np

from acajax import statistical
from acajax.runs import finite_sample


def write_example_csv(path, num_lines, seed=0):
  """A stand-in for your data: three categorical columns and a label, header first."""
  rng = np.random.default_rng(seed)
  colors = np.array(["blue", "green", "red"])
  lines = ["color,size,shape,grade"]
  for _ in range(num_lines):
    color, size, shape = colors[rng.integers(3)], rng.integers(4), rng.integers(2)
    grade = "good" if (size + shape) % 2 == 0 and rng.random() < .8 else "bad"
    lines.append(f"{color},{size},{shape},{grade}")
  path.write_text("\n".join(lines) + "\n")
  return path


def main(out_dir="finite-sample-howto", num_lines=20_000, sizes=(1_000, 5_000, 10_000, 20_000),
         platform_size=100_000):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  csv_path = write_example_csv(out / "data.csv", num_lines)

  # 1. The same as
  #    acajax finite-sample data.csv --signal "color=red,shape=0" --target good,bad \
  #        --n 1000,5000,10000,20000 --platform-size 100000 --delta 0.05 --out OUT
  # The collective holds the first n lines of the file; the platform trains on
  # N = platform_size samples; one bound column per target.
  frame, paths = finite_sample.csv_report(
      csv_path, signal="color=red,shape=0", target="good,bad", sizes_n=list(sizes),
      num_samples=platform_size, delta=0.05, out_dir=out)
  print(frame.round(3).to_string(index=False))

  # 2. The same numbers from the library, step by step (SPEC section 9).
  data = finite_sample.read_categorical_csv(csv_path)
  setting = finite_sample.parse_signal("color=red,shape=0", data)
  largest = max(sizes)
  codes = statistical.signal_codes(data.rows[:largest], setting)
  counts = statistical.prefix_count_tables(
      codes.image, codes.member, data.labels[:largest], np.array(sizes),
      num_support=codes.num_support, num_labels=len(data.label_categories))
  good = data.label_categories.index("good")
  bound = statistical.feature_label_bound(
      counts, target=good, num_samples=platform_size, num_test=platform_size,
      num_signal_points=codes.num_signal_points, delta=0.05)
  np.testing.assert_allclose(np.asarray(bound, float), frame["bound_good"], rtol=1e-6)
  print("files:", ", ".join(p.name for p in paths))
  return frame


if __name__ == "__main__":
  main(*sys.argv[1:2])
