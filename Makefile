# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   the main job (pre-train on the embedded default dataset, compare, print a table)
#   make test   the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test docs figures clean

$(STAMP): pyproject.toml requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m benchmarks.digits

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

figures: $(STAMP)
	$(PY) -m docs.scripts.make_figures

docs: figures
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site build
