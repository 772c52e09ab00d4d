"""The chain checker against the corpus generator: every correct chain accepted, every injected error caught."""

from __future__ import annotations

import itertools
import random

import pytest

from rlvr_lab.organism.chains import check_chain, python_value, tasks_by_text
from rlvr_lab.organism.corpus import CorpusConfig, write_example
from rlvr_lab.organism.tasks import KINDS, Task, task_stream


def _config(code_error: float, language_error: float, code_share: float = 0.5) -> CorpusConfig:
    return CorpusConfig(
        code_share=code_share,
        code_error=dict.fromkeys(KINDS, code_error),
        language_error=dict.fromkeys(KINDS, language_error),
        format_slip=dict.fromkeys(KINDS, 0.3),  # every ending appears: boxed, unboxed, malformed
    )


def _examples(config: CorpusConfig, n: int, seed: int):
    rng = random.Random(seed)
    for task in itertools.islice(task_stream("train", seed), n):
        yield task, write_example(task, config, rng)


def test_error_free_chains_are_all_accepted() -> None:
    seen = set()
    for task, example in _examples(_config(0.0, 0.0), 3000, seed=0):
        check = check_chain(task, example.response)
        assert check.valid, (example.response, check.errors)
        assert check.strategy == example.strategy
        assert check.answer == task.answer
        seen.add((example.strategy, example.ending, task.kind))
    assert len(seen) == 2 * 3 * len(KINDS)  # every strategy × ending × problem type was checked


def test_v2_answers_with_lead_ins_are_checked_like_v1() -> None:
    """The v2 corpus opens each answer with a lead-in sentence; the checker reads the chain after it."""
    config = _config(0.0, 0.0)
    v2 = CorpusConfig(**{**config.__dict__, "lead_ins": True})
    for task, example in _examples(v2, 600, seed=2):
        check = check_chain(task, example.response)
        assert check.valid and check.strategy == example.strategy, (example.response, check.errors)
    wrong = CorpusConfig(**{**v2.__dict__, "code_error": config.code_error | dict.fromkeys(KINDS, 1.0)})
    wrong = CorpusConfig(**{**wrong.__dict__, "language_error": dict.fromkeys(KINDS, 1.0)})
    assert not any(check_chain(task, ex.response).valid for task, ex in _examples(wrong, 600, seed=3))


def test_every_injected_error_is_caught() -> None:
    strategies = set()
    for task, example in _examples(_config(1.0, 1.0), 3000, seed=1):
        check = check_chain(task, example.response)
        assert not check.valid, example.response
        assert check.strategy == example.strategy
        strategies.add(example.strategy)
    assert strategies == {"code", "language"}


def test_hand_written_cases() -> None:
    task = Task(
        "word", "Ann has 7 pens, gets 5 more and gives 3 away. How many pens are left?", 7, (("+", 5), ("-", 3)), "pens"
    )
    ok = check_chain(task, "We get 7+5 = 12, then 12-3 = 9. The answer is \\boxed{9}.")
    assert ok.valid and ok.strategy == "language" and ok.answer == 9
    # two compensating slips: the answer is right, both steps are wrong
    lucky = check_chain(task, "We get 7+5 = 13, then 13-3 = 9. The answer is \\boxed{9}.")
    assert lucky.answer == 9 and len(lucky.errors) == 2
    # the wrong operand copied, arithmetic right
    assert not check_chain(task, "We get 7+6 = 13, then 13-4 = 9. The answer is \\boxed{9}.").valid
    code = "```python\npens = 7+5-3\nprint(pens)\n```\n```output\n9\n```\nThe answer is \\boxed{9}."
    assert check_chain(task, code).valid
    assert check_chain(task, code.replace("output\n9", "output\n8")).errors == (
        "predicted output 8, python prints 9",
        "answer 9 is not the predicted output 8",
    )
    assert check_chain(task, "The answer is \\boxed{9}.").strategy == "unparsed"


def test_python_value_uses_python_precedence() -> None:
    assert python_value("2+3*4") == 14
    assert python_value("7-2-1") == 4
    assert python_value("__import__('os')") is None
    assert python_value("2**3") is None


@pytest.mark.parametrize("split", ["test", "train"])
def test_tasks_by_text_covers_the_benchmark(split: str) -> None:
    from rlvr_lab.organism.tasks import organism_problems

    tasks = tasks_by_text(split, 60)
    for problem in organism_problems(split, n=60):
        assert str(tasks[problem.prompt].answer) == problem.answer
