r"""One collective's finite-sample bounds (SPEC §9; Gauthier, Bach and Jordan, ICML 2025).

A collective that holds only its own data, n samples of P0, can still say with
probability at least 1 - delta how often its signal will work.
:func:`feature_label_bound` is SPEC §9 as stated; :func:`feature_only_bound`
and :func:`unplanting_bound` are derived below (one model and one proof for
all three). They broadcast over n (a leading axis of the count tables), N,
N_test, delta, eps and the target, so a whole curve of bounds against n is one
jitted call. :func:`population_success` is their limit as n, N -> inf with
n/N = alpha, and :func:`empirical_success` the success actually obtained by
the classifier trained on a given sample.

**Suboptimality.** This statistical framework uses the eps of Hardt et al. and
Gauthier et al. (a TV ball around the *joint* training distribution), not the
per-x conditional eps of SPEC §2 (SPEC §6 explains the difference). The only
property of the classifier f the bounds use is (M2 below): f predicts y at
every x where the training distribution's joint gap
``P(x, y) - max_{y' != y} P(x, y')`` exceeds ``eps/(1 - eps)``. This holds for
every Bayes classifier of a contamination (1 - eps) P + eps R, since there
the gap shrinks to at least (1 - eps) gap - eps. At eps = 0, f is any plug-in
(Bayes) classifier of the training sample, ties broken arbitrarily.

Model and proof (all three single-collective bounds)
----------------------------------------------------

M1 (sampling). The platform trains on N samples: the collective's n samples
(x_i, y_i) ~ P0 i.i.d., each transformed by the strategy h, and N - n other
samples ~ P0 i.i.d., independent of them. The collective sees its own n
original samples. Success is measured on N_test fresh test points
x ~ P0_X: the fraction with f(g(x)) = y* (``num_test=inf`` bounds the
population success S = Pr[f(g(x)) = y*] instead).

M2 (classifier). As above.

M3 (signal). g: X -> X is fixed before the data are seen and X* = g(X) is
all of its possible images (|X*| = the product of the sizes of the columns
the signal keeps). Every point of X* counts in the union bound, observed or
not; unobserved points have Q-hat = 0 and add nothing to the bound.

Notation, for x in X*: Q(x) = Pr[g(x_1) = x] and Q-hat its empirical value on
the collective's sample; P0-hat(x, y) the collective's empirical joint on its
original data; Pr-hat the same on the other N - n samples;
Delta_x = max_{y' != y*} P0(x, y') - P0(x, y*) and its estimates
Delta-hat_x (collective) and Delta-r_x (others); R = R(n), R' = R(N - n) with
R(k) = sqrt(log(1/d)/(2k)), so that each one-sided Hoeffding event fails with
probability at most d.

Step 1 (the training gap). The training distribution is
(n/N) P_h-hat + ((N - n)/N) Pr-hat, where P_h-hat is the collective's
transformed sample. Its gap at x is at least (n/N) C-hat(x) - ((N - n)/N)
Delta-r_x, with the collective's *net contribution* C-hat(x):

* feature-label, h(x, y) = (g(x), y*): C-hat = Q-hat (exact);
* feature-only, h(x, y) = (g(x), y) if y = y* else (x, y): C-hat(x) = A-hat(x)
  - M-hat(x), where A-hat(x) is the fraction of the collective with y = y*
  and g(x_i) = x, and M-hat(x) = max_{y' != y*} P0-hat(x, y') the members
  left in place at x with another label (max of a sum <= sum of maxima);
* unplanting with labels l(x) != y*, h(x, y) = (g(x), l(g(x))): what matters
  is the pairwise gap P(x, l) - P(x, y*) (f cannot predict y* where l beats
  it by eps/(1 - eps)); C-hat = Q-hat and Delta is replaced by
  Gamma_x = P0(x, y*) - P0(x, l(x)).

By M2, f(x) = y* (f(x) != y* for unplanting) wherever this exceeds
eps/(1 - eps).

Step 2 (events). With probability >= 1 - delta all of the following hold
(one-sided Hoeffding, union bound): c(x) = E[C-hat(x)] is within w R of
C-hat (w = 1 for Q-hat, two events per x; w = 2 for A-hat - M-hat: two for
A-hat, K for M-hat); Delta-hat_x >= Delta_x - 2R (two events per x: the
population argmax y' and y*); Delta-r_x <= Delta_x + 2R' (K events per x);
plus two more below. Feature-label needs 2 + |X*| (K + 4) <= 2 + 2|X*| +
2|X*||Y| events (SPEC §9's count, used as stated); unplanting 2 + 6|X*| (same
count used); feature-only 2 + |X*| (2K + 3), so it uses
d = delta / (2 + 3|X*| + 2|X*||Y|).

Step 3 (sandwich). Let A-hat be the planted set of the bound: the x with
(n/N)(C-hat(x) - 2wR) - ((N - n)/N)(Delta-hat_x + 2R + 2R') - eps/(1 - eps)
> 0, and C the *fixed* set with (n/N)(c(x) - wR) - ((N - n)/N)(Delta_x + 2R')
- eps/(1 - eps) > 0. On the events, A-hat ⊆ C (each term of A-hat's margin is
below C's) and C ⊆ {f succeeds} (Step 1 and C-hat >= c - wR,
Delta-r <= Delta + 2R'). So S >= Q(C) >= Q-hat(C) - R (one event, as C is
fixed) >= Q-hat(A-hat) - R, and the test average is >= S - R(N_test) (one
event). That is SPEC §9 for feature-label; for feature-only the collective
term is (n/N)(A-hat - M-hat - 4R); for unplanting, Gamma-hat replaces
Delta-hat.

Unplanting needs labels l chosen without the n samples (a separate estimation
sample, as Gauthier et al. do, or a fixed choice): with labels chosen from the
same data the set C would depend on the data and Step 3 fails. Labels chosen
from the same sample are not supported.

Population limit: as n, N -> inf with n/N = alpha, every radius vanishes and
the planted set becomes {x: alpha c(x) > (1 - alpha) Delta_x + eps/(1 - eps)}
(for feature-label c = Q: SPEC §9's per-point condition); see
:func:`population_success`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from acajax import _checks
from acajax.statistical._counts import (
    CountTables,
    _int_array,
    _require,
    _table_arrays,
    _target_split,
)

STRATEGIES = ("feature_label", "feature_only", "unplanting")


# --------------------------------------------------------------------------
# One collective: Gauthier, Bach and Jordan


def hoeffding_radius(count: ArrayLike, delta: ArrayLike) -> jax.Array:
  """One-sided Hoeffding radius R(k) = sqrt(log(1/delta) / (2k)) (SPEC §9).

  An empirical frequency over k i.i.d. samples exceeds its mean by more than
  R(k) (or falls short by more) with probability at most delta. ``count=inf``
  gives 0.

  Args:
    count: k > 0.
    delta: failure probability in (0, 1).

  Returns:
    R(k), broadcast shape; NaN out of domain.

  Examples:
    >>> from acajax import statistical
    >>> round(float(statistical.hoeffding_radius(1000, 0.05)), 4)
    0.0387
  """
  count, delta = _checks.as_float_arrays(dict(count=count, delta=delta))
  valid = (count > 0) & (delta > 0) & (delta < 1)
  count = jnp.where(valid, count, 1.0)
  delta = jnp.where(valid, delta, 0.5)
  return jnp.where(valid, jnp.sqrt(jnp.log(1 / delta) / (2 * count)), jnp.nan)


def split_delta(delta: ArrayLike, *, num_signal_points: ArrayLike, num_labels: int,
                strategy: str = "feature_label") -> jax.Array:
  """The per-event failure probability d of the union bound (SPEC §9).

  Feature-label and unplanting: d = delta / (2 + 2|X*| + 2|X*||Y|) (SPEC §9).
  Feature-only: d = delta / (2 + 3|X*| + 2|X*||Y|) (module docstring, Step 2).

  Args:
    delta: overall failure probability in (0, 1).
    num_signal_points: |X*|.
    num_labels: |Y| = K.
    strategy: ``"feature_label"``, ``"feature_only"`` or ``"unplanting"``.

  Returns:
    d, broadcast shape.

  Examples:
    >>> from acajax import statistical
    >>> round(float(statistical.split_delta(0.05, num_signal_points=5, num_labels=4)), 8)
    0.00096154
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  delta, points = _checks.as_float_arrays(dict(delta=delta, num_signal_points=num_signal_points))
  per_point = 3.0 if strategy == "feature_only" else 2.0
  return delta / (2 + per_point * points + 2 * points * num_labels)


class FiniteSampleBound(NamedTuple):
  """A finite-sample bound with its parts (``details=True``).

  Attributes:
    bound: the lower bound on the success, shape (...).
    margin: (..., S) each support point's margin; planted where > 0.
    planted: (..., S) boolean.
    split_delta: (...) the per-event probability d.
    radius_collective: (...) R(n).
    radius_rest: (...) R(N - n) (0 when n = N).
    radius_test: (...) R(N_test).
  """
  bound: jax.Array
  margin: jax.Array
  planted: jax.Array
  split_delta: jax.Array
  radius_collective: jax.Array
  radius_rest: jax.Array
  radius_test: jax.Array


def _finite_sample(tables, *, strategy, target, labels, num_samples, num_test, delta, eps,
                   num_signal_points, clip, details):
  images, joint, total = _table_arrays(tables)
  num_labels = images.shape[-1]
  target = _int_array("target", target)
  n, big_n, n_test, conf, eps, points = _checks.as_float_arrays({
      "tables.total": total, "num_samples": num_samples, "num_test": num_test,
      "delta": delta, "eps": eps, "num_signal_points": num_signal_points})
  shape = jnp.broadcast_shapes(n.shape, target.shape)
  n, big_n, n_test, conf, eps, points = (jnp.broadcast_to(v, shape)
                                         for v in (n, big_n, n_test, conf, eps, points))
  target = jnp.broadcast_to(target, shape)
  _require("delta", conf, lambda v: (v > 0) & (v < 1), "lie in (0, 1)")
  _require("eps", eps, lambda v: (v >= 0) & (v < 1),
           "lie in [0, 1) (the TV-ball eps of SPEC §9)")
  _require("tables.total", n, lambda v: v > 0,
           "be positive: the collective is empty (n = 0 samples)")
  if (_checks.is_concrete(big_n) and _checks.is_concrete(n)
      and np.any(np.asarray(big_n) < np.asarray(n))):
    short = np.asarray(big_n) < np.asarray(n)
    raise ValueError(f"num_samples (N) must be at least the collective's size n = tables.total; "
                     f"got N = {np.asarray(big_n)[short][0]:g} < n = {np.asarray(n)[short][0]:g}")
  _require("num_test", n_test, lambda v: v > 0, "be positive")
  _require("num_signal_points", points, lambda v: v >= 1, "be >= 1 (|X*|)")
  _require("target", target, lambda v: (v >= 0) & (v < num_labels),
           f"be a label in [0, {num_labels})")
  return _finite_sample_core(images, joint, n, big_n, n_test, conf, eps, points, target, labels,
                             strategy=strategy, clip=clip, details=details)


@functools.partial(jax.jit, static_argnames=("strategy", "clip", "details"))
def _finite_sample_core(images, joint, n, big_n, n_test, conf, eps, points, target, labels, *,
                        strategy, clip, details):
  """The bound of SPEC §9 and its variants on checked, broadcast arguments (jitted once)."""
  num_labels = images.shape[-1]
  valid = ((conf > 0) & (conf < 1) & (eps >= 0) & (eps < 1) & (n > 0) & (big_n >= n)
           & (n_test > 0) & (points >= 1) & (target >= 0) & (target < num_labels))
  # First half of the double-where: harmless stand-ins where invalid.
  n = jnp.where(valid, n, 1.0)
  big_n = jnp.where(valid, big_n, 2.0)
  conf = jnp.where(valid, conf, 0.5)
  eps = jnp.where(valid, eps, 0.0)
  d = split_delta(conf, num_signal_points=points, num_labels=num_labels,
                  strategy="feature_only" if strategy == "feature_only" else "feature_label")
  log_term = jnp.log(1 / d)
  rest = big_n - n
  radius_n = jnp.sqrt(log_term / (2 * n))
  radius_rest = jnp.where(rest > 0, jnp.sqrt(log_term / (2 * jnp.where(rest > 0, rest, 1.0))), 0.0)
  radius_test = jnp.sqrt(log_term / (2 * n_test))

  scale = n[..., None, None]
  p_images = images / scale
  p_joint = joint / scale
  signal = jnp.sum(p_images, axis=-1)
  mine, others = _target_split(p_joint, target)
  if strategy == "feature_label":
    contribution = signal - 2 * radius_n[..., None]
    difficulty = others - mine                                       # Delta-hat_x
  elif strategy == "feature_only":
    planted_mass, _ = _target_split(p_images, target)                # A-hat(x)
    contribution = planted_mass - others - 4 * radius_n[..., None]   # A-hat - M-hat - 4R
    difficulty = others - mine
  else:
    hit = labels[..., None] == jnp.arange(num_labels)
    theirs = jnp.sum(jnp.where(hit, p_joint, 0), axis=-1)
    contribution = signal - 2 * radius_n[..., None]
    difficulty = mine - theirs                                       # Gamma-hat_x
  alpha = (n / big_n)[..., None]
  slack = (eps / (1 - eps))[..., None]
  margin = (alpha * contribution
            - (1 - alpha) * (difficulty + 2 * radius_n[..., None] + 2 * radius_rest[..., None])
            - slack)
  planted = margin > 0
  value = jnp.sum(jnp.where(planted, signal, 0), axis=-1) - radius_n - radius_test
  value = jnp.clip(value, 0.0, 1.0) if clip else value
  value = jnp.where(valid, value, jnp.nan)
  if not details:
    return value
  nan = jnp.asarray(jnp.nan, value.dtype)
  return FiniteSampleBound(bound=value, margin=jnp.where(valid[..., None], margin, nan),
                           planted=planted & valid[..., None],
                           split_delta=jnp.where(valid, d, nan),
                           radius_collective=jnp.where(valid, radius_n, nan),
                           radius_rest=jnp.where(valid, radius_rest, nan),
                           radius_test=jnp.where(valid, radius_test, nan))


def feature_label_bound(tables: CountTables, *, target: ArrayLike, num_samples: ArrayLike,
                        num_signal_points: ArrayLike, delta: ArrayLike = 0.05,
                        eps: ArrayLike = 0.0, num_test: ArrayLike = jnp.inf,
                        clip: bool = True, details: bool = False):
  r"""Finite-sample success bound of a feature-label collective (SPEC §9).

  Gauthier, Bach and Jordan (ICML 2025): with probability >= 1 - delta,

  .. math::

     S \ge \hat Q\Big(\Big\{x:\ \tfrac{n}{N}(\hat Q(x) - 2R(n))
       - \tfrac{N-n}{N}(\hat\Delta_x + 2R(n) + 2R(N-n))
       - \tfrac{\epsilon}{1-\epsilon} > 0\Big\}\Big) - R(n) - R(N_{test})

  with R(k) = sqrt(log(1/d)/(2k)), d = delta / (2 + 2|X*| + 2|X*||Y|),
  Q-hat the collective's empirical signal distribution and Delta-hat_x
  = max_{y' != y*} P0-hat(x, y') - P0-hat(x, y*) on its original data (joint
  probabilities). eps is the TV-ball eps of Hardt et al. and Gauthier et al.,
  hence eps/(1 - eps), not SPEC §2's per-x eps (SPEC §6); the model and the
  proof are in the module docstring. Population limit:
  alpha Q(x) > (1 - alpha) Delta_x + eps/(1 - eps) (:func:`population_success`).

  Every scalar argument broadcasts with the tables' batch shape (..., e.g.
  the n-grid of :func:`prefix_count_tables`) and with the others, so one call
  covers grids over n, N, delta, eps and the target.

  Args:
    tables: the collective's counts (n = ``tables.total``).
    target: the target label y* (integer).
    num_samples: the platform's training-set size N >= n.
    num_signal_points: |X*| (``SignalCodes.num_signal_points``).
    delta: failure probability in (0, 1).
    eps: suboptimality in [0, 1).
    num_test: test-set size N_test; ``inf`` (default) bounds the population
      success.
    clip: clip to [0, 1] (default) or return the raw value.
    details: return a :class:`FiniteSampleBound` with margins and radii.

  Returns:
    The bound (broadcast shape), or a :class:`FiniteSampleBound`.

  Raises:
    TypeError: non-integer ``target`` or non-numeric arguments.
    ValueError: shapes that do not broadcast; concrete values outside the
      domain (``delta`` outside (0, 1), an empty collective, N < n, ...).
      Traced out-of-domain values give NaN instead.

  Examples:
    Two signal points get 60% and 40% of a collective of n = 10,000 out of
    N = 100,000; the second carries label 0 on 4% of P0, so at alpha = 0.1
    only the first is planted.

    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[3000., 3000.], [2000., 2000.]]),
    ...     joint=np.array([[30., 20.], [400., 0.]]), total=np.array(10000.))
    >>> out = statistical.feature_label_bound(t, target=1, num_samples=100000,
    ...     num_signal_points=2, num_test=10000, details=True)
    >>> round(float(out.bound), 4), out.planted.tolist()
    (0.5664, [True, False])
  """
  return _finite_sample(tables, strategy="feature_label", target=target, labels=None,
                        num_samples=num_samples, num_test=num_test, delta=delta, eps=eps,
                        num_signal_points=num_signal_points, clip=clip, details=details)


def feature_only_bound(tables: CountTables, *, target: ArrayLike, num_samples: ArrayLike,
                       num_signal_points: ArrayLike, delta: ArrayLike = 0.05,
                       eps: ArrayLike = 0.0, num_test: ArrayLike = jnp.inf,
                       clip: bool = True, details: bool = False):
  r"""Finite-sample success bound of a feature-only collective (derived here).

  Feature-only: members with y = y* plant the signal, the others keep their
  data. The collective's net contribution at x is A-hat(x) - M-hat(x): the
  share of members with y = y* and g(x_i) = x, minus the largest share of
  members left at x with one other label. With probability >= 1 - delta,

  .. math::

     S \ge \hat Q\Big(\Big\{x:\ \tfrac{n}{N}(\hat A(x) - \hat M(x) - 4R(n))
       - \tfrac{N-n}{N}(\hat\Delta_x + 2R(n) + 2R(N-n))
       - \tfrac{\epsilon}{1-\epsilon} > 0\Big\}\Big) - R(n) - R(N_{test})

  with d = delta / (2 + 3|X*| + 2|X*||Y|) (more events than feature-label:
  A-hat - M-hat is estimated on both sides). Assumptions M1–M3 and the proof:
  module docstring. Q-hat is the image distribution of *all* members (success
  is measured on every member's signal, SPEC §2). Population limit:
  alpha (A(x) - M(x)) > (1 - alpha) Delta_x + eps/(1 - eps), sufficient but
  not necessary for the Bayes classifier to predict y* (max of a sum <= sum
  of maxima).

  Args:
    tables, target, num_samples, num_signal_points, delta, eps, num_test,
      clip, details: as in :func:`feature_label_bound`.

  Returns:
    The bound, or a :class:`FiniteSampleBound`.

  Raises:
    TypeError, ValueError: as in :func:`feature_label_bound`.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[1000., 5000.], [1000., 3000.]]),
    ...     joint=np.array([[30., 20.], [0., 0.]]), total=np.array(10000.))
    >>> b = statistical.feature_only_bound(t, target=1, num_samples=20000,
    ...     num_signal_points=2, num_test=10000)
    >>> round(float(b), 4)
    0.966
  """
  return _finite_sample(tables, strategy="feature_only", target=target, labels=None,
                        num_samples=num_samples, num_test=num_test, delta=delta, eps=eps,
                        num_signal_points=num_signal_points, clip=clip, details=details)


def unplanting_bound(tables: CountTables, *, target: ArrayLike, labels: ArrayLike,
                     num_samples: ArrayLike, num_signal_points: ArrayLike,
                     delta: ArrayLike = 0.05, eps: ArrayLike = 0.0,
                     num_test: ArrayLike = jnp.inf, clip: bool = True,
                     details: bool = False):
  r"""Finite-sample bound for signal unplanting (derived here).

  Unplanting: the collective wants f(g(x)) != y* (to break an association
  between its signal and y*). Each member submits (g(x), l(g(x))) with a label
  l(x) != y* per signal point, chosen **without** the collective's n samples
  (a separate estimation sample, :func:`unplanting_labels`, or a fixed
  choice). Success is Pr[f(g(x)) != y*]. With probability >= 1 - delta,

  .. math::

     S \ge \hat Q\Big(\Big\{x:\ \tfrac{n}{N}(\hat Q(x) - 2R(n))
       - \tfrac{N-n}{N}(\hat\Gamma_x + 2R(n) + 2R(N-n))
       - \tfrac{\epsilon}{1-\epsilon} > 0\Big\}\Big) - R(n) - R(N_{test})

  where Gamma-hat_x = P0-hat(x, y*) - P0-hat(x, l(x)): only the pairwise gap
  between l and y* matters (f cannot predict y* where l beats it by
  eps/(1 - eps)). It needs 2 + 6|X*| events; SPEC §9's d is used, which is
  smaller for K >= 2. Labels chosen from the same n samples are not covered
  (module docstring, Step 3).

  Args:
    tables, target, num_samples, num_signal_points, delta, eps, num_test,
      clip, details: as in :func:`feature_label_bound`; ``target`` is the
      label to remove.
    labels: (..., S) integer labels l(x) != target, one per support point.

  Returns:
    The bound, or a :class:`FiniteSampleBound`.

  Raises:
    TypeError, ValueError: as in :func:`feature_label_bound`; also ``labels``
      equal to the target or outside [0, K) (when concrete).

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[3000., 3000.], [2000., 2000.]]),
    ...     joint=np.array([[30., 20.], [0., 0.]]), total=np.array(10000.))
    >>> b = statistical.unplanting_bound(t, target=1, labels=np.array([0, 0]),
    ...     num_samples=20000, num_signal_points=2, num_test=10000)
    >>> round(float(b), 4)
    0.9664
  """
  labels = _int_array("labels", labels)
  num_labels = jnp.shape(tables.images)[-1]
  if labels.ndim < 1 or labels.shape[-1] != jnp.shape(tables.images)[-2]:
    raise ValueError(f"labels must have shape (..., S) with S = {jnp.shape(tables.images)[-2]} "
                     f"support points; got {labels.shape}")
  _require("labels", labels, lambda v: (v >= 0) & (v < num_labels),
           f"be labels in [0, {num_labels})")
  if _checks.is_concrete(labels) and _checks.is_concrete(target):
    same = np.asarray(labels) == np.asarray(target)[..., None]
    if np.any(same):
      raise ValueError("labels must differ from the target at every support point (unplanting "
                       "pushes another label)")
  value = _finite_sample(tables, strategy="unplanting", target=target, labels=labels,
                         num_samples=num_samples, num_test=num_test, delta=delta, eps=eps,
                         num_signal_points=num_signal_points, clip=clip, details=True)
  bad = jnp.any((labels == jnp.asarray(target)[..., None]) | (labels < 0)
                | (labels >= num_labels), axis=-1)
  value = value._replace(bound=jnp.where(bad, jnp.nan, value.bound))
  return value if details else value.bound


def unplanting_labels(tables: CountTables, *, target: ArrayLike) -> jax.Array:
  """Labels for unplanting: the most frequent label other than y* at each point.

  Use tables of a sample **independent** of the collective's n samples
  (Gauthier et al.'s estimation sample); :func:`unplanting_bound` is not valid
  with labels chosen from the same data. Points never seen get the smallest
  label other than the target.

  Args:
    tables: counts of the estimation sample.
    target: the label to remove.

  Returns:
    (..., S) integer labels.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.zeros((2, 3)),
    ...     joint=np.array([[5., 1., 4.], [0., 0., 0.]]), total=np.array(10.))
    >>> statistical.unplanting_labels(t, target=0).tolist()
    [2, 1]
  """
  _, joint, _ = _table_arrays(tables)
  target = _int_array("target", target)
  hit = target[..., None, None] == jnp.arange(joint.shape[-1])
  return jnp.argmax(jnp.where(hit, -jnp.inf, joint), axis=-1)


# --------------------------------------------------------------------------
# Population limit and the success actually obtained


def population_success(tables: CountTables, *, alpha: ArrayLike, target: ArrayLike,
                       eps: ArrayLike = 0.0, strategy: str = "feature_label",
                       labels: ArrayLike | None = None) -> jax.Array:
  r"""The limit of the finite-sample bounds as n, N -> inf with n/N = alpha.

  The tables, divided by their total, are read as exact distributions. Every
  radius vanishes and the bound tends to Q({x: condition}) with SPEC §9's
  per-point condition (feature-label)

  .. math:: \alpha Q(x) > (1 - \alpha)\Delta_x + \epsilon/(1 - \epsilon),

  alpha (A(x) - M(x)) on the left for feature-only and Gamma_x for Delta_x
  for unplanting. At eps = 0 (feature-label), it is the success of the Bayes
  classifier of the true mixture (1 - alpha) P0 + alpha h#P0 with ties lost.

  Args:
    tables: exact (or estimated) counts; only ratios matter.
    alpha: n/N in (0, 1].
    target: y*.
    eps: TV-ball eps in [0, 1).
    strategy: ``"feature_label"``, ``"feature_only"`` or ``"unplanting"``.
    labels: (..., S) labels l(x) (unplanting only).

  Returns:
    The limit, broadcast shape; NaN out of domain.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> t = statistical.CountTables(images=np.array([[.3, .3], [.2, .2]]),
    ...     joint=np.array([[.003, .002], [0., 0.]]), total=np.array(1.))
    >>> round(float(statistical.population_success(t, alpha=.5, target=1)), 6)
    1.0
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  images, joint, total = _table_arrays(tables)
  target = _int_array("target", target)
  total, alpha, eps = _checks.as_float_arrays(dict(total=total, alpha=alpha, eps=eps))
  shape = jnp.broadcast_shapes(total.shape, target.shape)
  total, alpha, eps = (jnp.broadcast_to(v, shape) for v in (total, alpha, eps))
  target = jnp.broadcast_to(target, shape)
  valid = ((total > 0) & (alpha > 0) & (alpha <= 1) & (eps >= 0) & (eps < 1) & (target >= 0)
           & (target < images.shape[-1]))
  scale = jnp.where(valid, total, 1.0)[..., None, None]
  p_images, p_joint = images / scale, joint / scale
  signal = jnp.sum(p_images, axis=-1)
  mine, others = _target_split(p_joint, target)
  if strategy == "feature_label":
    contribution, difficulty = signal, others - mine
  elif strategy == "feature_only":
    planted_mass, _ = _target_split(p_images, target)
    contribution, difficulty = planted_mass - others, others - mine
  else:
    if labels is None:
      raise ValueError("labels are required when strategy='unplanting'")
    labels = _int_array("labels", labels)
    hit = labels[..., None] == jnp.arange(images.shape[-1])
    contribution, difficulty = signal, mine - jnp.sum(jnp.where(hit, p_joint, 0), axis=-1)
  alpha_ = alpha[..., None]
  eps_ = jnp.where(valid, eps, 0.0)[..., None]
  ok = alpha_ * contribution - (1 - alpha_) * difficulty - eps_ / (1 - eps_) > 0
  return jnp.where(valid, jnp.sum(jnp.where(ok, signal, 0), axis=-1), jnp.nan)


def empirical_success(collective: CountTables, rest: CountTables, test: CountTables, *,
                      target: ArrayLike, strategy: str = "feature_label",
                      eps: ArrayLike = 0.0, labels: ArrayLike | None = None) -> jax.Array:
  """Success obtained by the classifier trained on a given sample (checks, figures).

  The platform trains on the collective's transformed sample plus ``rest``
  (N = n + N_rest samples). At each support point the classifier is
  credited only where the training gap of M2 exceeds eps/(1 - eps) (at
  eps = 0: the plug-in / Bayes classifier of the training sample with ties
  lost), so this is the success guaranteed for every such classifier. It is
  measured on the test sample's signal images, as the bounds are.

  Args:
    collective: the collective's counts (original data; transformed here).
    rest: counts of the other training samples (only ``joint`` is used).
    test: counts of test samples (only ``images`` is used).
    target: y*.
    strategy: ``"feature_label"``, ``"feature_only"`` or ``"unplanting"``.
    eps: TV-ball eps in [0, 1).
    labels: (..., S) labels l(x) (unplanting only).

  Returns:
    The success, broadcast shape.

  Examples:
    >>> import numpy as np
    >>> from acajax import statistical
    >>> mine = statistical.CountTables(images=np.array([[6., 0.], [4., 0.]]),
    ...     joint=np.zeros((2, 2)), total=np.array(10.))
    >>> rest = statistical.CountTables(images=np.zeros((2, 2)),
    ...     joint=np.array([[1., 0.], [9., 0.]]), total=np.array(90.))
    >>> test = statistical.CountTables(images=np.array([[5., 0.], [5., 0.]]),
    ...     joint=np.zeros((2, 2)), total=np.array(10.))
    >>> float(statistical.empirical_success(mine, rest, test, target=1))
    0.5
  """
  _checks.check_choice("strategy", strategy, STRATEGIES)
  c_images, c_joint, c_total = _table_arrays(collective)
  _, r_joint, r_total = _table_arrays(rest)
  t_images, _, t_total = _table_arrays(test)
  target = _int_array("target", target)
  (eps,) = _checks.as_float_arrays(dict(eps=eps))
  hit = target[..., None, None] == jnp.arange(c_images.shape[-1])
  moved = jnp.sum(c_images, axis=-1, keepdims=True)
  if strategy == "feature_label":
    train = r_joint + jnp.where(hit, moved, 0)
  elif strategy == "feature_only":
    train = r_joint + jnp.where(hit, c_images, c_joint)
  else:
    if labels is None:
      raise ValueError("labels are required when strategy='unplanting'")
    labels = _int_array("labels", labels)
    train = r_joint + jnp.where(labels[..., None] == jnp.arange(c_images.shape[-1]), moved, 0)
  train = train / (c_total + r_total)[..., None, None]
  mine, others = _target_split(train, target)
  slack = (eps / (1 - eps))[..., None]
  ok = (mine - others > slack) if strategy != "unplanting" else (others - mine > slack)
  test_signal = jnp.sum(t_images, axis=-1)
  return jnp.sum(jnp.where(ok, test_signal, 0), axis=-1) / t_total
