"""Soundness of the mixed-objective bounds: 10^5 random instances per form.

Each form of :mod:`acajax.bench._workloads.mixed_bounds` (a planter FL or FO
facing unplanters and erasers, an unplanter, an eraser, and the planter's
ceiling against an eraser) is checked against the exact engine of
:mod:`acajax.objectives` on ``--count`` random mixed populations (float64).
A form ships only with zero violations. For contrast, each form is also
checked in its *naive* version, which leaves the other collectives out (no
competition term): those violations show what the opponents cost, and that
the check can fail.

Run: ``.venv/bin/python -m benchmarks.check_mixed_bounds [--count N]``.
Writes ``benchmarks/results/mixed_bounds.json`` and the section between
``<!-- mixed:begin -->`` and ``<!-- mixed:end -->`` of
``benchmarks/README.md`` (``--no-readme`` to skip).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tqdm.auto import tqdm

from acajax.bench._env import environment
from acajax.bench._workloads import mixed_bounds

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- mixed:begin -->", "<!-- mixed:end -->"


def _table(results: list[dict], count: int) -> str:
  rows = ["| form | instances | violations | informative | out of domain | largest excess | "
          "naive form: violations |", "|---|---|---|---|---|---|---|"]
  for sound, naive in results:
    rows.append(f"| `{sound['form']}` | {sound['instances']:,} | **{sound['violations']}** | "
                f"{sound['informative']:,} | {sound['nan']:,} | {sound['worst_excess']:.1e} | "
                f"{naive['violations']:,} |")
  return "\n".join(rows)


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--count", type=int, default=100_000, help="instances per form")
  parser.add_argument("--seed", type=int, default=2026)
  parser.add_argument("--out", type=Path,
                      default=ROOT / "benchmarks" / "results" / "mixed_bounds.json")
  parser.add_argument("--no-readme", action="store_true")
  args = parser.parse_args(argv)
  start = time.perf_counter()
  results = []
  with tqdm(total=2 * args.count * len(mixed_bounds.FORMS), unit="instance") as bar:
    for form in mixed_bounds.FORMS:
      pair = [mixed_bounds.check(form, args.count, seed=args.seed, ignore_opponents=naive,
                                 progress=bar.update) for naive in (False, True)]
      results.append(pair)
      tqdm.write(f"{form}: {pair[0]['violations']} violations in {pair[0]['instances']:,} "
                 f"({pair[0]['informative']:,} informative); naive form "
                 f"{pair[1]['violations']:,}")
  report = dict(environment=environment(), count=args.count, seed=args.seed,
                seconds=time.perf_counter() - start,
                forms=[dict(sound=s, naive=n) for s, n in results])
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(json.dumps(report, indent=1))
  if not args.no_readme:
    readme = ROOT / "benchmarks" / "README.md"
    text = readme.read_text()
    section = (f"{BEGIN}\nCommand: `.venv/bin/python -m benchmarks.check_mixed_bounds "
               f"--count {args.count} --seed {args.seed}` ({report['seconds']:.0f} s, "
               f"float64). A violation is a bound above the exact value by more than "
               f"{mixed_bounds.TOLERANCE:g} (for the ceiling, below the exact best case); "
               f"informative: a lower bound above 0 (a ceiling below 1); largest excess: the most "
               f"a bound passed the exact value by (rounding; negative: never reached it); out of "
               f"domain: drawn on top and not checked, the bound is NaN (Theorem 2 where "
               f"p_c = 0).\n\n"
               f"{_table(results, args.count)}\n{END}")
    if BEGIN in text:
      text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
      text = text.rstrip() + "\n\n## Mixed objectives: soundness of the bounds\n\n" + section + "\n"
    readme.write_text(text)
  return report


if __name__ == "__main__":
  main()
