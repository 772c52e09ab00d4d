"""The bugs of issue 24's table, each with the test that catches it, and a check that it still does.

Each entry of :data:`PLANTED` is a plausible bug written as a text edit of one source file (``old`` → ``new``) and
the tests that must fail with it. The fast tests below are the ones the table's bugs slipped past before (clip
bounds only tested with ε_low = ε_high, alignment tested with both arms in the same order, clip fractions checked
as ``sum > 0``, a resume compared on lines it never rewrites). The slow test puts each bug back into a copy of
``src/`` and runs its tests there: they must fail. The fast test checks every ``old`` text still occurs exactly
once, so an edit of the code cannot silently retire a bug from this list.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from rlvr_lab.backends.trl_config import trl_plan
from rlvr_lab.cli import build_app
from rlvr_lab.rl.config import resolve_config
from rlvr_lab.rl.dapo import shape_rewards
from rlvr_lab.rl.estimate import estimate_advantages
from rlvr_lab.studies.evaluation import SetStats
from rlvr_lab.studies.findings import change
from test_export_verl import _overrides
from test_trl_backend import _records, _tiny_setup

ROOT = Path(__file__).resolve().parents[1]
HERE = "tests/test_planted_bugs.py"


@dataclass(frozen=True)
class Bug:
    """A bug as an edit of ``path`` (``old`` → ``new``, ``old`` occurring once) and the tests that catch it."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


PLANTED = (
    Bug(
        "epsilon and epsilon_high swapped in the TRL plan",
        "src/rlvr_lab/backends/trl_config.py",
        '"epsilon": NO_CLIP_EPSILON if config.clip == "none" else config.eps_low,',
        '"epsilon": NO_CLIP_EPSILON if config.clip == "none" else config.eps_high,',
        (f"{HERE}::test_trl_plan_keeps_asymmetric_epsilon", f"{HERE}::test_trl_clip_fractions_equal_trls_own"),
    ),
    Bug(
        "eps_low and eps_high swapped in our clipped loss",
        "src/rlvr_lab/rl/losses.py",
        "torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)",
        "torch.clamp(ratio, 1.0 - eps_high, 1.0 + eps_low)",
        ("tests/test_rl_losses_edges.py::test_asymmetric_loss_and_clip_fractions_hand_computed",),
    ),
    Bug(
        "clip_ratio_low and clip_ratio_high swapped in the verl export",
        "src/rlvr_lab/export/verl.py",
        "low, high = config.eps_low, config.eps_high",
        "low, high = config.eps_high, config.eps_low",
        (f"{HERE}::test_verl_export_keeps_asymmetric_epsilon",),
    ),
    Bug(
        "paired evaluation ignores the requested problem order",
        "src/rlvr_lab/studies/evaluation.py",
        "return values[[index[pid] for pid in order]]",
        "return values",
        (f"{HERE}::test_paired_change_aligns_problems_by_id",),
    ),
    Bug(
        "ReMax baseline = the sample mean instead of the greedy reward",
        "src/rlvr_lab/rl/estimate.py",
        "estimator(rewards, greedy_rewards())",
        "estimator(rewards, rewards.mean(dim=1))",
        (f"{HERE}::test_remax_baseline_is_the_drawn_greedy_reward",),
    ),
    Bug(
        "DAPO overlong penalty sign flipped",
        "src/rlvr_lab/rl/dapo.py",
        "rewards = rewards + overlong_penalty(",
        "rewards = rewards - overlong_penalty(",
        (f"{HERE}::test_dapo_overlong_penalty_lowers_the_reward",),
    ),
    Bug(
        "the TRL callback's clip-fraction advantage sign flipped",
        "src/rlvr_lab/backends/trl_run.py",
        "low = ((ratio < 1.0 - self.eps_low) & (adv < 0))",
        "low = ((ratio < 1.0 - self.eps_low) & (adv > 0))",
        (f"{HERE}::test_trl_clip_fractions_equal_trls_own",),
    ),
    Bug(
        "a TRL resume that starts over instead of from its checkpoint",
        "src/rlvr_lab/backends/trl_run.py",
        "trainer.train(resume_from_checkpoint=checkpoint)",
        "trainer.train(resume_from_checkpoint=None)",
        (f"{HERE}::test_trl_resume_follows_the_uninterrupted_run",),
    ),
    Bug(
        "a typo in the unshare command line",
        "src/rlvr_lab/grading/sandbox.py",
        '"--kill-child", "--mount-proc"]',
        '"--kill-child", "--mount-porc"]',
        (  # auto's choice where unshare is the strongest backend; unshare itself where bubblewrap is installed
            "tests/test_code_sandbox.py::test_auto_chooses_the_strongest_backend_this_machine_allows",
            "tests/test_code_sandbox.py::test_namespace_backends_give_a_private_network_and_pid_namespace",
        ),
    ),
    Bug(
        "the unshare backend quietly running a plain subprocess",
        "src/rlvr_lab/grading/sandbox.py",
        'if backend == "unshare":',
        'if backend == "unshared":',
        ("tests/test_code_sandbox.py::test_namespace_backends_give_a_private_network_and_pid_namespace",),
    ),
    Bug(
        "the sandbox's nonce not checked",
        "src/rlvr_lab/grading/execution.py",
        'if report.get("nonce") == nonce:',
        "if True:",
        ("tests/test_code_sandbox.py::test_attack_gets_a_verdict_and_never_passes",),
    ),
    Bug(
        "the first mini-batch's own forward kept as π_old for the whole first epoch (past the first step)",
        "src/rlvr_lab/rl/update.py",
        "if not grad_norms:  # before the first step: this forward is π_old",
        "if epoch is plan[0]:",
        ("tests/test_rl_update.py::test_mini_batches_after_a_step_are_scored_against_the_policy_before_it",),
    ),
    Bug(
        "the first mini-batch's π_old never written (left 0 for later epochs)",
        "src/rlvr_lab/rl/update.py",
        "old[rows, :C] = logprobs.detach()",
        "pass",
        ("tests/test_rl_update.py::test_old_logprobs_reproduce_the_training_forward_exactly",),
    ),
    Bug(
        "pass@k off by one",
        "src/rlvr_lab/metrics/passk.py",
        "np.maximum(wrong - j, 0.0)",
        "np.maximum(wrong - j - 1, 0.0)",
        ("tests/test_metrics_passk.py::test_matches_exact_binomials_every_k",),
    ),
)


def test_every_planted_bug_still_applies_and_names_existing_tests() -> None:
    for bug in PLANTED:
        text = (ROOT / bug.path).read_text(encoding="utf-8")
        assert text.count(bug.old) == 1, f"{bug.path}: {bug.old!r} must occur once ({bug.name}); update PLANTED"
        for test in bug.tests:
            file, name = test.split("::")
            assert f"def {name}(" in (ROOT / file).read_text(encoding="utf-8"), f"{test} not found ({bug.name})"


@pytest.mark.slow
@pytest.mark.parametrize("bug", PLANTED, ids=[bug.name for bug in PLANTED])
def test_each_planted_bug_fails_its_tests(bug: Bug, tmp_path: Path) -> None:
    """Put ``bug`` into a copy of src/ and run its tests against that copy: they must fail."""
    shutil.copytree(ROOT / "src", tmp_path / "src")
    target = tmp_path / bug.path
    target.write_text(target.read_text(encoding="utf-8").replace(bug.old, bug.new), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "", *bug.tests]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert f"{tmp_path / 'src'}" in _imported_from(env), "the copy was not the package the tests imported"
    assert done.returncode == 1, f"{bug.name}: its tests did not fail (exit {done.returncode}):\n{done.stdout[-2000:]}"


def _imported_from(env: dict[str, str]) -> str:
    code = "import rlvr_lab; print(rlvr_lab.__file__)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


# --------------------------------------------------------------------------------------- asymmetric ε, every backend


def test_trl_plan_keeps_asymmetric_epsilon(tmp_path: Path) -> None:
    trl = pytest.importorskip("trl")
    config = resolve_config(cli_values={"preset": "clip", "eps_low": 0.1, "eps_high": 0.3})
    args = trl.GRPOConfig(output_dir=str(tmp_path), use_cpu=True, **trl_plan(config).kwargs)
    assert (args.epsilon, args.epsilon_high) == (0.1, 0.3)  # TRL: clamp(ρ, 1 - epsilon, 1 + epsilon_high)


def test_verl_export_keeps_asymmetric_epsilon() -> None:
    got = _overrides(clip="clip", eps_low=0.1, eps_high=0.3)
    assert got["actor_rollout_ref.actor.clip_ratio_low"] == "0.1"  # verl: clamp(ρ, 1 - low, 1 + high)
    assert got["actor_rollout_ref.actor.clip_ratio_high"] == "0.3"


def test_trl_clip_fractions_equal_trls_own(tmp_path: Path) -> None:
    """Our callback's clip fractions against TRL's ``clip_ratio/low_mean`` and ``high_mean``, update by update.

    Asymmetric bounds small enough that both sides clip (2 updates per rollout at a high learning rate), read from
    the log history TRL saves with its checkpoint.
    """
    pytest.importorskip("trl")
    values = {"reward": "random:0.5", "prompts_per_step": 2, "group_size": 4, "mini_batch_size": 2, "steps": 2}
    values |= {"lr": 0.05, "max_new_tokens": 6, "save_every": 1, "clip": "clip", "eps_low": 0.02, "eps_high": 0.01}
    config = _tiny_setup(tmp_path, **values)
    out = tmp_path / "run"
    result = CliRunner().invoke(build_app(), ["train", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    state = max((out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    updates = [h for h in json.loads((state / "trainer_state.json").read_text())["log_history"] if "loss" in h]
    assert len(updates) == 8  # 2 rollouts × 4 updates
    for side in ("low", "high"):
        ours = [h[f"rlvr/clip_frac_{side}"] for h in updates]
        theirs = [h[f"clip_ratio/{side}_mean"] for h in updates]
        assert ours == pytest.approx(theirs, abs=1e-6), side
        assert sum(theirs) > 0, f"no token clipped on the {side} side: the comparison would be vacuous"


# --------------------------------------------------------------------------------------- alignment by problem id


def _stats(ids: tuple[str, ...], accuracy: list[float]) -> SetStats:
    values = np.array(accuracy)
    return SetStats(len(ids), 4, float(values.mean()), 0.0, ids, values, np.zeros(len(ids)))


def test_paired_change_aligns_problems_by_id() -> None:
    before = _stats(("a", "b", "c"), [0.25, 0.5, 0.75])
    after = _stats(("c", "a", "b"), [1.0, 0.25, 0.5])  # a and b unchanged, c up by 0.25, in another order
    np.testing.assert_allclose(change(before, after, "accuracy"), [0.0, 0.0, 0.25])
    np.testing.assert_allclose(change(after, before, "accuracy"), [-0.25, 0.0, 0.0])  # in the first's order
    with pytest.raises(ValueError, match="cover different problems"):
        change(before, _stats(("a", "b", "d"), [0.0, 0.0, 0.0]), "accuracy")


# --------------------------------------------------------------------------------------- ReMax and DAPO


def test_remax_baseline_is_the_drawn_greedy_reward() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    drawn = []

    def greedy() -> torch.Tensor:  # what the trainer's greedy rollout returns: one reward per prompt
        drawn.append(True)
        return torch.tensor([1.0, 0.0])

    got = estimate_advantages("remax", rewards, None, greedy, None, micro_batch_size=8)  # type: ignore[arg-type]
    assert drawn == [True]  # drawn once per step, only for ReMax
    assert got.values.tolist() == [0.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 0.0]  # r - greedy, not r - mean
    estimate_advantages("grpo", rewards, None, greedy, None, micro_batch_size=8)  # type: ignore[arg-type]
    assert drawn == [True]


def test_dapo_overlong_penalty_lowers_the_reward() -> None:
    # budget 20, buffer 8: lengths 5 and 12 free, 16 costs 0.5, 20 (cut at the budget) the full penalty 1
    rewards = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    lengths = torch.tensor([[5, 20], [16, 12], [5, 12]])
    shaped, kept = shape_rewards(rewards, lengths, 20, 8, 1.0, dynamic_sampling=False)
    assert shaped.tolist() == [[1.0, -1.0], [0.5, 1.0], [0.0, 0.0]] and kept == [0, 1, 2]
    shaped, kept = shape_rewards(rewards, lengths, 20, 8, 1.0, dynamic_sampling=True)
    assert kept == [0, 1] and shaped.tolist() == [[1.0, -1.0], [0.5, 1.0]]  # the all-equal group left out


# --------------------------------------------------------------------------------------- resume


@pytest.mark.slow
def test_trl_resume_follows_the_uninterrupted_run(tmp_path: Path) -> None:
    """3 rollouts in one go against 1, killed, then resumed to 3: the same metrics and the same final weights."""
    pytest.importorskip("trl")
    values = {"reward": "random:0.5", "prompts_per_step": 2, "group_size": 4, "mini_batch_size": 4, "steps": 3}
    config = _tiny_setup(tmp_path, lr=0.01, max_new_tokens=6, save_every=1, **values)

    def train(out: Path, *extra: str) -> None:
        result = CliRunner().invoke(build_app(), ["train", str(config), "--out", str(out), "--quiet", *extra])
        assert result.exit_code == 0, result.output

    train(tmp_path / "whole")
    train(tmp_path / "resumed", "--steps", "1")
    train(tmp_path / "resumed", "--steps", "3", "--resume")
    whole, resumed = _records(tmp_path / "whole"), _records(tmp_path / "resumed")
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    timing = ("time", "seconds", "per_s")
    for a, b in zip(whole, resumed, strict=True):
        for key, value in a.items():
            if isinstance(value, float) and not any(word in key for word in timing):
                assert _same(value, b[key]), (a["step"], key, value, b[key])
    final = [load_file(run / "model" / "model.safetensors") for run in (tmp_path / "whole", tmp_path / "resumed")]
    for name, tensor in final[0].items():
        torch.testing.assert_close(final[1][name], tensor, rtol=0, atol=1e-6, msg=name)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-5, abs=1e-7)
