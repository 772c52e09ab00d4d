# Two entry points (see README): `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/rlvr: pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first and pinned: 2.13.0 is the local CPU wheel; an unpinned torch pulls gigabytes of CUDA.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/rlvr

setup: $(BIN)/rlvr

demo: setup
	$(BIN)/rlvr demo --out runs/demo

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -q -m slow

.PHONY: setup demo test test-slow
