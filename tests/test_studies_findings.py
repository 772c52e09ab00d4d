"""Pre-registered findings on synthetic evaluations: paired intervals, verdicts, every seed listed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlvr_lab.analysis.strategy import code_entry_length, strategy_token_counts
from rlvr_lab.studies.ablation import AblationResult, AblationRun
from rlvr_lab.studies.evaluation import SetStats
from rlvr_lab.studies.findings import ablation_findings, spurious_findings
from rlvr_lab.studies.paired import at_large_k, over_seeds_and_problems, seeds_problems_interval
from rlvr_lab.studies.spurious import SpuriousRow
from rlvr_lab.studies.verdict import NO_VERDICT, Claim, findings_table

IDS = tuple(f"p{i}" for i in range(40))


def stats(accuracy: np.ndarray, code: np.ndarray | None = None, order: tuple[str, ...] = IDS) -> SetStats:
    code = np.full(len(order), 0.5) if code is None else code
    return SetStats(len(order), 8, float(accuracy.mean()), float(code.mean()), order, accuracy, code)


def test_paired_interval_over_seeds_and_problems() -> None:
    rng = np.random.default_rng(0)
    claim = Claim("paper", "up", "Δ")
    up = over_seeds_and_problems(claim, {s: 0.1 + 0.05 * rng.standard_normal(40) for s in range(5)}, "clip − base")
    assert up.verdict == "reproduced" and up.low > 0.05 and up.high < 0.15
    assert up.detail.startswith("clip − base: s0 +0.") and up.detail.count("s") >= 5
    assert up.interval == "t over 5 seeds × 40 problems" and up.p_value < 1e-3 and 0 < up.mde < 0.1
    flat = over_seeds_and_problems(claim, {s: 0.1 * rng.standard_normal(40) for s in range(5)})
    assert flat.verdict == "not significant"
    down = over_seeds_and_problems(claim, {s: -0.1 + 0.01 * rng.standard_normal(40) for s in range(3)})
    assert down.verdict == "opposite"
    one = over_seeds_and_problems(claim, {7: np.full(40, 0.3)})
    assert one.verdict == NO_VERDICT and one.low == pytest.approx(0.3) and one.detail == "s7 +0.300"
    assert "one training seed" in one.interval


def test_seed_spread_widens_the_interval() -> None:
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(40) * 0.05
    same = np.stack([0.1 + noise for _ in range(5)])
    spread = same + np.array([-0.2, -0.1, 0.0, 0.1, 0.2])[:, None]
    lo1, hi1 = seeds_problems_interval(same)
    lo2, hi2 = seeds_problems_interval(spread)
    assert hi2 - lo2 > 3 * (hi1 - lo1)


def test_ablation_findings_pair_arms_on_seeds(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = stats(np.full(40, 0.5))
    runs = []
    for preset, shift in (("clip", 0.05), ("no-clip", -0.05)):
        for seed in range(5):
            accuracy = np.clip(0.5 + shift + 0.02 * rng.standard_normal(40), 0, 1)
            runs.append(AblationRun(preset, seed, 4, stats(accuracy[::-1], order=IDS[::-1]), 0.01, 0.01, tmp_path))
    findings = ablation_findings(AblationResult(base, tuple(runs)))
    by_claim = {f.claim.claim: f for f in findings}
    clip_up = by_claim["random rewards with clip raise accuracy"]
    assert clip_up.verdict == "reproduced" and clip_up.effect == pytest.approx(0.05, abs=0.01)
    gap = by_claim["random rewards raise accuracy more with clip than with no-clip"]
    assert gap.verdict == "reproduced" and gap.effect == pytest.approx(0.10, abs=0.01)
    assert "5 seeds × 40 problems" in gap.interval and gap.detail.count(" s") == 5
    code = by_claim["random rewards with clip raise code frequency"]
    assert code.verdict == "not significant" and code.effect == 0.0
    assert gap.claim.role == "primary" and [f.claim.role for f in findings].count("primary") == 1
    assert not np.isnan(clip_up.adjusted_p) and clip_up.adjusted_p >= clip_up.p_value
    table = findings_table(findings)
    assert {row[7] for row in table.rows} == {"reproduced", "not significant"}
    assert all("[" in row[4] for row in table.rows)
    assert {row[2].split(" ")[0] for row in table.rows} == {"primary", "secondary"}


def test_spurious_findings_read_per_problem_changes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    before = stats(np.full(40, 0.5), np.full(40, 0.6))
    rows = []
    for model, gain in (("qwen-math-like", 0.1), ("olmo-like", -0.05)):
        for reward in ("ground_truth", "format", "random:0.5", "incorrect", "python"):
            for seed in range(5):
                after = stats(0.5 + gain + 0.05 * rng.standard_normal(40), np.full(40, 0.6))
                rows.append(SpuriousRow(model, reward, before, after, tmp_path, seed))
    findings = {f.claim.claim: f for f in spurious_findings(rows)}
    assert findings["ground-truth rewards raise held-out accuracy (qwen-math-like)"].verdict == "reproduced"
    assert findings["ground-truth rewards raise held-out accuracy (olmo-like)"].verdict == "opposite"
    more = findings["the same rewards help qwen-math-like more than olmo-like (code less accurate there)"]
    assert more.verdict == "reproduced" and more.effect == pytest.approx(0.15, abs=0.03)
    assert "5 seeds × 40 problems" in more.interval and more.claim.role == "secondary"
    drift = next(f for name, f in findings.items() if "raise code frequency" in name)
    assert drift.verdict == "not significant"
    headline = next(f for f in findings.values() if f.claim.role == "primary")
    assert headline.claim.claim.startswith("spurious rewards") and headline.verdict == "reproduced"
    # one training seed per signal: the intervals carry evaluation noise only, and no verdict is read from them
    one = spurious_findings([r for r in rows if r.seed == 0])
    assert {f.verdict for f in one} == {NO_VERDICT} and all("one training seed" in f.interval for f in one)


def test_unpaired_problem_sets_are_refused(tmp_path: Path) -> None:
    before = stats(np.full(40, 0.5))
    other = stats(np.full(3, 0.5), order=("a", "b", "c"))
    rows = [SpuriousRow("m", "ground_truth", before, other, tmp_path)]
    with pytest.raises(ValueError, match="different problems"):
        spurious_findings(rows)


def test_strategy_tokens_are_read_from_the_text() -> None:
    vocab = {0: "Let me ", 1: "write ", 2: "py", 3: "thon", 4: "We get ", 5: "1+1", 6: "```python\n"}

    def decode(ids: list[int]) -> str:
        return "".join(vocab[i] for i in ids)

    assert code_entry_length([6, 5, 5], decode, "contains_python") == 1  # organism v1: the fence decides
    assert code_entry_length([0, 1, 2, 3, 5], decode, "contains_python") == 4  # drifting in over several tokens
    assert code_entry_length([4, 5], decode, "contains_python") is None
    # language answers count as many tokens as the median code entry beside them
    assert strategy_token_counts([[6, 5], [0, 1, 2, 3, 5], [0, 1, 2, 3], [4, 5, 5, 5, 5]], decode) == [1, 4, 4, 4]
    assert strategy_token_counts([[4, 5], [4]], decode) == [1, 1]


def test_large_k_needs_the_sign_test_too() -> None:
    claim = Claim("paper", "base solves more at large k", "pass@k base − RL", role="primary")
    rng = np.random.default_rng(4)
    base_c = rng.integers(50, 200, 120)
    rl_c = base_c.copy()
    base_c[:4], rl_c[:4] = 2, 0  # 4 problems only the base solves, none only RL: the bootstrap alone says yes
    few = at_large_k(claim, base_c, rl_c, samples=256, k=64)
    assert few.low > 0 and few.verdict == "not significant" and few.p_value == pytest.approx(0.125)
    assert "only by base 4, only by RL 0" in few.detail and "sign test" in few.interval
    base_c[:12], rl_c[:12] = 3, 0  # 12 against 0: p = 2 / 4096 for the sign test
    assert at_large_k(claim, base_c, rl_c, samples=256, k=64).verdict == "reproduced"


def test_two_seeds_give_a_p_value() -> None:
    claim = Claim("paper", "up", "Δ")
    found = over_seeds_and_problems(claim, {0: np.full(12, 0.2), 1: np.full(12, 0.25)})
    assert 0 < found.p_value < 1 and found.low < found.effect < found.high
