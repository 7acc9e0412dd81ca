"""Strategy optimisation: masses, critical budgets, signal points, targets.

Four questions a group of collectives can ask, each answered by one function
built on the closed-form bounds (:mod:`acajax.bounds`, SPEC §4–§8) or on the
exact engine (:mod:`acajax.mixtures`, SPEC §2):

* :func:`allocate_masses` — how to split a total participation budget among M
  collectives to maximise the S_min or S_w bound (SPEC §7);
* :func:`critical_budget` — the smallest total budget at which every
  collective's bound reaches a target s, for given or optimised shares
  (SPEC §8); :func:`exact_critical_mass` — the smallest mass at which one
  collective's exact worst-case success reaches s (SPEC §2, §8);
  :func:`exact_mixed_critical_mass` and :func:`exact_eraser_mass` — the same
  in populations that plant, unplant and erase (:mod:`acajax.objectives`);
* :func:`place_signals` — which point of a finite X each collective should
  send its members to, maximising the exact S_min or S_w of worst-case
  success (SPEC §2);
* :func:`choose_targets`, :func:`enumerate_targets` and
  :func:`coalition_gains` — which targets to pick, and who gains from joining
  whom (alignment, SPEC §3–§4).

Each optimiser follows one recipe: a smooth relaxation (softmax masses, soft
one-hot targets, softmax signal choices; a soft-min or softplus in place of
``min`` and ``clip``) is optimised by an optax optimiser from several
restarts at once (``vmap``), the sharpness follows a schedule (annealed), and
the answer is scored **exactly**: the reported ``value`` is the exact
clipped metric of the returned choice, and every candidate (each restart's
best iterate, the vertices of the simplex, a coordinate-ascent polish of the
discrete choices) is compared on that exact value.

Every function takes **one problem** and is jittable and vmappable; batching
is the caller's ``jax.vmap`` (1,000 allocation problems are one call, see
``benchmarks/bench_optimize.py``). Hyperparameters are keyword-only; the
optimiser is any ``optax.GradientTransformation`` (default: Adam with a
cosine-decayed step size), the temperature any schedule (a ``(start, end)``
pair for geometric decay, or a callable of the step); both are keyed by what
they compute, so a fresh ``optax.adam(0.05)`` per call reuses the compiled
code. Static mistakes (names, shapes, dtypes) raise ``ValueError``/``TypeError``
naming the argument; values are checked when concrete (a ``budget`` outside
(0, 1) raises) and give NaN when traced (SPEC §11).

Layout: ``_common`` (the problem, checks, exact and smooth objectives),
``_static`` (static jit arguments keyed by structure), ``_restarts`` (the
shared optax loop), ``_search`` (the discrete search), and one module per
question: ``_allocation``, ``_critical``, ``_mixed``, ``_signals``, ``_targets``.
"""

from acajax.optimize._allocation import Allocation, allocate_masses, allocation_value
from acajax.optimize._critical import CriticalBudget, critical_budget, exact_critical_mass
from acajax.optimize._mixed import exact_eraser_mass, exact_mixed_critical_mass
from acajax.optimize._signals import Placement, place_signals, placement_value
from acajax.optimize._targets import (
    CoalitionGains,
    TargetChoice,
    choose_targets,
    coalition_gains,
    enumerate_targets,
    targets_value,
)

__all__ = [
    "Allocation",
    "CoalitionGains",
    "CriticalBudget",
    "Placement",
    "TargetChoice",
    "allocate_masses",
    "allocation_value",
    "choose_targets",
    "coalition_gains",
    "critical_budget",
    "enumerate_targets",
    "exact_critical_mass",
    "exact_eraser_mass",
    "exact_mixed_critical_mass",
    "place_signals",
    "placement_value",
    "targets_value",
]
