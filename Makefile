# The two commands a user needs: `make dev` runs the app, `make test` runs the tests.
# Both install what is missing first (scripts/setup.sh), so they work on a fresh machine.

SHELL := /bin/bash
TOOLS_PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.tools/bin:$(CURDIR)/.tools/bun/node_modules/.bin:$(PATH)
export PATH := $(TOOLS_PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_CHECK_LATEST_VERSION := false
# pytest processes for the real-process tests (pytest-xdist); 0 runs them in pytest's own process.
# tests/conftest.py keeps each module, and the modules sharing the repository's .web/, in one
# process. The default stays 0: on 2 cores the suite is CPU-bound, and two processes saved only
# 15–20 % while conversations slowed past what the timing tests allow (README, Benchmarks).
TEST_PROCESSES ?= 0

.PHONY: dev test test-fast setup setup-test setup-bench lint typecheck lock bench

dev: setup ## Start livekit-server --dev, the agent worker and the app (http://localhost:3000)
	exec .venv/bin/python scripts/dev.py

test: setup-test ## Lint, type-check, the fast layer, then every real-process test (its own livekit-server, app, worker, browser)
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
	.venv/bin/pyright --project pyproject.toml
	.venv/bin/python -m pytest tests/unit $(PYTEST_ARGS)
	.venv/bin/python -m pytest --ignore=tests/unit --numprocesses $(TEST_PROCESSES) $(PYTEST_ARGS)

test-fast: setup ## Only the fast layer: pure logic in tests/unit, no processes (seconds)
	.venv/bin/python -m pytest tests/unit $(PYTEST_ARGS)

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh test

setup-bench:
	@scripts/setup.sh bench

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

lock: setup ## Regenerate the hashed requirements/*.txt from pyproject.toml's dependency groups
	scripts/lock_requirements.sh

typecheck: setup-test ## pyright (strict) on voice_app/ and agent_worker/; settings in pyproject.toml
	.venv/bin/pyright --project pyproject.toml

bench: setup-bench ## Run every benchmark and print its table (results in bench/results/)
	.venv/bin/python bench/run_all.py
