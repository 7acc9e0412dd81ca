"""Planting signals in data: members, strategies, masses used (SPEC §1).

The empirical counterpart of :mod:`acajax.mixtures`. Where the exact engine
pushes a table forward, this module takes N samples (drawn from a finite P0
or read from a dataset), gives each collective a disjoint random subset of
round(alpha_c N) members and applies its strategy to their (x, y):

* members are index arrays into the N samples (:func:`assign_members`);
* a signal is a function on a batch of features, x -> g(x);
* a strategy is a function ``strategy(x, y) -> (x', y')`` on the members'
  features and labels (:func:`feature_label`, :func:`feature_only`); noise
  splits a collective's members into followers, abstainers, wrong-signal and
  wrong-label planters (SPEC §1, ``CoordinationNoise``).

Everything here is host-side NumPy: data of any kind (integer points, images,
strings in an object array) is indexed, never traced. The learners then train
on the planted data (:mod:`acajax.learners`); success is measured on the base
population with the collective's signal applied (:func:`success`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "Collective",
    "PlantingError",
    "PlantingReport",
    "Signal",
    "StrategyFn",
    "assign_members",
    "feature_label",
    "feature_only",
    "member_counts",
    "plant",
    "signal_test_set",
    "success",
]

Signal = Callable[[np.ndarray], np.ndarray]
"""x -> g(x) on a batch of features (first axis: samples)."""

StrategyFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(x, y) -> (x', y') on a batch of members."""

STRATEGIES = ("feature_label", "feature_only")


class PlantingError(ValueError):
  """A collective cannot be planted as asked (too few samples, bad masses)."""


def feature_label(signal: Signal, target: int) -> StrategyFn:
  """Feature-label strategy h(x, y) = (g(x), y_c) on members' data (SPEC §1).

  Args:
    signal: the signal map g, on a batch of features.
    target: the target label y_c.

  Returns:
    The strategy, a function (x, y) -> (x', y').

  Examples:
    >>> import numpy as np
    >>> from acajax import planting
    >>> h = planting.feature_label(lambda x: np.full_like(x, 4), 1)
    >>> [v.tolist() for v in h(np.array([0, 2]), np.array([0, 2]))]
    [[4, 4], [1, 1]]
  """
  def strategy(x, y):
    return signal(x), np.full_like(y, target)
  return strategy


def feature_only(signal: Signal, target: int) -> StrategyFn:
  """Feature-only strategy: g applied to members labelled y_c only (SPEC §1).

  Members whose label is not the target keep their data.

  Args:
    signal: the signal map g.
    target: the target label y_c.

  Returns:
    The strategy, a function (x, y) -> (x', y').

  Examples:
    >>> import numpy as np
    >>> from acajax import planting
    >>> h = planting.feature_only(lambda x: np.full_like(x, 4), 1)
    >>> [v.tolist() for v in h(np.array([0, 2]), np.array([1, 2]))]
    [[4, 2], [1, 2]]
  """
  def strategy(x, y):
    x = np.array(x, copy=True)
    keep = np.asarray(y) == target
    if np.any(keep):
      x[keep] = signal(x[keep])
    return x, np.asarray(y)
  return strategy


_BUILDERS = {"feature_label": feature_label, "feature_only": feature_only}


@dataclasses.dataclass(frozen=True)
class Collective:
  """One collective: mass, target, signal, strategy and coordination noise.

  The noise fractions follow ``mixtures.CoordinationNoise`` (SPEC §1): of the
  collective's members, a fraction ``abstain`` keeps its data,
  ``wrong_signal`` plants a random signal (``random_signal`` of
  :func:`plant`), ``wrong_label`` acts for a label drawn uniformly from the
  other K - 1; the rest follow the strategy.

  Attributes:
    mass: alpha_c, the intended fraction of the N samples.
    target: the target label y_c.
    signal: the signal map g_c on a batch of features.
    strategy: ``"feature_label"`` or ``"feature_only"``.
    abstain, wrong_signal, wrong_label: noise fractions, each in [0, 1],
      with sum at most 1.
    name: optional label for reports.
  """
  mass: float
  target: int
  signal: Signal
  strategy: str = "feature_label"
  abstain: float = 0.0
  wrong_signal: float = 0.0
  wrong_label: float = 0.0
  name: str | None = None

  def __post_init__(self):
    if self.strategy not in STRATEGIES:
      raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}; "
                       f"got {self.strategy!r}")
    if not callable(self.signal):
      raise TypeError(f"signal must be a function x -> g(x); got {type(self.signal).__name__}")
    fractions = dict(abstain=self.abstain, wrong_signal=self.wrong_signal,
                     wrong_label=self.wrong_label)
    for key, value in fractions.items():
      if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{key} must lie in [0, 1]; got {value}")
    if sum(fractions.values()) > 1.0 + 1e-12:
      raise ValueError(f"abstain + wrong_signal + wrong_label must be <= 1; got "
                       f"{sum(fractions.values())}")
    if not float(self.mass) >= 0.0:
      raise ValueError(f"mass must be >= 0; got {self.mass}")

  def strategy_fn(self, target: int | None = None, signal: Signal | None = None) -> StrategyFn:
    """The strategy function, optionally with another target or signal."""
    return _BUILDERS[self.strategy](self.signal if signal is None else signal,
                                    self.target if target is None else target)


def member_counts(num_samples: int, masses: Sequence[float]) -> np.ndarray:
  """round(alpha_c N) per collective, checked (half-way rounds up).

  Args:
    num_samples: N, the number of samples.
    masses: (M,) masses alpha_c.

  Returns:
    (M,) int array of member counts.

  Raises:
    PlantingError: a collective would get no member, or the counts exceed N.

  Examples:
    >>> from acajax import planting
    >>> planting.member_counts(1000, [.05, .0125]).tolist()
    [50, 13]
  """
  masses = np.asarray(masses, dtype=float)
  if masses.ndim != 1:
    raise PlantingError(f"masses must have shape (M,); got shape {masses.shape}")
  if np.any(masses < 0):
    raise PlantingError(f"masses must be >= 0; got {masses.tolist()}")
  counts = np.floor(masses * num_samples + 0.5).astype(int)
  for c, (mass, count) in enumerate(zip(masses, counts)):
    if count == 0:
      need = int(np.ceil(0.5 / mass)) if mass > 0 else None
      hint = f"; N >= {need} would give it one" if need else ""
      raise PlantingError(
          f"collective {c} (mass {mass:g}) would get no member among N = {num_samples} "
          f"samples: round(mass * N) = 0{hint}")
  if counts.sum() > num_samples:
    raise PlantingError(f"the collectives need {counts.sum()} members but there are only "
                        f"N = {num_samples} samples (masses sum to {masses.sum():g})")
  return counts


def assign_members(num_samples: int, masses: Sequence[float],
                   rng: np.random.Generator | int) -> tuple[np.ndarray, ...]:
  """Disjoint random member sets, round(alpha_c N) each (SPEC §1).

  Args:
    num_samples: N.
    masses: (M,) masses alpha_c.
    rng: a NumPy Generator or a seed.

  Returns:
    M sorted int arrays of sample indices, pairwise disjoint.

  Raises:
    PlantingError: as :func:`member_counts`.

  Examples:
    >>> from acajax import planting
    >>> members = planting.assign_members(100, [.1, .05], rng=0)
    >>> [len(m) for m in members], len(set(members[0]) & set(members[1]))
    ([10, 5], 0)
  """
  counts = member_counts(num_samples, masses)
  rng = np.random.default_rng(rng)
  order = rng.permutation(num_samples)
  ends = np.cumsum(counts)
  return tuple(np.sort(order[end - count:end]) for count, end in zip(counts, ends))


class PlantingReport(NamedTuple):
  """What planting did, per collective.

  Attributes:
    members: M int arrays, the members' indices.
    counts: (M,) members per collective.
    masses_used: (M,) counts / N, the masses actually planted.
    followers: (M,) members who applied the strategy as intended.
    abstained, wrong_signal, wrong_label: (M,) members in each noise group.
    changed: (M,) members whose (x, y) the planting changed.
  """
  members: tuple[np.ndarray, ...]
  counts: np.ndarray
  masses_used: np.ndarray
  followers: np.ndarray
  abstained: np.ndarray
  wrong_signal: np.ndarray
  wrong_label: np.ndarray
  changed: np.ndarray


def _changed(before, after) -> np.ndarray:
  before, after = np.asarray(before), np.asarray(after)
  if before.ndim == 1:
    return before != after
  return np.any((before != after).reshape(len(before), -1), axis=1)


def plant(x, y, collectives: Sequence[Collective], rng: np.random.Generator | int, *,
          num_labels: int | None = None, members: Sequence[np.ndarray] | None = None,
          random_signal: Signal | None = None) -> tuple[np.ndarray, np.ndarray, PlantingReport]:
  """Applies every collective's strategy to its own members.

  Noise groups are drawn at random inside each collective (round(fraction *
  count) members each); wrong-label members draw their label uniformly from
  the K - 1 labels other than the target.

  Args:
    x: (N, ...) features: an array of any dtype (object arrays for text).
    y: (N,) integer labels.
    collectives: the M :class:`Collective` s.
    rng: Generator or seed; members, noise groups and wrong labels use it.
    num_labels: K (default: max label + 1 over y and the targets).
    members: optional M disjoint index arrays (default: :func:`assign_members`).
    random_signal: a signal drawing a random point per sample; required when
      a collective has ``wrong_signal > 0``.

  Returns:
    ``(x_planted, y_planted, report)``; the inputs are not modified.

  Raises:
    PlantingError: as :func:`member_counts`, or overlapping ``members``.
    ValueError: ``wrong_signal > 0`` without ``random_signal``; shapes.

  Examples:
    >>> import numpy as np
    >>> from acajax import planting
    >>> c = planting.Collective(mass=.2, target=1, signal=lambda x: np.full_like(x, 9))
    >>> x, y, report = planting.plant(np.zeros(10, int), np.zeros(10, int), [c], rng=0)
    >>> int((x == 9).sum()), int(y.sum()), report.masses_used.tolist()
    (2, 2, [0.2])
  """
  rng = np.random.default_rng(rng)
  x_out = np.array(x, copy=True)
  y_out = np.array(y, copy=True)
  if y_out.ndim != 1 or len(y_out) != len(x_out):
    raise ValueError(f"y must have shape ({len(x_out)},) to match x; got shape {y_out.shape}")
  num = len(x_out)
  if num_labels is None:
    num_labels = int(max([y_out.max(initial=0)] + [c.target for c in collectives])) + 1
  if members is None:
    members = assign_members(num, [c.mass for c in collectives], rng)
  else:
    members = tuple(np.sort(np.asarray(m, dtype=int)) for m in members)
    if len(members) != len(collectives):
      raise ValueError(f"members must hold {len(collectives)} index arrays; got {len(members)}")
    flat = np.concatenate(members) if members else np.zeros(0, int)
    if len(np.unique(flat)) != len(flat):
      raise PlantingError("members of different collectives must be disjoint")
  stats = np.zeros((5, len(collectives)), int)
  for c, (collective, idx) in enumerate(zip(collectives, members)):
    if collective.wrong_signal > 0 and random_signal is None:
      raise ValueError(f"collective {c} has wrong_signal = {collective.wrong_signal} but no "
                       "random_signal was given")
    idx = rng.permutation(idx)
    sizes = [int(np.floor(f * len(idx) + 0.5)) for f in
             (collective.abstain, collective.wrong_signal, collective.wrong_label)]
    bounds = np.cumsum([0] + sizes)
    bounds = np.minimum(bounds, len(idx))
    abstain = idx[bounds[0]:bounds[1]]
    wrong_sig = idx[bounds[1]:bounds[2]]
    wrong_lab = idx[bounds[2]:bounds[3]]
    follow = idx[bounds[3]:]
    before_x, before_y = x_out[idx].copy(), y_out[idx].copy()
    if len(follow):
      x_out[follow], y_out[follow] = collective.strategy_fn()(x_out[follow], y_out[follow])
    if len(wrong_sig):
      x_out[wrong_sig], y_out[wrong_sig] = collective.strategy_fn(signal=random_signal)(
          x_out[wrong_sig], y_out[wrong_sig])
    if len(wrong_lab):
      others = np.array([k for k in range(num_labels) if k != collective.target])
      labels = rng.choice(others, size=len(wrong_lab))
      for label in np.unique(labels):
        sel = wrong_lab[labels == label]
        x_out[sel], y_out[sel] = collective.strategy_fn(target=int(label))(x_out[sel], y_out[sel])
    changed = _changed(before_x, x_out[idx]) | (before_y != y_out[idx])
    stats[:, c] = [len(follow), len(abstain), len(wrong_sig), len(wrong_lab), changed.sum()]
  counts = np.array([len(m) for m in members], int)
  report = PlantingReport(members=tuple(members), counts=counts, masses_used=counts / num,
                          followers=stats[0], abstained=stats[1], wrong_signal=stats[2],
                          wrong_label=stats[3], changed=stats[4])
  return x_out, y_out, report


def signal_test_set(x, signal: Signal) -> np.ndarray:
  """The base population with a collective's signal applied: g_c(x) for every x.

  Args:
    x: (N_test, ...) base features (not planted).
    signal: the collective's signal map.

  Returns:
    (N_test, ...) features g_c(x).
  """
  return signal(np.array(x, copy=True))


def success(predictions, target: int, weights=None) -> float:
  """Measured success S_c = mean 1[f(g_c(x)) = y_c] over the signal test set (SPEC §2).

  Args:
    predictions: (N_test,) or (B, N_test) labels f(g_c(x)).
    target: y_c.
    weights: optional (N_test,) weights of the test points (e.g. P0_X on a
      finite table, for the population success); default uniform.

  Returns:
    The success, a float or a (B,) array.

  Examples:
    >>> from acajax import planting
    >>> planting.success([1, 1, 0, 1], 1)
    0.75
  """
  hits = (np.asarray(predictions) == target).astype(float)
  if weights is None:
    out = hits.mean(axis=-1)
  else:
    weights = np.asarray(weights, float)
    out = hits @ weights / weights.sum()
  return float(out) if np.ndim(out) == 0 else out
