"""The benchmark suite: `acajax bench --quick` end to end, and its summary generator."""

import json
import math

import pytest

from acajax import bench, cli
from acajax.bench import _summary as summary

CORE = ("sweep", "exact", "optimize", "learners", "statistical")


def _positive(value) -> bool:
  return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_quick_suite_writes_well_formed_json_summary_and_plots(tmp_path, capsys):
  out = tmp_path / "results.json"
  assert cli.main(["bench", "--quick", "--out", str(out), "--no-progress"]) == 0
  result = json.loads(out.read_text())
  assert result["suite"] == bench.SCHEMA and result["quick"] is True
  assert result["failures"] == {}
  assert set(CORE) <= set(result["benchmarks"])
  env = result["environment"]
  assert env["device_kind"] and env["jax_version"] and env["cpu_count"] >= 1
  for name, b in result["benchmarks"].items():
    assert b["name"] == name and b["dtype"] in ("float32", "float64") and b["shapes"]
    for key in ("compile_s", "median_s", "throughput", "ratio"):
      assert _positive(b[key]), (name, key, b[key])
    assert _positive(b["baseline"]["throughput"]) and b["baseline"]["name"]
    assert b["throughput"] == pytest.approx(b["items"] / b["median_s"])
    at = b["baseline"].get("at_size")
    compared = b["throughput"] if at is None else next(
        s["throughput"] for s in b["scaling"] if s["size"] == at)
    assert b["ratio"] == pytest.approx(compared / b["baseline"]["throughput"])
    sizes = [s["size"] for s in b["scaling"]]
    assert len(sizes) >= 2 and sizes == sorted(sizes) and sizes[-1] == b["items"]
    assert all(_positive(s["throughput"]) and _positive(s["compile_s"]) for s in b["scaling"])
    if name in CORE:
      roof = b["roofline"]
      assert roof["binding"] in ("flops", "bandwidth") and _positive(roof["fraction"])
      assert _positive(b["ceilings"]["copy_bytes_per_s"])
  memory = result["benchmarks"]["sweep"]["memory"]
  assert [m["points"] for m in memory] == [10**5]
  assert all(_positive(m["peak_rss_mb"]) for m in memory)
  table = (tmp_path / "summary.md").read_text()
  assert summary.BEGIN in table and "| sweep |" in table and "| learners |" in table
  assert (tmp_path / "scaling.png").stat().st_size > 0
  assert (tmp_path / "sweep_memory.png").stat().st_size > 0
  assert "acajax bench: wrote" in capsys.readouterr().out


def test_unknown_benchmark_is_refused_before_running(capsys):
  assert cli.main(["bench", "--only", "sweep,gpu-burn"]) == 2
  err = capsys.readouterr().err
  assert "--only" in err and "gpu-burn" in err and "statistical" in err


def _record(backend, kind, throughputs, *, quick=False):
  sizes = [10, 100]
  return dict(suite=1, quick=quick, backend=backend, device_slug=kind.lower(), date="2026-11-22",
              command="acajax bench", environment=dict(device_kind=kind, cpu_count=2,
                                                       cpu_model="x", jax_version="0"),
              failures={}, benchmarks={"exact": dict(
                  name="exact", unit="scenarios", dtype="float64", items=100,
                  compile_s=0.5, median_s=100 / throughputs[-1], throughput=throughputs[-1],
                  ratio=10.0, baseline=dict(name="loop", throughput=throughputs[-1] / 10),
                  scaling=[dict(size=s, throughput=t) for s, t in zip(sizes, throughputs)],
                  roofline=dict(fraction=0.25, binding="bandwidth"), ceilings={})})


def test_summary_speedup_and_readme_markers(tmp_path):
  cpu = _record("cpu", "cpu", [1e3, 2e3])
  gpu = _record("gpu", "H100", [1e3, 8e4])
  for name, data in (("cpu-2core.json", cpu), ("h100.json", gpu),
                     ("stale-quick.json", _record("cpu", "cpu", [1.0, 1.0], quick=True))):
    (tmp_path / name).write_text(json.dumps(data))
  loaded = summary.load(tmp_path)
  assert [r["backend"] for r in loaded] == ["cpu", "gpu"]        # quick runs left out
  assert summary.speedup(gpu["benchmarks"]["exact"], cpu["benchmarks"]["exact"]) == 40.0
  other_work = dict(cpu["benchmarks"]["exact"], shapes=dict(n=64, scenarios=100))
  mine = dict(gpu["benchmarks"]["exact"], shapes=dict(n=32, scenarios=10**6))
  assert summary.differing_work(mine, other_work) == ["n"]     # the size may differ
  assert summary.speedup(mine, other_work) is None
  readme = tmp_path / "README.md"
  readme.write_text(f"# Benchmarks\n\nhand-written\n\n{summary.BEGIN}\nold\n{summary.END}\n\ntail\n")
  section, plots = summary.write(tmp_path, readme)
  text = readme.read_text()
  assert "hand-written" in text and "tail" in text and "old" not in text
  assert text.count(summary.BEGIN) == 1 and "| exact | 100 scenarios |" in text
  assert "**10x**" in text and "| 40x |" in text and "25% of measured, bandwidth" in text
  assert [p.name for p in plots] == ["scaling.png"]


def test_summary_without_results_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError, match="no suite results"):
    summary.write(tmp_path, None)


def test_destination_checkout_folder_and_file(tmp_path):
  (tmp_path / "benchmarks").mkdir()
  (tmp_path / "benchmarks" / "README.md").write_text("# Benchmarks\n")
  assert bench.checkout_root(tmp_path) == tmp_path
  full = bench.destination(cwd=tmp_path)
  assert full.folder == tmp_path / "benchmarks" / "results"
  assert full.readme == tmp_path / "benchmarks" / "README.md"
  assert full.json_path("cpu-2core", False) == full.folder / "cpu-2core.json"
  quick = bench.destination(quick=True, cwd=tmp_path)
  assert quick.json_path("cpu-2core", True) == full.folder / "quick" / "results.json"
  assert quick.readme is None
  folder = bench.destination(tmp_path / "runs", quick=True, cwd=tmp_path)
  assert folder.json_path("nvidia-h200", True) == tmp_path / "runs" / "nvidia-h200-quick.json"
  assert folder.readme is None
  named = bench.destination(tmp_path / "runs" / "h200.json", cwd=tmp_path)
  assert (named.folder, named.json_path("x", False)) == (tmp_path / "runs",
                                                         tmp_path / "runs" / "h200.json")


def test_summary_only_regenerates_from_the_files_there(tmp_path, capsys):
  (tmp_path / "cpu-2core.json").write_text(json.dumps(_record("cpu", "cpu", [1e3, 2e3])))
  assert cli.main(["bench", "--summary-only", "--out", str(tmp_path)]) == 0
  assert "| exact | 100 scenarios |" in (tmp_path / "summary.md").read_text()
  assert (tmp_path / "scaling.png").stat().st_size > 0
  assert f"summary {tmp_path / 'summary.md'}" in capsys.readouterr().out
  assert cli.main(["bench", "--summary-only", "--out", str(tmp_path / "empty")]) == 2
  assert "no suite results" in capsys.readouterr().err


class _FakeChild:
  """A finished benchmark child: its JSON line on stdout, or a failure on stderr."""

  def __init__(self, record=None, stderr=""):
    self.returncode = 0 if record is not None else 1
    self._out = "" if record is None else json.dumps(record) + "\n"
    self._err = stderr

  def communicate(self):
    return self._out, self._err


def test_only_merges_into_the_result_file_there(tmp_path, capsys, monkeypatch):
  import jax

  from acajax.bench import _env, _process, _suite
  slug = _suite.result_slug(jax.default_backend(), _env.environment()["device_kind"])
  old = _record(jax.default_backend(), "device", [1e3, 2e3])
  old["device_slug"] = slug
  old["date"] = "2026-01-02"
  old["benchmarks"]["sweep"] = dict(old["benchmarks"]["exact"], name="sweep", unit="points")
  path = tmp_path / "result.json"
  path.write_text(json.dumps(old))
  fresh = dict(_record("cpu", "cpu", [5e3, 9e3])["benchmarks"]["exact"])
  children = {"exact": _FakeChild(fresh),
              "sweep": _FakeChild(stderr="Traceback (most recent call last):\n"
                                         "RuntimeError: boom\n")}
  monkeypatch.setattr(_process, "start", lambda *args: children[args[-1]])

  assert cli.main(["bench", "--only", "exact", "--out", str(path), "--no-progress"]) == 0
  merged = json.loads(path.read_text())
  assert list(merged["benchmarks"]) == ["sweep", "exact"]          # the sweep entry is kept
  assert merged["benchmarks"]["sweep"]["throughput"] == 2e3
  assert merged["benchmarks"]["sweep"]["measured"] == "2026-01-02"
  assert merged["benchmarks"]["exact"]["throughput"] == 9e3         # replaced
  assert merged["benchmarks"]["exact"]["measured"][:10] == merged["date"] != "2026-01-02"
  assert merged["command"] == "acajax bench --only sweep,exact"
  table = (tmp_path / "summary.md").read_text()                     # from the merged file
  assert "| sweep |" in table and "| exact |" in table and "Measured on different days" in table
  assert not list(tmp_path.glob(".*.tmp"))

  # A benchmark that fails keeps its old entry beside the failure; no traceback shown.
  capsys.readouterr()
  assert cli.main(["bench", "--only", "sweep", "--out", str(path), "--no-progress"]) == 1
  err = capsys.readouterr().err
  assert "sweep failed (RuntimeError: boom)" in err and "Traceback" not in err
  merged = json.loads(path.read_text())
  assert merged["benchmarks"]["sweep"]["throughput"] == 2e3 and "sweep" in merged["failures"]
  assert merged["benchmarks"]["exact"]["throughput"] == 9e3
