"""Figures (matplotlib, headless): bounds against mass, sweeps, tightness.

Plotting functions take plain arrays and an optional ``Axes`` and return the
``Axes``, so they compose into bigger figures; nothing here computes a bound.
The label helpers (:func:`parameter_label`, :func:`output_label`,
:func:`value_label`) turn parameter and column names into the symbols of
SPEC.md with words, so every figure acajax writes names its axes alike.
"""

from __future__ import annotations

import math
import re
import textwrap

import matplotlib

matplotlib.use("Agg")  # headless: the CLI and CI have no display

import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from acajax.runs import _io  # noqa: E402

__all__ = ["axis_positions", "bound_vs_exact", "bound_vs_mass", "critical_mass_contour", "grid",
           "grid_legend", "heatmap", "is_discrete", "legend_outside", "ordered_colors",
           "output_label", "parameter_label", "parameter_symbol", "save", "value_label",
           "wrap_title"]

# -- labels -------------------------------------------------------------------------------

# Parameters of SPEC §3 (and eps, s of §2 and §8): mathtext symbol, words.
_PARAMETERS = {
    "alpha": (r"\alpha", "mass"),
    "beta": (r"\beta", "aligned mass"),
    "xi_c": (r"\xi", "signal rarity"),
    "xi": (r"\xi", "signal overlap"),
    "delta": (r"\Delta", "difficulty"),
    "p": (r"p", "positivity"),
    "eps": (r"\varepsilon", "classifier suboptimality"),
    "target_success": (r"s", "target success"),
    "alpha_total": (r"\bar\alpha", "total mass"),
    "noise": (r"\nu", "coordination noise"),
}
# Parameters named in words only (a sweep may name strategies per collective).
_WORDS_ONLY = {"strategy": "strategy"}
# Subscripts of the symbols that carry one per collective (xi_c is xi with c).
_PER_COLLECTIVE = {"alpha", "beta", "xi_c", "delta", "p"}

# Evaluable quantities of a sweep (sweep._registry.BOUNDS): words.
_QUANTITIES = {
    "exact": "exact worst case",
    "feature_label": "Theorem 1 bound",
    "feature_only": "Theorem 2 bound",
    "feature_only_published": "Theorem 2 bound (published)",
    "by_strategy": "Theorem 1 if all feature-label, else Theorem 2",
    "critical_mass_feature_label": "critical mass, Theorem 1",
    "critical_mass_feature_only": "critical mass, Theorem 2",
    "unplanting": "unplanting bound",
    "erasing": "erasing bound",
    "critical_eraser_mass": "eraser mass holding it at s",
}

_INDEXED = re.compile(r"^(?P<base>[A-Za-z_]+)\[(?P<index>[^\]]+)\]$")


def _split(name: str) -> tuple[str, str | None]:
  match = _INDEXED.match(name)
  return (match["base"], match["index"]) if match else (name, None)


def _symbol(name: str) -> str | None:
  """The mathtext (without dollars) of a parameter name, ``alpha[0]`` -> ``\\alpha_{0}``."""
  base, index = _split(name)
  if base not in _PARAMETERS:
    return None
  symbol = _PARAMETERS[base][0]
  if index is not None:
    return f"{symbol}_{{{index}}}"
  return f"{symbol}_{{c}}" if base == "xi_c" else symbol


def parameter_label(name: str) -> str:
  """An axis label for a parameter: its SPEC symbol and words.

  ``name`` is a parameter of SPEC §3 (``alpha``, ``beta``, ``xi_c``, ``xi``,
  ``delta``, ``p``, ``eps``, ``target_success``), optionally indexed by a
  collective (``alpha[0]``, a sweep axis). Unknown names come back unchanged.

  Examples:
    >>> parameter_label("alpha[0]")
    '$\\\\alpha_{0}$ (mass of collective 0)'
    >>> parameter_label("eps")
    '$\\\\varepsilon$ (classifier suboptimality)'
    >>> parameter_label("delta")
    '$\\\\Delta$ (difficulty)'
    >>> parameter_label("mystery")
    'mystery'
  """
  base, index = _split(name)
  symbol = _symbol(name)
  if symbol is None:
    words = _WORDS_ONLY.get(base)
    if words is None:
      return name
    return words + (f" of collective {index}" if index is not None else "")
  words = _PARAMETERS[base][1]
  if index is not None:
    words += f" of collective {index}"
  return f"${symbol}$ ({words})"


def parameter_symbol(name: str) -> str:
  """A parameter's SPEC symbol in mathtext, ``eps`` -> ``$\\varepsilon$`` (else the name).

  Examples:
    >>> parameter_symbol("alpha[1]"), parameter_symbol("mystery")
    ('$\\\\alpha_{1}$', 'mystery')
  """
  symbol = _symbol(name)
  return name if symbol is None else f"${symbol}$"


def value_label(name: str, value) -> str:
  """A legend entry for one value of a parameter, ``$\\varepsilon$ = 0.05``.

  Examples:
    >>> value_label("eps", 0.05)
    '$\\\\varepsilon$ = 0.05'
    >>> value_label("mystery", 2.0)
    'mystery = 2'
  """
  if isinstance(value, (int, float, np.number)):
    return f"{parameter_symbol(name) if _symbol(name) else parameter_label(name)} = {value:g}"
  base, index = _split(name)
  if base in _WORDS_ONLY:    # a name: "collective 0 feature-only"
    who = f"collective {index} " if index is not None else ""
    return who + str(value).replace("_", "-")
  return f"{parameter_label(name)} = {value}"


def output_label(column: str) -> str:
  """A label for a sweep's output column: the quantity's symbol and what it is.

  ``bound[c]`` is collective c's success S_c (a critical mass alpha_c^* for
  the ``critical_mass_*`` entries), ``bound.s_min`` and ``bound.s_w`` the
  corollaries of SPEC §7; a reduction's suffix (``.min``, ``.max``) says
  which extreme over the reduced axes. Unknown names come back unchanged.

  Examples:
    >>> output_label("feature_label.s_min.min")
    '$S_{\\\\min}$, Theorem 1 bound (min)'
    >>> output_label("exact[0]")
    '$S_{0}$, exact worst case'
    >>> output_label("critical_mass_feature_label[1]")
    '$\\\\alpha^*_{1}$, critical mass, Theorem 1'
  """
  reduction = ""
  for direction in (".min", ".max"):
    if column.endswith(direction):
      column, reduction = column[:-len(direction)], f" ({direction[1:]})"
  base, index = _split(column)
  summary = None
  if index is None and "." in column:
    base, summary = column.split(".", 1)
  if base not in _QUANTITIES or summary not in (None, "s_min", "s_w"):
    return column + reduction
  words = _QUANTITIES[base]
  if summary is not None:
    symbol = {"s_min": r"S_{\min}", "s_w": r"S_{w}"}[summary]
  elif base.startswith("critical_mass"):
    symbol = rf"\alpha^*_{{{index}}}"
  elif base == "critical_eraser_mass":
    symbol = rf"\alpha^*_{{e,{index}}}"
  else:
    symbol = f"S_{{{index}}}"
  return f"${symbol}$, {words}{reduction}"


# -- layout and colours -------------------------------------------------------------------


def grid(num: int, *, max_cols: int = 4, panel=(3.6, 3.0), legend: bool = False, **kwargs):
  """A figure of ``num`` small multiples, near-square, at most ``max_cols`` columns.

  Panels beyond ``num`` are hidden; :func:`grid_legend` puts the legend in
  the first of them. With ``legend=True`` and no such slot, a narrower
  column is added on the right to hold it, so the legend never takes room
  from the panels. Extra keyword arguments go to ``plt.subplots``
  (``sharey=True``, say).

  Returns:
    ``(fig, axes)``, ``axes`` a flat list of the ``num`` visible Axes.

  Examples:
    >>> fig, axes = grid(6)
    >>> len(axes), fig.axes[0].get_gridspec().ncols, fig.axes[0].get_gridspec().nrows
    (6, 3, 2)
    >>> plt.close(fig)
  """
  if num < 1:
    raise ValueError(f"num must be a positive number of panels; got {num}")
  # Near-square: 4 panels as 2 x 2, 5 as 3 + 2, 12 as 3 rows of 4.
  cols = min(max_cols, math.ceil(math.sqrt(num)))
  rows = math.ceil(num / cols)
  extra = legend and rows * cols == num
  ratios = [1.0] * cols + ([0.8] if extra else [])
  fig, axes = plt.subplots(rows, len(ratios), figsize=(panel[0] * sum(ratios), panel[1] * rows),
                           squeeze=False, gridspec_kw=dict(width_ratios=ratios), **kwargs)
  flat = [ax for row in axes for ax in row[:cols]]
  spare = flat[num:] + ([row[-1] for row in axes] if extra else [])
  for ax in spare:
    ax.set_visible(False)
  return fig, flat[:num]


def wrap_title(text: str, width: int) -> str:
  """Breaks a title into lines of about ``width`` characters, never inside ``$...$``.

  Examples:
    >>> print(wrap_title(r"exact worst case (solid) and $S_{\\min}$ bound (dashed)", 30))
    exact worst case (solid) and
    $S_{\\min}$ bound (dashed)
  """
  parts = text.split("$")
  # Spaces inside mathtext (odd parts) are kept from breaking.
  protected = "$".join(p.replace(" ", "\0") if k % 2 else p for k, p in enumerate(parts))
  lines = textwrap.wrap(protected, width=width, break_long_words=False,
                        break_on_hyphens=False)
  return "\n".join(line.replace("\0", " ") for line in lines)


def grid_legend(fig, axes, handles, labels, **kwargs):
  """One legend for a :func:`grid` of panels, outside every panel's data.

  It fills the grid's first empty slot when there is one, else stands to the
  right of the top row. Extra keyword arguments go to ``Axes.legend``.

  Returns:
    The Legend, or None when there are no handles.
  """
  if not handles:
    return None
  kwargs.setdefault("fontsize", 8)
  kwargs.setdefault("frameon", False)
  spare = [ax for ax in fig.axes if not ax.get_visible()]
  if spare:
    spare[0].set_visible(True)
    spare[0].axis("off")
    return spare[0].legend(handles, labels, loc="center left", **kwargs)
  top_right = max((ax for ax in axes if ax.get_subplotspec().is_first_row()),
                  key=lambda ax: ax.get_subplotspec().colspan.start)
  return top_right.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.03, 1.0),
                          borderaxespad=0.0, **kwargs)


def ordered_colors(num: int, cmap: str = "viridis") -> list:
  """``num`` colours in perceptual order (for lines indexed by an ordered value).

  The brightest end of the colour map is left out, so every line shows on white.
  """
  if num <= 1:
    return [plt.get_cmap(cmap)(0.0)]
  return [plt.get_cmap(cmap)(v) for v in np.linspace(0.0, 0.85, num)]


def _axis(values) -> np.ndarray:
  """An axis' values: floats, or strings for a categorical axis (strategy names)."""
  values = np.asarray(values)
  return values.astype(float) if values.dtype.kind in "biuf" else values.astype(str)


def _tick(value) -> str:
  return f"{value:g}" if isinstance(value, (int, float, np.number)) else str(value)


def is_discrete(values, *, max_values: int = 8) -> bool:
  """Whether a heatmap axis is drawn as categories: at most ``max_values`` values.

  A few values (three difficulties, four eps) are drawn as equal cells at
  their values, not as bands stretched to the midpoints between them; names
  (strategies) always are.
  """
  values = _axis(values)
  return values.dtype.kind == "U" or len(np.unique(values)) <= max_values


def _edges(values, log: bool):
  """Cell edges of a continuous axis: midpoints, half a step beyond each end."""
  values = np.asarray(values, dtype=float)
  work = np.log(values) if log else values
  if len(work) == 1:
    mid = np.array([work[0] - 0.5, work[0] + 0.5])
  else:
    inner = (work[1:] + work[:-1]) / 2
    mid = np.concatenate([[2 * work[0] - inner[0]], inner, [2 * work[-1] - inner[-1]]])
  return np.exp(mid) if log else mid


def axis_positions(values, axis_values, *, discrete: bool):
  """Where values of an axis lie on a heatmap drawn by :func:`heatmap`.

  A discrete axis is drawn at positions 0, 1, ...; values between two of its
  values are placed between them linearly. A continuous axis is unchanged.
  """
  values, axis_values = _axis(values), np.sort(_axis(axis_values))
  if axis_values.dtype.kind == "U":       # names: their rank among the axis' names
    return np.searchsorted(axis_values, values).astype(float)
  if not discrete:
    return values
  return np.interp(values, axis_values, np.arange(len(axis_values), dtype=float))


def legend_outside(ax, **kwargs):
  """A legend to the right of the Axes, outside the data."""
  kwargs.setdefault("fontsize", 8)
  return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                   frameon=False, **kwargs)


# -- plots --------------------------------------------------------------------------------


def bound_vs_mass(masses, values, *, critical=None, target=None, label=None, ax=None,
                  color=None, linestyle="-", ylabel=r"lower bound on success $S_c$",
                  legend=True):
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
    linestyle: the curve's line style.
    ylabel: the y-axis label (the exact success is no bound).
    legend: draw the Axes' legend (outside the data, on the right) when the
      curve has a label; False leaves legends to the caller.

  Returns:
    The Axes.
  """
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4))
  (line,) = ax.plot(np.asarray(masses), np.asarray(values), label=label, color=color,
                    linestyle=linestyle)
  color = line.get_color()
  if target is not None:
    ax.axhline(float(target), color="grey", linestyle=":", linewidth=1)
  if critical is not None and np.isfinite(critical):
    ax.axvline(float(critical), color=color, linestyle="--", linewidth=1)
    ax.annotate(f"{float(critical):.3f}", (float(critical), 0.02), color=color,
                rotation=90, ha="right", va="bottom", fontsize=8)
  ax.set_xlabel(r"mass $\alpha_c$")
  ax.set_ylabel(ylabel)
  ax.set_ylim(-0.02, 1.02)
  if label is not None and legend:
    legend_outside(ax)
  return ax


def _color_range(values, vmin, vmax):
  """The colour range: the finite data's min and max unless given (never empty)."""
  finite = values[np.isfinite(values)]
  low = float(finite.min()) if vmin is None and finite.size else vmin
  high = float(finite.max()) if vmax is None and finite.size else vmax
  low = 0.0 if low is None else float(low)
  high = 1.0 if high is None else float(high)
  if high <= low and vmin is None and vmax is None and 0.0 <= low <= 1.0:
    return 0.0, 1.0    # constant data in [0, 1] (a success): the range of any success
  if high <= low:      # constant data: a small band beside it, so the bar is readable
    pad = 0.05 * max(abs(low), 1.0)
    low, high = (low - pad, low + pad) if vmin is None and vmax is None else (
        (low, low + 2 * pad) if vmax is None else (high - 2 * pad, high))
  return low, high


def _finish_axes(ax, *axes, cells: bool):
  """Ticks, scale and label of each ``(which, values, discrete, log, label)`` axis.

  A discrete axis gets a tick at each value, at positions 0, 1, ...; with
  ``cells`` (a heatmap) its limits frame the cells.
  """
  for which, values, discrete, log, label in axes:
    if discrete:
      getattr(ax, f"set_{which}ticks")(np.arange(len(values)), [_tick(v) for v in values])
      if cells:
        getattr(ax, f"set_{which}lim")(-0.5, len(values) - 0.5)
    elif log:
      getattr(ax, f"set_{which}scale")("log")
    if label is not None:
      getattr(ax, f"set_{which}label")(label)


def _discrete(discrete, x, y):
  """Which axes are drawn as categories (names always are)."""
  if discrete is None:
    return is_discrete(x), is_discrete(y)
  pair = (discrete, discrete) if isinstance(discrete, bool) else discrete
  return tuple(bool(d) or a.dtype.kind == "U" for d, a in zip(pair, (x, y)))


def heatmap(x, y, values, *, xlabel=None, ylabel=None, label=None, ax=None, cmap="viridis",
            vmin=None, vmax=None, xlog=False, ylog=False, discrete=None):
  """Draws values over two axes (a sweep's S_min or S_w, say) as a heatmap.

  An axis with few values (:func:`is_discrete`) is drawn as equal cells with
  a tick at each value; a continuous one has cell edges at the midpoints
  (geometric ones on a log axis). :func:`axis_positions` places further
  marks on the same axes.

  Args:
    x: first axis values, shape (X,): numbers, or names (drawn as
      categories).
    y: second axis values, shape (Y,), likewise.
    values: shape (X, Y), ``values[i, j]`` at ``(x[i], y[j])`` (the order of a
      sweep's grid); NaN (out of domain) is left blank.
    xlabel, ylabel: axis labels.
    label: colour bar label.
    ax: the Axes to draw on (a new figure when None).
    cmap: matplotlib colour map.
    vmin, vmax: colour range; each defaults to the finite data's minimum and
      maximum (``vmin=0, vmax=1`` gives the range of any success; constant
      data in [0, 1] gets that range too).
    xlog, ylog: log scale for a continuous axis.
    discrete: draw the axes as categories: a bool for both, a pair, or None
      (default) to decide per axis by :func:`is_discrete`.

  Returns:
    The Axes; its colour bar's limits are ``ax.collections[0].get_clim()``.
  """
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4.5))
  x, y = _axis(x), _axis(y)
  values = np.asarray(values, dtype=float)
  if values.shape != (len(x), len(y)):
    raise ValueError(f"values must have shape (len(x), len(y)) = ({len(x)}, {len(y)}); got "
                     f"{values.shape}")
  ox, oy = np.argsort(x), np.argsort(y)
  x, y, values = x[ox], y[oy], values[ox][:, oy]
  discrete_x, discrete_y = _discrete(discrete, x, y)
  x_edges = np.arange(len(x) + 1) - 0.5 if discrete_x else _edges(x, xlog)
  y_edges = np.arange(len(y) + 1) - 0.5 if discrete_y else _edges(y, ylog)
  low, high = _color_range(values, vmin, vmax)
  mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(values).T, cmap=cmap,
                       vmin=low, vmax=high)
  ax.figure.colorbar(mesh, ax=ax, label=label)
  _finish_axes(ax, ("x", x, discrete_x, xlog, xlabel), ("y", y, discrete_y, ylog, ylabel),
               cells=True)
  return ax


def critical_mass_contour(x, y, critical, *, levels=8, xlabel=None, ylabel=None, ax=None,
                          discrete=None, xlog=False, ylog=False,
                          label=r"critical mass $\alpha_c^*$"):
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
    discrete: as for :func:`heatmap`: an axis with few values is drawn at
      positions 0, 1, ... with a tick at each value.
    xlog, ylog: log scale for a continuous axis.
    label: colour bar label.

  Returns:
    The Axes.
  """
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4.5))
  x, y = _axis(x), _axis(y)
  critical = np.asarray(critical, dtype=float)
  ox, oy = np.argsort(x), np.argsort(y)
  x, y, critical = x[ox], y[oy], critical[ox][:, oy]
  discrete_x, discrete_y = _discrete(discrete, x, y)
  px = np.arange(len(x), dtype=float) if discrete_x else x
  py = np.arange(len(y), dtype=float) if discrete_y else y
  finite = np.isfinite(critical)
  if finite.sum() >= 4 and len(x) > 1 and len(y) > 1:
    filled = ax.contourf(px, py, np.ma.masked_invalid(critical).T, levels=levels,
                         cmap="magma_r")
    lines = ax.contour(px, py, np.ma.masked_invalid(critical).T, levels=filled.levels,
                       colors="k", linewidths=0.6)
    ax.clabel(lines, fontsize=7, fmt="%.3g")
    ax.figure.colorbar(filled, ax=ax, label=label)
  infeasible = np.isinf(critical)
  if infeasible.any():
    ax.contourf(px, py, infeasible.T.astype(float), levels=[0.5, 1.5], colors="none",
                hatches=["//"])
    ax.contourf(px, py, np.where(infeasible, 1.0, np.nan).T, levels=[0.5, 1.5],
                colors=["0.8"], alpha=0.5)
    patch = matplotlib.patches.Patch(facecolor="0.9", edgecolor="0.4", hatch="//")
    ax.legend([patch], ["infeasible: no mass reaches the target"], loc="upper center",
              bbox_to_anchor=(0.5, -0.16), frameon=False, fontsize=8)
  _finish_axes(ax, ("x", x, discrete_x, xlog, xlabel), ("y", y, discrete_y, ylog, ylabel),
               cells=False)
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
