"""``unit_tests``: 1 when the completion's program passes the problem's unit tests in the sandbox, else 0.

The reward of code RL (and of Yue et al., 2025's code experiments): the completion becomes a program by the code
grader's conventions (:mod:`rlvr_lab.grading.code`), runs with the problem's tests under the sandbox's limits
(:mod:`rlvr_lab.grading.execution`), and scores 1 only on ``passed``; failed, timeout, error and oom score 0.
Identical programs in a group run once (and are cached across steps). A problem without unit tests (maths)
gets ``None``, "not applicable", so a mixed data set does not silently train toward 0 on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rlvr_lab.grading.grade import Grader
from rlvr_lab.rewards.base import REWARDS, no_args
from rlvr_lab.rewards.graded import _Graded
from rlvr_lab.tasks.code import code_spec
from rlvr_lab.tasks.problem import Problem


class UnitTestReward(_Graded):
    """1 for a program that passes the problem's tests; ``None`` for problems without tests."""

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]:
        if code_spec(problem) is None:
            return [None] * len(completions)
        verdicts = self.grader.grade_problems([(problem, completion) for completion in completions])
        return [1.0 if verdict.correct else 0.0 for verdict in verdicts]


@REWARDS.register("unit_tests")
def make_unit_tests(arg: str | None, grader: Grader | None) -> UnitTestReward:
    """``unit_tests``: the problem's unit tests pass in the sandbox."""
    no_args("unit_tests", arg)
    return UnitTestReward(grader)
