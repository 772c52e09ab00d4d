"""The organism's problems: deterministic from the seed, disjoint splits, correct answers, benchmark records."""

from __future__ import annotations

import ast
import itertools
import operator
import random
from collections import Counter

import pytest

from rlvr_lab.organism.tasks import (
    GENERATORS,
    KINDS,
    TEST_PERCENT,
    organism_problems,
    organism_tasks,
    split_of,
    task_stream,
)

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def evaluate(expression: str) -> int:
    """Evaluate an integer +,-,* expression with Python's own precedence (no eval)."""

    def walk(node: ast.expr) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        assert isinstance(node, ast.BinOp), ast.dump(node)
        return _OPS[type(node.op)](walk(node.left), walk(node.right))

    return walk(ast.parse(expression, mode="eval").body)


def test_same_seed_same_problems_other_seed_other_problems() -> None:
    first = organism_problems("test", seed=3, n=60)
    assert organism_problems("test", seed=3, n=60) == first
    assert [p.prompt for p in organism_problems("test", seed=4, n=60)] != [p.prompt for p in first]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_train_and_test_never_share_a_problem(seed: int) -> None:
    train = {t.text for t in organism_tasks("train", seed=seed)}
    test = {t.text for t in organism_tasks("test", seed=seed)}
    assert len(train) == 1200 and len(test) == 300  # the defaults, all distinct
    assert not train & test
    assert all(split_of(text) == "train" for text in train)
    assert all(split_of(text) == "test" for text in test)
    # the pretraining stream draws from the train split only
    streamed = {t.text for t in itertools.islice(task_stream("train", seed), 3000)}
    assert not streamed & test


def test_split_share_is_the_test_percent() -> None:
    rng = random.Random(0)
    texts = {GENERATORS["add2"](rng).text for _ in range(20000)}
    share = sum(split_of(t) == "test" for t in texts) / len(texts)
    assert abs(share - TEST_PERCENT / 100) < 0.02


def test_ids_meta_and_round_robin_types() -> None:
    problems = organism_problems("test", seed=0, n=13)
    assert problems[12].id == "org-test-00012"
    assert [p.meta["type"] for p in problems[:6]] == list(KINDS)
    assert problems[0].meta == {"type": "unit", "difficulty": 0, "split": "test"}
    assert all(p.source == "organism" for p in problems)
    assert organism_problems("train", n=1)[0].id == "org-train-00000"


def test_answers_are_the_value_of_the_expression() -> None:
    for task in organism_tasks("test", seed=0):
        assert evaluate(task.expression) == task.answer
        steps = task.steps()
        assert steps[-1][1] == task.answer
        assert all(evaluate(expr) == value for expr, value in steps)


def test_a_slip_propagates_to_later_steps() -> None:
    word = next(t for t in organism_tasks("test", seed=0) if len(t.ops) == 2)
    steps = word.steps(slip_at=0, slip=lambda v: v + 1)
    assert steps[0][1] == word.steps()[0][1] + 1
    assert steps[1][1] == word.answer + 1 and steps[1][0].startswith(str(steps[0][1]))


def test_bad_split_raises() -> None:
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        organism_problems("dev")


def test_a_type_that_runs_out_leaves_the_rotation() -> None:
    # the boundary study asks for 500+ test problems; mul1 has about 70 test texts, the others go on
    many = organism_tasks("test", n=1000)
    assert len({t.text for t in many}) == 1000
    kinds = Counter(t.kind for t in many)
    assert kinds["mul1"] < 80 and min(kinds[k] for k in ("unit", "word", "add2", "mul22")) >= 190
    # a prefix of a longer list: the studies' first 120 problems do not move
    assert [t.text for t in organism_tasks("test", n=120)] == [t.text for t in many[:120]]
