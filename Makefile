# Two commands do all the set-up on a fresh machine (see README.md):
#   make train   # create .venv, install, train the `quick` preset on the shared data
#   make test    # create .venv, install, run every notebook test and pytest
PYTHON ?= python3
VENV ?= .venv
EBERT_DATA ?= $(abspath ../shared/data)
PRESET ?= quick
RUN ?= runs/$(PRESET)
export EBERT_DATA

$(VENV)/.installed: setup.py settings.ini
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests

train: install
	$(VENV)/bin/ebert_train --preset $(PRESET) --data-dir "$(EBERT_DATA)" --out $(RUN)

readme: install
	$(VENV)/bin/python tools/readme.py

docs: install  # the docs site, offline (no Quarto): nbdev's notebook processing, then HTML -> _docs/
	$(VENV)/bin/python tools/docs.py

.PHONY: install test train readme docs
