# The two commands of the README: `make demo` (the main job on the bundled data) and
# `make test` (the test suite, as CI runs it). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0

.PHONY: venv demo demo-full test test-all bench clean

$(BIN)/canopic: setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# users bring their own torch; install the CPU build only where none is importable
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==$(TORCH_VERSION)
	$(BIN)/pip install -q -e ".[test,cluster]"
	touch $(BIN)/canopic

venv: $(BIN)/canopic

demo: venv
	$(BIN)/canopic demo --out runs/demo

demo-full: venv
	$(BIN)/canopic demo --full --out runs/demo-full

test: venv
	$(BIN)/python -m pytest -q -m "not slow and not browser and not cluster"

test-all: venv
	$(BIN)/python -m pytest -q

.PHONY: test-browser
# the report in headless Chromium (Debian package 'chromium', installed if missing); set
# CANOPIC_SCREENSHOT_DIR to keep the screenshot, CANOPIC_REPORT_RUN to check a run's own report
test-browser: venv
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)
	$(BIN)/python -m pytest -q -m browser

bench: venv
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
