# The Makefile is what CI runs: `.ci/run` calls `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install dev run test lint typecheck unit integration e2e clean

help:
	@echo "make run   - install, migrate and start orc-rust-ator on SQLite at http://localhost:8080"
	@echo "make test  - install dev dependencies, then ruff, mypy and pytest"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

run: install
	$(BIN)/orc db create
	$(BIN)/orc db upgrade
	$(BIN)/orc up

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

unit: dev
	$(BIN)/pytest tests/unit

integration: dev
	$(BIN)/pytest tests/integration

e2e: dev
	$(BIN)/pytest tests/e2e

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
