# Every target installs what it needs into .venv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite check fmt bench clean console

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/procflow serve

# Rebuild the operator console (console/) into src/procflow/api/console_dist, which is
# committed: `make run` and `pip install` serve it without Node.js. Needs Node 20 and npm.
console:
	npm ci --no-audit --no-fund --prefix console
	npm run --prefix console build

# openapi-python-client cannot share .venv (it pins an older typer): its own venv, for the
# generated-client test (tests/api/test_generated_clients.py).
CODEGEN := $(VENV)/codegen
CODEGEN_STAMP := $(CODEGEN)/.installed
CODEGEN_REQUIREMENTS := tests/api/clients/python-requirements.txt

$(CODEGEN_STAMP): $(STAMP) $(CODEGEN_REQUIREMENTS)
	$(PYTHON) -m venv $(CODEGEN)
	$(CODEGEN)/bin/pip install --quiet --upgrade pip
	$(CODEGEN)/bin/pip install --quiet -r $(CODEGEN_REQUIREMENTS)
	touch $(CODEGEN_STAMP)

test: $(STAMP) $(CODEGEN_STAMP)
	$(BIN)/python -m pytest -n 2 -q

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Benchmarks (bench/, docs/benchmarks.md): never part of `make test`. Needs the bench extras
# (SpiffWorkflow, DBOS, matplotlib, profilers), wrk for scenario 3, and PostgreSQL on
# PROCFLOW_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres) for its cases.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; } \
		|| echo "wrk could not be installed: scenario 3 will be skipped"
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.profiles
	$(BIN)/python -m bench.batch_replay

clean:
	rm -rf $(VENV) .procflow .pytest_cache .mypy_cache .ruff_cache
