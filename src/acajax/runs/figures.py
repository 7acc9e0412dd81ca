"""Figures (matplotlib, headless): bounds against mass, sweeps, tightness.

Plotting functions take plain arrays and an optional ``Axes`` and return the
``Axes``, so they compose into bigger figures; nothing here computes a bound.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: the CLI and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from acajax.runs import _io  # noqa: E402

__all__ = ["bound_vs_exact", "bound_vs_mass", "critical_mass_contour", "heatmap", "save"]


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


def heatmap(x, y, values, *, xlabel=None, ylabel=None, label=None, ax=None, cmap="viridis",
            vmin=0.0, vmax=1.0):
  """Draws values over two axes (a sweep's S_min or S_w, say) as a heatmap.

  Args:
    x: first axis values, shape (X,).
    y: second axis values, shape (Y,).
    values: shape (X, Y), ``values[i, j]`` at ``(x[i], y[j])`` (the order of a
      sweep's grid); NaN (out of domain) is left blank.
    xlabel, ylabel: axis labels.
    label: colour bar label.
    ax: the Axes to draw on (a new figure when None).
    cmap: matplotlib colour map.
    vmin, vmax: colour range (default [0, 1], the range of a success bound;
      None to fit the data).

  Returns:
    The Axes.
  """
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4.5))
  values = np.ma.masked_invalid(np.asarray(values, dtype=float))
  mesh = ax.pcolormesh(np.asarray(x), np.asarray(y), values.T, shading="nearest", cmap=cmap,
                       vmin=vmin, vmax=vmax)
  ax.figure.colorbar(mesh, ax=ax, label=label)
  if xlabel is not None:
    ax.set_xlabel(xlabel)
  if ylabel is not None:
    ax.set_ylabel(ylabel)
  return ax


def critical_mass_contour(x, y, critical, *, levels=8, xlabel=None, ylabel=None, ax=None):
  """Contours of a critical mass over two axes, infeasible region hatched.

  The critical mass alpha* (SPEC §8) is where the bound reaches the target:
  each contour line is a set of parameters needing the same mass; ``inf``
  (no mass suffices) is shaded grey and hatched.

  Args:
    x: first axis values, shape (X,).
    y: second axis values, shape (Y,).
    critical: shape (X, Y); ``inf`` where infeasible, NaN out of domain.
    levels: number of contour levels, or their values.
    xlabel, ylabel: axis labels.
    ax: the Axes to draw on (a new figure when None).

  Returns:
    The Axes.
  """
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4.5))
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  critical = np.asarray(critical, dtype=float)
  finite = np.isfinite(critical)
  if finite.sum() >= 4 and len(x) > 1 and len(y) > 1:
    filled = ax.contourf(x, y, np.ma.masked_invalid(critical).T, levels=levels, cmap="magma_r")
    lines = ax.contour(x, y, np.ma.masked_invalid(critical).T, levels=filled.levels,
                       colors="k", linewidths=0.6)
    ax.clabel(lines, fontsize=7, fmt="%.3g")
    ax.figure.colorbar(filled, ax=ax, label=r"critical mass $\alpha_c^*$")
  infeasible = np.isinf(critical)
  if infeasible.any():
    ax.contourf(x, y, infeasible.T.astype(float), levels=[0.5, 1.5], colors="none",
                hatches=["//"])
    ax.contourf(x, y, np.where(infeasible, 1.0, np.nan).T, levels=[0.5, 1.5],
                colors=["0.8"], alpha=0.5)
  if xlabel is not None:
    ax.set_xlabel(xlabel)
  if ylabel is not None:
    ax.set_ylabel(ylabel)
  return ax


def bound_vs_exact(bound, exact, *, label=None, ax=None, tol=1e-9):
  """Tightness: a scatter of lower bounds against the exact success they bound.

  Points on the diagonal are tight; a sound bound never lies above it. Points
  above it by more than ``tol`` (violations) are drawn in red and counted in
  the legend.

  Args:
    bound: the bounds, any shape (flattened).
    exact: the exact success at the same points, same shape.
    label: legend label for the points.
    ax: the Axes to draw on (a new figure when None).
    tol: slack before a point counts as a violation.

  Returns:
    The Axes.

  Raises:
    ValueError: ``bound`` and ``exact`` differ in shape.
  """
  bound, exact = np.asarray(bound, dtype=float), np.asarray(exact, dtype=float)
  if bound.shape != exact.shape:
    raise ValueError(f"bound and exact must have the same shape; got {bound.shape} and "
                     f"{exact.shape}")
  bound, exact = bound.ravel(), exact.ravel()
  if ax is None:
    _, ax = plt.subplots(figsize=(4.5, 4.5))
  keep = np.isfinite(bound) & np.isfinite(exact)
  bad = keep & (bound > exact + tol)
  ok = keep & ~bad
  ax.scatter(exact[ok], bound[ok], s=6, alpha=0.6, label=f"{label or 'bound'} ({ok.sum()})")
  if bad.any():
    ax.scatter(exact[bad], bound[bad], s=10, color="red", label=f"violations ({bad.sum()})")
  ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
  ax.set_xlabel("exact success $S_c$")
  ax.set_ylabel("lower bound")
  ax.set_xlim(-0.02, 1.02)
  ax.set_ylim(-0.02, 1.02)
  ax.legend(loc="upper left", fontsize=8)
  return ax


def save(fig_or_ax, path) -> None:
  """Saves a figure (or the figure of an Axes) as PNG, atomically, and closes it."""
  fig = getattr(fig_or_ax, "figure", fig_or_ax)
  fig.tight_layout()
  try:
    _io.save_figure(fig, path, dpi=120)
  finally:
    plt.close(fig)
