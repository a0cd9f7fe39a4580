# The README's commands. Every target creates .venv on first use and is safe to run again.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup system run view test bench dist dist-check clean

# System packages the tests use besides Python, g++ and make: the GL/xkb/fontconfig/dbus/glib
# libraries Qt's offscreen platform loads; orthanc + its DICOMweb plugin, the real PACS that
# tests/pacs start; dicom3tools (dciodvfy) and dcmtk (dsrdump), which check every DICOM object we write.
SYSTEM_PACKAGES := libgl1 libegl1 libopengl0 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
	orthanc orthanc-dicomweb dicom3tools dcmtk
SYSTEM_TOOLS := Orthanc dciodvfy dsrdump

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

## the system packages the tests use: installed with apt-get when missing (as root), else named
system:
	@missing=$$(for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing system packages for the tests (missing: $$missing)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(SYSTEM_PACKAGES) >/dev/null; \
	else \
		echo "the tests need these system packages: $(SYSTEM_PACKAGES) (missing: $$missing);" \
			"install them with apt-get as root" >&2; exit 1; \
	fi

## the test suite (offscreen Qt, no network)
test: $(STAMP) system
	$(PY) -m pytest tests

bench: $(STAMP)
	for b in bench/[a-z]*.py; do $(PY) $$b || exit 1; done

## the offline executable (CPU-only torch, own venv: build_spec/requirements-dist.txt) and its archive
DIST_VENV := .venv-dist
DIST_STAMP := $(DIST_VENV)/.installed
$(DIST_STAMP): build_spec/requirements-dist.txt build_spec/nodeps.txt
	test -x $(DIST_VENV)/bin/python || $(PYTHON) -m venv $(DIST_VENV) || python3 -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DIST_VENV)/bin/python -m pip install --quiet -r build_spec/requirements-dist.txt
	$(DIST_VENV)/bin/python -m pip install --quiet --no-deps -r build_spec/nodeps.txt
	$(DIST_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(DIST_STAMP)

dist: $(DIST_STAMP)
	$(DIST_VENV)/bin/python build_spec/make_dist.py

## the smoke test of dist/cxr-lens (built first if absent) from a copy, without network
dist-check: $(DIST_STAMP)
	test -x dist/cxr-lens/cxr-lens || $(MAKE) dist
	$(DIST_VENV)/bin/python build_spec/smoke_test.py dist/cxr-lens

clean:
	rm -rf $(VENV) $(DIST_VENV) build dist out
