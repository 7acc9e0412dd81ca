"""Critical budgets: the least total mass at which every bound reaches s (SPEC §8).

Closed forms for given shares (a half-line per collective) and for
optimised shares with integer targets (one condition per group of aligned
collectives); root finding on the best allocation for soft targets,
differentiable through the implicit function theorem. And the exact
counterpart of SPEC §8: :func:`exact_critical_mass`, the least mass at which
a collective's exact worst-case success (SPEC §2) reaches s.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from acajax import _checks, bounds, mixtures
from acajax.optimize._allocation import _allocate_core
from acajax.optimize._common import (
    METHODS,
    STRATEGIES,
    _check_int,
    _check_scalar,
    _check_strategy_params,
    _check_targets_values,
    _float_dtype,
    _num_collectives,
    _problem,
    _Problem,
    _scenario_bounds,
)
from acajax.optimize._restarts import Schedule, _schedule, _static_search_args
from acajax.optimize._static import Static


class CriticalBudget(NamedTuple):
  """Result of :func:`critical_budget`.

  Attributes:
    budget: () the smallest total mass at which every bound reaches the
      target; ``inf`` when no budget below 1 does, NaN out of domain, 0 when
      every positive budget does (0 is then the infimum).
    masses: (M,) masses at ``budget`` that reach the target (the given shares
      times ``budget``, or the optimised split); NaN when infeasible. With
      optimised shares an entry can be 0: that collective needs no members
      (any positive mass reaches s; ``budget`` is then an infimum).
    feasible: () bool, True where ``budget`` is finite.
  """
  budget: jax.Array
  masses: jax.Array
  feasible: jax.Array


def _smallest_in_intervals(const: jax.Array, slope: jax.Array) -> jax.Array:
  """Smallest b in [0, 1) with const_i + slope_i b <= 0 for every i, else inf.

  The conditions hold on an interval; 0 is returned when it is (0, u) with
  u > 0 (0 is then the infimum, every small positive budget works).
  """
  inf = jnp.asarray(jnp.inf, const.dtype)
  negative, positive = slope < 0, slope > 0
  ratio = -const / jnp.where(slope == 0, 1, slope)
  lower = jnp.max(jnp.where(negative, ratio, 0), initial=0.0)
  upper = jnp.min(jnp.where(positive, ratio, inf), initial=inf)
  flat_ok = jnp.all(jnp.where(slope == 0, const <= 0, True))
  # Budgets are positive: an interval that ends at 0 is empty.
  return jnp.where(flat_ok & (lower <= upper) & (upper > 0) & (lower < 1), lower, inf)


def _first_root_convex(fn, points: jax.Array) -> jax.Array:
  """Smallest b in [0, 1) with fn(b) <= 0, for fn convex and linear between ``points``.

  ``points`` must contain 0, 1 and every kink of ``fn`` in between.
  """
  points = jnp.sort(points)
  values = jax.vmap(fn)(points)
  hit = values <= 0
  first = jnp.argmax(hit)
  prev = jnp.maximum(first - 1, 0)
  width = points[first] - points[prev]
  drop = values[prev] - values[first]
  step = jnp.where(drop > 0, values[prev] / jnp.where(drop > 0, drop, 1), 0)
  root = jnp.where(first == 0, points[0], points[prev] + step * width)
  return jnp.where(jnp.any(hit) & (root < 1), root, jnp.inf)


def _critical_terms(target, problem: _Problem, strategy: str):
  """Per-collective coefficients of 'B_c >= s' at total b with own mass a, misaligned m.

  B_c >= s  <=>  rarity_c(b) + compete_c * m <= need_c * a, with rarity_c(b)
  = scale_c * max(0, kink_const_c + kink_slope_c * b) (a plain line for FL).
  """
  eps = problem.eps
  s = target
  if strategy == "feature_label":
    # FL (SPEC §4): A_c (1 - b) + B_c m <= (1 - s) a.
    rarity = problem.xi_c * (problem.delta + 2 * eps) / (1 - 2 * eps)
    compete = problem.xi * (1 + 2 * eps) / (1 - 2 * eps)
    need = jnp.broadcast_to(1 - s, rarity.shape)
    return dict(kind="line", rarity_const=rarity, rarity_slope=-rarity, compete=compete,
                need=need)
  # FO sound (SPEC §5): xi_c max(0, 1 + 2 eps - (2 - b) p) + xi (1 + 2 eps) m
  #                     <= (1 - s)(1 - 2 eps) p a.
  compete = problem.xi * (1 + 2 * eps)
  need = (1 - s) * (1 - 2 * eps) * problem.p
  return dict(kind="kink", scale=problem.xi_c, kink_const=1 + 2 * eps - 2 * problem.p,
              kink_slope=problem.p, compete=compete, need=need)


def _rarity_at(terms, b):
  if terms["kind"] == "line":
    return terms["rarity_const"] + terms["rarity_slope"] * b
  return terms["scale"] * jnp.maximum(0, terms["kink_const"] + terms["kink_slope"] * b)


def _critical_valid(target, problem: _Problem, strategy: str) -> jax.Array:
  par = problem.delta if strategy == "feature_label" else problem.p
  ok = ((target >= 0) & (target < 1) & (problem.eps >= 0) & (problem.eps < 0.5)
        & jnp.all((problem.xi_c >= 0) & (problem.xi_c <= 1) & (problem.xi >= 0)
                  & (problem.xi <= 1) & (par >= 0) & (par <= 1)))
  if strategy == "feature_only":
    ok = ok & jnp.all(par > 0)
  return ok


def _critical_with_shares(target, shares, problem: _Problem, strategy: str):
  """Closed form for fixed shares w: each 'B_c(b w) >= s' is a half-line in b."""
  dtype = shares.dtype
  terms = _critical_terms(target, problem, strategy)
  misaligned = 1 - shares - bounds.alignment(problem.targets, dtype).T @ shares   # m_c / b
  room = terms["need"] * shares - terms["compete"] * misaligned                  # per unit b
  if terms["kind"] == "line":
    # A_c + b (-A_c - room_c) <= 0.
    const, slope = terms["rarity_const"], terms["rarity_slope"] - room
  else:
    # max(0, L) <= b room  <=>  0 <= b room  and  L <= b room.
    const = jnp.concatenate([jnp.zeros_like(room), terms["scale"] * terms["kink_const"]])
    slope = jnp.concatenate([-room, terms["scale"] * terms["kink_slope"] - room])
  budget = _smallest_in_intervals(const, slope)
  return budget, budget * shares


def _critical_optimised(target, problem: _Problem, strategy: str):
  """Closed form for optimised shares, integer targets (SPEC §8 generalised).

  With groups of equal targets, the misaligned mass of c is b - G (G its
  group's mass), so 'B_c >= s for all c' splits into alpha_c >= l_c(b, G),
  and a group can meet its members' needs iff G >= L_g(b), an affine (FL) or
  convex piecewise-linear (FO) function of b. The smallest budget solves
  sum_g L_g(b) <= b.
  """
  dtype = problem.xi_c.dtype
  terms = _critical_terms(target, problem, strategy)
  same = (problem.targets[:, None] == problem.targets[None, :]).astype(dtype)   # with diagonal
  size = jnp.sum(same, axis=1)
  per_need = terms["compete"] / terms["need"]                  # e_c

  def group_need(b):
    """L_{g(c)}(b) for every c: the least mass of c's group."""
    rarity = _rarity_at(terms, b) / terms["need"]
    return (same @ rarity + b * (same @ per_need)) / (1 + same @ per_need)

  def excess(b):
    return jnp.sum(group_need(b) / size) - b

  if terms["kind"] == "line":
    points = jnp.array([0.0, 1.0], dtype)
  else:
    kinks = -terms["kink_const"] / terms["kink_slope"]
    points = jnp.concatenate([jnp.array([0.0, 1.0], dtype), jnp.clip(kinks, 0, 1)])
  budget = _first_root_convex(excess, points)
  # Masses at the critical budget: each group gets its need plus an equal
  # part of the slack (zero at an interior root), then each member its own
  # need plus an equal part of the group's slack.
  b = jnp.where(jnp.isfinite(budget), budget, 0.5)
  need_g = group_need(b)
  groups = jnp.sum(1 / size)
  slack = jnp.maximum(b - jnp.sum(need_g / size), 0)
  group_mass = need_g + slack / groups
  own = (_rarity_at(terms, b) + terms["compete"] * (b - group_mass)) / terms["need"]
  masses = own + (group_mass - same @ own) / size
  return budget, jnp.where(jnp.isfinite(budget), masses, jnp.nan)


class _RootConfig(NamedTuple):
  """The static settings of root finding (hashable: a jit cache key)."""
  strategy: str
  steps: int
  restarts: int
  optimizer: Static
  temperature: Static
  grid: int
  iterations: int


def _best_raw_min(budget, problem, key, config: _RootConfig):
  """max over splits of min_c raw B_c at ``budget`` (allocation, exact value)."""
  run = _allocate_core(budget, problem, key, objective="min", strategy=config.strategy,
                       steps=config.steps, restarts=config.restarts,
                       optimizer=config.optimizer, temperature=config.temperature)
  masses = jnp.where(jnp.isfinite(run.masses), run.masses, budget / run.masses.shape[0])
  raw = jnp.min(_scenario_bounds(masses, problem, config.strategy, False))
  return raw, run.logits


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _root_budget(config: _RootConfig, target, problem, key):
  """Smallest budget whose best split reaches ``target``, by repeated sectioning.

  Each step scores ``grid`` equally spaced budgets inside the bracket (one
  vmapped allocation) and keeps the interval before the first that reaches
  the target; the bracket shrinks by a factor ``grid`` per step. The upper
  end is always a budget where a split reaching the target was verified.
  """
  dtype = problem.xi_c.dtype
  num = problem.xi_c.shape[0]
  fractions = jnp.arange(1, config.grid + 1, dtype=dtype) / config.grid

  def section(_, carry):
    lo, hi, logits, found = carry
    trial = lo + (hi - lo) * fractions
    values, trial_logits = jax.vmap(lambda b: _best_raw_min(b, problem, key, config))(trial)
    hit = values >= target
    first = jnp.argmax(hit)
    any_hit = jnp.any(hit)
    new_lo = jnp.where(first > 0, trial[jnp.maximum(first - 1, 0)], lo)
    return (jnp.where(any_hit, new_lo, hi), jnp.where(any_hit, trial[first], hi),
            jnp.where(any_hit, trial_logits[first], logits), found | any_hit)

  # Every budget below 1 (a bound needs abar < 1): the top is just below it.
  top = jnp.asarray(1 - 1e-6, dtype)
  carry = (jnp.zeros((), dtype), top, jnp.zeros((num,), dtype), jnp.zeros((), bool))
  # The first step must find a feasible budget; after that the bracket
  # only narrows (a step without a hit would mean the root was lost).
  lo, hi, logits, found = jax.lax.fori_loop(0, config.iterations, section, carry)
  return jnp.where(found, hi, jnp.inf), logits


@_root_budget.defjvp
def _root_budget_jvp(config, primals, tangents):
  # Implicit function theorem on h(b, theta) = V(b, theta) - s = 0, with V the
  # smoothed max-min at the optimal split (envelope theorem: the split's own
  # derivative vanishes at the optimum; the soft-min weights play the role of
  # the max-min's dual multipliers). db = -(dh/dtheta . dtheta) / (dh/db).
  target, problem, key = primals
  target_dot, problem_dot, _ = tangents
  budget, logits = _root_budget(config, target, problem, key)
  tau = jnp.asarray(_schedule(config.temperature, config.steps)(config.steps - 1),
                    problem.xi_c.dtype)
  shares = jax.nn.softmax(jax.lax.stop_gradient(logits))
  safe_budget = jnp.where(jnp.isfinite(budget), budget, 0.5)

  def h(b, target, problem):
    raw = _scenario_bounds(b * shares, problem, config.strategy, False)
    return -tau * jax.nn.logsumexp(-raw / tau) - target

  dh_db = jax.grad(h)(safe_budget, target, problem)
  _, dh = jax.jvp(lambda t, pr: h(safe_budget, t, pr), (target, problem),
                  (target_dot, problem_dot))
  budget_dot = jnp.where(jnp.isfinite(budget) & (dh_db != 0), -dh / jnp.where(dh_db != 0, dh_db, 1),
                         0)
  return (budget, logits), (budget_dot, jnp.zeros_like(logits))


_root_core = jax.jit(_root_budget, static_argnums=0)


@functools.partial(jax.jit, static_argnames=("strategy",))
def _closed_form_core(target, shares, problem, *, strategy):
  valid = _critical_valid(target, problem, strategy)
  safe_target = jnp.where(valid, target, 0.5)
  if shares is not None:
    valid = valid & jnp.all(shares > 0)
    shares = jnp.where(valid, shares, 1.0) / jnp.sum(jnp.where(valid, shares, 1.0))
    budget, masses = _critical_with_shares(safe_target, shares, problem, strategy)
  else:
    budget, masses = _critical_optimised(safe_target, problem, strategy)
  budget = jnp.where(valid, budget, jnp.nan)
  masses = jnp.where(valid & jnp.isfinite(budget), masses, jnp.nan)
  return budget, masses


def critical_budget(target: ArrayLike, *, targets: ArrayLike, xi_c: ArrayLike, xi: ArrayLike,
                    eps: ArrayLike, delta: ArrayLike | None = None, p: ArrayLike | None = None,
                    strategy: str = "feature_label", shares: ArrayLike | None = None,
                    method: str = "auto", optimizer: optax.GradientTransformation | None = None,
                    steps: int = 200, restarts: int = 4,
                    temperature: tuple[float, float] | Schedule = (0.1, 1e-3),
                    grid: int = 8, iterations: int = 14, seed: ArrayLike = 0) -> CriticalBudget:
  r"""Smallest total budget at which every collective's bound reaches ``target`` (SPEC §8).

  "Reaches" means the raw bound is at least s (for s > 0 the same as the
  clipped bound; s = 0 asks for non-vacuous bounds).

  * ``shares`` given (positive weights, normalised to sum 1; masses
    b * shares): closed form. For fixed shares each condition B_c(b w) >= s
    is a half-line in b (two for feature-only, whose sound bound has a kink),
    so the answer is the left end of their intersection; it generalises
    SPEC §8, which holds the other collectives' masses fixed instead.
  * ``shares=None``: the shares are optimised too. With integer targets this
    is closed form as well: collectives with one target share their
    misaligned mass, so the condition becomes one per group, G_g >= L_g(b),
    and the budget is the smallest root of sum_g L_g(b) = b (affine for
    feature-label, convex piecewise linear for feature-only). With soft
    targets (or ``method="root"``) the budget is found by root finding on
    b -> max over splits of min_c B_c (:func:`allocate_masses` at each
    trial budget; ``iterations`` steps that each score ``grid`` budgets
    spread over the bracket and keep the part before the first that reaches
    s, so the bracket shrinks by ``grid`` per step), differentiable through
    the implicit function theorem.

  Args:
    target: the success level s, in [0, 1).
    targets: (M,) integer labels or (M, K) soft one-hot targets.
    xi_c, xi: rarity and uniqueness, scalars or (M,).
    eps: suboptimality, a scalar.
    delta: difficulty (feature-label), scalar or (M,).
    p: positivity (feature-only), scalar or (M,).
    strategy: ``"feature_label"`` or ``"feature_only"`` (sound form).
    shares: optional (M,) positive weights of the split.
    method: ``"auto"`` (closed form where it applies), ``"closed_form"``
      or ``"root"`` (root finding; for ``shares=None`` only).
    optimizer, steps, restarts, temperature, seed: the allocation used by
      root finding (see :func:`allocate_masses`).
    grid: trial budgets per root-finding step (scored in one vmapped call).
    iterations: root-finding steps (bracket width (1/grid)^iterations).

  Returns:
    A :class:`CriticalBudget`. The root finder keeps the upper end of its
    bracket, where a split reaching s was verified, and may miss a feasible
    window narrower than 1/grid when the bound is not monotone in the
    budget (feature-only).

  Raises:
    ValueError: unknown ``strategy``/``method``, a missing ``delta``/``p``,
      bad shapes, ``method="closed_form"`` with soft targets and no shares,
      ``method="root"`` with shares, non-positive concrete ``shares``.
    TypeError: non-numeric arguments.

  Examples:
    Three collectives of SPEC §10 (all distinct targets here), target 0.5:

    >>> import jax.numpy as jnp
    >>> from acajax import optimize
    >>> kw = dict(targets=jnp.array([0, 1, 2]), xi_c=jnp.array([.01, .02, .005]),
    ...           xi=.05, delta=jnp.array([.6, .4, .8]), eps=.1)
    >>> equal = optimize.critical_budget(.5, shares=jnp.ones(3), **kw)
    >>> best = optimize.critical_budget(.5, **kw)
    >>> round(float(equal.budget), 4), round(float(best.budget), 4)
    (0.1139, 0.082)
    >>> print(best.masses.round(4))
    [0.0267 0.0346 0.0207]
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  _checks.check_choice("method", method, METHODS)
  _check_strategy_params(strategy, delta, p)
  _check_scalar("target", target)
  num = _num_collectives(targets)
  _check_targets_values(targets)
  soft = jnp.ndim(targets) == 2
  if shares is not None:
    _checks.dtype_of("shares", shares)
    if tuple(jnp.shape(shares)) != (num,):
      raise ValueError(f"shares must have shape ({num},) to match targets, got {jnp.shape(shares)}")
    if _checks.is_concrete(shares) and not np.all(np.asarray(shares) > 0):
      raise ValueError(f"shares must be positive, got {np.asarray(shares).tolist()}")
    if method == "root":
      raise ValueError("method='root' optimises the shares; pass shares=None or "
                       "method='closed_form'")
  elif method == "closed_form" and soft:
    raise ValueError("method='closed_form' with optimised shares needs integer targets; "
                     "use method='root' (or 'auto') for soft targets")
  steps = _check_int("steps", steps, 1)
  restarts = _check_int("restarts", restarts, 1)
  grid = _check_int("grid", grid, 2)
  iterations = _check_int("iterations", iterations, 1)
  optimizer, temperature = _static_search_args(optimizer, temperature)
  dtype = _float_dtype(target=target, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                       shares=shares, targets=targets if soft else None)
  problem = _problem(num, targets=targets, xi_c=xi_c, xi=xi, eps=eps, delta=delta, p=p,
                     dtype=dtype)
  target = jnp.asarray(target, dtype)
  if shares is None and (method == "root" or (method == "auto" and soft)):
    valid = _critical_valid(target, problem, strategy)
    config = _RootConfig(strategy=strategy, steps=steps, restarts=restarts, optimizer=optimizer,
                         temperature=temperature, grid=grid, iterations=iterations)
    budget, logits = _root_core(config, jnp.where(valid, target, 0.5), problem,
                                jax.random.key(seed))
    masses = jnp.where(jnp.isfinite(budget), budget * jax.nn.softmax(logits), jnp.nan)
    budget = jnp.where(valid, budget, jnp.nan)
    masses = jnp.where(valid & jnp.isfinite(budget), masses, jnp.nan)
  else:
    if shares is not None:
      shares = jnp.asarray(shares, dtype)
    budget, masses = _closed_form_core(target, shares, problem, strategy=strategy)
  return CriticalBudget(budget=budget, masses=masses, feasible=jnp.isfinite(budget))


@functools.partial(jax.jit, static_argnames=("strategy",))
def _exact_critical_core(target, p0, signals, targets, others, eps, collective, flags, noise,
                         strategy):
  """Smallest alpha_c at which S_c^wc reaches ``target``: every breakpoint, scored exactly."""
  room = 1 - jnp.sum(others)                       # alpha_c < room keeps abar < 1

  def with_mass(alpha):
    return others.at[collective].set(alpha)

  def gaps(alpha):
    # SPEC §2 on the joint table: c wins z iff P(z, y_c) - P(z, y) >= 2 eps P(z), y != y_c.
    joint = mixtures._mixture_core(p0, signals, targets, with_mass(alpha), flags, noise,
                                   strategy)
    return joint[:, targets[collective], None] - joint - 2 * eps * jnp.sum(joint, -1,
                                                                            keepdims=True)

  # The mixture is affine in alpha_c, so each gap changes sign at most once:
  # the success is a step function whose steps up lie at these roots (or at 0).
  half = room / 2
  low, high = gaps(0.0), gaps(half)
  slope = (high - low) / half
  root = -low / jnp.where(slope != 0, slope, 1)
  other_label = jnp.arange(p0.shape[1]) != targets[collective]
  is_root = (slope != 0) & other_label & (root > 0) & (root < room)
  # 0+ (tiny): a signal point with no mass at alpha_c = 0 is won by any positive mass.
  tiny = jnp.finfo(p0.dtype).eps * room
  candidates = jnp.concatenate([jnp.stack([jnp.zeros_like(room), tiny]),
                                jnp.where(is_root, root, 0).ravel()])
  usable = jnp.concatenate([jnp.array([True, True]), is_root.ravel()])
  success = jax.vmap(lambda alpha: mixtures._success_core(
      p0, signals, targets, with_mass(alpha), eps, flags, noise, strategy)[collective])(candidates)
  # A root just below 1 - a_o can round to a total mass of 1 (NaN there): not reached.
  reached = usable & (success >= target - mixtures.success_tolerance(p0.dtype))
  best = jnp.min(jnp.where(reached, candidates, jnp.inf))
  best = jnp.where(best <= tiny, 0, best)          # 0 is then the infimum
  valid = (target >= 0) & (target <= 1) & jnp.isfinite(success[0])
  return jnp.where(valid, best, jnp.nan)


def exact_critical_mass(target: ArrayLike, p0: ArrayLike, signal_maps, targets: ArrayLike,
                        masses: ArrayLike, *, collective: int, eps: ArrayLike,
                        feature_only=False, noise: mixtures.CoordinationNoise | None = None,
                        strategy: mixtures.Strategy | None = None) -> jax.Array:
  r"""Smallest mass at which a collective's exact worst-case success reaches ``target``.

  The exact counterpart of SPEC §8: the other collectives' masses are held
  fixed and the result is the least alpha_c with alpha_c + a_o < 1 and
  S_c^wc(eps) >= s (:func:`acajax.mixtures.worst_case_success`, SPEC §2).

  S_c^wc is *not* monotone in alpha_c: members dilute the base data, which
  can cost c a signal point where P0 already favoured y_c and few members
  land (and noise or feature-only strategies add more such cases). So no
  bisection: the mixture is affine in alpha_c, every condition
  P(z, y_c) - P(z, y) >= 2 eps P(z) of SPEC §2 changes sign at most once,
  and the success is a step function whose steps up lie at those roots.
  Every root in (0, 1 - a_o), and 0, is scored with the exact engine
  (n K + 2 evaluations, one vmapped call), and the smallest that reaches s
  is returned: exact up to rounding, the first crossing even where the
  success later falls again. Success counts as reaching s within
  :func:`~acajax.mixtures.success_tolerance`.

  Jittable and vmappable in every array argument (``target``, ``masses``,
  ``eps``, the table). One scenario; ``jax.vmap`` for batches.

  Args:
    target: the success level s, in [0, 1] (NaN outside).
    p0, signal_maps, targets, feature_only, noise, strategy: the scenario, as
      in :func:`acajax.mixtures.worst_case_success`.
    masses: (M,) masses; entry ``collective`` is ignored, the others stay
      fixed (a_o their sum).
    collective: the index c of the collective whose mass is sought.
    eps: suboptimality, a scalar in [0, 1/2).

  Returns:
    () the critical mass; ``inf`` when no alpha_c < 1 - a_o reaches s (as
    :func:`acajax.bounds.critical_mass`), 0 when every positive mass does
    (0 is then the infimum), NaN out of domain (SPEC §11).

  Raises:
    ValueError, TypeError: as :func:`acajax.mixtures.worst_case_success`, or
      ``collective`` not an index in [0, M).

  Examples:
    Two opposed collectives sharing a signal point (built with
    :func:`acajax.scenarios.finite_scenario`): c0 needs 90% success, so it
    must win the shared point, i.e. outweigh c1 there.

    >>> import jax, jax.numpy as jnp
    >>> from acajax import optimize, scenarios
    >>> table = scenarios.finite_scenario(jnp.array([0, 1]), num_labels=2,
    ...     xi_c=jnp.array([.05, .1]), xi=.2, delta=jnp.array([.3, .6]))
    >>> mass = optimize.exact_critical_mass(.9, *table, jnp.array([0., .05]),
    ...                                     collective=0, eps=.05)
    >>> round(float(mass), 4)     # = 0.05 (1 + 2 eps) / (1 - 2 eps)
    0.0611
    >>> over_s = jax.vmap(lambda s: optimize.exact_critical_mass(
    ...     s, *table, jnp.array([0., .05]), collective=0, eps=.05))
    >>> print(over_s(jnp.array([.5, .9, 1.])).round(4))   # 50%: its own point alone
    [0.0257 0.0611 0.0611]
  """
  _check_scalar("target", target)
  _check_scalar("eps", eps)
  num = jnp.shape(targets)[0] if jnp.ndim(targets) == 1 else None
  if isinstance(collective, bool) or not isinstance(collective, (int, np.integer)) or (
      num is not None and not 0 <= collective < num):
    raise ValueError(f"collective must be an int index in [0, M) = [0, {num}), got {collective!r}")
  _checks.dtype_of("masses", masses)
  others = jnp.asarray(masses).at[collective].set(0) if jnp.ndim(masses) == 1 else masses
  s = mixtures._check_scenario(p0, signal_maps, targets, others, feature_only, noise, strategy)
  target = jnp.asarray(target, s.p0.dtype)
  return _exact_critical_core(target, s.p0, s.signals, s.targets, s.masses,
                              jnp.asarray(eps, s.p0.dtype), collective, s.flags, s.noise,
                              strategy=s.strategy)
