# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo   — set up .venv and run the demo on embedded defaults
#   make test   — set up .venv with the test tools and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The CPU build of torch is pinned in the dev extra; the hf extra alone keeps its range.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[hf]" "torch==2.13.0"
	touch $@

# llama-cpp-python compiles from source the first time (about ten minutes; pip caches it).
$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[dev]"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/haechi demo

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest

# The inner loop: everything but the tests marked slow (servers, browsers, subprocess CLIs).
test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "not slow"

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
