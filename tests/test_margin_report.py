"""The margin report of validation runs (``margin_share``, ``exact_on_margin_points``).

Recomputed with NumPy from the learner's predictions (captured from the run)
and the finite table: the mixture, each point's smallest TV distance to a
conditional under which the prediction is a most likely label (by bisection
on the level of the top labels, not the sorted-sum formula of
``validate.pointwise_suboptimality``), the margins, and the two sums.
"""

import numpy as np
import pytest

from acajax import learners
from acajax.runs import validate

P0 = np.array([(.18, .09, .04), (.09, .18, .02), (.135, .09, .03), (.045, .09, .0),
               (.003, .002, .005), (.0, .0, .0)])
SIGNALS = ((4, 4, 5, 5, 4, 5), (5, 5, 4, 3, 5, 5))   # point 5 has no base mass: pure images
TARGETS = (0, 1)


def _spec(eps):
  cols = tuple(validate.CollectiveSpec(mass, target, signal)
               for mass, target, signal in zip((.06, .03), TARGETS, SIGNALS))
  # Four Adam steps: an undertrained learner, so some signal points are missed (eps_hat >= 1/2).
  return validate.ValidationSpec(name="margins", dataset="finite_table", learner="logistic",
                                 p0=tuple(map(tuple, P0)), collectives=cols,
                                 configurations=((0,), (1,), (0, 1)), seeds=(0, 1),
                                 mass_grid=(0.5, 2.0), eps=eps, num_samples=3000, steps=4,
                                 learning_rate=0.05)


def _min_tv(q, k):
  """min TV(Q, q) over Q with k a most likely label: raise k and cut the others to a level L."""
  if q[k] >= q.max():
    return 0.0
  others = np.delete(q, k)
  lo, hi = q[k], q.max()
  for _ in range(200):           # cut(L) - raise(L) decreases in L; TV is their common value
    level = (lo + hi) / 2
    cut, lift = np.clip(others - level, 0, None).sum(), level - q[k]
    lo, hi = (level, hi) if cut > lift else (lo, level)
  return (lo + hi) / 2 - q[k]


def _reference(masses, active, pred, eps):
  """(share, exact on those points, per-point TV, margins at the images) of each collective."""
  p0_x = P0.sum(axis=1)
  joint = (1 - masses.sum()) * P0
  for mass, c in zip(masses, active):
    np.add.at(joint[:, TARGETS[c]], np.array(SIGNALS[c]), mass * p0_x)
  total = joint.sum(axis=1)
  tv = np.array([_min_tv(row / t, k) if t > 0 else 0.0 for row, t, k in zip(joint, total, pred)])
  share, exact, gaps = [], [], []
  for c in active:
    z = np.array(SIGNALS[c])
    own = joint[z, TARGETS[c]]
    best_other = np.delete(joint[z], TARGETS[c], axis=1).max(axis=1)
    margin = (own - best_other) / total[z]
    met = tv[z] <= eps
    share.append(p0_x @ met)
    exact.append(p0_x @ (met & (margin > 2 * eps)))
    gaps += list(np.abs(tv[z][tv[z] > 0] - eps)) + list(np.abs(margin - 2 * eps))
  return np.array(share), np.array(exact), min(gaps)


@pytest.mark.parametrize("eps", [0.0, 0.05])
def test_margin_report_matches_numpy(monkeypatch, eps):
  predictions = []
  original = learners.predict_many

  def capture(model, features):
    out = original(model, features)
    predictions.append(np.asarray(out)[0])
    return out

  monkeypatch.setattr(learners, "predict_many", capture)
  frame = validate.run(_spec(eps)).frame
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  jobs = list(per.groupby(["configuration", "mass_scale", "seed"], sort=False))
  assert len(jobs) == len(predictions) == 12
  for (_, rows), pred in zip(jobs, predictions):
    active = [int(c) for c in rows["collective"]]
    share, exact, gap = _reference(rows["mass_used"].to_numpy(), active, pred, eps)
    assert gap > 1e-9      # no point near a threshold but off it: the rounding slack is moot
    np.testing.assert_allclose(rows["margin_share"], share, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rows["exact_on_margin_points"], exact, rtol=0, atol=1e-12)

  # What holds by SPEC §2 and Lemma 1 (module docstring of runs.validate).
  withheld = per["eps_hat"] >= 0.5
  assert withheld.any() and (per["bound_note"][withheld] == "eps_hat >= 1/2").all()
  assert (per["margin_share"][withheld] < 1).all()
  assert (per["margin_share"][per["eps_hat"] <= eps] == 1).all()
  assert np.all(per["exact_on_margin_points"] <= per["success"] + 1e-12)
  assert np.all(per["exact_on_margin_points"] <= per["margin_share"] + 1e-12)
  assert np.all(per["exact_on_margin_points"] <= per["exact_at_eps"] + 1e-12)
  assert (per["margin_share"] < 1).any() and (per["exact_on_margin_points"] > 0).any()
  # The summary rows carry no margin report.
  assert frame["margin_share"][frame["collective"].isin(["S_min", "S_w"])].isna().all()
