# Two commands: `make run` and `make test`. Everything else is a step they share.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test test-remote install init clean translations

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

# The suite runs on every core (pytest-xdist), one test module per worker at a time (--dist loadfile:
# a module's fixtures are built once). JOBS=1 runs it in this process.
JOBS ?= auto
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

# The same suite with every store served by its own `oxigraph serve` (a remote SPARQL store).
test-remote: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --backend=remote $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var

# Interface translations (docs/i18n.md): collect the strings, merge them into each language's
# catalogue, compile the .mo files the app reads (committed, so `make run` needs no build step).
TRANSLATIONS := endpoint/translations
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k lazy_gettext --no-location --sort-output \
	  --project dsikb -o $(TRANSLATIONS)/messages.pot .
	for lang in es fr de it; do \
	  if [ -f $(TRANSLATIONS)/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update --no-fuzzy-matching -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$lang; \
	  else $(BIN)/pybabel init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$lang; fi; \
	done
	$(BIN)/pybabel compile --statistics -d $(TRANSLATIONS)
