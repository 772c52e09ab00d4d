"""The update with the policy's forward compiled (``TrainConfig.compile``) against eager, in the same process.

The workload is one training step's update of the demo's ``clip`` preset (16 prompts × 8 completions, mini-batches of
32 in micro-batches of 16, one epoch: four AdamW steps and the no-grad ``log π_old`` pass) on ``--model`` (default
``qwen-math-like-v2``), with the organism's lengths (prompts of 7-11 tokens, completions of 10-28, random tokens), one
torch thread as the demo's workers run, in ``--dtype`` (bfloat16 with the update's attention in float32, as
``rlvr demo --dtype bfloat16`` trains). Printed:

- the first compiled step of a model (its compilation; with ``--warm-cache`` inductor's on-disk cache is the user's,
  else an empty temporary one, as on a fresh machine), and the first compiled step of a second model of the same
  architecture: what the next run of a demo worker pays;
- the median step of each arm over ``--steps`` steps taken in alternating order (eager, compiled, eager, ...), their
  ratio, and the steps after which the compilation has paid for itself.

    PYTHONPATH=src python benchmarks/compile_update.py [--model qwen-math-like-v2] [--dtype bfloat16] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen-math-like-v2", help="organism profile (default: qwen-math-like-v2)")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"], help="default: bfloat16")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per arm (default: 20)")
    parser.add_argument("--warm-cache", action="store_true", help="keep inductor's own cache (default: an empty one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.warm_cache:  # before torch is imported: inductor reads it once
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    out = run(args.model, args.dtype, args.steps)
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"{args.model} {args.dtype}, one thread, the demo's clip step (128 rows, 4 updates): "
        f"eager {out['eager_step_s'] * 1e3:.0f} ms, compiled {out['compiled_step_s'] * 1e3:.0f} ms "
        f"({out['ratio']:.2f}x eager's time); first compiled step {out['first_compile_s']:.1f} s, "
        f"a second model's {out['second_model_first_step_s']:.2f} s; compilation repaid after "
        f"{out['break_even_steps']:.0f} steps (a demo run takes 50)"
    )


def run(model_name: str, dtype_name: str, steps: int) -> dict:
    import copy

    import torch

    from rlvr_lab.models.loading import load_model
    from rlvr_lab.rl.attention import float32_attention
    from rlvr_lab.rl.compiled import compile_forward
    from rlvr_lab.rl.config import resolve_config
    from rlvr_lab.rl.logprobs import pack
    from rlvr_lab.rl.update import UpdateConfig, adamw, update_policy

    torch.set_num_threads(1)
    dtype = getattr(torch, dtype_name)
    base, _ = load_model(model_name)
    vocab = base.get_output_embeddings().out_features
    train = resolve_config(cli_values={"preset": "clip", "max_new_tokens": 64})  # the demo's schedule and loss
    schedule = train.schedule()
    rows = schedule.rollout_size
    config = UpdateConfig(schedule, train.loss(), train.micro_batch_size, train.max_new_tokens, train.grad_clip, dtype)

    def batch(seed: int):
        g = torch.Generator().manual_seed(seed)
        prompt = torch.randint(7, 12, (rows,), generator=g).tolist()
        completion = torch.randint(10, 29, (rows,), generator=g).tolist()
        prompts = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in prompt]
        completions = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in completion]
        return pack(prompts, completions, pad_id=0), torch.randn(rows, generator=g)

    def arm(compiled: bool):
        model = copy.deepcopy(base)
        if dtype == torch.bfloat16:
            model.set_attn_implementation(float32_attention())
        if compiled:
            compile_forward(model)
        return model, adamw(model.parameters(), 1e-6, (0.9, 0.99), 0.0, dtype)

    def step(arm, i: int) -> float:
        model, optimizer = arm
        packed, advantages = batch(i % 4)
        start = time.process_time()
        update_policy(model, None, optimizer, packed, advantages, config, seed=0, step=i)
        return time.process_time() - start

    eager, compiled = arm(False), arm(True)
    step(eager, 0)
    first = step(compiled, 0)
    second = step(arm(True), 0)  # another model, as the next run of a worker builds one
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for i in range(1, steps + 1):
        for name, which in (("eager", eager), ("compiled", compiled)):
            times[name].append(step(which, i))
    e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
    return {
        "model": model_name,
        "dtype": dtype_name,
        "eager_step_s": e,
        "compiled_step_s": c,
        "ratio": c / e,
        "first_compile_s": first,
        "second_model_first_step_s": second,
        "break_even_steps": first / (e - c) if e > c else float("inf"),
        "steps": steps,
    }


if __name__ == "__main__":
    main()
