"""Smoke tests of `rlvr passk` and `rlvr compare` on small graded files with the `rlvr grade` column contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rlvr_lab.cli import compare, passk
from test_metrics_graded import write_graded

RUNNER = CliRunner()


def app() -> typer.Typer:
    """The two commands as `rlvr` registers them (only these modules: the tests stay independent of the rest)."""
    cli = typer.Typer()
    passk.register(cli)
    compare.register(cli)
    return cli


def verdicts(counts: list[int], n: int) -> dict[str, list[bool]]:
    """Problem p{i} with counts[i] correct samples out of n (correct ones first)."""
    return {f"p{i}": [j < c for j in range(n)] for i, c in enumerate(counts)}


def run(*args: str) -> tuple[int, str]:
    result = RUNNER.invoke(app(), list(args))
    return result.exit_code, result.output


def test_passk_json(tmp_path: Path) -> None:
    graded = write_graded(tmp_path / "g.parquet", verdicts([0, 1, 2, 4], 4), config={"grader": "unit"})
    code, out = run("passk", str(graded), "--k", "1,2,4", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["n"] == 4 and result["problems"] == 4 and result["k"] == [1, 2, 4]
    # Per problem: pass@2 = 1 - C(4-c,2)/C(4,2) = 0, 1/2, 5/6, 1.
    assert result["pass_at_k"] == pytest.approx({"1": 0.4375, "2": (0.5 + 5 / 6 + 1) / 4, "4": 0.75})
    assert result["avg_at_n"] == pytest.approx(0.4375)
    # Correct answers are "42", wrong ones "41": maj@4 ties 2-2 on p2 (score 1/2), p1 loses 1-3.
    assert result["maj_at_k"]["4"] == pytest.approx((0 + 0 + 0.5 + 1) / 4)
    assert result["metadata"] == {"config": {"grader": "unit"}}


def test_passk_default_ks_and_table(tmp_path: Path) -> None:
    graded = write_graded(tmp_path / "g.parquet", verdicts([3, 5], 6))
    code, out = run("passk", str(graded), "--json")
    assert code == 0, out
    assert json.loads(out)["k"] == [1, 2, 4]
    code, out = run("passk", str(graded))
    assert code == 0 and "pass@k" in out and "avg@6" in out


def test_passk_errors_name_the_problem(tmp_path: Path) -> None:
    graded = write_graded(tmp_path / "g.parquet", verdicts([1, 2], 4))
    code, out = run("passk", str(graded), "--k", "8", "--json")
    assert code == 1 and "k=8 exceeds n=4" in out
    uneven = write_graded(tmp_path / "uneven.parquet", {"a": [True, False], "b": [True]})
    code, out = run("passk", str(uneven), "--json")
    assert code == 1 and "uneven.parquet: problems have different numbers of samples" in out
    code, out = run("passk", str(uneven), "--json", "--allow-uneven-n")
    assert code == 0 and json.loads(out)["n"] == 1


def test_compare_writes_plot_and_json(tmp_path: Path) -> None:
    base = write_graded(tmp_path / "base.parquet", verdicts([1, 1, 1, 1], 4))  # pass@k = k / 4
    rl = write_graded(tmp_path / "rl.parquet", verdicts([4, 4, 0, 0], 4))  # pass@k = 1/2 for every k
    out_dir = tmp_path / "cmp"
    code, out = run("compare", str(base), str(rl), "--out", str(out_dir), "--resamples", "500")
    assert code == 0, out
    assert (out_dir / "passk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((out_dir / "compare.json").read_text())
    assert result["labels"] == {"a": "base", "b": "rl"}
    assert result["n"] == {"a": 4, "b": 4} and result["problems"] == 4
    assert result["pass_at_k"]["base"] == pytest.approx({"1": 0.25, "2": 0.5, "3": 0.75, "4": 1.0})
    assert result["pass_at_k"]["rl"] == pytest.approx({"1": 0.5, "2": 0.5, "3": 0.5, "4": 0.5})
    # RL leads at k = 1; the base model reaches it exactly at k = 2.
    assert result["crossover_k"] == pytest.approx(2.0)
    assert result["crossover_k_b_catches_a"] is None
    assert result["coverage"] == {"both": 2, "only_a": 2, "only_b": 0, "neither": 0}
    assert result["delta_se"] == {"k": 4, "value": pytest.approx(0.5)}
    diff = result["pass_at_1_diff"]
    assert diff["mean"] == pytest.approx(0.25) and -0.25 <= diff["lo"] <= 0.25 <= diff["hi"] <= 0.75
    assert result["accuracy_histogram"]["rl"]["0"] == 2 and result["accuracy_histogram"]["rl"]["1"] == 2
    band = result["bands"]["base"]
    assert band["k"] == [1, 2, 3, 4] and len(band["lo"]) == 4


def test_compare_refuses_different_problem_sets(tmp_path: Path) -> None:
    a = write_graded(tmp_path / "a.parquet", verdicts([1, 1], 2))
    b = write_graded(tmp_path / "b.parquet", {"p0": [True, True], "other": [False, True]})
    code, out = run("compare", str(a), str(b), "--out", str(tmp_path / "x"))
    assert code == 1 and "cover different problems" in out
    code, out = run("compare", str(a), str(a), "--out", str(tmp_path / "x"), "--label-b", "base")
    assert code == 1 and "labels must differ" in out
