"""The training loop: GRPO and its relatives on one process, small enough to read top to bottom.

    run = setup_run(config)                                      model, optimiser, data, signal, sampler
    for step in 1..steps:                                        train_step:
        problems   = step_problems(seed, step)                   P prompt slots (pure function of seed and step)
        rollout    = engine.sample(policy, G per prompt)         the torch engine on the live weights (rl.rollout)
        rewards    = reward(group) for each prompt               any training signal (rlvr_lab.rewards)
        accuracy   = grader(gold or unit tests)                  ALWAYS measured, whatever the signal
        (DAPO) shape rewards, drop all-equal groups              rlvr_lab.rl.dapo
        advantages = estimator(rewards (P, G))                   rlvr_lab.rl.estimate (ReMax: + greedy rewards;
                                                                 PPO: per token from the critic, rlvr_lab.rl.value)
        update_policy(μ epochs × mini-batches)                   rlvr_lab.rl.update (PPO: then the critic's)
        log, checkpoint, every N steps: held-out evaluation      rlvr_lab.rl.evaluate

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rlvr_lab.analysis.strategy import strategy_token_counts
from rlvr_lab.engines import Engine, SamplingConfig, make_engine
from rlvr_lab.grading.grade import Grader, GradingConfig
from rlvr_lab.models.loading import load_model
from rlvr_lab.prompts import encode_prompt, resolve_template
from rlvr_lab.rewards import RewardFn, build_reward
from rlvr_lab.rl.advantages import EXTRA_INPUT
from rlvr_lab.rl.attention import float32_attention
from rlvr_lab.rl.checkpoint import TrainerState, load_trainer_state, save_checkpoint
from rlvr_lab.rl.compiled import compile_forward
from rlvr_lab.rl.config import TrainConfig
from rlvr_lab.rl.dapo import shape_rewards
from rlvr_lab.rl.data import PROBLEM_LOG, run_problems, step_problems
from rlvr_lab.rl.estimate import estimate_advantages
from rlvr_lab.rl.evaluate import HeldOut, code_entry_prob, code_tokens, evaluate_run
from rlvr_lab.rl.finite import check_finite
from rlvr_lab.rl.logger import MetricsLogger, append_jsonl, truncate_jsonl
from rlvr_lab.rl.logprobs import pack, pack_logprobs
from rlvr_lab.rl.rollout import collect_rollout, problem_accuracy, rollout_metrics
from rlvr_lab.rl.run_dir import prepare_run_dir
from rlvr_lab.rl.schedule import learning_rate
from rlvr_lab.rl.update import UpdateConfig, adamw, update_policy
from rlvr_lab.runtime.precision import dtype_name, num_parameters, resolve_dtype
from rlvr_lab.runtime.threads import resolve_threads
from rlvr_lab.tasks import Problem


@dataclass
class Run:
    """Everything a training step reads or changes, built once by :func:`setup_run`."""

    config: TrainConfig
    run_dir: Path
    start: int
    """The last step already done (0 for a fresh run)."""
    resumed: bool
    model: Any
    tokenizer: Any
    reference: Any | None
    """The frozen initial policy, for the KL term and the actor/kl diagnostic (None when neither is asked)."""
    optimizer: torch.optim.Optimizer
    critic: Any | None
    """PPO's value model (None for every other estimator)."""
    dtype: torch.dtype
    grader: Grader
    reward: RewardFn
    train_problems: list[Problem]
    prompt_ids: dict[str, list[int]]
    engine: Engine
    rollout_sampling: SamplingConfig
    greedy_sampling: SamplingConfig
    update_config: UpdateConfig
    held_out: HeldOut

    @property
    def pad_id(self) -> int:
        return self.held_out.pad_id


def train(config: TrainConfig, resume: bool = False, stop_after: int | None = None, show_progress: bool = True) -> Path:
    """Train as ``config`` says; return the run directory.

    ``resume`` continues from the last checkpoint in ``config.out``; ``stop_after`` ends the process's work after
    that step, as if it had been killed (tests and budgeted runs). ``config.threads`` (by the rule of
    :func:`rlvr_lab.runtime.threads.resolve_threads`) applies for the duration of the call; torch's previous
    thread count is restored afterwards.
    """
    threads = torch.get_num_threads()
    wanted = resolve_threads(config.threads)
    if wanted > 0:
        torch.set_num_threads(wanted)
    try:
        return _run(config, resume, stop_after, show_progress)
    finally:
        torch.set_num_threads(threads)


def setup_run(config: TrainConfig, resume: bool) -> Run:
    """Open the run directory and build the model, optimiser, data, signal and sampler (resumed state included)."""
    run_dir, checkpoint = prepare_run_dir(config, resume)
    torch.manual_seed(config.seed)
    model, tokenizer = load_model(config.model if checkpoint is None else str(checkpoint), device=config.device)
    reference = None
    if config.needs_reference:
        initial = model if checkpoint is None else load_model(config.model, device=config.device)[0]
        reference = copy.deepcopy(initial).requires_grad_(False)
    for net in (model, reference):
        if net is not None and config.attention == "float32":
            net.set_attn_implementation(float32_attention())  # the reference too, fresh or resumed alike
        if net is not None and config.compile:
            compile_forward(net)
    dtype = resolve_dtype(config.dtype, num_parameters(model), config.device)
    optimizer = adamw(model.parameters(), config.lr, (config.beta1, config.beta2), config.weight_decay, dtype)
    start, state = 0, None
    if checkpoint is not None:
        state = load_trainer_state(checkpoint)
        optimizer.load_state_dict(state.optimizer)
        torch.set_rng_state(state.torch_rng)
        start = state.step
    critic = None
    if EXTRA_INPUT.get(config.advantage) == "values":
        from rlvr_lab.rl.value import Critic, CriticConfig

        critic = Critic(model, CriticConfig(config.gamma, config.gae_lambda, config.value_clip, config.value_lr))
        if state is not None and state.critic is not None:
            critic.load_state_dict(state.critic)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    grader = Grader(GradingConfig(fallbacks=config.answer_fallbacks()))
    grader.pool.start()  # workers boot (import math-verify) while the first evaluation runs
    reward = build_reward(config.reward, grader)
    train_problems, eval_problems = run_problems(config, reward)
    template = resolve_template(config.prompt)
    prompt_ids = {p.id: encode_prompt(template, p, tokenizer) for p in [*train_problems, *eval_problems]}
    engine = make_engine(
        "torch",
        model,
        tokenizer,
        batch_size=config.engine_batch_size,
        device=config.device,
        dtype=dtype,
        path=config.decoder,
    )
    schedule = config.schedule()
    max_new = config.max_new_tokens
    return Run(
        config=config,
        run_dir=run_dir,
        start=start,
        resumed=checkpoint is not None,
        model=model,
        tokenizer=tokenizer,
        reference=reference,
        optimizer=optimizer,
        critic=critic,
        dtype=dtype,
        grader=grader,
        reward=reward,
        train_problems=train_problems,
        prompt_ids=prompt_ids,
        engine=engine,
        rollout_sampling=SamplingConfig(
            n=schedule.group_size, temperature=config.temperature, max_new_tokens=max_new, seed=config.seed
        ),
        greedy_sampling=SamplingConfig(n=1, temperature=0.0, max_new_tokens=max_new, seed=config.seed),
        update_config=UpdateConfig(
            schedule=schedule,
            loss=config.loss(),
            micro_batch_size=config.micro_batch_size,
            max_len=max_new,
            grad_clip=config.grad_clip,
            dtype=dtype,
        ),
        held_out=HeldOut(config, run_dir, template, eval_problems, prompt_ids, code_tokens(tokenizer), pad_id),
    )


def train_step(run: Run, step: int) -> tuple[dict[str, Any], dict[str, float]]:
    """One rollout and its policy update; returns the step's metrics record (without evaluation) and each
    problem's training accuracy this step (for ``problems.jsonl``)."""
    config, t0 = run.config, time.perf_counter()
    lr = learning_rate(step, config.steps, config.lr, config.warmup_steps, config.lr_schedule)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    problems = step_problems(run.train_problems, config.seed, step, config.schedule().prompts_per_step)
    rollout = collect_rollout(run.engine, run.prompt_ids, problems, run.reward, run.grader, run.rollout_sampling, step)
    t1 = time.perf_counter()
    lengths = torch.tensor([[c.num_tokens for c in group] for group in rollout.completions])
    rewards, kept = shape_rewards(
        rollout.rewards,
        lengths,
        config.max_new_tokens,
        config.overlong_buffer,
        config.overlong_penalty,
        config.dynamic_sampling,
    )
    flat = [(problems[j], c) for j in kept for c in rollout.completions[j]]
    stats: dict[str, float] = {"optim/updates": 0.0, "train/kept_groups": float(len(kept))}
    entry = code_entry_prob(run.model, [run.prompt_ids[p.id] for p in problems], run.held_out.code_ids, run.pad_id)
    if flat:
        stats |= _update(run, step, [problems[j] for j in kept], flat, rewards)
    t2 = time.perf_counter()
    sampled = [c for group in rollout.completions for c in group]
    record = {
        "step": step,
        **rollout_metrics(rollout),
        **stats,
        "strategy/code_entry_prob": entry,
        "optim/lr": lr,
        "perf/step_time": t2 - t0,
        "perf/rollout_time": t1 - t0,
        "perf/update_time": t2 - t1,
        "perf/tokens_per_s": sum(c.num_tokens for c in sampled) / (t2 - t0),
        "perf/samples_per_s": len(sampled) / (t2 - t0),
        "perf/dtype": dtype_name(run.dtype),
    }
    return record, problem_accuracy(rollout)


def _update(
    run: Run, step: int, kept_problems: list[Problem], flat: list[tuple[Problem, Any]], rewards: torch.Tensor
) -> dict[str, float]:
    """The policy update (and PPO's critic update) on the kept groups' samples."""
    config, device = run.config, run.config.device
    batch = pack([run.prompt_ids[p.id] for p, _ in flat], [c.token_ids for _, c in flat], run.pad_id)
    sampler_logprobs = pack_logprobs([c.logprobs for _, c in flat], batch.num_completion_columns)
    batch, sampler_logprobs = batch.to(device), sampler_logprobs.to(device)
    counts = strategy_token_counts([c.token_ids for _, c in flat], run.tokenizer.decode)
    columns = torch.arange(batch.num_completion_columns, device=device)
    strategy = (columns < torch.tensor(counts, device=device)[:, None]).float()  # (B, C)

    def greedy_rewards() -> torch.Tensor:  # ReMax: the reward of each prompt's greedy response
        greedy = collect_rollout(
            run.engine, run.prompt_ids, kept_problems, run.reward, run.grader, run.greedy_sampling, step
        )
        return greedy.rewards

    advantages = estimate_advantages(
        config.advantage, rewards, batch, greedy_rewards, run.critic, config.micro_batch_size or len(flat)
    )
    stats = update_policy(
        run.model,
        run.reference,
        run.optimizer,
        batch,
        advantages.values.to(device),
        run.update_config,
        config.seed,
        step,
        sampler_logprobs,
        {"strategy": strategy},
    )
    if run.critic is not None:
        stats |= run.critic.update(
            batch, advantages.returns, advantages.old_values, run.update_config, config.seed, step
        )
    return stats


def _save(run: Run, step: int) -> None:
    state = TrainerState(
        step=step,
        optimizer=run.optimizer.state_dict(),
        torch_rng=torch.get_rng_state(),
        critic=None if run.critic is None else run.critic.state_dict(),
    )
    save_checkpoint(run.run_dir, run.model, run.tokenizer, state, keep=run.config.keep_checkpoints)


def _run(config: TrainConfig, resume: bool, stop_after: int | None, show_progress: bool) -> Path:
    console = Console(stderr=True, quiet=not show_progress)
    run = setup_run(config, resume)
    console.print(
        f"[bold]rlvr train[/] {config.model} · reward {config.reward} · {config.advantage} · clip {config.clip}"
    )
    console.print(config.schedule().describe())
    console.print(f"compute dtype {dtype_name(run.dtype)} (--dtype {config.dtype})")
    console.print(
        f"{len(run.train_problems)} training problems, {len(run.held_out.problems)} held-out; run dir {run.run_dir}"
    )
    resume_step = run.start if run.resumed else -1
    logger = MetricsLogger(run.run_dir, resume_step=resume_step, tensorboard=config.tensorboard)
    truncate_jsonl(run.run_dir / PROBLEM_LOG, resume_step)
    last = config.steps if stop_after is None else min(config.steps, stop_after)
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with run.grader, Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("training", total=config.steps, completed=run.start)
            if run.start == 0:
                logger.log({"step": 0, **evaluate_run(run.engine, run.model, run.grader, run.held_out, 0)})
            for step in range(run.start + 1, last + 1):
                record, accuracy = train_step(run, step)
                check_finite(record, step, run.run_dir)
                if step == config.steps or (config.eval_every and step % config.eval_every == 0):
                    record.update(evaluate_run(run.engine, run.model, run.grader, run.held_out, step))
                logger.log(record)
                append_jsonl(run.run_dir / PROBLEM_LOG, {"step": step, "accuracy": accuracy})
                if step == config.steps or step % config.save_every == 0:
                    _save(run, step)
                description = f"reward {record['reward/mean']:.2f} acc {record['train/accuracy']:.2f}"
                bar.update(task, advance=1, description=description)
    finally:
        logger.close()
    if last == config.steps:
        out = run.run_dir / "model"
        run.model.save_pretrained(out)
        run.tokenizer.save_pretrained(out)
        (out / "rlvr_train.json").write_text(json.dumps({"step": last, "config": config.to_dict()}))
    return run.run_dir
