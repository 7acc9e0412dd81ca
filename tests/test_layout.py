"""The package layout: the maths layer apart from the run layer, no import cycles.

The maths layer (bounds, the exact engine, structured spaces, finite-sample
bounds, optimisation, planting, datasets, learners, ratings and the
recommender model) must never import pandas, matplotlib, csv, tomllib or tqdm;
specs, files, reports, figures, progress bars and the CLI live in the run
layer (``acajax.runs``, ``acajax.sweep``, ``acajax.bench``, ``acajax.cli``).
These tests read the source (module-level imports, and imports inside
functions) and also import the maths layer in a fresh interpreter.
"""

from __future__ import annotations

import ast
import importlib
import os
import pathlib
import subprocess
import sys
import warnings

import pytest

import acajax

ROOT = pathlib.Path(acajax.__file__).resolve().parent
RUN_LAYER_LIBRARIES = {"pandas", "matplotlib", "csv", "tomllib", "tqdm"}
MATHS_LAYER = ("acajax._checks", "acajax._devices", "acajax._version", "acajax.bounds",
               "acajax.mixtures", "acajax.objectives", "acajax.scenarios", "acajax.structured",
               "acajax.statistical", "acajax.optimize",
               "acajax.planting", "acajax.datasets", "acajax.learners", "acajax.ratings",
               "acajax.rating_collectives", "acajax.recommender", "acajax.svd",
               "acajax.rating_eval", "acajax.clustering")
# Old homes of moved modules: each is the new module under its old name, with a warning.
MOVED_MODULES = {"acajax.sweep_spec": "acajax.sweep._spec", "acajax.validate": "acajax.runs.validate",
                 "acajax.rec_experiment": "acajax.runs.recommender",
                 "acajax.plots": "acajax.runs.figures", "acajax.demo": "acajax.runs.demo"}


def _modules() -> dict[str, pathlib.Path]:
  """Every module of the package: dotted name -> file."""
  found = {}
  for path in sorted(ROOT.rglob("*.py")):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
      parts = parts[:-1]
    found[".".join(parts)] = path
  return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
  return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: pathlib.Path, name: str, *, in_functions: bool) -> list[tuple[str, int]]:
  """(imported module, line) of the module-level imports, or of those inside functions."""
  tree = ast.parse(path.read_text(), str(path))
  package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
  found = []

  def visit(node, inside: bool):
    for child in ast.iter_child_nodes(node):
      if isinstance(child, ast.If) and _is_type_checking(child):
        continue                                   # annotations only, never executed
      child_inside = inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.Lambda))
      if isinstance(child, (ast.Import, ast.ImportFrom)) and child_inside == in_functions:
        if isinstance(child, ast.Import):
          found.extend((alias.name, child.lineno) for alias in child.names)
        else:
          base = child.module or ""
          if child.level:
            base = ".".join(package.split(".")[:len(package.split(".")) - child.level + 1]
                            + ([base] if base else []))
          found.append((base, child.lineno))
          # `from acajax.runs import validate` imports the module acajax.runs.validate.
          found.extend((f"{base}.{alias.name}", child.lineno) for alias in child.names
                       if f"{base}.{alias.name}" in MODULES)
      visit(child, child_inside)

  visit(tree, False)
  return found


def _graph() -> dict[str, set[str]]:
  """acajax module -> the acajax modules that importing it executes (module level).

  Importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` unless that package
  is one of the importer's own parents (already being imported).
  """
  graph = {}
  for name, path in MODULES.items():
    parents = {name.rsplit(".", k)[0] for k in range(name.count(".") + 1)}
    edges = set()
    for target, _ in _imports(path, name, in_functions=False):
      if not target.startswith("acajax"):
        continue
      parts = target.split(".")
      for k in range(2, len(parts) + 1):
        prefix = ".".join(parts[:k])
        if prefix in MODULES and prefix not in parents:
          edges.add(prefix)
    graph[name] = edges
  return graph


def _closure(graph, start: str) -> set[str]:
  seen, todo = set(), [start]
  while todo:
    name = todo.pop()
    if name not in seen:
      seen.add(name)
      todo.extend(graph[name])
  return seen


def test_the_module_level_import_graph_has_no_cycle():
  graph = _graph()
  # Tarjan-free check: a module that can reach itself is on a cycle.
  on_cycle = sorted(name for name in graph if any(name in _closure(graph, nxt)
                                                  for nxt in graph[name]))
  assert not on_cycle, f"modules on an import cycle: {on_cycle}"


def test_the_graph_sees_real_edges():
  """The checks above can fail: the graph finds known edges and package inits."""
  graph = _graph()
  assert "acajax.bounds" in graph["acajax.mixtures"]
  assert "acajax.runs._spec" in graph["acajax.sweep._spec"]
  assert "acajax.runs" in graph["acajax.sweep._spec"]          # the package's __init__ runs
  assert "acajax.sweep._spec" in _closure(graph, "acajax.runs.demo")


@pytest.mark.parametrize("module", MATHS_LAYER)
def test_the_maths_layer_imports_no_run_layer_library(module):
  graph = _graph()
  members = [name for name in MODULES if name == module or name.startswith(module + ".")]
  reached = set().union(*(_closure(graph, name) for name in members))
  bad = []
  for name in sorted(reached):
    imports = (_imports(MODULES[name], name, in_functions=False)
               + _imports(MODULES[name], name, in_functions=True))
    for target, line in imports:
      if target.split(".")[0] in RUN_LAYER_LIBRARIES:
        bad.append(f"{MODULES[name].relative_to(ROOT.parent)}:{line} imports {target}")
    if name.startswith(("acajax.runs", "acajax.sweep", "acajax.bench", "acajax.cli")):
      bad.append(f"{module} reaches the run-layer module {name}")
  assert not bad, "\n".join(bad)


def test_imports_inside_functions_are_deferred_on_purpose():
  """An import inside a function must say why it is deferred (``# deferred: ...``)."""
  bad = []
  for name, path in MODULES.items():
    lines = path.read_text().splitlines()
    for target, line in _imports(path, name, in_functions=True):
      if "# deferred:" not in lines[line - 1]:
        bad.append(f"{path.relative_to(ROOT.parent)}:{line}: import of {target} in a function "
                   "without a '# deferred: why' comment")
  assert not bad, "\n".join(bad)


def test_importing_the_maths_layer_loads_no_run_layer_library():
  code = ("import sys\n"
          + "".join(f"import {module}\n" for module in MATHS_LAYER)
          + "print(sorted(m for m in ('pandas', 'matplotlib', 'tqdm', 'tomllib', 'flax') "
            "if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  # flax comes with the learners; the run-layer libraries never come.
  assert out.stdout.split() == ["['flax']"], out.stdout + out.stderr


def test_import_acajax_loads_neither_flax_nor_pandas():
  code = "import sys, acajax; print(sorted(m for m in ('flax', 'pandas') if m in sys.modules))"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_moved_modules_keep_working_with_a_deprecation_warning(old, monkeypatch):
  new = importlib.import_module(MOVED_MODULES[old])
  monkeypatch.delitem(sys.modules, old, raising=False)
  with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.")):
    module = importlib.import_module(old)
  assert module is new
  monkeypatch.delitem(sys.modules, old, raising=False)     # leave no warned alias behind


def test_moved_names_keep_working_with_a_deprecation_warning():
  from acajax import mixtures
  from acajax.runs import tables
  with pytest.warns(DeprecationWarning, match="acajax.runs.tables.tightness_frame"):
    assert mixtures.tightness_frame is tables.tightness_frame
  with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
    mixtures.no_such_name  # noqa: B018


def test_public_namespace_is_clean():
  names = dir(acajax)
  assert "importlib" not in names and "sweep" in names and "runs" in names
  for name in names:
    with warnings.catch_warnings():
      warnings.simplefilter("error")
      assert getattr(acajax, name) is not None


def test_a_checkout_folder_named_acajax_is_never_imported_in_place_of_the_package(tmp_path):
  # src layout: run from the parent of a checkout called `acajax` (as `git clone`
  # names it), `import acajax` must still find the package, not the bare folder
  # as a namespace package.
  (tmp_path / "acajax").symlink_to(ROOT.parents[1], target_is_directory=True)
  code = "import acajax, acajax.bounds; print(acajax.__file__)"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
  assert out.returncode == 0, out.stderr
  assert pathlib.Path(out.stdout.strip()) == ROOT / "__init__.py"
