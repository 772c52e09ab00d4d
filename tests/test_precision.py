"""The dtype rule (``--dtype auto``) and the thread rule (``--threads``), with the hardware detection forced.

No mock of torch: the CPU's bfloat16 support is forced through the flag-set argument or ``RLVR_CPU_BF16``, and the
engine is built on a meta-device model (a real 60M-parameter Llama config with no weights in memory).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.runtime.precision import (
    BF16_MIN_PARAMS,
    CPU_BF16_ENV,
    bf16_supported,
    cpu_flags,
    cpu_model,
    float_kernels,
    resolve_dtype,
)
from rlvr_lab.runtime.threads import DEFAULT_THREADS, THREADS_ENV, resolve_threads, use_threads

AMD_ZEN3 = frozenset({"fpu", "sse2", "avx2", "fma"})  # no AVX-512, no AMX
SAPPHIRE_RAPIDS = AMD_ZEN3 | {"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
BIG = 135_000_000


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CPU_BF16_ENV, raising=False)
    monkeypatch.delenv(THREADS_ENV, raising=False)


def test_auto_picks_float32_on_a_cpu_without_bf16() -> None:
    assert resolve_dtype("auto", BIG, "cpu", flags=AMD_ZEN3) == torch.float32
    assert resolve_dtype("auto", BIG, "cpu", flags=SAPPHIRE_RAPIDS) == torch.bfloat16
    assert resolve_dtype("auto", BIG, "cpu", flags={"avx512_bf16"}) == torch.bfloat16  # Zen 4: AVX-512 BF16, no AMX


def test_auto_keeps_small_models_in_float32() -> None:
    assert resolve_dtype("auto", BF16_MIN_PARAMS - 1, "cpu", flags=SAPPHIRE_RAPIDS) == torch.float32
    assert resolve_dtype("auto", BF16_MIN_PARAMS, "cpu", flags=SAPPHIRE_RAPIDS) == torch.bfloat16


def test_explicit_names_are_honoured_and_unknown_ones_refused() -> None:
    assert resolve_dtype("bfloat16", 10, "cpu", flags=AMD_ZEN3) == torch.bfloat16
    assert resolve_dtype("float32", BIG, "cpu", flags=SAPPHIRE_RAPIDS) == torch.float32
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        resolve_dtype("fp16", BIG)


def test_environment_overrides_the_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert not bf16_supported("cpu", SAPPHIRE_RAPIDS)
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    assert bf16_supported("cpu", AMD_ZEN3)
    monkeypatch.setenv(CPU_BF16_ENV, "yes")
    with pytest.raises(ValueError, match=CPU_BF16_ENV):
        bf16_supported("cpu")


def test_cpu_flags_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu avx512_bf16 amx_bf16\n\nprocessor\t: 1\n"
    )
    assert cpu_flags(info) == {"fpu", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_float_kernels_name_the_cpu_and_its_matrix_instructions(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx512f avx512_bf16\n")
    assert cpu_model(info) == "AMD EPYC 9R14"
    assert cpu_model(tmp_path / "absent") == ""
    assert float_kernels(SAPPHIRE_RAPIDS, "Xeon") == {
        "cpu": "Xeon",
        "amx": True,
        "avx512f": True,
        "avx512_bf16": True,
        "torch": torch.__version__,
    }
    assert float_kernels(AMD_ZEN3, "Zen 3")["amx"] is False and float_kernels(AMD_ZEN3, "Zen 3")["avx512f"] is False


def _meta_model() -> LlamaForCausalLM:
    """A 60M-parameter Llama on the meta device: its size is real, its weights never allocated."""
    config = LlamaConfig(vocab_size=32000, hidden_size=512, intermediate_size=2048, num_hidden_layers=8)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) >= BF16_MIN_PARAMS
    return model


@pytest.mark.parametrize(("forced", "expected"), [("0", torch.float32), ("1", torch.bfloat16)])
def test_engine_auto_follows_the_detection(monkeypatch: pytest.MonkeyPatch, forced: str, expected) -> None:
    monkeypatch.setenv(CPU_BF16_ENV, forced)
    engine = TorchEngine(_meta_model(), build_char_tokenizer())  # sizes the model; samples nothing
    assert engine.dtype == expected


def test_thread_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_threads(None) == DEFAULT_THREADS == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert resolve_threads(None) == 3
    assert resolve_threads(2) == 2  # the option wins over the environment
    assert resolve_threads(0) == 0  # torch's own default
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ValueError, match=THREADS_ENV):
        resolve_threads(None)
    with pytest.raises(ValueError, match="--threads"):
        resolve_threads(-1)


def test_use_threads_sets_torch_and_announces_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    before = torch.get_num_threads()
    try:
        assert use_threads(1) == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    captured = capsys.readouterr()
    assert captured.out == "" and "threads: 1" in captured.err
