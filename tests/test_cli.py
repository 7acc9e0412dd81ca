"""The CLI and the README's main job (`acajax demo`)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd

from acajax import bounds, cli
from acajax.runs import demo


def test_help_lists_demo(capsys):
  try:
    cli.main(["--help"])
  except SystemExit as stop:
    assert stop.code == 0
  assert "demo" in capsys.readouterr().out


def test_help_documents_the_exit_status_and_debug(capsys):
  assert cli.main(["--help"]) == 0
  out = capsys.readouterr().out
  for text in ("exit status:", "  2 ", "128+N", "--debug", "ACAJAX_DEBUG=1"):
    assert text in out, text
  for command in ("demo", "sweep", "plot", "finite-sample", "validate", "bench"):
    assert cli.main([command, "--help"]) == 0
    assert "--force" in capsys.readouterr().out, command


def test_no_command_prints_help_and_fails(capsys):
  assert cli.main([]) == 2
  assert "usage: acajax" in capsys.readouterr().out


def test_demo_writes_report_consistent_with_bounds(tmp_path):
  assert cli.main(["demo", "--out", str(tmp_path / "report")]) == 0
  out = tmp_path / "report"
  for name in ("bounds.csv", "report.md", "bounds_vs_mass.png"):
    assert (out / name).stat().st_size > 0, name
  assert (out / "bounds_vs_mass.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  meta = json.loads((out / "meta.json").read_text())
  assert meta["kind"] == "demo" and meta["argv"] == ["acajax", "demo", "--out", str(out)]
  assert not list(out.glob(".*.tmp"))              # every file written atomically
  table = pd.read_csv(out / "bounds.csv")
  s = demo.DemoScenario()
  # Recompute collective 0's Theorem 1 bound and critical mass from scratch.
  others = s.alpha[1]
  beta = others if s.targets[0] == s.targets[1] else 0.0
  expected = bounds.feature_label(s.alpha[0], alpha_total=sum(s.alpha), beta=beta,
                                  xi_c=s.xi_c[0], xi=s.xi, delta=s.delta[0], eps=s.eps)
  np.testing.assert_allclose(table["bound_feature_label"][0], expected, rtol=1e-6)
  critical = table[f"critical_mass_fl_s{s.target_success:g}"][0]
  at_critical = bounds.feature_label(critical, alpha_total=critical + others, beta=beta,
                                     xi_c=s.xi_c[0], xi=s.xi, delta=s.delta[0], eps=s.eps)
  np.testing.assert_allclose(at_critical, s.target_success, rtol=1e-6)


def test_console_script_entry_point_runs():
  result = subprocess.run([sys.executable, "-m", "acajax.cli", "--version"],
                          capture_output=True, text=True, check=True)
  assert result.stdout.strip() == "0.1.0"
