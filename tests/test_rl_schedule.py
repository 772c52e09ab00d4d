"""Schedule, presets, config resolution, learning rate, data order and one-shot selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_lab.rl.config import TrainConfig, field_docs, load_config_file, resolve_config, save_config
from rlvr_lab.rl.data import one_shot_scores, resolve_one_shot, select_one_shot, step_problems
from rlvr_lab.rl.schedule import PRESETS, Schedule, learning_rate
from rlvr_lab.tasks.problem import Problem

# (preset, updates per rollout, on-policy)
PRESET_CASES = [
    ("clip", 4, False),
    ("no-clip", 4, False),
    ("on-policy-batch", 1, True),
    ("small-rollout", 1, True),
    ("paper", 8, False),
    ("paper-on-policy", 1, True),
    ("paper-no-clip", 8, False),
    ("paper-small-rollout", 1, True),
]


@pytest.mark.parametrize(("preset", "updates", "on_policy"), PRESET_CASES)
def test_presets(preset: str, updates: int, on_policy: bool) -> None:
    config = resolve_config(cli_values={"preset": preset})
    schedule = config.schedule()
    assert (schedule.updates_per_rollout, schedule.on_policy) == (updates, on_policy)
    assert config.clip == ("none" if preset.endswith("no-clip") else "clip")
    assert ("on-policy" if on_policy else "off-policy") in schedule.describe()


def test_paper_preset_is_the_spurious_rewards_schedule() -> None:
    config = resolve_config(cli_values={"preset": "paper"})
    schedule = config.schedule()
    assert (schedule.prompts_per_step, schedule.group_size, schedule.mini_batch_size) == (64, 16, 128)
    assert (config.eps_low, config.eps_high, config.kl_coef, config.clip) == (0.2, 0.2, 0.0, "clip")
    control = resolve_config(cli_values={"preset": "paper-on-policy"}).schedule()
    assert control.rollout_size == schedule.rollout_size == control.mini_batch_size


def test_schedule_arithmetic_and_validation() -> None:
    s = Schedule(prompts_per_step=8, group_size=4, mini_batch_size=8, epochs=2)
    assert (s.rollout_size, s.mini_batches_per_epoch, s.updates_per_rollout, s.on_policy) == (32, 4, 8, False)
    assert "32 completions; mini-batch 8, 2 epoch(s) → 8 optimiser update(s)" in s.describe()
    with pytest.raises(ValueError, match="must divide the rollout"):
        Schedule(prompts_per_step=3, group_size=4, mini_batch_size=8, epochs=1)
    with pytest.raises(ValueError, match="group_size must be >= 1"):
        Schedule(prompts_per_step=3, group_size=0, mini_batch_size=8, epochs=1)


def test_resolution_order(tmp_path: Path) -> None:
    # preset < file < command line
    file_values = {"preset": "no-clip", "group_size": 4, "lr": 1e-3}
    config = resolve_config(file_values, {"lr": 5e-4})
    assert (config.clip, config.group_size, config.prompts_per_step, config.lr) == ("none", 4, 16, 5e-4)
    assert resolve_config({"preset": "no-clip", "clip": "clip"}).clip == "clip"  # explicit beats the preset
    with pytest.raises(ValueError, match="unknown config key"):
        resolve_config({"learning_rate": 1e-3})
    presets = (
        "clip, no-clip, on-policy-batch, paper, paper-no-clip, paper-on-policy, paper-small-rollout, small-rollout"
    )
    with pytest.raises(ValueError, match=f"choose one of: {presets}"):
        resolve_config({"preset": "clipped"})
    with pytest.raises(ValueError, match="choose one of: dr_grpo, gae, grpo"):
        resolve_config({"advantage": "ppo"})
    save_config(config, tmp_path / "config.yaml")
    assert resolve_config(load_config_file(tmp_path / "config.yaml")) == config
    assert TrainConfig() == resolve_config()  # the defaults are the clip preset


def test_every_field_has_help() -> None:
    docs = field_docs()
    assert set(docs) == set(TrainConfig.__dataclass_fields__)
    assert docs["steps"] == "Training steps (rollouts)."


def test_the_loss_fields_are_written_once_on_loss_config() -> None:
    """TrainConfig carries LossConfig's fields flat (one CLI option each) with LossConfig's defaults and docs."""
    from dataclasses import fields

    from rlvr_lab.rl.losses import LossConfig

    loss_docs = field_docs(LossConfig)
    for f in fields(LossConfig):
        assert TrainConfig.__dataclass_fields__[f.name].default == f.default, f.name
        assert field_docs()[f.name] == loss_docs[f.name]
    assert TrainConfig(eps_low=0.1, eps_high=0.3).loss() == LossConfig(eps_low=0.1, eps_high=0.3)


LR_CASES = [
    # (step, total, warmup, schedule, expected fraction of the peak)
    (1, 10, 0, "constant", 1.0),
    (1, 10, 2, "constant", 0.5),
    (2, 10, 2, "linear", 1.0),
    (6, 10, 2, "linear", 0.5),
    (10, 10, 2, "linear", 0.0),
    (6, 10, 2, "cosine", 0.5),
    (10, 10, 0, "cosine", 0.0),
]


@pytest.mark.parametrize(("step", "total", "warmup", "schedule", "fraction"), LR_CASES)
def test_learning_rate(step: int, total: int, warmup: int, schedule: str, fraction: float) -> None:
    assert learning_rate(step, total, 2e-4, warmup, schedule) == pytest.approx(2e-4 * fraction, abs=1e-18)


def test_data_order_is_a_pure_function_of_seed_and_step() -> None:
    problems = [Problem(f"p{i}", "", "") for i in range(5)]
    steps = [[p.id for p in step_problems(problems, 7, s, 2)] for s in range(1, 6)]
    flat = [pid for step in steps for pid in step]
    assert sorted(flat[:5]) == sorted(flat[5:]) == [p.id for p in problems]  # each epoch is a permutation
    assert flat[:5] != flat[5:]  # reshuffled per epoch
    assert [p.id for p in step_problems(problems, 7, 3, 2)] == steps[2]  # no hidden state
    assert [p.id for p in step_problems(problems[:1], 7, 4, 3)] == ["p0"] * 3  # one problem fills every slot


def _problem_log(run: Path, records: list[dict]) -> Path:
    run.mkdir()
    (run / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_one_shot_selects_the_largest_accuracy_variance(tmp_path: Path) -> None:
    run = _problem_log(
        tmp_path / "run",
        [
            {"step": 1, "accuracy": {"a": 0.0, "b": 0.5, "c": 1.0}},
            {"step": 2, "accuracy": {"a": 1.0, "b": 0.5}},
            {"step": 3, "accuracy": {"a": 0.5, "b": 0.75}},
        ],
    )
    # a: var(0, 1, .5) = 1/6; b: var(.5, .5, .75) = 1/72; c was seen once
    scores = one_shot_scores({"a": [0.0, 1.0, 0.5], "b": [0.5, 0.5, 0.75], "c": [1.0]})
    assert scores == pytest.approx({"a": 1 / 6, "b": 1 / 72})
    assert select_one_shot(run) == "a"
    problems = [Problem(pid, "", "") for pid in "abc"]
    assert [p.id for p in resolve_one_shot(str(run), problems)] == ["a"]
    assert [p.id for p in resolve_one_shot("c", problems)] == ["c"]
    with pytest.raises(ValueError, match="not among the 3 training problems"):
        resolve_one_shot("z", problems)
    lonely = _problem_log(tmp_path / "lonely", [{"step": 1, "accuracy": {"a": 0.5}}])
    with pytest.raises(ValueError, match="two or more steps"):
        select_one_shot(lonely)


def test_presets_registry() -> None:
    assert PRESETS.names() == [
        "clip",
        "no-clip",
        "on-policy-batch",
        "paper",
        "paper-no-clip",
        "paper-on-policy",
        "paper-small-rollout",
        "small-rollout",
    ]
