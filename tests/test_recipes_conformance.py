"""Conformance without a GPU: each recipe built by the libraries' own machinery, compared field by field.

- TRL: ``trl.GRPOConfig`` constructed from the recipe (its ``__post_init__`` derives the generation batch and
  checks the schedule), and the ``accelerate`` config file read back with accelerate's own loader.
- verl: every override of ``run.sh`` parsed by Hydra's override parser, composed onto verl 0.9's own
  ``ppo_trainer.yaml`` with Hydra's compose API, checked field by field and passed through verl's
  ``validate_config``; and the modules of the trainer path ``run.sh`` takes imported. These need verl and Hydra
  (``make test-engines`` runs them in the verl venv); they skip elsewhere.
"""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest
import yaml

from rlvr_lab.backends import Launch
from rlvr_lab.backends.trl_backend import accelerate_config
from rlvr_lab.backends.trl_config import launch_kwargs, trl_plan
from rlvr_lab.export.verl import VerlExportError, VerlTarget, command_line, main_ppo_overrides
from rlvr_lab.export.verl_board import reward_overrides
from rlvr_lab.recipes import load_recipe
from rlvr_lab.rl.config import TrainConfig, resolve_config

SPURIOUS = "spurious-rewards-qwen2.5-math-7b"
HAS_VERL = importlib.util.find_spec("verl") is not None and importlib.util.find_spec("hydra") is not None
needs_verl = pytest.mark.skipif(
    not HAS_VERL, reason="verl and Hydra are not installed here: `make test-engines` runs this in the verl venv"
)


def _arms(name: str) -> list[tuple[str, str]]:
    recipe = load_recipe(name)
    return [(reward, clip) for reward in recipe.arms["reward"] for clip in recipe.arms["clip"]]


def _config(name: str, arms: tuple[str, ...]) -> TrainConfig:
    return resolve_config(load_recipe(name).train_values(arms))


# ------------------------------------------------------------------------------------------------------------------
# TRL


@pytest.mark.parametrize("clip", ["clip", "no-clip"])
def test_trl_grpo_config_built_from_the_recipe_matches_it(clip: str, tmp_path: Path) -> None:
    trl = pytest.importorskip("trl")
    config = _config(SPURIOUS, ("random", clip))
    plan = trl_plan(config, world_size=1)  # this process is a world of one; the 8-rank plan is checked below
    launch = {**launch_kwargs(config, Launch()), "use_cpu": True, "bf16": False}  # built here, on the CPU
    args = trl.GRPOConfig(output_dir=str(tmp_path), **plan.kwargs, **launch)
    assert args.generation_batch_size == 1024 and args.num_generations == 16  # 64 prompts × 16
    assert args.num_iterations * args.steps_per_generation // args.gradient_accumulation_steps == 8
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 128  # the mini-batch
    low, high = (config.eps_low, config.eps_high) if config.clip == "clip" else (1.0, 1e9)
    assert (args.epsilon, args.epsilon_high, args.beta, args.loss_type) == (low, high, 0.0, "grpo")
    assert (args.learning_rate, args.lr_scheduler_type, args.warmup_steps) == (5e-7, "constant", 0)
    assert (args.adam_beta1, args.adam_beta2, args.weight_decay, args.max_grad_norm) == (0.9, 0.95, 0.0, 1.0)
    assert (args.temperature, args.top_p, args.max_completion_length) == (1.0, 1.0, 3072)
    assert args.scale_rewards == "group" and args.shuffle_dataset is False
    assert args.save_total_limit == 1 and args.save_steps == 50 * 8
    eight = trl_plan(config, world_size=8)
    assert (eight.generation_batch_size, eight.optimiser_batch, eight.updates_per_rollout) == (1024, 128, 8)
    assert eight.kwargs["per_device_train_batch_size"] == 4  # the script's --micro_train_batch_size 4


def test_accelerate_reads_the_zero3_launch_config_back(tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import load_config_from_file

    config = _config(SPURIOUS, ())
    path = tmp_path / "accelerate.yaml"
    path.write_text(
        yaml.safe_dump(accelerate_config(Launch(nproc=8, strategy="zero3", gpu_ids="0,1,2,3,4,5,6,7"), "cuda"))
    )
    loaded = load_config_from_file(str(path))
    assert (loaded.num_processes, loaded.distributed_type.value, loaded.mixed_precision) == (8, "DEEPSPEED", "bf16")
    assert loaded.deepspeed_config["zero_stage"] == 3 and loaded.gpu_ids == "0,1,2,3,4,5,6,7"
    kwargs = launch_kwargs(config, Launch(nproc=8, strategy="zero3", timeout=3600))
    assert kwargs["deepspeed"]["zero_optimization"]["stage"] == 3 and kwargs["ddp_timeout"] == 3600


# ------------------------------------------------------------------------------------------------------------------
# verl


def _verl_overrides(config: TrainConfig) -> list[str]:
    paths = {
        "model_path": "/models/Qwen2.5-Math-7B",
        "train_files": "/d/train.parquet",
        "val_files": "/d/v a l.parquet",
    }
    return main_ppo_overrides(config, VerlTarget(), **paths) + reward_overrides(config)


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from verl.trainer import main_ppo

    with initialize_config_dir(config_dir=str(Path(main_ppo.__file__).parent / "config"), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


@pytest.mark.slow
@needs_verl
@pytest.mark.parametrize(("reward", "clip"), _arms(SPURIOUS))
def test_every_run_sh_override_parses_and_composes_onto_verls_own_config(reward: str, clip: str) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config = _config(SPURIOUS, (reward, clip))
    if config.one_shot:
        with pytest.raises(VerlExportError, match="one_shot"):
            _verl_overrides(config)
        return
    overrides = _verl_overrides(config)
    lines = command_line(overrides).replace("\\\n", " ")
    from_shell = shlex.split(lines)[3:]  # what bash hands verl: python3 -m verl.trainer.main_ppo <overrides>
    assert from_shell == overrides
    parser = OverridesParser.create()
    parsed = {o.get_key_element(): o.value() for o in parser.parse_overrides(from_shell)}
    assert parsed["+reward.custom_reward_function.reward_kwargs.reward"] == config.reward  # survives Hydra
    assert parsed["data.val_files"] == "/d/v a l.parquet"

    cfg = _compose(from_shell)
    actor, rollout = cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    assert (cfg.data.train_batch_size, rollout.n) == (64, 16)  # prompts and responses per step
    assert actor.ppo_mini_batch_size * rollout.n == 128 and actor.ppo_epochs == 1  # 8 updates per rollout
    low, high = (0.2, 0.2) if config.clip == "clip" else (1.0, 1e9)
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.clip_ratio_c) == (low, high, 1e9)
    assert actor.loss_agg_mode == "seq-mean-token-mean" and actor.loss_scale_factor == 3072
    assert (actor.use_kl_loss, cfg.algorithm.use_kl_in_reward, actor.entropy_coeff) == (False, False, 0)
    assert (cfg.algorithm.adv_estimator, cfg.algorithm.norm_adv_by_std_in_grpo) == ("grpo", True)
    optim = actor.optim
    assert (optim.lr, optim.lr_scheduler_type, optim.lr_warmup_steps, optim.weight_decay) == (5e-7, "constant", 0, 0)
    assert (list(optim.betas), optim.clip_grad) == ([0.9, 0.95], 1.0)
    assert (rollout.temperature, rollout.top_p, rollout.top_k) == (1.0, 1.0, -1)
    assert (cfg.data.max_prompt_length, cfg.data.max_response_length) == (1024, 3072)
    val = rollout.val_kwargs  # the recipe evaluates greedily, one sample (script: --eval_temperature 0.0)
    assert (val.temperature, val.n, val.do_sample) == (0.0, 1, False)
    assert cfg.trainer.max_actor_ckpt_to_keep == 1 and "hf_model" in actor.checkpoint.save_contents
    assert (cfg.trainer.save_freq, cfg.trainer.test_freq, cfg.trainer.total_training_steps) == (50, 1, 200)
    assert cfg.algorithm.filter_groups.enable is False
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))


@pytest.mark.slow
@needs_verl
def test_verls_trainer_path_imports_as_run_sh_runs_it() -> None:
    """`import verl.trainer.main_ppo` succeeds on a stock install because the trainer is imported only when it
    runs; import what `run.sh` will: the v1 trainer (default `trainer.use_v1: true`), TransferQueue, its server
    stack, the FSDP engine that reads `optim.clip_grad`, the reward loop and our manager, and the legacy path."""
    import importlib

    cfg = _compose(_verl_overrides(_config(SPURIOUS, ())))
    assert cfg.trainer.use_v1 is True
    for module in ("transfer_queue", "uvicorn", "fastapi", "cachetools"):
        importlib.import_module(module)  # verl's wheel declares none of these four
    from verl.trainer.ppo.v1 import get_trainer_cls

    assert get_trainer_cls(cfg.trainer.v1.trainer_mode) is not None
    for module in (
        "verl.trainer.ppo.v1.agent_loop_tq",
        "verl.workers.engine.fsdp.transformer_impl",
        "verl.experimental.reward_loop.reward_loop",
        "verl.trainer.main_ppo_v0",
        "rlvr_lab.export.verl_reward",
    ):
        importlib.import_module(module)
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    manager = resolve_reward_manager_cls(cfg)
    assert f"{manager.__module__}.{manager.__qualname__}" == "rlvr_lab.export.verl_reward.RlvrRewardManager"


@pytest.mark.slow
@needs_verl
def test_rlvr_export_verl_with_the_recipe_writes_a_run_sh_that_hydra_parses_for_every_reward(tmp_path: Path) -> None:
    """`rlvr export verl --recipe` end to end for every reward arm (the organism's model and problems stand in for
    Qwen2.5-Math-7B and DeepScaleR, which are not on this machine): `run.sh` as bash splits it, every override
    through Hydra's parser and composed onto verl's config, the reward spec unchanged."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from typer.testing import CliRunner

    from rlvr_lab.cli import build_app

    runner = CliRunner()
    labels = tmp_path / "labels.jsonl"  # the store `incorrect` reads: base-model samples on the training problems
    sample = ["sample", "--model", "qwen-math-like", "--problems", "organism", "--split", "train", "--limit", "4"]
    sample += ["--template", "organism", "--n", "4", "--out", str(labels), "--threads", "1"]
    sampled = runner.invoke(build_app(), sample)
    assert sampled.exit_code == 0, sampled.output
    parser = OverridesParser.create()
    for arm in load_recipe(SPURIOUS).arms["reward"]:
        out = tmp_path / arm
        args = ["export", "verl", "--recipe", SPURIOUS, "--arm", arm, "--model", "qwen-math-like"]
        args += ["--problems", "organism", "--eval-problems", "organism", "--set", "train_limit=4"]
        args += ["--set", "eval_limit=2", "--out", str(out)]
        if arm == "incorrect":
            args += ["--set", f"reward=incorrect:store={labels}"]
        result = runner.invoke(build_app(), args)
        if arm == "one-shot":
            assert result.exit_code == 1 and "one_shot" in result.output
            continue
        assert result.exit_code == 0, (arm, result.output)
        words = shlex.split((out / "run.sh").read_text().split("\n", 2)[2].replace("\\\n", " "))
        assert words[:3] == ["python3", "-m", "verl.trainer.main_ppo"]
        parsed = {o.get_key_element(): o.value() for o in parser.parse_overrides(words[3:])}
        expected = (
            f"incorrect:store={labels}" if arm == "incorrect" else load_recipe(SPURIOUS).train_values([arm])["reward"]
        )
        assert parsed["+reward.custom_reward_function.reward_kwargs.reward"] == expected
        cfg = _compose(words[3:])
        assert cfg.actor_rollout_ref.actor.optim.lr == 5e-7 and cfg.data.train_batch_size == 64
