"""Recommender throughput: many biased-MF trainings in one call.

Workload: the default of ``examples/recommender_collectives.py``: synthetic
ratings (600 users in 10 clusters, 300 items, 24,000 ratings), biased MF of
rank 8 trained by 150 full-batch Adam steps (L2 0.1 per rating), one model
per (seed, collective size, homogeneity) with a targeted promoter's ratings
planted (sizes 10/20/50, homogeneity 0.1..1): 64 trainings (``--quick``: 8,
with 30 steps).

* acajax, one call: ``recommender.train_many``'s jitted trainer over all
  models, split over every local device (on CPU one per core, as ``acajax
  validate`` does) with the default chunking, and on one device with vmapped
  chunks of 4 (and, on accelerators, 64 and 256) and of all models.
* baseline, same process: ``recommender.train_one`` (jitted, compiled and
  warmed up apart) called once per model in a Python loop on the same data.

Workload, variants and baseline are those of ``acajax bench``
(:func:`acajax.bench._workloads.recommender.run`); this script writes their
record on its own. Run:
``.venv/bin/python -m benchmarks.bench_recommender [--quick] [--out PATH]``;
writes ``benchmarks/results/cpu_recommender.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from acajax.bench._env import split_cpu
from acajax.bench._workloads.recommender import run

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "cpu_recommender.json"


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small run (seconds)")
  parser.add_argument("--out", default=str(OUT), help="result JSON (default: %(default)s)")
  parser.add_argument("--trainings", type=int, default=None,
                      help="models in the call (default: 64; 8 with --quick)")
  args = parser.parse_args(argv)
  split_cpu()
  result = run(args.quick, args.trainings)
  out = Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(result, indent=2) + "\n")
  line = ", ".join(f"{k} {v['throughput']:.2f}/s ({v['ratio']:.2f}x, compile "
                   f"{v['compile_s']:.2f} s)" for k, v in result["variants"].items())
  print(f"{result['shapes']['trainings']} trainings: {line}; one at a time "
        f"{result['baseline_throughput']:.2f}/s; max |difference| "
        f"{result['max_abs_difference_vs_loop']:.2g} -> {out}")
  return result


if __name__ == "__main__":
  main()
