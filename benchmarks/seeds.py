"""Many seeds in one process: S seeds of one demo arm run one after another, against the same work done for all S
seeds at once, stage by stage, measured in the same run.

The arm is the demo's spurious-rewards run of ``--model`` (default ``qwen-math-like-v2``, the code-preferring
profile ``make demo`` trains; docs/benchmarks.md's v1 table is ``--model qwen-math-like``) with ``random:0.5`` under
the ``clip`` preset (16 prompts × 8 samples, 4 updates per rollout, 64 new tokens), one torch thread as the demo's
workers run.
Per repetition, in alternating order:

- ``steps``: S single-seed trainers (:func:`rlvr_lab.rl.trainer.train_step`) each take ``--steps`` steps: the
  baseline, in seed-steps per second, with its split into rollout (sampling, grading, reward) and update;
- ``update``: the forward + backward passes of one step's update (every micro-batch of the epoch, on each seed's
  own rollout): each seed's own model in turn, against the S policies stacked (:class:`rlvr_lab.rl.multiseed.
  SeedStack`, one vmapped call per micro-batch), and against one model on all S seeds' rows at once (the bound of
  any stacking over seeds: the same products with one weight set instead of S);
- ``sampling``: one step's rollout sampling (S × 128 completions): each seed's engine call in turn, against one
  engine call sampling all S seeds' requests in one batch (the same bound for a seed-stacked sampler).

The projected step ratio applies each stage's best stacked ratio to the baseline's rollout/update split.

    PYTHONPATH=src python benchmarks/seeds.py [--model qwen-math-like-v2] [--seeds 1 5] [--reps 3] [--steps 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rlvr_lab.engines import SampleRequest
from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.rl.data import step_problems
from rlvr_lab.rl.logprobs import PackedBatch, pack, token_logprobs
from rlvr_lab.rl.multiseed import SeedStack, pad_batches
from rlvr_lab.rl.rollout import collect_rollout
from rlvr_lab.rl.trainer import Run, setup_run, train_step
from rlvr_lab.rl.update import epoch_order, micro_batches
from rlvr_lab.studies.settings import EvalSettings, TrainingSettings, train_config

REWARD, PRESET = "random:0.5", "clip"


def arm_runs(model: str, seeds: int, work: Path) -> list[Run]:
    """One single-seed trainer per seed of the demo arm, each one step in (the grading workers started)."""
    runs = []
    for seed in range(seeds):
        config = train_config(
            TrainingSettings(),
            EvalSettings(),
            model=model,
            reward=REWARD,
            preset=PRESET,
            seed=seed,
            out=work / f"s{seed}",
        )
        run = setup_run(config, resume=False)
        train_step(run, 1)
        runs.append(run)
    return runs


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``fn()``: on a shared, oversubscribed machine the CPU time
    of a one-thread process is the steadier measure of its work (a descheduled process spends wall time, not CPU)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def steps_path(runs: list[Run], first: int, steps: int, shares: list[float]) -> Callable[[], None]:
    """Sequential single-seed steps; appends the rollout's share of the step (the trainer's own timings)."""

    def go() -> None:
        total, rollout = 0.0, 0.0
        for run in runs:
            for step in range(first, first + steps):
                record, _ = train_step(run, step)
                total += record["perf/step_time"]
                rollout += record["perf/rollout_time"]
        shares.append(rollout / total)

    return go


def requests(run: Run, step: int) -> list[SampleRequest]:
    """The rollout requests of ``step`` as :func:`rlvr_lab.rl.rollout.collect_rollout` builds them."""
    config, G = run.config, run.rollout_sampling.n
    problems = step_problems(run.train_problems, config.seed, step, config.schedule().prompts_per_step)
    return [
        SampleRequest(run.prompt_ids[p.id], key=f"train/{step}/{p.id}", sample_indices=tuple(range(j * G, (j + 1) * G)))
        for j, p in enumerate(problems)
    ]


def update_micro_batches(run: Run, step: int) -> list[PackedBatch]:
    """One step's rollout of ``run`` cut into the update's epoch-0 micro-batches (as ``update_policy`` cuts it)."""
    config = run.config
    problems = step_problems(run.train_problems, config.seed, step, config.schedule().prompts_per_step)
    rollout = collect_rollout(run.engine, run.prompt_ids, problems, run.reward, run.grader, run.rollout_sampling, step)
    flat = [(p, c) for p, group in zip(problems, rollout.completions, strict=True) for c in group]
    batch = pack([run.prompt_ids[p.id] for p, _ in flat], [c.token_ids for _, c in flat], run.pad_id)
    plan = micro_batches(run.update_config, epoch_order(len(flat), config.seed, step, 0), batch.lengths.numpy())
    return [batch.rows(rows) for mini in plan for rows in mini]


def _backward(logprobs: torch.Tensor, mask: torch.Tensor) -> None:
    (logprobs * mask).sum().backward()


def update_paths(runs: list[Run], parts: list[list[PackedBatch]]) -> dict[str, Callable[[], None]]:
    """Forward + backward of every micro-batch: own models in turn, the stacked seeds, one model on all rows."""
    stack = SeedStack.from_models([run.model for run in runs])
    padded = [pad_batches(list(column), runs[0].pad_id) for column in zip(*parts, strict=True)]
    flat = [PackedBatch(*(x.flatten(0, 1) for x in vars(batch).values())) for batch in padded]

    def own() -> None:
        for run, batches in zip(runs, parts, strict=True):
            run.model.zero_grad(set_to_none=True)
            for part in batches:
                _backward(token_logprobs(run.model, part)[0], part.completion_mask)

    def stacked() -> None:
        for value in stack.params.values():
            value.grad = None
        for batch in padded:
            _backward(stack.token_logprobs(batch)[0], batch.completion_mask)

    def one_model() -> None:
        runs[0].model.zero_grad(set_to_none=True)
        for batch in flat:
            _backward(token_logprobs(runs[0].model, batch)[0], batch.completion_mask)

    return {"own": own, "stacked": stacked, "one_model": one_model}


def sampling_paths(runs: list[Run], step: int) -> dict[str, Callable[[], None]]:
    """One step's rollout sampling: each seed's engine call in turn, or all seeds' requests in one call."""
    everything = [r for run in runs for r in requests(run, step)]
    first = runs[0]
    rows = len(runs) * first.engine.batch_size
    engine = TorchEngine(first.model, first.tokenizer, batch_size=rows, dtype=first.dtype)

    def own() -> None:
        for run in runs:
            run.engine.sample(requests(run, step), run.rollout_sampling)

    return {"own": own, "one_model": lambda: engine.sample(everything, first.rollout_sampling)}


def bench(model: str, seeds: int, reps: int, steps: int, work: Path) -> dict[str, Any]:
    runs = arm_runs(model, seeds, work / f"S{seeds}")
    parts = [update_micro_batches(run, 2) for run in runs]
    shares: list[float] = []
    paths = {
        **{f"update_{name}": fn for name, fn in update_paths(runs, parts).items()},
        **{f"sampling_{name}": fn for name, fn in sampling_paths(runs, 2).items()},
    }
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for rep in range(reps):
        order = ["steps", *paths] if rep % 2 == 0 else [*reversed(paths), "steps"]  # alternate between repetitions
        for name in order:
            fn = steps_path(runs, 2 + rep * steps, steps, shares) if name == "steps" else paths[name]
            w, c = timed(fn)
            wall.setdefault(name, []).append(w)
            cpu.setdefault(name, []).append(c)
    for run in runs:
        run.grader.close()
    out: dict[str, Any] = {"model": model, "seeds": seeds, "reps": reps, "rollout_share": statistics.median(shares)}
    for clock, samples in (("wall", wall), ("cpu", cpu)):
        med = {name: statistics.median(values) for name, values in samples.items()}
        update = med["update_own"] / min(med["update_stacked"], med["update_one_model"])
        sampling = med["sampling_own"] / med["sampling_one_model"]
        share = out["rollout_share"]
        out[clock] = {
            "seed_steps_per_s": seeds * steps / med["steps"],
            "update_ratio_stacked": med["update_own"] / med["update_stacked"],
            "update_ratio_one_model_bound": med["update_own"] / med["update_one_model"],
            "sampling_ratio_one_model_bound": sampling,
            "projected_step_ratio": 1 / (share / sampling + (1 - share) / update),
            "median_seconds": med,
            "samples": samples,
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen-math-like-v2", help="organism profile (default: qwen-math-like-v2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per seed per repetition")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench(args.model, s, args.reps, args.steps, Path(tmp)) for s in args.seeds]
    out = {
        "uptime_before": load,
        "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "results": results,
    }
    if args.json:
        print(json.dumps(out))
        return out
    print(f"load before: {out['uptime_before']}\nload after:  {out['uptime_after']}")
    for r in results:
        for clock in ("cpu", "wall"):
            c, m = r[clock], r[clock]["median_seconds"]
            print(
                f"{r['model']} S={r['seeds']} {clock:4}: sequential {c['seed_steps_per_s']:.2f} seed-steps/s"
                f" (rollout {r['rollout_share']:.0%} of a step)"
                f"; update fwd+bwd own {m['update_own']:.2f} s, stacked {m['update_stacked']:.2f} s"
                f" (x{c['update_ratio_stacked']:.2f}), one model {m['update_one_model']:.2f} s"
                f" (bound x{c['update_ratio_one_model_bound']:.2f})"
                f"; sampling own {m['sampling_own']:.2f} s, one model {m['sampling_one_model']:.2f} s"
                f" (bound x{c['sampling_ratio_one_model_bound']:.2f})"
                f"; projected step ratio x{c['projected_step_ratio']:.2f} (medians of {r['reps']})"
            )
    return out


if __name__ == "__main__":
    main()
