# `make run` starts the bot, `make test` runs the tests; both create the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run run-http check test lint typecheck all bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot serve $(if $(HTTP),--http)

run-http: $(STAMP)
	$(BIN)/python -m bot serve --http

check: $(STAMP)
	$(BIN)/python -m bot check

test: $(STAMP)
	./.ci/ensure-tools
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot slackfake tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

all: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
