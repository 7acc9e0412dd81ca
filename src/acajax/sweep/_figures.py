"""Figures for a finished sweep folder (matplotlib, headless)."""

from __future__ import annotations

import os
import pathlib

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from acajax.runs import figures as plots
from acajax.sweep._driver import read_results
from acajax.sweep._registry import BOUNDS, _reduce_fields, output_columns
from acajax.sweep._spec import SweepSpec

# Most combinations of the other kept axes drawn as lines against a mass axis.
MAX_LINES = 12
# Most values of an axis drawn as categories (plots.is_discrete).
MAX_CATEGORIES = 8


def _is_mass_axis(name: str) -> bool:
  return name == "alpha" or name.startswith("alpha[")


def _file_name(text: str) -> str:
  return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text).strip("_")


def plot(out_dir: str | os.PathLike, fig_dir: str | os.PathLike | None = None, *,
         vmin: float | None = None, vmax: float | None = None) -> list[pathlib.Path]:
  """Draws the figures that suit a finished sweep; returns the PNG paths.

  * A kept mass axis (``alpha`` or ``alpha[c]``; else a kept axis of more
    than 8 numbers beside others) with at most 12 combinations of the other
    kept axes: each success bound against it, one panel
    per collective and summary (S_min, S_w; at most four panels a row), one
    line per combination in an ordered colour map, critical masses marked
    where the sweep computed them (``plots.bound_vs_mass``). With the exact
    engine and a bound in the same sweep, also both on one figure
    (``exact_and_<bound>_vs_<axis>``): exact solid, bound dashed, in the same
    colour, so the gap between them shows.
  * Two or more kept axes: heatmaps over the first two of every summary
    column (S_min, S_w, or the bound when M = 1), minimum over any further
    kept axes (``plots.heatmap``); critical masses as contours
    (``plots.critical_mass_contour``). Axes with few values are drawn as
    categories; the colour scale spans the data unless ``vmin`` / ``vmax``
    fix it.
  * One kept axis: every column against it.

  Axes and colour bars are labelled with the parameters' symbols and words
  (``plots.parameter_label``, ``plots.output_label``).

  Args:
    out_dir: the ``--out`` folder of ``acajax sweep``.
    fig_dir: where to write the PNGs (default ``out_dir``); each is written
      atomically.
    vmin, vmax: fixed ends of the heatmaps' colour scale (``0, 1``: the
      range of any success); each defaults to the data's minimum / maximum.

  Raises:
    ResultsError: ``out_dir`` is not a finished sweep's folder, or its files
      changed after the sweep finished (:func:`~acajax.sweep.read_results`).
    ValueError: ``vmin`` is not below ``vmax``.
  """
  if vmin is not None and vmax is not None and not vmin < vmax:
    raise ValueError(f"vmin must be below vmax; got vmin = {vmin:g}, vmax = {vmax:g}")
  spec, table = read_results(out_dir)
  fig_dir = pathlib.Path(out_dir if fig_dir is None else fig_dir)
  fig_dir.mkdir(parents=True, exist_ok=True)
  kept = [n for n in spec.axes if n not in spec.reduce.over]
  suffix = ""
  if spec.reduce.over:
    directions, _, _ = _reduce_fields(spec.reduce.ops)
    suffix = f".{directions[0]}"
  value_columns = [c + suffix for c in output_columns(spec)]
  reduced_note = (f" ({suffix[1:]} over {_symbols(spec.reduce.over)})" if suffix else "")
  written = []

  def save(fig, name):
    path = fig_dir / f"{_file_name(name)}.png"
    plots.save(fig, path)
    written.append(path)

  mass_axes = [n for n in kept if _is_mass_axis(n)]
  # Lines against a mass axis, or against a continuous axis (a share t of a
  # derived split, say) when the others have few values.
  continuous = [n for n in kept if not spec.axes[n].categorical
                and len(spec.axes[n]) > MAX_CATEGORIES]
  line_axis = mass_axes[0] if mass_axes else (continuous[0] if continuous and len(kept) >= 2
                                              else None)
  if line_axis is not None:
    x_name = line_axis
    others = [n for n in kept if n != x_name]
    groups = list(table.groupby(others, sort=True)) if others else [((), table)]
    if len(groups) <= MAX_LINES:
      success = [b for b in spec.bounds if BOUNDS[b].kind == "success"]
      for bound in success:
        fig = _mass_figure(spec, groups, others, x_name, value_columns, suffix, [bound])
        _suptitle(fig, f"{spec.name}: {_BOUND_WORDS.get(bound, bound)}{reduced_note}")
        save(fig, f"{bound}_vs_{x_name}")
      if "exact" in success:
        for bound in success:
          if bound == "exact":
            continue
          fig = _mass_figure(spec, groups, others, x_name, value_columns, suffix,
                             ["exact", bound])
          _suptitle(fig, f"{spec.name}: exact worst case (solid) and "
                         f"{_BOUND_WORDS.get(bound, bound)} (dashed){reduced_note}")
          save(fig, f"exact_and_{bound}_vs_{x_name}")

  # Name-valued axes (a strategy) go last: a heatmap's axes are numbers.
  ordered = sorted(kept, key=lambda n: spec.axes[n].categorical)
  if len(kept) >= 2 and not spec.axes[ordered[1]].categorical:
    x_name, y_name = ordered[0], ordered[1]
    rest = ordered[2:]
    note = f"; min over {_symbols(rest)}" if rest else ""
    grouped = table.groupby([x_name, y_name], sort=False)
    x_log = spec.axes[x_name].kind == "logspace"
    y_log = spec.axes[y_name].kind == "logspace"
    for column in value_columns:
      base = column.removesuffix(suffix)
      collective = base[base.index("[") + 1:-1] if base.endswith("]") else None
      # The axis of this collective's own mass, if the heatmap has it.
      own = [f"alpha[{collective}]"] + (["alpha"] if spec.collectives == 1 else [])
      mass_axis = next((n for n in own if n in (x_name, y_name)), None) if collective else None
      if base.startswith("critical_mass"):
        # Independent of the collective's own mass: its curve is drawn on the
        # bound's heatmap instead.
        summary = mass_axis is None
      else:
        summary = (base.endswith((".s_min", ".s_w")) or spec.collectives == 1
                   or mass_axis is not None)
      if not summary:
        continue
      frame = grouped[column].min().unstack(y_name) if rest else (
          table.pivot(index=x_name, columns=y_name, values=column))
      frame = frame.sort_index().sort_index(axis=1)
      x = frame.index.to_numpy()
      y = frame.columns.to_numpy()
      z = frame.to_numpy(dtype=float)
      discrete = (plots.is_discrete(x), plots.is_discrete(y))
      fig, ax = plt.subplots(figsize=(6.2, 4.6))
      labels = dict(xlabel=plots.parameter_label(x_name), ylabel=plots.parameter_label(y_name))
      if base.startswith("critical_mass"):
        plots.critical_mass_contour(x, y, z, ax=ax, discrete=discrete, xlog=x_log, ylog=y_log,
                                    label=plots.output_label(base) + reduced_note, **labels)
      else:
        plots.heatmap(x, y, z, label=plots.output_label(base) + reduced_note, ax=ax,
                      vmin=vmin, vmax=vmax,
                      discrete=discrete, xlog=x_log, ylog=y_log, **labels)
        # S_c over (other axis, alpha_c): the critical mass is the target's
        # contour; draw it where the sweep computed it (unreduced, 2-D only).
        critical = next((f"{name}[{collective}]" for name in spec.bounds
                         if name.startswith("critical_mass") and BOUNDS[name].kind == "mass"
                         and name.endswith(base.split("[")[0])), None)
        if mass_axis is not None and critical in table and not suffix and not rest:
          _critical_curve(ax, table, critical, mass_axis, x_name, y_name, x, y, discrete,
                          _target(spec))
      ax.set_title(f"{spec.name}: {plots.output_label(base)}{reduced_note}{note}",
                   fontsize=9)
      save(fig, f"heatmap_{column}")
  elif len(kept) == 1 and line_axis is None:
    x_name = kept[0]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for column, color in zip(value_columns, _cycle(len(value_columns))):
      ax.plot(table[x_name].to_numpy(), table[column].to_numpy(), color=color,
              label=plots.output_label(column))
    ax.set_xlabel(plots.parameter_label(x_name))
    ax.set_ylabel("value")
    plots.legend_outside(ax)
    if spec.axes[x_name].kind == "logspace":
      ax.set_xscale("log")
    ax.set_title(f"{spec.name}{reduced_note}", fontsize=9)
    save(fig, f"outputs_vs_{x_name}")
  return written


# What each evaluable quantity is, for titles and y labels.
_BOUND_WORDS = {
    "exact": "exact worst-case success",
    "feature_label": "Theorem 1 bound (feature-label)",
    "feature_only": "Theorem 2 bound (feature-only)",
    "feature_only_published": "Theorem 2 bound (feature-only, published)",
    "by_strategy": "Theorem 1 if all play feature-label, else sound Theorem 2",
    "unplanting": "unplanting bound (mixed objectives)",
    "erasing": "erasing bound (mixed objectives)",
}


def _suptitle(fig, text: str) -> None:
  """A figure title wrapped to the figure's width (10 pt: about 11 characters an inch)."""
  fig.suptitle(plots.wrap_title(text, int(fig.get_figwidth() * 11)), fontsize=10)


def _symbols(names) -> str:
  """Parameters by their symbols, or in words where they have none."""
  return ", ".join(plots.parameter_symbol(n) if plots.parameter_symbol(n) != n
                   else plots.parameter_label(n) for n in names)


def _cycle(num: int) -> list:
  """Line colours: the default cycle for a few lines, an ordered map beyond."""
  if num <= 6:
    return [f"C{k}" for k in range(num)]
  return plots.ordered_colors(num, "turbo")


def _series_title(series: str) -> str:
  if series.startswith("["):
    index = series.strip("[]")
    return f"collective {index}: $S_{{{index}}}$"
  return {".s_min": r"$S_{\min}$ (least success)",
          ".s_w": r"$S_{w}$ (mass-weighted success)"}.get(series, series)


def _mass_figure(spec, groups, others, x_name, value_columns, suffix, bounds):
  """Small multiples against a mass axis: one panel per collective / summary.

  Lines are the combinations of the other kept axes, in an ordered colour
  map; with two quantities (exact, bound) the second is dashed in the same
  colour.
  """
  first = bounds[0]
  series = [c.removesuffix(suffix)[len(first):] for c in value_columns
            if c.startswith(first) and c.removesuffix(suffix)[len(first):][:1] in ("[", ".")]
  single = len(series) == 1
  fig, axes = plots.grid(len(series), panel=(6.0, 4.0) if single else (3.7, 3.0),
                         legend=not single, sharex=True, sharey=True)
  # Ordered values get an ordered colour map; names (strategies) the default cycle.
  named = any(spec.axes[n].categorical for n in others)
  colors = (_cycle(len(groups)) if named else plots.ordered_colors(len(groups))
            if len(groups) > 1 else ["C0"])
  target = _target(spec)
  styles = ["-", "--"]
  for ax, part in zip(axes, series):
    for (key, group), color in zip(groups, colors):
      key = key if isinstance(key, tuple) else (key,)
      label = ", ".join(plots.value_label(n, v) for n, v in zip(others, key)) or None
      group = group.sort_values(x_name)
      for bound, style in zip(bounds, styles):
        column = f"{bound}{part}{suffix}"
        if column not in group:
          continue
        critical = None
        cm_column = f"critical_mass_{bound}{part}{suffix}"
        if part.startswith("[") and cm_column in group and _is_mass_axis(x_name):
          critical = float(group[cm_column].iloc[0])
        plots.bound_vs_mass(group[x_name].to_numpy(), group[column].to_numpy(),
                            critical=critical, target=target, color=color, linestyle=style,
                            label=label if bound == first else None, ax=ax, legend=False)
    if spec.axes[x_name].kind == "logspace":
      ax.set_xscale("log")
    if not (single and spec.collectives == 1):     # one collective: the title says it
      ax.set_title(_series_title(part), fontsize=9)
    ax.set_xlabel(plots.parameter_label(x_name) if ax.get_subplotspec().is_last_row()
                  or single else "")
    ax.set_ylabel(_y_label(bounds) if ax.get_subplotspec().is_first_col() else "")
    ax.grid(alpha=0.3)
  # Panels of the last row may stand below hidden ones: give each its x label.
  for ax in axes:
    if not ax.get_xlabel():
      below = [other for other in axes if other is not ax
               and other.get_subplotspec().colspan == ax.get_subplotspec().colspan
               and other.get_subplotspec().rowspan.start > ax.get_subplotspec().rowspan.start]
      if not below:
        ax.set_xlabel(plots.parameter_label(x_name))
        ax.tick_params(labelbottom=True)
  handles, labels = axes[0].get_legend_handles_labels()
  if len(bounds) > 1:
    handles += [Line2D([], [], color="k", linestyle=s) for s in styles[:len(bounds)]]
    labels += [_BOUND_WORDS.get(b, b) for b in bounds]
  if target is not None:
    handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=1))
    labels.append(f"target success $s$ = {target:g}")
  if _is_mass_axis(x_name) and any(part.startswith("[") and
                                   f"critical_mass_{first}{part}{suffix}" in value_columns
                                   for part in series):
    handles.append(Line2D([], [], color="grey", linestyle="--", linewidth=1))
    labels.append(r"critical mass $\alpha_c^*$")
  plots.grid_legend(fig, axes, handles, labels, title=_symbols(others) if others else None)
  return fig


def _y_label(bounds) -> str:
  if bounds == ["exact"]:
    return "exact worst-case success"
  if "exact" in bounds:
    return "success: exact and bound"
  return "lower bound on success"


def _critical_curve(ax, table, critical, mass_axis, x_name, y_name, x, y, discrete, target):
  """The critical mass (where S_c reaches the target) on S_c's heatmap."""
  other = y_name if mass_axis == x_name else x_name
  curve = table.groupby(other, sort=True)[critical].first()
  values, masses = curve.index.to_numpy(), curve.to_numpy(dtype=float)
  other_is_x = other == x_name
  other_discrete = discrete[0] if other_is_x else discrete[1]
  positions = plots.axis_positions(values, x if other_is_x else y, discrete=other_discrete)
  label = f"critical mass $\\alpha^*$ ($S$ = {target:g})" if target is not None else (
      r"critical mass $\alpha^*$")
  style = dict(color="white", linestyle="--", linewidth=1.4)
  if other_discrete:
    # One mass per category: a segment across its cell.
    for pos, mass in zip(positions, masses):
      span = [pos - 0.5, pos + 0.5]
      xs, ys = (span, [mass, mass]) if other_is_x else ([mass, mass], span)
      ax.plot(xs, ys, **style)
  else:
    xs, ys = (positions, masses) if other_is_x else (masses, positions)
    ax.plot(xs, ys, **style)
  # Below the data; the white line would not show on the legend's white.
  proxy = Line2D([], [], color="0.3", linestyle="--", linewidth=1.4)
  ax.legend([proxy], [f"{label} (white, dashed)"], loc="upper center",
            bbox_to_anchor=(0.5, -0.16), frameon=False, fontsize=8)


def _target(spec: SweepSpec):
  value = spec.fixed.get("target_success")
  return value if isinstance(value, float) else None
