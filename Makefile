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

# Without a Slack bot token (in the environment or .env) there is nothing to connect to: the sandbox instead.
run: $(STAMP)
	@if [ -n "$$SLACK_BOT_TOKEN" ] || grep -Eqs '^[[:space:]]*SLACK_BOT_TOKEN=[^[:space:]]' .env; then \
		$(BIN)/python -m bot serve $(if $(HTTP),--http); \
	else \
		echo "SLACK_BOT_TOKEN is not set: starting the sandbox (see README, Try it without Slack)"; \
		$(BIN)/python -m bot sandbox; \
	fi

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
