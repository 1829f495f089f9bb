# Two commands: `make run` and `make test`. Everything else is a step they share.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test test-remote install init clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` needs only the package; `make test` adds the test tools (pytest, the Oxigraph server
# binary, Playwright's driver for Debian's Chromium).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

init: install
	$(BIN)/dsikb init

run: init
	$(BIN)/dsikb serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The same suite with every store served by its own `oxigraph serve` (a remote SPARQL store).
test-remote: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q --backend=remote $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
