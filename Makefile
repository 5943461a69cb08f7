# modelhub: `make run` starts the whole platform on embedded defaults,
# `make test` runs the suite against PostgreSQL and Redis on localhost.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The web port: PORT from the environment, else from .env, else 8000.
PORT ?= $(shell sed -n 's/^PORT=//p' .env 2>/dev/null | tail -n 1)
ifeq ($(strip $(PORT)),)
PORT := 8000
endif

.PHONY: install install-dev run test lint format typecheck bench check clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(VENV)/bin/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py register_models
	@echo
	@echo "  modelhub is starting: open http://127.0.0.1:$(PORT)/"
	@echo "  For the admin, create an account with: $(PY) manage.py createsuperuser"
	@echo "  Press Ctrl-C to stop everything."
	@echo
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start --port $(PORT)

test: install-dev
	scripts/ensure-browser
	$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "No tests were collected."; status=0; fi; \
	exit $$status

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install-dev
	$(VENV)/bin/mypy .

check: install-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: install-dev
	$(PY) bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
