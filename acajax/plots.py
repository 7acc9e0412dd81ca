"""Figures (matplotlib, headless): bounds against mass, with critical masses.

Plotting functions take plain arrays and an optional ``Axes`` and return the
``Axes``, so they compose into bigger figures; nothing here computes a bound.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: the CLI and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["bound_vs_mass", "save"]


def bound_vs_mass(masses, values, *, critical=None, target=None, label=None, ax=None,
                  color=None):
  """Plots one collective's success bound against its mass.

  Args:
    masses: the collective's masses, shape (G,).
    values: its bound at each mass, shape (G,); NaN where out of domain.
    critical: the critical mass to mark with a dashed vertical line (skipped
      when None or not finite).
    target: the target success level to mark with a dotted horizontal line.
    label: legend label for the curve.
    ax: the Axes to draw on (a new figure when None).
    color: matplotlib colour for the curve and its marks.

  Returns:
    The Axes.
  """
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4))
  (line,) = ax.plot(np.asarray(masses), np.asarray(values), label=label, color=color)
  color = line.get_color()
  if target is not None:
    ax.axhline(float(target), color="grey", linestyle=":", linewidth=1)
  if critical is not None and np.isfinite(critical):
    ax.axvline(float(critical), color=color, linestyle="--", linewidth=1)
    ax.annotate(f"{float(critical):.3f}", (float(critical), 0.02), color=color,
                rotation=90, ha="right", va="bottom", fontsize=8)
  ax.set_xlabel(r"mass $\alpha_c$")
  ax.set_ylabel(r"success bound $S_c$")
  ax.set_ylim(-0.02, 1.02)
  if label is not None:
    ax.legend(loc="upper left", fontsize=8)
  return ax


def save(fig_or_ax, path) -> None:
  """Saves a figure (or the figure of an Axes) as PNG and closes it."""
  fig = getattr(fig_or_ax, "figure", fig_or_ax)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
