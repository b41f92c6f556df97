# kyvos-scim-gateway: everything runs from a virtualenv the Makefile makes on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint typecheck bench conformance fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the gateway and a simulated Kyvos Web Portal on 127.0.0.1 (GATEWAY_PORT, default 8080)
run: $(STAMP)
	$(BIN)/kyvos-scim-gateway run

## test: the whole suite; PostgreSQL tests run where KSG_TEST_POSTGRES_URL is reachable
test: $(STAMP)
	$(BIN)/python -m pytest -rs $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

typecheck: $(STAMP)
	$(BIN)/mypy gateway

## fuzz: 100,000 generated requests against a gateway it starts; prints 5xx and timeouts
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py

bench: $(STAMP)
	$(BIN)/python bench/provisioning.py

## conformance: scim2-tester, scim2-cli and scim-sanity against `run`; one line per suite
conformance: $(STAMP)
	$(BIN)/pip install --quiet -e '.[conformance]'
	$(BIN)/python bench/conformance.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
