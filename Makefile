# Two commands on a fresh machine: `make run` (the demo on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-test run test test-fast typecheck lint format bench clean

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

# The suite spreads over TEST_JOBS processes (pytest-xdist): most tests wait on real
# servers, workers and browsers rather than on the CPU, so more processes than cores help.
TEST_JOBS ?= 4

test: install-test typecheck
	bash scripts/ensure-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n $(TEST_JOBS)

# The unit tests on SQLite only (no servers, no browser): seconds, for the edit-test loop.
test-fast: install-test
	DIGEST_TEST_DATABASES=sqlite $(BIN)/pytest -q -n $(TEST_JOBS) tests/unit

# The benchmarks at sizes that take a few minutes in all; each prints its figures as
# ratios against the limit measured in the same run (docs/benchmarks.md).
bench: install-test
	$(BIN)/python bench/send_throughput.py --subscribers 2000
	$(BIN)/python bench/email_render.py
	$(BIN)/python bench/dkim_cost.py
	$(BIN)/python bench/gather.py --feeds 200 --hosts 20
	$(BIN)/python bench/import.py --rows 20000
	$(BIN)/python bench/related.py --archive 2000
	$(BIN)/python bench/schema_upgrade.py --runs 3

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
