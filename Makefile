# Two commands do all the set-up on a fresh machine (Python 3.11+, Java 17+, Maven):
#   make demo   - the console against a local demo Kafka with demo data
#   make test   - the whole test suite (real Kafka, Celery worker, Redis, Chromium)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast test-postgres lint bench setup setup-test system-deps kafka-jars registry-app keycloak-app clean

# The demo needs only the console's own packages; the tests add theirs, and LDAP's
# python-ldap, which builds from source (system-deps installs its headers first).
$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.deps
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.deps kafka-jars

setup-test: $(VENV)/.test-deps kafka-jars

kafka-jars:
	$(PY) -m tools.kafka fetch >/dev/null

# Apicurio Registry (the schema registry of the tests), unpacked from Maven Central.
registry-app:
	$(PY) -m tools.registry fetch >/dev/null

# Keycloak (the OIDC identity provider of the tests), unpacked from Maven Central.
keycloak-app:
	$(PY) -m tools.keycloak fetch >/dev/null

system-deps:
	bash tools/system-deps.sh

demo: setup
	$(PY) tools/demo.py

test: system-deps setup-test registry-app keycloak-app
	$(PY) -m pytest

# The fast unit tests only: no broker, no browser, no worker, no directory server.
test-fast: $(VENV)/.test-deps
	$(PY) -m pytest -m "not kafka and not kafka3 and not browser and not celery and not ldap"

# The whole suite on a throwaway PostgreSQL (what CI runs; tools/postgres starts and removes it).
test-postgres: system-deps setup-test registry-app keycloak-app
	$(PY) -m tools.postgres exec -- $(PY) -m pytest

lint: $(VENV)/.test-deps
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: setup-test
	$(PY) -m bench

clean:
	$(PY) -m tools.kafka stop --clean || true
	rm -rf var

# Front-end libraries, copied from npm into static/vendor/ and committed, so the console
# (and the demo) runs with no npm and no CDN. Bump the pinned version in package.json.
.PHONY: vendor
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p static/vendor/uplot
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css \
		node_modules/uplot/LICENSE static/vendor/uplot/
	node -p 'const p = require("./node_modules/uplot/package.json"), l = require("./package-lock.json").packages["node_modules/uplot"]; [`uplot $${p.version}`, `license $${p.license}`, `source https://www.npmjs.com/package/uplot/v/$${p.version}`, `integrity $${l.integrity}`].join("\n")' > static/vendor/uplot/VERSION

# Every page at 1440x900 light and dark and at 390x844, into screenshots/ (git-ignored).
# Starts its own Kafka, worker and web process on free ports; SCREENSHOTS_URL=http://... uses a
# running `make demo` instead (log-in admin/admin).
.PHONY: screenshots
screenshots: $(VENV)/.test-deps kafka-jars
	$(PY) tools/screenshots.py
