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

test: install  # two workers (pytest-xdist), each test file whole on one, one thread each (tests/conftest.py)
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --durations=25 tests

train: install
	$(VENV)/bin/ebert_train --preset $(PRESET) --data-dir "$(EBERT_DATA)" --out $(RUN)

readme: install
	$(VENV)/bin/python tools/readme.py

docs: install  # the docs site, offline: nbdev's processed notebooks rendered by MkDocs (mkdocs.yml) -> _docs/
	$(VENV)/bin/mkdocs build

lab: install  # JupyterLab on the notebooks (the development extras include it)
	$(VENV)/bin/jupyter lab nbs

.PHONY: install test train readme docs lab
