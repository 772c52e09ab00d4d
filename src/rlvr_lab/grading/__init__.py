"""Grading: extract the final answer from a completion and check it against the gold with math-verify.

- :mod:`~rlvr_lab.grading.extract`: the last ``\\boxed{}`` first, then named fallbacks;
- :mod:`~rlvr_lab.grading.equivalence`: how an answer is handed to math-verify;
- :mod:`~rlvr_lab.grading.pool`: worker processes with a hard, killable timeout per pair;
- :mod:`~rlvr_lab.grading.grade`: the cached :class:`Grader` and :func:`grade_samples`.
"""

from rlvr_lab.grading.extract import EXTRACTORS, Extraction, extract_answer, last_boxed
from rlvr_lab.grading.grade import Grader, GradingConfig, grade_samples
from rlvr_lab.grading.pool import Outcome, VerifierPool
from rlvr_lab.grading.verdict import Status, Verdict

__all__ = [
    "EXTRACTORS",
    "Extraction",
    "Grader",
    "GradingConfig",
    "Outcome",
    "Status",
    "Verdict",
    "VerifierPool",
    "extract_answer",
    "grade_samples",
    "last_boxed",
]
