"""``rlvr audit``: the verdicts on a case built to fail and one built to pass, the arms, the plan and its cost.

The verdict cases are synthetic per-problem results fed to the same function the command uses
(:func:`rlvr_lab.studies.audit.audit_checks`): a "gain" that the random reward gives as well must fail the
controls check, and a gain the controls do not give must pass it. The arms are resolved through the real
:class:`~rlvr_lab.rl.config.TrainConfig`; the dry run goes through the real command. The end-to-end run (slow)
trains every arm of a tiny audit on the shipped organism and runs it again to check that nothing is redone.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.metrics.significance import sign_test
from rlvr_lab.studies.audit import CLAIMED, AuditSizes, audit_jobs, build_config, train_config
from rlvr_lab.studies.audit_checks import ModelData, audit_checks, gain_is_real
from rlvr_lab.studies.audit_claim import resolve_claim
from rlvr_lab.studies.verdict import NO_VERDICT

SEEDS = (0, 1, 2, 3, 4)


def synthetic(model: str, gains: dict[str, float], seed: int = 0, problems: int = 80) -> ModelData:
    """Per-problem accuracies: a base in [0.1, 0.9], each arm the base plus its gain plus seed-and-problem noise."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.9, problems)
    arms = {
        arm: {s: np.clip(base + gain + rng.normal(0.0, 0.08, problems), 0.0, 1.0) for s in SEEDS}
        for arm, gain in gains.items()
    }
    return ModelData(model=model, base=base, arms=arms)


PASSING = {CLAIMED: 0.15, "random:0.5": 0.0, "format": 0.01, "incorrect": -0.02, "no-clip": 0.13, "on-policy": 0.14}
FAILING = {**PASSING, "random:0.5": 0.15}
"""The failing case: the random reward gives the same "gain" as the claimed reward."""


@pytest.fixture(scope="module")
def config():
    return build_config("organism-ground-truth", seeds=len(SEEDS))


def _check(checks, family: str, subject: str, model: str):
    return next(c for c in checks if (c.family, c.subject, c.model) == (family, subject, model))


def test_a_gain_the_random_reward_also_gives_fails(config) -> None:
    data = [synthetic(m, FAILING, seed=i) for i, m in enumerate(config.models)]
    checks = audit_checks(config, data)
    random_check = _check(checks, "controls", "random:0.5", config.models[0])
    assert random_check.role == "primary"
    assert random_check.finding.verdict == "not significant"
    assert random_check.finding.low < 0 < random_check.finding.high
    assert random_check.seeds == len(SEEDS) and random_check.problems == 80
    assert not gain_is_real(checks)
    # the other checks still see the gain over the base and over the other controls
    assert _check(checks, "families", config.models[0], config.models[0]).holds
    assert _check(checks, "controls", "format", config.models[0]).holds


def test_a_gain_the_controls_do_not_give_passes(config) -> None:
    data = [synthetic(m, PASSING, seed=i) for i, m in enumerate(config.models)]
    checks = audit_checks(config, data)
    for model in config.models:
        for control in ("random:0.5", "format", "incorrect"):
            check = _check(checks, "controls", control, model)
            assert check.finding.verdict == "reproduced", check.as_dict()
            assert 0.10 < check.finding.effect < 0.20
        assert _check(checks, "clip ablation", "no-clip", model).holds
    assert gain_is_real(checks)
    roles = {(c.family, c.role) for c in checks}
    assert ("controls", "secondary") in roles and ("families", "primary") in roles
    assert sum(c.role == "primary" for c in checks if c.family == "controls") == 1
    for check in checks:  # Holm: a secondary check is judged on its adjusted p-value, never smaller than its own
        if check.role == "secondary":
            assert check.finding.adjusted_p >= check.finding.p_value


def test_a_gain_that_vanishes_without_the_clamp_fails(config) -> None:
    data = [synthetic(m, {**PASSING, "no-clip": -0.01}, seed=i) for i, m in enumerate(config.models)]
    checks = audit_checks(config, data)
    assert not _check(checks, "clip ablation", "no-clip", config.models[0]).holds
    assert not gain_is_real(checks)


def test_one_seed_gives_no_verdict(config) -> None:
    data = synthetic(config.models[0], PASSING)
    one = ModelData(data.model, data.base, {arm: {0: seeds[0]} for arm, seeds in data.arms.items()})
    checks = audit_checks(config, [one])
    assert checks and all(c.finding.verdict == NO_VERDICT and c.seeds == 1 for c in checks)
    assert _check(checks, "families", data.model, data.model).finding.low > 0  # an interval, but no verdict on it
    assert not gain_is_real(checks)


def test_large_k_counts_exclusive_problems_with_a_sign_test(config) -> None:
    data = synthetic(config.models[0], PASSING)
    base_k = np.array([0, 0, 0, 0, 0, 3, 5, 8, 0, 2])
    claimed_k = {s: np.array([1, 2, 4, 1, 3, 5, 6, 8, 0, 0]) for s in SEEDS}
    with_k = ModelData(data.model, data.base, data.arms, base_k=base_k, claimed_k=claimed_k, k=8)
    check = _check(audit_checks(config, [with_k]), "large k", data.model, data.model)
    assert check.extra["solved_only_by_rl"] == 5 and check.extra["solved_only_by_base"] == 1
    assert check.extra["sign_test_p"] == pytest.approx(sign_test(5, 1))
    assert check.finding.p_value >= sign_test(5, 1)  # 5 against 1 is p = 0.22: no "reproduced", whatever the interval
    assert check.finding.verdict != "reproduced"
    assert check.extra["k"] == 8


def test_every_arm_changes_only_what_it_tests(config, tmp_path: Path) -> None:
    claimed = train_config(config, tmp_path, config.models[0], CLAIMED, 0)
    assert claimed.reward == "ground_truth" and claimed.schedule().updates_per_rollout == 4
    no_clip = train_config(config, tmp_path, config.models[0], "no-clip", 0)
    assert no_clip.clip == "none" and no_clip.schedule() == claimed.schedule() and no_clip.reward == claimed.reward
    on_policy = train_config(config, tmp_path, config.models[0], "on-policy", 0)
    assert on_policy.schedule().on_policy and on_policy.clip == "clip" and on_policy.reward == claimed.reward
    incorrect = train_config(config, tmp_path, config.models[0], "incorrect", 3)
    assert incorrect.reward.startswith("incorrect:store=") and incorrect.seed == 3
    assert {train_config(config, tmp_path, m, a, 0).lr for m in config.models for a in config.arms} == {claimed.lr}
    assert config.arms == (CLAIMED, "random:0.5", "format", "incorrect", "no-clip", "on-policy")
    assert config.models == ("qwen-math-like-v2", "olmo-like-v2") and not config.notes  # the recipe's, then the other


def test_a_config_file_is_a_claim_and_one_family_is_said(tmp_path: Path) -> None:
    path = tmp_path / "claim.yaml"
    path.write_text("model: qwen-math-like-v2\nreward: random:0.5\npreset: no-clip\nsteps: 7\nlargest_k: 32\n")
    claim = resolve_claim(str(path))
    assert claim.reward == "random:0.5" and claim.largest_k == 32 and claim.config().steps == 7
    config = build_config(str(path), models=("qwen-math-like-v2",), seeds=3)
    assert "random:0.5" not in config.arms  # the claimed reward is not its own control
    assert any("second family" in note for note in config.notes)
    assert config.seeds == (0, 1, 2)
    with pytest.raises(ValueError, match="organism-ground-truth"):  # the message lists the shipped recipes
        resolve_claim("no-such-recipe")
    path.write_text("model: qwen-math-like-v2\nrewrd: random:0.5\n")
    with pytest.raises(ValueError, match="rewrd"):
        resolve_claim(str(path))


def test_a_claim_graded_with_fallbacks_grades_every_arm_and_base_sample_the_same_way(tmp_path: Path) -> None:
    """SmolLM2 does not box its answers: a claim with ``fallbacks`` must grade the base, the label store, every
    run (reward and evaluation) and the large-k samples by that one rule, or the audit compares two rules."""
    path = tmp_path / "claim.yaml"
    path.write_text("model: qwen-math-like-v2\nreward: ground_truth\nfallbacks: answer_is,last_number\nsteps: 2\n")
    config = build_config(str(path), models=("qwen-math-like-v2",), seeds=2)
    jobs = audit_jobs(config, tmp_path / "audit")
    samples = [job for job in jobs if hasattr(job, "store")]
    trains = [job for job in jobs if hasattr(job, "config")]
    assert len(samples) == 5 and len(trains) == 2 * len(config.arms)  # base eval and votes; large k: base, 2 seeds
    assert {job.fallbacks for job in samples} == {("answer_is", "last_number")}
    assert {job.config.answer_fallbacks() for job in trains} == {("answer_is", "last_number")}
    path.write_text("model: qwen-math-like-v2\nfallbacks: answer_is,boxed\n")
    with pytest.raises(ValueError, match=r"^fallbacks: 'boxed' is always tried first"):
        resolve_claim(str(path)).config()


def _dry_run(*args: str) -> dict:
    result = CliRunner().invoke(build_app(), ["audit", *args, "--dry-run", "--json", "--out", "unused"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dry_run_prices_every_arm_before_anything_runs(tmp_path: Path) -> None:
    plan = _dry_run("organism-ground-truth", "--quick")
    stages = {(s["stage"], s["model"]) for s in plan["stages"]}
    for model in ("qwen-math-like-v2", "olmo-like-v2"):
        for arm in (CLAIMED, "random:0.5", "format", "incorrect", "no-clip", "on-policy"):
            assert (f"train {arm}", model) in stages
    assert all(s["count"] == 3 for s in plan["stages"] if s["stage"].startswith("train"))
    assert 0 < plan["cpu_seconds"] < 3600 and not Path("unused").exists()


def test_set_changes_a_size_and_refuses_what_is_not_one() -> None:
    """``--set KEY=VALUE`` sizes the audit (a 135M model on a CPU needs smaller sizes than the quick ones)."""
    config = build_config("organism-ground-truth", quick=True, settings=("steps=2", "eval_problems=8"), largest_k=4)
    assert (config.sizes.steps, config.sizes.eval_problems, config.sizes.largest_k) == (2, 8, 4)
    assert config.sizes.eval_samples == 8 and len(config.seeds) == 3  # the rest stays quick
    small = _dry_run("organism-ground-truth", "--quick", "--set", "steps=2")
    full = _dry_run("organism-ground-truth", "--quick")
    assert small["cpu_seconds"] < full["cpu_seconds"]
    for bad in ("step=2", "steps=0", "steps", "steps=two"):
        with pytest.raises(ValueError, match="--set"):
            build_config("organism-ground-truth", quick=True, settings=(bad,))
    result = CliRunner().invoke(build_app(), ["audit", "organism-ground-truth", "--set", "votes=-1", "--out", "x"])
    assert result.exit_code == 1 and "votes must be a positive integer" in result.output


def test_a_benchmark_that_is_not_here_stops_the_audit_in_one_line(tmp_path: Path, monkeypatch) -> None:
    """The SmolLM2 claim reads GSM8K: without the data the audit stops before any job, naming where it looked."""
    for name, value in (("RLVR_CACHE_DIR", str(tmp_path / "cache")), ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RLVR_DATA_DIR", raising=False)
    claim = Path(__file__).parents[1] / "docs" / "audit" / "smollm2-gsm8k.yaml"
    args = ["audit", str(claim), "--model", "qwen-math-like-v2", "--seeds", "1", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 1 and "gsm8k" in result.output and "RLVR_DATA_DIR" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out" / "runs").exists()


def test_dry_run_of_a_7b_recipe_on_8_gpus(tmp_path: Path) -> None:
    """The Spurious Rewards schedule on Qwen2.5-Math-7B: one arm's GPU-hours follow the stated FLOP formula."""
    path = tmp_path / "spurious.yaml"
    path.write_text(
        "model: Qwen/Qwen2.5-Math-7B\nreward: ground_truth\npreset: paper\nsteps: 100\nlr: 5.0e-7\n"
        "max_new_tokens: 3072\ntrain_data: math\neval_data: math500\nprompt: qwen-boxed\n"
    )
    plan = _dry_run(str(path), "--model", "Qwen/Qwen2.5-Math-7B", "--seeds", "5", "--nproc", "8")
    claimed = next(s for s in plan["stages"] if s["stage"] == f"train {CLAIMED}")
    tokens = 100 * 64 * 16 * (1024 + 3072)
    n = 7.61e9
    evals = 2 * n * 120 * 8 * (1024 + 3072)
    hours = ((2 * n * tokens + evals) / (989e12 * 0.10) + 8 * n * tokens / (989e12 * 0.30)) / 3600
    assert claimed["gpu_hours_each"] == pytest.approx(hours, rel=1e-3)
    assert claimed["count"] == 5 and plan["gpus"] == 8
    assert plan["wall_hours_on_gpus"] == pytest.approx(plan["total_gpu_hours"] / 8, rel=0.01)
    assert any("second family" in note for note in plan["notes"])


@pytest.mark.slow
def test_a_tiny_audit_end_to_end_and_resumed(tmp_path: Path) -> None:
    """Every arm trained (2 steps) on one organism, the report written, then a re-run that trains nothing."""
    from rlvr_lab.studies.audit_run import run_audit

    config = build_config("organism-ground-truth", models=("qwen-math-like-v2",), seeds=2, workers=2)
    tiny = AuditSizes(
        eval_problems=12,
        eval_samples=4,
        boundary_problems=12,
        largest_k=8,
        steps=2,
        train_problems=16,
        curve_problems=4,
        votes=2,
    )
    import dataclasses

    config = dataclasses.replace(config, sizes=tiny)
    started = time.monotonic()
    result = run_audit(config, tmp_path)
    first = time.monotonic() - started
    record = json.loads(result.audit.read_text())
    families = {c["family"] for c in record["checks"]}
    assert families == {"controls", "families", "clip ablation", "large k", "soundness"}
    for check in record["checks"]:
        assert check["seeds"] == 2 and check["verdict"] in ("reproduced", "not significant", "opposite")
    html = result.report.read_text()
    assert html.index("Audit: is the gain real?") < html.index("Audited:") < html.index("<img")
    runs_heading = html.index(">Training runs</h2>")  # the section, not its entry in the contents
    assert html.count("<img") == 3 and runs_heading > html.index("<img")  # checks, pass@k, arms
    assert len(json.loads(result.summary.read_text())["runs"]) == len(config.arms) * 2
    started = time.monotonic()
    again = run_audit(config, tmp_path)
    assert time.monotonic() - started < first / 2
    assert json.loads(again.audit.read_text())["checks"] == record["checks"]


@pytest.mark.parametrize(("df", "q", "expected"), [(1, 0.975, 12.7062047362), (2, 0.975, 4.30265272975)])
def test_t_quantiles_of_one_and_two_degrees_of_freedom(df: int, q: float, expected: float) -> None:
    """Two seeds give one degree of freedom: the audit's p-values invert the t interval down to α = 1e-6, where the
    Cauchy quantile is 6.4e5 (tan(π(q − 1/2)), exact; the t_2 one is 2(q − 1/2)·sqrt(2 / (1 − (2q − 1)²)))."""
    from rlvr_lab.metrics.significance import t_quantile

    assert t_quantile(q, df) == pytest.approx(expected, rel=1e-9)
    tiny = 1.0 - 5e-7
    exact = math.tan(math.pi * (tiny - 0.5)) if df == 1 else (2 * tiny - 1) * math.sqrt(2 / (1 - (2 * tiny - 1) ** 2))
    assert t_quantile(tiny, df) == pytest.approx(exact, rel=1e-6)


def test_dry_run_of_the_spurious_rewards_recipe_on_8_gpus() -> None:
    """The recipe's own schedule (64 × 16, mini-batches of 128) gives the on-policy arm its whole rollout in one
    mini-batch; runs on 8 GPUs go one at a time; k up to the recipe's largest n."""
    plan = _dry_run("spurious-rewards-qwen2.5-math-7b", "--backend", "trl", "--nproc", "8", "--seeds", "5")
    assert plan["claimed"]["source"].startswith("recipe spurious-rewards-qwen2.5-math-7b")
    assert plan["arms"]["on-policy"] == "mini_batch_size=1024"
    assert plan["arms"]["no-clip"] == "clip=none" and plan["arms"]["random:0.5"] == "reward=random:0.5"
    assert any(s["stage"] == "large k claimed (k = 8)" for s in plan["stages"])
    assert any("one at a time" in note for note in plan["notes"])
    assert 1000 < plan["total_gpu_hours"] < 5000 and plan["gpus"] == 8


@pytest.mark.slow
def test_a_tiny_audit_through_trl_prints_nothing_on_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Every arm trained by TRL's GRPOTrainer (2 rollouts, one seed) in the audit's worker processes: the runs are
    TRL's, the on-policy arm makes one update per rollout, and nothing reaches stdout (transformers prints its log
    dicts there, which broke ``rlvr audit --backend trl --json``'s one JSON object)."""
    pytest.importorskip("trl", reason="the trl extra is not installed")
    from rlvr_lab.studies.audit import run_dir
    from rlvr_lab.studies.audit_run import run_audit

    sizes = ("eval_problems=8", "eval_samples=2", "boundary_problems=8", "steps=2", "train_problems=16", "votes=2")
    config = build_config(
        "organism-ground-truth",
        models=("qwen-math-like-v2",),
        seeds=1,
        backend="trl",
        quick=True,
        largest_k=4,
        settings=(*sizes, "curve_problems=2"),
    )
    record = run_audit(config, tmp_path).record
    assert capfd.readouterr().out == ""
    assert {c["family"] for c in record["checks"]} == {"controls", "families", "clip ablation", "large k", "soundness"}
    assert all(c["verdict"] == NO_VERDICT and c["seeds"] == 1 for c in record["checks"])
    for arm in config.arms:
        folder = run_dir(tmp_path, "qwen-math-like-v2", arm, 0)
        assert json.loads((folder / "model" / "rlvr_train.json").read_text())["backend"] == "trl"
        assert not (folder / "checkpoints").exists()  # a finished run's checkpoint duplicates model/
        steps = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        updates = {s["optim/updates"] for s in steps if "optim/updates" in s}
        assert updates == ({1} if arm == "on-policy" else {4}), arm
