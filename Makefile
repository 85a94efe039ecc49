# hcctrial: two commands for a fresh clone.
#   make demo   create .venv, install, run the main job on built-in data
#   make test   install test needs, run ruff, mypy and the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TESTSTAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TESTSTAMP)

demo: $(STAMP)
	$(BIN)/hcctrial demo --out out

lint: $(TESTSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(TESTSTAMP)
	$(BIN)/mypy

pytest: $(TESTSTAMP)
	$(BIN)/python -m pytest -n 2 -q tests

test: lint typecheck pytest

bench: $(TESTSTAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
