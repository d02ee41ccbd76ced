# The two commands a newcomer needs: `make demo` (sync the sandbox API into DuckDB) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: install demo test lint dev sandbox clean

$(INSTALLED): pyproject.toml setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(INSTALLED)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml  ## sandbox API -> analytics_api_sync -> data/analytics.duckdb
	$(PY) -m analytics_assets.demo

test: install  ## the whole suite, against the sandbox over loopback
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

dev: install $(DAGSTER_HOME)/dagster.yaml  ## sandbox + the Dagster UI on http://127.0.0.1:3000
	$(PY) -m analytics_assets.dev

sandbox: install  ## only the sandbox API, on a free port
	$(VENV)/bin/analytics-sandbox

clean:
	rm -rf data .dagster_home

.PHONY: bench bench-quick

bench-quick: install  ## ~20k leads, under 3 minutes: benchmarks/results/latest.{json,md}
	$(PY) -m benchmarks.run --plan quick

bench: install  ## 100k and 1M leads (long): benchmarks/results/latest.{json,md}
	$(PY) -m benchmarks.run --plan full
