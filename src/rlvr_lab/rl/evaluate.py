"""Periodic held-out evaluation through the evaluation pipeline: sample store → grader → metrics.

Each evaluation writes ``DIR/eval/step_000010.jsonl``, an ordinary sample store (header included) that
``rlvr grade`` and the report can read, then grades it with the run's shared grader and reduces it with the
pipeline's metrics. Samples are keyed by problem id with sample indices ``0..n-1`` and the run's seed, so every
evaluation of a run draws with the same random numbers: a change in accuracy is the model's, not the dice's.
A store left complete by a killed run is reused as is, and a partial one is completed (its samples are a pure
function of the weights, which a resumed run reproduces).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlvr_lab.analysis.strategy import StrategyRule, code_frequency, is_code
from rlvr_lab.engines.base import Engine, SamplingConfig
from rlvr_lab.grading.grade import Grader
from rlvr_lab.metrics.passk import avg_at_n, pass_at_k
from rlvr_lab.prompts import PromptTemplate
from rlvr_lab.rewards.text import has_boxed_answer
from rlvr_lab.rl.config import TrainConfig
from rlvr_lab.sampling import sample_missing
from rlvr_lab.store import SampleStore, StoreHeader, read_sample_table
from rlvr_lab.tasks.problem import Problem


def eval_store_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "eval" / f"step_{step:06d}.jsonl"


def evaluate(
    engine: Engine,
    encode: Callable[[Problem], list[int]],
    problems: Sequence[Problem],
    grader: Grader,
    sampling: SamplingConfig,
    store_path: Path,
    header: StoreHeader,
) -> dict[str, float]:
    """Sample ``sampling.n`` completions per problem into ``store_path``, grade them, and return ``eval/`` metrics.

    ``eval/accuracy`` is avg@n (mean per-problem accuracy, = pass@1), ``eval/pass@n`` the unbiased pass@n,
    ``eval/code_frequency`` the share of code answers (contains "python"), ``eval/boxed_rate`` the share with a
    non-empty boxed answer, ``eval/length_mean`` the mean completion length in tokens.
    """
    with SampleStore.open(store_path, header) as store:
        sample_missing(lambda: (engine, encode), store, problems, sampling, chunk_size=len(problems) * sampling.n)
    table = read_sample_table(store_path, columns=["num_tokens"])
    texts: dict[str, list[str]] = {p.id: [] for p in problems}
    lengths = []
    rows = zip(
        table.column("problem_id").to_pylist(),
        table.column("completion").to_pylist(),
        table.column("num_tokens").to_pylist(),
        strict=True,
    )
    for problem_id, completion, num_tokens in rows:
        texts[problem_id].append(completion)
        lengths.append(num_tokens)
    verdicts = iter(grader.grade_problems([(p, text) for p in problems for text in texts[p.id]]))
    correct = np.array([sum(next(verdicts).correct for _ in texts[p.id]) for p in problems])
    n = np.array([len(texts[p.id]) for p in problems])
    everything = [t for p in problems for t in texts[p.id]]
    return {
        "eval/accuracy": avg_at_n(n, correct),
        f"eval/pass@{sampling.n}": float(pass_at_k(n, correct, sampling.n).mean()),
        "eval/code_frequency": code_frequency(everything),
        "eval/boxed_rate": float(np.mean([has_boxed_answer(t) for t in everything])),
        "eval/length_mean": float(np.mean(lengths)),
    }


def greedy_store_path(run_dir: Path, step: int) -> Path:
    """The greedy evaluation's store beside the sampled one (``eval/greedy_step_000010.jsonl``)."""
    return Path(run_dir) / "eval" / f"greedy_step_{step:06d}.jsonl"


def shard_store_path(path: Path, shard: str | None) -> Path:
    """Where shard ``i/N`` of the store ``path`` goes (``eval/shards/step_000010.shard-i-of-N.jsonl``); ``path``
    itself without a shard."""
    if shard is None:
        return path
    index, count = shard.split("/")
    return path.parent / "shards" / f"{path.stem}.shard-{index}-of-{count}{path.suffix}"


def code_tokens(tokenizer: Any, rule: StrategyRule = "contains_python") -> list[int]:
    """Token ids whose text alone makes a response code under ``rule`` (organism v1: the code fence)."""
    return [t for t in range(len(tokenizer)) if is_code(tokenizer.decode([t]), rule)]


@torch.no_grad()
def code_entry_prob(model: Any, prompts: Sequence[Sequence[int]], code_ids: Sequence[int], pad_id: int) -> float:
    """Mean over ``prompts`` of the policy's probability that its first token already enters code.

    The probability of taking the code branch at the first decision, read from the logits rather than from a
    handful of samples. Prompts are right-padded (a causal model needs no mask for that) and read at their last
    real position.
    """
    if not prompts or not code_ids:
        return float("nan")
    device = next(model.parameters()).device
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        ids[i, : len(p)] = torch.tensor(list(p), dtype=torch.long)
    last = torch.tensor([len(p) - 1 for p in prompts], device=device)
    logits = model(input_ids=ids, use_cache=False).logits[torch.arange(len(prompts), device=device), last].float()
    probs = torch.softmax(logits, dim=-1)[:, list(code_ids)].sum(dim=-1)
    return float(probs.mean())


@dataclass(frozen=True)
class HeldOut:
    """What a run's held-out evaluation needs, built once by either trainer (ours or the TRL backend), so both
    log the same ``eval/`` keys: ``eval/accuracy``, ``eval/pass@n``, ``eval/code_frequency``, ``eval/boxed_rate``,
    ``eval/length_mean``, ``eval/greedy_accuracy`` (when the sampled evaluation is not greedy) and
    ``eval/code_entry_prob``."""

    config: TrainConfig
    run_dir: Path
    template: PromptTemplate
    problems: list[Problem]
    prompt_ids: dict[str, list[int]]
    code_ids: list[int]
    pad_id: int
    label: str = ""
    """Appended to the stores' model description (``", trl"`` for the TRL backend)."""
    shard: str | None = None
    """``"i/N"`` when ``problems`` are shard i of N of the held-out set (each rank of a TRL run evaluates one)."""

    def samplings(self) -> list[tuple[SamplingConfig, bool]]:
        """(sampling, greedy?) of each evaluation at a step: the sampled one, plus a greedy one if it is not."""
        c = self.config
        sampled = SamplingConfig(
            n=1 if c.eval_temperature == 0 else c.eval_samples,
            temperature=c.eval_temperature,
            max_new_tokens=c.max_new_tokens,
            seed=c.seed,
        )
        runs = [(sampled, False)]
        if c.eval_temperature != 0:
            greedy = SamplingConfig(n=1, temperature=0.0, max_new_tokens=c.max_new_tokens, seed=c.seed)
            runs.append((greedy, True))
        return runs


def evaluate_run(engine: Engine, model: Any, grader: Grader, held_out: HeldOut, step: int) -> dict[str, float]:
    """The held-out evaluation of ``model`` (sampled through ``engine``) after ``step`` training steps."""
    c = held_out.config
    out: dict[str, float] = {}

    def encode(problem: Problem) -> list[int]:
        return held_out.prompt_ids[problem.id]

    for sampling, greedy in held_out.samplings():
        path = shard_store_path(
            (greedy_store_path if greedy else eval_store_path)(held_out.run_dir, step), held_out.shard
        )
        header = StoreHeader.for_run(
            model=f"{c.model} after {step} RL steps ({held_out.run_dir}{held_out.label})",
            engine="torch",
            template=held_out.template,
            sampling=sampling,
            problems=f"{c.eval_data}:{c.eval_split}",
            shard=held_out.shard,
        )
        metrics = evaluate(engine, encode, held_out.problems, grader, sampling, path, header)
        out.update({"eval/greedy_accuracy": metrics["eval/accuracy"]} if greedy else metrics)
    prompts = [held_out.prompt_ids[p.id] for p in held_out.problems]
    out["eval/code_entry_prob"] = code_entry_prob(model, prompts, held_out.code_ids, held_out.pad_id)
    return out
