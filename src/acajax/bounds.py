"""Closed-form success bounds for M collectives (SPEC §4–§8).

Every function here is a pure JAX function: jittable, vmappable,
differentiable, and elementwise functions broadcast over any leading shape.
Conventions (SPEC §11):

* ``clip=True`` (default) returns the bound clipped to [0, 1]; ``clip=False``
  returns the raw right-hand side (negative means vacuous; useful for
  gradients).
* Values outside a theorem's domain give NaN, never an exception, so the
  functions can run on traced values. The domain is: ``0 <= eps < 1/2``,
  ``alpha > 0``, ``alpha_total < 1``, ``beta >= 0``,
  ``alpha + beta <= alpha_total`` (the misaligned mass is not negative, up to
  rounding), ``xi_c, xi, delta`` in [0, 1] and, for feature-only, ``p`` in
  (0, 1]. Scenario-level functions add: masses non-negative with total in
  (0, 1) (:func:`s_weighted`, :func:`scenario_bounds`), soft targets on the
  simplex (:func:`alignment`, :func:`scenario_bounds`; tolerance
  :data:`SOFT_TARGET_TOLERANCE`) and overlaps in [0, 1]. NaN inputs are out of
  domain everywhere. Masked branches use the double-where trick, so gradients
  stay finite (zero) there.
* Static mistakes (shapes that do not broadcast, non-numeric dtypes, unknown
  ``variant`` or ``strategy``) raise ``ValueError``/``TypeError`` naming the
  argument.

The per-x (conditional) definition of eps-suboptimality of SPEC §2 is used
throughout; see SPEC §6 for how it relates to the TV-ball definition of
Hardt et al.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from acajax import _checks

__all__ = [
    "CriticalMass",
    "alignment",
    "critical_eraser_mass",
    "critical_mass",
    "erasing",
    "feature_label",
    "feature_label_pairwise",
    "feature_only",
    "planter_ceiling",
    "s_min",
    "s_weighted",
    "scenario_bounds",
    "unplanting",
]

VARIANTS = ("sound", "published")
STRATEGIES = ("feature_label", "feature_only")
SOFT_TARGET_TOLERANCE = 1e-3
"""A soft target row "sums to 1" (traced check) when off by at most this.

Any dtype. Loose on purpose: finite-difference gradient checks step rows off
the simplex by a few 1e-4, and the bounds stay smooth there; a row that is
not a distribution at all (unnormalised weights, logits) is far outside it.
:mod:`acajax.optimize` checks concrete soft targets more tightly (1e-5)."""


def _slack(dtype) -> jax.Array:
  """Rounding slack for consistency checks such as alpha + beta <= alpha_total."""
  return jnp.asarray(16 * jnp.finfo(dtype).eps, dtype)


def _common_domain(alpha, alpha_total, beta, xi_c, xi, eps) -> tuple[jax.Array, ...]:
  """The conditions of the domain shared by Theorems 1 and 2 (module docstring)."""
  misaligned = alpha_total - alpha - beta
  return ((eps >= 0), (eps < 0.5), (alpha > 0), (alpha_total < 1), (beta >= 0),
          (misaligned >= -_slack(alpha.dtype)), (xi_c >= 0), (xi_c <= 1), (xi >= 0), (xi <= 1))


def _grouped(op, terms) -> jax.Array:
  """``op`` folded over ``terms``, same-shaped ones first, then smallest first.

  A sweep passes parameters shaped along the rows or the columns of a block;
  grouping keeps every combination of row-only (or column-only) terms on the
  small arrays, so a block pays one operation per point for the whole fold.
  """
  groups: dict[tuple[int, ...], jax.Array] = {}
  for term in terms:
    shape = jnp.shape(term)
    groups[shape] = op(groups[shape], term) if shape in groups else term
  parts = sorted(groups.values(), key=jnp.size)
  result = parts[0]
  for part in parts[1:]:
    result = op(result, part)
  return result


def _product(*factors: jax.Array) -> jax.Array:
  """The product of ``factors``, grouped by shape (:func:`_grouped`)."""
  return _grouped(jnp.multiply, factors)


def _all(*conditions: jax.Array) -> jax.Array:
  """The conjunction of ``conditions``, grouped by shape (:func:`_grouped`)."""
  return _grouped(jnp.logical_and, conditions)


def _guards(alpha: jax.Array, eps: jax.Array) -> tuple[jax.Array, jax.Array]:
  """alpha and eps with harmless stand-ins (0.5, 0) outside their own domain.

  The first half of the double-where, per parameter rather than per point:
  every division below stays finite (alpha > 0, 1 - 2 eps > 0) wherever the
  other parameters are out of domain too, so gradients stay finite, and a
  sweep keeps the guards on its row or column vectors.
  """
  return (_safe(alpha > 0, alpha, 0.5), _safe((eps >= 0) & (eps < 0.5), eps, 0.0))


def _finish(value: jax.Array, valid: jax.Array, clip: bool) -> jax.Array:
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  return jnp.where(valid, value, jnp.nan)


def _safe(valid: jax.Array, value: jax.Array, fallback) -> jax.Array:
  """First half of the double-where: a harmless stand-in where invalid."""
  return jnp.where(valid, value, jnp.asarray(fallback, value.dtype))


def feature_label(alpha: ArrayLike, *, alpha_total: ArrayLike, beta: ArrayLike,
                  xi_c: ArrayLike, xi: ArrayLike, delta: ArrayLike, eps: ArrayLike,
                  clip: bool = True) -> jax.Array:
  r"""Theorem 1: success bound of a feature-label collective (SPEC §4).

  .. math::

     S_c \ge 1 - \xi_c \frac{\Delta_c + 2\epsilon}{1 - 2\epsilon}
       \frac{1 - \bar\alpha}{\alpha_c}
       - \xi \frac{1 + 2\epsilon}{1 - 2\epsilon}
       \frac{\bar\alpha - \alpha_c - \beta_c}{\alpha_c}

  Valid when every collective plays feature-label. Elementwise; all arguments
  broadcast together.

  Args:
    alpha: mass alpha_c of the collective.
    alpha_total: total mass abar of all collectives (including this one).
    beta: aligned mass beta_c, the mass of the other collectives sharing the
      target.
    xi_c: rarity of the signal, P0_X(X*_c).
    xi: global uniqueness, the largest share others put on X*_c.
    delta: difficulty Delta_c in [0, 1].
    eps: suboptimality of the classifier, in [0, 1/2).
    clip: clip the bound to [0, 1] (default) or return the raw value.

  Returns:
    The bound, with the broadcast shape of the inputs; NaN out of domain.

  Raises:
    TypeError: an argument is not real numeric.
    ValueError: the shapes do not broadcast.

  Examples:
    SPEC §10: three collectives, alpha = (.05, .03, .02), targets (1, 0, 1).

    >>> import jax.numpy as jnp
    >>> from acajax import bounds
    >>> b = bounds.feature_label(jnp.array([.05, .03, .02]), alpha_total=.1,
    ...     beta=jnp.array([.02, 0., .05]), xi_c=jnp.array([.01, .02, .005]),
    ...     xi=.05, delta=jnp.array([.6, .4, .8]), eps=.1)
    >>> print(b.round(6))
    [0.775   0.375   0.60625]
  """
  value, conditions = _feature_label_parts(*_checks.as_float_arrays(dict(
      alpha=alpha, alpha_total=alpha_total, beta=beta, xi_c=xi_c, xi=xi, delta=delta,
      eps=eps), broadcast=False))
  return _finish(value, _all(*conditions), clip)


def _feature_label_parts(alpha, alpha_total, beta, xi_c, xi, delta, eps):
  """Theorem 1's raw value and its domain conditions, for callers that combine them.

  :func:`feature_label` is ``where(all(conditions), clip(value), nan)``. The
  value is finite wherever alpha > 0 and 0 <= eps < 1/2 hold (the guards),
  whatever the other conditions; the sweep engine folds the conditions into
  its reductions. Arguments are float arrays of one dtype that broadcast.

  Returns:
    ``(value, conditions)``: the unclipped right-hand side and a tuple of
    boolean arrays, each reading one parameter group.
  """
  conditions = _common_domain(alpha, alpha_total, beta, xi_c, xi, eps) + (delta >= 0,
                                                                            delta <= 1)
  alpha, eps = _guards(alpha, eps)
  # Factors that each read one group of parameters (masses; eps; delta, eps).
  difficulty = (delta + 2 * eps) / (1 - 2 * eps)
  scale = (1 + 2 * eps) / (1 - 2 * eps)
  value = (1.0 - _product(xi_c, difficulty, (1 - alpha_total) / alpha)
           - _product(xi, scale, (alpha_total - alpha - beta) / alpha))
  return value, conditions


def feature_label_pairwise(alpha: ArrayLike, *, alpha_total: ArrayLike, xi_c: ArrayLike,
                           delta: ArrayLike, eps: ArrayLike, competition: ArrayLike,
                           clip: bool = True) -> jax.Array:
  r"""Theorem 1 in its sharper pairwise-overlap form (SPEC §4).

  The competition term :math:`\xi(\bar\alpha - \alpha_c - \beta_c)` of
  :func:`feature_label` is replaced by
  ``competition`` :math:`= \sum_{j \ne c,\, y_j \ne y_c} \alpha_j O[j, c]`,
  the misaligned mass that actually lands on c's signal set. Since
  ``O[j, c] <= xi`` this bound is never below Theorem 1.

  Args:
    alpha: mass alpha_c of the collective.
    alpha_total: total mass abar.
    xi_c: rarity of the signal, P0_X(X*_c).
    delta: difficulty Delta_c in [0, 1].
    eps: suboptimality, in [0, 1/2).
    competition: misaligned overlap mass, in [0, alpha_total - alpha].
    clip: clip the bound to [0, 1] (default) or return the raw value.

  Returns:
    The bound, with the broadcast shape of the inputs; NaN out of domain.

  Examples:
    With ``competition = xi * misaligned`` it equals Theorem 1.

    >>> from acajax import bounds
    >>> b = bounds.feature_label_pairwise(.05, alpha_total=.1, xi_c=.01,
    ...     delta=.6, eps=.1, competition=.05 * .03)
    >>> round(float(b), 6)
    0.775
  """
  alpha, alpha_total, xi_c, delta, eps, competition = _checks.as_float_arrays(dict(
      alpha=alpha, alpha_total=alpha_total, xi_c=xi_c, delta=delta, eps=eps,
      competition=competition))
  zero = jnp.zeros_like(alpha)
  valid = (_all(*_common_domain(alpha, alpha_total, zero, xi_c, zero, eps)) & (delta >= 0)
           & (delta <= 1) & (competition >= 0)
           & (competition <= alpha_total - alpha + _slack(alpha.dtype)))
  alpha = _safe(valid, alpha, 0.5)
  eps = _safe(valid, eps, 0.0)
  value = (1.0 - xi_c * (delta + 2 * eps) / (1 - 2 * eps) * (1 - alpha_total) / alpha
           - (1 + 2 * eps) / (1 - 2 * eps) * competition / alpha)
  return _finish(value, valid, clip)


def feature_only(alpha: ArrayLike, *, alpha_total: ArrayLike, beta: ArrayLike,
                 xi_c: ArrayLike, xi: ArrayLike, p: ArrayLike, eps: ArrayLike,
                 variant: str = "sound", clip: bool = True) -> jax.Array:
  r"""Theorem 2: success bound of a feature-only collective (SPEC §5).

  ``variant="sound"`` (default) is the corrected form of SPEC §5:

  .. math::

     S_c \ge 1 - \frac{\xi_c \max(0, 1 + 2\epsilon - (2 - \bar\alpha) p_c)
       + \xi (1 + 2\epsilon)(\bar\alpha - \alpha_c - \beta_c)}
       {(1 - 2\epsilon) p_c \alpha_c}

  ``variant="published"`` is the form printed in the paper, kept to
  reproduce its curves. It is **not** a valid lower bound (SPEC §5 shows
  counter-examples); its stated assumption ``p <= (1 + 2 eps)/2`` is part of
  its domain, so larger ``p`` gives NaN.

  Args:
    alpha: mass alpha_c of the collective.
    alpha_total: total mass abar.
    beta: aligned mass beta_c.
    xi_c: rarity of the signal, P0_X(X*_c).
    xi: global uniqueness.
    p: positivity p_c = min_x P0(y_c | x), in (0, 1].
    eps: suboptimality, in [0, 1/2).
    variant: ``"sound"`` or ``"published"``.
    clip: clip the bound to [0, 1] (default) or return the raw value.

  Returns:
    The bound, with the broadcast shape of the inputs; NaN out of domain.

  Raises:
    ValueError: unknown ``variant``, or shapes that do not broadcast.
    TypeError: an argument is not real numeric.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import bounds
    >>> kw = dict(alpha_total=.1, beta=jnp.array([.02, 0., .05]),
    ...           xi_c=jnp.array([.01, .02, .005]), xi=.05,
    ...           p=jnp.array([.3, .4, .3]), eps=.1, clip=False)
    >>> alpha = jnp.array([.05, .03, .02])
    >>> print(bounds.feature_only(alpha, **kw).round(6))
    [ 0.325    -0.354167 -0.03125 ]
    >>> print(bounds.feature_only(alpha, variant="published", **kw).round(6))
    [ 0.383333 -0.229167  0.041667]
  """
  _checks.check_choice("variant", variant, VARIANTS)
  value, conditions = _feature_only_parts(*_checks.as_float_arrays(dict(
      alpha=alpha, alpha_total=alpha_total, beta=beta, xi_c=xi_c, xi=xi, p=p, eps=eps),
      broadcast=False), variant=variant)
  return _finish(value, _all(*conditions), clip)


def _feature_only_parts(alpha, alpha_total, beta, xi_c, xi, p, eps, *, variant="sound"):
  """Theorem 2's raw value and its domain conditions (as :func:`_feature_label_parts`).

  The value is finite wherever alpha > 0, 0 <= eps < 1/2 and 0 < p <= 1.
  """
  conditions = _common_domain(alpha, alpha_total, beta, xi_c, xi, eps) + (p > 0, p <= 1)
  if variant == "published":
    conditions += (p <= (1 + 2 * eps) / 2,)
  alpha, eps = _guards(alpha, eps)
  p = _safe((p > 0) & (p <= 1), p, 0.5)
  # Each term as a product of factors that read one group of parameters:
  # competition / ((1 - 2 eps) p alpha) = xi (1+2eps)/(1-2eps) (m_c / alpha) / p.
  inv_p, inv_den = 1 / p, 1 / (1 - 2 * eps)
  competition = _product(xi, (1 + 2 * eps) * inv_den, (alpha_total - alpha - beta) / alpha,
                         inv_p)
  if variant == "sound":
    # xi_c max(0, 1 + 2eps - (2 - abar) p) / ((1 - 2eps) p alpha); the max as
    # SPEC §5 writes it, so the plateau where it is 0 is exactly 0.
    slack = (1 + 2 * eps) - _product(2 - alpha_total, p)
    rarity = _product(xi_c, 1 / alpha, inv_den, inv_p, jnp.maximum(0.0, slack))
  else:
    # xi_c [(1-abar)(1+2eps-2p) + 2 eps abar] / ((1-2eps) p alpha)
    rarity = _product(xi_c, inv_den, inv_p, 1 / alpha,
                      (1 - alpha_total) * (1 + 2 * eps - 2 * p) + 2 * eps * alpha_total)
  return 1.0 - rarity - competition, conditions


def s_min(bounds: ArrayLike, *, clip: bool = True) -> jax.Array:
  """Bound on the worst-case metric S_min = min_c S_c (SPEC §7).

  Args:
    bounds: per-collective bounds B_c, shape (..., M).
    clip: clip each B_c to [0, 1] first (default; the corollary is stated for
      clipped bounds).

  Returns:
    min_c B_c, shape (...). NaN if any B_c is NaN.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import bounds
    >>> float(bounds.s_min(jnp.array([0.775, 0.375, 0.60625])))
    0.375
  """
  (values,) = _checks.as_float_arrays(dict(bounds=bounds))
  _checks.check_trailing_axis("bounds", values)
  values = jnp.clip(values, 0.0, 1.0) if clip else values
  return jnp.min(values, axis=-1)


def s_weighted(bounds: ArrayLike, alpha: ArrayLike, *, clip: bool = True) -> jax.Array:
  r"""Bound on the mass-weighted metric S_w = sum_c alpha_c S_c / abar (SPEC §7).

  For feature-label collectives with ``clip=False`` this equals the closed
  form :math:`1 - [(1-\bar\alpha)\sum_c \xi_c(\Delta_c + 2\epsilon)
  + \xi(1+2\epsilon)\sum_c m_c] / ((1-2\epsilon)\bar\alpha)`.

  Args:
    bounds: per-collective bounds B_c, shape (..., M).
    alpha: masses alpha_c, shape broadcastable to ``bounds``.
    clip: clip each B_c to [0, 1] first (default).

  Returns:
    sum_c alpha_c B_c / sum_c alpha_c, shape (...). NaN out of domain (SPEC
    §11): a negative or NaN mass, or a total mass outside (0, 1).

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import bounds
    >>> float(bounds.s_weighted(jnp.array([0.775, 0.375, 0.60625]),
    ...                         jnp.array([.05, .03, .02])))
    0.62125
    >>> float(bounds.s_weighted(jnp.array([0.5, 0.5]), jnp.array([.8, -.1])))
    nan
  """
  values, alpha = _checks.as_float_arrays(dict(bounds=bounds, alpha=alpha))
  _checks.check_trailing_axis("bounds", values)
  values = jnp.clip(values, 0.0, 1.0) if clip else values
  total = jnp.sum(alpha, axis=-1)
  valid = (jnp.min(alpha, axis=-1) >= 0) & (total > 0) & (total < 1)
  alpha = _safe(valid[..., None], alpha, 0.0)
  safe_total = _safe(valid, total, 1.0)
  return jnp.where(valid, jnp.sum(alpha * values, axis=-1) / safe_total, jnp.nan)


class CriticalMass(NamedTuple):
  """Result of :func:`critical_mass` with ``with_mask=True``.

  Attributes:
    alpha: the smallest mass alpha_c reaching the target; ``inf`` where no
      mass in (0, 1 - alpha_others) reaches it, NaN out of domain.
    feasible: boolean mask, True where ``alpha`` is a finite critical mass.
  """
  alpha: jax.Array
  feasible: jax.Array


def critical_mass(target: ArrayLike, *, strategy: str, alpha_others: ArrayLike,
                  beta: ArrayLike, xi_c: ArrayLike, xi: ArrayLike, eps: ArrayLike,
                  delta: ArrayLike | None = None, p: ArrayLike | None = None,
                  variant: str = "sound", with_mask: bool = False):
  r"""Smallest mass at which a collective's bound reaches ``target`` (SPEC §8).

  The other collectives are held fixed: their total mass ``alpha_others``
  (a_o), the part aligned with this collective ``beta`` and so the
  misaligned part m_c = a_o - beta. With
  A = xi_c (Delta_c + 2 eps)/(1 - 2 eps) and B = xi (1 + 2 eps)/(1 - 2 eps):

  * feature-label: alpha* = [A (1 - a_o) + B m_c] / (1 - s + A);
  * feature-only (sound form): alpha* = [xi_c (1 + 2 eps - 2 p + a_o p)
    + xi (1 + 2 eps) m_c] / ((1 - s)(1 - 2 eps) p - xi_c p) while
    1 + 2 eps - (2 - abar) p >= 0 at the solution, as in SPEC §8. Beyond that
    point the rarity term of the sound bound is zero; this function inverts
    the whole piecewise bound exactly (the smallest alpha with bound >= s), so
    it agrees with SPEC §8 wherever that formula applies.

  Infeasible targets — no alpha with alpha + a_o < 1 reaches ``s`` — give
  ``inf`` (never a silent number); out-of-domain inputs give NaN; 0 means
  every positive mass reaches ``s`` (0 is then the infimum). Pass
  ``with_mask=True`` to also get the feasibility mask.

  Args:
    target: the success level s to reach, in [0, 1).
    strategy: ``"feature_label"`` or ``"feature_only"``.
    alpha_others: total mass of the other collectives, a_o in [0, 1).
    beta: the part of ``alpha_others`` aligned with this collective's target.
    xi_c: rarity of the signal.
    xi: global uniqueness.
    eps: suboptimality, in [0, 1/2).
    delta: difficulty Delta_c (required for feature-label).
    p: positivity p_c (required for feature-only).
    variant: only ``"sound"`` is invertible in closed form; kept for symmetry
      with :func:`feature_only`.
    with_mask: also return the feasibility mask (a :class:`CriticalMass`).

  Returns:
    An array of critical masses (broadcast shape of the inputs), or a
    :class:`CriticalMass` if ``with_mask``.

  Raises:
    ValueError: unknown ``strategy``, a missing ``delta``/``p``, a
      ``variant`` other than ``"sound"``, or shapes that do not broadcast.
    TypeError: an argument is not real numeric.

  Examples:
    SPEC §10: collective c0, the others fixed, target s = 0.9.

    >>> from acajax import bounds
    >>> kw = dict(alpha_others=.05, beta=.02, xi_c=.01, xi=.05, eps=.1)
    >>> round(float(bounds.critical_mass(.9, strategy="feature_label", delta=.6, **kw)), 6)
    0.106818
    >>> round(float(bounds.critical_mass(.9, strategy="feature_only", p=.3, **kw)), 6)
    0.378571
    >>> result = bounds.critical_mass(.999, strategy="feature_only", p=.3,
    ...                               with_mask=True, **kw)
    >>> print(result.alpha, result.feasible)
    inf False
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  if variant != "sound":
    raise ValueError(f"variant must be 'sound' for critical_mass; got {variant!r} "
                     "(the published form is not a valid bound, SPEC §5)")
  if strategy == "feature_label":
    if delta is None:
      raise ValueError("delta is required when strategy='feature_label'")
    if p is not None:
      raise ValueError("p is only used when strategy='feature_only'; pass delta instead")
    extra = dict(delta=delta)
  else:
    if p is None:
      raise ValueError("p is required when strategy='feature_only'")
    if delta is not None:
      raise ValueError("delta is only used when strategy='feature_label'; pass p instead")
    extra = dict(p=p)
  target, a_o, beta, xi_c, xi, eps, extra_value = _checks.as_float_arrays(dict(
      target=target, alpha_others=alpha_others, beta=beta, xi_c=xi_c, xi=xi, eps=eps, **extra))
  misaligned = a_o - beta
  valid = ((target >= 0) & (target < 1) & (a_o >= 0) & (a_o < 1) & (beta >= 0)
           & (misaligned >= -_slack(a_o.dtype)) & (xi_c >= 0) & (xi_c <= 1)
           & (xi >= 0) & (xi <= 1) & (eps >= 0) & (eps < 0.5)
           & (extra_value >= 0) & (extra_value <= 1))
  if strategy == "feature_only":
    valid = valid & (extra_value > 0)
  eps = _safe(valid, eps, 0.0)
  target = _safe(valid, target, 0.0)
  inf = jnp.asarray(jnp.inf, a_o.dtype)

  if strategy == "feature_label":
    rarity = xi_c * (extra_value + 2 * eps) / (1 - 2 * eps)
    competition = xi * (1 + 2 * eps) / (1 - 2 * eps) * misaligned
    # 1 - s + A > 0 always (s < 1), so the closed form needs no guard.
    alpha = (rarity * (1 - a_o) + competition) / (1 - target + rarity)
  else:
    # Sound FO bound: 1 - N(alpha) / (D alpha) with D = (1 - 2 eps) p and the
    # convex N(alpha) = max(C, xi_c K + C + xi_c p alpha), K = 1 + 2 eps - (2 - a_o) p.
    # bound >= s  <=>  N(alpha) <= (1 - s) D alpha: the intersection of two
    # half-lines in alpha, solved exactly.
    p = _safe(valid, extra_value, 0.5)
    slope = (1 - target) * (1 - 2 * eps) * p
    competition = xi * (1 + 2 * eps) * misaligned
    linear_const = xi_c * (1 + 2 * eps - (2 - a_o) * p) + competition
    linear_den = slope - xi_c * p                        # SPEC §8's denominator
    lower_flat = competition / slope                     # from N >= C
    den_pos = linear_den > 0
    safe_den = jnp.where(den_pos, linear_den, 1.0)
    safe_neg_den = jnp.where(linear_den < 0, linear_den, -1.0)
    lower_linear = jnp.where(den_pos, linear_const / safe_den, -inf)
    # den < 0: alpha <= const/den; den == 0: feasible everywhere iff const <= 0.
    upper_linear = jnp.where(linear_den < 0, linear_const / safe_neg_den,
                             jnp.where(den_pos | (linear_const <= 0), inf, -inf))
    alpha = jnp.maximum(jnp.maximum(lower_flat, lower_linear), 0.0)
    alpha = jnp.where(alpha <= upper_linear, alpha, inf)

  # abar = a_o + alpha must stay below 1. A result of 0 means every positive
  # mass reaches the target (0 is the infimum; the bound needs alpha > 0).
  alpha = jnp.where(alpha < 1 - a_o, alpha, inf)
  alpha = jnp.where(valid, alpha, jnp.nan)
  if with_mask:
    return CriticalMass(alpha=alpha, feasible=jnp.isfinite(alpha))
  return alpha


# --------------------------------------------------------------------------
# Mixed objectives: unplanting and erasing collectives (theory guide,
# "Mixed objectives"; exact counterpart in acajax.objectives)
# --------------------------------------------------------------------------


def unplanting(alpha: ArrayLike, *, alpha_total: ArrayLike, beta: ArrayLike, xi_c: ArrayLike,
               xi: ArrayLike, delta: ArrayLike, eps: ArrayLike, clip: bool = True) -> jax.Array:
  r"""Success bound of an unplanting collective in a mixed population.

  The unplanter u wants f(g_u(x)) != y_u and plants g_u(x) with the label
  l_u(g_u(x)) != y_u (:func:`acajax.objectives.unplanting_labels`). Its
  success is at least Theorem 1's right-hand side with

  * ``delta`` the unplanting difficulty
    :math:`\Delta_u = \max(0, \max_{z \in X^*_u} P_0(y_u|z) - P_0(l_u(z)|z))`;
  * ``beta`` the mass of the other unplanters avoiding the same label (they
    plant the same labels);
  * every other collective, whatever its role or strategy, misaligned, with
    ``xi`` the largest share of its data it puts on :math:`X^*_u`.

  .. math::

     S_u \ge 1 - \xi_u \frac{\Delta_u + 2\epsilon}{1 - 2\epsilon}
       \frac{1 - \bar\alpha}{\alpha_u}
       - \xi \frac{1 + 2\epsilon}{1 - 2\epsilon}
       \frac{\bar\alpha - \alpha_u - \beta_u}{\alpha_u}

  Checked against :func:`acajax.objectives.worst_case_success` on 10^5
  random mixed populations with zero violations
  (``benchmarks/check_mixed_bounds.py``). Domain and conventions as
  :func:`feature_label`.

  Args:
    alpha: mass alpha_u of the unplanter.
    alpha_total: total mass abar.
    beta: mass of the unplanters avoiding the same label.
    xi_c: P0_X(X*_u), the rarity of its signal.
    xi: largest share a misaligned collective puts on X*_u.
    delta: unplanting difficulty Delta_u in [0, 1].
    eps: suboptimality, in [0, 1/2).
    clip: clip to [0, 1] (default) or return the raw value.

  Returns:
    The bound, broadcast shape of the inputs; NaN out of domain.

  Examples:
    A planter of mass 0.02 shares the unplanter's signal set (xi = 1):

    >>> from acajax import bounds
    >>> b = bounds.unplanting(.1, alpha_total=.12, beta=0., xi_c=.05, xi=1., delta=.2, eps=.05)
    >>> round(float(b), 6)
    0.608889
  """
  value, conditions = _feature_label_parts(*_checks.as_float_arrays(dict(
      alpha=alpha, alpha_total=alpha_total, beta=beta, xi_c=xi_c, xi=xi, delta=delta,
      eps=eps), broadcast=False))
  return _finish(value, _all(*conditions), clip)


def _share(transform: jax.Array) -> jax.Array:
  """r = min(q, 1 - q): the share of an eraser's data at each end of a pair."""
  return jnp.minimum(transform, 1 - transform)


def erasing(alpha: ArrayLike, *, alpha_total: ArrayLike, xi_c: ArrayLike, xi: ArrayLike,
            delta: ArrayLike, eps: ArrayLike, transform: ArrayLike = 0.5,
            clip: bool = True) -> jax.Array:
  r"""Success bound of an erasing collective in a mixed population.

  The eraser e wants f(g_e(x)) = f(x) for an idempotent transformation g_e:
  each member keeps x or (with probability ``transform`` = q) moves it to
  g_e(x), labelled :math:`\lambda(x) = \arg\max_y P_0(y | g_e(x))`
  (:func:`acajax.objectives.erasing_strategy`). With r = min(q, 1 - q),

  .. math::

     S_e \ge 1 - \frac{\xi_e (1 - \bar\alpha)(\Delta_e + 2\epsilon)
       + \xi (1 + 2\epsilon)(\bar\alpha - \alpha_e)}{r (1 - 2\epsilon) \alpha_e}

  where :math:`\xi_e = P_0(S_e)` is the base mass of the points of moved pairs
  (the sources g_e moves and the images that receive them),
  :math:`\Delta_e = \max_{w \in S_e} [\max_y P_0(y|w) - P_0(\lambda(w)|w)]`
  (0 when g_e never changes the base label) and every other collective
  counts as misaligned, ``xi`` the largest share one puts on S_e. Checked
  against :func:`acajax.objectives.worst_case_success` on 10^5 random mixed
  populations with zero violations.

  Args:
    alpha: mass alpha_e of the eraser.
    alpha_total: total mass abar.
    xi_c: P0_X(S_e).
    xi: largest share another collective puts on S_e.
    delta: erasing difficulty Delta_e in [0, 1].
    eps: suboptimality, in [0, 1/2).
    transform: fraction q of members who move their point, in (0, 1).
    clip: clip to [0, 1] (default) or return the raw value.

  Returns:
    The bound, broadcast shape of the inputs; NaN out of domain (also for
    ``transform`` outside (0, 1)).

  Examples:
    >>> from acajax import bounds
    >>> b = bounds.erasing(.3, alpha_total=.32, xi_c=1., xi=1., delta=0., eps=.02)
    >>> round(float(b), 6)
    0.666667
  """
  alpha, alpha_total, xi_c, xi, delta, eps, transform = _checks.as_float_arrays(dict(
      alpha=alpha, alpha_total=alpha_total, xi_c=xi_c, xi=xi, delta=delta, eps=eps,
      transform=transform))
  zero = jnp.zeros_like(alpha)
  valid = (_all(*_common_domain(alpha, alpha_total, zero, xi_c, xi, eps)) & (delta >= 0)
           & (delta <= 1) & (transform > 0) & (transform < 1))
  alpha = _safe(valid, alpha, 0.5)
  eps = _safe(valid, eps, 0.0)
  share = _share(_safe(valid, transform, 0.5))
  value = 1.0 - ((xi_c * (1 - alpha_total) * (delta + 2 * eps)
                  + xi * (1 + 2 * eps) * (alpha_total - alpha))
                 / (share * (1 - 2 * eps) * alpha))
  return _finish(value, valid, clip)


def planter_ceiling(alpha: ArrayLike, *, alpha_total: ArrayLike, xi_c: ArrayLike,
                    competition: ArrayLike, eps: ArrayLike, transform: ArrayLike = 0.5,
                    clip: bool = True) -> jax.Array:
  r"""Upper bound on a planter's success against an eraser of mass ``alpha``.

  Assumptions: the planters use the eraser's signal map g (an idempotent
  map with signal set X*), and the eraser's label at every signal point,
  :math:`L(z) = \arg\max_y P_0(y|z)`, differs from the planter's target.
  Wherever the eraser's label is forced, no eps-suboptimal classifier
  predicts the target, so for *every* eps-suboptimal classifier

  .. math::

     S_c \le \frac{2\epsilon (1 - \bar\alpha) \xi_c + (1 + 2\epsilon) C}
                  {q (1 - 2\epsilon) \alpha_e}

  with :math:`\xi_c = P_0(X^*)` and C the mass the other collectives
  (the planters included) put on X*. Checked against
  :func:`acajax.objectives.best_case_success` on 10^5 random instances with
  zero violations.

  Args:
    alpha: mass alpha_e of the eraser.
    alpha_total: total mass abar.
    xi_c: P0_X(X*), the rarity of the shared signal.
    competition: C = sum over the other collectives j of alpha_j P^j_X(X*),
      in [0, abar - alpha_e] (an FL planter adds its whole mass).
    eps: suboptimality, in [0, 1/2).
    transform: fraction q of the eraser's members who move their point, in (0, 1].
    clip: clip to [0, 1] (default) or return the raw value.

  Returns:
    The ceiling, broadcast shape of the inputs; NaN out of domain.

  Examples:
    A planter of mass 0.02 (FL, all of it on X*) against an eraser of 0.2:

    >>> from acajax import bounds
    >>> c = bounds.planter_ceiling(.2, alpha_total=.22, xi_c=.05, competition=.02, eps=.02)
    >>> round(float(c), 6)
    0.232917
  """
  alpha, alpha_total, xi_c, competition, eps, transform = _checks.as_float_arrays(dict(
      alpha=alpha, alpha_total=alpha_total, xi_c=xi_c, competition=competition, eps=eps,
      transform=transform))
  valid = ((alpha > 0) & (alpha_total < 1) & (alpha <= alpha_total) & (xi_c >= 0)
           & (xi_c <= 1) & (competition >= 0)
           & (competition <= alpha_total - alpha + _slack(alpha.dtype))
           & (eps >= 0) & (eps < 0.5) & (transform > 0) & (transform <= 1))
  alpha = _safe(valid, alpha, 0.5)
  eps = _safe(valid, eps, 0.0)
  transform = _safe(valid, transform, 1.0)
  value = ((2 * eps * (1 - alpha_total) * xi_c + (1 + 2 * eps) * competition)
           / (transform * (1 - 2 * eps) * alpha))
  return _finish(value, valid, clip)


def critical_eraser_mass(target: ArrayLike, *, alpha_others: ArrayLike, xi_c: ArrayLike,
                         competition: ArrayLike, eps: ArrayLike, transform: ArrayLike = 0.5,
                         with_mask: bool = False):
  r"""Smallest eraser mass that keeps a planter's success at most ``target``.

  Inverts :func:`planter_ceiling` (same assumptions): the ceiling falls as
  the eraser grows, and it is at most s from

  .. math::

     \alpha_e^* = \frac{2\epsilon (1 - a_o) \xi_c + (1 + 2\epsilon) C}
                       {q (1 - 2\epsilon) s + 2 \epsilon \xi_c}

  on, with a_o the other collectives' total mass and C their mass on X*
  (0 at s = 1, which every mass meets).
  Every eps-suboptimal classifier then gives the planter at most s.
  ``inf`` where no mass below 1 - a_o does it (never a silent number), NaN
  out of domain. The planter's own critical mass against an eraser is
  :func:`critical_mass` with the eraser counted as misaligned mass
  (``beta`` excludes it, ``xi`` its overlap with the signal set).

  Args:
    target: the success s the planter must not exceed, in [0, 1].
    alpha_others: total mass a_o of the other collectives, in [0, 1).
    xi_c: P0_X(X*).
    competition: C, the others' mass on X*, in [0, a_o].
    eps: suboptimality, in [0, 1/2).
    transform: the eraser's fraction q of moved points, in (0, 1].
    with_mask: also return the feasibility mask (a :class:`CriticalMass`).

  Returns:
    Critical eraser masses (broadcast shape), or a :class:`CriticalMass`.

  Examples:
    Keeping a planter of mass 0.02 at or below 50%:

    >>> from acajax import bounds
    >>> a = bounds.critical_eraser_mass(.5, alpha_others=.02, xi_c=.05, competition=.02,
    ...                                 eps=.02)
    >>> round(float(a), 6)
    0.09405
    >>> c = bounds.planter_ceiling(a, alpha_total=a + .02, xi_c=.05, competition=.02, eps=.02)
    >>> round(float(c), 6)
    0.5
  """
  target, a_o, xi_c, competition, eps, transform = _checks.as_float_arrays(dict(
      target=target, alpha_others=alpha_others, xi_c=xi_c, competition=competition, eps=eps,
      transform=transform))
  valid = ((target >= 0) & (target <= 1) & (a_o >= 0) & (a_o < 1) & (xi_c >= 0) & (xi_c <= 1)
           & (competition >= 0) & (competition <= a_o + _slack(a_o.dtype)) & (eps >= 0)
           & (eps < 0.5) & (transform > 0) & (transform <= 1))
  eps = _safe(valid, eps, 0.0)
  numerator = 2 * eps * (1 - a_o) * xi_c + (1 + 2 * eps) * competition
  denominator = transform * (1 - 2 * eps) * target + 2 * eps * xi_c
  positive = denominator > 0
  alpha = jnp.where(positive, numerator / jnp.where(positive, denominator, 1),
                    jnp.where(numerator > 0, jnp.inf, 0.0))
  alpha = jnp.where(alpha < 1 - a_o, alpha, jnp.inf)
  alpha = jnp.where(target >= 1, 0.0, alpha)     # a success is at most 1: any mass does
  alpha = jnp.where(valid, alpha, jnp.nan)
  if with_mask:
    return CriticalMass(alpha=alpha, feasible=jnp.isfinite(alpha))
  return alpha


def alignment(targets: ArrayLike, dtype=None) -> jax.Array:
  """Pairwise alignment weights a[j, c] in [0, 1], zero on the diagonal (SPEC §3).

  Integer targets (M,) give 1[y_j == y_c]; soft one-hot targets (M, K) give
  the inner product <w_j, w_c>, which makes beta_c = sum_j alpha_j a[j, c]
  differentiable in the targets. A soft row off the simplex (a negative or
  non-finite weight, or a sum off 1 by more than
  :data:`SOFT_TARGET_TOLERANCE`) is out of domain: its row and column of the
  result are NaN (SPEC §11), with a stand-in inside so gradients stay finite.

  Args:
    targets: integer targets (M,) or soft one-hot targets (M, K).
    dtype: the float dtype of the result (default: the targets' own float
      dtype, or JAX's default float for integer targets).

  Returns:
    The (M, M) weights.

  Raises:
    ValueError: integer targets not of shape (M,), or float targets not of
      shape (M, K).

  Examples:
    >>> import jax.numpy as jnp
    >>> alignment(jnp.array([0, 1, 0])).astype(int).tolist()
    [[0, 0, 1], [0, 0, 0], [1, 0, 0]]
    >>> alignment(jnp.array([[1., 0.], [.5, .5], [.9, .3]])).tolist()
    [[0.0, 0.5, nan], [0.5, 0.0, nan], [nan, nan, nan]]
  """
  _checks.dtype_of("targets", targets)
  targets = jnp.asarray(targets)
  if jnp.issubdtype(targets.dtype, jnp.integer):
    if targets.ndim != 1:
      raise ValueError(f"integer targets must have shape (M,); got shape {targets.shape}")
    dtype = jnp.result_type(float) if dtype is None else dtype
    same = (targets[:, None] == targets[None, :]).astype(dtype)
    return same * (1 - jnp.eye(targets.shape[0], dtype=same.dtype))
  if targets.ndim != 2:
    raise ValueError(f"soft targets must have shape (M, K); got shape {targets.shape}")
  safe, row_valid = _soft_targets(targets)
  same = safe @ safe.T
  same = same if dtype is None else same.astype(dtype)
  same = same * (1 - jnp.eye(targets.shape[0], dtype=same.dtype))
  return jnp.where(row_valid[:, None] & row_valid[None, :], same, jnp.nan)


def _soft_targets(targets: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``(safe, row_valid)`` for (M, K) soft targets: rows on the simplex.

  Invalid rows are replaced by the uniform row (double where).
  """
  row_sum = jnp.sum(targets, axis=-1)
  row_valid = (jnp.min(targets, axis=-1) >= 0) & (
      jnp.abs(row_sum - 1) <= SOFT_TARGET_TOLERANCE)
  uniform = jnp.asarray(1 / targets.shape[-1], targets.dtype)
  return jnp.where(row_valid[:, None], targets, uniform), row_valid


def scenario_bounds(alpha: ArrayLike, targets: ArrayLike, *, xi_c: ArrayLike,
                    xi: ArrayLike, eps: ArrayLike, delta: ArrayLike | None = None,
                    p: ArrayLike | None = None, strategy: str = "feature_label",
                    variant: str = "sound", overlap: ArrayLike | None = None,
                    clip: bool = True) -> jax.Array:
  """Every collective's bound in one scenario of M collectives (SPEC §4–§5).

  Computes ``alpha_total = sum(alpha)`` and each ``beta_c`` itself from the
  targets, then applies Theorem 1 (``strategy="feature_label"``; with
  ``overlap`` the pairwise form) or Theorem 2 (``"feature_only"``). Written
  for one scenario; ``jax.vmap`` it for batches.

  Args:
    alpha: masses, shape (M,).
    targets: target labels as ints, shape (M,), or soft one-hot weights,
      shape (M, K), rows summing to 1 (beta_c = sum_j alpha_j <w_j, w_c>, so
      gradients flow into the target choice).
    xi_c: rarity per collective, shape () or (M,).
    xi: global uniqueness, shape () or (M,).
    eps: suboptimality, a scalar.
    delta: difficulty per collective (feature-label), shape () or (M,).
    p: positivity per collective (feature-only), shape () or (M,).
    strategy: ``"feature_label"`` or ``"feature_only"`` (all collectives).
    variant: for feature-only, ``"sound"`` or ``"published"``.
    overlap: optional (M, M) overlap matrix, ``overlap[j, c]`` = O[j, c]; with
      feature-label it selects the sharper pairwise form.
    clip: clip the bounds to [0, 1] (default).

  Returns:
    The bounds B_c, shape (M,). NaN out of domain (SPEC §11): each
    collective's own conditions (as :func:`feature_label`/:func:`feature_only`)
    and, for the whole scenario, a negative or NaN mass or a soft target row
    off the simplex (:func:`alignment`); with ``overlap``, B_c is NaN when
    column ``overlap[:, c]`` leaves [0, 1].

  Raises:
    ValueError: bad shapes, unknown names, or a parameter missing for the
      chosen strategy.
    TypeError: non-numeric arguments.

  Examples:
    >>> import jax.numpy as jnp
    >>> from acajax import bounds
    >>> b = bounds.scenario_bounds(jnp.array([.05, .03, .02]), jnp.array([1, 0, 1]),
    ...     xi_c=jnp.array([.01, .02, .005]), xi=.05,
    ...     delta=jnp.array([.6, .4, .8]), eps=.1)
    >>> print(b.round(6))
    [0.775   0.375   0.60625]
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  _checks.check_choice("variant", variant, VARIANTS)
  _checks.dtype_of("alpha", alpha)
  _checks.dtype_of("targets", targets)
  alpha = jnp.asarray(alpha)
  if alpha.ndim != 1:
    raise ValueError(f"alpha must have shape (M,) for one scenario (vmap for batches); "
                     f"got shape {alpha.shape}")
  num = alpha.shape[0]
  targets = jnp.asarray(targets)
  if targets.ndim not in (1, 2) or targets.shape[0] != num:
    raise ValueError(f"targets must have shape ({num},) as ints or ({num}, K) as soft "
                     f"one-hot weights; got shape {targets.shape}")
  if targets.ndim == 1 and not jnp.issubdtype(targets.dtype, jnp.integer):
    raise TypeError(f"targets of shape ({num},) must be integer labels; got dtype "
                    f"{targets.dtype} (pass soft targets with shape ({num}, K))")
  if targets.ndim == 2 and not jnp.issubdtype(targets.dtype, jnp.floating):
    raise TypeError(f"soft targets of shape {targets.shape} must be float weights; "
                    f"got dtype {targets.dtype}")
  for name, value in dict(xi_c=xi_c, xi=xi, delta=delta, p=p).items():
    if value is not None and jnp.ndim(value) not in (0, 1):
      raise ValueError(f"{name} must be a scalar or have shape ({num},); got shape {jnp.shape(value)}")
    if value is not None and jnp.ndim(value) == 1 and jnp.shape(value)[0] != num:
      raise ValueError(f"{name} must be a scalar or have shape ({num},); got shape {jnp.shape(value)}")
  if jnp.ndim(eps) != 0:
    raise ValueError(f"eps must be a scalar for one scenario; got shape {jnp.shape(eps)}")

  if strategy == "feature_label" and delta is None:
    raise ValueError("delta is required when strategy='feature_label'")
  if strategy == "feature_only" and p is None:
    raise ValueError("p is required when strategy='feature_only'")
  if overlap is not None:
    if strategy != "feature_label":
      raise ValueError("overlap (the pairwise form) applies to strategy='feature_label' only")
    _checks.dtype_of("overlap", overlap)
    if jnp.shape(overlap) != (num, num):
      raise ValueError(f"overlap must have shape ({num}, {num}); got {jnp.shape(overlap)}")

  # Scenario-level domain (SPEC §11), with stand-ins inside (double where).
  valid = jnp.min(alpha) >= 0
  if targets.ndim == 2:
    targets, row_valid = _soft_targets(targets)
    valid = valid & jnp.all(row_valid)
  alpha = _safe(valid, alpha, 0.0)
  alpha_total = jnp.sum(alpha)
  align = alignment(targets, _checks.float_dtype(alpha))
  beta = align.T @ alpha                     # beta_c = sum_j alpha_j a[j, c]
  if strategy == "feature_label" and overlap is None:
    out = feature_label(alpha, alpha_total=alpha_total, beta=beta, xi_c=xi_c, xi=xi,
                        delta=delta, eps=eps, clip=clip)
  elif strategy == "feature_label":
    overlap = jnp.asarray(overlap)
    column_valid = jnp.all((overlap >= 0) & (overlap <= 1), axis=0)      # per collective c
    overlap = _safe(column_valid[None, :], overlap, 0.0)
    valid = valid & column_valid
    misaligned_weight = (1 - align) * (1 - jnp.eye(num, dtype=align.dtype))
    competition = jnp.sum(alpha[:, None] * misaligned_weight * overlap, axis=0)
    out = feature_label_pairwise(alpha, alpha_total=alpha_total, xi_c=xi_c, delta=delta,
                                 eps=eps, competition=competition, clip=clip)
  else:
    out = feature_only(alpha, alpha_total=alpha_total, beta=beta, xi_c=xi_c, xi=xi, p=p,
                       eps=eps, variant=variant, clip=clip)
  return jnp.where(valid, out, jnp.nan)
