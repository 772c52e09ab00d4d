"""The vllm engine's options and plumbing that need no vLLM: parsing, the stdout guard, loading without a model."""

import os
import subprocess
import sys

import pytest

from rlvr_lab.engines.vllm_engine import VLLMOptions, checkpoint_dtype, stdout_to_stderr


def test_options_from_pairs_and_yaml(tmp_path) -> None:
    parsed = VLLMOptions.parse(
        "tensor_parallel_size=8,dtype=bfloat16,gpu_memory_utilization=0.6,enable_prefix_caching=false"
    )
    assert parsed == VLLMOptions(
        tensor_parallel_size=8, dtype="bfloat16", gpu_memory_utilization=0.6, enable_prefix_caching=False
    )
    assert parsed.llm_kwargs() == {
        "tensor_parallel_size": 8,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.6,
        "enable_prefix_caching": False,
        "seed": 0,
        "enforce_eager": False,
    }
    config = tmp_path / "engine.yaml"
    config.write_text("max_model_len: 4096\nmax_num_seqs: 512\n")
    assert VLLMOptions.parse(str(config)) == VLLMOptions(max_model_len=4096, max_num_seqs=512)
    assert VLLMOptions.parse(None) == VLLMOptions()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tensor_parallel=2",
            r"unknown vllm engine option\(s\) \['tensor_parallel'\]; choose from \[.*'tensor_parallel_size'",
        ),
        ("tensor_parallel_size=two", "tensor_parallel_size: 'two' is not a int"),
        ("enable_prefix_caching=maybe", "enable_prefix_caching: 'maybe' is not a bool"),
        ("dtype", "'dtype' is not key=value"),
        ("missing.yaml", "missing.yaml does not exist"),
    ],
)
def test_bad_options_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VLLMOptions.parse(text)


def test_checkpoint_dtype(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"torch_dtype": "float32"}')
    assert checkpoint_dtype(str(tmp_path)) == "float32"
    assert checkpoint_dtype("Qwen/Qwen2.5-Math-7B") is None


def test_stdout_guard_moves_prints_and_child_output_to_stderr() -> None:
    """What a library prints, and what a child process writes to fd 1, lands on stderr; stdout stays clean."""
    code = (
        "import subprocess, sys\n"
        "from rlvr_lab.engines.vllm_engine import stdout_to_stderr\n"
        "with stdout_to_stderr():\n"
        "    print('log line')\n"
        "    subprocess.run(['echo', 'child line'], check=True)\n"
        "print('{\"json\": 1}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert done.stdout == '{"json": 1}\n'
    assert "log line" in done.stderr and "child line" in done.stderr


def test_stdout_guard_restores_stdout(capfd) -> None:
    with stdout_to_stderr():
        print("inside")
    print("outside")
    out, err = capfd.readouterr()
    assert out == "outside\n" and "inside" in err


def test_open_engine_loads_the_model_for_torch_and_checks_the_name() -> None:
    from rlvr_lab.engines.torch_engine import TorchEngine
    from rlvr_lab.models.engines import open_engine

    engine, tokenizer = open_engine("torch", "qwen-math-like", batch_size=4, device="cpu")
    assert isinstance(engine, TorchEngine) and tokenizer.encode("1")
    with pytest.raises(ValueError, match="unknown engine 'vlm'"):
        open_engine("vlm", "qwen-math-like")


def test_sample_cli_refuses_vllm_engine_options_for_torch(tmp_path) -> None:
    from typer.testing import CliRunner

    from rlvr_lab.cli import build_app

    result = CliRunner().invoke(
        build_app(),
        [
            "sample",
            "--model",
            "qwen-math-like",
            "--problems",
            "organism",
            "--template",
            "organism",
            "--n",
            "1",
            "--limit",
            "1",
            "--max-new-tokens",
            "8",
            "--engine-options",
            "dtype=bfloat16",
            "--out",
            str(tmp_path / "s.jsonl"),
        ],
    )
    assert result.exit_code == 1
    assert "--engine-options for the torch engine takes path=auto|lean|native|generic, got 'dtype=bfloat16'" in (
        result.output
    )


def test_log_probs_are_requested_only_when_the_store_keeps_them() -> None:
    from rlvr_lab.cli.sample import _engine_options
    from rlvr_lab.engines.base import SamplingConfig
    from rlvr_lab.engines.vllm_engine import VLLMOptions, sampling_params_kwargs

    config = SamplingConfig(n=4, temperature=0.6, top_p=0.95, max_new_tokens=16)
    assert sampling_params_kwargs(config, "p1", 3, None)["logprobs"] == 0  # the engine's default: asked
    assert sampling_params_kwargs(config, "p1", 3, None, logprobs=False)["logprobs"] is None
    assert _engine_options("vllm", "max_model_len=4096", 32, "cuda")["options"].logprobs is False
    assert _engine_options("vllm", None, 32, "cuda", keep_tokens=True)["options"].logprobs is True
    assert _engine_options("torch", "path=native", 32, "cpu") == {"batch_size": 32, "device": "cpu", "path": "native"}
    assert "logprobs" not in VLLMOptions().llm_kwargs()  # read by the engine, never passed to vllm.LLM


def test_per_problem_requests_group_consecutive_indices_of_a_prompt() -> None:
    """One vLLM request per run of consecutive sample indices (vLLM seeds its child j as seed + j), so a resumed
    run's missing indices 3, 4, 5 and 8 become two requests; per-sample keeps one request per sample."""
    from rlvr_lab.engines.base import SampleRequest
    from rlvr_lab.engines.vllm_engine import RequestRun, request_runs

    requests = [SampleRequest([1], "a", (3, 4, 5, 8)), SampleRequest([2], "b", (0, 1))]
    assert request_runs(requests, per_problem=True) == [
        RequestRun(request=0, slot=0, first=3, count=3),
        RequestRun(request=0, slot=3, first=8, count=1),
        RequestRun(request=1, slot=0, first=0, count=2),
    ]
    assert [(r.first, r.count) for r in request_runs(requests, per_problem=False)] == [
        (3, 1),
        (4, 1),
        (5, 1),
        (8, 1),
        (0, 1),
        (1, 1),
    ]
    assert VLLMOptions.parse("requests=per-problem").requests == "per-problem"
    assert "requests" not in VLLMOptions(requests="per-problem").llm_kwargs()
    with pytest.raises(ValueError, match=r"requests='per-prompt': choose from \['per-sample', 'per-problem'\]"):
        VLLMOptions.parse("requests=per-prompt")
