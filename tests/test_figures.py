"""Figures: labels with symbols, fitted or fixed colour scales, discrete axes, grids.

Tests of :mod:`acajax.runs.figures` and of the figures :func:`acajax.sweep.plot`
and :func:`acajax.runs.validate.plot` draw from them.
"""

import pathlib

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from acajax import cli, sweep
from acajax.runs import figures as plots
from acajax.runs import validate

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "sweeps"


def test_labels_name_parameters_by_their_symbols():
  assert plots.parameter_label("alpha[0]") == r"$\alpha_{0}$ (mass of collective 0)"
  assert plots.parameter_label("xi") == r"$\xi$ (signal overlap)"
  assert plots.parameter_label("xi_c") == r"$\xi_{c}$ (signal rarity)"
  assert plots.parameter_label("delta[1]") == r"$\Delta_{1}$ (difficulty of collective 1)"
  assert plots.parameter_label("eps") == r"$\varepsilon$ (classifier suboptimality)"
  assert plots.parameter_label("not_a_parameter") == "not_a_parameter"
  assert plots.value_label("eps", 0.05) == r"$\varepsilon$ = 0.05"
  assert plots.parameter_label("strategy[0]") == "strategy of collective 0"
  assert plots.value_label("strategy[0]", "feature_only") == "collective 0 feature-only"
  assert plots.output_label("feature_label.s_min.min") == r"$S_{\min}$, Theorem 1 bound (min)"
  assert plots.output_label("exact[2]") == "$S_{2}$, exact worst case"
  assert plots.output_label("feature_only.s_w") == "$S_{w}$, Theorem 2 bound"
  assert plots.output_label("critical_mass_feature_label[1]") == (
      r"$\alpha^*_{1}$, critical mass, Theorem 1")


def test_heatmap_colour_scale_fits_the_data_unless_fixed():
  x, y = np.linspace(0, 1, 12), np.linspace(0, .5, 10)
  values = 0.1 + 0.4 * np.outer(x, y)
  values[0, 0] = np.nan                          # out of domain: blank, not in the range
  ax = plots.heatmap(x, y, values)
  assert ax.collections[0].get_clim() == (np.nanmin(values), np.nanmax(values))
  ax = plots.heatmap(x, y, values, vmin=0, vmax=1)
  assert ax.collections[0].get_clim() == (0, 1)
  ax = plots.heatmap(x, y, np.full((12, 10), 0.0))   # a constant success: the range [0, 1]
  assert ax.collections[0].get_clim() == (0.0, 1.0)
  ax = plots.heatmap(x, y, np.full((12, 10), 3.0))   # another constant: a band around it
  low, high = ax.collections[0].get_clim()
  assert low < 3.0 < high
  plots.plt.close("all")


def test_heatmap_draws_few_values_as_categories():
  alpha, delta = np.geomspace(1e-3, .5, 30), np.array([0.2, 0.5, 1.0])
  ax = plots.heatmap(alpha, delta, np.add.outer(alpha, delta), xlog=True)
  assert ax.get_xscale() == "log"
  assert list(ax.get_yticks()) == [0, 1, 2]
  assert [t.get_text() for t in ax.get_yticklabels()] == ["0.2", "0.5", "1"]
  assert ax.get_ylim() == (-0.5, 2.5)                # equal cells, no band up to 1.25
  assert plots.axis_positions([0.5, 0.75], delta, discrete=True).tolist() == [1.0, 1.5]
  plots.plt.close("all")


@pytest.mark.parametrize("num, cols, rows", [(1, 1, 1), (2, 2, 1), (4, 2, 2), (5, 3, 2),
                                             (12, 4, 3), (13, 4, 4), (30, 4, 8)])
def test_grid_wraps_small_multiples(num, cols, rows):
  fig, axes = plots.grid(num)
  spec = axes[0].get_gridspec()
  assert (len(axes), spec.ncols, spec.nrows) == (num, cols, rows)
  assert sum(ax.get_visible() for ax in fig.axes) == num
  plots.plt.close(fig)


def _frame_many_configurations():
  """A validation frame of two collectives over 12 configurations (no training)."""
  rows = []
  for k in range(12):
    active = (0, 1) if k % 3 else (k % 2,)
    for scale in (0.5, 1.0):
      for c in active:
        rows.append(dict(configuration=k, active=f"{'+'.join(map(str, active))}#{k}",
                         mass_scale=scale, noise=np.nan, seed=0, collective=str(c),
                         name=f"c{c}", mass=0.05 * scale, success=0.5 + 0.1 * c,
                         bound=0.2 + 0.1 * c))
  return pd.DataFrame(rows)


def test_validate_plot_wraps_configurations_in_a_grid(tmp_path, monkeypatch):
  panels = []
  save = validate._io.save_figure

  def spy(fig, path, **kwargs):
    panels.extend(ax.get_subplotspec() for ax in fig.axes if ax.get_lines())
    return save(fig, path, **kwargs)

  monkeypatch.setattr(validate._io, "save_figure", spy)
  path = validate.plot(_frame_many_configurations(), tmp_path / "s.png", title="twelve")
  assert len(panels) == 12
  assert len({p.colspan.start for p in panels}) == 4 and len({p.rowspan.start for p in panels}) == 3
  height, width = matplotlib.image.imread(path).shape[:2]
  assert width <= 2000 and width / height < 2.5


def _run_small_sweep(tmp_path):
  text = (EXAMPLES / "single_collective.toml").read_text().replace("num = 200", "num = 12")
  spec_path = tmp_path / "single.toml"
  spec_path.write_text(text)
  out = tmp_path / "run"
  sweep.run(spec_path, out, progress=False)
  return out


def test_sweep_plot_fits_or_fixes_the_colour_scale(tmp_path, monkeypatch):
  out = _run_small_sweep(tmp_path)
  _, table = sweep.read_results(out)
  drawn = {}
  save = plots.save

  def spy(fig, path):
    drawn[pathlib.Path(path).name] = [ax for ax in fig.axes if ax.get_visible()]
    save(fig, path)

  monkeypatch.setattr(plots, "save", spy)
  sweep.plot(out)
  ax = drawn["heatmap_feature_label_0.png"][0]
  column = table["feature_label[0]"]
  assert ax.collections[0].get_clim() == (column.min(), column.max())
  assert ax.get_xlabel() == r"$\alpha$ (mass)"
  assert ax.get_ylabel() == r"$\Delta$ (difficulty)"
  assert [t.get_text() for t in ax.get_yticklabels()] == ["0.2", "0.5", "1"]
  lines = drawn["feature_label_vs_alpha.png"][0].get_lines()
  colours = {tuple(line.get_color()) for line in lines if line.get_linestyle() == "-"}
  assert len(colours) == 3                           # one ordered colour per difficulty
  legend = drawn["feature_label_vs_alpha.png"][0].get_legend()
  assert [t.get_text() for t in legend.get_texts()] == [
      r"$\Delta$ = 0.2", r"$\Delta$ = 0.5", r"$\Delta$ = 1", "target success $s$ = 0.9",
      r"critical mass $\alpha_c^*$"]
  sweep.plot(out, tmp_path / "fixed", vmin=0.0, vmax=1.0)
  assert drawn["heatmap_feature_label_0.png"][0].collections[0].get_clim() == (0.0, 1.0)
  with pytest.raises(ValueError, match="vmin must be below vmax"):
    sweep.plot(out, vmin=1.0, vmax=0.5)


def test_cli_plot_takes_a_fixed_colour_scale(tmp_path, capsys):
  out = _run_small_sweep(tmp_path)
  assert cli.main(["plot", str(out), "--vmin", "0", "--vmax", "1"]) == 0
  assert "heatmap_feature_label_0.png" in capsys.readouterr().out
  assert cli.main(["plot", str(out), "--vmin", "1", "--vmax", "0"]) == 2
  assert "--vmin must be below --vmax" in capsys.readouterr().err
  assert cli.main(["plot", str(out), "--vmax", "nan"]) == 2
  assert "--vmax must be a finite number" in capsys.readouterr().err


def test_mixed_objective_columns_have_words_and_symbols():
  assert plots.output_label("critical_eraser_mass[0]") == (
      r"$\alpha^*_{e,0}$, eraser mass holding it at s")
  assert plots.output_label("erasing[1]") == "$S_{1}$, erasing bound"
  assert plots.output_label("unplanting[0]") == "$S_{0}$, unplanting bound"
