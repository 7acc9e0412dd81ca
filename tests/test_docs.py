"""The documentation's code runs, and its theory guide covers every SPEC section.

* Every how-to guide is built around a script under ``docs/howto/`` that its
  page includes whole (``--8<--``); each script's ``main`` runs here on tiny
  sizes, so the guides never rot.
* The ``pycon`` examples of the theory guide and the getting-started page run
  as doctests (their printed numbers are the worked example of SPEC §10 and the
  counterexample of SPEC §5).
* The theory guide defines the anchor ``spec-N`` on the heading of section N
  for every numbered section of SPEC.md, so docstrings can link to
  ``theory.md#spec-N``; every such link in the pages resolves.

The site itself is built by ``make docs`` (``mkdocs build --strict``), which
``make test`` runs after pytest; it is not built here.
"""

from __future__ import annotations

import doctest
import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
THEORY = DOCS / "theory.md"
# SPEC.md lives in the shared folder beside the checkout (also in CI). Its
# numbered sections, for when it is not there (a copy of the package alone):
SPEC = ROOT.parent / "shared" / "SPEC.md"
SPEC_SECTIONS = tuple(range(1, 12))


def _load_script(name: str):
  path = DOCS / "howto" / f"{name}.py"
  spec = importlib.util.spec_from_file_location(f"_howto_{name}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _png(path: pathlib.Path) -> bool:
  return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------
# The how-to scripts, on tiny sizes.
# --------------------------------------------------------------------------


def test_howto_pages_include_their_scripts():
  """Each guide shows its script whole, and every script has a guide."""
  included = set()
  for page in (DOCS / "howto").glob("*.md"):
    included |= set(re.findall(r'--8<-- "docs/howto/(\w+\.py)"', page.read_text()))
  scripts = {p.name for p in (DOCS / "howto").glob("*.py")}
  assert included == scripts and len(scripts) >= 4


def test_howto_bound_vs_exact(tmp_path):
  exact, theorem1 = _load_script("bound_vs_exact").main(tmp_path, num_instances=64)
  assert exact.shape == theorem1.shape == (64, 2)
  assert (theorem1 <= exact + 1e-9).all()   # SPEC §2: every bound is below the exact success
  assert _png(tmp_path / "bound_vs_exact.png")


def test_howto_sweep_and_plot(tmp_path):
  table, paths = _load_script("sweep_and_plot").main(tmp_path, num=3)
  assert len(table) == 9 and (tmp_path / "run" / "results.csv").is_file()
  assert paths and all(_png(p) for p in paths)


def test_howto_validate_learners(tmp_path):
  frame = _load_script("validate_learners").main(tmp_path, seeds=(0,), num_samples=600, steps=20)
  assert {"success", "eps_hat", "exact_success", "bound"} <= set(frame.columns)
  assert _png(tmp_path / "run" / "success_vs_mass.png")


def test_howto_finite_sample_csv(tmp_path):
  frame = _load_script("finite_sample_csv").main(tmp_path, num_lines=2000, sizes=(200, 1000, 2000),
                                                 platform_size=4000)
  assert frame["n"].tolist() == [200, 1000, 2000]
  assert ((frame["bound_good"] >= 0) & (frame["bound_good"] <= 1)).all()
  assert _png(tmp_path / "finite_sample.png")


def test_howto_opposed_collectives(tmp_path):
  xi, exact, bound = _load_script("opposed_collectives").main(tmp_path, num=5)
  assert exact.shape == bound.shape == (5, 2)
  assert (exact <= bound).all()   # SPEC §8: never below the exact one (and never NaN)
  assert _png(tmp_path / "opposed_collectives.png")


def test_howto_strategy_axis(tmp_path):
  exact, bounds, diff = _load_script("strategy_axis").main(tmp_path, num=5)
  fl = exact[exact["strategy[0]"] == "feature_label"]["exact[0]"].to_numpy()
  fo = exact[exact["strategy[0]"] == "feature_only"]["exact[0]"].to_numpy()
  assert (fo <= fl).all()       # feature-label dominates for the collective itself
  assert set(bounds["strategy"]) == {"feature_label", "feature_only"} and diff.shape == (5, 5)
  assert _png(tmp_path / "strategy_axis.png")


def test_howto_best_split(tmp_path):
  table, best = _load_script("best_split").main(tmp_path, num=9)
  assert ((table["alpha[0]"] + table["alpha[1]"]) - 0.1).abs().max() < 1e-6
  assert table["feature_label.s_min"].max() == table.loc[table["t"] == best,
                                                         "feature_label.s_min"].iloc[0]
  assert _png(tmp_path / "best_split.png")


# --------------------------------------------------------------------------
# The pages' Python examples, as doctests.
# --------------------------------------------------------------------------

_PYCON = re.compile(r"^```pycon\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", ["theory.md", "index.md"])
def test_page_examples_run(page):
  text = (DOCS / page).read_text()
  blocks = _PYCON.findall(text)
  assert blocks, f"{page} has no pycon example"
  flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
  test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, page, str(DOCS / page), 0)
  runner = doctest.DocTestRunner(optionflags=flags)
  runner.run(test)
  assert runner.failures == 0, f"{runner.failures} failing example(s) in {page} (output above)"


# --------------------------------------------------------------------------
# Anchors of the theory guide.
# --------------------------------------------------------------------------


def _spec_sections() -> tuple[int, ...]:
  if not SPEC.is_file():
    return SPEC_SECTIONS
  return tuple(int(n) for n in re.findall(r"^## (\d+)\.", SPEC.read_text(), re.MULTILINE))


def _anchors(text: str) -> set[str]:
  return set(re.findall(r"\{#([\w-]+)\}", text))


def test_spec_sections_known():
  """The fallback list matches SPEC.md where SPEC.md is present."""
  assert _spec_sections() == SPEC_SECTIONS


def test_theory_guide_has_an_anchor_per_spec_section():
  text = THEORY.read_text()
  headings = dict(re.findall(r"^## (\d+)\. .*\{#(spec-\d+)\}\s*$", text, re.MULTILINE))
  for number in _spec_sections():
    assert headings.get(str(number)) == f"spec-{number}", (
        f"theory.md: section {number} needs the heading '## {number}. ... {{#spec-{number}}}'")
  defined = _anchors(text)
  assert all(a in defined for a in (f"spec-{n}" for n in _spec_sections()))
  # Sub-anchors stay under their section's number.
  assert all(int(a.split("-")[1]) in _spec_sections() for a in defined if a.startswith("spec-"))


def test_links_to_theory_anchors_resolve():
  defined = _anchors(THEORY.read_text())
  links = []
  for page in DOCS.rglob("*.md"):
    links += [(page.name, anchor) for anchor in
              re.findall(r"theory\.md#([\w-]+)", page.read_text())]
    if page == THEORY:
      links += [(page.name, anchor) for anchor in re.findall(r"\]\(#([\w-]+)\)", page.read_text())]
  assert links
  missing = [(page, anchor) for page, anchor in links if anchor not in defined]
  assert not missing, f"links to undefined anchors: {missing}"


def test_howto_planter_vs_eraser(tmp_path):
  grid, exact, best, planter, eraser, ceiling = _load_script("planter_vs_eraser").main(tmp_path,
                                                                                       num=7)
  assert exact.shape == (7, 2)
  assert (planter <= exact[:, 0] + 1e-9).all() and (eraser <= exact[:, 1] + 1e-9).all()
  assert (ceiling >= best - 1e-9).all()          # the ceiling bounds the best case
  assert _png(tmp_path / "planter_vs_eraser.png")
