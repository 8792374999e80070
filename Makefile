# Fengqiao: `make run` sets everything up and serves on http://127.0.0.1:5000; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test bench setup setup-test system-deps system-deps-browser assets lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

system-deps-browser:
	@bash scripts/system-deps.sh --browser

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

assets: $(NODE_STAMP)

setup: system-deps $(STAMP) assets

setup-test: system-deps-browser setup

run: setup
	$(BIN)/fengqiao init --demo
	$(BIN)/fengqiao serve

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench.run

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) node_modules instance test-artifacts .pytest_cache
