"""Every registered benchmark with a file in shared/data loads with the published count and sane gold answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rlvr_lab.tasks import BENCHMARKS, ProblemDataError, ProblemSourceError, load_problems

COUNTS = [
    ("math500", "test", 500),
    ("math", "test", 5000),
    ("math", "train", 7498),  # 7,500 rows less the two whose solution boxes nothing (see MATH_BLANK_ANSWERS)
    ("gsm8k", "test", 1319),
    ("gsm8k", "train", 7473),
    ("aime2024", "test", 30),
    ("minerva", "test", 272),
    ("olympiadbench", "test", 675),
]


@pytest.mark.parametrize(("name", "split", "count"), COUNTS)
def test_local_benchmark_counts_and_answers(data_dir: Path, name: str, split: str, count: int) -> None:
    problems = load_problems(name, data_dir=data_dir, split=split)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    assert all(p.prompt and p.answer and p.answer == p.answer.strip() for p in problems)
    assert {p.source for p in problems} == {name}


def test_every_benchmark_is_registered() -> None:
    expected = {"math500", "math", "gsm8k", "aime2024", "aime2025", "amc2023", "minerva", "olympiadbench", "organism"}
    expected |= {"humaneval", "mbpp"}
    assert set(BENCHMARKS.names()) == expected


def test_math500_gold_equals_the_last_box_of_the_math_solution(data_dir: Path) -> None:
    """MATH-500's ``answer`` field and our MATH gold (last box of the solution) agree on all 500 shared problems."""
    math500 = load_problems("math500", data_dir=data_dir)
    math = {p.id: p for p in load_problems("math", data_dir=data_dir)}
    assert math500[0].id == "test/precalculus/807.json"
    assert math500[0].answer == r"\left( 3, \frac{\pi}{2} \right)"
    assert [p.answer for p in math500] == [math[p.id].answer for p in math500]
    assert [p.prompt for p in math500] == [math[p.id].prompt for p in math500]


def test_gsm8k_final_answers_are_parsed(data_dir: Path) -> None:
    problems = load_problems("gsm8k", data_dir=data_dir)
    assert (problems[0].id, problems[0].answer) == ("0", "18")
    assert problems[146].answer == "2125"  # "#### 2,125": the thousands separator goes
    assert problems[0].meta["solution"].endswith("#### 18")
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", p.answer) for p in problems)


def test_aime_answers_are_plain_integers(data_dir: Path) -> None:
    problems = {p.id: p for p in load_problems("aime2024", data_dir=data_dir)}
    assert set(problems) == {str(i) for i in range(60, 90)}
    assert problems["67"].answer == "25"  # stored as "025"
    assert problems["60"].answer == "204"
    assert all(re.fullmatch(r"0|[1-9]\d{0,2}", p.answer) for p in problems.values())


def test_minerva_gold_comes_from_the_solution_box(data_dir: Path) -> None:
    problems = load_problems("minerva", data_dir=data_dir)
    assert [p.id for p in problems] == [str(i) for i in range(272)]
    assert [p.answer for p in problems[:3]] == ["1.6", "4.5e33", "41.8"]
    assert problems[0].meta["type"].startswith("Introduction to Astronomy")


def test_olympiadbench_answers_lose_dollars_and_join(data_dir: Path) -> None:
    problems = {p.id: p for p in load_problems("olympiadbench", data_dir=data_dir)}
    assert problems["1664"].answer == "69,84"  # final_answer ["$69$,$84$"]
    assert problems["2426"].answer == r"\frac{600}{7}"
    assert problems["2426"].meta["unit"] == "km/h"
    assert not any("$" in p.answer for p in problems.values())


def test_benchmark_rows_with_bugs_name_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    rows = [{"question": "q1", "answer": "work\n#### 3"}, {"question": "q2", "answer": "forgot the marker 4"}]
    path = tmp_path / "gsm8k" / "test.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    with pytest.raises(ProblemDataError, match=rf"{re.escape(str(path))}:2: field 'answer': no '#### <number>'"):
        load_problems("gsm8k", data_dir=tmp_path)
    (tmp_path / "aime2025").mkdir()
    rows = [{"id": 1, "problem": "p", "answer": "007"}, {"id": 2, "problem": "q", "answer": "seven"}]
    path = tmp_path / "aime2025" / "test.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert load_problems("aime2025", data_dir=tmp_path, limit=1)[0].answer == "7"
    with pytest.raises(ProblemDataError, match=r"test\.jsonl:2: field 'answer': expected an integer answer"):
        load_problems("aime2025", data_dir=tmp_path)


def test_local_file_for_a_held_out_benchmark(tmp_path: Path) -> None:
    (tmp_path / "amc2023").mkdir()
    rows = [{"id": 0, "question": "How many?", "answer": 27.0}, {"id": 1, "question": "Which?", "answer": 0.5}]
    (tmp_path / "amc2023" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    problems = load_problems("amc2023", data_dir=tmp_path)
    assert [(p.id, p.prompt, p.answer) for p in problems] == [("0", "How many?", "27"), ("1", "Which?", "0.5")]


def test_bad_split_and_missing_data_dir(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="benchmark 'aime2024' has no split 'train'; choose one of: test"):
        load_problems("aime2024", data_dir=data_dir, split="train")
    with pytest.raises(ProblemSourceError, match=r"data directory .*nowhere does not exist"):
        load_problems("math500", data_dir=tmp_path / "nowhere")


def test_data_dir_from_the_environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLVR_DATA_DIR", str(data_dir))
    assert len(load_problems("aime2024", limit=4)) == 4


def test_organism_benchmark_is_generated() -> None:
    problems = load_problems("organism", limit=5)
    assert len(problems) == 5
    assert {p.source for p in problems} == {"organism"}
    assert all(re.fullmatch(r"-?\d+", p.answer) for p in problems)
