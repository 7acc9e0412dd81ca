# Two entry points (README): `make demo` and `make test`. Only python3.11 and make are needed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= acajax-demo
SITE   ?= site

.PHONY: demo test docs venv clean

$(BIN)/acajax: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(BIN)/acajax

venv: $(BIN)/acajax

demo: venv
	$(BIN)/acajax demo --out $(OUT)

# One pytest worker per core, at most 4 (pytest-xdist): most tests are
# single-threaded XLA compilation, so 2 workers halve the time on 2 cores.
test: venv
	$(BIN)/python -m pytest -q -n auto --maxprocesses=4
	$(MAKE) --no-print-directory docs

# The documentation site (mkdocs.yml), offline; --strict turns every warning
# (a broken link or anchor, a docstring griffe cannot parse) into a failure.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(SITE)

clean:
	rm -rf $(VENV) $(OUT) $(SITE) .pytest_cache .hypothesis
