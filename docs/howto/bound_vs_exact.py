"""Compare the closed-form bounds with the exact success on finite tables.

Run: python docs/howto/bound_vs_exact.py [OUT_DIR]
"""

import pathlib
import sys

import jax
import numpy as np

from acajax import mixtures
from acajax.runs import figures, tables

# The worked example (theory guide, section 10): six points, three labels.
P0 = np.array([[.10, .05, .05], [.05, .15, .00], [.10, .05, .05],
               [.05, .05, .10], [.04, .03, .03], [.03, .03, .04]])
MAPS = np.array([[4] * 6, [5] * 6, [4, 5, 4, 5, 4, 5]])   # g_c as index arrays
TARGETS = np.array([1, 2, 1])
MASSES = np.array([.06, .04, .03])


def random_instances(key, num, *, points=6, labels=3, collectives=2):
  """Random finite scenarios: P0, signal maps, targets and masses, stacked."""
  k0, k1, k2, k3 = jax.random.split(key, 4)
  p0 = jax.random.dirichlet(k0, np.ones(points * labels), (num,)).reshape(num, points, labels)
  maps = jax.random.randint(k1, (num, collectives, points), 0, points)
  targets = jax.random.randint(k2, (num, collectives), 0, labels)
  masses = jax.random.uniform(k3, (num, collectives), minval=.02, maxval=.3)
  return p0, maps, targets, masses


def main(out_dir="bound-vs-exact", num_instances=2000, eps=0.05, seed=0):
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)

  # 1. One scenario: every applicable bound beside the exact worst-case success.
  report = mixtures.tightness_report(P0, MAPS, TARGETS, MASSES, eps=eps)
  print(tables.tightness_frame(report)[["exact", "theorem1", "theorem1_pairwise"]].round(4))

  # 2. Many random scenarios in one call: the report is a pytree, so it vmaps.
  p0, maps, targets, masses = random_instances(jax.random.key(seed), num_instances)
  batch = jax.jit(jax.vmap(lambda *s: mixtures.tightness_report(*s, eps=eps)))(
      p0, maps, targets, masses)
  exact, theorem1 = np.asarray(batch.exact), np.asarray(batch.bounds["theorem1"])
  violations = int(np.sum(theorem1 > exact + 1e-9))
  print(f"{exact.size} collectives: Theorem 1 above the exact success {violations} times; "
        f"informative (bound > 0) {np.mean(theorem1 > 0):.0%} of the time")
  ax = figures.bound_vs_exact(theorem1, exact, label="Theorem 1")
  figures.save(ax, out / "bound_vs_exact.png")
  return exact, theorem1


if __name__ == "__main__":
  main(*sys.argv[1:2])
