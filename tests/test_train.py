"""The trainer end to end on a tiny config-built Llama with the character tokenizer (no organism needed).

Checks: a killed-and-resumed run logs exactly the metrics of an uninterrupted one (in process, and with a real
subprocess killed by SIGKILL); each clipping preset runs and logs its clip fractions, exactly zero for the
on-policy presets; one-shot training fills every slot with one problem; the logs carry the documented keys.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.rl.algorithms import options_for
from rlvr_lab.rl.config import TrainConfig, resolve_config
from rlvr_lab.rl.logger import STEP_KEYS
from rlvr_lab.rl.trainer import setup_run, train

TIMING = ("perf/step_time", "perf/rollout_time", "perf/update_time", "perf/tokens_per_s", "perf/samples_per_s")


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model folder and a problem file of 12 sums."""
    root = tmp_path_factory.mktemp("assets")
    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=32, num_layers=2, num_heads=2, seed=0)
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    with (root / "problems.jsonl").open("w") as f:
        for i in range(12):
            f.write(json.dumps({"id": f"q{i:02d}", "problem": f"{i}+{i}=", "answer": str(2 * i)}) + "\n")
    return root


SMALL_SCHEDULE = {"prompts_per_step": 3, "group_size": 4, "mini_batch_size": 6}
"""12 completions per step, two updates of 6: off-policy, so the old-log-prob pass and clipping are exercised."""


def _config(assets: Path, out: Path, schedule: dict | None = None, **overrides: object) -> TrainConfig:
    values = {
        "model": str(assets / "model"),
        "out": str(out),
        "train_data": str(assets / "problems.jsonl"),
        "eval_data": str(assets / "problems.jsonl"),
        "eval_limit": 3,
        "eval_samples": 2,
        "prompt": "none",
        "steps": 4,
        **(SMALL_SCHEDULE if schedule is None else schedule),
        "max_new_tokens": 10,
        "reward": "random:0.5",
        "lr": 1e-2,
        "eval_every": 2,
        "save_every": 1,
        "tensorboard": False,
        "seed": 3,
        "threads": 1,  # tiny matrices: one thread avoids spinning thread pools on a shared machine
        **overrides,
    }
    return resolve_config(cli_values=values)


def _records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "model" / "model.safetensors")


@pytest.fixture(scope="module")
def uninterrupted(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(_config(assets, tmp_path_factory.mktemp("full") / "run"), show_progress=False)


def test_logs_carry_the_documented_keys(uninterrupted: Path) -> None:
    records = _records(uninterrupted)
    assert [r["step"] for r in records] == [0, 1, 2, 3, 4]
    assert set(records[0]) == {
        "step",
        "eval/accuracy",
        "eval/pass@2",
        "eval/greedy_accuracy",
        "eval/code_frequency",
        "eval/code_entry_prob",
        "eval/boxed_rate",
        "eval/length_mean",
    }
    for record in records[1:]:
        assert set(STEP_KEYS) - set(TIMING) <= set(record)
        assert 0.0 <= record["reward/mean"] <= 1.0 and record["train/accuracy"] == 0.0  # random model, random reward
        assert record["optim/updates"] == 2.0  # 12 completions / mini-batch 6, one epoch
        # float32 on both sides: the KV-cached sampler and the trainer's full forward agree to rounding
        assert record["perf/dtype"] == "float32" and record["actor/logprob_mismatch"] < 1e-4
        # no token of the char tokenizer spells "python": no code entry, every response's first token decides
        assert math.isnan(record["strategy/code_entry_prob"])
        assert 0.0 <= record["actor/clip_frac_strategy"] <= 1.0 and 0.0 <= record["actor/clip_frac_not_strategy"] <= 1.0
    assert "eval/accuracy" in records[2] and "eval/accuracy" in records[4] and "eval/accuracy" not in records[3]
    problems = [json.loads(line) for line in (uninterrupted / "problems.jsonl").read_text().splitlines()]
    assert [p["step"] for p in problems] == [1, 2, 3, 4]
    assert all(len(p["accuracy"]) == 3 for p in problems)  # 3 distinct problems per step (12 per epoch)
    assert (uninterrupted / "model" / "model.safetensors").is_file()
    assert (uninterrupted / "eval" / "step_000004.jsonl").is_file()


def test_stopped_and_resumed_run_matches_uninterrupted(assets: Path, tmp_path: Path, uninterrupted: Path) -> None:
    config = _config(assets, tmp_path / "run")
    train(config, stop_after=2, show_progress=False)
    assert [r["step"] for r in _records(tmp_path / "run")] == [0, 1, 2]
    with pytest.raises(FileExistsError, match="--resume"):
        train(config, show_progress=False)
    train(config, resume=True, show_progress=False)
    assert _records(tmp_path / "run") == _records(uninterrupted)
    resumed, full = _weights(tmp_path / "run"), _weights(uninterrupted)
    assert all(torch.equal(resumed[k], full[k]) for k in full)


def test_resumed_ppo_run_keeps_its_critic(assets: Path, tmp_path: Path) -> None:
    """PPO's value model and its optimiser travel in the checkpoint: a run stopped after step 2 and resumed logs
    the value losses and weights of an uninterrupted one (a fresh critic at step 3 would log another loss)."""
    ppo = {**options_for("ppo", 10), "steps": 3, "eval_every": 0}
    full = train(_config(assets, tmp_path / "full", **ppo), show_progress=False)
    config = _config(assets, tmp_path / "run", **ppo)
    train(config, stop_after=2, show_progress=False)
    train(config, resume=True, show_progress=False)
    records, expected = _records(tmp_path / "run"), _records(full)
    assert [r.get("critic/value_loss") for r in records] == [r.get("critic/value_loss") for r in expected]
    assert records == expected
    resumed, uninterrupted_weights = _weights(tmp_path / "run"), _weights(full)
    assert all(torch.equal(resumed[k], uninterrupted_weights[k]) for k in uninterrupted_weights)


def test_resume_refuses_a_different_config(assets: Path, tmp_path: Path) -> None:
    train(_config(assets, tmp_path / "run", steps=1), show_progress=False)
    with pytest.raises(ValueError, match=r"lr: saved 0\.01, now 0\.02"):
        train(_config(assets, tmp_path / "run", steps=2, lr=2e-2), resume=True, show_progress=False)
    with pytest.raises(ValueError, match=r"decoder: saved 'auto', now 'generic'"):
        train(_config(assets, tmp_path / "run", steps=2, decoder="generic"), resume=True, show_progress=False)
    # a run written before a field existed resumes: the missing field is its default, which is how that run ran
    saved = tmp_path / "run" / "config.yaml"
    saved.write_text("".join(line for line in saved.read_text().splitlines(True) if not line.startswith("decoder:")))
    train(_config(assets, tmp_path / "run", steps=2), resume=True, show_progress=False)


@pytest.mark.slow
def test_killed_subprocess_resumes_the_same_trajectory(assets: Path, tmp_path: Path, uninterrupted: Path) -> None:
    """SIGKILL a real `rlvr train` process as soon as its first step is logged (mid-run), then resume it."""
    config = _config(assets, tmp_path / "run")
    flags = {k.replace("_", "-"): v for k, v in config.to_dict().items() if v is not None and k != "one_shot"}
    # booleans are --name / --no-name switches; everything else --name=value
    args = [(f"--{k}" if v else f"--no-{k}") if isinstance(v, bool) else f"--{k}={v}" for k, v in flags.items()]
    cli = [sys.executable, "-c", "from rlvr_lab.cli import main; main()", "train", "--quiet", *args]
    proc = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.is_file() and '"step": 1' in metrics.read_text():
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert '"step": 4' not in metrics.read_text()  # it really died mid-run
    resumed = subprocess.run([*cli, "--resume"], capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert _records(tmp_path / "run") == _records(uninterrupted)


@pytest.mark.parametrize(
    ("preset", "on_policy"), [("clip", False), ("no-clip", False), ("on-policy-batch", True), ("small-rollout", True)]
)
def test_presets_log_clip_fractions(assets: Path, tmp_path: Path, preset: str, on_policy: bool) -> None:
    # The presets' own schedules (up to 128 completions) with 6-token answers and a large learning rate.
    config = _config(
        assets, tmp_path / "run", schedule={}, preset=preset, steps=1, max_new_tokens=6, lr=5e-2, eval_every=0
    )
    assert config.schedule().on_policy == on_policy
    assert config.clip == ("none" if preset == "no-clip" else "clip")
    record = _records(train(config, show_progress=False))[1]
    low, high = record["actor/clip_frac_low"], record["actor/clip_frac_high"]
    if on_policy:
        assert low == high == 0.0
        assert record["optim/updates"] == 1.0
    else:
        assert record["optim/updates"] == 4.0
        assert low + high > 0.0  # four updates at lr 0.05 move the policy out of the trust region


def test_one_shot_fills_every_slot_and_tensorboard_logs(assets: Path, tmp_path: Path) -> None:
    config = _config(assets, tmp_path / "run", one_shot="q05", steps=1, eval_every=0, tensorboard=True)
    run = train(config, show_progress=False)
    problems = json.loads((run / "problems.jsonl").read_text().splitlines()[0])
    assert list(problems["accuracy"]) == ["q05"]
    assert list((run / "tb").glob("events.out.tfevents.*"))


def test_the_runs_fallbacks_grade_its_rewards_and_evaluations(assets: Path, tmp_path: Path) -> None:
    """``fallbacks`` reaches the one grader a run shares between its reward and its held-out evaluations."""
    run = setup_run(_config(assets, tmp_path / "run", reward="ground_truth", fallbacks="answer_is,last_number"), False)
    with run.grader:
        assert run.grader.config.fallbacks == ("answer_is", "last_number")
        two = next(p for p in run.held_out.problems if p.answer == "2")
        call = {"problem": two, "sample_indices": [0, 1, 2], "step": 0, "seed": 0}
        assert run.reward(completions=["so 1+1 is 2", "The answer is 2.", r"\boxed{3}"], **call) == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=r"^fallbacks: unknown"):
        _config(assets, tmp_path / "bad", fallbacks="last_numbr")


def test_float32_attention_reaches_the_policy_and_the_reference_fresh_or_resumed(assets: Path, tmp_path: Path) -> None:
    """``attention: float32`` sets the update's attention on the policy and on the frozen reference, also when a
    resumed run loads the reference anew from the base model; ``compute`` leaves transformers' own."""
    from rlvr_lab.rl.attention import FLOAT32_SDPA

    values = {"attention": "float32", "track_ref_kl": True, "dtype": "bfloat16"}
    train(_config(assets, tmp_path / "run", steps=2, **values), show_progress=False)
    resumed = setup_run(_config(assets, tmp_path / "run", steps=3, **values), resume=True)
    fresh = setup_run(_config(assets, tmp_path / "other", attention="float32", track_ref_kl=True), False)
    plain = setup_run(_config(assets, tmp_path / "plain", track_ref_kl=True), False)
    for run, expected in ((resumed, FLOAT32_SDPA), (fresh, FLOAT32_SDPA), (plain, "sdpa")):
        with run.grader:
            assert run.start == (2 if run is resumed else 0)
            assert run.model.config._attn_implementation == expected
            assert run.reference.config._attn_implementation == expected


@pytest.mark.slow
def test_compiled_run_trains_writes_its_setting_and_saves_plain_weight_names(assets: Path, tmp_path: Path) -> None:
    """``compile: true`` reaches the policy (its forward compiled), is written beside the results, and the saved
    model keeps the base model's weight names (``nn.Module.compile`` works in place, no ``_orig_mod.`` prefix)."""
    run_dir = train(_config(assets, tmp_path / "run", steps=2, compile=True), show_progress=False)
    assert "compile: true" in (run_dir / "config.yaml").read_text().splitlines()
    records = _records(run_dir)
    assert [r["step"] for r in records] == [0, 1, 2]
    assert all(math.isfinite(r["actor/pg_loss"]) for r in records[1:])
    assert set(_weights(run_dir)) == set(load_file(assets / "model" / "model.safetensors"))
    for compiled in (True, False):
        run = setup_run(_config(assets, tmp_path / f"fresh-{compiled}", compile=compiled), False)
        with run.grader:
            assert (getattr(run.model, "_compiled_call_impl", None) is not None) == compiled
