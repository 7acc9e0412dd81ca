"""The resume study at real size: ``acajax validate`` on 25,000 + 5,000 resumes.

A generated corpus with the shape of the public resume corpus (10 classes,
resumes of 400-800 words drawn from a Zipf vocabulary of 5,000 words plus
200 topical words per class) is written in the ``id:::labels:::text`` layout
and validated as a ``resume_file`` spec: 2 collectives inserting a character
every 20 words, alone and together (configurations [[0], [1], [0, 1]]), 2
seeds: 6 models, 300 full-batch Adam steps each (the text learner's default
schedule). The whole run (reading, featurising, planting, training,
evaluation and the theory columns) is timed, and the process's peak RSS
(``resource.getrusage``) printed at the end.

``--compare N`` also runs the old dense path (every model's planted (N, d)
matrix materialised, :func:`acajax.learners.train_many`) and the shared-pool
path (:func:`acajax.learners.train_rows`) on the same N training resumes,
each in a fresh child process (its own peak RSS), and prints the ratios.
``--stability`` trains one data split from several initialisation seeds
with a constant Adam 0.1, and with warm-up + cosine schedules peaking at
0.01, 0.03 (the text default) and 0.1, and prints the spread of clean
accuracy, the final losses and the convergence report.

Run from the repository root::

  .venv/bin/python benchmarks/bench_resume_real_size.py            # real size
  .venv/bin/python benchmarks/bench_resume_real_size.py --compare 5000
  .venv/bin/python benchmarks/bench_resume_real_size.py --stability
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

NUM_LABELS = 10
SIGNALS = ("\u00a7", "\u00b6")   # § and ¶: absent from the generated texts
TOPICAL_SHARE = 0.1     # words from a class vocabulary (clean accuracy about 0.75)
OFF_TOPIC = 0.4         # of which from another class than the resume's


def _peak_rss_mb() -> float:
  """Peak resident memory of this process so far, MiB.

  Linux: ``VmHWM`` of ``/proc/self/status`` (the high-water mark of this
  process image; ``ru_maxrss`` would carry a forking parent's peak over
  ``exec``); elsewhere ``resource.getrusage`` (KiB on Linux, bytes on macOS).
  """
  try:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
      if line.startswith("VmHWM:"):
        return int(line.split()[1]) / 1024
  except OSError:
    pass
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _words(rng, count: int, low: int = 3, high: int = 10) -> list[str]:
  letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
  lengths = rng.integers(low, high + 1, count)
  return ["".join(rng.choice(letters, n)) for n in lengths]


def generate_corpus(num: int, *, seed: int = 0, low: int = 400, high: int = 800,
                    topical_share: float = TOPICAL_SHARE, off_topic: float = OFF_TOPIC):
  """``num`` resume-like texts and labels: (texts, labels, label names).

  Each word is common (Zipf over 5,000 words) with probability 1 -
  ``topical_share``, else topical: from another class with probability
  ``off_topic``, else from the resume's class (200 words per class); a few
  words carry a capital, a digit or punctuation.
  """
  rng = np.random.default_rng(seed)
  common = np.array(_words(rng, 5000), dtype=object)
  topical = np.array(_words(rng, 200 * NUM_LABELS, 4, 12), dtype=object).reshape(NUM_LABELS, 200)
  zipf = 1.0 / np.arange(1, len(common) + 1) ** 1.1
  zipf /= zipf.sum()
  decorations = np.array(["", "", "", "", "", "", ",", ".", ":", "2019", "(", ";"], dtype=object)
  labels = rng.integers(0, NUM_LABELS, num)
  texts = []
  for label in labels:
    n = int(rng.integers(low, high + 1))
    words = common[rng.choice(len(common), n, p=zipf)]
    is_topical = rng.random(n) < topical_share
    other = rng.random(n) < off_topic
    cls = np.where(other, rng.integers(0, NUM_LABELS, n), label)
    words = np.where(is_topical, topical[cls, rng.integers(0, 200, n)], words)
    words = words + decorations[rng.integers(0, len(decorations), n)]
    caps = rng.random(n) < 0.05
    words[caps] = [w.capitalize() for w in words[caps]]
    texts.append(" ".join(words))
  names = tuple(f"Job_{k:02d}" for k in range(NUM_LABELS))
  return texts, labels, names


def write_corpus(path: pathlib.Path, num: int, seed: int = 0) -> None:
  texts, labels, names = generate_corpus(num, seed=seed)
  with open(path, "w", encoding="utf-8") as out:
    for i, (text, label) in enumerate(zip(texts, labels)):
      out.write(f"{i}:::{names[label]}:::{text}\n")


SPEC = """\
name = "resume-real-size"
dataset = "resume_file"
learner = "ngram"
seeds = [0, 1]
configurations = [[0], [1], [0, 1]]
mass_grid = [{mass_grid}]

[data]
path = "{path}"
num_samples = {num}
test_samples = {test}

[train]
steps = {steps}
models_per_call = 64

[[collectives]]
name = "section"
mass = 0.05
target = "Job_03"
signal = "\u00a7"

[[collectives]]
name = "pilcrow"
mass = 0.05
target = "Job_07"
signal = "\u00b6"
"""


def real_size(num: int, test: int, steps: int, mass_grid: str = "1.0") -> dict:
  """The validation run at ``num`` + ``test`` resumes; returns its figures."""
  from acajax.runs import validate  # deferred: after the CPU device count is set
  start = time.perf_counter()
  with tempfile.TemporaryDirectory() as folder:
    corpus = pathlib.Path(folder) / "resumes.txt"
    write_corpus(corpus, num + test)
    generated = time.perf_counter() - start
    spec_path = pathlib.Path(folder) / "spec.toml"
    spec_path.write_text(SPEC.format(path=corpus, num=num, test=test, steps=steps,
                                     mass_grid=mass_grid), encoding="utf-8")
    spec = validate.load(spec_path)
    result = validate.run(spec, pathlib.Path(folder) / "out")
    frame = result.frame
  total = time.perf_counter() - start
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  models = frame.drop_duplicates(["configuration", "mass_scale", "seed"])
  return {"num_samples": num, "test_samples": test, "steps": steps, "models": len(models),
          "corpus_generation_s": round(generated, 1),
          "validate_s": round(total - generated, 1),
          "train_s": round(result.compile_and_train_s, 1),
          "total_s": round(total, 1), "peak_rss_mb": round(_peak_rss_mb()),
          "clean_accuracy": [round(v, 3) for v in models["clean_accuracy"]],
          "success": [round(v, 3) for v in per["success"]],
          "converged": [bool(v) for v in models["converged"]],
          "loss_change": [float(f"{v:.2g}") for v in models["loss_change"]]}


def _planted_jobs(num: int):
  """Data of the old-vs-new comparison: texts, and per model planted texts and labels."""
  from acajax import datasets, planting  # deferred: after the CPU device count is set
  texts, labels, _ = generate_corpus(num)
  x, y = np.array(texts, dtype=object), np.asarray(labels)
  jobs = []
  for seed in (0, 1):
    for active in ((0,), (1,), (0, 1)):
      cols = [planting.Collective(mass=0.05, target=(3, 7)[c],
                                  signal=datasets.insertion_signal(SIGNALS[c])) for c in active]
      rng = np.random.default_rng([seed, len(jobs)])
      px, py, report = planting.plant(x, y, cols, rng, num_labels=NUM_LABELS)
      jobs.append((seed, px, py, np.concatenate(report.members)))
  return x, jobs


def compare_child(path: str, num: int, steps: int) -> dict:
  """One of the two paths on ``num`` resumes (run in a fresh process)."""
  import jax  # deferred: after the CPU device count is set
  from acajax import datasets, learners  # deferred: after the CPU device count is set
  x, jobs = _planted_jobs(num)
  config = dataclasses.replace(learners.TEXT_CONFIG, steps=steps)
  keys = jax.vmap(jax.random.key)(np.array([seed for seed, *_ in jobs]))
  start = time.perf_counter()
  if path == "dense":         # every model's planted matrix, as validate built them before
    base = datasets.hashed_ngrams(x)
    features = []
    for _, px, _, touched in jobs:
      f = base.copy()
      f[touched] = datasets.hashed_ngrams(px[touched])
      features.append(f)
    trained = learners.train_many("ngram", np.stack(features), np.stack([j[2] for j in jobs]),
                                  keys, num_labels=NUM_LABELS, config=config)
  else:                       # one shared pool: clean rows once, planted rows once
    index, rows = {}, []
    for _, px, _, touched in jobs:
      r = np.arange(num, dtype=np.int32)
      for i in touched:
        r[i] = index.setdefault(px[i], num + len(index))
      rows.append(r)
    pool = datasets.hashed_ngram_ids(list(x) + list(index))
    trained = learners.train_rows("ngram", pool, np.stack(rows), np.stack([j[2] for j in jobs]),
                                  keys, num_labels=NUM_LABELS, config=config)
  jax.block_until_ready(trained.params)
  seconds = time.perf_counter() - start
  return {"path": path, "num_samples": num, "models": len(jobs),
          "featurise_plant_train_s": round(seconds, 1), "peak_rss_mb": round(_peak_rss_mb()),
          "final_loss": [round(float(v), 4) for v in trained.final_loss]}


def stability(num: int, test: int, steps: int, seeds: int) -> dict:
  """Clean accuracy over initialisation seeds, same data: step size settings side by side."""
  import jax  # deferred: after the CPU device count is set
  from acajax import datasets, learners  # deferred: after the CPU device count is set
  texts, labels, _ = generate_corpus(num + test, seed=1)
  x = datasets.hashed_ngram_ids(texts)
  order = np.random.default_rng(0).permutation(num + test)     # one split for every model
  train, held = order[:num], order[num:]
  rows, y = np.tile(train, (seeds, 1)), np.tile(labels[train], (seeds, 1))
  keys = jax.random.split(jax.random.key(0), seeds)
  text = dataclasses.replace(learners.TEXT_CONFIG, steps=steps)
  out = {}
  for name, config in (("adam 0.1 constant", learners.TrainConfig(steps=steps)),
                       ("adam 0.01 warmup+cosine", dataclasses.replace(text, learning_rate=0.01)),
                       ("adam 0.03 warmup+cosine (default)", text),
                       ("adam 0.1 warmup+cosine", dataclasses.replace(text, learning_rate=0.1))):
    trained = learners.train_rows("ngram", x, rows, y, keys, num_labels=NUM_LABELS,
                                  config=config)
    accuracy = (learners.predict_many(trained, x.take(held)) == labels[held]).mean(axis=1)
    out[name] = {"clean_accuracy": [round(float(v), 3) for v in accuracy],
                 "spread": round(float(accuracy.max() - accuracy.min()), 3),
                 "final_loss": [round(float(v), 3) for v in trained.final_loss],
                 "loss_change": [float(f"{float(v):.2g}") for v in trained.loss_change],
                 "converged": [bool(v) for v in trained.converged]}
  return out


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num", type=int, default=25_000, help="training resumes")
  parser.add_argument("--test", type=int, default=5_000, help="test resumes")
  parser.add_argument("--steps", type=int, default=300, help="Adam steps per model")
  parser.add_argument("--mass-grid", default="1.0",
                      help="mass multipliers of the real-size spec, comma-separated (default "
                           "1.0: 6 models; 0.5,1,2: 18 models)")
  parser.add_argument("--compare", type=int, default=0, metavar="N",
                      help="also compare the old dense path on N resumes (child processes)")
  parser.add_argument("--stability", action="store_true",
                      help="clean accuracy over initialisation seeds, per step size setting")
  parser.add_argument("--seeds", type=int, default=4, help="seeds of --stability")
  parser.add_argument("--child", choices=("dense", "pool"), help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  import jax  # deferred: the device count is set right after import, as acajax validate does
  jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
  started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
  if args.child:
    print(json.dumps(compare_child(args.child, args.num, args.steps)))
    return 0
  if args.stability:
    print(json.dumps({"started": started, "stability": stability(
        args.num, args.test, args.steps, args.seeds)}, indent=1))
    return 0
  report = {"started": started, "cpus": os.cpu_count(), "real_size": real_size(
      args.num, args.test, args.steps, args.mass_grid)}
  if args.compare:
    children = {}
    for path in ("dense", "pool"):
      done = subprocess.run([sys.executable, __file__, "--child", path, "--num",
                             str(args.compare), "--steps", str(args.steps)],
                            capture_output=True, text=True, check=True)
      children[path] = json.loads(done.stdout.strip().splitlines()[-1])
    dense, pool = children["dense"], children["pool"]
    report["compare"] = dict(children, time_ratio=round(
        dense["featurise_plant_train_s"] / pool["featurise_plant_train_s"], 2),
        memory_ratio=round(dense["peak_rss_mb"] / pool["peak_rss_mb"], 2))
  print(json.dumps(report, indent=1))
  real = report["real_size"]
  print(f"real size: {real['models']} models on {real['num_samples']:,} + "
        f"{real['test_samples']:,} resumes: {real['total_s']:.1f} s, peak RSS "
        f"{real['peak_rss_mb']:,} MiB")
  return 0


if __name__ == "__main__":
  sys.exit(main())
