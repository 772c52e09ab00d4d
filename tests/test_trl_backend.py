"""`rlvr train --backend trl`: the GRPOConfig mapping, its refusals, and real TRL runs (1 process and 2 ranks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rlvr_lab.backends.trl_config import NO_CLIP_EPSILON, NO_CLIP_EPSILON_HIGH, UnsupportedByTRL, trl_plan
from rlvr_lab.backends.trl_reward import TRLReward
from rlvr_lab.cli import build_app
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.rewards.random_reward import uniform_draw
from rlvr_lab.rl.config import resolve_config
from rlvr_lab.rl.logger import STEP_KEYS

TRL_ABSENT = {"actor/kl", "actor/logprob_mismatch", "actor/logprob_mismatch_max"}
"""Keys a TRL run does not log: no reference model when beta is 0; TRL's generate returns no sampler log-probs to
compare with the trainer's."""

SRC = Path(__file__).resolve().parents[1] / "src"

SPURIOUS = {  # Shao et al. (2025): 64 prompts × 16 per rollout, mini-batch 128, lr 5e-7, no KL
    "prompts_per_step": 64,
    "group_size": 16,
    "mini_batch_size": 128,
    "micro_batch_size": 4,
    "lr": 5e-7,
    "reward": "random:0.5",
    "steps": 10,
}


def test_spurious_rewards_recipe_on_8_ranks() -> None:
    for preset, eps, eps_high in (("clip", 0.2, 0.2), ("no-clip", NO_CLIP_EPSILON, NO_CLIP_EPSILON_HIGH)):
        plan = trl_plan(resolve_config(cli_values={**SPURIOUS, "preset": preset}), world_size=8)
        k = plan.kwargs
        assert (plan.generation_batch_size, plan.optimiser_batch, plan.updates_per_rollout) == (1024, 128, 8)
        assert (k["per_device_train_batch_size"], k["gradient_accumulation_steps"], k["steps_per_generation"]) == (
            4,
            4,
            32,
        )
        assert (k["num_generations"], k["num_iterations"], k["max_steps"]) == (16, 1, 80)
        assert (k["epsilon"], k["epsilon_high"], k["beta"], k["learning_rate"]) == (eps, eps_high, 0.0, 5e-7)
        assert (k["loss_type"], k["scale_rewards"], k["shuffle_dataset"]) == ("grpo", "group", False)
    args = ["train", "--backend", "trl", "--dry-run", "--nproc", "8", "--preset", "clip"]
    args += [f"--{key.replace('_', '-')}={value}" for key, value in SPURIOUS.items()]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "steps_per_generation=32," in result.output and "epsilon=0.2," in result.output
    assert "generation_batch_size 1024 (= 64 prompts × 16)" in result.output
    assert "8 optimiser update(s) per rollout" in result.output
    assert "num_processes: 8" in result.output  # the accelerate config it would write


def test_plan_is_what_grpo_config_derives() -> None:
    trl = pytest.importorskip("trl")
    config = resolve_config(cli_values={"preset": "clip", "epochs": 2})
    plan = trl_plan(config, world_size=1)
    args = trl.GRPOConfig(output_dir="unused", use_cpu=True, bf16=False, **plan.kwargs)
    assert args.generation_batch_size == plan.generation_batch_size == 128
    updates = args.num_iterations * args.steps_per_generation // args.gradient_accumulation_steps
    assert updates == plan.updates_per_rollout == config.schedule().updates_per_rollout == 8


@pytest.mark.parametrize(
    ("values", "world_size", "message"),
    [
        ({"advantage": "rloo"}, 1, "advantage='rloo'"),
        ({"advantage": "reinforce_pp"}, 1, "advantage='reinforce_pp'"),
        ({"entropy_coef": 0.01}, 1, "entropy_coef=0.01"),
        ({"lr_schedule": "cosine"}, 1, "lr_schedule='cosine'"),
        ({"warmup_steps": 3}, 1, "warmup_steps=3"),
        ({"aggregation": "token-mean"}, 1, "aggregation='token-mean' with more than one update"),
        ({"dynamic_sampling": True}, 1, "dynamic_sampling=True: TRL's GRPOTrainer has no group filter"),
        ({}, 3, "mini_batch_size=32 does not split over 3 ranks"),
    ],
)
def test_options_trl_cannot_express_are_refused(values: dict, world_size: int, message: str) -> None:
    with pytest.raises(UnsupportedByTRL, match=message.replace("(", r"\(")):
        trl_plan(resolve_config(cli_values=values), world_size)


def test_token_mean_maps_with_one_update_and_cli_refusal_names_the_option() -> None:
    config = resolve_config(cli_values={"preset": "on-policy-batch", "aggregation": "token-mean"})
    assert trl_plan(config).kwargs["loss_type"] == "dapo"
    result = CliRunner().invoke(build_app(), ["train", "--backend", "trl", "--advantage", "rloo", "--dry-run"])
    assert result.exit_code != 0 and "advantage='rloo'" in result.output
    result = CliRunner().invoke(build_app(), ["train", "--nproc", "2", "--dry-run"])
    assert result.exit_code != 0 and "need --backend trl" in result.output


def test_group_rewards_refuse_split_groups_before_training() -> None:
    split = trl_plan(resolve_config(cli_values={"prompts_per_step": 3, "group_size": 4, "mini_batch_size": 12}), 2)
    assert not split.groups_whole_on_rank and split.rows_per_rank == 6
    TRLReward("random:0.5", 4).check_layout(split)  # per-sample: any slice is fine
    with pytest.raises(ValueError, match=r"make prompts_per_step a multiple of the world size \(2\)"):
        TRLReward("format&majority_vote", 4).check_layout(split)
    whole = trl_plan(resolve_config(cli_values={"prompts_per_step": 4, "group_size": 4, "mini_batch_size": 16}), 2)
    TRLReward("majority_vote", 4).check_layout(whole)


@pytest.mark.slow  # 15-55 s here: the grader's fork server imports math-verify
def test_unguarded_script_with_grading_reward_runs_and_exits_cleanly(tmp_path: Path) -> None:
    # Grader workers start through a fork server, which used to re-run the user's main script (no __main__ guard
    # here) inside every worker; and workers must not print tracebacks when the script ends without closing them.
    script = tmp_path / "train_script.py"
    script.write_text(
        textwrap.dedent(
            """
            from rlvr_lab.backends.trl_reward import TRLReward
            reward = TRLReward("ground_truth", group_size=2)
            # A symbolic answer needs math-verify, so a worker must start (numbers are decided in-process).
            print(reward(prompts=["Q"] * 2, completions=[r"so \\\\boxed{x^2+2x}", r"\\\\boxed{5}"],
                         problem_id=["a"] * 2, problem=["expand"] * 2, answer=["2x+x^2"] * 2))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 0.0]"
    assert "Traceback" not in done.stderr and "bootstrapping phase" not in done.stderr


# ------------------------------------------------------------------------------------------------------------------
# Real TRL runs


def _tiny_setup(tmp_path: Path, **values: object) -> Path:
    """A config-built model, six problems and a config file for a TRL run on them."""
    tokenizer = build_char_tokenizer()
    tiny_llama(len(tokenizer), hidden_size=32, num_layers=1, num_heads=2).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        "".join(json.dumps({"id": f"q{i}", "problem": f"{i}+1=", "answer": i + 1}) + "\n" for i in range(6))
    )
    config = {
        "backend": "trl",
        "model": str(tmp_path / "model"),
        "train_data": str(problems),
        "eval_data": str(problems),
        "eval_limit": 2,
        "prompt": "none",
        "max_new_tokens": 4,
        "eval_samples": 1,
        "save_every": 100,
        "tensorboard": False,
        "threads": 1,
        **values,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_trl_backend_writes_our_run_directory(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    config = _tiny_setup(tmp_path, prompts_per_step=2, group_size=4, mini_batch_size=4, steps=2, eval_every=1)
    out = tmp_path / "run"
    result = CliRunner().invoke(build_app(), ["train", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    records = _records(out)
    assert [r["step"] for r in records] == [0, 1, 2]
    expected = set(STEP_KEYS) - TRL_ABSENT
    for record in records[1:]:
        assert expected <= set(record), expected - set(record)
        assert record["optim/updates"] == 2 and "eval/accuracy" in record
        assert 0.0 <= record["train/accuracy"] <= 1.0 and record["response/length_mean"] <= 4
    assert (out / "eval" / "step_000002.jsonl").is_file() and (out / "model" / "rlvr_train.json").is_file()
    assert (out / "checkpoints" / "checkpoint-4" / "model.safetensors").is_file()  # 2 rollouts × 2 updates
    assert len((out / "problems.jsonl").read_text().splitlines()) == 2


def test_dapo_overlong_buffer_runs_as_trls_own_soft_punishment(tmp_path: Path) -> None:
    """DAPO's overlong buffer on TRL: TRL's own `get_soft_overlong_punishment` as a second reward with weight
    `overlong_penalty`, summed before the group normalisation; TRL accepts the weights and trains with them."""
    pytest.importorskip("trl")
    plan = trl_plan(resolve_config(cli_values={"overlong_buffer": 40, "overlong_penalty": 0.5}))
    assert plan.kwargs.get("reward_weights") == [1.0, 0.5]
    assert plan.kwargs.get("multi_objective_aggregation") == "sum_then_normalize"
    values = {"prompts_per_step": 2, "group_size": 4, "mini_batch_size": 8, "steps": 1, "eval_every": 0}
    config = _tiny_setup(tmp_path, **values, overlong_buffer=2, overlong_penalty=0.5)
    out = tmp_path / "run"
    result = CliRunner().invoke(build_app(), ["train", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in _records(out)] == [0, 1]


@pytest.mark.slow
def test_resume_extends_a_trl_run_from_its_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    config = _tiny_setup(tmp_path, prompts_per_step=2, group_size=4, mini_batch_size=4, steps=2, save_every=1)
    out = tmp_path / "run"
    first = CliRunner().invoke(build_app(), ["train", str(config), "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    before = _records(out)
    args = ["train", str(config), "--out", str(out), "--steps", "3", "--resume", "--quiet"]
    again = CliRunner().invoke(build_app(), args)
    assert again.exit_code == 0, again.output
    after = _records(out)
    assert [r["step"] for r in after] == [0, 1, 2, 3]
    assert [r["reward/mean"] for r in after[1:3]] == [r["reward/mean"] for r in before[1:3]]
    assert (out / "checkpoints" / "checkpoint-6").is_dir()  # 3 rollouts × 2 updates


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["clip", "no-clip"])
def test_organism_random_reward_runs_and_reports(preset: str, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    out = tmp_path / preset
    args = ["train", "--backend", "trl", "--model", "qwen-math-like", "--reward", "random:0.5", "--preset", preset]
    result = CliRunner().invoke(build_app(), [*args, "--steps", "3", "--out", str(out), "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    records = _records(out)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    for record in records[1:]:
        assert set(STEP_KEYS) - TRL_ABSENT <= set(record)
        assert record["optim/updates"] == 4
        assert 0.3 < record["reward/mean"] < 0.7  # Bernoulli(0.5) over 128 completions
    # The organism solves about half its problems whatever the signal; accuracy is measured, not rewarded.
    assert 0.2 < records[1]["train/accuracy"] < 0.8
    # 4 updates per rollout move the ratios: the clamp removes (clip) or would remove (no-clip) some tokens,
    # although TRL itself logs 0 under no-clip.
    assert sum(r["actor/clip_frac_high"] + r["actor/clip_frac_low"] for r in records[1:]) > 0
    for record in records[1:]:  # v1 enters code at its first token (the fence) in about 65% of answers
        assert 0.5 < record["strategy/code_entry_prob"] < 0.8
        assert 0.0 <= record["actor/clip_frac_strategy"] <= 1.0 and 0.0 <= record["actor/clip_frac_not_strategy"] <= 1.0
    clipped = [r["actor/clip_frac_strategy"] + r["actor/clip_frac_not_strategy"] for r in records[1:]]
    assert sum(clipped) > 0  # the split covers the tokens the clamp acts on
    assert yaml.safe_load((out / "config.yaml").read_text())["backend"] == "trl"
    report = CliRunner().invoke(build_app(), ["report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert preset in json.dumps(summary)


def _two_ranks(config: Path, log: Path, via_cli: bool) -> None:
    """Run ``config`` on 2 CPU ranks: with torchrun directly, or through ``rlvr train --nproc 2``."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun not found beside the interpreter")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(config.parent)]),
        "OMP_NUM_THREADS": "1",
        "RLVR_TEST_LOG": str(log),
    }
    if via_cli:
        command = [sys.executable, "-m", "rlvr_lab", "train", str(config), "--nproc", "2", "--quiet"]
    else:
        command = [torchrun, "--nproc_per_node", "2", "-m", "rlvr_lab.backends.trl_run", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Traceback" not in done.stderr


RECORDING_REWARD = '''
import json
import os

from rlvr_lab.rewards.random_reward import RandomReward

_RANDOM = RandomReward(0.5)


def record(*, problem, completions, sample_indices, step, seed):
    """random:0.5, and a line per call in $RLVR_TEST_LOG.<rank> saying which rows this rank scored."""
    values = _RANDOM(problem=problem, completions=completions, sample_indices=sample_indices, step=step, seed=seed)
    entry = {"step": step, "problem": problem.id, "indices": list(sample_indices), "values": values}
    with open(os.environ["RLVR_TEST_LOG"] + "." + os.environ["RANK"], "a") as f:
        f.write(json.dumps(entry) + "\\n")
    return values
'''


def _calls(log: Path, rank: int) -> list[dict]:
    return [json.loads(line) for line in Path(f"{log}.{rank}").read_text().splitlines()]


@pytest.mark.slow
def test_two_ranks_split_group_and_one_shot_draws(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    (tmp_path / "recording_reward.py").write_text(RECORDING_REWARD)
    common = {"reward": "recording_reward:record", "seed": 3, "steps": 2, "micro_batch_size": 6}

    # 3 prompts × 4 on 2 ranks: 6 rows each, so the second group is split 2 + 2 across the ranks.
    split = _tiny_setup(
        tmp_path, **common, prompts_per_step=3, group_size=4, mini_batch_size=12, out=str(tmp_path / "split")
    )
    _two_ranks(split, tmp_path / "split_log", via_cli=False)
    rank0, rank1 = _calls(tmp_path / "split_log", 0), _calls(tmp_path / "split_log", 1)
    for step in (1, 2):
        mine = [c for c in rank0 if c["step"] == step]
        theirs = [c for c in rank1 if c["step"] == step]
        assert [c["indices"] for c in mine] == [[0, 1, 2, 3], [4, 5]]
        assert [c["indices"] for c in theirs] == [[6, 7], [8, 9, 10, 11]]
        assert mine[1]["problem"] == theirs[0]["problem"]  # one group, scored half on each rank
        for call in mine + theirs:
            assert call["values"] == [float(uniform_draw(3, step, call["problem"], i) < 0.5) for i in call["indices"]]
    records = _records(tmp_path / "split")
    assert [r["step"] for r in records] == [0, 1, 2]
    step1 = [v for c in rank0 + rank1 if c["step"] == 1 for v in c["values"]]
    assert records[1]["reward/mean"] == pytest.approx(sum(step1) / 12)

    # One-shot: the same problem in every slot; each rank scores its own rows of it and draws differently.
    one_shot = _tiny_setup(
        tmp_path,
        **common,
        prompts_per_step=2,
        group_size=4,
        mini_batch_size=8,
        one_shot="q1",
        out=str(tmp_path / "one_shot"),
    )
    _two_ranks(one_shot, tmp_path / "one_log", via_cli=True)
    rank0, rank1 = _calls(tmp_path / "one_log", 0), _calls(tmp_path / "one_log", 1)
    assert {c["problem"] for c in rank0 + rank1} == {"q1"}
    assert [c["indices"] for c in rank0] == [[0, 1, 2, 3]] * 2 and [c["indices"] for c in rank1] == [[4, 5, 6, 7]] * 2
    assert [c["values"] for c in rank0] != [c["values"] for c in rank1]


def _launch_two_ranks(config: Path, *extra: str, python: str = sys.executable) -> subprocess.Popen:
    """``rlvr_lab.backends.trl_run`` on 2 CPU ranks (torchrun, gloo), in its own session so it can be killed;
    the config's folder is importable, for a reward written beside it."""
    torchrun = Path(python).parent / "torchrun"
    if not torchrun.is_file():
        pytest.skip(f"torchrun not found beside {python}")
    path = os.pathsep.join([str(SRC), str(config.parent)])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    command = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "rlvr_lab.backends.trl_run", str(config)]
    log = open(config.parent / "ranks.log", "ab")  # noqa: SIM115 (closed with the process by the caller)
    return subprocess.Popen([*command, *extra], env=env, stdout=log, stderr=log, start_new_session=True)


def _finish(process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        raise AssertionError(f"the 2-rank run hung; its log ends:\n{log.read_text()[-3000:]}") from None
    assert code == 0, log.read_text()[-4000:]


def _final_weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run_dir / "model" / "model.safetensors")


HOLDING_REWARD = '''
import os
import time

from rlvr_lab.rewards.random_reward import RandomReward

_RANDOM = RandomReward(0.5)


def hold(*, problem, completions, sample_indices, step, seed):
    """random:0.5; at step 3 it waits while the file $RLVR_TEST_HOLD exists (10 minutes at most), so that a test
    can kill the run at a known point: after the step-2 checkpoint, before step 3's update."""
    hold_file = os.environ.get("RLVR_TEST_HOLD", "")
    deadline = time.monotonic() + 600
    while step == 3 and hold_file and os.path.exists(hold_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _RANDOM(problem=problem, completions=completions, sample_indices=sample_indices, step=step, seed=seed)
'''


GROUP_IN_A_CYCLE = """
import os
import sys
import tempfile

import torch
import torch.distributed as dist

from rlvr_lab.backends.trl_run import close_process_group


def threads():
    return len(os.listdir("/proc/self/task"))


torch.set_num_threads(1)
before = threads()
dist.init_process_group("gloo", init_method="file://" + tempfile.mkdtemp() + "/store", rank=0, world_size=1)


class Trainer:  # as a finished trainer: in a reference cycle, holding the DDP module and so the group
    def __init__(self):
        self.model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
        self.callbacks = [self]


Trainer()
x = torch.ones(2)
dist.all_reduce(x)
dist.barrier()
during = threads()
close_process_group() if sys.argv[1] == "ours" else dist.destroy_process_group()
print(before, during, threads())
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through Linux's /proc")
def test_closing_the_group_joins_gloo_threads_a_finished_trainer_still_holds(tmp_path: Path) -> None:
    """A rank's group is shut down, its worker threads joined, before the interpreter exits: a gloo worker left
    running could abort a finished run at exit (CI, stop 27: the 2-rank test's rank 1, SIGABRT after its last save).
    ``destroy_process_group`` alone leaves them running while a reference cycle holds the DDP module."""
    pytest.importorskip("trl")
    script = tmp_path / "group.py"
    script.write_text(GROUP_IN_A_CYCLE)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}

    def counts(how: str) -> list[int]:
        done = subprocess.run([sys.executable, str(script), how], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return [int(n) for n in done.stdout.split()]

    before, during, after = counts("ours")
    assert during > before and after == before
    before, during, after = counts("plain")  # the mechanism the test relies on: the cycle keeps the threads alive
    assert after == during > before


@pytest.mark.slow  # about 2 minutes on 2 loaded cores
def test_two_ddp_ranks_train_evaluate_save_then_killed_run_resumes_on_the_same_trajectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2 gloo ranks: every rank evaluates its share of the held-out problems, the group's timeout is the launch's,
    and a run killed after its step-2 checkpoint resumes to the very weights of an uninterrupted run.

    The kill point is fixed by the reward, which holds step 3 while a file exists: polling for the checkpoint
    alone raced a fast machine, whose run finished (and rotated checkpoint-2 away) between two polls."""
    import signal
    import time

    import torch

    values = {"prompts_per_step": 2, "group_size": 4, "mini_batch_size": 8, "steps": 3, "save_every": 1}
    values |= {"eval_every": 1, "eval_limit": 6, "eval_samples": 2, "reward": "holding_reward:hold", "seed": 5}
    for arm in ("a", "b"):
        (tmp_path / arm).mkdir()
        (tmp_path / arm / "holding_reward.py").write_text(HOLDING_REWARD)
    straight = _tiny_setup(tmp_path / "a", **values, out=str(tmp_path / "a" / "run"))
    _finish(_launch_two_ranks(straight, "--timeout", "120"), straight.parent / "ranks.log")
    run_a = tmp_path / "a" / "run"
    info = json.loads((run_a / "model" / "rlvr_train.json").read_text())
    assert info["world_size"] == 2 and info["process_group_timeout_s"] == 120.0
    records = _records(run_a)
    assert [r["step"] for r in records] == [0, 1, 2, 3] and all("eval/accuracy" in r for r in records)
    merged = (run_a / "eval" / "step_000003.jsonl").read_text().splitlines()
    assert len(merged) == 1 + 6 * 2  # the header, then both ranks' shares: 6 problems × 2 samples

    hold_file = tmp_path / "hold"
    hold_file.touch()
    monkeypatch.setenv("RLVR_TEST_HOLD", str(hold_file))
    killed = _tiny_setup(tmp_path / "b", **values, out=str(tmp_path / "b" / "run"))
    run_b = tmp_path / "b" / "run"
    process = _launch_two_ranks(killed, "--timeout", "120")
    marker = run_b / "checkpoints" / "checkpoint-2" / "trainer_state.json"  # step 2 = 2 updates
    deadline = time.monotonic() + 600
    while not marker.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.is_file(), (killed.parent / "ranks.log").read_text()[-3000:]
    time.sleep(1.0)  # let rank 0 finish writing the checkpoint's other files while step 3 is held
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run_b / "checkpoints" / "checkpoint-3").exists()
    hold_file.unlink()
    _finish(_launch_two_ranks(killed, "--timeout", "120", "--resume"), killed.parent / "ranks.log")
    assert [r["step"] for r in _records(run_b)] == [0, 1, 2, 3]
    a, b = _final_weights(run_a), _final_weights(run_b)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _records(run_b)[3]["reward/mean"] == records[3]["reward/mean"]


@pytest.mark.slow  # a minute or two; DeepSpeed builds its CPU op once (about 50 s)
def test_two_zero3_ranks_on_the_cpu_train_evaluate_and_save_on_every_rank(tmp_path: Path) -> None:
    """DeepSpeed ZeRO-3 on 2 CPU ranks (DS_ACCELERATOR=cpu, gloo): the final save gathers the shards, which
    every rank must enter (it hung until the timeout when rank 0 saved alone), the model is created partitioned
    (GRPOConfig before the model), and evaluation runs on the gathered weights."""
    pytest.importorskip("deepspeed")
    values = {"prompts_per_step": 2, "group_size": 4, "mini_batch_size": 8, "steps": 2, "eval_every": 1}
    config = _tiny_setup(tmp_path, **values, eval_limit=4, out=str(tmp_path / "run"))
    _finish(_launch_two_ranks(config, "--strategy", "zero3", "--timeout", "90"), tmp_path / "ranks.log", 400)
    info = json.loads((tmp_path / "run" / "model" / "rlvr_train.json").read_text())
    assert info["strategy"] == "zero3" and info["partitioned_at_load"] is True
    assert info["process_group_timeout_s"] == 90.0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    records = _records(tmp_path / "run")
    assert [r["step"] for r in records] == [0, 1, 2] and all("eval/accuracy" in r for r in records)
