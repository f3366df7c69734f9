# Two commands on a fresh machine: `make run` (the demo on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-test run test typecheck lint format clean

$(BIN)/digest: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(BIN)/digest

$(VENV)/.test-extras: $(BIN)/digest
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install-test: $(VENV)/.test-extras

run: install
	$(BIN)/digest run --samples

test: install-test typecheck
	bash scripts/ensure-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest

# mypy as [tool.mypy] in pyproject.toml sets it: digest and workers, strict where it says.
typecheck: install-test
	$(BIN)/mypy

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) outbox digest.db digest.db-wal digest.db-shm .pytest_cache .mypy_cache
