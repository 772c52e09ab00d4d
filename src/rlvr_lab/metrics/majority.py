"""maj@k: majority vote over extracted answers.

maj@k of a problem scores the answer that most of its first ``k`` samples agree on (Wang et al., 2023,
"Self-Consistency Improves Chain of Thought Reasoning"); the reported number is the mean over problems.

Definitions, stated because papers differ on them:
- **Votes.** Answers vote by exact string after stripping surrounding whitespace. A sample with no extracted
  answer (``None`` or empty) does not vote. Equivalent but differently written answers ("1/2", "0.5") are separate
  candidates: merging them would need the grader inside the metric.
- **Verdict of the winner.** The winning answer is correct if any of its samples is graded correct. Verdicts are a
  function of (gold, answer), so its samples agree unless one of them timed out or errored during grading; the
  successful verdict is then the right one.
- **Ties** (``ties="split"``, the default): when several answers share the top count, the score is the fraction
  of them that are correct, i.e. the expected score under a uniformly random tie-break. It depends neither on
  sample order nor on an arbitrary rule. ``ties="first"`` instead takes the tied answer that appears first among
  the samples (what ``collections.Counter.most_common`` does), giving 0/1 scores.
- **No votes** (every one of the first k samples unanswered): score 0.

``expected_maj_at_k`` is the order-free variant: the mean maj@k over uniformly random k-subsets of the n samples,
estimated by Monte Carlo with a seed (the exact expectation is a sum over multivariate hypergeometric outcomes,
costly for large n). The first-k version is unbiased too, but uses only k of the n samples, so it is noisier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

TieRule = Literal["split", "first"]
TIE_RULES: tuple[TieRule, ...] = ("split", "first")


def _encode(answers: Sequence[str | None], correct: Sequence[bool]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Map answers to class ids in order of first appearance (-1 = no answer); return ids ``(n,)`` and per-class
    correctness ``(A,)``."""
    if len(answers) != len(correct):
        raise ValueError(f"answers and correct differ in length: {len(answers)} vs {len(correct)}")
    ids: dict[str, int] = {}
    codes = np.empty(len(answers), dtype=np.int64)
    class_correct: list[bool] = []
    for i, (answer, ok) in enumerate(zip(answers, correct, strict=True)):
        key = (answer or "").strip()
        if not key:
            codes[i] = -1
            continue
        if key not in ids:
            ids[key] = len(ids)
            class_correct.append(False)
        codes[i] = ids[key]
        class_correct[ids[key]] = class_correct[ids[key]] or bool(ok)
    return codes, np.asarray(class_correct, dtype=bool)


def _vote(codes: NDArray[np.int64], class_correct: NDArray[np.bool_], ties: TieRule) -> float:
    """Score one vote: ``codes`` are the voting samples' class ids (-1 = no answer)."""
    votes = codes[codes >= 0]
    if votes.size == 0:
        return 0.0
    counts = np.bincount(votes, minlength=class_correct.size)
    top = np.flatnonzero(counts == counts.max())
    if ties == "split":
        return float(class_correct[top].mean())
    # Class ids follow first appearance over all n samples; among the voters the earliest tied one wins.
    first_seen = {int(code): i for i, code in reversed(list(enumerate(votes)))}
    return float(class_correct[min(top, key=lambda t: first_seen[int(t)])])


def _check(k: int, n: int, ties: TieRule, where: str) -> None:
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r}; choose one of: {', '.join(TIE_RULES)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"k={k} exceeds the n={n} samples of {where}")


def maj_at_k_matrix(
    answers: Sequence[Sequence[str | None]],
    correct: Sequence[Sequence[bool]],
    ks: Sequence[int],
    ties: TieRule = "split",
) -> NDArray[np.float64]:
    """Per-problem maj@k over the first k samples for each k in ``ks``, shape ``(P, len(ks))``, values in [0, 1].

    ``answers[p][i]``: extracted answer of sample i of problem p, in sample order (``None`` = no answer);
    ``correct[p][i]``: its verdict. Each problem's answers are encoded once for all ks. Raises ``ValueError``
    when a k exceeds a problem's number of samples.
    """
    if len(answers) != len(correct):
        raise ValueError(f"answers and correct cover different numbers of problems: {len(answers)} vs {len(correct)}")
    scores = np.empty((len(answers), len(ks)), dtype=np.float64)
    for p, (ans, ok) in enumerate(zip(answers, correct, strict=True)):
        codes, class_correct = _encode(ans, ok)
        for j, k in enumerate(ks):
            _check(k, len(ans), ties, f"problem {p}")
            scores[p, j] = _vote(codes[:k], class_correct, ties)
    return scores


def maj_at_k(
    answers: Sequence[Sequence[str | None]],
    correct: Sequence[Sequence[bool]],
    k: int,
    ties: TieRule = "split",
) -> NDArray[np.float64]:
    """Per-problem maj@k over the first ``k`` samples, shape ``(P,)``; see :func:`maj_at_k_matrix`."""
    return maj_at_k_matrix(answers, correct, [k], ties)[:, 0]


def expected_maj_at_k(
    answers: Sequence[Sequence[str | None]],
    correct: Sequence[Sequence[bool]],
    k: int,
    draws: int = 256,
    seed: int = 0,
    ties: TieRule = "split",
) -> NDArray[np.float64]:
    """Per-problem maj@k averaged over ``draws`` random k-subsets of each problem's samples, shape ``(P,)``.

    An unbiased Monte Carlo estimate of E[maj@k] under random sample order; its standard error per problem is at
    most ``0.5 / sqrt(draws)``. With ``k == n`` every subset is the full set, so it equals ``maj_at_k`` up to tie
    handling under ``ties="first"``. Deterministic given ``seed``.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if len(answers) != len(correct):
        raise ValueError(f"answers and correct cover different numbers of problems: {len(answers)} vs {len(correct)}")
    rng = np.random.default_rng(seed)
    scores = np.empty(len(answers), dtype=np.float64)
    for p, (ans, ok) in enumerate(zip(answers, correct, strict=True)):
        _check(k, len(ans), ties, f"problem {p}")
        codes, class_correct = _encode(ans, ok)
        subsets = rng.permuted(np.tile(codes, (draws, 1)), axis=1)[:, :k]
        scores[p] = np.mean([_vote(row, class_correct, ties) for row in subsets])
    return scores
