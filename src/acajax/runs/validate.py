"""Empirical validation: planted data, flax learners, bounds side by side.

A :class:`ValidationSpec` names a dataset, a learner, collectives (mass,
target, signal, strategy, noise), the collective configurations that act
(subsets of the collectives), seeds, a mass grid (multipliers of the
collectives' masses, or ``split``: shares of a budget, :func:`mass_at`) and optionally a grid of coordination-noise levels
(``noise_grid``: one noise kind, ``noise_kind``, set to ``level * scale`` for
the chosen collectives). :func:`run` plants every (configuration, mass,
noise level, seed) with :mod:`acajax.planting` and trains all the models in
one jitted, vmapped call per chunk (:func:`acajax.learners.train_many`).
Models of one seed share their initialisation and minibatch stream, and the
noise levels of one (configuration, mass, seed) share the members (and, for
abstention, nested abstainer sets): common random numbers, so differences
along an axis come from that axis.

**The evaluation table.** Every figure beside a measured success is computed
on one finite table, the data the success is measured on (SPEC §1–§3):

* on ``finite_table`` / ``climate_adaptation``: the population P0 itself
  (success is the population success, weights P0_X);
* on other data (digits, Gaussian mixtures, text): the held-out test sample.
  Its points and their signal images g_c(x_t) form a finite space; P0hat
  puts 1/N_test on each (x_t, y_t) (duplicates merge) and the signal maps
  send each x_t to the point g_c(x_t). Success measured on the test sample
  is exactly sum_x P0hat_X(x) 1[f(g_c(x)) = y_c] on this table.

The mixture P of the table is planted with the masses (and noise fractions)
actually used in training (SPEC §1), and beside each measured ``success``
the run reports, per collective:

* ``eps_hat``: the learner's own suboptimality (SPEC §2) at c's signal
  points: the largest, over the images g_c(x) of the base points, of the
  smallest TV distance to a conditional Q(.|z) under which f(z) is a most
  likely label (:func:`pointwise_suboptimality`), rounded up to the 0.001
  grid strictly above it (so that a margin of exactly 2 eps, counted as a
  success by SPEC §2, cannot flatter the learner). Lemma 1 is pointwise, so
  eps-suboptimality on c's signal points is all c's bound needs. On held-out
  text, digits or Gaussian data a signal image usually carries one planted
  label (the conditional is pure y_c), so one miss there costs the maximal
  1/2: the estimate never understates a learner's failures on signal points.
  On finite tables eps_hat is exact for the population mixture; on held-out
  samples it is exact for the table and a plug-in for the population (the
  table's conditionals are empirical), so the guarantee below is stated for
  the test sample the success is measured on.
* ``exact_success``: the exact worst-case success S_c^wc(eps_hat) of the
  table (SPEC §2), and ``bound``: Theorem 1 (pairwise form, all feature-label)
  or the sound Theorem 2 (all feature-only) at eps_hat from
  ``mixtures.scenario_parameters`` of the table (SPEC §4–§5). Both hold for
  this learner on this table by Lemma 1: success >= exact_success >= bound.
* ``eps_effective``: the smallest eps on the 0.001 grid at which the exact
  worst-case success falls below the measured success (by more than 1e-5,
  float32 rounding; 0.5: never).
* ``bound_at_eps`` / ``exact_at_eps``: the same at the spec's ``eps``: what
  an eps-suboptimal learner is guaranteed. They bound this learner only
  where ``eps_hat <= eps``; elsewhere they may exceed its success.
* ``bound_note``: why ``bound`` is NaN, or empty: ``eps_hat >= 1/2`` (the
  learner is not eps-suboptimal at c's signal points for any eps < 1/2:
  the theorems need eps < 1/2, SPEC §4, §11); ``coordination noise`` or
  ``mixed strategies`` (no closed form; ``exact_success`` still applies,
  SPEC §4–§5); ``p_c = 0`` (the sound Theorem 2 needs positivity, SPEC §5);
  ``wrong_signal off the table`` (on non-finite data the random signals of
  wrong-signal members land outside the table, so nothing is reported);
  ``training diverged`` (the model's loss or parameters became non-finite,
  :attr:`acajax.learners.Trained.diverged`: its row has ``diverged = True``
  and NaN for success and clean accuracy; it is reported, never scored).
* ``margin_share`` and ``exact_on_margin_points``: the margin report, what
  can honestly be said where no bound applies (``eps_hat >= 1/2``: the
  learner misses somewhere on c's signal points). With z = g_c(x), the
  learner *meets the margin condition* at z when it is eps-suboptimal
  there at the spec's ``eps`` (SPEC §2 per point,
  ``pointwise_suboptimality(z) <= eps``; at eps = 0: f(z) is a most likely
  label of P(.|z)). ``margin_share`` is the P0_X-share of base points whose
  image meets it (on held-out data: the share of signed test points);
  ``exact_on_margin_points`` is the exact worst-case success restricted to
  them, the sum over those x of P0_X(x) 1[m_c(z) > 2 eps], where Lemma 1
  forces f(z) = y_c (a strict margin: a tie at 2 eps may go against c).
  It is not divided by the share, and ``success >= exact_on_margin_points``
  always. Where ``eps_hat <= eps`` the share is 1 and the value is
  ``exact_at_eps`` (up to margins of exactly 2 eps); where ``eps_hat >=
  1/2`` (and eps < 0.498) the share is below 1. They are not a bound:
  which points meet the condition is read off the trained learner, so they
  explain a success and predict nothing for another learner. Where an
  image carries one planted label only (usual on held-out text), the
  learner meets the condition there exactly where it predicts y_c, so on
  such images both columns equal the measured success. NaN where
  ``bound_note`` is ``wrong_signal off the table`` or ``training
  diverged``.

**Text.** On ``synthetic_resumes`` and ``resume_file`` the learner sees
hashed character n-grams (:func:`acajax.datasets.hashed_ngrams`):
``[train] ngram_width`` buckets (default 1024) of the n-grams whose lengths
run over ``[train] ngram_range = [smallest, largest]`` (default [1, 2]);
they sit under ``[train]`` with the learner's other settings. The column
``signal_collision`` names the other acting collectives whose signal
character raises every bucket this collective's raises
(:func:`acajax.datasets.signal_collisions`; the same character counts):
the featurizer then gives this collective's signal no feature of its own
(empty: none; always empty on other datasets). A text collective's
``target`` may be a label name: ``resume_file`` classes are the corpus's
label names sorted (index k is the k-th name; a resume's first label is its
class), ``synthetic_resumes`` classes are ``datasets.RESUME_LABELS`` in
order. A ``resume_file`` ``data.path`` is an ``id:::labels:::text`` file, a
folder of ``NNNNN.txt`` + ``NNNNN.lab`` pairs or a zip of either
(:func:`acajax.datasets.read_resume_corpus`); it is read once in
:func:`run`, which checks the targets against its labels (an unknown name
is a :class:`SpecError` listing them) before training. Text is featurised
once, sparse (:func:`acajax.datasets.hashed_ngram_ids`): per seed one pool
of the clean training rows and every member's planted row (a planted text
seen twice is one row), and each model is trained on its rows of the pool
(:func:`acajax.learners.train_rows`: pool rows, labels, no matrix per
model; one call per seed and ``models_per_call`` models). The text learner
defaults to Adam at ``learning_rate = 0.03`` with ``schedule =
"warmup_cosine"`` (:data:`acajax.learners.TEXT_CONFIG`: linear warm-up over
``warmup = 0.1`` of the steps, cosine decay to ``decay_to = 0.1`` of the
peak); the other learners to a constant 0.1 (``schedule = "constant"``).
All five keys sit under ``[train]``.

**Convergence.** Every row reports its model's ``final_loss`` (the training
loss at the last step), ``loss_change`` (its relative change over the last
tenth of the steps, :data:`acajax.learners.CONVERGENCE_WINDOW`) and
``converged`` (``loss_change`` below
:data:`acajax.learners.CONVERGENCE_RTOL` = 0.01 and no divergence): a model
that is not converged may need more steps or a smaller step size.

The summary rows ``S_min`` and ``S_w`` take the per-collective values through
SPEC §7 (a NaN bound counts as 0, the trivial bound, unless all are NaN).
``clean_accuracy`` is the accuracy on the table without signals (the
platform's cost).

Specs come from TOML (``acajax validate SPEC.toml --out DIR``); :func:`load`
checks everything before any compilation and raises :class:`SpecError`
naming the file, the key and the allowed values. Results: a tidy
``results.csv`` (one row per model and collective, plus ``S_min`` and ``S_w``
rows) and ``success_vs_mass.png``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import pathlib
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from acajax import bounds, datasets, learners, mixtures, planting
from acajax.runs import _io
from acajax.runs import _spec as spec_io
from acajax.runs import figures  # noqa: F401  (sets the headless Agg backend)
from acajax.runs._spec import SpecError

__all__ = ["CollectiveSpec", "DEFAULT_MEMORY_CAP_MB", "SpecError", "ValidationResult",
           "ValidationSpec", "estimated_memory_bytes", "load", "plot", "pointwise_suboptimality",
           "run", "validated"]

LEARNER_NAMES = ("logistic", "mlp", "ngram")
STRATEGIES = ("feature_label", "feature_only")
NOISE_KINDS = ("abstain", "wrong_signal", "wrong_label")
EPS_GRID_STEP = 0.001
EPS_ROUND_UP = 1e-5   # > the engine's success tolerance in float32 (64 ulp = 7.6e-6)
SUCCESS_SLACK = 1e-5  # float32 sums of the exact engine (x64 off) stay within it
DEFAULT_MEMORY_CAP_MB = 4096.0   # run.memory_cap_mb: refuse plans whose estimate exceeds it
MAX_SEED = 2**32 - 1  # jax.random.key keeps 32 bits: larger seeds would repeat smaller ones
MAX_NGRAM_WIDTH = 2**20   # train.ngram_width: hash buckets (the hash keeps 24 bits)
MAX_NGRAM_LENGTH = 8      # train.ngram_range: longest character n-gram



@dataclasses.dataclass(frozen=True)
class CollectiveSpec:
  """One collective of a spec.

  ``signal`` depends on the dataset: a point (int) or an (n,) index map on
  ``finite_table``; a practice 1..4 on ``climate_adaptation``; one character
  on text datasets; a list of [row, col] pixels on ``digits``; a table
  ``{coordinates = [...], value = v}`` on ``gaussian_mixture``. ``target``
  is a label index, or on text datasets a label name (see the module
  docstring).
  """
  mass: float
  target: int | str
  signal: object
  strategy: str = "feature_label"
  abstain: float = 0.0
  wrong_signal: float = 0.0
  wrong_label: float = 0.0
  name: str | None = None


@dataclasses.dataclass(frozen=True)
class ValidationSpec:
  """What to validate (see the module docstring); build in Python or :func:`load`.

  The noise axis: ``noise_grid`` (levels in [0, 1]; None: no axis) sets the
  ``noise_kind`` fraction (``"abstain"``, ``"wrong_signal"`` or
  ``"wrong_label"``) of the collectives in ``noise_collectives`` (default:
  all) to ``level * scale``, one ``noise_scale`` entry per chosen collective
  (default 1); their other fractions stay as given (:meth:`noise_of`).

  The mass axis: ``mass_grid`` (multipliers of every collective's ``mass``)
  or ``split`` (``{"budget": B, "num": n}`` or ``{"budget": B, "t": [...]}``:
  shares t of a budget, collective 0 at t B and the others sharing
  (1 - t) B in proportion to their ``mass``; :func:`mass_at`), not both.

  ``memory_cap_mb`` (TOML ``[run] memory_cap_mb``) caps the estimated
  memory of the run (:func:`estimated_memory_bytes`).
  """
  dataset: str
  learner: str
  collectives: tuple[CollectiveSpec, ...]
  name: str = "validation"
  seeds: tuple[int, ...] = (0,)
  mass_grid: tuple[float, ...] = (1.0,)
  split: dict | None = None
  configurations: tuple[tuple[int, ...], ...] | None = None
  noise_grid: tuple[float, ...] | None = None
  noise_kind: str = "abstain"
  noise_collectives: tuple[int, ...] | None = None
  noise_scale: tuple[float, ...] | None = None
  eps: float = 0.0
  num_samples: int = 2000
  test_samples: int = 1000
  p0: tuple[tuple[float, ...], ...] | None = None
  path: str | None = None
  steps: int = 300
  learning_rate: float | None = None
  l2: float = 1e-4
  batch_size: int | None = None
  schedule: str | None = None
  warmup: float = 0.1
  decay_to: float = 0.1
  hidden: int = 32
  models_per_call: int = 64
  ngram_width: int = datasets.TEXT_FEATURES
  ngram_range: tuple[int, int] = datasets.NGRAM_RANGE
  memory_cap_mb: float = DEFAULT_MEMORY_CAP_MB
  source: str = "<spec>"

  @property
  def active_sets(self) -> tuple[tuple[int, ...], ...]:
    if self.configurations is None:
      return (tuple(range(len(self.collectives))),)
    return self.configurations

  @property
  def noise_levels(self) -> tuple[float | None, ...]:
    """The noise grid, or (None,) when the spec has none."""
    return (None,) if self.noise_grid is None else tuple(self.noise_grid)

  def noise_of(self, index: int, level: float | None) -> tuple[float, float, float]:
    """(abstain, wrong_signal, wrong_label) of collective ``index`` at a noise level.

    Without a noise grid, or for a collective not in ``noise_collectives``,
    these are the collective's own fractions; otherwise the ``noise_kind``
    fraction is replaced by ``level * scale``.
    """
    col = self.collectives[index]
    fractions = {kind: float(getattr(col, kind)) for kind in NOISE_KINDS}
    chosen = (tuple(range(len(self.collectives))) if self.noise_collectives is None
              else tuple(self.noise_collectives))
    if level is not None and index in chosen:
      scale = 1.0 if self.noise_scale is None else float(self.noise_scale[chosen.index(index)])
      fractions[self.noise_kind] = float(level) * scale
    return tuple(fractions[kind] for kind in NOISE_KINDS)


# --- loading and checking ------------------------------------------------------

_TOP_KEYS = {"name", "dataset", "learner", "seeds", "mass_grid", "split", "configurations", "eps",
             "data",
             "train", "collectives", "noise_grid", "noise_kind", "noise_collectives",
             "noise_scale", "run"}
_DATA_KEYS = {"num_samples", "test_samples", "p0", "path"}
_TRAIN_KEYS = {"steps", "learning_rate", "l2", "batch_size", "hidden", "models_per_call",
               "ngram_width", "ngram_range", "schedule", "warmup", "decay_to"}
_RUN_KEYS = {"memory_cap_mb"}
_COLLECTIVE_KEYS = {f.name for f in dataclasses.fields(CollectiveSpec)}
_TEXT = ("synthetic_resumes", "resume_file")
_FINITE = ("finite_table", "climate_adaptation")
# Labels of each dataset (finite_table: p0's columns; resume_file: the corpus's labels).
_NUM_LABELS = {"digits": datasets.DIGITS_LABELS, "synthetic_resumes": 4, "climate_adaptation": 3,
               "gaussian_mixture": 2}
# Samples a dataset has (None: generated, as many as asked; resume_file: checked in run).
_DATASET_SIZES = {"digits": datasets.DIGITS_SIZE}
_CLIMATE_POINTS = 360     # rows of datasets.climate_adaptation().p0
_DEFAULT_TEST_SAMPLES = next(f.default for f in dataclasses.fields(ValidationSpec)
                             if f.name == "test_samples")
# Memory of a validation (see estimated_memory_bytes).
_FLOAT_BYTES = 4
_EPS_GRID_POINTS = 501    # the eps grid of _theory (0, 0.001, ..., 0.499, and spec.eps)


def _fail(source, key, message):
  raise spec_io.fail(source, key, message)


def _check_signal(spec: ValidationSpec, c: int, signal, num_points: int | None):
  key = f"collectives[{c}].signal"
  ds = spec.dataset
  is_int = spec_io.is_int
  if ds == "finite_table":
    if is_int(signal):
      if not 0 <= signal < num_points:
        _fail(spec.source, key, f"a point must lie in [0, {num_points}); got {signal}")
      return
    if (isinstance(signal, (list, tuple)) and len(signal) == num_points
        and all(is_int(v) and 0 <= v < num_points for v in signal)):
      return
    _fail(spec.source, key, f"must be a point in [0, {num_points}) or a list of {num_points} "
          f"points (an index map); got {signal!r}")
  elif ds == "climate_adaptation":
    if not (is_int(signal) and 1 <= signal <= 4):
      _fail(spec.source, key, f"must be a declared practice 1, 2, 3 or 4; got {signal!r}")
  elif ds in _TEXT:
    if not (isinstance(signal, str) and len(signal) == 1):
      _fail(spec.source, key, f"must be a single character (inserted every 20 words); "
            f"got {signal!r}")
  elif ds == "digits":
    ok = (isinstance(signal, (list, tuple)) and len(signal) > 0 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(
            is_int(v) and 0 <= v < 8 for v in p) for p in signal))
    if not ok:
      _fail(spec.source, key, f"must be a non-empty list of [row, col] pixels in 0..7; "
            f"got {signal!r}")
  elif ds == "gaussian_mixture":
    dim = datasets.GAUSSIAN_DIM
    if not (isinstance(signal, dict) and set(signal) == {"coordinates", "value"}):
      _fail(spec.source, key, f"must be a table {{coordinates = [...], value = v}}; "
            f"got {signal!r}")
    spec_io.integers(spec.source, f"{key}.coordinates", signal["coordinates"], low=0,
                     high=dim - 1)
    spec_io.number(spec.source, f"{key}.value", signal["value"])


def _check_p0(src: str, p0) -> np.ndarray:
  """The finite table of ``data.p0``: (n, K), K >= 2, finite, non-negative, summing to 1."""
  table = spec_io.matrix(src, "data.p0", p0.tolist() if isinstance(p0, np.ndarray) else p0,
                         low=0.0)
  if table.shape[1] < 2:
    _fail(src, "data.p0", f"must be an (n, K) table with K >= 2 labels (columns); got shape "
          f"{table.shape}")
  if abs(table.sum() - 1) > 1e-6:
    _fail(src, "data.p0", f"must be an (n, K) table of non-negative numbers summing to 1; "
          f"got shape {table.shape}, sum {table.sum():.6g}")
  return table


def validated(spec: ValidationSpec) -> ValidationSpec:
  """Checks a spec completely (no compilation, no data read); returns it normalised.

  Every value is checked for its type and range (:mod:`acajax.runs._spec`):
  a wrong type, NaN or an infinity, a value out of range, masses that sum to
  1 or more at the largest ``mass_grid`` value, noise fractions outside
  [0, 1] or summing past 1, a target that is not a label of the dataset,
  more test samples than the dataset has beside ``num_samples``, and a plan
  whose estimated memory (:func:`estimated_memory_bytes`) exceeds
  ``memory_cap_mb`` are each a :class:`SpecError` naming the file, the key
  and the allowed range. (A ``resume_file`` corpus is read in :func:`run`,
  which checks its size and labels before training.)
  """
  src = spec.source
  spec_io.one_of(src, "dataset", spec.dataset, datasets.DATASETS, "dataset")
  spec_io.one_of(src, "learner", spec.learner, LEARNER_NAMES, "learner")
  if spec.dataset in _TEXT and spec.learner != "ngram":
    _fail(src, "learner", f"text datasets need the 'ngram' learner; got {spec.learner!r}")
  if spec.dataset not in _TEXT and spec.learner == "ngram":
    _fail(src, "learner", f"'ngram' is for text datasets; dataset is {spec.dataset!r}")
  spec_io.text(src, "name", spec.name)
  spec_io.integers(src, "seeds", spec.seeds, low=0, high=MAX_SEED)
  mass_grid = spec_io.numbers(src, "mass_grid", spec.mass_grid, low=0.0, low_open=True)
  spec_io.number(src, "eps", spec.eps, low=0.0, high=0.5, high_open=True)
  for section, keys in (("data", ("num_samples", "test_samples")),
                        ("train", ("steps", "hidden", "models_per_call"))):
    for key in keys:
      spec_io.integer(src, f"{section}.{key}", getattr(spec, key), low=1)
  if spec.batch_size is not None:
    if not spec_io.is_int(spec.batch_size) or spec.batch_size < 1:
      _fail(src, "train.batch_size", f"must be an integer >= 1 (omit for full batch); "
            f"got {spec_io.describe(spec.batch_size)}")
  spec = _train_defaults(spec)
  spec_io.number(src, "train.learning_rate", spec.learning_rate, low=0.0, low_open=True)
  spec_io.number(src, "train.l2", spec.l2, low=0.0)
  spec_io.one_of(src, "train.schedule", spec.schedule, learners.SCHEDULES, "schedule")
  spec_io.number(src, "train.warmup", spec.warmup, low=0.0, high=1.0, high_open=True)
  spec_io.number(src, "train.decay_to", spec.decay_to, low=0.0, high=1.0)
  spec_io.number(src, "run.memory_cap_mb", spec.memory_cap_mb, low=0.0, low_open=True)
  num_points, p0 = None, spec.p0
  if spec.dataset == "finite_table":
    if spec.p0 is None:
      _fail(src, "data.p0", "finite_table needs an (n, K) table of joint probabilities")
    table = _check_p0(src, spec.p0)
    num_points = table.shape[0]
    p0 = tuple(tuple(float(v) for v in row) for row in table)
  if spec.dataset == "resume_file":
    if spec.path is None:
      _fail(src, "data.path", "resume_file needs the path of a corpus (an 'id:::labels:::text' "
            "file, or a folder or zip of NNNNN.txt + NNNNN.lab pairs)")
    spec_io.text(src, "data.path", spec.path)
    if not pathlib.Path(spec.path).exists():
      _fail(src, "data.path", f"no such file or folder: {spec.path}")
  ngram_range = _check_ngrams(spec)
  available = _DATASET_SIZES.get(spec.dataset)
  if available is not None:
    _check_sample_counts(spec, available, spec.dataset)
  if not isinstance(spec.collectives, (list, tuple)) or not spec.collectives:
    _fail(src, "collectives", "at least one [[collectives]] entry is needed")
  num_labels = _NUM_LABELS.get(spec.dataset) if num_points is None else len(p0[0])
  max_scale = max(mass_grid)
  collectives = []
  for c, col in enumerate(spec.collectives):
    if not isinstance(col, CollectiveSpec):
      _fail(src, f"collectives[{c}]", f"must be a collective (a [[collectives]] table); got "
            f"{spec_io.describe(col)}")
    spec_io.one_of(src, f"collectives[{c}].strategy", col.strategy, STRATEGIES, "strategy")
    if col.name is not None:
      spec_io.text(src, f"collectives[{c}].name", col.name)
    col = _named_target(spec, c, col)    # a resume_file label name stays (run resolves it)
    collectives.append(col)
    if not isinstance(col.target, str) and (not spec_io.is_int(col.target) or col.target < 0 or (
        num_labels is not None and col.target >= num_labels)):
      names = " or a label name" if spec.dataset in _TEXT else ""
      _fail(src, f"collectives[{c}].target", f"must be a label in [0, {num_labels}){names} "
            f"({spec.dataset}); got {spec_io.describe(col.target)}" if num_labels is not None
            else f"must be a label index >= 0{names}; got {spec_io.describe(col.target)}")
    mass = spec_io.number(src, f"collectives[{c}].mass", col.mass, low=0.0, low_open=True)
    if np.floor(mass * min(mass_grid) * spec.num_samples + 0.5) < 1:  # as planting
      _fail(src, f"collectives[{c}].mass", f"mass {col.mass} x {min(spec.mass_grid)} (smallest "
            f"mass_grid value) gives no member among data.num_samples = {spec.num_samples}")
    noise = [spec_io.number(src, f"collectives[{c}].{kind}", getattr(col, kind), low=0.0,
                            high=1.0) for kind in NOISE_KINDS]
    if sum(noise) > 1:
      _fail(src, f"collectives[{c}]", "abstain, wrong_signal, wrong_label must lie in [0, 1] "
            f"with sum <= 1; got {noise}")
    _check_signal(spec, c, col.signal, num_points)
  _check_noise_grid(spec)
  spec = _check_split(spec)
  active_sets = spec.active_sets
  if spec.configurations is not None:
    spec_io.list_of(src, "configurations", spec.configurations)
    if not spec.configurations:
      _fail(src, "configurations", "must list at least one configuration (omit it: all act)")
  for k, active in enumerate(active_sets):
    if (not isinstance(active, (list, tuple)) or not active
        or not all(spec_io.is_int(i) and 0 <= i < len(spec.collectives) for i in active)
        or len(set(active)) != len(active)):
      _fail(src, f"configurations[{k}]", f"must list distinct collective indices in "
            f"[0, {len(spec.collectives)}); got {spec_io.describe(active)}")
    total = sum(float(spec.collectives[i].mass) for i in active) * max_scale
    if total >= 1:
      names = " + ".join(f"collectives[{i}].mass" for i in active)
      _fail(src, f"configurations[{k}]", f"total mass {total:g} ({names}, times the largest "
            f"mass_grid value {max_scale:g}) must be < 1")
  # Normalised containers (values keep their types: they reach the results table).
  spec = dataclasses.replace(
      spec, seeds=tuple(spec.seeds), mass_grid=tuple(spec.mass_grid), p0=p0,
      collectives=tuple(collectives), ngram_range=ngram_range,
      configurations=None if spec.configurations is None else tuple(
          tuple(int(i) for i in active) for active in active_sets),
      noise_grid=None if spec.noise_grid is None else tuple(spec.noise_grid),
      noise_scale=None if spec.noise_scale is None else tuple(spec.noise_scale))
  _check_memory(spec)
  return spec


def _train_defaults(spec: ValidationSpec) -> ValidationSpec:
  """The spec with the learner's default ``train.learning_rate`` and ``train.schedule``.

  The text learner (``ngram``) defaults to :data:`acajax.learners.TEXT_CONFIG`
  (Adam peaking at 0.03, warm-up over a tenth of the steps, cosine decay to a tenth:
  a constant 0.1 is unstable on long resumes); the others to a constant 0.1.
  """
  text = spec.learner == "ngram"
  if spec.learning_rate is None:
    spec = dataclasses.replace(
        spec, learning_rate=learners.TEXT_CONFIG.learning_rate if text else 0.1)
  if spec.schedule is None:
    spec = dataclasses.replace(
        spec, schedule=learners.TEXT_CONFIG.schedule if text else "constant")
  return spec


def _check_ngrams(spec: ValidationSpec) -> tuple[int, int]:
  """Checks ``train.ngram_width`` and ``train.ngram_range``; returns the range as a tuple."""
  src = spec.source
  width = spec_io.integer(src, "train.ngram_width", spec.ngram_width, low=2,
                          high=MAX_NGRAM_WIDTH)
  lengths = spec_io.integers(src, "train.ngram_range", spec.ngram_range, low=1,
                             high=MAX_NGRAM_LENGTH)
  if len(lengths) != 2 or lengths[0] > lengths[1]:
    _fail(src, "train.ngram_range", f"must be [smallest, largest] n-gram lengths with "
          f"1 <= smallest <= largest <= {MAX_NGRAM_LENGTH}; got "
          f"{spec_io.describe(spec.ngram_range)}")
  if spec.dataset not in _TEXT:
    for key, value, default in (("ngram_width", width, datasets.TEXT_FEATURES),
                                ("ngram_range", lengths, datasets.NGRAM_RANGE)):
      if value != default:
        _fail(src, f"train.{key}", f"is for text datasets (the 'ngram' learner); dataset is "
              f"{spec.dataset!r}")
  return lengths


def _named_target(spec: ValidationSpec, c: int, col: CollectiveSpec) -> CollectiveSpec:
  """``col`` with a label-name target resolved where the labels are known before any data.

  ``synthetic_resumes``: the index in ``datasets.RESUME_LABELS``; ``resume_file``:
  the name is kept (a non-empty string) and resolved against the corpus in :func:`run`;
  other datasets take label indices only.
  """
  if not isinstance(col.target, str):
    return col
  key = f"collectives[{c}].target"
  if spec.dataset == "synthetic_resumes":
    names = datasets.RESUME_LABELS
    if col.target not in names:
      _fail(spec.source, key, f"must be a label of synthetic_resumes ({_listed(names)}); got "
            f"{spec_io.describe(col.target)}")
    return dataclasses.replace(col, target=names.index(col.target))
  if spec.dataset == "resume_file":
    if not col.target.strip():
      _fail(spec.source, key, "must be a label name of the corpus or an index; got an empty "
            "string")
    return col
  _fail(spec.source, key, f"must be a label index (label names are for text datasets); got "
        f"{spec_io.describe(col.target)}")


def _listed(names) -> str:
  return ", ".join(f"{k} = {name}" for k, name in enumerate(names))


def _check_sample_counts(spec: ValidationSpec, available: int, where: str) -> None:
  """Refuses more training plus test samples than a dataset of ``available`` samples has."""
  src, num, num_test = spec.source, spec.num_samples, spec.test_samples
  if num >= available:
    _fail(src, "data.num_samples", f"{where} has {available} samples; num_samples = {num} "
          f"leaves none for testing (allowed: at most {available - 1})")
  if num + num_test > available:
    _fail(src, "data.test_samples", f"{where} has {available} samples and num_samples = {num} "
          f"leaves {available - num} for testing; got test_samples = {num_test}"
          f"{' (the default)' if num_test == _DEFAULT_TEST_SAMPLES else ''} (allowed: at most "
          f"{available - num}; lower num_samples for more)")


def _feature_width(spec: ValidationSpec) -> int:
  """Columns of the learner's features (one-hot points, pixels, hashed n-grams...)."""
  if spec.dataset == "finite_table":
    return len(spec.p0)
  return {"climate_adaptation": _CLIMATE_POINTS, "gaussian_mixture": datasets.GAUSSIAN_DIM,
          "digits": 64}.get(spec.dataset, spec.ngram_width)


def estimated_memory_bytes(spec: ValidationSpec) -> dict[str, int]:
  """Estimated peak memory of :func:`run`, per spec key that drives it (bytes).

  ``run`` plants every model's data before training, so the host holds the
  features of every model at once: models x num_samples x feature width x 4
  bytes (plus one unplanted copy per seed); a training call stacks and
  transposes ``models_per_call`` of them on the device, with each model's
  parameters and Adam state (4 copies of d x hidden + hidden x K, or d x K)
  and a scan over ``steps`` (a key and a loss per step). Text models share
  one pool per seed instead (:func:`acajax.learners.train_rows`): the clean
  rows and every member's planted row, sparse on the host (at most
  min(width, 2048) buckets a row, 8 bytes each) and dense on the device
  when they fit ``learners.DENSE_LIMIT_MB``, plus a (K, rows) table per
  model. The theory of each
  model evaluates the exact engine over the 501-point eps grid on the
  evaluation table (test points and their signal images, or P0's points).

  Returns:
    ``{"data.num_samples": ..., "train.steps": ..., "train.hidden": ...,
    "data.test_samples": ...}``; their sum is the estimate.
  """
  width = _feature_width(spec)
  num_models = (len(spec.active_sets) * len(grid_values(spec)) * len(spec.noise_levels)
                * len(spec.seeds))
  at_once = min(spec.models_per_call, num_models)
  num = spec.num_samples
  batch = num if spec.batch_size is None else min(spec.batch_size, num)
  num_labels = (len(spec.p0[0]) if spec.dataset == "finite_table"
                else _NUM_LABELS.get(spec.dataset, 4))
  if spec.dataset in _TEXT:   # one pool per seed: clean rows and planted rows, no copies
    planted = num * len(spec.noise_levels) * sum(
        float(spec.collectives[i].mass) * scale for active in spec.active_sets
        for i in active for scale in spec.mass_grid)
    pool = num + planted
    dense = pool * width * _FLOAT_BYTES
    samples = len(spec.seeds) * pool * min(width, 2048) * 8 + num_models * num * 12   # host
    samples += (dense if dense <= learners.DENSE_LIMIT_MB * 2**20 else 0)            # device
    samples += at_once * pool * num_labels * 3 * _FLOAT_BYTES                        # tables
  else:
    samples = (num_models + len(spec.seeds)) * num * (width * _FLOAT_BYTES + 8)   # host
    samples += at_once * (2 * num + batch) * width * _FLOAT_BYTES                 # device
  steps = at_once * spec.steps * 12                                              # keys, losses
  weights = (width * spec.hidden + spec.hidden * num_labels if spec.learner == "mlp"
             else width * num_labels)
  params = at_once * 4 * weights * _FLOAT_BYTES
  num_collectives = len(spec.collectives)
  table = (width if spec.dataset in _FINITE
           else spec.test_samples * (1 + num_collectives))
  theory = _EPS_GRID_POINTS * table * num_labels * (num_collectives + 4) * _FLOAT_BYTES
  return {"data.num_samples": int(samples), "train.steps": int(steps),
          "train.hidden": int(params), "data.test_samples": int(theory)}


def _check_memory(spec: ValidationSpec) -> None:
  """Refuses a spec whose :func:`estimated_memory_bytes` exceed ``memory_cap_mb``."""
  parts = estimated_memory_bytes(spec)
  key = max(parts, key=parts.get)
  models = (len(spec.active_sets) * len(grid_values(spec)) * len(spec.noise_levels)
            * len(spec.seeds))
  at_once = min(spec.models_per_call, models)
  what = {
      "data.num_samples": (f"one pool of n-gram rows per seed ({spec.num_samples:,} clean "
                           f"samples and every member's planted one) x "
                           f"{_feature_width(spec):,} features" if spec.dataset in _TEXT else
                           f"{models:,} model{'s' * (models != 1)} (seeds x mass_grid x "
                           f"configurations x noise_grid) x {spec.num_samples:,} samples x "
                           f"{_feature_width(spec):,} features x {_FLOAT_BYTES} bytes, all "
                           "planted before training"),
      "train.steps": f"{at_once:,} model{'s' * (at_once != 1)} trained at once x "
                     f"{spec.steps:,} steps x 12 bytes "
                     "(a key and a loss per step)",
      "train.hidden": f"{at_once:,} model{'s' * (at_once != 1)} trained at once x 4 copies "
                      f"(weights, gradients, Adam state) of a model of width {spec.hidden:,} on "
                      f"{_feature_width(spec):,} features",
      "data.test_samples": f"the exact engine over {_EPS_GRID_POINTS} eps values on an "
                           "evaluation table of the test samples and their signal images",
  }[key]
  lower = {"data.num_samples": "lower data.num_samples, the grid or train.models_per_call",
           "train.steps": "lower train.steps or train.models_per_call",
           "train.hidden": "lower train.hidden or train.models_per_call",
           "data.test_samples": "lower data.test_samples"}[key]
  spec_io.check_memory(spec.source, key, sum(parts.values()), spec.memory_cap_mb,
                       what=f"mostly {what}", lower=lower)


def _check_split(spec: ValidationSpec) -> ValidationSpec:
  """Checks ``split`` (a budget shared by the collectives); returns it normalised.

  ``split = {budget = B, num = n}`` (t = 1/(n+1), ..., n/(n+1)) or
  ``{budget = B, t = [...]}`` (values in (0, 1)): at share t collective 0
  has mass t B and the others share (1 - t) B in proportion to their
  ``mass`` (with two collectives, collective 1 has (1 - t) B). It replaces
  ``mass_grid``; results get a ``split_t`` column.
  """
  src, split = spec.source, spec.split
  if split is None:
    return spec
  if isinstance(split, dict) and set(split) == {"budget", "t"} and isinstance(split["t"], tuple):
    return spec                                         # already normalised
  if tuple(spec.mass_grid) != (1.0,):
    _fail(src, "split", "replaces mass_grid (the masses come from the budget); give one of them")
  if len(spec.collectives) < 2:
    _fail(src, "split", "shares a budget between collectives: it needs at least 2 "
          f"[[collectives]]; got {len(spec.collectives)}")
  if not isinstance(split, dict):
    _fail(src, "split", f"must be a table such as {{budget = 0.1, num = 9}} or {{budget = 0.1, "
          f"t = [0.25, 0.5, 0.75]}}; got {spec_io.describe(split)}")
  spec_io.check_keys(src, "split", split, {"budget", "num", "t"})
  spec_io.require(src, "split", split, ("budget",))
  budget = spec_io.number(src, "split.budget", split["budget"], low=0.0, low_open=True,
                          high=1.0, high_open=True)
  if ("num" in split) == ("t" in split):
    _fail(src, "split", "give num (evenly spaced shares t = k/(num+1)) or t (a list of shares "
          "in (0, 1)), one of them")
  if "num" in split:
    num = spec_io.integer(src, "split.num", split["num"], low=1, high=10_000)
    shares = tuple(k / (num + 1) for k in range(1, num + 1))
  else:
    if not isinstance(split["t"], (list, tuple)) or not split["t"]:
      _fail(src, "split.t", f"must be a non-empty list of shares in (0, 1); got "
            f"{spec_io.describe(split['t'])}")
    shares = tuple(spec_io.numbers(src, "split.t", split["t"], low=0.0, low_open=True,
                                   high=1.0, high_open=True))
  spec = dataclasses.replace(spec, split={"budget": float(budget), "t": tuple(map(float, shares))})
  for t in spec.split["t"]:
    for c in range(len(spec.collectives)):
      if np.floor(mass_at(spec, c, t) * spec.num_samples + 0.5) < 1:     # as planting
        _fail(src, "split", f"share t = {t:g} gives collectives[{c}] mass "
              f"{mass_at(spec, c, t):g}, no member among data.num_samples = {spec.num_samples}")
  return spec


def grid_values(spec: ValidationSpec) -> tuple[float, ...]:
  """The mass axis of a run: ``mass_grid`` multipliers, or the ``split`` shares t."""
  return tuple(spec.mass_grid) if spec.split is None else tuple(spec.split["t"])


def mass_at(spec: ValidationSpec, c: int, value: float) -> float:
  """Collective c's mass at a ``grid_values`` entry (a multiplier, or a split share t)."""
  col = spec.collectives[c]
  if spec.split is None:
    return col.mass * value
  budget = spec.split["budget"]
  if c == 0:
    return value * budget
  others = sum(float(o.mass) for o in spec.collectives[1:])
  return (1 - value) * budget * float(col.mass) / others


def _check_noise_grid(spec: ValidationSpec):
  src, num = spec.source, len(spec.collectives)
  if spec.noise_grid is None:
    for key in ("noise_collectives", "noise_scale"):
      if getattr(spec, key) is not None:
        _fail(src, key, "needs a noise_grid")
    return
  grid = spec.noise_grid
  if not isinstance(grid, (list, tuple)) or not grid:
    _fail(src, "noise_grid", f"must be a non-empty list of noise levels in [0, 1]; got "
          f"{spec_io.describe(grid)}")
  spec_io.numbers(src, "noise_grid", grid, low=0.0, high=1.0)
  spec_io.one_of(src, "noise_kind", spec.noise_kind, NOISE_KINDS, "noise kind")
  chosen = spec.noise_collectives
  if chosen is not None and (not isinstance(chosen, (list, tuple)) or not chosen
                             or len(set(chosen)) != len(chosen) or not all(
                                 spec_io.is_int(i) and 0 <= i < num for i in chosen)):
    _fail(src, "noise_collectives", f"must list distinct collective indices in [0, {num}); "
          f"got {spec_io.describe(chosen)}")
  size = num if chosen is None else len(chosen)
  scale = spec.noise_scale
  if scale is not None:
    if not isinstance(scale, (list, tuple)) or len(scale) != size:
      _fail(src, "noise_scale", f"must list {size} non-negative multipliers, one per "
            f"{'collective' if chosen is None else 'noise_collectives entry'}; got "
            f"{spec_io.describe(scale)}")
    spec_io.numbers(src, "noise_scale", scale, low=0.0)
  for level in grid:
    for c in range(num):
      fractions = spec.noise_of(c, level)
      if max(fractions) > 1 or sum(fractions) > 1 + 1e-12:
        _fail(src, "noise_grid", f"level {level} gives collectives[{c}] noise fractions "
              f"(abstain, wrong_signal, wrong_label) = {fractions}; each must lie in [0, 1] "
              f"with sum <= 1 (lower the level or noise_scale)")


def load(path) -> ValidationSpec:
  """Reads and checks a TOML spec (before any compilation).

  Raises:
    SpecError: unreadable TOML, unknown keys, a value of the wrong type or
      out of range (see :func:`validated`); the message names the file and
      the key, with the allowed values.
  """
  path = pathlib.Path(path)
  src = str(path)
  raw = spec_io.read_toml(path, "validation spec")
  spec_io.check_keys(src, "", raw, _TOP_KEYS)
  sections = {}
  for section, allowed in (("data", _DATA_KEYS), ("train", _TRAIN_KEYS), ("run", _RUN_KEYS)):
    sections[section] = spec_io.table(src, section, raw.get(section, {}))
    spec_io.check_keys(src, section, sections[section], allowed)
  data, train, run_table = sections["data"], sections["train"], sections["run"]
  spec_io.require(src, "", raw, ("dataset", "learner"))
  collectives = []
  for c, entry in enumerate(spec_io.tables(src, "collectives", raw.get("collectives", []))):
    spec_io.check_keys(src, f"collectives[{c}]", entry, _COLLECTIVE_KEYS)
    spec_io.require(src, f"collectives[{c}]", entry, ("mass", "target", "signal"))
    collectives.append(CollectiveSpec(**entry))
  configurations = raw.get("configurations")
  if configurations is not None:
    configurations = tuple(tuple(v) if isinstance(v, list) else (v,) for v in
                           spec_io.list_of(src, "configurations", configurations))
  for key in ("seeds", "mass_grid", "noise_grid", "noise_collectives", "noise_scale"):
    if key in raw and not isinstance(raw[key], list):
      _fail(src, key, f"must be a list; got {spec_io.describe(raw[key])}")
  noise = {key: tuple(raw[key]) for key in ("noise_grid", "noise_collectives", "noise_scale")
           if key in raw}
  if "noise_kind" in raw:
    if "noise_grid" not in raw:
      _fail(src, "noise_kind", "needs a noise_grid")
    noise["noise_kind"] = raw["noise_kind"]
  data_path = None
  if "path" in data:
    data_path = str((path.parent / spec_io.text(src, "data.path", data["path"])).resolve())
  spec = ValidationSpec(
      dataset=raw["dataset"], learner=raw["learner"], collectives=tuple(collectives),
      name=raw.get("name", path.stem), seeds=tuple(raw.get("seeds", (0,))),
      mass_grid=tuple(raw.get("mass_grid", (1.0,))), configurations=configurations,
      split=raw.get("split"),
      eps=raw.get("eps", 0.0), **noise, p0=data.get("p0"), path=data_path, source=src,
      **{k: v for k, v in data.items() if k not in ("p0", "path")}, **train, **run_table)
  return validated(spec)


# --- signals, data and the evaluation table ------------------------------------


def _signal_and_map(spec: ValidationSpec, col: CollectiveSpec, scenario):
  """The signal function and, on finite tables, its (n,) index map."""
  ds = spec.dataset
  if ds == "finite_table":
    num_points = len(spec.p0)
    index_map = np.full(num_points, col.signal) if isinstance(col.signal, int) else np.asarray(
        col.signal)
    return datasets.map_signal(index_map), index_map
  if ds == "climate_adaptation":
    index_map = scenario.signal_maps[col.signal - 1]
    return datasets.map_signal(index_map), index_map
  if ds in ("synthetic_resumes", "resume_file"):
    return datasets.insertion_signal(col.signal), None
  if ds == "digits":
    return datasets.pixel_signal(col.signal), None
  return datasets.coordinate_signal(list(col.signal["coordinates"]),
                                    float(col.signal["value"])), None


def _data(spec: ValidationSpec, seed: int, scenario, corpus=None):
  """(train, test) datasets and, on finite tables, the true P0.

  ``corpus``: the ``resume_file`` corpus already read (read here when None).
  Text datasets get the spec's n-gram featurizer.
  """
  num, num_test = spec.num_samples, spec.test_samples
  if spec.dataset in ("finite_table", "climate_adaptation"):
    p0 = np.asarray(spec.p0 if spec.p0 is not None else scenario.p0, float)
    train = datasets.finite_table(p0, num, seed=seed)
    return train, None, p0
  if spec.dataset == "gaussian_mixture":
    full = datasets.gaussian_mixture(num + num_test, seed=seed)
  elif spec.dataset == "synthetic_resumes":
    full = datasets.synthetic_resumes(num + num_test, seed=seed)
  elif spec.dataset == "resume_file":
    full = datasets.load_resume_corpus(spec.path) if corpus is None else corpus
  else:
    full = datasets.digits()
  if spec.dataset == "resume_file":      # checked here, once the corpus is read
    spec = _check_corpus(spec, full)
  if spec.dataset in _TEXT:
    full = dataclasses.replace(full, featurize=_featurizer(spec))
  _check_sample_counts(spec, len(full), f"the corpus {spec.path}"
                       if spec.dataset == "resume_file" else spec.dataset)
  order = np.random.default_rng(seed).permutation(len(full))
  return full.subset(order[:num]), full.subset(order[num:num + num_test]), None


def _check_corpus(spec: ValidationSpec, corpus) -> ValidationSpec:
  """A ``resume_file`` spec against its corpus; returns it with label names as indices.

  Every target must be a label of the corpus: an index in [0, K) or one of
  its label names (index k is the k-th name of ``corpus.label_names``, the
  sorted names); otherwise a :class:`SpecError` listing the labels.
  """
  names = corpus.label_names or tuple(str(k) for k in range(corpus.num_labels))
  collectives = []
  for c, col in enumerate(spec.collectives):
    if isinstance(col.target, str):
      if col.target not in names:
        _fail(spec.source, f"collectives[{c}].target", f"must be a label of the corpus "
              f"{spec.path} ({_listed(names)}); got {spec_io.describe(col.target)}")
      col = dataclasses.replace(col, target=names.index(col.target))
    elif col.target >= corpus.num_labels:
      _fail(spec.source, f"collectives[{c}].target", f"must be a label of the corpus "
            f"{spec.path}, in [0, {corpus.num_labels}) ({_listed(names)}); got {col.target}")
    collectives.append(col)
  return dataclasses.replace(spec, collectives=tuple(collectives))


def _featurizer(spec: ValidationSpec, *, sparse: bool = False):
  """The n-gram featurizer of a text spec (``train.ngram_width``, ``train.ngram_range``).

  ``sparse``: :func:`acajax.datasets.hashed_ngram_ids` (the training pool)
  instead of the dense :func:`acajax.datasets.hashed_ngrams`.
  """
  low, high = spec.ngram_range
  return functools.partial(datasets.hashed_ngram_ids if sparse else datasets.hashed_ngrams,
                           orders=tuple(range(low, high + 1)), dim=spec.ngram_width)


class _TextPool:
  """The training pool of one seed's text models: clean rows, then distinct planted texts.

  Planting changes only the members' texts, so a model's sample is the
  clean rows with its members' rows swapped for planted ones; a planted text
  seen before (another model, the same member) reuses its row.
  """

  def __init__(self, clean):
    self.clean = clean
    self.index: dict[str, int] = {}

  def rows(self, planted, touched) -> np.ndarray:
    """(N,) int32 pool rows of a sample whose ``touched`` rows may differ from the clean ones."""
    rows = np.arange(len(self.clean), dtype=np.int32)
    for i in touched:
      text = planted[i]
      if text != self.clean[i]:
        rows[i] = self.index.setdefault(text, len(self.clean) + len(self.index))
    return rows

  def features(self, featurize) -> datasets.SparseCounts:
    """The pool's sparse features: the clean rows, then the planted texts in row order."""
    parts = [featurize(self.clean), featurize(np.array(list(self.index), dtype=object))]
    width = max(part.ids.shape[1] for part in parts)
    pad = [((0, 0), (0, width - part.ids.shape[1])) for part in parts]
    return datasets.SparseCounts(
        np.concatenate([np.pad(part.ids, w) for part, w in zip(parts, pad)]),
        np.concatenate([np.pad(part.values, w) for part, w in zip(parts, pad)]), parts[0].dim)


def _signal_collisions(spec: ValidationSpec, featurize) -> np.ndarray:
  """(C, C) bool: collective j's signal raises every bucket collective i's raises (text only).

  See :func:`acajax.datasets.signal_collisions`; the same character collides.
  """
  num = len(spec.collectives)
  if spec.dataset not in _TEXT:
    return np.zeros((num, num), bool)
  chars = [col.signal for col in spec.collectives]
  covered = datasets.signal_collisions(featurize, chars)
  return np.array([[i != j and (chars[i] == chars[j] or chars[j] in covered[chars[i]])
                    for j in range(num)] for i in range(num)])


@dataclasses.dataclass(frozen=True)
class _Table:
  """The evaluation table of one seed (see the module docstring).

  Attributes:
    p0: (n, K) base table: P0, or 1/N_test per test point.
    features: (n, d) learner features of the table's points (text: a
      :class:`acajax.datasets.SparseCounts` of n rows).
    maps: (C, n) index map g_c of every collective of the spec on the table
      (points without base mass map to themselves; they do not count).
  """
  p0: np.ndarray
  features: np.ndarray
  maps: np.ndarray


def _point_key(row) -> object:
  return row if isinstance(row, str) else np.ascontiguousarray(row).tobytes()


def _evaluation_table(test, signal_fns, num_labels, pad_to: int = 64) -> _Table:
  """The held-out sample and its signal images as a finite table (non-finite data)."""
  ids, points = {}, []

  def identify(batch):
    out = np.empty(len(batch), int)
    for i, row in enumerate(batch):
      key = _point_key(row)
      if key not in ids:
        ids[key] = len(points)
        points.append(row)
      out[i] = ids[key]
    return out

  base = identify(test.x)
  images = [identify(fn(test.x)) for fn in signal_fns]
  num = -(-len(points) // pad_to) * pad_to          # padding keeps shapes (compiles) shared
  p0 = np.zeros((num, num_labels))
  np.add.at(p0, (base, test.y), 1.0 / len(test.y))
  maps = np.tile(np.arange(num), (len(images), 1))
  for row, image in zip(maps, images):
    row[base] = image
  if isinstance(points[0], str):
    raw = np.array(points + [""] * (num - len(points)), dtype=object)
  else:
    stacked = np.stack(points)
    raw = np.concatenate([stacked, np.zeros((num - len(points),) + stacked.shape[1:],
                                            stacked.dtype)])
  return _Table(p0=p0, features=test.featurize(raw), maps=maps)


def pointwise_suboptimality(joint, predictions) -> np.ndarray:
  """The smallest eps at which f is eps-suboptimal at each point (SPEC §2).

  With q = P(.|x) and k = f(x), the smallest TV distance from q to a
  conditional under which k is a most likely label is

      eps_f(x) = max_{j = 0..K} (q_(1) + ... + q_(j) - j q_k) / (j + 1),

  q_(i) sorted in decreasing order: lowering the labels above a level L to
  L and raising k to L moves sum_y (q_y - L)_+ = max_j (S_j - j L) of mass.
  It is 0 where k is a most likely label, (q_top - q_k) / 2 when one label
  is above k, and 1/2 where f misses a pure conditional. Points with
  P_X(x) = 0 have no conditional: 0 (any label is allowed there).

  Args:
    joint: (n, K) joint table of the mixture P.
    predictions: (n,) labels f(x).

  Returns:
    (n,) float64 array in [0, 1/2].

  Examples:
    >>> import numpy as np
    >>> from acajax.runs import validate
    >>> joint = np.array([[.6, .4, 0.], [.4, .4, .2], [0., 0., 0.], [1., 0., 0.]])
    >>> validate.pointwise_suboptimality(joint, np.array([1, 2, 0, 1])).round(4).tolist()
    [0.1, 0.1333, 0.0, 0.5]
  """
  joint = np.asarray(joint, np.float64)
  predictions = np.asarray(predictions, int)
  total = joint.sum(axis=1, keepdims=True)
  q = np.divide(joint, total, out=np.zeros_like(joint), where=total > 0)
  own = q[np.arange(len(q)), predictions]
  top = np.cumsum(-np.sort(-q, axis=1), axis=1)                    # S_1..S_K
  j = np.arange(1, q.shape[1] + 1)
  eps = np.max((top - j * own[:, None]) / (j + 1), axis=1)
  return np.clip(eps, 0.0, 0.5)


def _round_up(eps: np.ndarray) -> np.ndarray:
  """Strictly above, on the EPS_GRID_STEP grid (see the module docstring)."""
  return np.ceil(np.round((eps + EPS_ROUND_UP) / EPS_GRID_STEP, 9)) * EPS_GRID_STEP


# --- running ---------------------------------------------------------------------


@dataclasses.dataclass
class ValidationResult:
  """A finished validation: the tidy table and the files written."""
  frame: object
  paths: list
  compile_and_train_s: float


@functools.partial(jax.jit, static_argnames="mode")
def _theory_jit(p0, maps, targets, masses, flags, noise_arrays, eps_grid, mode):
  """The mixture, p, exact success and bound over an eps grid, margins (SPEC §2, §4–§5)."""
  noise = None if noise_arrays is None else mixtures.CoordinationNoise(*noise_arrays)
  params = mixtures.scenario_parameters(p0, maps, targets, masses, feature_only=flags,
                                        noise=noise)
  joint = mixtures.mixture(p0, maps, targets, masses, feature_only=flags, noise=noise)

  def bound_at(eps):
    if mode == "feature_label":   # Theorem 1, pairwise form (SPEC §4)
      return bounds.scenario_bounds(masses, targets, xi_c=params.xi_c, xi=params.xi,
                                    delta=params.delta, eps=eps, overlap=params.overlap)
    if mode == "feature_only":    # sound Theorem 2 (SPEC §5)
      return bounds.scenario_bounds(masses, targets, xi_c=params.xi_c, xi=params.xi,
                                    p=params.p, eps=eps, strategy="feature_only")
    return jnp.full(targets.shape, jnp.nan, masses.dtype)

  def exact_at(eps):
    return mixtures.worst_case_success(p0, maps, targets, masses, eps=eps, feature_only=flags,
                                       noise=noise)

  return (joint, params.p, jax.vmap(exact_at)(eps_grid), jax.vmap(bound_at)(eps_grid),
          mixtures.margins(joint))


def _theory(spec, table_p0, maps, targets, masses, flags, noise, predictions, measured,
            off_table):
  """Per collective: eps_hat, exact and bound at eps_hat and at spec.eps, eps_effective, note."""
  num = len(targets)
  nan = np.full(num, np.nan)
  if off_table:
    return dict(eps_hat=nan, exact_success=nan, bound=nan, exact_at_eps=nan, bound_at_eps=nan,
                eps_effective=nan, bound_note=["wrong_signal off the table"] * num,
                margin_share=nan, exact_on_margin_points=nan)
  noisy = bool(np.any(noise))
  mixed = bool(np.any(flags)) and not bool(np.all(flags))
  mode = ("none" if noisy or mixed else "feature_only" if np.all(flags) else "feature_label")
  grid = np.round(np.arange(0, 0.5, EPS_GRID_STEP), 6)
  joint, p, wc, bnd, margin = _theory_jit(
      jnp.asarray(table_p0), jnp.asarray(maps), jnp.asarray(targets), jnp.asarray(masses),
      jnp.asarray(flags), tuple(jnp.asarray(v) for v in noise) if noisy else None,
      jnp.asarray(np.append(grid, spec.eps)), mode)
  wc, bnd, p = np.asarray(wc, float), np.asarray(bnd, float), np.asarray(p, float)
  # eps_hat_c: the learner's suboptimality at c's signal images of base points (SPEC §2).
  per_point = pointwise_suboptimality(np.asarray(joint), predictions)
  based = table_p0.sum(axis=1) > 0
  raw = np.array([per_point[maps[c][based]].max() for c in range(num)])
  eps_hat = _round_up(raw)
  inside = eps_hat < 0.5
  index = np.where(inside, np.round(eps_hat / EPS_GRID_STEP).astype(int), 0)
  cols = np.arange(num)
  exact = np.where(inside, wc[index, cols], np.nan)
  bound = np.where(inside, bnd[index, cols], np.nan)
  below = wc[:-1] < measured[None, :] - SUCCESS_SLACK
  eps_eff = np.where(below.any(axis=0), grid[np.argmax(below, axis=0)], 0.5)
  note = []
  for c in range(num):
    if not inside[c]:
      note.append("eps_hat >= 1/2")
    elif noisy:
      note.append("coordination noise")
    elif mixed:
      note.append("mixed strategies")
    elif mode == "feature_only" and not p[c] > 0:
      note.append("p_c = 0")
    elif np.isnan(bound[c]):
      note.append("outside the theorem's domain")
    else:
      note.append("")
  # The margin report (module docstring): the base points whose image z = g_c(x) the
  # learner labels within spec.eps of P(.|z) (SPEC §2, per point), and among them those
  # where Lemma 1 forces y_c (m_c(z) > 2 eps: a tie could go either way); slack for rounding.
  joint = np.asarray(joint)
  tol = mixtures.success_tolerance(joint.dtype)
  weights = table_p0.sum(axis=1)[based]
  met = per_point <= spec.eps + tol
  margin = np.asarray(margin, float)
  share = np.array([weights @ met[maps[c][based]] for c in range(num)])
  on_met = np.array([weights @ (met & (margin[:, targets[c]] > 2 * spec.eps + 4 * tol))[
      maps[c][based]] for c in range(num)])
  return dict(eps_hat=eps_hat, exact_success=exact, bound=bound, exact_at_eps=wc[-1],
              bound_at_eps=bnd[-1], eps_effective=eps_eff, bound_note=note,
              margin_share=share, exact_on_margin_points=on_met)


def _summary_bound(bound, masses):
  if np.all(np.isnan(bound)):
    return np.nan, np.nan
  safe = np.nan_to_num(bound, nan=0.0)      # 0 is always a valid lower bound
  return float(bounds.s_min(safe)), float(bounds.s_weighted(safe, masses))


def run(spec: ValidationSpec, out_dir=None, *, progress: bool = False) -> ValidationResult:
  """Runs a validation spec (see the module docstring).

  Args:
    spec: a :class:`ValidationSpec` (checked again here).
    out_dir: folder for ``results.csv`` and ``success_vs_mass.png``; None
      writes nothing.
    progress: show a tqdm progress bar (on stderr).

  Returns:
    A :class:`ValidationResult`. Beside each withheld bound its rows carry
    the margin report (``margin_share``, ``exact_on_margin_points``: the
    share of signed test points where the learner meets SPEC §2's condition
    at the spec's eps, and the exact worst-case success on those points
    alone; see the module docstring), which is no bound.

  Raises:
    SpecError: an invalid spec (before anything is compiled).
    CorpusError: a malformed ``resume_file`` corpus (file and line named).
  """
  spec = validated(spec)
  corpus = None
  if spec.dataset == "resume_file":     # read once; the targets checked against its labels
    corpus = datasets.load_resume_corpus(spec.path)
    spec = _check_corpus(spec, corpus)
  scenario = datasets.climate_adaptation() if spec.dataset == "climate_adaptation" else None
  grid = list(itertools.product(range(len(spec.active_sets)), grid_values(spec),
                                range(len(spec.noise_levels)), spec.seeds))
  signals = [_signal_and_map(spec, col, scenario) for col in spec.collectives]
  finite = spec.dataset in ("finite_table", "climate_adaptation")
  text = spec.dataset in _TEXT
  num_calls = (len(spec.seeds) * -(-len(grid) // len(spec.seeds) // spec.models_per_call) if text
               else -(-len(grid) // spec.models_per_call))    # text: one pool per seed
  bar = tqdm(total=2 * len(grid) + num_calls, desc=spec.name, disable=not progress)

  # 1. Data and evaluation tables per seed, then every model's planted data (host side).
  per_seed, tables = {}, {}
  for seed in spec.seeds:
    train, test, p0 = per_seed[seed] = _data(spec, seed, scenario, corpus)
    if finite:
      tables[seed] = _Table(p0=p0, features=train.featurize(np.arange(len(p0))),
                            maps=np.stack([m for _, m in signals]))
    else:   # text: the table's features sparse too (predict_many takes them)
      tables[seed] = _evaluation_table(
          dataclasses.replace(test, featurize=_featurizer(spec, sparse=True)) if text else test,
          [fn for fn, _ in signals], train.num_labels)
  if text:   # clean rows once per seed, sparse; planted rows added per member (_TextPool)
    pools = {seed: _TextPool(per_seed[seed][0].x) for seed in spec.seeds}
  else:
    base_features = {seed: per_seed[seed][0].featurize(per_seed[seed][0].x)
                     for seed in spec.seeds}
  collides = _signal_collisions(spec, per_seed[spec.seeds[0]][0].featurize)
  jobs = []
  for k, scale, level_index, seed in grid:
    train = per_seed[seed][0]
    active = spec.active_sets[k]
    level = spec.noise_levels[level_index]
    cols = []
    for i in active:
      abstain, wrong_signal, wrong_label = spec.noise_of(i, level)
      cols.append(planting.Collective(
          mass=mass_at(spec, i, scale), target=spec.collectives[i].target,
          signal=signals[i][0], strategy=spec.collectives[i].strategy, abstain=abstain,
          wrong_signal=wrong_signal, wrong_label=wrong_label))
    # Not keyed by the noise level: members and nested noise groups are shared.
    rng = np.random.default_rng([seed, k, int(round(scale * 1e6))])
    x, y, report = planting.plant(train.x, train.y, cols, rng, num_labels=train.num_labels,
                                  random_signal=train.random_signal)
    touched = np.concatenate(report.members)
    if text:   # the pool rows of this model's sample, no matrix of its own
      data = dict(rows=pools[seed].rows(x, touched))
    else:
      features = base_features[seed].copy()
      features[touched] = train.featurize(x[touched])
      data = dict(features=features)
    jobs.append(dict(k=k, scale=scale, level=level, seed=seed, active=active, y=y,
                     report=report, **data))
    bar.update(1)

  # 2. Train every model: one jitted, vmapped call per chunk; one initialisation per seed.
  num_labels = per_seed[spec.seeds[0]][0].num_labels
  config = learners.TrainConfig(steps=spec.steps, learning_rate=spec.learning_rate, l2=spec.l2,
                                batch_size=spec.batch_size, schedule=spec.schedule,
                                warmup=spec.warmup, decay_to=spec.decay_to)
  kwargs = {"hidden": spec.hidden} if spec.learner == "mlp" else {}
  if text:   # the planted rows featurised once, sparse; the calls grouped by seed (pool)
    pool_features = {seed: pools[seed].features(_featurizer(spec, sparse=True))
                     for seed in spec.seeds}
    calls = [(seed, same[lo:lo + spec.models_per_call]) for seed in spec.seeds
             for same in [[i for i, job in enumerate(jobs) if job["seed"] == seed]]
             for lo in range(0, len(same), spec.models_per_call)]
  else:
    calls = [(None, list(range(lo, min(lo + spec.models_per_call, len(jobs)))))
             for lo in range(0, len(jobs), spec.models_per_call)]
  start = time.perf_counter()
  trained, placed = [], {}
  for seed, members in calls:
    chunk = [jobs[i] for i in members]
    keys = jax.vmap(jax.random.key)(np.array([j["seed"] for j in chunk]))
    if text:
      result = learners.train_rows(spec.learner, pool_features[seed],
                                   np.stack([j["rows"] for j in chunk]),
                                   np.stack([j["y"] for j in chunk]), keys,
                                   num_labels=num_labels, config=config, **kwargs)
    else:
      result = learners.train_many(spec.learner, np.stack([j["features"] for j in chunk]),
                                   np.stack([j["y"] for j in chunk]), keys,
                                   num_labels=num_labels, config=config, **kwargs)
    trained.append(result)
    placed.update({i: (result, slot) for slot, i in enumerate(members)})
    bar.update(1)
  jax.block_until_ready([t.params for t in trained])
  train_s = time.perf_counter() - start

  # 3. Measure on the evaluation table and compare (see the module docstring).
  rows = []
  for index, job in enumerate(jobs):
    model, slot = placed[index]
    one = learners.Trained(model.graphdef, jax.tree.map(lambda v: v[slot:slot + 1], model.params),
                           model.final_loss[slot:slot + 1], model.diverged[slot:slot + 1],
                           model.loss_change[slot:slot + 1])
    diverged = bool(one.diverged[0])
    table = tables[job["seed"]]
    pred = learners.predict_many(one, table.features)[0]
    weights = table.p0.sum(axis=1)
    # A model whose training diverged (non-finite loss or parameters) is reported, never scored.
    clean_acc = np.nan if diverged else float(table.p0[np.arange(len(pred)), pred].sum())
    active = list(job["active"])
    report = job["report"]
    maps = table.maps[active]
    targets = np.array([spec.collectives[i].target for i in active])
    measured = np.array([np.nan if diverged else float(weights @ (pred[maps[c]] == targets[c]))
                         for c in range(len(active))])
    masses = report.masses_used
    flags = np.array([spec.collectives[i].strategy == "feature_only" for i in active])
    counts = np.maximum(report.counts, 1)
    noise = [report.abstained / counts, report.wrong_signal / counts, report.wrong_label / counts]
    if diverged:
      nan = np.full(len(active), np.nan)
      theory = dict(eps_hat=nan, exact_success=nan, bound=nan, exact_at_eps=nan,
                    bound_at_eps=nan, eps_effective=nan,
                    bound_note=["training diverged"] * len(active), margin_share=nan,
                    exact_on_margin_points=nan)
    else:
      theory = _theory(spec, table.p0, maps, targets, masses, flags, noise, pred, measured,
                       off_table=not finite and bool(np.any(noise[1] > 0)))
    common = dict(dataset=spec.dataset, learner=spec.learner, configuration=job["k"],
                  active="+".join(map(str, active)),
                  **({"mass_scale": job["scale"]} if spec.split is None
                     else {"mass_scale": np.nan, "split_t": job["scale"]}),
                  noise=np.nan if job["level"] is None else job["level"], seed=job["seed"],
                  clean_accuracy=clean_acc, eps=spec.eps, diverged=diverged,
                  final_loss=float(one.final_loss[0]), loss_change=float(one.loss_change[0]),
                  converged=bool(one.converged[0]))
    for pos, i in enumerate(active):
      col = spec.collectives[i]
      rows.append(dict(common, collective=str(i), name=col.name or f"c{i}", target=col.target,
                       strategy=col.strategy, mass=mass_at(spec, i, job["scale"]),
                       mass_used=masses[pos], members=int(report.counts[pos]),
                       abstain=noise[0][pos], wrong_signal=noise[1][pos],
                       wrong_label=noise[2][pos], success=measured[pos],
                       signal_collision=", ".join(
                           spec.collectives[j].name or f"c{j}" for j in active if collides[i, j]),
                       **{key: value[pos] for key, value in theory.items()}))
    total = masses.sum()
    s_min_bound, s_w_bound = _summary_bound(theory["bound"], masses)
    at_eps = _summary_bound(theory["bound_at_eps"], masses)
    exact, exact_eps = theory["exact_success"], theory["exact_at_eps"]
    eps_hat = float(np.max(theory["eps_hat"]))
    rows.append(dict(common, collective="S_min", name="S_min", mass=total, mass_used=total,
                     success=measured.min(), eps_hat=eps_hat, bound=s_min_bound,
                     exact_success=exact.min(), bound_at_eps=at_eps[0],
                     exact_at_eps=exact_eps.min()))
    rows.append(dict(common, collective="S_w", name="S_w", mass=total, mass_used=total,
                     success=float(measured @ masses / total), eps_hat=eps_hat, bound=s_w_bound,
                     exact_success=float(exact @ masses / total), bound_at_eps=at_eps[1],
                     exact_at_eps=float(exact_eps @ masses / total)))
    bar.update(1)
  bar.close()
  frame = pd.DataFrame(rows)
  paths = []
  if out_dir is not None:
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _io.write_csv(frame, out / "results.csv")
    paths = [out / "results.csv", plot(frame, out / "success_vs_mass.png", title=spec.name)]
  return ValidationResult(frame=frame, paths=paths, compile_and_train_s=train_s)


def plot(frame, path, *, title: str = "") -> pathlib.Path:
  """Measured success and the bound at eps_hat (means over seeds), per configuration.

  One panel per configuration (the collectives acting), wrapped to at most
  four a row; one colour per collective, measured success solid and the
  bound at the learner's own eps_hat dashed in the same colour. The x axis
  is the collective's mass, or the noise level when the spec has a noise
  grid and a single mass; with both axes, one marker per noise level. A
  bound is drawn where every seed has one (a mean of bounds bounds the mean
  success).
  """
  order = frame.sort_values("configuration", kind="stable") if "configuration" in frame else frame
  configs = list(dict.fromkeys(order["active"]))
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  per = per.iloc[np.argsort(pd.to_numeric(per["collective"]).to_numpy(), kind="stable")]
  by_noise = per["noise"].nunique() > 1 and per["mass_scale"].nunique() == 1
  axis = "noise" if by_noise else "split_t" if "split_t" in per else "mass"
  noise_lines = per["noise"].nunique() > 1 and not by_noise
  levels = sorted(per["noise"].unique()) if noise_lines else [None]
  markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
  names = list(dict.fromkeys(per["name"]))
  colors = {name: f"C{k % 10}" for k, name in enumerate(names)}
  # One panel alone gets the room a grid's panels share with the legend.
  fig, axes = figures.grid(len(configs), panel=(6.0, 3.8) if len(configs) == 1 else (3.7, 3.1),
                           legend=len(configs) > 1, sharey=True)
  for ax, config in zip(axes, configs):
    sub = per[per["active"] == config]
    acting = list(dict.fromkeys(sub["name"]))
    for name in acting:
      for k, level in enumerate(levels):
        marker = markers[k % len(markers)]
        group = sub[sub["name"] == name]
        if level is not None:
          group = group[group["noise"] == level]
        mean = group.groupby(axis)[["success", "bound"]].agg(lambda v: v.mean(skipna=False))
        ax.plot(mean.index, mean["success"], marker=marker, linestyle="-", markersize=4,
                color=colors[name])
        if mean["bound"].notna().any():
          ax.plot(mean.index, mean["bound"], marker=marker, linestyle="--", markersize=4,
                  fillstyle="none", color=colors[name])
    ax.set_title("acting: " + (" and ".join(acting) if len(acting) <= 2 else
                               ", ".join(acting[:-1]) + " and " + acting[-1]), fontsize=9)
  titles = [ax.get_title() for ax in axes]
  for k, ax in enumerate(axes):       # configurations of same-named collectives: numbered
    if titles.count(titles[k]) > 1:
      ax.set_title(f"{titles[k]} (configuration {k})", fontsize=9)
    ax.set_xlabel({"noise": r"noise level $\nu$", "mass": r"mass $\alpha_c$",
                   "split_t": r"share $t$ of the budget held by collective 0"}[axis])
    ax.set_ylim(-0.05, 1.05)
    ax.locator_params(axis="x", nbins=5)
    ax.grid(alpha=.3)
    if ax.get_subplotspec().is_first_col():
      ax.set_ylabel("success $S_c$")
  handles = [plt.Line2D([], [], color=colors[n], linestyle="-") for n in names]
  labels = list(names)
  handles += [plt.Line2D([], [], color="k", linestyle="-", marker="o", markersize=4),
              plt.Line2D([], [], color="k", linestyle="--", marker="o", markersize=4,
                         fillstyle="none")]
  labels += ["measured (mean over seeds)", r"bound at the learner's $\hat\varepsilon$"]
  if noise_lines:
    handles += [plt.Line2D([], [], color="k", marker=markers[k % len(markers)], linestyle="none")
                for k in range(len(levels))]
    labels += [f"noise level {level:g}" for level in levels]
  figures.grid_legend(fig, axes, handles, labels)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  path = pathlib.Path(path)
  _io.save_figure(fig, path, dpi=110)
  plt.close(fig)
  return path
