"""Our :class:`~rlvr_lab.rl.config.TrainConfig` as TRL ``GRPOConfig`` keyword arguments: a pure function.

The schedule. One of our steps is one rollout of ``R = P × G`` completions, then ``μ`` passes in mini-batches of
``M`` completions, one optimiser update each (:mod:`rlvr_lab.rl.schedule`). TRL counts in *micro-steps* of
``per_device_train_batch_size`` completions per rank; with ``W`` ranks::

    generation_batch_size = per_device_train_batch_size × W × steps_per_generation   (= R, one rollout)
    optimiser batch       = per_device_train_batch_size × W × gradient_accumulation_steps   (= M)
    updates per rollout   = num_iterations × steps_per_generation / gradient_accumulation_steps   (= μ R / M)

so ``per_device_train_batch_size`` is the largest divisor of the per-rank mini-batch ``M / W`` not above our
``micro_batch_size``, ``gradient_accumulation_steps = (M / W) / per_device``, ``steps_per_generation =
(R / W) / per_device`` and ``num_iterations = μ``. TRL's ``max_steps`` counts optimiser updates: ``steps × μR/M``.

The loss. ``clip: none`` becomes ``epsilon = 1`` (the lower bound ``1 - ε = 0`` is below every ratio) and
``epsilon_high = 1e9``: the clamp never binds and TRL computes exactly our unclipped loss (checked to 1e-6 in
``tests/test_rl_trl_parity.py``). Aggregations: ``seq-mean-token-mean`` → ``grpo``,
``seq-mean-token-sum-norm`` → ``dr_grpo`` (both exact for any schedule), ``token-mean`` → ``dapo`` only with one
update per rollout (with more, TRL divides by the *mean* token count of a mini-batch over the rollout, we by the
mini-batch's own). Advantages: ``grpo`` → ``scale_rewards="group"``, ``dr_grpo`` → ``"none"``. KL: ``beta =
kl_coef`` with TRL's ratio-weighted KL turned off (ours is GRPO's plain k3).

DAPO's rollout shaping: ``overlong_buffer`` becomes TRL's own soft overlong punishment
(``trl.rewards.get_soft_overlong_punishment``, DAPO eq. 13, the formula of :mod:`rlvr_lab.rl.dapo`) as a second
reward function with weight ``overlong_penalty`` (``reward_weights``), summed with the training reward before the
group normalisation (``multi_objective_aggregation="sum_then_normalize"``), as our trainer adds it;
``dynamic_sampling`` is refused (``GRPOTrainer`` has no group filter).

Anything TRL cannot express is refused with :class:`UnsupportedByTRL` naming the option, never approximated:
RLOO / REINFORCE++ / raw advantages, an entropy bonus (TRL's is a token mean whatever the aggregation), our
per-rollout learning-rate schedules and warmup (TRL's scheduler moves every optimiser update, ours once per
rollout), DAPO's dynamic sampling, and schedules that do not divide evenly over the ranks.

:func:`launch_kwargs` adds what depends on where the run goes (:class:`~rlvr_lab.backends.Launch`): device and
precision flags, the process-group timeout, vLLM's knobs and DeepSpeed ZeRO-3's config (:data:`ZERO3_CONFIG`,
passed to ``GRPOConfig(deepspeed=...)`` so that the model is created inside ZeRO-3's init on every launcher).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlvr_lab.backends import Launch
from rlvr_lab.rl.config import TrainConfig

NO_CLIP_EPSILON = 1.0
"""``epsilon`` under ``clip: none``: TRL's lower clamp bound ``1 - ε`` is 0, below every ratio."""
NO_CLIP_EPSILON_HIGH = 1e9
"""``epsilon_high`` under ``clip: none``: an upper bound no ratio reaches."""

LOSS_TYPES = {"seq-mean-token-mean": "grpo", "seq-mean-token-sum-norm": "dr_grpo", "token-mean": "dapo"}
SCALE_REWARDS = {"grpo": "group", "dr_grpo": "none"}
ZERO3_CONFIG: dict[str, Any] = {
    "zero_optimization": {"stage": 3, "stage3_gather_16bit_weights_on_model_save": True},
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "train_batch_size": "auto",
    "gradient_clipping": "auto",
    "bf16": {"enabled": "auto"},
    "zero_allow_untested_optimizer": True,
}
"""DeepSpeed ZeRO-3 as ``GRPOConfig(deepspeed=...)``: "auto" values are filled from the GRPOConfig (micro-batch,
accumulation, ``max_grad_norm``, bf16), the optimiser stays the Trainer's AdamW with our betas (DeepSpeed wraps
it), and the 16-bit weights are gathered at save so ``DIR/model`` is an ordinary HF folder."""


class UnsupportedByTRL(ValueError):
    """A config option TRL's ``GRPOTrainer`` cannot reproduce; the message names it and says what would work."""


@dataclass(frozen=True)
class TRLPlan:
    """The resolved ``GRPOConfig`` arguments and the figures a dry run prints."""

    kwargs: dict[str, Any]
    """Keyword arguments for ``trl.GRPOConfig`` (``output_dir`` and device flags are added at launch)."""
    world_size: int
    generation_batch_size: int
    """Completions per rollout over all ranks (TRL derives it; = P × G)."""
    optimiser_batch: int
    """Completions per optimiser update over all ranks (= mini_batch_size)."""
    updates_per_rollout: int
    rows_per_rank: int
    """Completions each rank generates and scores per rollout (a group split across ranks when G does not divide it
    or it does not start at a group boundary)."""

    @property
    def groups_whole_on_rank(self) -> bool:
        """Whether every rank holds whole prompt groups (needed by group rewards such as online majority vote)."""
        G = self.kwargs["num_generations"]
        return self.rows_per_rank % G == 0

    def describe(self) -> str:
        k = self.kwargs
        return (
            f"world size {self.world_size}: generation_batch_size {self.generation_batch_size} "
            f"(= {self.generation_batch_size // k['num_generations']} prompts × {k['num_generations']}), "
            f"{self.rows_per_rank} per rank; optimiser batch {self.optimiser_batch} "
            f"(= {k['per_device_train_batch_size']} per device × {self.world_size} ranks × "
            f"{k['gradient_accumulation_steps']} accumulation steps); {self.updates_per_rollout} optimiser "
            f"update(s) per rollout; max_steps {k['max_steps']} = {k['max_steps'] // self.updates_per_rollout} "
            f"rollouts × {self.updates_per_rollout}"
        )


def _largest_divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def refuse_unsupported(config: TrainConfig, world_size: int) -> None:
    """Raise :class:`UnsupportedByTRL` naming the first option of ``config`` TRL cannot express on
    ``world_size`` ranks (refused, never approximated)."""
    s = config.schedule()
    if config.advantage not in SCALE_REWARDS:
        raise UnsupportedByTRL(
            f"advantage={config.advantage!r}: TRL's GRPOTrainer has only group-normalised advantages "
            f"(grpo: mean and std; dr_grpo: mean only); use --backend rlvr for {config.advantage}"
        )
    if config.entropy_coef != 0:
        raise UnsupportedByTRL(
            f"entropy_coef={config.entropy_coef}: TRL's entropy bonus is a token mean whatever the loss aggregation, "
            "ours is aggregated like the loss; use entropy_coef 0 or --backend rlvr"
        )
    if config.lr_schedule != "constant" or config.warmup_steps:
        raise UnsupportedByTRL(
            f"lr_schedule={config.lr_schedule!r}, warmup_steps={config.warmup_steps}: our schedule sets the rate "
            "once per rollout, TRL's scheduler at every optimiser update; only lr_schedule constant without warmup "
            "maps exactly"
        )
    if config.dynamic_sampling:
        raise UnsupportedByTRL(
            "dynamic_sampling=True: TRL's GRPOTrainer has no group filter (DAPO's dynamic sampling); use "
            "--backend rlvr, or `rlvr export verl` (verl's algorithm.filter_groups)"
        )
    if config.aggregation == "token-mean" and s.updates_per_rollout > 1:
        raise UnsupportedByTRL(
            "aggregation='token-mean' with more than one update per rollout: TRL's dapo divides by the mean token "
            "count of a mini-batch over the rollout, ours by each mini-batch's own count; use seq-mean-token-mean, "
            "seq-mean-token-sum-norm, or one update per rollout"
        )
    if config.attention != "compute":
        raise UnsupportedByTRL(
            f"attention={config.attention!r}: TRL loads its model with its own attention implementation in every "
            "rank; use attention compute or --backend rlvr"
        )
    if config.compile:
        raise UnsupportedByTRL(
            "compile=True: our trainer compiles the policy's forward only; TRL's torch_compile compiles its whole "
            "model through accelerate, which this backend has not been run with; use --no-compile or --backend rlvr"
        )
    if s.mini_batch_size % world_size:
        raise UnsupportedByTRL(
            f"mini_batch_size={s.mini_batch_size} does not split over {world_size} ranks: choose a multiple of the "
            "world size"
        )


def _grpo_kwargs(config: TrainConfig, micro: int, accumulation: int, steps_per_generation: int) -> dict[str, Any]:
    """The ``GRPOConfig`` arguments of ``config`` with a per-device micro-batch of ``micro`` (see the module
    docstring for each one's reason)."""
    s = config.schedule()
    kwargs: dict[str, Any] = {
        # schedule
        "num_generations": s.group_size,
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": accumulation,
        "steps_per_generation": steps_per_generation,
        "num_iterations": s.epochs,
        "max_steps": config.steps * s.updates_per_rollout,
        "shuffle_dataset": False,  # the dataset is already our step-ordered stream (rlvr_lab.rl.data)
        # loss
        "loss_type": LOSS_TYPES[config.aggregation],
        "scale_rewards": SCALE_REWARDS[config.advantage],
        "epsilon": NO_CLIP_EPSILON if config.clip == "none" else config.eps_low,
        "epsilon_high": NO_CLIP_EPSILON_HIGH if config.clip == "none" else config.eps_high,
        "beta": config.kl_coef,
        "use_bias_correction_kl": False,
        "importance_sampling_level": "token",
        "mask_truncated_completions": False,
        "top_entropy_quantile": 1.0,
        "vllm_importance_sampling_correction": False,  # our loss has no rollout/trainer mismatch correction
        # sampling
        "temperature": config.temperature,
        "top_p": 1.0,
        "top_k": 0,
        "max_completion_length": config.max_new_tokens,
        # optimiser
        "learning_rate": config.lr,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "weight_decay": config.weight_decay,
        "adam_beta1": config.beta1,
        "adam_beta2": config.beta2,
        "max_grad_norm": config.grad_clip,
        "optim": "adamw_torch",
        "seed": config.seed,
        # bookkeeping: our callback logs and evaluates; TRL keeps the data columns the reward reads
        "remove_unused_columns": False,
        "logging_steps": 1,
        "report_to": [],
        "save_strategy": "steps",
        "save_steps": config.save_every * s.updates_per_rollout,
        "save_total_limit": config.keep_checkpoints,
        "eval_strategy": "no",
        "log_completions": False,
        "disable_dropout": True,
    }
    if config.overlong_buffer:
        kwargs["reward_weights"] = [1.0, config.overlong_penalty]  # the training reward, the overlong punishment
        kwargs["multi_objective_aggregation"] = "sum_then_normalize"
    return kwargs


def trl_plan(config: TrainConfig, world_size: int = 1) -> TRLPlan:
    """The ``GRPOConfig`` arguments that train ``config`` on ``world_size`` ranks (see the module docstring).

    Raises :class:`UnsupportedByTRL` naming the first option TRL cannot express.
    """
    if world_size < 1:
        raise ValueError(f"world size must be >= 1, got {world_size}")
    refuse_unsupported(config, world_size)
    s = config.schedule()
    per_rank_mini = s.mini_batch_size // world_size
    micro = _largest_divisor_at_most(per_rank_mini, config.micro_batch_size or per_rank_mini)
    # The rollout is a whole number of mini-batches and a mini-batch splits over the ranks (both refused above
    # otherwise), so a rank's rows are a whole number of its micro-batches.
    rows_per_rank = s.rollout_size // world_size
    kwargs = _grpo_kwargs(config, micro, per_rank_mini // micro, rows_per_rank // micro)
    return TRLPlan(
        kwargs=kwargs,
        world_size=world_size,
        generation_batch_size=micro * world_size * kwargs["steps_per_generation"],
        optimiser_batch=micro * world_size * kwargs["gradient_accumulation_steps"],
        updates_per_rollout=s.updates_per_rollout,
        rows_per_rank=rows_per_rank,
    )


def launch_kwargs(config: TrainConfig, launch: Launch) -> dict[str, Any]:
    """The ``GRPOConfig`` arguments that depend on where the run goes (see the module docstring)."""
    on_cpu = config.device == "cpu"
    zero3 = launch.strategy == "zero3"
    kwargs: dict[str, Any] = {
        "use_cpu": on_cpu and not zero3,  # DeepSpeed's CPU accelerator runs ZeRO-3 on CPU ranks (gloo)
        "bf16": not on_cpu,
        "ddp_timeout": launch.timeout,
        "use_vllm": launch.vllm is not None,
        "vllm_mode": launch.vllm or "colocate",
    }
    if launch.vllm_gpu_memory_utilization is not None:
        kwargs["vllm_gpu_memory_utilization"] = launch.vllm_gpu_memory_utilization
    if launch.vllm_sleep:
        kwargs["vllm_enable_sleep_mode"] = True
    if launch.vllm_server is not None:
        kwargs["vllm_server_base_url"] = launch.vllm_server
    if zero3:
        kwargs["gradient_checkpointing"] = True  # activations of a large model: recomputed, not kept
        kwargs["deepspeed"] = ZERO3_CONFIG
        if on_cpu:  # transformers would rebuild the accelerate state without DeepSpeed on the CPU: keep ours
            kwargs["accelerator_config"] = {"use_configured_state": True}
    return kwargs
