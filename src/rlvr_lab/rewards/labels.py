"""Labels for label-based rewards: majority answers, online from a group or offline from a sample store.

Votes follow :mod:`rlvr_lab.metrics.majority`: answers are extracted by the grading pipeline's extractor and
vote by exact string after stripping whitespace; a sample with no extracted answer does not vote. Ties go to the
answer that appears first in sample order, so a label is a deterministic function of the samples. Offline labels
use each problem's first ``votes`` samples by ``sample_idx`` (all of them when ``votes`` is None); a problem with
fewer samples than ``votes`` raises rather than voting with fewer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from rlvr_lab.grading.extract import extract_answer


def majority_answer(answers: Iterable[str | None]) -> str | None:
    """The most common non-empty answer (first in order among ties); None when no sample answered."""
    votes = [a.strip() for a in answers if a is not None and a.strip()]
    if not votes:
        return None
    counts = Counter(votes)
    top = max(counts.values())
    return next(a for a in votes if counts[a] == top)


def store_answers(path: Path, fallbacks: tuple[str, ...] = ()) -> dict[str, list[str | None]]:
    """Extracted answers per problem id from a sample store, in ``sample_idx`` order (``fallbacks`` as in
    :func:`~rlvr_lab.grading.extract.extract_answer`)."""
    from rlvr_lab.store import iter_sample_batches

    extracted: list[tuple[str, int, str | None]] = []
    for table in iter_sample_batches(Path(path), columns=[]):  # texts are dropped batch by batch, answers kept
        columns = (table.column(name).to_pylist() for name in ("problem_id", "sample_idx", "completion"))
        extracted.extend(
            (pid, idx, extract_answer(text or "", fallbacks).answer) for pid, idx, text in zip(*columns, strict=True)
        )
    answers: dict[str, list[str | None]] = {}
    for problem_id, _, answer in sorted(extracted, key=lambda row: row[:2]):
        answers.setdefault(problem_id, []).append(answer)
    return answers


def majority_labels(answers: dict[str, Sequence[str | None]], votes: int | None = None) -> dict[str, str]:
    """Per problem, the majority answer of its first ``votes`` samples; problems where nobody answered get none."""
    if votes is not None and votes < 1:
        raise ValueError(f"votes must be >= 1, got {votes}")
    labels = {}
    for problem_id, problem_answers in answers.items():
        if votes is not None and len(problem_answers) < votes:
            raise ValueError(f"problem {problem_id!r} has {len(problem_answers)} samples, fewer than votes={votes}")
        label = majority_answer(problem_answers[:votes])
        if label is not None:
            labels[problem_id] = label
    return labels
