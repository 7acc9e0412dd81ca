r"""Several collectives with partial knowledge: SPEC §4–§5 with confidence intervals.

Theorems 1 and 2 (SPEC §4–§5) with every parameter replaced by an
:class:`Interval` (a confidence interval estimated from data, such as
:func:`parameter_intervals`, or what the collective knows about the others),
worst case over the box (:func:`worst_case_bound`), and closed-form bounds for
partial knowledge of the other collectives: only their total mass
(:func:`total_mass_only`), an aggregate of their strategies
(:func:`aggregate_worst_case`), or their strategies without the split of
their mass (:func:`split_worst_case`). Unlike the one-collective bounds of
:mod:`acajax.statistical._bounds`, the classifier here is eps-suboptimal for
the population mixture as in SPEC §2; only the parameters are estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from acajax import _checks, bounds
from acajax.statistical._bounds import hoeffding_radius
from acajax.statistical._counts import (
    CountTables,
    _int_array,
    _require,
    _table_arrays,
    _target_split,
)


class Interval(NamedTuple):
  """A confidence (or knowledge) interval [lower, upper] for one parameter."""
  lower: jax.Array
  upper: jax.Array


def interval(lower: ArrayLike, upper: ArrayLike | None = None) -> Interval:
  """An :class:`Interval`; ``upper`` defaults to ``lower`` (a known value).

  Examples:
    >>> from acajax import statistical
    >>> round(float(statistical.interval(.1, .2).upper), 6)
    0.2
  """
  if isinstance(lower, Interval):
    return lower
  lower_, upper_ = _checks.as_float_arrays(dict(lower=lower,
                                                upper=lower if upper is None else upper))
  return Interval(lower=lower_, upper=upper_)


def hoeffding_interval(estimate: ArrayLike, count: ArrayLike, *, delta: ArrayLike) -> Interval:
  """Two-sided Hoeffding interval of a frequency, clipped to [0, 1].

  ``estimate -+ sqrt(log(2/delta) / (2 count))``: holds with probability
  >= 1 - delta for a frequency over ``count`` i.i.d. samples.

  Examples:
    >>> from acajax import statistical
    >>> i = statistical.hoeffding_interval(.01, 10000, delta=.05)
    >>> round(float(i.lower), 6), round(float(i.upper), 6)
    (0.0, 0.023581)
  """
  estimate, count, delta = _checks.as_float_arrays(dict(estimate=estimate, count=count,
                                                        delta=delta))
  radius = hoeffding_radius(count, delta / 2)
  return Interval(lower=jnp.clip(estimate - radius, 0.0, 1.0),
                  upper=jnp.clip(estimate + radius, 0.0, 1.0))


class ParameterIntervals(NamedTuple):
  """Confidence intervals for a collective's own parameters (SPEC §3), from data.

  Attributes:
    xi_c: interval for the rarity xi_c = P0_X(X*).
    difficulty: interval for Delta_c (lower end 0: only the upper end is
      estimated).
  """
  xi_c: Interval
  difficulty: Interval


def parameter_intervals(tables: CountTables, *, target: ArrayLike, delta: ArrayLike,
                        num_signal_points: ArrayLike) -> ParameterIntervals:
  """Confidence intervals for xi_c and Delta_c from the collective's own sample.

  Both hold together with probability >= 1 - delta (delta/2 each):

  * xi_c: two-sided Hoeffding on the share of samples in X*.
  * Delta_c = max_{x in X*, P0(x) > 0} [max_y P0(y|x) - P0(y*|x)]
    (conditional probabilities, SPEC §3): given the n_x samples at x their
    labels are i.i.d. from P0(.|x), so with r_x = sqrt(log(K |X*| / (delta/2))
    / (2 n_x)) (one-sided events for every label at every point),
    Delta_x <= max(0, max_{y != y*} p-hat(y|x) - p-hat(y*|x)) + 2 r_x. A point of
    X* never observed may still have P0 mass, so the upper end is 1 unless
    every point of X* was observed (dense support). The lower end is 0.

  Args:
    tables: the collective's counts.
    target: y*.
    delta: failure probability in (0, 1).
    num_signal_points: |X*|.

  Returns:
    :class:`ParameterIntervals`.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.zeros((1, 2)),
    ...     joint=np.array([[100., 300.]]), total=np.array(10000.))
    >>> out = statistical.parameter_intervals(t, target=1, delta=.05, num_signal_points=1)
    >>> round(float(out.xi_c.upper), 4), round(float(out.difficulty.upper), 4)
    (0.0548, 0.148)
  """
  _, joint, total = _table_arrays(tables)
  target = _int_array("target", target)
  total, delta, points = _checks.as_float_arrays(dict(total=total, delta=delta,
                                                      num_signal_points=num_signal_points))
  _require("delta", delta, lambda v: (v > 0) & (v < 1), "lie in (0, 1)")
  inside = jnp.sum(joint, axis=(-2, -1))
  xi_c = hoeffding_interval(inside / total, total, delta=delta / 2)
  num_labels = joint.shape[-1]
  per_point = jnp.sum(joint, axis=-1)                                  # n_x
  seen = per_point > 0
  conditional = joint / jnp.where(seen, per_point, 1.0)[..., None]
  mine, others = _target_split(conditional, jnp.broadcast_to(target, total.shape))
  radius = jnp.sqrt(jnp.log(num_labels * points / (delta / 2))[..., None]
                    / (2 * jnp.where(seen, per_point, 1.0)))
  upper_x = jnp.maximum(others - mine, 0.0) + 2 * radius
  upper = jnp.max(jnp.where(seen, upper_x, 1.0), axis=-1)
  upper = jnp.where(points > joint.shape[-2], 1.0, upper)
  upper = jnp.clip(upper, 0.0, 1.0)
  return ParameterIntervals(xi_c=xi_c, difficulty=Interval(lower=jnp.zeros_like(upper),
                                                           upper=upper))


class ParameterBox(NamedTuple):
  """What collective c knows about a scenario: one interval per parameter (SPEC §3).

  Attributes:
    alpha: its own mass alpha_c (in the statistical setting n/N, known).
    alpha_others: the others' total mass abar - alpha_c.
    beta: the part of the others' mass aligned with c's target.
    xi_c: rarity P0_X(X*_c).
    xi: global uniqueness (the largest share another collective puts on X*_c).
    difficulty: Delta_c (feature-label).
    p: positivity p_c (feature-only).
  """
  alpha: Interval
  alpha_others: Interval
  beta: Interval
  xi_c: Interval
  xi: Interval
  difficulty: Interval
  p: Interval


def parameter_box(*, alpha, alpha_others, beta, xi_c, xi, difficulty=1.0,
                  p=float("nan")) -> ParameterBox:
  """Builds a :class:`ParameterBox`; each entry a number (known) or an :class:`Interval`.

  Examples:
    >>> from acajax import statistical
    >>> box = statistical.parameter_box(alpha=.05, alpha_others=(.04, .06), beta=(0., .03),
    ...                                 xi_c=.01, xi=.05, difficulty=.6)
    >>> round(float(box.alpha_others.upper), 6)
    0.06
  """
  return ParameterBox(*(_as_interval(v)
                        for v in (alpha, alpha_others, beta, xi_c, xi, difficulty, p)))


def _min_over(values: Sequence[jax.Array]) -> jax.Array:
  """Elementwise min that keeps NaN (an out-of-domain candidate poisons the result)."""
  out = values[0]
  for value in values[1:]:
    out = jnp.minimum(out, value)
  return out


def worst_case_bound(box: ParameterBox, *, eps: ArrayLike, strategy: str = "feature_label",
                     clip: bool = True) -> jax.Array:
  r"""Theorem 1 or 2 (SPEC §4–§5), worst case over every parameter in a box.

  The smallest value of the bound over all scenarios consistent with the box
  (with beta <= alpha_others). If the box holds the true parameters with
  probability >= 1 - delta (e.g. :func:`parameter_intervals` for the
  collective's own parameters, split by a union bound, and knowledge of the
  others), the result is a lower bound on S_c with probability >= 1 - delta.
  As in SPEC §4–§5, the classifier is eps-suboptimal for the population
  mixture (SPEC §2's eps); only the parameters are estimated.

  **Closed form, by monotonicity.** Feature-label (Theorem 1): the bound
  decreases in xi_c, xi and Delta_c (upper ends), increases in beta (lower
  end) and, with alpha_others fixed, in alpha (lower end; its derivative has
  the sign of A (1 - a_o) + B m_c >= 0). It is linear in alpha_others
  with beta fixed, with slope (A - B)/alpha of either sign, so the minimum is
  at an end of the feasible range [max(lower, beta_lower), upper]; both are
  evaluated. Feature-only (sound Theorem 2): decreasing in xi_c, xi and
  alpha_others, increasing in beta and p; in alpha it is monotone on each side
  of the kink where 1 + 2 eps - (2 - abar) p = 0, so the ends and the kink are
  evaluated. No optimiser is needed; tests compare with dense random search.

  Args:
    box: a :class:`ParameterBox`.
    eps: suboptimality (SPEC §2), in [0, 1/2).
    strategy: ``"feature_label"`` (uses ``difficulty``) or
      ``"feature_only"`` (uses ``p``; sound form).
    clip: clip to [0, 1] (default).

  Returns:
    The worst-case bound, broadcast shape; NaN when the box is empty
    (beta_lower > alpha_others upper) or leaves the domain.

  Examples:
    SPEC §10's c0 with the others' mass known to within +-0.01.

    >>> from acajax import statistical
    >>> box = statistical.parameter_box(alpha=.05, alpha_others=(.04, .06), beta=.02,
    ...                                 xi_c=.01, xi=.05, difficulty=.6)
    >>> round(float(statistical.worst_case_bound(box, eps=.1)), 6)
    0.762
  """
  _checks.check_choice("strategy", strategy, ("feature_label", "feature_only"))
  if not isinstance(box, ParameterBox):
    raise TypeError(f"box must be a ParameterBox; got {type(box).__name__}")
  beta = box.beta.lower
  low_others = jnp.maximum(box.alpha_others.lower, beta)
  high_others = box.alpha_others.upper
  feasible = low_others <= high_others
  if strategy == "feature_label":
    alpha = box.alpha.lower
    values = [bounds.feature_label(alpha, alpha_total=alpha + others, beta=beta,
                                   xi_c=box.xi_c.upper, xi=box.xi.upper,
                                   delta=box.difficulty.upper, eps=eps, clip=False)
              for others in (low_others, high_others)]
  else:
    others = high_others
    p = box.p.lower
    (eps_,) = _checks.as_float_arrays(dict(eps=eps))
    kink = 2 - others - (1 + 2 * eps_) / jnp.where(p > 0, p, 1.0)
    candidates = (box.alpha.lower, box.alpha.upper,
                  jnp.clip(kink, box.alpha.lower, box.alpha.upper))
    values = [bounds.feature_only(alpha, alpha_total=alpha + others, beta=beta,
                                  xi_c=box.xi_c.upper, xi=box.xi.upper, p=p, eps=eps,
                                  clip=False)
              for alpha in candidates]
  value = _min_over(values)
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  return jnp.where(feasible, value, jnp.nan)


def total_mass_only(*, alpha, alpha_others, xi_c, eps: ArrayLike, difficulty=None, p=None,
                    strategy: str = "feature_label", clip: bool = True) -> jax.Array:
  """Bound for a collective that knows only the others' total mass (SPEC §4–§5).

  Their targets and signals are unknown, so every split is possible: all of
  the others' mass may be misaligned (beta = 0) and may land on X*_c
  (xi = 1). Closed form: :func:`worst_case_bound` with beta in [0, a_o] and
  xi in [0, 1] (both worst at an end, by monotonicity).

  Args:
    alpha: own mass (number or :class:`Interval`).
    alpha_others: the others' total mass (number or :class:`Interval`).
    xi_c: rarity (number or :class:`Interval`).
    eps: suboptimality in [0, 1/2).
    difficulty: Delta_c (feature-label).
    p: p_c (feature-only).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    clip: clip to [0, 1].

  Returns:
    The bound.

  Examples:
    >>> from acajax import statistical
    >>> b = statistical.total_mass_only(alpha=.3, alpha_others=.05, xi_c=.01,
    ...                                 difficulty=.6, eps=.1)
    >>> round(float(b), 6)
    0.728333
  """
  others = _as_interval(alpha_others)
  box = parameter_box(alpha=alpha, alpha_others=others,
                      beta=Interval(jnp.zeros_like(others.upper), others.upper), xi_c=xi_c,
                      xi=(0.0, 1.0), difficulty=1.0 if difficulty is None else difficulty,
                      p=float("nan") if p is None else p)
  return worst_case_bound(box, eps=eps, strategy=strategy, clip=clip)


def aggregate_worst_case(*, alpha, alpha_others, aligned_share, overlap_share, xi_c,
                         difficulty, eps: ArrayLike, clip: bool = True) -> jax.Array:
  r"""Bound for a collective that knows only an aggregate of the others' strategies.

  The collective knows the others' total mass a_o, the share phi of it that
  targets its label, and the share omega of the others' data that lands on
  its signal set, omega = sum_j alpha_j O[j, c] / a_o (what it can see on the
  platform), but not who does what. Theorem 1 in its pairwise form (SPEC §4)
  needs the misaligned overlap mass sum_{j misaligned} alpha_j O[j, c], which
  is at most a_o min(omega, 1 - phi); this is attained (put all the overlap on
  misaligned collectives), so the worst case is closed form: beta = phi a_o
  at phi's lower end, omega's upper end, and the bound is linear in a_o
  (both ends evaluated).

  Args:
    alpha: own mass.
    alpha_others: the others' total mass (number or :class:`Interval`).
    aligned_share: phi in [0, 1] (number or :class:`Interval`).
    overlap_share: omega in [0, 1] (number or :class:`Interval`).
    xi_c: rarity (number or :class:`Interval`).
    difficulty: Delta_c (number or :class:`Interval`).
    eps: suboptimality in [0, 1/2).
    clip: clip to [0, 1].

  Returns:
    The bound.

  Examples:
    >>> from acajax import statistical
    >>> b = statistical.aggregate_worst_case(alpha=.05, alpha_others=.05, aligned_share=.4,
    ...     overlap_share=.05, xi_c=.01, difficulty=.6, eps=.1)
    >>> round(float(b), 6)
    0.745
  """
  alpha = _as_interval(alpha).lower
  others = _as_interval(alpha_others)
  phi = _as_interval(aligned_share).lower
  omega = _as_interval(overlap_share).upper
  xi_c = _as_interval(xi_c).upper
  difficulty = _as_interval(difficulty).upper
  values = []
  for a_o in (others.lower, others.upper):
    competition = a_o * jnp.minimum(omega, 1 - phi)
    values.append(bounds.feature_label_pairwise(alpha, alpha_total=alpha + a_o, xi_c=xi_c,
                                                delta=difficulty, eps=eps,
                                                competition=competition, clip=False))
  value = _min_over(values)
  valid = (phi >= 0) & (phi <= 1) & (omega >= 0) & (omega <= 1)
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  return jnp.where(valid, value, jnp.nan)


def _as_interval(value) -> Interval:
  if isinstance(value, Interval):
    return interval(value.lower, value.upper)
  if isinstance(value, tuple) and len(value) == 2:
    return interval(*value)
  return interval(value)


def split_worst_case(*, alpha, alpha_others, others_aligned: ArrayLike,
                     others_overlap: ArrayLike, xi_c, eps: ArrayLike, difficulty=None,
                     p=None, strategy: str = "feature_label", pairwise: bool = True,
                     clip: bool = True) -> jax.Array:
  r"""Bound when the others' strategies are known but not how their mass splits.

  The J other collectives have known targets (``others_aligned[j]``: same
  target as c) and overlaps O[j, c] (``others_overlap``), and a known total
  mass a_o, but their individual masses are unknown. The bound is linear in
  the split (a point of the simplex scaled by a_o), so its minimum is at a
  vertex: all of a_o on one collective. Closed form:

  * feature-label, pairwise (SPEC §4): competition = a_o max_{j misaligned}
    O[j, c] (0 if none is misaligned);
  * feature-label, plain Theorem 1, or feature-only (sound Theorem 2):
    xi = max_j O[j, c] is fixed by the strategies, and the misaligned mass is
    a_o if any collective is misaligned (beta = 0), else 0 (beta = a_o).

  Then the ends of a_o's interval are evaluated.

  Args:
    alpha: own mass (number or :class:`Interval`).
    alpha_others: total mass of the others (number or :class:`Interval`).
    others_aligned: (..., J) booleans.
    others_overlap: (..., J) overlaps O[j, c] in [0, 1].
    xi_c: rarity (number or :class:`Interval`).
    eps: suboptimality in [0, 1/2).
    difficulty: Delta_c (feature-label).
    p: p_c (feature-only).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    pairwise: for feature-label, use the pairwise form (sharper; default).
    clip: clip to [0, 1].

  Returns:
    The bound, shape (...).

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> b = statistical.split_worst_case(alpha=.05, alpha_others=.05,
    ...     others_aligned=np.array([True, False]), others_overlap=np.array([.5, .02]),
    ...     xi_c=.01, difficulty=.6, eps=.1)
    >>> round(float(b), 6)
    0.79
  """
  _checks.check_choice("strategy", strategy, ("feature_label", "feature_only"))
  aligned = jnp.asarray(others_aligned)
  if aligned.dtype != jnp.bool_:
    raise TypeError(f"others_aligned must be booleans; got dtype {aligned.dtype}")
  (overlap,) = _checks.as_float_arrays(dict(others_overlap=others_overlap))
  if aligned.ndim < 1 or aligned.shape != overlap.shape:
    raise ValueError(f"others_aligned and others_overlap must have one shape (..., J); got "
                     f"{aligned.shape} and {overlap.shape}")
  others = _as_interval(alpha_others)
  any_misaligned = jnp.any(~aligned, axis=-1)
  values = []
  for a_o in (others.lower, others.upper):
    misaligned = jnp.where(any_misaligned, a_o, 0.0)
    if strategy == "feature_label" and pairwise:
      worst = jnp.max(jnp.where(aligned, 0.0, overlap), axis=-1)
      alpha_ = _as_interval(alpha).lower
      values.append(bounds.feature_label_pairwise(
          alpha_, alpha_total=alpha_ + a_o, xi_c=_as_interval(xi_c).upper,
          delta=_as_interval(difficulty).upper, eps=eps, competition=a_o * worst, clip=False))
    else:
      box = parameter_box(alpha=alpha, alpha_others=a_o, beta=a_o - misaligned, xi_c=xi_c,
                          xi=jnp.max(overlap, axis=-1),
                          difficulty=1.0 if difficulty is None else difficulty,
                          p=float("nan") if p is None else p)
      values.append(worst_case_bound(box, eps=eps, strategy=strategy, clip=False))
  value = _min_over(values)
  return jnp.clip(value, 0.0, 1.0) if clip else value
