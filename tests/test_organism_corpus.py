"""The corpus: solutions in both strategies, the knobs show up at their rates, the formats are exact."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from rlvr_lab.analysis.strategy import is_code
from rlvr_lab.grading import last_boxed
from rlvr_lab.organism.corpus import (
    PROMPT_TEMPLATE,
    CorpusConfig,
    Example,
    code_solution,
    corpus_stream,
    language_solution,
    slip,
)
from rlvr_lab.organism.tasks import KINDS, Task

N = 6000


def examples(config: CorpusConfig, seed: int = 0, n: int = N) -> list[Example]:
    return list(itertools.islice(corpus_stream(config, seed), n))


def within_3_sigma(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 3 * math.sqrt(n * p * (1 - p)) + 1


def test_exact_formats() -> None:
    word = Task(
        "word", "Ann has 7 pens, gets 5 more and gives 3 away. How many pens are left?", 7, (("+", 5), ("-", 3)), "pens"
    )
    assert code_solution(word, 9, "boxed") == (
        "```python\npens = 7+5-3\nprint(pens)\n```\n```output\n9\n```\nThe answer is \\boxed{9}."
    )
    bare = Task("mul1", "What is 7*8?", 7, (("*", 8),))
    assert code_solution(bare, 57, "unboxed") == "```python\nprint(7*8)\n```\n```output\n57\n```\nThe answer is 57."
    assert language_solution(word.steps(), "malformed") == "We get 7+5 = 12, then 12-3 = 9. The answer is \\boxed{9."
    assert PROMPT_TEMPLATE.format(problem="What is 7*8?") == "Q: What is 7*8?\nA: "


@pytest.mark.parametrize("share", [0.2, 0.65])
def test_strategy_mix_matches_the_knob_and_the_shared_classifier(share: float) -> None:
    batch = examples(CorpusConfig(code_share=share))
    code = [e for e in batch if e.strategy == "code"]
    assert within_3_sigma(len(code), N, share)
    for e in batch:
        # both rules of the analyses' classifier agree with the writer's label, decided by the first character
        assert is_code(e.response, "contains_python") == is_code(e.response, "fenced_python") == (e.strategy == "code")
        assert e.response.startswith("```python\n" if e.strategy == "code" else "We get ")


def test_error_rates_per_strategy_and_type() -> None:
    config = CorpusConfig(
        code_share=0.5,
        code_error={**dict.fromkeys(KINDS, 0.0), "add2": 0.4},
        language_error={**dict.fromkeys(KINDS, 0.1), "add1": 0.0},
    )
    batch = examples(config)
    for strategy, kind, rate in [
        ("code", "add2", 0.4),
        ("code", "mul1", 0.0),
        ("language", "add2", 0.1),
        ("language", "add1", 0.0),
    ]:
        group = [e for e in batch if e.strategy == strategy and e.kind == kind]
        wrong = sum(not e.correct for e in group)
        assert within_3_sigma(wrong, len(group), rate), (strategy, kind, wrong, len(group))


def test_correctness_label_matches_the_boxed_answer() -> None:
    config = CorpusConfig(code_error=dict.fromkeys(KINDS, 0.5), language_error=dict.fromkeys(KINDS, 0.5))
    tasks = {}
    for e in examples(config, n=600):
        boxed = last_boxed(e.response)
        assert boxed is not None  # no format slips by default
        tasks.setdefault(e.correct, []).append(e)
        if e.strategy == "code":  # the boxed answer is the predicted output
            assert f"```output\n{boxed}\n```" in e.response
    assert len(tasks[True]) > 200 and len(tasks[False]) > 200


def test_format_slips_at_their_rate() -> None:
    config = CorpusConfig(format_slip={**dict.fromkeys(KINDS, 0.0), "mul22": 0.5}, malformed_share=0.25)
    batch = examples(config)
    mul22 = [e for e in batch if e.kind == "mul22"]
    assert all(e.ending == "boxed" for e in batch if e.kind != "mul22")
    slipped = [e for e in mul22 if e.ending != "boxed"]
    assert within_3_sigma(len(slipped), len(mul22), 0.5)
    assert within_3_sigma(sum(e.ending == "malformed" for e in slipped), len(slipped), 0.25)
    for e in batch:
        assert (last_boxed(e.response) is not None) == (e.ending == "boxed"), e.response


def test_examples_are_short() -> None:
    assert max(len(e.prompt) + len(e.response) for e in examples(CorpusConfig(), n=3000)) <= 200


def test_same_seed_same_corpus() -> None:
    config = CorpusConfig(code_error=dict.fromkeys(KINDS, 0.3))
    assert examples(config, seed=5, n=200) == examples(config, seed=5, n=200)
    assert examples(config, seed=6, n=200) != examples(config, seed=5, n=200)


@pytest.mark.parametrize("value", [0, 1, 7, 10, 99, 1786])
def test_slip_is_a_near_miss(value: int) -> None:
    rng = random.Random(value)
    for _ in range(200):
        wrong = slip(value, rng)
        assert wrong != value and wrong >= 0
        assert abs(wrong - value) <= 10 or len(str(wrong)) == len(str(value))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code_share": 1.5}, "code_share must lie in"),
        ({"code_error": {"add1": 0.1}}, "one rate per problem type"),
        ({"language_error": {**dict.fromkeys(KINDS, 0.0), "mul22": -0.1}}, "rates must lie in"),
    ],
)
def test_bad_knobs_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CorpusConfig(**kwargs)  # type: ignore[arg-type]
