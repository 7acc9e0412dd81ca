"""Empirical validation: planted data, flax learners, bounds side by side (issue 8).

A :class:`ValidationSpec` names a dataset, a learner, collectives (mass,
target, signal, strategy, noise), the collective configurations that act
(subsets of the collectives), seeds and a mass grid (multipliers of the
collectives' masses). :func:`run` plants every (configuration, mass, seed)
with :mod:`acajax.planting`, trains all the models in one jitted, vmapped
call per chunk (:func:`acajax.learners.train_many`), and reports per
collective, side by side:

* ``success``: measured success on the base test population with the
  collective's signal applied (SPEC §2); ``clean_accuracy`` on the test set
  without signals (the platform's cost);
* ``bound``: the closed-form bound (Theorem 1 for feature-label, the sound
  Theorem 2 for feature-only; SPEC §4–§5) at ``eps`` from parameters
  estimated on the same data: on finite tables ``mixtures.scenario_parameters``
  of the empirical table of the training sample; on other data a plug-in
  estimate over signal sets (X*_c = the points carrying c's signal: its
  character, pixel pattern or coordinates);
* on finite tables, ``exact_success``: the exact worst-case success of the
  empirical table at ``eps`` (SPEC §2), and ``eps_effective``: the learner's
  effective eps, the smallest eps on a grid of step 0.001 at which the exact
  worst-case success falls below the measured success (0.5: never).

Specs come from TOML (``acajax validate SPEC.toml --out DIR``); :func:`load`
checks everything before any compilation and raises :class:`SpecError`
naming the file, the key and the allowed values. Results: a tidy
``results.csv`` (one row per model and collective, plus ``S_min`` and ``S_w``
rows) and ``success_vs_mass.png``.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import tomllib

import numpy as np

from acajax import datasets, planting

__all__ = ["CollectiveSpec", "SpecError", "ValidationResult", "ValidationSpec", "load", "plot",
           "run"]

LEARNER_NAMES = ("logistic", "mlp", "ngram")
STRATEGIES = ("feature_label", "feature_only")
EPS_GRID_STEP = 0.001


class SpecError(ValueError):
  """An invalid validation spec; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class CollectiveSpec:
  """One collective of a spec.

  ``signal`` depends on the dataset: a point (int) or an (n,) index map on
  ``finite_table``; a practice 1..4 on ``climate_adaptation``; one character
  on text datasets; a list of [row, col] pixels on ``digits``; a table
  ``{coordinates = [...], value = v}`` on ``gaussian_mixture``.
  """
  mass: float
  target: int
  signal: object
  strategy: str = "feature_label"
  abstain: float = 0.0
  wrong_signal: float = 0.0
  wrong_label: float = 0.0
  name: str | None = None


@dataclasses.dataclass(frozen=True)
class ValidationSpec:
  """What to validate (see the module docstring); build in Python or :func:`load`."""
  dataset: str
  learner: str
  collectives: tuple[CollectiveSpec, ...]
  name: str = "validation"
  seeds: tuple[int, ...] = (0,)
  mass_grid: tuple[float, ...] = (1.0,)
  configurations: tuple[tuple[int, ...], ...] | None = None
  eps: float = 0.0
  num_samples: int = 2000
  test_samples: int = 1000
  p0: tuple[tuple[float, ...], ...] | None = None
  path: str | None = None
  steps: int = 300
  learning_rate: float = 0.1
  l2: float = 1e-4
  batch_size: int | None = None
  hidden: int = 32
  models_per_call: int = 64
  source: str = "<spec>"

  @property
  def active_sets(self) -> tuple[tuple[int, ...], ...]:
    if self.configurations is None:
      return (tuple(range(len(self.collectives))),)
    return self.configurations


# --- loading and checking ------------------------------------------------------

_TOP_KEYS = {"name", "dataset", "learner", "seeds", "mass_grid", "configurations", "eps", "data",
             "train", "collectives"}
_DATA_KEYS = {"num_samples", "test_samples", "p0", "path"}
_TRAIN_KEYS = {"steps", "learning_rate", "l2", "batch_size", "hidden", "models_per_call"}
_COLLECTIVE_KEYS = {f.name for f in dataclasses.fields(CollectiveSpec)}


def _fail(source, key, message):
  raise SpecError(f"{source}: {key}: {message}")


def _check_signal(spec: ValidationSpec, c: int, signal, num_points: int | None):
  key = f"collectives[{c}].signal"
  ds = spec.dataset
  if ds == "finite_table":
    if isinstance(signal, int) and not isinstance(signal, bool):
      if not 0 <= signal < num_points:
        _fail(spec.source, key, f"a point must lie in [0, {num_points}); got {signal}")
      return
    if (isinstance(signal, (list, tuple)) and len(signal) == num_points
        and all(isinstance(v, int) and 0 <= v < num_points for v in signal)):
      return
    _fail(spec.source, key, f"must be a point in [0, {num_points}) or a list of {num_points} "
          f"points (an index map); got {signal!r}")
  elif ds == "climate_adaptation":
    if not (isinstance(signal, int) and 1 <= signal <= 4):
      _fail(spec.source, key, f"must be a declared practice 1, 2, 3 or 4; got {signal!r}")
  elif ds in ("synthetic_resumes", "resume_file"):
    if not (isinstance(signal, str) and len(signal) == 1):
      _fail(spec.source, key, f"must be a single character (inserted every 20 words); "
            f"got {signal!r}")
  elif ds == "digits":
    ok = (isinstance(signal, (list, tuple)) and len(signal) > 0 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(
            isinstance(v, int) and 0 <= v < 8 for v in p) for p in signal))
    if not ok:
      _fail(spec.source, key, f"must be a non-empty list of [row, col] pixels in 0..7; "
            f"got {signal!r}")
  elif ds == "gaussian_mixture":
    if not (isinstance(signal, dict) and set(signal) == {"coordinates", "value"}
            and isinstance(signal["coordinates"], (list, tuple)) and signal["coordinates"]):
      _fail(spec.source, key, f"must be a table {{coordinates = [...], value = v}}; "
            f"got {signal!r}")


def validated(spec: ValidationSpec) -> ValidationSpec:
  """Checks a spec completely (no compilation); returns it or raises SpecError."""
  src = spec.source
  if spec.dataset not in datasets.DATASETS:
    _fail(src, "dataset", f"unknown dataset {spec.dataset!r}; allowed: "
          f"{', '.join(datasets.DATASETS)}")
  if spec.learner not in LEARNER_NAMES:
    _fail(src, "learner", f"unknown learner {spec.learner!r}; allowed: {', '.join(LEARNER_NAMES)}")
  if spec.dataset in ("synthetic_resumes", "resume_file") and spec.learner != "ngram":
    _fail(src, "learner", f"text datasets need the 'ngram' learner; got {spec.learner!r}")
  if spec.dataset not in ("synthetic_resumes", "resume_file") and spec.learner == "ngram":
    _fail(src, "learner", f"'ngram' is for text datasets; dataset is {spec.dataset!r}")
  if not spec.seeds or not all(isinstance(s, int) and s >= 0 for s in spec.seeds):
    _fail(src, "seeds", f"must be a non-empty list of integers >= 0; got {list(spec.seeds)}")
  if not spec.mass_grid or not all(
      isinstance(m, (int, float)) and m > 0 for m in spec.mass_grid):
    _fail(src, "mass_grid", f"must be a non-empty list of positive multipliers; "
          f"got {list(spec.mass_grid)}")
  if not isinstance(spec.eps, (int, float)) or not 0 <= spec.eps < 0.5:
    _fail(src, "eps", f"must lie in [0, 0.5); got {spec.eps}")
  for key in ("num_samples", "test_samples", "steps", "hidden", "models_per_call"):
    value = getattr(spec, key)
    if not isinstance(value, int) or value < 1:
      section = "data" if key in _DATA_KEYS else "train"
      _fail(src, f"{section}.{key}", f"must be an integer >= 1; got {value!r}")
  if spec.batch_size is not None and (not isinstance(spec.batch_size, int) or spec.batch_size < 1):
    _fail(src, "train.batch_size", f"must be an integer >= 1 (omit for full batch); "
          f"got {spec.batch_size!r}")
  for key, low in (("learning_rate", 0.0), ("l2", None)):
    value = getattr(spec, key)
    if not isinstance(value, (int, float)) or (value <= low if low is not None else value < 0):
      _fail(src, f"train.{key}", f"must be a number {'> 0' if low is not None else '>= 0'}; "
            f"got {value!r}")
  num_points = None
  if spec.dataset == "finite_table":
    if spec.p0 is None:
      _fail(src, "data.p0", "finite_table needs an (n, K) table of joint probabilities")
    p0 = np.asarray(spec.p0, float)
    if p0.ndim != 2 or np.any(p0 < 0) or abs(p0.sum() - 1) > 1e-6:
      _fail(src, "data.p0", f"must be an (n, K) table of non-negative numbers summing to 1; "
            f"got shape {p0.shape}, sum {p0.sum():.6g}")
    num_points = p0.shape[0]
  if spec.dataset == "resume_file":
    if spec.path is None:
      _fail(src, "data.path", "resume_file needs the path of an 'id:::labels:::text' corpus")
    if not pathlib.Path(spec.path).is_file():
      _fail(src, "data.path", f"no such file: {spec.path}")
  if not spec.collectives:
    _fail(src, "collectives", "at least one [[collectives]] entry is needed")
  num_labels = {"digits": 10, "synthetic_resumes": 4, "climate_adaptation": 3,
                "gaussian_mixture": 2}.get(spec.dataset)
  if num_points is not None:
    num_labels = np.asarray(spec.p0).shape[1]
  max_scale = max(spec.mass_grid)
  for c, col in enumerate(spec.collectives):
    if col.strategy not in STRATEGIES:
      _fail(src, f"collectives[{c}].strategy", f"unknown strategy {col.strategy!r}; allowed: "
            f"{', '.join(STRATEGIES)}")
    if not isinstance(col.target, int) or col.target < 0 or (
        num_labels is not None and col.target >= num_labels):
      _fail(src, f"collectives[{c}].target", f"must be a label in [0, {num_labels}); "
            f"got {col.target!r}")
    if not isinstance(col.mass, (int, float)) or not col.mass > 0:
      _fail(src, f"collectives[{c}].mass", f"must be > 0; got {col.mass!r}")
    if round(col.mass * min(spec.mass_grid) * spec.num_samples) < 1:
      _fail(src, f"collectives[{c}].mass", f"mass {col.mass} x {min(spec.mass_grid)} (smallest "
            f"mass_grid value) gives no member among data.num_samples = {spec.num_samples}")
    noise = [col.abstain, col.wrong_signal, col.wrong_label]
    if any(not 0 <= v <= 1 for v in noise) or sum(noise) > 1:
      _fail(src, f"collectives[{c}]", "abstain, wrong_signal, wrong_label must lie in [0, 1] "
            f"with sum <= 1; got {noise}")
    _check_signal(spec, c, col.signal, num_points)
  for k, active in enumerate(spec.active_sets):
    if not active or not all(isinstance(i, int) and 0 <= i < len(spec.collectives)
                             for i in active) or len(set(active)) != len(active):
      _fail(src, f"configurations[{k}]", f"must list distinct collective indices in "
            f"[0, {len(spec.collectives)}); got {list(active)}")
    total = sum(spec.collectives[i].mass for i in active) * max_scale
    if total >= 1:
      _fail(src, f"configurations[{k}]", f"total mass {total:g} at mass_grid value "
            f"{max_scale} must be < 1")
  return spec


def load(path) -> ValidationSpec:
  """Reads and checks a TOML spec (before any compilation).

  Raises:
    SpecError: unreadable TOML, unknown keys, bad values; the message names the
      file and the key, with the allowed values.
  """
  path = pathlib.Path(path)
  src = str(path)
  try:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
  except FileNotFoundError:
    raise SpecError(f"{src}: no such file") from None
  except tomllib.TOMLDecodeError as err:
    raise SpecError(f"{src}: not valid TOML: {err}") from None
  for key in raw:
    if key not in _TOP_KEYS:
      _fail(src, key, f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
  for section, allowed in (("data", _DATA_KEYS), ("train", _TRAIN_KEYS)):
    for key in raw.get(section, {}):
      if key not in allowed:
        _fail(src, f"{section}.{key}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
  for key in ("dataset", "learner"):
    if key not in raw:
      _fail(src, key, "missing")
  collectives = []
  for c, entry in enumerate(raw.get("collectives", [])):
    for key in entry:
      if key not in _COLLECTIVE_KEYS:
        _fail(src, f"collectives[{c}].{key}", f"unknown key; allowed: "
              f"{', '.join(sorted(_COLLECTIVE_KEYS))}")
    for key in ("mass", "target", "signal"):
      if key not in entry:
        _fail(src, f"collectives[{c}].{key}", "missing")
    collectives.append(CollectiveSpec(**entry))
  data, train = raw.get("data", {}), raw.get("train", {})
  configurations = raw.get("configurations")
  spec = ValidationSpec(
      dataset=raw["dataset"], learner=raw["learner"], collectives=tuple(collectives),
      name=raw.get("name", path.stem), seeds=tuple(raw.get("seeds", (0,))),
      mass_grid=tuple(raw.get("mass_grid", (1.0,))),
      configurations=None if configurations is None else tuple(
          tuple(v) if isinstance(v, list) else (v,) for v in configurations),
      eps=raw.get("eps", 0.0),
      p0=None if "p0" not in data else tuple(tuple(r) for r in data["p0"]),
      path=None if "path" not in data else str((path.parent / data["path"]).resolve()),
      source=src, **{k: v for k, v in data.items() if k not in ("p0", "path")}, **train)
  return validated(spec)


# --- signals, data and the plug-in parameters ----------------------------------


def _signal_and_set(spec: ValidationSpec, col: CollectiveSpec, scenario):
  """The signal function and the membership test of its signal set X*_c."""
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
    char = col.signal
    return datasets.insertion_signal(char), lambda x: np.array([char in t for t in x])
  if ds == "digits":
    rows, cols = np.asarray(col.signal).T
    return datasets.pixel_signal(col.signal), lambda x: np.all(x[:, rows, cols] == 1.0, axis=1)
  coords, value = list(col.signal["coordinates"]), float(col.signal["value"])
  return (datasets.coordinate_signal(coords, value),
          lambda x: np.all(np.asarray(x)[:, coords] == value, axis=1))


def _data(spec: ValidationSpec, seed: int, scenario):
  """(train, test) datasets and, on finite tables, the true P0."""
  num, num_test = spec.num_samples, spec.test_samples
  if spec.dataset in ("finite_table", "climate_adaptation"):
    p0 = np.asarray(spec.p0 if spec.p0 is not None else scenario.p0, float)
    train = datasets.finite_table(p0, num, seed=seed)
    test = datasets.finite_table(p0, 1, seed=seed)
    test = dataclasses.replace(test, x=np.arange(len(p0)), y=np.argmax(p0, axis=1))
    return train, test, p0
  if spec.dataset == "gaussian_mixture":
    full = datasets.gaussian_mixture(num + num_test, seed=seed)
  elif spec.dataset == "synthetic_resumes":
    full = datasets.synthetic_resumes(num + num_test, seed=seed)
  elif spec.dataset == "resume_file":
    full = datasets.load_resume_corpus(spec.path)
  else:
    full = datasets.digits()
  order = np.random.default_rng(seed).permutation(len(full))
  if len(full) < num + 1:
    raise SpecError(f"{spec.source}: data.num_samples: the dataset has {len(full)} samples; "
                    f"num_samples = {num} leaves none for testing")
  return full.subset(order[:num]), full.subset(order[num:num + num_test]), None


def _plugin_parameters(in_sets, base_x, base_y, planted_members, num_labels, targets):
  """xi_c, overlap O[j, c], delta_c estimated over signal sets (non-finite data)."""
  num = len(in_sets)
  xi_c = np.array([in_sets[c](base_x).mean() for c in range(num)])
  overlap = np.array([[in_sets[c](planted_members[j]).mean() if len(planted_members[j]) else 0.
                       for c in range(num)] for j in range(num)])
  delta = np.zeros(num)
  for c in range(num):
    inside = in_sets[c](base_x)
    if inside.any():
      freq = np.bincount(base_y[inside], minlength=num_labels) / inside.sum()
      delta[c] = freq.max() - freq[targets[c]]
  return xi_c, overlap, delta


# --- running ---------------------------------------------------------------------


@dataclasses.dataclass
class ValidationResult:
  """A finished validation: the tidy table and the files written."""
  frame: object
  paths: list
  compile_and_train_s: float


def _theory(spec, p0_hat, maps, targets, masses, flags, noise_arrays, measured):
  """Bounds, exact worst-case success and effective eps on an empirical table."""
  import jax.numpy as jnp

  clean = not np.any(noise_arrays)
  mode = ("feature_label" if clean and not np.any(flags) else
          "feature_only" if clean and np.all(flags) else "none")
  grid = np.round(np.arange(0, 0.5, EPS_GRID_STEP), 6)
  bound, wc = _theory_jit()(jnp.asarray(p0_hat), jnp.asarray(maps), jnp.asarray(targets),
                            jnp.asarray(masses), jnp.asarray(flags),
                            tuple(jnp.asarray(v) for v in noise_arrays),
                            jnp.asarray(np.append(grid, spec.eps)), mode)
  wc = np.asarray(wc)                                              # (E + 1, M)
  exact, wc = wc[-1], wc[:-1]
  below = wc < measured[None, :] - 1e-9
  eps_eff = np.where(below.any(axis=0), grid[np.argmax(below, axis=0)], 0.5)
  return np.asarray(bound), exact, eps_eff


def _theory_impl(p0_hat, maps, targets, masses, flags, noise_arrays, eps_grid, mode):
  import jax
  import jax.numpy as jnp

  from acajax import bounds, mixtures

  noise = mixtures.CoordinationNoise(*noise_arrays)
  eps = eps_grid[-1]
  params = mixtures.scenario_parameters(p0_hat, maps, targets, masses, feature_only=flags,
                                        noise=noise)
  if mode == "feature_label":
    bound = bounds.scenario_bounds(masses, targets, xi_c=params.xi_c, xi=params.xi,
                                   delta=params.delta, eps=eps)
  elif mode == "feature_only":
    bound = bounds.scenario_bounds(masses, targets, xi_c=params.xi_c, xi=params.xi, p=params.p,
                                   eps=eps, strategy="feature_only")
  else:  # mixed strategies or coordination noise: no closed form applies (SPEC §4-§5)
    bound = jnp.full(targets.shape, jnp.nan, masses.dtype)
  wc = jax.vmap(lambda e: mixtures.worst_case_success(
      p0_hat, maps, targets, masses, eps=e, feature_only=flags, noise=noise))(eps_grid)
  return bound, wc


_THEORY = None


def _theory_jit():
  import jax
  global _THEORY
  if _THEORY is None:
    _THEORY = jax.jit(_theory_impl, static_argnames="mode")
  return _THEORY


def run(spec: ValidationSpec, out_dir=None, *, progress: bool = False) -> ValidationResult:
  """Runs a validation spec (see the module docstring).

  Args:
    spec: a :class:`ValidationSpec` (checked again here).
    out_dir: folder for ``results.csv`` and ``success_vs_mass.png``; None
      writes nothing.
    progress: show a tqdm progress bar.

  Returns:
    A :class:`ValidationResult`.

  Raises:
    SpecError: an invalid spec (before anything is compiled).
  """
  import time

  import jax
  import pandas as pd
  from tqdm.auto import tqdm

  from acajax import bounds, learners

  validated(spec)
  scenario = datasets.climate_adaptation() if spec.dataset == "climate_adaptation" else None
  grid = list(itertools.product(range(len(spec.active_sets)), spec.mass_grid, spec.seeds))
  signals = [_signal_and_set(spec, col, scenario) for col in spec.collectives]
  finite = spec.dataset in ("finite_table", "climate_adaptation")
  num_calls = -(-len(grid) // spec.models_per_call)
  bar = tqdm(total=2 * len(grid) + num_calls, desc=spec.name, disable=not progress)

  # 1. Plant every model's data (host side).
  per_seed = {seed: _data(spec, seed, scenario) for seed in spec.seeds}
  base_features = {seed: per_seed[seed][0].featurize(per_seed[seed][0].x) for seed in spec.seeds}
  jobs = []
  for k, scale, seed in grid:
    train, _, _ = per_seed[seed]
    active = spec.active_sets[k]
    cols = [planting.Collective(
        mass=spec.collectives[i].mass * scale, target=spec.collectives[i].target,
        signal=signals[i][0], strategy=spec.collectives[i].strategy,
        abstain=spec.collectives[i].abstain, wrong_signal=spec.collectives[i].wrong_signal,
        wrong_label=spec.collectives[i].wrong_label) for i in active]
    rng = np.random.default_rng([seed, k, int(round(scale * 1e6))])
    x, y, report = planting.plant(train.x, train.y, cols, rng, num_labels=train.num_labels,
                                  random_signal=train.random_signal)
    features = base_features[seed].copy()
    touched = np.concatenate(report.members)
    features[touched] = train.featurize(x[touched])
    jobs.append(dict(k=k, scale=scale, seed=seed, active=active, x=x, y=y, report=report,
                     features=features, cols=cols))
    bar.update(1)

  # 2. Train every model: one jitted, vmapped call per chunk.
  num_labels = per_seed[spec.seeds[0]][0].num_labels
  config = learners.TrainConfig(steps=spec.steps, learning_rate=spec.learning_rate, l2=spec.l2,
                                batch_size=spec.batch_size)
  kwargs = {"hidden": spec.hidden} if spec.learner == "mlp" else {}
  start = time.perf_counter()
  trained = []
  for lo in range(0, len(jobs), spec.models_per_call):
    chunk = jobs[lo:lo + spec.models_per_call]
    keys = jax.vmap(jax.random.key)(np.array([1000 * j["seed"] + lo + i
                                              for i, j in enumerate(chunk)]))
    result = learners.train_many(spec.learner, np.stack([j["features"] for j in chunk]),
                                 np.stack([j["y"] for j in chunk]), keys, num_labels=num_labels,
                                 config=config, **kwargs)
    trained.append(result)
    bar.update(1)
  jax.block_until_ready([t.params for t in trained])
  train_s = time.perf_counter() - start

  # 3. Measure and compare; test features are computed once per seed and signal.
  cache = {}

  def cached(key, make):
    if key not in cache:
      cache[key] = make()
    return cache[key]

  rows = []
  for index, job in enumerate(jobs):
    model = trained[index // spec.models_per_call]
    slot = index % spec.models_per_call
    one = learners.Trained(model.graphdef, jax.tree.map(lambda v: v[slot:slot + 1], model.params),
                           model.final_loss[slot:slot + 1])
    train, test, p0 = per_seed[job["seed"]]
    weights = p0.sum(axis=1) if finite else None
    clean_pred = learners.predict_many(one, cached(("clean", job["seed"]), lambda: test.featurize(
        test.x)))[0]
    if finite:  # population accuracy of f against P0(y|x)
      clean_acc = float(np.sum(p0[np.arange(len(p0)), clean_pred]))
    else:
      clean_acc = float(np.mean(clean_pred == test.y))
    active = job["active"]
    measured = np.array([planting.success(
        learners.predict_many(one, cached((i, job["seed"]), lambda i=i: test.featurize(
            signals[i][0](test.x))))[0],
        spec.collectives[i].target, weights) for i in active])
    masses = job["report"].masses_used
    targets = np.array([spec.collectives[i].target for i in active])
    flags = np.array([spec.collectives[i].strategy == "feature_only" for i in active])
    noise = [np.array([getattr(spec.collectives[i], f) for i in active], float)
             for f in ("abstain", "wrong_signal", "wrong_label")]
    exact = eps_eff = np.full(len(active), np.nan)
    if finite:
      counts = np.zeros_like(p0)
      np.add.at(counts, (train.x, train.y), 1)
      maps = np.stack([signals[i][1] for i in active])
      bound, exact, eps_eff = _theory(spec, counts / counts.sum(), maps, targets, masses, flags,
                                      noise, measured)
    else:
      planted_members = [job["x"][m] for m in job["report"].members]
      xi_c, overlap, delta = _plugin_parameters([signals[i][1] for i in active], train.x,
                                                train.y, planted_members, num_labels, targets)
      off = overlap * (1 - np.eye(len(active)))
      if np.any(noise) or (np.any(flags) and not np.all(flags)):
        bound = np.full(len(active), np.nan)
      elif np.all(flags):
        bound = np.full(len(active), np.nan)  # p_c needs P0(y|x) everywhere: finite tables only
      else:
        bound = np.asarray(bounds.scenario_bounds(masses, targets, xi_c=xi_c,
                                                  xi=off.max(axis=0), delta=delta, eps=spec.eps,
                                                  overlap=off))
    common = dict(dataset=spec.dataset, learner=spec.learner, configuration=job["k"],
                  active="+".join(map(str, active)), mass_scale=job["scale"], seed=job["seed"],
                  clean_accuracy=clean_acc, eps=spec.eps)
    for pos, i in enumerate(active):
      col = spec.collectives[i]
      rows.append(dict(common, collective=str(i), name=col.name or f"c{i}", target=col.target,
                       strategy=col.strategy, mass=col.mass * job["scale"],
                       mass_used=masses[pos], members=int(job["report"].counts[pos]),
                       success=measured[pos], bound=bound[pos], exact_success=exact[pos],
                       eps_effective=eps_eff[pos]))
    total = masses.sum()
    summaries = {
        "S_min": (measured.min(), float(bounds.s_min(np.nan_to_num(bound, nan=0.0))),
                  exact.min()),
        "S_w": (float(measured @ masses / total),
                float(bounds.s_weighted(np.nan_to_num(bound, nan=0.0), masses)),
                float(exact @ masses / total)),
    }
    for label, (value, bnd, ex) in summaries.items():
      rows.append(dict(common, collective=label, name=label, mass=total, mass_used=total,
                       success=value, bound=bnd if not np.all(np.isnan(bound)) else np.nan,
                       exact_success=ex))
    bar.update(1)
  bar.close()
  frame = pd.DataFrame(rows)
  paths = []
  if out_dir is not None:
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    paths = [out / "results.csv", plot(frame, out / "success_vs_mass.png", title=spec.name)]
  return ValidationResult(frame=frame, paths=paths, compile_and_train_s=train_s)


def plot(frame, path, *, title: str = "") -> pathlib.Path:
  """Measured success (mean over seeds) and bounds against mass, per configuration."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  configs = sorted(frame["active"].unique())
  fig, axes = plt.subplots(1, len(configs), figsize=(4.2 * len(configs), 3.4), squeeze=False)
  per = frame[~frame["collective"].isin(["S_min", "S_w"])]
  for ax, config in zip(axes[0], configs):
    sub = per[per["active"] == config]
    for (_, name), group in sub.groupby(["collective", "name"]):
      mean = group.groupby("mass")[["success", "bound"]].mean()
      line, = ax.plot(mean.index, mean["success"], "o-", label=f"{name} measured")
      if mean["bound"].notna().any():
        ax.plot(mean.index, mean["bound"], "--", color=line.get_color(), label=f"{name} bound")
    ax.set_title(f"acting: {config}")
    ax.set_xlabel("mass alpha_c")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=.3)
  axes[0][0].set_ylabel("success S_c")
  axes[0][-1].legend(fontsize=7)
  fig.suptitle(title)
  fig.tight_layout()
  path = pathlib.Path(path)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
