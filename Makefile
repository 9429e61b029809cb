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

# Every figure and table of the site comes from a script: the concept and recipe figures are
# drawn from bundled data (scikit-image's photographs, Fashion-MNIST, spoken words), the recipe
# and reproduction pages' results blocks and figures from the committed results, and the results
# page's tables and plots from the committed JSON, at build time.
figures: $(STAMP)
	$(PY) -m docs.scripts.make_figures
	$(PY) -m benchmarks.modalities.figures
	$(PY) -m benchmarks.modalities.report
	$(PY) -m benchmarks.repro.plot --results $(wildcard benchmarks/repro/results/*/results.json)

docs: figures
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir build/site

clean:
	rm -rf $(VENV) site build
