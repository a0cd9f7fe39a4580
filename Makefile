# The README's commands. Every target creates .venv on first use and is safe to run again.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup run view test bench dist clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,train,cluster]"
	touch $(STAMP)

setup: $(STAMP)

## the main job: scan the bundled demo studies with the bundled model pack (headless)
run: $(STAMP)
	$(VENV)/bin/cxr-lens pack verify resources/pack
	$(VENV)/bin/cxr-lens scan resources/demo --out out/demo-scan
	cut -d, -f1-5 out/demo-scan/summary.csv | sed 's/,/  |  /g'

## the viewer on the demo studies (needs a display)
view: $(STAMP)
	env -u QT_QPA_PLATFORM $(VENV)/bin/cxr-lens view resources/demo

## the test suite (offscreen Qt, no network)
test: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	for b in bench/[a-z]*.py; do $(PY) $$b || exit 1; done

dist: $(STAMP)
	$(PY) -m pip install --quiet -e ".[build]"
	$(VENV)/bin/pyinstaller --noconfirm build_spec/cxr_lens.spec

clean:
	rm -rf $(VENV) build dist out
