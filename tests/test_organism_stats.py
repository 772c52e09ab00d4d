"""The shipped profiles: found by name, small, loadable, and ``rlvr organism stats --json`` reports the table."""

from __future__ import annotations

import inspect
import json
from dataclasses import fields

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.cli.organism import stats as stats_command
from rlvr_lab.models.specs import resolve_model_dir
from rlvr_lab.organism.profiles import PROFILES, shipped_checkpoint
from rlvr_lab.organism.stats import StatsConfig, pass_ks
from rlvr_lab.runtime.threads import resolve_threads

MAX_BYTES = 8 * 1024 * 1024


@pytest.mark.parametrize("name", ["qwen-math-like", "olmo-like"])
def test_profiles_are_shipped_small_and_resolve_by_name(name: str) -> None:
    path = shipped_checkpoint(name)
    assert path is not None and (path / "config.json").is_file()
    assert sum(p.stat().st_size for p in path.iterdir()) <= MAX_BYTES
    assert resolve_model_dir(name) == str(path)
    meta = json.loads((path / "rlvr_organism.json").read_text())
    assert meta["profile"] == name and meta["prompt_template"] == "organism"


def test_unknown_names_are_not_shipped() -> None:
    assert shipped_checkpoint("gpt2") is None
    assert PROFILES.names() == [
        "llama-like-v2",
        "olmo-like",
        "olmo-like-v2",
        "qwen-math-like",
        "qwen-math-like-v2",
        "qwen-math-like-v2-contaminated",
    ]


def test_pass_ks_are_powers_of_two_and_n() -> None:
    assert pass_ks(64) == [1, 2, 4, 8, 16, 32, 64]
    assert pass_ks(6) == [1, 2, 4, 6]


def test_command_defaults_repeat_the_config_defaults() -> None:
    params = inspect.signature(stats_command).parameters
    for field in fields(StatsConfig):
        if field.name in params and field.name != "threads":
            assert params[field.name].default == field.default, field.name
    # --threads is the shared option (unset: the rule of rlvr_lab.runtime.threads), whose default is the config's
    assert params["threads"].default is None and resolve_threads(None) == StatsConfig.threads


def test_stats_json_on_a_shipped_profile() -> None:
    result = CliRunner().invoke(
        build_app(), ["organism", "stats", "qwen-math-like", "--n", "4", "--problems", "6", "--json"]
    )
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert {"code_frequency", "acc_given_code", "acc_given_language", "boxed_rate", "pass_at_k"} <= set(table)
    assert list(table["pass_at_k"]) == ["1", "2", "4"]
    assert 0.0 <= table["pass_at_k"]["1"] <= table["pass_at_k"]["4"] <= 1.0
    assert 0.0 <= table["code_frequency"] <= 1.0 and 0.0 <= table["boxed_rate"] <= 1.0
    assert set(table["by_type"]) == {"unit", "add1", "mul1", "word", "add2", "mul22"}
    assert table["config"]["n"] == 4 and table["config"]["rule"] == "contains_python"


def test_stats_rejects_an_unknown_rule() -> None:
    result = CliRunner().invoke(build_app(), ["organism", "stats", "qwen-math-like", "--rule", "python"])
    assert result.exit_code != 0


def _shipped_calibration(name: str) -> dict:
    path = shipped_checkpoint(name)
    assert path is not None
    return json.loads((path / "calibration.json").read_text())


@pytest.mark.parametrize("name", ["qwen-math-like", "olmo-like"])
def test_stats_reproduce_the_shipped_calibration(name: str) -> None:
    """The table in calibration.json (and in the README) is what ``rlvr organism stats NAME`` measures: sampling
    is seeded and the checkpoint fixed, so a fresh clone gets the same numbers (to within a point, in case another
    CPU's kernels round a logit differently and flip a rare sample)."""
    shipped = _shipped_calibration(name)
    result = CliRunner().invoke(build_app(), ["organism", "stats", name, "--json"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)
    for key in ("code_frequency", "acc_given_code", "acc_given_language", "boxed_rate"):
        assert measured[key] == pytest.approx(shipped[key], abs=0.01), key
    assert measured["pass_at_k"] == pytest.approx(shipped["pass_at_k"], abs=0.01)


def test_shipped_profiles_meet_their_targets() -> None:
    qwen, olmo = _shipped_calibration("qwen-math-like"), _shipped_calibration("olmo-like")
    for table in (qwen, olmo):
        assert table["config"]["n"] == 64 and table["config"]["problems"] >= 100
        assert 0.0 < table["boxed_rate"] < 0.98  # some answers unboxed: a format reward has something to teach
        assert table["pass_at_k"]["64"] >= table["pass_at_k"]["1"] + 0.20
        assert table["solved_under_5pct"] > 0 and table["solved_over_95pct"] > 0
    assert abs(qwen["code_frequency"] - 0.65) <= 0.05
    assert qwen["acc_given_code"] >= qwen["acc_given_language"] + 0.10
    assert olmo["code_frequency"] >= 0.5
    assert olmo["acc_given_code"] <= olmo["acc_given_language"] - 0.10
