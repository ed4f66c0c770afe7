# Two commands on a fresh machine:
#   make run    create .venv, install bmrun, train the default job (offline: bundled digits)
#   make test   create .venv, install bmrun with test extras, build the docs, run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bmrun-installed
PYTEST_ARGS ?= -n 2 -q

.PHONY: setup run test docs bench clean

$(STAMP): pyproject.toml examples/plugin/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,sweeps]"
	# The example plugin (model=tinyres, data=bars); the tests also find it without this.
	$(PY) -m pip install -q --no-deps --no-build-isolation -e examples/plugin
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/bmrun
	@echo "The commands above (bmrun, bmrun-report, bmrun-predict, tensorboard) live in $(VENV)/bin:"
	@echo "  source $(VENV)/bin/activate    # then type them as the README does"

test: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: setup
	$(PY) benchmarks/bench_loops.py

clean:
	rm -rf $(VENV) build dist site *.egg-info
