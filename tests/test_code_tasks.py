"""HumanEval and MBPP through the code grader: loaders, completion conventions, reference solutions, the reward,
and the ``rlvr grade`` / ``passk`` / ``compare`` commands on code samples."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.grading import Grader, GradingConfig, grade_samples
from rlvr_lab.grading.code import assemble, code_blocks, cut_body
from rlvr_lab.grading.sandbox import SandboxConfig
from rlvr_lab.rewards import build_reward
from rlvr_lab.tasks import Problem, ProblemDataError, load_problems
from rlvr_lab.tasks.code import CodeSpec, code_spec, load_extra_tests

SPEC = CodeSpec(tests="assert inc(1) == 2", entry_point="inc", prefix='def inc(x):\n    """Add one."""\n')


@pytest.fixture(scope="module")
def humaneval(data_dir: Path) -> list[Problem]:
    return load_problems("humaneval", data_dir=data_dir)


@pytest.fixture(scope="module")
def grader() -> Grader:
    with Grader(GradingConfig(sandbox=SandboxConfig(workers=2))) as shared:
        yield shared


def body(problem: Problem) -> str:
    """The canonical solution as a base model would write it: the code after the prompt."""
    return problem.answer[len(problem.prompt) :]


def fenced(problem: Problem) -> str:
    """The canonical solution as a chat model would write it: the whole function in a code block."""
    return f"Here is the function:\n```python\n{problem.answer}\n```\nIt works as follows."


def wrong(problem: Problem) -> tuple[str, str]:
    """``return None`` in both conventions."""
    return "    return None\n", f"```python\n{problem.prompt}    return None\n```"


# ---------------------------------------------------------------------------------------------- loaders


def test_benchmarks_load_with_their_tests(data_dir: Path, humaneval: list[Problem]) -> None:
    assert len(humaneval) == 164
    first = humaneval[0]
    assert first.id == "HumanEval/0"
    spec = code_spec(first)
    assert spec is not None and spec.entry_point == "has_close_elements"
    assert spec.tests.rstrip().endswith("check(has_close_elements)")
    assert spec.prefix == first.prompt and first.prompt.endswith('"""\n')
    sizes = {split: len(load_problems("mbpp", data_dir=data_dir, split=split)) for split in ("test", "train")}
    assert sizes == {"test": 257, "train": 120}
    mbpp = load_problems("mbpp", data_dir=data_dir, limit=1)[0]
    assert mbpp.id == "Mbpp/11" and "Your code should pass these tests:" in mbpp.prompt
    assert code_spec(mbpp).entry_point == "remove_Occ"  # type: ignore[union-attr]
    assert code_spec(load_problems("math500", data_dir=data_dir, limit=1)[0]) is None


# ---------------------------------------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    ("completion", "convention", "code"),
    [
        ("    return x + 1\n\ndef unrelated():\n    pass\n", "body", "    return x + 1\n"),
        ("    return x + 1\n# a comment\nprint(inc(1))", "body", "    return x + 1"),
        ("Sure:\n```python\ndef inc(x):\n    return x + 1\n```\nDone.", "fenced", "def inc(x):\n    return x + 1"),
        (
            "```python\nimport math\n```\n```py\ndef inc(x):\n    return x + 1\n```",
            "fenced",
            "def inc(x):\n    return x + 1",
        ),
        ("```python\ndef inc(x):\n    return x + 1", "fenced", "def inc(x):\n    return x + 1"),
        ("```\n    return x + 1\n```", "fenced", "    return x + 1"),
        ("def inc(x):\n    return x + 1\n", "program", "def inc(x):\n    return x + 1\n"),
    ],
)
def test_conventions(completion: str, convention: str, code: str) -> None:
    program, taken, used = assemble(SPEC, completion)
    assert (taken, used) == (code, convention)
    namespace: dict = {}
    exec(program, namespace)  # only our own fixed strings run here, not model output
    assert namespace["inc"](1) == 2


def test_mbpp_style_problem_has_no_body_convention() -> None:
    spec = CodeSpec(tests="assert f() == 1", entry_point="f")
    assert assemble(spec, "def f():\n    return 1")[2] == "program"
    assert code_blocks("no code here") == []
    assert cut_body("    return 1\nif __name__ == '__main__':\n    main()") == "    return 1"


# ---------------------------------------------------------------------------------------------- references


def _grade_references(grader: Grader, problems: list[Problem]) -> dict[int, list[str]]:
    rows = []
    for problem in problems:
        bad_body, bad_fenced = wrong(problem)
        rows += [(problem.id, 0, body(problem)), (problem.id, 1, fenced(problem))]
        rows += [(problem.id, 2, bad_body), (problem.id, 3, bad_fenced)]
    table = grade_samples({p.id: p for p in problems}, rows, grader=grader).to_pylist()
    statuses: dict[int, list[str]] = {}
    for row in table:
        statuses.setdefault(row["sample_idx"], []).append((row["status"], row["extract_strategy"]))
    return statuses


def test_humaneval_references_pass_and_return_none_fails_first_problems(
    grader: Grader, humaneval: list[Problem]
) -> None:
    statuses = _grade_references(grader, humaneval[:6])
    assert statuses[0] == [("passed", "body")] * 6
    assert statuses[1] == [("passed", "fenced")] * 6
    assert statuses[2] == [("failed", "body")] * 6
    assert statuses[3] == [("failed", "fenced")] * 6


@pytest.mark.slow
def test_humaneval_all_164_references_pass_in_both_conventions(grader: Grader, humaneval: list[Problem]) -> None:
    statuses = _grade_references(grader, humaneval)
    assert statuses[0] == [("passed", "body")] * 164
    assert statuses[1] == [("passed", "fenced")] * 164
    assert {status for status, _ in statuses[2] + statuses[3]} == {"failed"}


@pytest.mark.slow
def test_mbpp_sanitized_references_pass(data_dir: Path) -> None:
    problems = [
        p
        for split in ("test", "train", "validation", "prompt")
        for p in load_problems("mbpp", data_dir=data_dir, split=split)
    ]
    assert len(problems) == 427
    # Mbpp/123's reference (amicable numbers below 9999, quadratic) needs seconds of CPU: on a busy machine more
    # than the default 10 s of wall clock, so this check allows a minute per program.
    with Grader(GradingConfig(sandbox=SandboxConfig(timeout_s=60.0, workers=2))) as patient:
        verdicts = patient.grade_problems([(p, f"```python\n{p.answer}\n```") for p in problems])
    failures = [(p.id, v.status, v.detail) for p, v in zip(problems, verdicts, strict=True) if not v.correct]
    assert failures == []


# ---------------------------------------------------------------------------------------------- extra tests, reward


def test_extra_tests_are_appended_and_bad_rows_named(grader: Grader, humaneval: list[Problem], tmp_path: Path) -> None:
    problem = next(p for p in humaneval if p.id == "HumanEval/53")  # add(x, y)
    cheat = "```python\ndef add(x, y):\n    return x + y + (x > 1000)\n```"  # right on the original tests only
    extra = tmp_path / "plus.jsonl"
    row = {"task_id": "HumanEval/53", "inputs": [[1001, 1], [3, 4]], "outputs": [1002, 7]}
    extra.write_text(json.dumps(row) + "\n")
    plus = load_extra_tests(extra, [problem])[0]
    before, after = grader.grade_problems([(problem, cheat), (plus, cheat)])
    assert before.status == "passed"
    assert after.status == "failed" and "_got" in after.detail
    assert grader.grade_problems([(plus, fenced(problem))])[0].status == "passed"
    extra.write_text('{"task_id": "HumanEval/999", "test": "assert True"}\n')
    with pytest.raises(ProblemDataError, match=r"plus.jsonl:1: field 'task_id'"):
        load_extra_tests(extra, [problem])


def test_unit_tests_reward(grader: Grader, humaneval: list[Problem], data_dir: Path) -> None:
    reward = build_reward("unit_tests", grader)
    problem = humaneval[2]
    scores = reward(
        problem=problem, completions=[body(problem), wrong(problem)[0]], sample_indices=[0, 1], step=1, seed=0
    )
    assert scores == [1.0, 0.0]
    maths = load_problems("math500", data_dir=data_dir, limit=1)[0]
    assert reward(problem=maths, completions=["x"], sample_indices=[0], step=1, seed=0) == [None]
    mixed = grader.grade_problems([(maths, f"\\boxed{{{maths.answer}}}"), (problem, body(problem))])
    assert [(v.correct, v.status) for v in mixed] == [(True, "ok"), (True, "passed")]


# ---------------------------------------------------------------------------------------------- commands


def test_grade_passk_compare_on_code_samples(humaneval: list[Problem], data_dir: Path, tmp_path: Path) -> None:
    problems = humaneval[:2]
    for name, good in (("a", 1), ("b", 2)):
        rows = [
            {"problem_id": p.id, "sample_idx": i, "completion": body(p) if i < good else wrong(p)[0]}
            for p in problems
            for i in range(2)
        ]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    runner = CliRunner()
    app = build_app()
    for name in ("a", "b"):
        args = ["grade", "--problems", "humaneval", "--samples", str(tmp_path / f"{name}.jsonl")]
        done = runner.invoke(
            app, [*args, "--out", str(tmp_path / f"{name}.parquet"), "--data-dir", str(data_dir), "--json"]
        )
        assert done.exit_code == 0, done.output
        summary = json.loads(done.output)
        assert summary["status"]["passed"] == 2 * (1 if name == "a" else 2)
    table = pq.read_table(tmp_path / "a.parquet")
    assert set(table.column_names) >= {"problem_id", "sample_idx", "answer", "extract_strategy", "correct", "status"}
    assert table.column("correct").to_pylist() == [True, False, True, False]
    metadata = json.loads(table.schema.metadata[b"grading"])
    assert metadata["sandbox"]["protections"]["backend"] in ("bwrap", "unshare", "plain")
    passk = runner.invoke(app, ["passk", str(tmp_path / "a.parquet"), "--json"])
    assert passk.exit_code == 0, passk.output
    assert json.loads(passk.output)["pass_at_k"] == {"1": 0.5, "2": 1.0}
    compared = runner.invoke(
        app, ["compare", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--out", str(tmp_path / "cmp")]
    )
    assert compared.exit_code == 0, compared.output
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["pass_at_k"]["rl"]["1"] == 1.0
