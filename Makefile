# Every target builds .venv itself, so a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: run test test-fast lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/tracker --config $(CONFIG) run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check tracker tests bench
	$(BIN)/ruff format --check tracker tests bench
	$(BIN)/mypy tracker
	$(BIN)/lint-imports --no-logo

test: $(VENV)/.installed-test lint
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  echo "make test: no chromium/chromedriver: tests/test_browser.py and tests/test_browser_web.py are SKIPPED" \
	    "(apt-get install -y chromium chromium-driver, or run .ci/run)"
	$(BIN)/python -m pytest -rs

# The quick loop while editing: lint and every test not marked slow (no subprocesses).
test-fast: $(VENV)/.installed-test lint
	$(BIN)/python -m pytest -m "not slow"

# README's configuration tables are generated from the schema (tracker/config/reference.py)
docs: $(VENV)/.installed-test
	$(BIN)/cog -r README.md

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
