# Engage: `make run` for a local site, `make test` for the whole suite. See README.md.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app engage
# The PostgreSQL + Redis pass of the suite; override to point at other servers.
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: run install install-dev migrate demo test lint format test-sqlite test-postgres clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load

run: demo
	$(BIN)/python -m engage.devrun

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-sqlite: install-dev
	env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL -u SMTP_URL \
		TEST_DATABASE_URL= TEST_BROKER_URL= $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install-dev
	env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL -u SMTP_URL \
		TEST_DATABASE_URL=$(TEST_PG_URL) TEST_BROKER_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

test: lint test-sqlite test-postgres

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
