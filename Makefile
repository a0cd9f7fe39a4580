# The README's commands. Every target creates .venv on first use and is safe to run again.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup run test bench dist clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,train]"
	touch $(STAMP)

setup: $(STAMP)

## the main job: the engine on the bundled demo studies
run: $(STAMP)
	$(VENV)/bin/cxr-lens info resources/demo

## the test suite (offscreen Qt, no network)
test: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	for b in bench/[a-z]*.py; do $(PY) $$b || exit 1; done

dist: $(STAMP)
	$(PY) -m pip install --quiet -e ".[build]"
	$(VENV)/bin/pyinstaller --noconfirm build_spec/cxr_lens.spec

clean:
	rm -rf $(VENV) build dist
