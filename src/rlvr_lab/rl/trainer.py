"""The training loop: GRPO and its relatives on one process, small enough to read top to bottom.

    for step in 1..steps:
        problems   = step_problems(seed, step)                 P prompt slots (pure function of seed and step)
        rollout    = engine.sample(policy, G per prompt)        the torch engine on the live weights
        rewards    = reward(group) for each prompt              any training signal (rlvr_lab.rewards)
        accuracy   = grader(gold or unit tests)                 ALWAYS measured, whatever the signal
        (DAPO) shape rewards, drop all-equal groups             rlvr_lab.rl.dapo
        advantages = estimator(rewards (P, G))                  rlvr_lab.rl.advantages (ReMax: + greedy rewards;
                                                                PPO: per token from the critic, rlvr_lab.rl.value)
        update_policy(μ epochs × mini-batches)                  rlvr_lab.rl.update (PPO: then the critic's)
        log, checkpoint, every N steps: held-out evaluation

Reproducibility: data order, sampling (seeded per (seed, key, sample index)), random rewards, mini-batch
shuffles and the learning rate are all pure functions of ``(seed, step, ...)``; a checkpoint stores the
weights (float32), the AdamW state and the torch RNG. So a run killed at any point and resumed from its last
checkpoint re-runs the lost steps exactly and logs the same metrics as an uninterrupted run (timings aside).

Rewards of ``None`` ("not applicable") count as 0.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rlvr_lab.analysis.strategy import code_frequency, strategy_token_counts
from rlvr_lab.engines import Completion, Engine, SampleRequest, SamplingConfig, make_engine
from rlvr_lab.grading.grade import Grader
from rlvr_lab.models import load_model
from rlvr_lab.precision import dtype_name, num_parameters, resolve_dtype
from rlvr_lab.prompts import encode_prompt, resolve_template
from rlvr_lab.rewards import RewardFn, build_reward, select_problems
from rlvr_lab.rl.advantages import ADVANTAGES, EXTRA_INPUT
from rlvr_lab.rl.checkpoint import TrainerState, list_checkpoints, load_trainer_state, save_checkpoint
from rlvr_lab.rl.config import TrainConfig, load_config_file, save_config
from rlvr_lab.rl.dapo import overlong_penalty, varied_groups
from rlvr_lab.rl.data import PROBLEM_LOG, resolve_one_shot, step_problems
from rlvr_lab.rl.evaluate import code_entry_prob, code_tokens, eval_store_path, evaluate, greedy_store_path
from rlvr_lab.rl.logger import MetricsLogger, append_jsonl, truncate_jsonl
from rlvr_lab.rl.logprobs import pack, pack_logprobs
from rlvr_lab.rl.schedule import learning_rate
from rlvr_lab.rl.update import UpdateConfig, adamw, update_policy
from rlvr_lab.store import StoreHeader
from rlvr_lab.tasks import BENCHMARKS, Problem, load_problems
from rlvr_lab.threads import resolve_threads

# ----------------------------------------------------------------------------------------------------------------
# Rollout


@dataclass(frozen=True)
class Rollout:
    """One step's samples and their scores; ``P`` prompt slots × ``G`` completions."""

    problems: list[Problem]
    """(P,) the problem of each slot."""
    completions: list[list[Completion]]
    """(P, G) sampled completions."""
    rewards: torch.Tensor
    """(P, G) training signal, None mapped to 0."""
    correct: torch.Tensor
    """(P, G) ground-truth correctness, whatever the signal."""


def collect_rollout(
    engine: Engine,
    prompt_ids: dict[str, list[int]],
    problems: Sequence[Problem],
    reward: RewardFn,
    grader: Grader,
    sampling: SamplingConfig,
    step: int,
) -> Rollout:
    """Sample ``G`` completions for each slot, grade them against the gold answer, and score them with ``reward``.

    Slot ``j`` draws sample indices ``j·G .. (j+1)·G - 1`` under the key ``train/<step>/<problem id>``, so a
    problem that fills several slots (one-shot) gets distinct samples, and each step new ones.
    """
    G = sampling.n
    requests = [
        SampleRequest(prompt_ids[p.id], key=f"train/{step}/{p.id}", sample_indices=tuple(range(j * G, (j + 1) * G)))
        for j, p in enumerate(problems)
    ]
    completions = engine.sample(requests, sampling)
    # Accuracy first, in one grading call for the whole rollout (unit tests for code problems, math-verify
    # otherwise); a ground-truth or unit-test reward then hits the cache.
    items = [(p, c.text) for p, group in zip(problems, completions, strict=True) for c in group]
    correct = [float(v.correct) for v in grader.grade_problems(items)]
    rewards = []
    for request, p, group in zip(requests, problems, completions, strict=True):
        texts = [c.text for c in group]
        values = reward(
            problem=p, completions=texts, sample_indices=request.sample_indices, step=step, seed=sampling.seed
        )
        if len(values) != len(texts):
            raise ValueError(f"reward returned {len(values)} values for {len(texts)} completions of {p.id!r}")
        rewards.append([0.0 if v is None else float(v) for v in values])
    return Rollout(
        problems=list(problems),
        completions=completions,
        rewards=torch.tensor(rewards, dtype=torch.float32),
        correct=torch.tensor(correct, dtype=torch.float32).view(len(problems), G),
    )


def rollout_metrics(rollout: Rollout) -> dict[str, float]:
    """Reward, accuracy, response and strategy statistics of one rollout."""
    flat = [c for group in rollout.completions for c in group]
    rewards = rollout.rewards
    zero_std = (rewards.amax(dim=1) == rewards.amin(dim=1)).float()
    return {
        "reward/mean": float(rewards.mean()),
        "reward/std": float(rewards.std(correction=0)),
        "reward/zero_std_frac": float(zero_std.mean()),
        "train/accuracy": float(rollout.correct.mean()),
        "response/length_mean": float(np.mean([c.num_tokens for c in flat])),
        "response/truncated_frac": float(np.mean([c.finish_reason == "length" for c in flat])),
        "strategy/code_frequency": code_frequency(c.text for c in flat),
    }


def problem_accuracy(rollout: Rollout) -> dict[str, float]:
    """Each problem's training accuracy this step (all its slots pooled), for one-shot selection."""
    hits: dict[str, list[float]] = {}
    for p, row in zip(rollout.problems, rollout.correct.tolist(), strict=True):
        hits.setdefault(p.id, []).extend(row)
    return {pid: float(np.mean(v)) for pid, v in hits.items()}


# ----------------------------------------------------------------------------------------------------------------
# Run directory


def _split(spec: str, split: str) -> str | None:
    """Splits apply to benchmarks and hub datasets, not to files."""
    return split if spec in BENCHMARKS or spec.startswith("hf:") else None


def prepare_run_dir(config: TrainConfig, resume: bool) -> tuple[Path, Path | None]:
    """Create or reopen the run directory; return it and the checkpoint to resume from (None: start fresh).

    A fresh run refuses a directory that already holds one; a resumed run refuses a config that differs from the
    saved one in anything but ``steps`` (extending a finished run is allowed).
    """
    run_dir = Path(config.out)
    saved = run_dir / "config.yaml"
    if not resume:
        if (run_dir / "metrics.jsonl").exists():
            raise FileExistsError(f"{run_dir} already holds a run: resume it with --resume or choose another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, saved)
        return run_dir, None
    if not saved.is_file():
        raise FileNotFoundError(f"nothing to resume: {saved} does not exist")
    before = {k: v for k, v in load_config_file(saved).items() if k != "steps"}
    now = {k: v for k, v in config.to_dict().items() if k != "steps"}
    diffs = [f"{k}: saved {before.get(k)!r}, now {now.get(k)!r}" for k in now if before.get(k) != now.get(k)]
    if diffs:
        raise ValueError(f"cannot resume {run_dir} with a different config: " + "; ".join(diffs))
    save_config(config, saved)
    checkpoints = list_checkpoints(run_dir)
    return run_dir, checkpoints[-1] if checkpoints else None


# ----------------------------------------------------------------------------------------------------------------
# Training


def train(config: TrainConfig, resume: bool = False, stop_after: int | None = None, show_progress: bool = True) -> Path:
    """Train as ``config`` says; return the run directory.

    ``resume`` continues from the last checkpoint in ``config.out``; ``stop_after`` ends the process's work after
    that step, as if it had been killed (tests and budgeted runs). ``config.threads`` (by the rule of
    :func:`rlvr_lab.threads.resolve_threads`) applies for the duration of the call; torch's previous thread count
    is restored afterwards.
    """
    threads = torch.get_num_threads()
    wanted = resolve_threads(config.threads)
    if wanted > 0:
        torch.set_num_threads(wanted)
    try:
        return _run(config, resume, stop_after, show_progress)
    finally:
        torch.set_num_threads(threads)


def _run(config: TrainConfig, resume: bool, stop_after: int | None, show_progress: bool) -> Path:
    console = Console(stderr=True, quiet=not show_progress)
    run_dir, checkpoint = prepare_run_dir(config, resume)
    torch.manual_seed(config.seed)

    # -- model, reference, optimiser ------------------------------------------------------------------------------
    model, tokenizer = load_model(config.model if checkpoint is None else str(checkpoint), device=config.device)
    reference = None  # the frozen initial policy, for the KL term and the actor/kl diagnostic
    if config.needs_reference:
        initial = model if checkpoint is None else load_model(config.model, device=config.device)[0]
        reference = copy.deepcopy(initial).requires_grad_(False)
    dtype = resolve_dtype(config.dtype, num_parameters(model), config.device)
    optimizer = adamw(model.parameters(), config.lr, (config.beta1, config.beta2), config.weight_decay, dtype)
    start, resumed = 0, None
    if checkpoint is not None:
        resumed = load_trainer_state(checkpoint)
        optimizer.load_state_dict(resumed.optimizer)
        torch.set_rng_state(resumed.torch_rng)
        start = resumed.step
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    # -- data, signal, sampler ------------------------------------------------------------------------------------
    grader = Grader()
    grader.pool.start()  # workers boot (import math-verify) while the model loads and the first evaluation runs
    reward = build_reward(config.reward, grader)
    train_problems = load_problems(
        config.train_data, split=_split(config.train_data, config.train_split), limit=config.train_limit
    )
    if config.one_shot:
        train_problems = resolve_one_shot(config.one_shot, train_problems)
    train_problems = select_problems(reward, train_problems)
    if not train_problems:
        raise ValueError(f"reward {config.reward!r} can score none of the training problems")
    eval_problems = load_problems(
        config.eval_data, split=_split(config.eval_data, config.eval_split), limit=config.eval_limit
    )
    template = resolve_template(config.prompt)
    prompt_ids = {p.id: encode_prompt(template, p, tokenizer) for p in [*train_problems, *eval_problems]}
    engine = make_engine(
        "torch", model, tokenizer, batch_size=config.engine_batch_size, device=config.device, dtype=dtype
    )
    schedule = config.schedule()
    rollout_sampling = SamplingConfig(
        n=schedule.group_size, temperature=config.temperature, max_new_tokens=config.max_new_tokens, seed=config.seed
    )
    eval_n = 1 if config.eval_temperature == 0 else config.eval_samples
    eval_sampling = SamplingConfig(
        n=eval_n, temperature=config.eval_temperature, max_new_tokens=config.max_new_tokens, seed=config.seed
    )
    update_config = UpdateConfig(
        schedule=schedule,
        loss=config.loss(),
        micro_batch_size=config.micro_batch_size,
        max_len=config.max_new_tokens,
        grad_clip=config.grad_clip,
        dtype=dtype,
    )
    advantage_fn = ADVANTAGES.get(config.advantage)
    needs = EXTRA_INPUT.get(config.advantage)
    critic = None
    if needs == "values":
        from rlvr_lab.rl.value import Critic, CriticConfig

        critic = Critic(model, CriticConfig(config.gamma, config.gae_lambda, config.value_clip, config.value_lr))
        if resumed is not None and resumed.critic is not None:
            critic.load_state_dict(resumed.critic)
    greedy_sampling = SamplingConfig(n=1, temperature=0.0, max_new_tokens=config.max_new_tokens, seed=config.seed)
    code_ids = code_tokens(tokenizer)

    def run_eval(step: int) -> dict[str, float]:
        """Sampled evaluation, plus a greedy one (``eval/greedy_accuracy``) when the sampled one is not greedy."""
        out = {}
        runs = [(eval_sampling, eval_store_path(run_dir, step))]
        if config.eval_temperature != 0:
            runs.append((greedy_sampling, greedy_store_path(run_dir, step)))
        for sampling, path in runs:
            header = StoreHeader.for_run(
                model=f"{config.model} after {step} RL steps ({run_dir})",
                engine="torch",
                template=template,
                sampling=sampling,
                problems=f"{config.eval_data}:{config.eval_split}",
            )
            metrics = evaluate(engine, lambda p: prompt_ids[p.id], eval_problems, grader, sampling, path, header)
            if sampling is greedy_sampling:
                metrics = {"eval/greedy_accuracy": metrics["eval/accuracy"]}
            out.update(metrics)
        out["eval/code_entry_prob"] = code_entry_prob(
            model, [prompt_ids[p.id] for p in eval_problems], code_ids, pad_id
        )
        return out

    def save(step: int) -> None:
        state = TrainerState(
            step=step,
            optimizer=optimizer.state_dict(),
            torch_rng=torch.get_rng_state(),
            critic=None if critic is None else critic.state_dict(),
        )
        save_checkpoint(run_dir, model, tokenizer, state, keep=config.keep_checkpoints)

    # -- loop -----------------------------------------------------------------------------------------------------
    console.print(
        f"[bold]rlvr train[/] {config.model} · reward {config.reward} · {config.advantage} · clip {config.clip}"
    )
    console.print(schedule.describe())
    console.print(f"compute dtype {dtype_name(dtype)} (--dtype {config.dtype})")
    console.print(f"{len(train_problems)} training problems, {len(eval_problems)} held-out; run dir {run_dir}")
    logger = MetricsLogger(run_dir, resume_step=start if checkpoint is not None else -1, tensorboard=config.tensorboard)
    truncate_jsonl(run_dir / PROBLEM_LOG, start if checkpoint is not None else -1)
    last = config.steps if stop_after is None else min(config.steps, stop_after)
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with grader, Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("training", total=config.steps, completed=start)
            if start == 0:
                logger.log({"step": 0, **run_eval(0)})
            for step in range(start + 1, last + 1):
                t0 = time.perf_counter()
                lr = learning_rate(step, config.steps, config.lr, config.warmup_steps, config.lr_schedule)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                problems = step_problems(train_problems, config.seed, step, schedule.prompts_per_step)
                rollout = collect_rollout(engine, prompt_ids, problems, reward, grader, rollout_sampling, step)
                t1 = time.perf_counter()
                rewards = rollout.rewards
                if config.overlong_buffer:  # DAPO's soft overlong punishment
                    lengths = torch.tensor([[c.num_tokens for c in group] for group in rollout.completions])
                    rewards = rewards + overlong_penalty(
                        lengths, config.max_new_tokens, config.overlong_buffer, config.overlong_penalty
                    )
                # DAPO's dynamic sampling leaves out the groups whose rewards are all equal
                kept = [j for j, v in enumerate(varied_groups(rewards).tolist()) if v or not config.dynamic_sampling]
                rewards = rewards[kept]
                flat = [(problems[j], c) for j in kept for c in rollout.completions[j]]
                stats: dict[str, float] = {"optim/updates": 0.0, "train/kept_groups": float(len(kept))}
                entry = code_entry_prob(model, [prompt_ids[p.id] for p in problems], code_ids, pad_id)
                if flat:
                    batch = pack([prompt_ids[p.id] for p, _ in flat], [c.token_ids for _, c in flat], pad_id)
                    sampler_logprobs = pack_logprobs([c.logprobs for _, c in flat], batch.num_completion_columns)
                    batch, sampler_logprobs = batch.to(config.device), sampler_logprobs.to(config.device)
                    counts = strategy_token_counts([c.token_ids for _, c in flat], tokenizer.decode)
                    columns = torch.arange(batch.num_completion_columns, device=config.device)
                    strategy = (columns < torch.tensor(counts, device=config.device)[:, None]).float()  # (B, C)
                    if needs == "greedy":  # ReMax: the reward of each prompt's greedy response is its baseline
                        greedy = collect_rollout(
                            engine, prompt_ids, [problems[j] for j in kept], reward, grader, greedy_sampling, step
                        )
                        advantages = advantage_fn(rewards, greedy.rewards).flatten()
                    elif critic is not None:  # PPO: per-token GAE advantages from the value model
                        advantages, returns, old_values = critic.estimate(
                            batch, rewards.flatten().to(config.device), config.micro_batch_size or len(flat)
                        )
                    else:
                        advantages = advantage_fn(rewards).flatten()  # (P·G,), slot-major like the batch
                    advantages = advantages.to(config.device)
                    stats |= update_policy(
                        model,
                        reference,
                        optimizer,
                        batch,
                        advantages,
                        update_config,
                        config.seed,
                        step,
                        sampler_logprobs,
                        {"strategy": strategy},
                    )
                    if critic is not None:
                        stats |= critic.update(batch, returns, old_values, update_config, config.seed, step)
                t2 = time.perf_counter()
                elapsed = t2 - t0
                sampled = [c for group in rollout.completions for c in group]
                generated = sum(c.num_tokens for c in sampled)
                record = {
                    "step": step,
                    **rollout_metrics(rollout),
                    **stats,
                    "strategy/code_entry_prob": entry,
                    "optim/lr": lr,
                    "perf/step_time": elapsed,
                    "perf/rollout_time": t1 - t0,
                    "perf/update_time": t2 - t1,
                    "perf/tokens_per_s": generated / elapsed,
                    "perf/samples_per_s": len(sampled) / elapsed,
                    "perf/dtype": dtype_name(dtype),
                }
                if step == config.steps or (config.eval_every and step % config.eval_every == 0):
                    record.update(run_eval(step))
                logger.log(record)
                append_jsonl(run_dir / PROBLEM_LOG, {"step": step, "accuracy": problem_accuracy(rollout)})
                if step == config.steps or step % config.save_every == 0:
                    save(step)
                bar.update(
                    task,
                    advance=1,
                    description=f"reward {record['reward/mean']:.2f} acc {record['train/accuracy']:.2f}",
                )
    finally:
        logger.close()
    if last == config.steps:
        model.save_pretrained(run_dir / "model")
        tokenizer.save_pretrained(run_dir / "model")
        (run_dir / "model" / "rlvr_train.json").write_text(json.dumps({"step": last, "config": config.to_dict()}))
    return run_dir
