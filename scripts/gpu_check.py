"""Throughput check on one accelerator: our torch engine, our policy update, and TRL's GRPOTrainer, in bf16.

Needs only PyTorch, transformers and accelerate (plus TRL and its ``datasets`` for the third part, which is
skipped with the reason when they cannot be imported). Nothing is downloaded: the model is config-built
(:func:`rlvr_lab.models.tiny_llama`, random weights, a character tokenizer), the prompts are synthetic and the
reward is ``random:0.5``, so no grader, store or network is involved. Prints one line per part with tokens/s and
a JSON summary at the end.

Run it through ``scripts/gpu_check.sh`` (which installs TRL from ``.whl/`` if needed); ``--cpu`` is a
seconds-long smoke run of the same code on a small model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass

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

    def config(self) -> TrainConfig:
        """The training config of these sizes (the TRL part runs ``trl_steps`` rollouts of it)."""
        return resolve_config(
            cli_values={
                "prompts_per_step": self.prompts,
                "group_size": self.group,
                "mini_batch_size": self.mini_batch,
                "micro_batch_size": self.micro_batch,
                "max_new_tokens": self.max_new_tokens,
                "steps": self.trl_steps,
            }
        )


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
    stats = update_policy(model, None, optimizer, batch, advantages, update, seed=0, step=1)
    _sync(device)
    update_s = time.perf_counter() - t0
    trained = generated  # every generated token is a loss token
    return {
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "engine_tokens": generated,
        "engine_tokens_per_s": generated / sample_s,
        "update_tokens_per_s": trained * config.schedule().epochs / update_s,
        "updates": stats["optim/updates"],
    }


def trl_run(size: Size, device: str) -> dict[str, float] | str:
    """A short TRL GRPO run through our GRPOConfig mapping; generated tokens/s over the whole run."""
    try:
        import trl
        from datasets import Dataset
    except ImportError as err:
        return f"skipped: TRL not importable ({err}); put its wheel (and datasets') in .whl/"
    from rlvr_lab.backends.trl_config import trl_plan

    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=size.hidden, num_layers=size.layers, num_heads=size.heads)
    config = size.config()
    plan = trl_plan(config, world_size=1)
    generated: list[int] = []

    def reward(completions: list[str], completion_ids: list[list[int]], trainer_state: object, **_: object) -> list:
        generated.extend(len(ids) for ids in completion_ids)
        step = trainer_state.global_step  # type: ignore[attr-defined]
        return RANDOM(
            problem=Problem("p", "", ""),
            completions=completions,
            sample_indices=range(len(completions)),
            step=step,
            seed=0,
        )

    rows = [{"prompt": p.prompt} for p in _problems(size.prompts) for _ in range(size.trl_steps)]
    with tempfile.TemporaryDirectory() as out:
        kwargs = {**plan.kwargs, "save_strategy": "no", "disable_tqdm": True}
        args = trl.GRPOConfig(output_dir=out, use_cpu=device == "cpu", bf16=device != "cpu", **kwargs)
        trainer = trl.GRPOTrainer(
            model=model,
            reward_funcs=[reward],
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
        )
        t0 = time.perf_counter()
        trainer.train()
        _sync(device)
        seconds = time.perf_counter() - t0
    return {
        "trl": trl.__version__,
        "rollouts": size.trl_steps,
        "updates_per_rollout": plan.updates_per_rollout,
        "seconds": seconds,
        "tokens_per_s": sum(generated) / seconds,
    }


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
    theirs = trl_run(size, device)
    shown = theirs if isinstance(theirs, str) else f"{theirs['tokens_per_s']:.0f} tokens/s ({theirs['seconds']:.1f} s)"
    print(f"TRL GRPOTrainer: {shown}", flush=True)
    print(json.dumps({"device": name, "ours": ours, "trl": theirs}))


if __name__ == "__main__":
    main()
