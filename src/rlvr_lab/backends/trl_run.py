"""One rank of a TRL run: ``python -m rlvr_lab.backends.trl_run DIR/config.yaml`` (under accelerate or torchrun).

What TRL does and what we add on top:

- **data**: the dataset is our step-ordered problem stream (:func:`rlvr_lab.rl.data.step_problems` for steps
  1..S, ``P`` rows each) and TRL's shuffling is off, so rollout ``k`` trains on exactly the problems our own
  trainer's step ``k`` would, one-shot runs included (the one problem fills every slot);
- **rewards**: :class:`~rlvr_lab.backends.trl_reward.TRLReward`, keyed by rollout and global row;
- **accuracy and rollout statistics** (:meth:`RlvrGRPOTrainer._calculate_rewards`): every completion is graded
  against the gold answer whatever the training signal, and rewards, accuracy, lengths, truncation and code
  frequency are gathered over ranks into one record per rollout;
- **clip fractions** (:meth:`RlvrGRPOTrainer._compute_loss`): from TRL's own ratios ``exp(logp - old logp)``
  and advantages, the share of tokens the clamp at the *configured* ``eps_low``/``eps_high`` removes, or, under
  ``clip: none`` (where TRL's clamp is disabled and it logs 0), *would* remove: the same definition as
  :mod:`rlvr_lab.rl.losses`; split, as our trainer splits it, between the *strategy tokens* (those before the
  strategy is settled, counted per completion of the local generation batch by
  :func:`rlvr_lab.analysis.strategy.strategy_token_counts`) and the rest;
- **the first decision** (:meth:`RlvrGRPOTrainer._generate_and_score_completions`): the policy's probability
  that its first token enters code, over the rollout's prompts (``strategy/code_entry_prob``; not under ZeRO-3,
  where no rank holds the whole model);
- **logs, evaluation, checkpoints** (:class:`RlvrCallback`): one ``metrics.jsonl`` record per rollout with our
  keys (TRL's per-update figures averaged over the rollout's updates), held-out evaluation through
  :func:`rlvr_lab.rl.evaluate.evaluate_run` (our trainer's, same keys) before training, every ``eval_every``
  rollouts and after the last, on every rank at once, each its share of the problems
  (:mod:`rlvr_lab.backends.trl_eval`; ZeRO-3 included, the weights gathered by TRL's own helper), and TRL's HF
  checkpoints in ``DIR/checkpoints/checkpoint-<update>`` every ``save_every`` rollouts; ``DIR/model`` at the end,
  saved by every rank (under ZeRO-3 the save gathers the shards: a collective);
- **launch** (:func:`distributed_state`): the process group is created first, with the launch's timeout; the
  ``GRPOConfig`` is built before the model, so ZeRO-3's partitioned init applies when the model is loaded.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trl
from accelerate.state import PartialState
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import PrinterCallback, ProgressCallback, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from rlvr_lab.analysis.strategy import is_code, strategy_token_counts
from rlvr_lab.backends import Launch
from rlvr_lab.backends.trl_config import TRLPlan, launch_kwargs, trl_plan
from rlvr_lab.backends.trl_eval import evaluate_on_all_ranks
from rlvr_lab.backends.trl_reward import TRLReward, trl_rows
from rlvr_lab.engines import make_engine
from rlvr_lab.models.loading import load_model
from rlvr_lab.prompts import encode_prompt, render_prompt, resolve_template
from rlvr_lab.rl.config import TrainConfig, load_config_file, resolve_config
from rlvr_lab.rl.data import PROBLEM_LOG, run_problems, step_problems
from rlvr_lab.rl.evaluate import HeldOut, code_entry_prob, code_tokens
from rlvr_lab.rl.logger import MetricsLogger, append_jsonl, truncate_jsonl
from rlvr_lab.rl.run_dir import prepare_run_dir
from rlvr_lab.tasks.problem import Problem

CHECKPOINTS = "checkpoints"
STRATEGY_KEY = "rlvr_strategy_tokens"
"""Key of the (B,) strategy-token counts we add to TRL's generation batch (TRL splits every tensor of it by row)."""


@dataclass(frozen=True)
class RolloutStats:
    """One rollout's rows over all ranks, in generation-batch order."""

    problem_ids: list[str]
    rewards: np.ndarray
    """(R,) the training signal; None (NaN in TRL) counted as 0, as our trainer does."""
    correct: np.ndarray
    """(R,) ground-truth correctness."""
    lengths: np.ndarray
    truncated: np.ndarray
    code: np.ndarray
    seconds: float
    """Wall time of generation and scoring."""
    code_entry: float = float("nan")
    """Mean over the rollout's prompts (all ranks) of P(the first token enters code)."""

    def metrics(self, group_size: int) -> dict[str, float]:
        groups = self.rewards.reshape(-1, group_size)
        return {
            "reward/mean": float(self.rewards.mean()),
            "reward/std": float(self.rewards.std()),
            "reward/zero_std_frac": float((groups.max(axis=1) == groups.min(axis=1)).mean()),
            "train/accuracy": float(self.correct.mean()),
            "response/length_mean": float(self.lengths.mean()),
            "response/truncated_frac": float(self.truncated.mean()),
            "strategy/code_frequency": float(self.code.mean()),
            "strategy/code_entry_prob": self.code_entry,
        }

    def problem_accuracy(self) -> dict[str, float]:
        hits: dict[str, list[float]] = {}
        for pid, c in zip(self.problem_ids, self.correct.tolist(), strict=True):
            hits.setdefault(pid, []).append(c)
        return {pid: float(np.mean(v)) for pid, v in hits.items()}


class RlvrGRPOTrainer(trl.GRPOTrainer):
    """``GRPOTrainer`` that also measures accuracy, rollout statistics and (would-be) clip fractions."""

    def __init__(
        self,
        *args: Any,
        reward: TRLReward,
        eps_low: float,
        eps_high: float,
        sharded: bool,
        extra_rewards: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, reward_funcs=[reward, *(extra_rewards or [])], **kwargs)
        self.rlvr_reward = reward
        self.eps_low, self.eps_high = eps_low, eps_high
        self.sharded = sharded
        self.rollouts: list[RolloutStats] = []
        self._generation_started = 0.0
        self._last_logps: torch.Tensor | None = None
        self._code_ids = code_tokens(self.processing_class)

    def _generate_and_score_completions(self, inputs: Any) -> Any:
        self._generation_started = time.perf_counter()
        out = super()._generate_and_score_completions(inputs)
        ids, mask = out["completion_ids"], out["completion_mask"]
        rows = [r[: int(m.sum())].tolist() for r, m in zip(ids, mask, strict=True)]
        counts = strategy_token_counts(rows, self.processing_class.decode)
        out[STRATEGY_KEY] = torch.tensor(counts, device=ids.device)  # split and shuffled with the rows by TRL
        self.rollouts[-1] = replace(self.rollouts[-1], code_entry=self._code_entry(out))
        return out

    def _code_entry(self, out: dict[str, Any]) -> float:
        """P(first token enters code) averaged over each rank's distinct prompts, all ranks together (a prompt
        whose group is split over two ranks counts once on each)."""
        if self.sharded:
            return float("nan")
        pairs = zip(out["prompt_ids"], out["prompt_mask"], strict=True)
        prompts = [list(p) for p in dict.fromkeys(tuple(ids[m.bool()].tolist()) for ids, m in pairs)]
        pad = self.processing_class.pad_token_id
        model = self.accelerator.unwrap_model(self.model)
        entry = code_entry_prob(model, prompts, self._code_ids, pad if pad is not None else 0)
        totals = self.accelerator.reduce(
            torch.tensor([entry * len(prompts), len(prompts)], device=self.accelerator.device), reduction="sum"
        )
        return float(totals[0] / totals[1])

    def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any) -> Any:
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        grader = self.rlvr_reward.grader
        texts = [c if isinstance(c, str) else str(c[-1]["content"]) for c in completions]
        verdicts = grader.grade_extracted(
            [(x["answer"], grader.extract(t)) for x, t in zip(inputs, texts, strict=True)]
        )
        eos = self.processing_class.eos_token_id
        local = torch.tensor(
            [
                [
                    float(v.correct),
                    len(ids),
                    float(len(ids) >= self.max_completion_length and ids[-1] != eos),
                    is_code(t),
                ]
                for v, ids, t in zip(verdicts, completion_ids_list, texts, strict=True)
            ],
            device=self.accelerator.device,
        )
        rows = self.accelerator.gather(local).cpu().numpy()
        problem_ids = gather_object([x["problem_id"] for x in inputs])
        self.rollouts.append(
            RolloutStats(
                problem_ids=list(problem_ids),
                rewards=np.nan_to_num(rewards[:, 0].float().cpu().numpy(), nan=0.0),
                correct=rows[:, 0],
                lengths=rows[:, 1],
                truncated=rows[:, 2],
                code=rows[:, 3],
                seconds=time.perf_counter() - self._generation_started,
            )
        )
        return rewards

    def _get_per_token_logps_and_entropies(self, *args: Any, **kwargs: Any) -> Any:
        out = super()._get_per_token_logps_and_entropies(*args, **kwargs)
        self._last_logps = out[0]
        return out

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        loss = super()._compute_loss(model, inputs)  # its first call of _get_per_token_logps_and_entropies is ours
        logps = self._last_logps.detach()
        old = inputs.get("old_per_token_logps")
        ratio = torch.exp(logps - (logps if old is None else old))
        mask = inputs["completion_mask"].to(ratio.dtype)
        adv = inputs["advantages"].reshape(-1, 1)
        low = ((ratio < 1.0 - self.eps_low) & (adv < 0)).to(ratio.dtype)
        high = ((ratio > 1.0 + self.eps_high) & (adv > 0)).to(ratio.dtype)
        columns = torch.arange(mask.shape[1], device=mask.device)
        strategy = (columns < inputs[STRATEGY_KEY].reshape(-1, 1)).to(ratio.dtype) * mask
        clipped = low + high
        totals = self.accelerator.reduce(
            torch.stack(
                [
                    (low * mask).sum(),
                    (high * mask).sum(),
                    mask.sum(),
                    (clipped * strategy).sum(),
                    strategy.sum(),
                    (clipped * (mask - strategy)).sum(),
                    (mask - strategy).sum(),
                ]
            ),
            reduction="sum",
        )
        count = float(totals[2].clamp(min=1.0))
        metrics = self._metrics["train" if self.model.training else "eval"]
        metrics["rlvr/clip_frac_low"].append(float(totals[0]) / count)
        metrics["rlvr/clip_frac_high"].append(float(totals[1]) / count)
        metrics["rlvr/clip_frac_strategy"].append(float(totals[3]) / max(float(totals[4]), 1.0))
        metrics["rlvr/clip_frac_not_strategy"].append(float(totals[5]) / max(float(totals[6]), 1.0))
        return loss


# TRL's per-update log keys -> ours (averaged over the rollout's updates).
UPDATE_KEYS = {
    "loss": "actor/pg_loss",
    "rlvr/clip_frac_low": "actor/clip_frac_low",
    "rlvr/clip_frac_high": "actor/clip_frac_high",
    "rlvr/clip_frac_strategy": "actor/clip_frac_strategy",
    "rlvr/clip_frac_not_strategy": "actor/clip_frac_not_strategy",
    "entropy": "actor/entropy",
    "kl": "actor/kl",
    "grad_norm": "actor/grad_norm",
    "learning_rate": "optim/lr",
}


class RlvrCallback(TrainerCallback):
    """Writes our ``metrics.jsonl`` / ``problems.jsonl`` once per rollout and runs held-out evaluation."""

    def __init__(
        self,
        trainer: RlvrGRPOTrainer,
        config: TrainConfig,
        plan: TRLPlan,
        run_dir: Path,
        start: int,
        evaluate_fn: Any,
        verbose: bool = True,
    ) -> None:
        self.trainer, self.config, self.plan, self.run_dir = trainer, config, plan, run_dir
        self.evaluate_fn = evaluate_fn
        self.verbose = verbose
        """One stderr line per rollout (off with ``show_progress=False``, as our own trainer is then silent)."""
        self.start = start
        self.updates: list[dict[str, float]] = []
        self.logger = (
            MetricsLogger(run_dir, resume_step=start if start else -1, tensorboard=config.tensorboard)
            if trainer.accelerator.is_main_process
            else None
        )
        if self.logger is not None:
            truncate_jsonl(run_dir / PROBLEM_LOG, start if start else -1)
        self.t0 = time.perf_counter()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.start == 0:
            metrics = self.evaluate_fn(0)  # every rank evaluates its share (backends/trl_eval.py)
            if self.logger is not None:
                self.logger.log({"step": 0, **metrics})
        self.t0 = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
        if logs is None or "loss" not in logs:
            return  # the final train summary (train_runtime, ...) is not an update
        self.updates.append(
            {ours: float(logs[theirs]) for theirs, ours in UPDATE_KEYS.items() if logs.get(theirs) is not None}
        )
        U = self.plan.updates_per_rollout
        if state.global_step % U:
            return
        step = state.global_step // U
        rollout = self.trainer.rollouts.pop()
        self.trainer.rollouts.clear()
        elapsed = time.perf_counter() - self.t0
        keys = {k for u in self.updates for k in u}
        record: dict[str, Any] = {"step": step, **rollout.metrics(self.config.group_size)}
        record.update({k: float(np.mean([u[k] for u in self.updates if k in u])) for k in sorted(keys)})
        record.update(
            {
                "optim/updates": len(self.updates),
                "train/kept_groups": float(self.config.prompts_per_step),  # TRL keeps every group (no DAPO filter)
                "perf/step_time": elapsed,
                "perf/rollout_time": rollout.seconds,
                "perf/update_time": max(0.0, elapsed - rollout.seconds),
                "perf/tokens_per_s": float(rollout.lengths.sum()) / elapsed,
                "perf/samples_per_s": len(rollout.lengths) / elapsed,
                "perf/dtype": "bfloat16" if self.trainer.args.bf16 else "float32",
            }
        )
        self.updates = []
        if step == self.config.steps or (self.config.eval_every and step % self.config.eval_every == 0):
            record.update(self.evaluate_fn(step))  # on every rank, each its share
        if self.logger is not None:  # the main process
            self.logger.log(record)
            append_jsonl(self.run_dir / PROBLEM_LOG, {"step": step, "accuracy": rollout.problem_accuracy()})
        if self.logger is not None and self.verbose:
            print(
                f"step {step}/{self.config.steps} reward {record['reward/mean']:.3f} "
                f"acc {record['train/accuracy']:.3f} ({elapsed:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
        self.t0 = time.perf_counter()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.logger is not None:
            self.logger.close()


def distributed_state(config: TrainConfig, launch: Launch) -> PartialState:
    """The process group, created here with the launch's timeout before anything else can create it.

    ``GRPOConfig(ddp_timeout=...)`` alone never applies: accelerate's ``PartialState`` is a singleton and the first
    one made creates the group (with torch's default timeout). ZeRO-3 on the CPU goes through DeepSpeed's CPU
    accelerator with gloo (``DS_ACCELERATOR=cpu``), which accelerate enters only when told to use DeepSpeed.
    """
    on_cpu = config.device == "cpu"
    kwargs: dict[str, Any] = {"timeout": timedelta(seconds=launch.timeout)}
    if launch.strategy == "zero3":
        os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
        if on_cpu:
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
            kwargs["backend"] = "gloo"
        return PartialState(cpu=False, **kwargs)
    return PartialState(cpu=on_cpu, **kwargs)  # without cpu=True, accelerate sees no group on a CPU-only machine


def group_timeout_s() -> float | None:
    """The default process group's timeout as torch holds it (how long a collective waits before the run fails),
    recorded in ``model/rlvr_train.json``; None for one process."""
    if not torch.distributed.is_initialized():
        return None
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.distributed.group.WORLD._get_backend(device).options._timeout.total_seconds()
    except (AttributeError, RuntimeError):  # a private API: absent from some backends or torch versions
        return None


def _dataset(config: TrainConfig, train_problems: list[Problem], render: Any) -> Dataset:
    """The whole run's prompt stream in our step order (TRL reads it without shuffling)."""
    stream = [
        p
        for step in range(1, config.steps + 1)
        for p in step_problems(train_problems, config.seed, step, config.prompts_per_step)
    ]
    return Dataset.from_list(trl_rows(stream, render))


def _extra_rewards(config: TrainConfig) -> list[Any]:
    """Reward functions TRL adds to ours: DAPO's soft overlong punishment (eq. 13) as TRL ships it, weighted by
    ``overlong_penalty`` in the plan (:mod:`.trl_config`)."""
    if not config.overlong_buffer:
        return []
    from trl.rewards import get_soft_overlong_punishment

    return [get_soft_overlong_punishment(config.max_new_tokens, config.overlong_buffer)]


def _write_run_info(model_dir: Path, config: TrainConfig, launch: Launch, world_size: int, partitioned: bool) -> None:
    info = {
        "step": config.steps,
        "config": config.to_dict(),
        "backend": "trl",
        "trl": trl.__version__,
        "world_size": world_size,
        "strategy": launch.strategy,
        "partitioned_at_load": partitioned,
        "process_group_timeout_s": group_timeout_s(),
    }
    (model_dir / "rlvr_train.json").write_text(json.dumps(info))


def run(config: TrainConfig, launch: Launch, resume: bool = False, show_progress: bool = True) -> Path:
    """Run this process's rank of the TRL training of ``config``; return the run directory."""
    state = distributed_state(config, launch)
    plan = trl_plan(config, state.num_processes)
    run_dir = Path(config.out)
    if state.is_main_process:
        prepare_run_dir(config, resume)
    state.wait_for_everyone()
    checkpoint = (
        get_last_checkpoint(str(run_dir / CHECKPOINTS)) if resume and (run_dir / CHECKPOINTS).is_dir() else None
    )
    start = 0 if checkpoint is None else int(Path(checkpoint).name.split("-")[-1]) // plan.updates_per_rollout

    # The GRPOConfig before the model: under ZeRO-3 it installs DeepSpeed's config, so that from_pretrained
    # creates the weights already partitioned (zero.Init) instead of a whole copy on every rank.
    args = trl.GRPOConfig(
        output_dir=str(run_dir / CHECKPOINTS),
        **plan.kwargs,
        **launch_kwargs(config, launch),
        disable_tqdm=not show_progress,
    )
    torch.manual_seed(config.seed)
    model, tokenizer = load_model(config.model)
    partitioned = hasattr(next(model.parameters()), "ds_id")  # DeepSpeed tags the parameters zero.Init made
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    reward = TRLReward(
        config.reward, config.group_size, config.seed, plan.updates_per_rollout, config.answer_fallbacks()
    )
    reward.check_layout(plan)
    train_problems, eval_problems = run_problems(config, reward.reward)
    template = resolve_template(config.prompt)
    trainer = RlvrGRPOTrainer(
        model=model,
        args=args,
        train_dataset=_dataset(config, train_problems, lambda p: render_prompt(template, p, tokenizer)),
        processing_class=tokenizer,
        reward=reward,
        extra_rewards=_extra_rewards(config),
        eps_low=config.eps_low,
        eps_high=config.eps_high,
        sharded=launch.strategy == "zero3",
    )
    held_out = HeldOut(
        config,
        run_dir,
        template,
        eval_problems,
        {p.id: encode_prompt(template, p, tokenizer) for p in eval_problems},
        code_tokens(tokenizer),
        tokenizer.pad_token_id,
        label=", trl",
    )

    def engine_for(policy: Any) -> Any:
        device = str(next(policy.parameters()).device)
        return make_engine(
            "torch", policy, tokenizer, batch_size=config.engine_batch_size, device=device, path=config.decoder
        )

    def run_eval(step: int) -> dict[str, float]:
        return evaluate_on_all_ranks(trainer, engine_for, held_out, reward.grader, step)

    trainer.add_callback(RlvrCallback(trainer, config, plan, run_dir, start, run_eval, verbose=show_progress))
    # transformers prints every log dict to stdout (print, or tqdm.write beside its bar): that breaks the one JSON
    # object of ``--json`` (``rlvr train --backend trl --json``, ``rlvr audit --backend trl --json``). Our callback's
    # line per rollout, on stderr, is the progress.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
        # Every rank: under ZeRO-3 saving gathers the shards, a collective (on rank 0 alone it hangs the run).
        trainer.save_model(str(run_dir / "model"))
        if state.is_main_process:
            tokenizer.save_pretrained(run_dir / "model")
            _write_run_info(run_dir / "model", config, launch, state.num_processes, partitioned)
        state.wait_for_everyone()
    finally:
        reward.close()
    return run_dir


def close_process_group() -> None:
    """Destroy the process group and join its worker threads while Python is still alive.

    ``destroy_process_group`` only forgets the group: the finished trainer sits in reference cycles (its callbacks
    hold it), so its DDP module keeps gloo's group, and the group's worker threads, alive until the interpreter
    shuts down. A worker still releasing a finished collective's tensors then needs the GIL of a dying interpreter,
    and the rank aborts after a complete run ("terminate called without an active exception", SIGABRT, exit 1 from
    torchrun; 3 of 48 runs of the 2-rank test's config here with two busy loops beside them). Collecting the cycles
    drops the group's last reference here, and its destructor joins the threads (``tests/test_trl_backend.py``
    checks the threads are gone)."""
    torch.distributed.destroy_process_group()
    gc.collect()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="the run's config.yaml")
    parser.add_argument("--world-size", type=int, default=None, help="the world size the launcher was asked for")
    parser.add_argument("--strategy", default="ddp")
    parser.add_argument("--timeout", type=int, default=Launch.timeout, help="process group timeout, seconds")
    parser.add_argument("--vllm", default=None)
    parser.add_argument("--vllm-gpu-memory-utilization", type=float, default=None)
    parser.add_argument("--vllm-sleep", action="store_true")
    parser.add_argument("--vllm-server", default=None)
    parser.add_argument("--resume", action="store_true")
    ns = parser.parse_args(argv)
    config = resolve_config(load_config_file(ns.config))
    launch = Launch(
        nproc=int(os.environ.get("WORLD_SIZE", "1")),
        vllm=ns.vllm,
        strategy=ns.strategy,
        timeout=ns.timeout,
        vllm_gpu_memory_utilization=ns.vllm_gpu_memory_utilization,
        vllm_sleep=ns.vllm_sleep,
        vllm_server=ns.vllm_server,
    )
    state = distributed_state(config, launch)
    if ns.world_size is not None and ns.world_size != state.num_processes:
        raise SystemExit(f"asked for {ns.world_size} processes but this one sees a world of {state.num_processes}")
    run(config, launch, resume=ns.resume, show_progress=state.is_main_process)
    state.wait_for_everyone()
    if state.use_distributed:
        close_process_group()


if __name__ == "__main__":
    main()
