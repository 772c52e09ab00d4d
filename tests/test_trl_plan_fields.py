"""Every ``GRPOConfig`` field the TRL plan sets, read back from TRL's own ``GRPOConfig`` for a config whose values all
differ from both sides' defaults, so a field dropped, renamed or given the wrong value fails here. Written against
the mutants that survived tests/test_trl_backend.py (scripts/mutation.sh --run backends.trl_config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlvr_lab.backends import Launch
from rlvr_lab.backends.trl_config import ZERO3_CONFIG, UnsupportedByTRL, launch_kwargs, trl_plan
from rlvr_lab.rl.config import resolve_config

VALUES = {
    "prompts_per_step": 4,
    "group_size": 4,
    "mini_batch_size": 8,
    "micro_batch_size": 2,
    "epochs": 2,
    "steps": 5,
    "lr": 3e-6,
    "clip": "clip",
    "eps_low": 0.15,
    "eps_high": 0.25,
    "kl_coef": 0.05,
    "temperature": 0.7,
    "max_new_tokens": 48,
    "weight_decay": 0.1,
    "beta1": 0.8,
    "beta2": 0.95,
    "grad_clip": 0.5,
    "seed": 7,
    "save_every": 3,
    "keep_checkpoints": 2,
    "advantage": "dr_grpo",
    "aggregation": "seq-mean-token-sum-norm",
}


def test_grpo_config_receives_every_setting(tmp_path: Path) -> None:
    trl = pytest.importorskip("trl")
    plan = trl_plan(resolve_config(cli_values=VALUES), world_size=2)
    args = trl.GRPOConfig(output_dir=str(tmp_path), use_cpu=True, **plan.kwargs)
    # schedule: 16 completions per rollout, 4 per rank per update, 2 passes -> (16 / 8) × 2 = 4 updates per rollout
    assert (args.num_generations, args.per_device_train_batch_size, args.gradient_accumulation_steps) == (4, 2, 2)
    assert (args.steps_per_generation, args.num_iterations, args.max_steps) == (4, 2, 20)
    assert (plan.generation_batch_size, plan.optimiser_batch, plan.updates_per_rollout) == (16, 8, 4)
    assert (plan.world_size, plan.rows_per_rank, plan.groups_whole_on_rank) == (2, 8, True)
    assert args.shuffle_dataset is False
    # loss
    assert (args.loss_type, args.scale_rewards, args.epsilon, args.epsilon_high) == ("dr_grpo", "none", 0.15, 0.25)
    assert (args.beta, args.use_bias_correction_kl, args.importance_sampling_level) == (0.05, False, "token")
    assert (args.mask_truncated_completions, args.top_entropy_quantile) == (False, 1.0)
    assert args.vllm_importance_sampling_correction is False
    # sampling
    assert (args.temperature, args.top_p, args.top_k, args.max_completion_length) == (0.7, 1.0, 0, 48)
    # optimiser
    assert (args.learning_rate, args.lr_scheduler_type, args.warmup_steps) == (3e-6, "constant", 0)
    assert (args.weight_decay, args.adam_beta1, args.adam_beta2, args.max_grad_norm) == (0.1, 0.8, 0.95, 0.5)
    assert (args.optim, args.seed) == ("adamw_torch", 7)
    # bookkeeping
    assert (args.remove_unused_columns, args.logging_steps, args.report_to) == (False, 1, [])
    assert (args.save_strategy, args.save_steps, args.save_total_limit) == ("steps", 12, 2)  # every 3 rollouts × 4
    assert (args.eval_strategy, args.log_completions, args.disable_dropout) == ("no", False, True)
    assert set(plan.kwargs) <= {field.name for field in trl.GRPOConfig.__dataclass_fields__.values()}


def test_describe_states_the_schedule() -> None:
    plan = trl_plan(resolve_config(cli_values=VALUES), world_size=2)
    assert plan.describe() == (
        "world size 2: generation_batch_size 16 (= 4 prompts × 4), 8 per rank; optimiser batch 8 "
        "(= 2 per device × 2 ranks × 2 accumulation steps); 4 optimiser update(s) per rollout; "
        "max_steps 20 = 5 rollouts × 4"
    )


def test_micro_batch_is_the_largest_divisor_within_the_cap() -> None:
    config = resolve_config(cli_values={**VALUES, "mini_batch_size": 12, "prompts_per_step": 6, "micro_batch_size": 5})
    assert trl_plan(config, world_size=1).kwargs["per_device_train_batch_size"] == 4  # divisors of 12 up to 5
    uncapped = resolve_config(cli_values={k: v for k, v in VALUES.items() if k != "micro_batch_size"})
    assert trl_plan(uncapped, world_size=2).kwargs["per_device_train_batch_size"] == 4  # the whole per-rank batch


def test_world_size_refusal() -> None:
    with pytest.raises(ValueError, match=r"^world size must be >= 1, got 0$"):
        trl_plan(resolve_config(cli_values=VALUES), world_size=0)


@pytest.mark.parametrize(
    ("values", "world_size", "message"),
    [
        (
            {"entropy_coef": 0.01},
            1,
            "entropy_coef=0.01: TRL's entropy bonus is a token mean whatever the loss aggregation, ours is aggregated "
            "like the loss; use entropy_coef 0 or --backend rlvr",
        ),
        (
            {"warmup_steps": 2},
            1,
            "lr_schedule='constant', warmup_steps=2: our schedule sets the rate once per rollout, TRL's scheduler at "
            "every optimiser update; only lr_schedule constant without warmup maps exactly",
        ),
        (
            {"aggregation": "token-mean", "prompts_per_step": 4, "group_size": 4, "mini_batch_size": 8},
            1,  # 2 updates per rollout
            "aggregation='token-mean' with more than one update per rollout: TRL's dapo divides by the mean token "
            "count of a mini-batch over the rollout, ours by each mini-batch's own count; use seq-mean-token-mean, "
            "seq-mean-token-sum-norm, or one update per rollout",
        ),
        (
            {"prompts_per_step": 4, "group_size": 4, "mini_batch_size": 8},
            3,
            "mini_batch_size=8 does not split over 3 ranks: choose a multiple of the world size",
        ),
        (
            {"dynamic_sampling": True},
            1,
            "dynamic_sampling=True: TRL's GRPOTrainer has no group filter (DAPO's dynamic sampling); use "
            "--backend rlvr, or `rlvr export verl` (verl's algorithm.filter_groups)",
        ),
        (
            {"attention": "float32"},
            1,
            "attention='float32': TRL loads its model with its own attention implementation in every rank; use "
            "attention compute or --backend rlvr",
        ),
        (
            {"compile": True},
            1,
            "compile=True: our trainer compiles the policy's forward only; TRL's torch_compile compiles its whole "
            "model through accelerate, which this backend has not been run with; use --no-compile or --backend rlvr",
        ),
    ],
)
def test_refusals_say_what_would_work(values: dict, world_size: int, message: str) -> None:
    with pytest.raises(UnsupportedByTRL) as refused:
        trl_plan(resolve_config(cli_values=values), world_size)
    assert str(refused.value) == message


def test_one_rank_by_default_and_a_prime_per_rank_batch_takes_micro_batches_of_one() -> None:
    config = resolve_config(
        cli_values={"prompts_per_step": 1, "group_size": 3, "mini_batch_size": 3, "micro_batch_size": 2}
    )
    plan = trl_plan(config)
    assert plan.world_size == 1 and plan.kwargs["per_device_train_batch_size"] == 1  # 3 has no divisor in [2, 2]


@pytest.mark.parametrize(
    ("device", "launch", "expected"),
    [
        (
            "cpu",
            Launch(),
            {"use_cpu": True, "bf16": False, "ddp_timeout": 1800, "use_vllm": False, "vllm_mode": "colocate"},
        ),
        (
            "cuda",
            Launch(nproc=8, vllm="colocate", timeout=600, vllm_gpu_memory_utilization=0.3, vllm_sleep=True),
            {
                "use_cpu": False,
                "bf16": True,
                "ddp_timeout": 600,
                "use_vllm": True,
                "vllm_mode": "colocate",
                "vllm_gpu_memory_utilization": 0.3,
                "vllm_enable_sleep_mode": True,
            },
        ),
        (
            "cuda",
            Launch(nproc=4, vllm="server", vllm_server="http://host:8000"),
            {
                "use_cpu": False,
                "bf16": True,
                "ddp_timeout": 1800,
                "use_vllm": True,
                "vllm_mode": "server",
                "vllm_server_base_url": "http://host:8000",
            },
        ),
        (
            "cuda",
            Launch(nproc=8, strategy="zero3", timeout=3600),
            {
                "use_cpu": False,
                "bf16": True,
                "ddp_timeout": 3600,
                "use_vllm": False,
                "vllm_mode": "colocate",
                "gradient_checkpointing": True,
                "deepspeed": ZERO3_CONFIG,
            },
        ),
        (
            "cpu",
            Launch(nproc=2, strategy="zero3", timeout=90),
            {
                "use_cpu": False,  # DeepSpeed's CPU accelerator runs the ranks, not accelerate's use_cpu
                "bf16": False,
                "ddp_timeout": 90,
                "use_vllm": False,
                "vllm_mode": "colocate",
                "gradient_checkpointing": True,
                "deepspeed": ZERO3_CONFIG,
                "accelerator_config": {"use_configured_state": True},
            },
        ),
    ],
)
def test_launch_arguments_for_each_place_a_run_goes(device: str, launch: Launch, expected: dict) -> None:
    """The GRPOConfig arguments that depend on the launch, whole: device and precision, the process group's
    timeout, vLLM's mode and knobs, ZeRO-3's DeepSpeed config (and on the CPU, accelerate's state kept)."""
    assert launch_kwargs(resolve_config(cli_values={"device": device}), launch) == expected
