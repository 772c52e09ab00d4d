"""GPU check on one accelerator: our torch engine and policy update, then the real ``rlvr train --backend trl``.

1. our torch engine samples one rollout of a config-built Llama (hidden 1024, 16 layers, random weights, a
   character tokenizer) in bf16, and our policy update trains on it: tokens/s of each and peak memory;
2. ``rlvr train --backend trl`` itself (:func:`rlvr_lab.backends.trl_run.run`, what every rank of a launched run
   executes) trains the same model for 2 rollouts in bf16 through our callback, with held-out evaluation before,
   between and after, a checkpoint every rollout and the final save, then resumes from its checkpoint for a third.

Thresholds (:func:`check`) fail the script loudly (exit 1, one line each): the logged steps and evaluations, the
resumed step, bf16 in the TRL run, peak memory, and speed floors that only catch a CPU or float32 fallback.
Nothing is downloaded: the prompts are synthetic and the reward is ``random:0.5`` (accuracy is graded on integer
answers, which the grader decides without math-verify). It needs PyTorch, transformers, accelerate, TRL and
``datasets``; ``scripts/gpu_check.sh`` installs TRL from ``.whl/`` when it is missing (no network).
``--cpu`` is a smoke run of the same code on a small model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlvr_lab.engines import SampleRequest, SamplingConfig, make_engine
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.rewards.random_reward import RandomReward
from rlvr_lab.rl.advantages import ADVANTAGES
from rlvr_lab.rl.config import TrainConfig, resolve_config
from rlvr_lab.rl.logprobs import pack
from rlvr_lab.rl.update import UpdateConfig, update_policy
from rlvr_lab.tasks.problem import Problem


@dataclass(frozen=True)
class Size:
    hidden: int
    layers: int
    heads: int
    prompts: int
    group: int
    mini_batch: int
    micro_batch: int
    max_new_tokens: int
    trl_steps: int

    def values(self) -> dict[str, Any]:
        """The training options of these sizes (the TRL part runs ``trl_steps`` rollouts of them)."""
        return {
            "prompts_per_step": self.prompts,
            "group_size": self.group,
            "mini_batch_size": self.mini_batch,
            "micro_batch_size": self.micro_batch,
            "max_new_tokens": self.max_new_tokens,
            "steps": self.trl_steps,
        }

    def config(self) -> TrainConfig:
        return resolve_config(cli_values=self.values())


GPU = Size(
    hidden=1024,
    layers=16,
    heads=16,
    prompts=32,
    group=8,
    mini_batch=64,
    micro_batch=32,
    max_new_tokens=256,
    trl_steps=2,
)
CPU = Size(
    hidden=64, layers=2, heads=4, prompts=4, group=4, mini_batch=8, micro_batch=8, max_new_tokens=16, trl_steps=1
)
RANDOM = RandomReward(0.5)


def _problems(n: int) -> list[Problem]:
    return [Problem(f"p{i}", f"{i}+{i}=", str(2 * i)) for i in range(n)]


def our_engine_and_update(size: Size, device: str, dtype: torch.dtype) -> dict[str, float]:
    """One rollout with our torch engine, then our policy update on it; tokens/s of each."""
    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=size.hidden, num_layers=size.layers, num_heads=size.heads)
    model = model.to(device=device, dtype=dtype)
    engine = make_engine("torch", model, tokenizer, batch_size=size.prompts * size.group, device=device)
    problems = _problems(size.prompts)
    prompt_ids = [tokenizer(p.prompt)["input_ids"] for p in problems]
    sampling = SamplingConfig(n=size.group, temperature=1.0, max_new_tokens=size.max_new_tokens, seed=0)
    requests = [
        SampleRequest(ids, key=p.id, sample_indices=tuple(range(size.group)))
        for p, ids in zip(problems, prompt_ids, strict=True)
    ]
    engine.sample(requests[:1], SamplingConfig(n=1, max_new_tokens=4))  # warm-up (kernels, allocator)
    _sync(device)
    t0 = time.perf_counter()
    completions = engine.sample(requests, sampling)
    _sync(device)
    sample_s = time.perf_counter() - t0
    generated = sum(c.num_tokens for group in completions for c in group)

    rewards = torch.tensor(
        [
            [
                float(r)
                for r in RANDOM(
                    problem=p, completions=[c.text for c in group], sample_indices=range(size.group), step=1, seed=0
                )
            ]
            for p, group in zip(problems, completions, strict=True)
        ]
    )
    advantages = ADVANTAGES.get("grpo")(rewards).flatten().to(device)
    batch = pack(
        [ids for ids in prompt_ids for _ in range(size.group)],
        [c.token_ids for group in completions for c in group],
        tokenizer.pad_token_id,
    ).to(device)
    config = size.config()
    update = UpdateConfig(
        schedule=config.schedule(),
        loss=config.loss(),
        micro_batch_size=size.micro_batch,
        max_len=size.max_new_tokens,
        grad_clip=1.0,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    _sync(device)
    t0 = time.perf_counter()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    stats = update_policy(model, None, optimizer, batch, advantages, update, seed=0, step=1)
    _sync(device)
    update_s = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    trained = generated  # every generated token is a loss token
    return {
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "engine_tokens": generated,
        "engine_tokens_per_s": generated / sample_s,
        "update_tokens_per_s": trained * config.schedule().epochs / update_s,
        "updates": stats["optim/updates"],
        "peak_memory_GiB": peak,
    }


def trl_backend_run(size: Size, device: str) -> dict[str, Any] | str:
    """The real ``rlvr train --backend trl`` (:func:`rlvr_lab.backends.trl_run.run`, the code every rank runs):
    ``trl_steps`` rollouts of a config-built model through our callback, held-out evaluation, checkpoints and the
    final save, then a resume to one more rollout. Returns its figures, or why it was skipped."""
    try:
        import trl
    except ImportError as err:
        return f"skipped: TRL not importable ({err}); put its wheel (and datasets') in .whl/"
    from rlvr_lab.backends import Launch
    from rlvr_lab.backends.trl_run import run
    from rlvr_lab.rl.config import resolve_config

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tokenizer = build_char_tokenizer()
        tiny_llama(
            len(tokenizer), hidden_size=size.hidden, num_layers=size.layers, num_heads=size.heads
        ).save_pretrained(root / "model")
        tokenizer.save_pretrained(root / "model")
        problems = root / "problems.jsonl"
        problems.write_text(
            "".join(
                json.dumps({"id": p.id, "problem": p.prompt, "answer": p.answer}) + "\n"
                for p in _problems(2 * size.prompts)
            )
        )
        values = {
            **size.values(),
            "backend": "trl",
            "model": str(root / "model"),
            "train_data": str(problems),
            "eval_data": str(problems),
            "eval_limit": size.prompts,
            "eval_samples": 2,
            "prompt": "none",
            "reward": "random:0.5",
            "device": device,
            "save_every": 1,
            "eval_every": 1,
            "tensorboard": False,
            "out": str(root / "run"),
        }
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        run(resolve_config(values), Launch(), show_progress=False)
        _sync(device)
        seconds = time.perf_counter() - t0
        run(resolve_config({**values, "steps": size.trl_steps + 1}), Launch(), resume=True, show_progress=False)
        records = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
        trained = [r for r in records if r["step"] > 0]
        info = json.loads((root / "run" / "model" / "rlvr_train.json").read_text())
        return {
            "trl": trl.__version__,
            "steps": [r["step"] for r in records],
            "evaluated": [r["step"] for r in records if "eval/accuracy" in r],
            "dtype": sorted({r["perf/dtype"] for r in trained}),
            "final_step": info["step"],
            "seconds": seconds,
            "tokens_per_s": float(sum(r["perf/tokens_per_s"] for r in trained[: size.trl_steps]) / size.trl_steps),
            "peak_memory_GiB": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None,
        }


def check(ours: dict[str, float], theirs: dict[str, Any] | str, size: Size, gpu: bool) -> list[str]:
    """What must hold; each failure is one line (the script exits 1 if any). The speed floors only catch a run
    that fell back to the CPU or to float32 (a 1024-wide, 16-layer model on any data-centre GPU is far above them);
    they are not a benchmark."""
    failures = []
    floors = {"engine_tokens_per_s": 2000.0, "update_tokens_per_s": 5000.0} if gpu else {}
    for key, floor in floors.items():
        if ours[key] < floor:
            failures.append(f"our {key} {ours[key]:.0f} < {floor:.0f}")
    if gpu and ours["peak_memory_GiB"] > 20:
        failures.append(
            f"our peak memory {ours['peak_memory_GiB']:.1f} GiB > 20 GiB for a {ours['params_M']:.0f}M model"
        )
    if isinstance(theirs, str):
        failures.append(f"rlvr train --backend trl {theirs}")
        return failures
    expected = list(range(size.trl_steps + 2))  # step 0 (evaluation), the rollouts, the resumed one
    if theirs["steps"] != expected or theirs["evaluated"] != expected:
        failures.append(
            f"trl run logged steps {theirs['steps']} (evaluated {theirs['evaluated']}), expected {expected}"
        )
    if theirs["final_step"] != size.trl_steps + 1:
        failures.append(f"the resumed run saved step {theirs['final_step']}, expected {size.trl_steps + 1}")
    if gpu and theirs["dtype"] != ["bfloat16"]:
        failures.append(f"the TRL run trained in {theirs['dtype']}, expected bfloat16")
    if gpu and theirs["tokens_per_s"] < 200:
        failures.append(f"the TRL run generated {theirs['tokens_per_s']:.0f} tokens/s < 200")
    return failures


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="small model on the CPU: a smoke run of this script")
    ns = parser.parse_args()
    if not ns.cpu and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --cpu for the smoke mode")
    device, size = ("cpu", CPU) if ns.cpu else ("cuda", GPU)
    dtype = torch.bfloat16
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(
        f"device {name}, torch {torch.__version__}, model hidden {size.hidden} × {size.layers} layers, bf16", flush=True
    )
    ours = our_engine_and_update(size, device, dtype)
    print(
        f"our torch engine: {ours['engine_tokens_per_s']:.0f} tokens/s ({ours['engine_tokens']} tokens, "
        f"{ours['params_M']:.1f}M parameters); our update: {ours['update_tokens_per_s']:.0f} tokens/s "
        f"({ours['updates']:.0f} updates)",
        flush=True,
    )
    theirs = trl_backend_run(size, device)
    shown = (
        theirs
        if isinstance(theirs, str)
        else f"{theirs['tokens_per_s']:.0f} tokens/s, {theirs['seconds']:.1f} s for {size.trl_steps} rollouts "
        f"with evaluation and saves; steps {theirs['steps']} after the resume; peak {theirs['peak_memory_GiB']} GiB"
    )
    print(f"rlvr train --backend trl: {shown}", flush=True)
    failures = check(ours, theirs, size, gpu=device == "cuda")
    print(json.dumps({"device": name, "ours": ours, "trl": theirs, "failures": failures}))
    if failures:
        raise SystemExit("GPU CHECK FAILED:\n  " + "\n  ".join(failures))
    print("GPU check passed", flush=True)


if __name__ == "__main__":
    main()
