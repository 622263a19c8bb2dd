# Two commands do all the set-up on a fresh machine (Python 3.11+, Java 17+, Maven):
#   make demo   - the console against a local demo Kafka with demo data
#   make test   - the whole test suite (real Kafka, Celery worker, Redis, Chromium)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast lint bench setup setup-test system-deps kafka-jars registry-app clean

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.deps kafka-jars

kafka-jars:
	$(PY) -m tools.kafka fetch >/dev/null

# Apicurio Registry (the schema registry of the tests), unpacked from Maven Central.
registry-app:
	$(PY) -m tools.registry fetch >/dev/null

system-deps:
	bash tools/system-deps.sh

demo: setup
	$(PY) tools/demo.py

test: system-deps setup registry-app
	$(PY) -m pytest

# The fast unit tests only: no broker, no browser, no worker.
test-fast: $(VENV)/.deps
	$(PY) -m pytest -m "not kafka and not kafka3 and not browser and not celery"

lint: $(VENV)/.deps
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: setup
	$(PY) -m bench

clean:
	$(PY) -m tools.kafka stop --clean || true
	rm -rf var
