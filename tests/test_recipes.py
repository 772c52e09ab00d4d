"""Recipes (the papers' setups as data): every shipped recipe loads, every value has a source, every arm resolves
to a valid config, and the commands read them (`rlvr recipe`, `train --recipe --dry-run --json`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.recipes import RecipeError, load_recipe, recipe_names
from rlvr_lab.rl.config import resolve_config

SPURIOUS = "spurious-rewards-qwen2.5-math-7b"
LIMITS = "limits-of-rlvr-qwen2.5-7b"


def test_the_papers_and_the_organism_ship_as_recipes() -> None:
    names = recipe_names()
    assert {SPURIOUS, LIMITS, "organism-ground-truth"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.name == name  # file name and recipe name agree
        entries = [*recipe.train.values(), *recipe.sampling.values(), *recipe.sampling_n.values()]
        entries += [e for axis in recipe.arms.values() for arm in axis.values() for e in arm.values()]
        assert all(e.source.strip() for e in entries)


@pytest.mark.parametrize("name", recipe_names())
def test_every_arm_resolves_to_a_valid_training_config(name: str) -> None:
    recipe = load_recipe(name)
    arms = [[]] + [[arm] for arm in recipe.arm_names()]
    for chosen in arms:
        values = recipe.train_values(chosen)
        if values:
            config = resolve_config(values)  # TrainConfig checks every field
            for key, value in values.items():
                assert getattr(config, key) == value


def test_spurious_rewards_values_are_the_papers() -> None:
    recipe = load_recipe(SPURIOUS)
    config = resolve_config(recipe.train_values())
    assert (config.model, config.prompt, config.eval_data) == ("Qwen/Qwen2.5-Math-7B", "qwen-boxed", "math500")
    assert config.schedule().updates_per_rollout == 8 and config.schedule().rollout_size == 1024
    assert (config.eps_low, config.eps_high, config.lr, config.kl_coef, config.entropy_coef) == (0.2, 0.2, 5e-7, 0, 0)
    assert (config.max_new_tokens, config.temperature, config.micro_batch_size) == (3072, 1.0, 4)
    assert (config.beta1, config.beta2, config.lr_schedule) == (0.9, 0.95, "constant")
    assert resolve_config(recipe.train_values(["random", "no-clip"])).reward == "random:0.5"
    assert resolve_config(recipe.train_values(["no-clip"])).clip == "none"
    rewards = {resolve_config(recipe.train_values([arm])).reward for arm in recipe.arms["reward"]}
    assert {"ground_truth", "majority_vote", "format", "random:0.5", "python"} <= rewards
    assert "incorrect:store=" in " ".join(rewards)
    assert resolve_config(recipe.train_values(["one-shot"])).one_shot


def test_limits_of_rlvr_sampling_by_benchmark() -> None:
    recipe = load_recipe(LIMITS)
    aime = recipe.sampling_values("aime2024")
    expected = {"template": "qwen-boxed", "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 16384, "n": 1024}
    assert aime == {**expected, "model": "Qwen/Qwen2.5-7B"}  # the first arm (base) is the default
    assert recipe.sampling_values("math500")["n"] == 256
    assert "n" not in recipe.sampling_values("humaneval")  # not in the paper's table: the user's --n decides
    assert recipe.sampling_values("amc2023", ["rl"])["model"] == "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo"
    assert recipe.sampling_values("amc2023")["model"] == "Qwen/Qwen2.5-7B"  # the first arm is the default


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["train"]["lr"].pop("source"), r"train\.lr: an entry is \{value"),
        (lambda d: d["train"]["lr"].update(source=" "), r"train\.lr: the source must say"),
        (lambda d: d["train"].update(lrr={"value": 1, "source": "x"}), r"train\.lrr: unknown key"),
        (lambda d: d.update(extra=1), r"unknown section\(s\) \['extra'\]"),
        (lambda d: d["arms"]["clip"].update(random={}), r"arm name 'random' is used twice"),
    ],
)
def test_malformed_recipes_are_refused_naming_file_and_field(tmp_path: Path, edit, message: str) -> None:
    data = yaml.safe_load(load_recipe(SPURIOUS).path.read_text())
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RecipeError, match=message) as err:
        load_recipe(path)
    assert str(path) in str(err.value)


def test_unknown_recipe_and_arms_are_refused() -> None:
    with pytest.raises(RecipeError, match="no recipe 'nope'; shipped recipes: "):
        load_recipe("nope")
    recipe = load_recipe(SPURIOUS)
    with pytest.raises(RecipeError, match="has no arm 'clipped'; choose from ground_truth, "):
        recipe.train_values(["clipped"])
    with pytest.raises(RecipeError, match="arms 'random' and 'format' are both on axis 'reward'"):
        recipe.train_values(["random", "format"])


def test_train_dry_run_json_resolves_the_recipe_for_trl_on_8_ranks() -> None:
    args = ["train", "--recipe", SPURIOUS, "--backend", "trl", "--nproc", "8", "--dry-run", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["config"]["prompt"], out["config"]["eval_data"]) == ("qwen-boxed", "math500")
    assert out["grpo_config"]["epsilon"] == 0.2 and out["grpo_config"]["learning_rate"] == 5e-7
    assert out["updates_per_rollout"] == 8 and out["generation_batch_size"] == 1024
    assert out["accelerate"]["num_processes"] == 8
    # --arm, --set and explicit options, in that order of precedence over the recipe
    args += ["--arm", "no-clip", "--set", "lr=1e-6", "--set", "steps=7", "--steps", "9"]
    out = json.loads(CliRunner().invoke(build_app(), args).stdout)
    assert out["grpo_config"]["epsilon_high"] >= 1e9 and out["config"]["lr"] == 1e-6 and out["config"]["steps"] == 9


def test_recipe_list_and_show() -> None:
    listed = CliRunner().invoke(build_app(), ["recipe", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert SPURIOUS in {r["name"] for r in json.loads(listed.stdout)["recipes"]}
    shown = CliRunner().invoke(build_app(), ["recipe", "show", SPURIOUS])
    assert shown.exit_code == 0, shown.output
    assert "lr: 5e-07    # script: LR=5e-7" in shown.output and "arms on clip" in shown.output
    data = json.loads(CliRunner().invoke(build_app(), ["recipe", "show", LIMITS, "--json"]).stdout)
    assert data["sampling"]["n"]["aime2024"] == {"value": 1024, "source": "paper: k up to 1024 on AIME24"}
    bad = CliRunner().invoke(build_app(), ["recipe", "show", "nope"])
    assert bad.exit_code == 1 and "no recipe 'nope'" in bad.output


def test_sample_takes_the_recipes_protocol_for_the_benchmark(tmp_path: Path, data_dir: Path) -> None:
    """`rlvr sample --recipe`: the paper's temperature, top-p and n for MATH-500 (256) land in the store's header;
    an explicit option wins (the organism's context cannot hold the paper's 16,384 tokens)."""
    out = tmp_path / "base.jsonl"
    args = ["sample", "--recipe", LIMITS, "--model", "qwen-math-like", "--problems", "math500", "--limit", "1"]
    args += ["--max-new-tokens", "2", "--data-dir", str(data_dir), "--out", str(out), "--json", "--threads", "1"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    header = json.loads(out.read_text().splitlines()[0])
    sampling = header["sampling"]
    assert (sampling["n"], sampling["temperature"], sampling["top_p"], sampling["max_new_tokens"]) == (
        256,
        0.6,
        0.95,
        2,
    )
    assert header["template"]["name"] == "qwen-boxed"
    bad = CliRunner().invoke(build_app(), ["sample", "--problems", "math500", "--out", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 1 and "--model is required" in bad.output


def test_the_shard_launcher_returns_at_the_first_failure_without_waiting_for_the_rest() -> None:
    import subprocess
    import sys
    import time

    from rlvr_lab.cli.sample import _wait_all_or_first_failure

    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        start = time.monotonic()
        assert _wait_all_or_first_failure([slow, dead], poll_s=0.1) == (1, 3)
        assert time.monotonic() - start < 30 and slow.poll() is None  # the slow shard was not waited for
    finally:
        slow.kill()
        slow.wait()
    fine = [subprocess.Popen([sys.executable, "-c", "pass"]) for _ in range(2)]
    assert _wait_all_or_first_failure(fine, poll_s=0.1) is None
