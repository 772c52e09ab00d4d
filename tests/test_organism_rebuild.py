"""Rebuild the organisms from their seeds and check their calibration tables (slow: a full build, then stats).

The build seeds everything and pins its thread count, so on the float32 kernels that built the shipped checkpoint
the weights come out identical (checked for ``qwen-math-like-v2`` where the rebuild ends at the shipped final loss).
On other kernels the products round differently and training amplifies it into another draw of the same recipe, as
a new seed would be: both profiles are held to the spread of their recipe's recorded draws (docs/organism.md,
"Rebuilding on another CPU"). ``qwen-math-like`` (4,000 steps) was held to 5 points of its shipped table
(``calibration.json`` beside the checkpoint) until an AVX2-only AMD EPYC (Zen 3) rebuilt it further away.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rlvr_lab.organism.pretrain import METADATA_FILE, build_profile
from rlvr_lab.organism.profiles import Target, get_profile, shipped_checkpoint, shipped_tables
from rlvr_lab.organism.stats import StatsConfig, measure

TOLERANCE = 0.05
DRAWS = Path(__file__).parent / "data" / "organism_draws"
"""``PROFILE.json``: the profile built from several seeds on one CPU, each with its calibration table
(``scripts/organism_draws.py``)."""
RATES = (
    "code_frequency",
    "acc_given_code",
    "acc_given_language",
    "code_majority_share",
    *(f"pass_at_k.{k}" for k in (1, 8, 64)),
)
V1_RATES = ("code_frequency", "acc_given_code", "acc_given_language", "boxed_rate", *RATES[4:])
"""The rates of ``qwen-math-like``'s shipped table (measured before ``code_majority_share`` existed)."""
V1_TARGETS = (
    Target("code_frequency", 0.60, 0.70, why="code in 65% +- 5 of solutions"),
    Target("acc_given_code - acc_given_language", 0.10, why="code clearly the better strategy"),
    Target("boxed_rate", high=0.98, why="format not saturated"),
    Target("pass_at_k.64 - pass_at_k.1", 0.20, why="room between pass@1 and pass@64"),
    Target("solved_under_5pct", 1e-9, why="some problems almost never solved"),
    Target("solved_over_95pct", 1e-9, why="some problems almost always solved"),
)
"""What the v1 recipe is for, as its test asserted it of every rebuild before its draws were measured."""


def read(table: dict, key: str) -> float:
    """A dotted path into a calibration table."""
    for part in key.split("."):
        table = table[part]
    return float(table)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def recorded_draws(profile: str) -> list[dict]:
    """The calibration tables of ``profile``'s recorded builds (the shipped one not among them)."""
    return [draw["table"] for draw in json.loads((DRAWS / f"{profile}.json").read_text())["draws"]]


def off_the_draws(
    rebuilt: dict,
    shipped: dict,
    draws: list[dict],
    targets: tuple[Target, ...],
    rates: tuple[str, ...] = RATES,
    min_checked: int = 6,
) -> list[str]:
    """What of ``rebuilt``'s table lies outside what the recipe's ``draws`` allow around ``shipped``: a rate more
    than 4 standard deviations of the draws (at least ``TOLERANCE``) from the shipped value, or a target the
    shipped table meets by more than 2 standard deviations and ``rebuilt`` misses; and a failure when fewer than
    ``min_checked`` targets are left to check. Empty when it is a draw."""
    assert len(draws) >= 5, "too few draws to estimate their spread"
    failures = []
    for key in rates:
        tolerance = max(TOLERANCE, 4 * statistics.stdev(read(table, key) for table in draws))
        if abs(read(rebuilt, key) - read(shipped, key)) > tolerance:
            failures.append(f"{key}: {read(rebuilt, key):.4f}, shipped {read(shipped, key):.4f} +- {tolerance:.4f}")
    required = 0
    for target in targets:
        if target.templates() != {"organism"}:
            continue  # the python-hint table is not rebuilt here; tests/test_organism_stats_v2.py checks the shipped
        spread = statistics.stdev(target.value({"organism": table}) for table in draws)
        value = target.value({"organism": shipped})
        if min(value - target.low, target.high - value) > 2 * spread:
            required += 1
            if not target.met({"organism": rebuilt}):
                failures.append(f"target {target.metric}: {target.value({'organism': rebuilt}):.4f} misses it")
    if required < min_checked:
        failures.append(f"the draws' spread leaves {required} targets to check (at least {min_checked})")
    return failures


def v1_off_the_draws(rebuilt: dict, shipped: dict, draws: list[dict]) -> list[str]:
    """``qwen-math-like``'s rule: v2's with the v1 table's rates and :data:`V1_TARGETS`, 4 of the 6 checked."""
    return off_the_draws(rebuilt, shipped, draws, V1_TARGETS, V1_RATES, min_checked=4)


@pytest.mark.slow
def test_rebuilt_qwen_math_like_is_another_draw_of_its_recipe(tmp_path: Path) -> None:
    """The v1 build from its seed, held to the spread of its recorded draws (rule written after an AVX2-only AMD
    EPYC's seed-0 rebuild failed the old 5-point rule and before its other seeds were measured)."""
    shipped_dir = shipped_checkpoint("qwen-math-like")
    assert shipped_dir is not None
    shipped = json.loads((shipped_dir / "calibration.json").read_text())
    config = StatsConfig(**{k: shipped["config"][k] for k in ("n", "problems", "rule", "seed")})

    out = build_profile(get_profile("qwen-math-like"), tmp_path / "rebuilt")
    rebuilt = measure(str(out), config).to_dict()
    assert v1_off_the_draws(rebuilt, shipped, [*recorded_draws("qwen-math-like"), shipped]) == []


@pytest.mark.slow
def test_rebuilt_qwen_math_like_v2_is_the_shipped_build_or_another_draw_of_it(tmp_path: Path) -> None:
    """The v2 build from its seed. Where it ends at the shipped build's final loss, this CPU runs the kernels that
    built the shipped checkpoint: the weights must be the shipped ones bit for bit, and the table must measure again
    within a point (as ``tests/test_organism_stats_v2.py`` allows for sampling). Elsewhere the build is another draw
    of the same recipe (8,000 steps amplify the kernels' rounding as a new seed does: an AMD EPYC's rebuild has
    accuracy given code 0.523 against the shipped 0.622), so it is held to the spread of the recorded draws
    (``DRAWS``, written by ``scripts/organism_draws.py``): each rate within 4 standard deviations of the draws (at
    least 5 points) of the shipped table, and every target the shipped table meets by more than 2 standard deviations
    met. Both rules were fixed before the seeds 2 and 3 draws were measured."""
    profile = get_profile("qwen-math-like-v2")
    shipped_dir = shipped_checkpoint(profile.name)
    assert shipped_dir is not None
    shipped = shipped_tables(profile.name)["organism"]
    config = StatsConfig(**{k: shipped["config"][k] for k in ("n", "problems", "rule", "seed")})

    out = build_profile(profile, tmp_path / "rebuilt")
    rebuilt = measure(str(out), config).to_dict()
    final_loss = json.loads((out / METADATA_FILE).read_text())["final_loss"]

    if final_loss == json.loads((shipped_dir / METADATA_FILE).read_text())["final_loss"]:
        built, reference = weights(out), weights(shipped_dir)
        assert built.keys() == reference.keys()
        assert all(torch.equal(built[name], reference[name]) for name in reference)
        for key in RATES:
            assert read(rebuilt, key) == pytest.approx(read(shipped, key), abs=0.01), key
        return

    assert off_the_draws(rebuilt, shipped, [*recorded_draws(profile.name), shipped], profile.targets) == []


def test_every_recorded_draw_passes_as_a_draw() -> None:
    """Each recorded draw of ``qwen-math-like-v2`` meets the rule the rebuild is held to on other kernels (so the
    rule admits the recipe's own draws, an AMD EPYC's seed-0 rebuild among them), and a build that lost its
    arithmetic does not."""
    profile = get_profile("qwen-math-like-v2")
    shipped = shipped_tables(profile.name)["organism"]
    draws = [*recorded_draws(profile.name), shipped]
    for table in draws:
        assert off_the_draws(table, shipped, draws, profile.targets) == []
    broken = {**shipped, "acc_given_code": shipped["acc_given_code"] - 0.2}
    assert off_the_draws(broken, shipped, draws, profile.targets) != []


def test_every_recorded_v1_draw_passes_as_a_draw() -> None:
    """The same for ``qwen-math-like``'s draws under its rule, and a build that lost its code advantage fails."""
    shipped = json.loads((shipped_checkpoint("qwen-math-like") / "calibration.json").read_text())
    draws = [*recorded_draws("qwen-math-like"), shipped]
    for table in draws:
        assert v1_off_the_draws(table, shipped, draws) == []
    broken = {**shipped, "acc_given_code": shipped["acc_given_language"]}
    assert v1_off_the_draws(broken, shipped, draws) != []
