"""Held-out evaluation of a TRL run on every rank at once: each rank samples its share of the problems.

Why not on the main process alone: while rank 0 samples and grades, the other ranks wait in the next collective
(TRL's reward gather) and a long evaluation (MATH-500 at 3,072 tokens) outlasts the process group's timeout; the
other GPUs idle meanwhile. So every rank enters the evaluation together:

1. the policy's full weights are made available on each rank with TRL's own
   ``unwrap_model_for_generation(..., gather_deepspeed3_params=True)`` (DDP: the module itself; ZeRO-3: the
   shards gathered, a collective at entry and exit, which every rank enters);
2. rank ``r`` of ``W`` evaluates the problems of shard ``r/W`` (:func:`rlvr_lab.sampling.select_shard`, the same
   SHA-256 split as ``rlvr sample --shard``) with our torch engine into its own shard store
   (:func:`rlvr_lab.rl.evaluate.shard_store_path`, under ``DIR/eval/shards/``), through
   :func:`rlvr_lab.rl.evaluate.evaluate_run` (our trainer's evaluation);
3. the shards' metrics are gathered and merged (:func:`merge_metrics`: every ``eval/`` metric is a mean over
   problems with the same number of samples each, so the whole set's value is the problem-weighted mean), and
   the main process merges the shard stores into ``DIR/eval/step_N.jsonl`` (:func:`rlvr_lab.store.merge_stores`),
   the file a one-process run writes.

No rank waits on another's sampling: the only collectives are the gather of the weights and of the metrics.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from rlvr_lab.rl.evaluate import HeldOut, eval_store_path, evaluate_run, greedy_store_path, shard_store_path


def merge_metrics(parts: Sequence[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """The metrics of the whole problem set from ``(problems, metrics)`` of each shard: problem-weighted means
    (shards with no problems, or a NaN value, count for nothing)."""
    keys = sorted({k for count, metrics in parts if count for k in metrics})
    merged: dict[str, float] = {}
    for key in keys:
        pairs = [(count, m[key]) for count, m in parts if count and key in m and not math.isnan(m[key])]
        total = sum(count for count, _ in pairs)
        merged[key] = sum(count * value for count, value in pairs) / total if total else float("nan")
    return merged


def shard_held_out(held_out: HeldOut, rank: int, world: int) -> HeldOut:
    """This rank's part of the evaluation: its shard of the problems, stores in its own folder."""
    from rlvr_lab.sampling import select_shard

    if world == 1:
        return held_out
    shard = f"{rank}/{world}"
    return dataclasses.replace(held_out, problems=select_shard(held_out.problems, shard), shard=shard)


def evaluate_on_all_ranks(trainer: Any, engine_factory: Any, held_out: HeldOut, grader: Any, step: int) -> dict:
    """Every rank evaluates its shard of ``held_out`` (see the module docstring); returns the merged metrics on
    every rank. ``engine_factory(model)`` builds the sampling engine for the unwrapped policy."""
    from accelerate.utils import gather_object
    from trl.models import unwrap_model_for_generation

    accelerator = trainer.accelerator
    rank, world = accelerator.process_index, accelerator.num_processes
    mine = shard_held_out(held_out, rank, world)
    with unwrap_model_for_generation(trainer.model_wrapped, accelerator, gather_deepspeed3_params=True) as policy:
        metrics = evaluate_run(engine_factory(policy), policy, grader, mine, step) if mine.problems else {}
    parts = gather_object([(len(mine.problems), metrics)])
    if world > 1 and accelerator.is_main_process:
        merge_shard_stores(held_out, world, step)
    accelerator.wait_for_everyone()
    return merge_metrics(parts)


def merge_shard_stores(held_out: HeldOut, world: int, step: int) -> None:
    """Merge the ranks' shard stores of ``step`` into the run's ``eval/step_N.jsonl`` (and the greedy one)."""
    from rlvr_lab.store import merge_stores

    for store_path in (eval_store_path, greedy_store_path):
        whole = store_path(held_out.run_dir, step)
        shards = [shard_store_path(whole, f"{r}/{world}") for r in range(world)]
        if all(p.is_file() for p in shards):
            merge_stores(shards, whole)
