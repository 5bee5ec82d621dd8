# hepnb — the two commands of the README: `make book` and `make test`.
PYTHON  ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
PROFILE ?= default
JOBS    ?= 2
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.hepnb-installed

.PHONY: install book test lab clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hepnb needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

book: install
	$(BIN)/hepnb book --profile $(PROFILE) --jobs $(JOBS)

test: install
	$(BIN)/python -m pytest

lab: install
	$(BIN)/hepnb lab

clean:
	rm -rf _build book/executed results
