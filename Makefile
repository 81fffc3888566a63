# Every target creates its own virtual environment on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# nomenklatura, the reference of bench/resolve.py, in an environment of its own
REF_VENV ?= .venv-ref
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-browser lint bench clean

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

## make demo: simulate the default world, ingest, resolve, detect, plan, report
demo: install
	$(BIN)/shadowtrace demo --dir demo

## make test: the test suite (browser tests run where Chromium is installed)
test: install
	$(BIN)/python -m pytest

## make test-browser: only the tests that drive headless Chromium
test-browser: install
	$(BIN)/python -m pytest -m browser

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src/shadowtrace

$(REF_VENV)/.installed: bench/requirements-ref.lock
	$(PYTHON) -m venv $(REF_VENV)
	$(REF_VENV)/bin/python -m pip install -q -r bench/requirements-ref.lock
	touch $@

## make bench: benchmarks that print figures against a named baseline
bench: install $(REF_VENV)/.installed
	SHADOWTRACE_REF_PYTHON=$(abspath $(REF_VENV))/bin/python $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(REF_VENV) .pytest_cache .mypy_cache .ruff_cache shadowtrace.duckdb
