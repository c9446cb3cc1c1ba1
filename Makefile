# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test browser wrk bench bench-quick bench-gate install install-test clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: $(VENV)/.installed
	$(VENV)/bin/passerelles serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test browser
	$(PY) -m pytest -q

# The page's and the kits' browser tests drive a headless Chromium from the system (Debian package).
# Installed here when missing and possible (root + apt); otherwise those tests skip with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; } && \
	    echo "installed Chromium for the browser tests"; } || \
	  echo "note: Chromium is missing and could not be installed here; browser tests will skip"

# The full run also drives the HTTP API with wrk (benchmarks/scenarios/api_load.py), installed here
# when missing and possible (root + apt), like the browser; without it that scenario is skipped with the reason.
bench: $(VENV)/.installed $(VENV)/.installed-bench wrk
	$(PY) -m benchmarks

wrk:
	@command -v wrk >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; }; } && \
	    echo "installed wrk for the API load scenario"; } || \
	  echo "note: wrk is missing and could not be installed here; the api_load scenario will skip"

bench-quick: $(VENV)/.installed
	$(PY) -m benchmarks --quick

# Regression gate against the merge-base with main (REF=rev to choose); what .ci/run runs with --quick.
bench-gate: $(VENV)/.installed
	$(PY) -m benchmarks gate --quick $(if $(REF),--ref $(REF))

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
