"""Figures for a finished sweep folder (matplotlib, headless)."""

from __future__ import annotations

import os
import pathlib

import matplotlib.pyplot as plt

from acajax.runs import figures as plots
from acajax.sweep._driver import read_results
from acajax.sweep._registry import BOUNDS, _reduce_fields, output_columns
from acajax.sweep._spec import SweepSpec


def _is_mass_axis(name: str) -> bool:
  return name == "alpha" or name.startswith("alpha[")


def _file_name(text: str) -> str:
  return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text).strip("_")


def plot(out_dir: str | os.PathLike, fig_dir: str | os.PathLike | None = None) -> list[pathlib.Path]:
  """Draws the figures that suit a finished sweep; returns the PNG paths.

  * A kept mass axis (``alpha`` or ``alpha[c]``) with at most 12 combinations
    of the other kept axes: each success bound against the mass, one line per
    collective and combination, critical masses marked where the sweep
    computed them (``plots.bound_vs_mass``).
  * Two or more kept axes: heatmaps over the first two of every summary
    column (S_min, S_w, or the bound when M = 1), minimum over any further
    kept axes (``plots.heatmap``); critical masses as contours
    (``plots.critical_mass_contour``).
  * One kept axis: every column against it.

  Args:
    out_dir: the ``--out`` folder of ``acajax sweep``.
    fig_dir: where to write the PNGs (default ``out_dir``); each is written
      atomically.

  Raises:
    ResultsError: ``out_dir`` is not a finished sweep's folder, or its files
      changed after the sweep finished (:func:`~acajax.sweep.read_results`).
  """
  spec, table = read_results(out_dir)
  fig_dir = pathlib.Path(out_dir if fig_dir is None else fig_dir)
  fig_dir.mkdir(parents=True, exist_ok=True)
  kept = [n for n in spec.axes if n not in spec.reduce.over]
  suffix = ""
  if spec.reduce.over:
    directions, _, _ = _reduce_fields(spec.reduce.ops)
    suffix = f".{directions[0]}"
  value_columns = [c + suffix for c in output_columns(spec)]
  reduced_note = (f" ({suffix[1:]} over {', '.join(spec.reduce.over)})" if suffix else "")
  written = []

  def save(fig, name):
    path = fig_dir / f"{_file_name(name)}.png"
    plots.save(fig, path)
    written.append(path)

  mass_axes = [n for n in kept if _is_mass_axis(n)]
  if mass_axes:
    x_name = mass_axes[0]
    others = [n for n in kept if n != x_name]
    groups = list(table.groupby(others, sort=False)) if others else [((), table)]
    if len(groups) <= 12:
      for bound in spec.bounds:
        if BOUNDS[bound].kind != "success":
          continue
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for key, group in groups:
          key = key if isinstance(key, tuple) else (key,)
          tag = ", ".join(f"{n}={v:g}" for n, v in zip(others, key))
          for column in value_columns:
            if not column.startswith(bound) or column not in group:
              continue
            series = column[len(bound):].removesuffix(suffix)
            critical = None
            cm_column = f"critical_mass_{bound}{series}{suffix}"
            if series.startswith("[") and cm_column in group:
              critical = float(group[cm_column].iloc[0])
            label = _series_label(series) + (f", {tag}" if tag else "")
            plots.bound_vs_mass(group[x_name].to_numpy(), group[column].to_numpy(),
                                critical=critical, target=_target(spec), label=label, ax=ax)
        if spec.axes[x_name].kind == "logspace":
          ax.set_xscale("log")
        ax.set_xlabel(x_name)
        ax.set_title(f"{spec.name}: {bound}{reduced_note}", fontsize=9)
        save(fig, f"{bound}_vs_{x_name}")

  if len(kept) >= 2:
    x_name, y_name = kept[0], kept[1]
    rest = kept[2:]
    note = f"; min over {', '.join(rest)}" if rest else ""
    grouped = table.groupby([x_name, y_name], sort=False)
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
      x = frame.index.to_numpy()
      y = frame.columns.to_numpy()
      z = frame.to_numpy()
      fig, ax = plt.subplots(figsize=(6, 4.5))
      if base.startswith("critical_mass"):
        plots.critical_mass_contour(x, y, z, xlabel=x_name, ylabel=y_name, ax=ax)
      else:
        plots.heatmap(x, y, z, xlabel=x_name, ylabel=y_name, label=column, ax=ax)
        # S_c over (other axis, alpha_c): the critical mass is the target's
        # contour; draw it where the sweep computed it (unreduced, 2-D only).
        critical = next((f"{name}[{collective}]" for name in spec.bounds
                         if name.startswith("critical_mass") and BOUNDS[name].kind == "mass"
                         and name.endswith(base.split("[")[0])), None)
        if mass_axis is not None and critical in table and not suffix and not rest:
          other = y_name if mass_axis == x_name else x_name
          curve = table.groupby(other, sort=False)[critical].first()
          xs, ys = curve.index.to_numpy(), curve.to_numpy()
          if mass_axis == x_name:
            xs, ys = ys, xs
          ax.plot(xs, ys, color="white", linestyle="--", linewidth=1.2,
                  label=f"critical mass (S = {_target(spec)})")
          ax.legend(loc="upper right", fontsize=7)
      _log_scales(ax, spec, x_name, y_name)
      ax.set_title(f"{spec.name}: {column}{reduced_note}{note}", fontsize=9)
      save(fig, f"heatmap_{column}")
  elif len(kept) == 1 and not mass_axes:
    x_name = kept[0]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for column in value_columns:
      ax.plot(table[x_name].to_numpy(), table[column].to_numpy(), label=column)
    ax.set_xlabel(x_name)
    ax.legend(fontsize=7)
    if spec.axes[x_name].kind == "logspace":
      ax.set_xscale("log")
    ax.set_title(f"{spec.name}{reduced_note}", fontsize=9)
    save(fig, f"outputs_vs_{x_name}")
  return written


def _series_label(series: str) -> str:
  if series.startswith("["):
    return f"collective {series.strip('[]')}"
  return {".s_min": "S_min", ".s_w": "S_w"}.get(series, series)


def _target(spec: SweepSpec):
  value = spec.fixed.get("target_success")
  return value if isinstance(value, float) else None


def _log_scales(ax, spec, x_name, y_name):
  if spec.axes[x_name].kind == "logspace":
    ax.set_xscale("log")
  if spec.axes[y_name].kind == "logspace":
    ax.set_yscale("log")
