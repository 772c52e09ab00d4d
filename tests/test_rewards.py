"""Rewards: hand-computed case tables for every built-in reward, the spec parser, labels and pickling."""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest

from rlvr_lab.grading.grade import Grader, GradingConfig
from rlvr_lab.rewards import REWARDS, build_reward, select_problems
from rlvr_lab.rewards.base import parse_args
from rlvr_lab.rewards.labels import majority_answer, majority_labels
from rlvr_lab.rewards.random_reward import RandomReward, uniform_draw
from rlvr_lab.tasks.problem import Problem

P = Problem(id="p1", prompt="2+2?", answer="4")


def score(reward, completions: Sequence[str], problem: Problem = P, step: int = 0, seed: int = 0) -> list:
    return reward(
        problem=problem,
        completions=list(completions),
        sample_indices=list(range(len(completions))),
        step=step,
        seed=seed,
    )


def user_length_reward(
    *, problem: Problem, completions: Sequence[str], sample_indices: Sequence[int], step: int, seed: int
) -> list[float | None]:
    """A user reward for the ``module:function`` spec test: None for empty text, else 1 for short answers."""
    return [None if not c else float(len(c) < 10) for c in completions]


@pytest.fixture(scope="module")
def grader():
    with Grader(GradingConfig(workers=1)) as g:
        yield g


# ---------------------------------------------------------------------------------------------------------------
# text rewards

TEXT_CASES = [
    ("format", r"so \boxed{3}", 1.0),
    ("format", r"\boxed{1} then \boxed{ }", 0.0),  # the last box is blank
    ("format", r"\boxed{}", 0.0),
    ("format", r"the answer is \boxed{3", 0.0),  # unclosed: cut at the token limit
    ("format", "the answer is 3", 0.0),
    ("python", "```python\nprint(2+2)\n```", 1.0),
    ("python", "I will not use PYTHON here", 1.0),  # the paper's rule: any mention, any case
    ("python", "py thon", 0.0),
    ("format&not:python", r"\boxed{4}", 1.0),
    ("format&not:python", "```python\nprint(4)\n```\n" + r"\boxed{4}", 0.0),
    ("format&not:python", "four", 0.0),
    ("not:format", "four", 1.0),
    ("not:not:format", "four", 0.0),
]


@pytest.mark.parametrize(("spec", "text", "expected"), TEXT_CASES)
def test_text_rewards(spec: str, text: str, expected: float) -> None:
    assert score(build_reward(spec), [text]) == [expected]


def test_user_reward_by_dotted_path_and_none_propagation() -> None:
    user = build_reward("test_rewards:user_length_reward")
    assert score(user, ["short", "a much longer answer", ""]) == [1.0, 0.0, None]
    combined = build_reward("test_rewards:user_length_reward&not:python")
    assert score(combined, ["short", "python ok", ""]) == [1.0, 0.0, None]
    assert score(build_reward("not:test_rewards:user_length_reward"), ["", "short"]) == [None, 0.0]


# ---------------------------------------------------------------------------------------------------------------
# random:γ


def test_random_reward_is_deterministic_and_keyed() -> None:
    reward = build_reward("random:0.5")
    first = score(reward, ["a"] * 64, step=3, seed=7)
    assert score(reward, ["b"] * 64, step=3, seed=7) == first  # the text is ignored
    assert score(build_reward("random:gamma=0.5"), ["a"] * 64, step=3, seed=7) == first
    assert score(reward, ["a"] * 64, step=4, seed=7) != first
    assert score(reward, ["a"] * 64, step=3, seed=8) != first
    # A sample's draw does not depend on which other samples share its call.
    alone = reward(problem=P, completions=["a"], sample_indices=[17], step=3, seed=7)
    assert alone == [first[17]]
    assert uniform_draw(7, 3, "p1", 17) == uniform_draw(7, 3, "p1", 17)


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
def test_random_reward_rate_within_three_sigma(gamma: float) -> None:
    n = 10_000
    reward = RandomReward(gamma)
    # 100 problems x 10 steps x 10 samples: every key component varies.
    draws = [
        r
        for step in range(10)
        for k in range(100)
        for r in reward(
            problem=Problem(id=f"q{k}", prompt="", answer=""),
            completions=["x"] * 10,
            sample_indices=range(10),
            step=step,
            seed=1,
        )
    ]
    assert len(draws) == n and set(draws) <= {0.0, 1.0}
    sigma = math.sqrt(gamma * (1 - gamma) / n)
    assert abs(sum(draws) / n - gamma) < 3 * sigma


def test_random_edge_rates() -> None:
    assert score(build_reward("random:0"), ["x"] * 50) == [0.0] * 50
    assert score(build_reward("random:1"), ["x"] * 50) == [1.0] * 50
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        build_reward("random:1.5")


# ---------------------------------------------------------------------------------------------------------------
# grading rewards


def test_ground_truth(grader: Grader) -> None:
    reward = build_reward("ground_truth", grader)
    got = score(reward, [r"\boxed{4}", r"\boxed{2+2}", r"\boxed{5}", "four", r"\boxed{4.0}"])
    assert got == [1.0, 1.0, 0.0, 0.0, 1.0]


ONLINE_MAJORITY_CASES = [
    # label 5 (two votes); the correct 4 is not what the group agrees on
    ([r"\boxed{5}", r"\boxed{4}", r"\boxed{5}", "no answer"], [1.0, 0.0, 1.0, 0.0]),
    # a tie goes to the first answer in sample order
    ([r"\boxed{3}", r"\boxed{4}"], [1.0, 0.0]),
    # a group with no extractable answer earns nothing
    (["no", "answer"], [0.0, 0.0]),
    # equivalent spellings of the label are rewarded too
    ([r"\boxed{1/2}", r"\boxed{1/2}", r"\boxed{0.5}"], [1.0, 1.0, 1.0]),
]


@pytest.mark.parametrize(("completions", "expected"), ONLINE_MAJORITY_CASES)
def test_online_majority_vote(grader: Grader, completions: list[str], expected: list[float]) -> None:
    assert score(build_reward("majority_vote", grader), completions) == expected


def _write_store(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    with path.open("w") as f:
        for problem_id, idx, completion in rows:
            f.write(json.dumps({"problem_id": problem_id, "sample_idx": idx, "completion": completion}) + "\n")
    return path


@pytest.fixture
def base_store(tmp_path: Path) -> Path:
    # p1 (gold 4): the base model mostly says 5 -> an incorrect label exists.
    # p2 (gold 7): the base model mostly says 7 -> dropped by `incorrect`.
    # p3: nobody answered -> no label at all. Rows are out of sample order on purpose.
    return _write_store(
        tmp_path / "base.jsonl",
        [
            ("p1", 2, r"\boxed{4}"),
            ("p1", 0, r"\boxed{5}"),
            ("p1", 1, r"\boxed{5}"),
            ("p1", 3, r"\boxed{4}"),
            ("p1", 4, r"\boxed{4}"),
            ("p2", 0, r"\boxed{7}"),
            ("p2", 1, r"\boxed{7}"),
            ("p2", 2, r"\boxed{8}"),
            ("p3", 0, "hmm"),
            ("p3", 1, "hmm"),
            ("p3", 2, "hmm"),
        ],
    )


PROBLEMS = [Problem("p1", "", "4"), Problem("p2", "", "7"), Problem("p3", "", "1"), Problem("p4", "", "2")]


def test_offline_majority_vote_uses_the_first_votes_samples(grader: Grader, base_store: Path) -> None:
    all_votes = build_reward(f"majority_vote:store={base_store}", grader)
    three = build_reward(f"majority_vote:{base_store},3", grader)
    assert all_votes.labels == {"p1": "4", "p2": "7"}  # p1: three 4s beat two 5s over all five samples
    assert three.labels == {"p1": "5", "p2": "7"}  # samples 0, 1, 2 of p1: 5, 5, 4
    assert [p.id for p in select_problems(three, PROBLEMS)] == ["p1", "p2"]
    assert score(three, [r"\boxed{5}", r"\boxed{4}"], PROBLEMS[0]) == [1.0, 0.0]
    assert score(three, [r"\boxed{5}"], PROBLEMS[3]) == [None]
    with pytest.raises(ValueError, match="fewer than votes=4"):
        build_reward(f"majority_vote:store={base_store},votes=4", grader)


def test_incorrect_labels_drop_problems_the_base_model_gets_right(grader: Grader, base_store: Path) -> None:
    reward = build_reward(f"incorrect:store={base_store},votes=3", grader)
    assert [p.id for p in select_problems(reward, PROBLEMS)] == ["p1"]
    assert score(reward, [r"\boxed{5}", r"\boxed{4}"], PROBLEMS[0]) == [1.0, 0.0]  # rewarded for the wrong 5
    assert score(reward, [r"\boxed{7}"], PROBLEMS[1]) == [None]  # majority correct: dropped
    # All five samples: p1's majority is the correct 4, so nothing is left to train on.
    assert select_problems(build_reward(f"incorrect:store={base_store}", grader), PROBLEMS) == []
    # Compounds keep only what every part can score.
    both = build_reward(f"incorrect:store={base_store},votes=3&format", grader)
    assert [p.id for p in select_problems(both, PROBLEMS)] == ["p1"]


def test_labels_are_read_with_the_graders_fallbacks(tmp_path: Path) -> None:
    """A model that writes "The answer is 5" instead of boxing: its label store is read by the rule the reward
    grades by, so the base's wrong majority answer becomes the incorrect label only when the grader reads it."""
    store = _write_store(
        tmp_path / "plain.jsonl",
        [("p1", 0, "The answer is 5."), ("p1", 1, "The answer is 5."), ("p1", 2, "so 4"), ("p2", 0, "7")],
    )
    with Grader(GradingConfig(workers=1, fallbacks=("answer_is",))) as lenient:
        reward = build_reward(f"incorrect:store={store}", lenient)
        assert [p.id for p in select_problems(reward, PROBLEMS)] == ["p1"]
        assert score(reward, ["It is 4. The answer is 5.", r"\boxed{4}"], PROBLEMS[0]) == [1.0, 0.0]
    with Grader(GradingConfig(workers=1)) as boxed_only:  # nothing boxed: no label, nothing to train on
        assert select_problems(build_reward(f"incorrect:store={store}", boxed_only), PROBLEMS) == []


def test_majority_helpers() -> None:
    assert majority_answer([None, " 3", "4", "3 ", ""]) == "3"
    assert majority_answer([None, ""]) is None
    assert majority_labels({"a": ["1", "2", "2"], "b": [None]}, votes=None) == {"a": "2"}
    assert majority_labels({"a": ["1", "2", "2"]}, votes=1) == {"a": "1"}


# ---------------------------------------------------------------------------------------------------------------
# spec parser, registry, pickling


def test_spec_errors_list_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown reward 'grund_truth'.*choose one of: format, ground_truth"):
        build_reward("grund_truth")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        build_reward("no_such_module:fn")
    with pytest.raises(ValueError, match="has no 'missing'"):
        build_reward("test_rewards:missing")
    with pytest.raises(ValueError, match="empty term"):
        build_reward("format&")
    with pytest.raises(ValueError, match="takes no argument"):
        build_reward("format:1")
    with pytest.raises(ValueError, match="needs a sample store"):
        build_reward("incorrect")


def test_parse_args() -> None:
    assert parse_args("r", "a.jsonl,8", ("store", "votes")) == {"store": "a.jsonl", "votes": "8"}
    assert parse_args("r", "a.jsonl,votes=8", ("store", "votes")) == {"store": "a.jsonl", "votes": "8"}
    with pytest.raises(ValueError, match="unknown parameter 'vote'"):
        parse_args("r", "vote=8", ("store", "votes"))
    with pytest.raises(ValueError, match="unexpected positional"):
        parse_args("r", "votes=8,a.jsonl", ("store", "votes"))
    with pytest.raises(ValueError, match="given twice"):
        parse_args("r", "a,store=b", ("store", "votes"))


@pytest.mark.parametrize("spec", ["ground_truth", "majority_vote", "format&not:python", "random:0.3", "python"])
def test_rewards_pickle_with_a_live_grader(grader: Grader, spec: str) -> None:
    reward = build_reward(spec, grader)
    completions = [r"\boxed{4}", "python: \\boxed{5}"]
    before = score(reward, completions, step=2, seed=3)
    copy = pickle.loads(pickle.dumps(reward))
    assert score(copy, completions, step=2, seed=3) == before
    fresh = getattr(copy, "_grader", None)  # the copy started its own grader (the live one was not pickled)
    if fresh is not None:
        assert fresh is not grader
        fresh.close()


def test_registry_names() -> None:
    assert REWARDS.names() == [
        "format",
        "ground_truth",
        "incorrect",
        "majority_vote",
        "python",
        "random",
        "unit_tests",
    ]
