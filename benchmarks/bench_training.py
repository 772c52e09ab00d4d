"""Training throughput: our trainer against TRL's ``GRPOTrainer``, same model, batch, group size and lengths.

Both run the same on-policy GRPO step: sample ``P × G`` completions (temperature 1, at most ``L`` new tokens),
score them with the same reward (``ground_truth``, through our TRL adapter for TRL, so both grade every
completion with the same grader), compute group advantages, and take one AdamW step on the seq-mean-token-mean
clipped loss in float32, with no reference model. Throughput is completions per second *including generation*:
the median over timed steps of ``P·G / step time``; the first ``WARMUP`` steps of each are not timed (they
include the grading workers' start-up). Ours comes from ``perf/samples_per_s`` in its
``metrics.jsonl`` (rollout, rewards, update; evaluation and checkpoint writes excluded); TRL's from a callback
timing each optimiser step (generation happens inside it). TRL's ``bf16`` and gradient checkpointing, both on
by default, are turned off so the two do the same arithmetic.

The model is the shipped ``qwen-math-like`` organism when it loads, else (``--tiny``, or no organism yet) a
config-built Llama with the character tokenizer on the organism's problems.

    python benchmarks/bench_training.py [--quick] [--model SPEC] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WARMUP = 2
"""Untimed steps at the start of each trainer."""
REWARD = "ground_truth"


def _tiny_model(folder: Path) -> str:
    from rlvr_lab.models.loading import tiny_llama
    from rlvr_lab.organism.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=128, num_layers=4, num_heads=4, seed=0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _problems(limit: int) -> tuple[str, str, Any]:
    """(train_data spec, prompt template, problems): the organism's when available, else bare sums."""
    from rlvr_lab.tasks import Problem, load_problems

    try:
        problems = load_problems("organism", split="train", limit=limit)
        from rlvr_lab.prompts import resolve_template

        resolve_template("organism")
        return "organism", "organism", problems
    except (ValueError, ImportError):
        problems = [Problem(f"s{i}", f"{i} + {2 * i} =", str(3 * i)) for i in range(limit)]
        return "", "none", problems


def bench_ours(model: str, data: str, prompt: str, problems: Any, args: argparse.Namespace, work: Path) -> dict:
    from rlvr_lab.rl.config import resolve_config
    from rlvr_lab.rl.trainer import train

    if not data:
        data = str(work / "problems.jsonl")
        with open(data, "w") as f:
            for p in problems:
                f.write(json.dumps({"id": p.id, "problem": p.prompt, "answer": p.answer}) + "\n")
    rollout = args.prompts * args.group_size
    config = resolve_config(
        cli_values={
            "model": model,
            "out": str(work / "ours"),
            "train_data": data,
            "eval_data": data,
            "train_split": "train",
            "eval_split": "train",
            "eval_limit": 1,
            "eval_samples": 1,
            "prompt": prompt,
            "steps": args.steps + WARMUP,
            "preset": "on-policy-batch",
            "prompts_per_step": args.prompts,
            "group_size": args.group_size,
            "mini_batch_size": rollout,
            "max_new_tokens": args.max_new_tokens,
            "engine_batch_size": rollout,
            "reward": REWARD,
            "track_ref_kl": False,
            "lr": 1e-5,
            "eval_every": 0,
            "save_every": args.steps + WARMUP,
            "tensorboard": False,
        }
    )
    train(config, show_progress=False)
    records = [json.loads(line) for line in (work / "ours" / "metrics.jsonl").read_text().splitlines()]
    timed = [r for r in records if r["step"] > WARMUP]
    return {
        "samples_per_s": statistics.median(r["perf/samples_per_s"] for r in timed),
        "step_time_s": statistics.median(r["perf/step_time"] for r in timed),
        "mean_length": statistics.mean(r["response/length_mean"] for r in timed),
        "rollout_time_s": statistics.median(r["perf/rollout_time"] for r in timed),
        "update_time_s": statistics.median(r["perf/update_time"] for r in timed),
    }


def bench_trl(model_spec: str, prompt: str, problems: Any, args: argparse.Namespace, work: Path) -> dict:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlvr_lab.backends.trl_reward import TRLReward, trl_rows
    from rlvr_lab.models.loading import load_model
    from rlvr_lab.prompts import render_prompt, resolve_template

    model, tokenizer = load_model(model_spec)
    template = resolve_template(prompt)
    rows = trl_rows(problems, lambda p: render_prompt(template, p, tokenizer))
    rollout = args.prompts * args.group_size

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.lengths: list[float] = []

        def on_step_begin(self, *_: Any, **__: Any) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, *_: Any, **__: Any) -> None:
            self.times.append(time.perf_counter() - self.start)

        def on_log(self, _args: Any, _state: Any, _control: Any, logs: dict | None = None, **__: Any) -> None:
            if logs and "completions/mean_length" in logs:
                self.lengths.append(float(logs["completions/mean_length"]))

    config = GRPOConfig(
        output_dir=str(work / "trl"),
        per_device_train_batch_size=rollout,
        num_generations=args.group_size,
        max_completion_length=args.max_new_tokens,
        temperature=1.0,
        learning_rate=1e-5,
        beta=0.0,
        loss_type="grpo",
        num_iterations=1,
        max_steps=args.steps + WARMUP,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        seed=0,
    )
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[TRLReward(REWARD, group_size=args.group_size)],
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[timer],
    )
    torch.manual_seed(0)
    trainer.train()
    timed = timer.times[WARMUP:]
    return {
        "samples_per_s": statistics.median(rollout / t for t in timed),
        "step_time_s": statistics.median(timed),
        "mean_length": statistics.mean(timer.lengths[WARMUP:]),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 timed steps of 4 prompts × 4 (CI smoke run)")
    parser.add_argument("--model", default="qwen-math-like", help="model spec (default: the shipped organism)")
    parser.add_argument("--tiny", action="store_true", help="use a config-built Llama with the char tokenizer")
    parser.add_argument("--steps", type=int, default=4, help=f"timed steps per trainer (after {WARMUP} warm-up steps)")
    parser.add_argument("--prompts", type=int, default=8, help="prompts per step (P)")
    parser.add_argument("--group-size", type=int, default=8, help="completions per prompt (G)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="generation budget (L)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads for both (default: torch's)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.steps, args.prompts, args.group_size, args.max_new_tokens = 2, 4, 4, 48

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        if args.tiny:
            model = _tiny_model(work / "tiny")
        else:
            try:
                from rlvr_lab.models.specs import resolve_model_dir

                available = Path(resolve_model_dir(args.model)).is_dir()
            except (ImportError, OSError):
                available = False
            if not available:
                print(f"{args.model} is not available; using a config-built tiny Llama", file=sys.stderr)
                model = _tiny_model(work / "tiny")
        data, prompt, problems = _problems(limit=max(64, args.prompts * (args.steps + WARMUP)))
        ours = bench_ours(model, data, prompt, problems, args, work)
        theirs = bench_trl(model, prompt, problems, args, work)

    result = {
        "model": args.model if model == args.model else "tiny-llama (char tokenizer)",
        "prompts": args.prompts,
        "group_size": args.group_size,
        "max_new_tokens": args.max_new_tokens,
        "timed_steps": args.steps,
        "threads": torch.get_num_threads(),
        "ours": ours,
        "trl": theirs,
        "ratio": ours["samples_per_s"] / theirs["samples_per_s"],
    }
    print(
        f"model {result['model']}, {args.prompts} prompts × {args.group_size}, ≤{args.max_new_tokens} new tokens, "
        f"{result['threads']} torch thread(s)"
    )
    for name in ("ours", "trl"):
        r = result[name]
        print(
            f"  {name:5s} {r['samples_per_s']:8.2f} samples/s  step {r['step_time_s']:7.2f} s  "
            f"mean length {r['mean_length']:6.1f}"
        )
    print(f"  ours: rollout {ours['rollout_time_s']:.2f} s + update {ours['update_time_s']:.2f} s per step (median)")
    print(f"  ratio ours / TRL: {result['ratio']:.1f}x")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
