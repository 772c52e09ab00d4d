"""Grading: extracted answers against gold answers, one verdict per sample, with a cache of verdicts.

Two entry points over one :class:`Grader`:
- :func:`grade_samples` grades a whole sample store into a table (the ``rlvr grade`` stage);
- :meth:`Grader.grade` grades one group of completions against one gold, the RL trainer's ground-truth reward.
  A Grader keeps its worker pool and cache across calls, so training steps reuse both.

Why it is fast: large-k sampling repeats answers (64 samples of one problem hold a handful of distinct answers),
so the work is per distinct (gold, answer) pair, not per sample. Pairs are deduplicated within a call and their
verdicts cached across calls; only pairs never seen before reach the worker pool, where math-verify parses each
gold once per worker and verifies each new pair once. Pairs of two plain numeric literals (integers, decimals,
fractions, ``x = 5``) mostly skip the pool: :func:`~rlvr_lab.grading.numeric.numeric_verdict` gives
math-verify's verdict exactly, in the parent, and a call whose pairs are all decided so never starts a worker.
There is no general string-equality shortcut: the pair (gold, gold) goes through math-verify like any other, so
a gold that math-verify cannot read is never passed as correct, and the verdicts are exactly those of a plain
loop over math-verify.

Every verdict is cached, ``timeout`` and ``error`` included: the same pathological answer would hang again, and
should cost its timeout once, not once per sample.

Code problems (those with a :class:`~rlvr_lab.tasks.code.CodeSpec`) are graded by running their unit tests in
the sandbox instead (:mod:`rlvr_lab.grading.code`): :meth:`Grader.grade_problems` and :func:`grade_samples` send
each sample to the grader its problem asks for, so one graded table and one trainer serve both kinds.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rlvr_lab.grading.cache import VerdictCache
from rlvr_lab.grading.equivalence import Pair, single_text
from rlvr_lab.grading.execution import CodeExecutor
from rlvr_lab.grading.extract import Extraction, check_fallbacks, extract_answer
from rlvr_lab.grading.numeric import numeric_verdict
from rlvr_lab.grading.pool import Outcome, VerifierPool
from rlvr_lab.grading.sandbox import SandboxConfig
from rlvr_lab.grading.verdict import CODE_STATUSES, ProgressFn, Verdict
from rlvr_lab.runtime.threads import available_cpus

if TYPE_CHECKING:
    import pyarrow as pa

    from rlvr_lab.tasks.problem import Problem


@dataclass(frozen=True)
class GradingConfig:
    """How to grade; stored in every graded file."""

    timeout_s: float = 5.0
    """Hard wall-clock limit per (gold, answer) verification; a worker past it is killed, the pair is ``timeout``."""
    workers: int | None = None
    """Worker processes; None means one per available CPU core, at most 8."""
    fallbacks: tuple[str, ...] = ()
    """Extractors tried in order when a completion has no ``\\boxed{}`` (answer_is, answer_tag, last_number)."""
    batch_size: int = 32
    """Pairs per message to a worker; workers still reply per pair, so the timeout stays per pair."""
    cache_size: int = 1_000_000
    """Verdicts remembered across calls (least recently used are forgotten first)."""
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    """How code problems' programs run (limits, isolation, parallel programs)."""

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1 (or None for one per core), got {self.workers}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {self.cache_size}")
        object.__setattr__(self, "fallbacks", check_fallbacks(self.fallbacks))

    def resolved_workers(self) -> int:
        """The number of worker processes this config asks for."""
        return self.workers if self.workers is not None else min(8, available_cpus())


class Grader:
    """Extract and verify, with a verdict cache and a worker pool that live as long as the Grader.

    Use as a context manager (or call :meth:`close`); workers start on the first pair that is not cached. Safe
    to call from several threads: calls are serialised.
    """

    def __init__(self, config: GradingConfig | None = None) -> None:
        self.config = config if config is not None else GradingConfig()
        self._cache: VerdictCache[Pair, Outcome] = VerdictCache(self.config.cache_size)
        self._pool: VerifierPool | None = None
        self._code: CodeExecutor | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> VerifierPool:
        """The worker pool, made on first use; its workers start with the first pair that needs them."""
        if self._pool is None:
            self._pool = VerifierPool(
                workers=self.config.resolved_workers(),
                timeout_s=self.config.timeout_s,
                batch_size=self.config.batch_size,
            )
        return self._pool

    @property
    def code(self) -> CodeExecutor:
        """The sandbox for code problems, made on first use with ``config.sandbox``."""
        if self._code is None:
            self._code = CodeExecutor(self.config.sandbox)
        return self._code

    def close(self) -> None:
        """Stop the workers; the cache stays, and a later call starts new workers."""
        if self._pool is not None:
            self._pool.close()
        if self._code is not None:
            self._code.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def extract(self, completion: str) -> Extraction:
        """The answer a completion commits to, with this grader's fallbacks."""
        return extract_answer(completion, self.config.fallbacks)

    def verify(self, pairs: Sequence[Pair], progress: ProgressFn | None = None) -> list[Outcome]:
        """Outcomes for ``(gold, answer)`` pairs, in order; a distinct pair is verified once while it stays cached."""
        with self._lock:
            results: list[Outcome | None] = [None] * len(pairs)
            waiting: dict[Pair, list[int]] = {}
            for index, pair in enumerate(pairs):
                results[index] = self._known(pair)
                if results[index] is None:
                    waiting.setdefault(pair, []).append(index)
            if progress is not None and len(pairs) > sum(map(len, waiting.values())):
                progress(len(pairs) - sum(map(len, waiting.values())))
            if waiting:
                misses = list(waiting)

                def record(miss: int, outcome: Outcome) -> None:
                    indices = waiting[misses[miss]]
                    for index in indices:
                        results[index] = outcome
                    self._cache.put(misses[miss], outcome)
                    if progress is not None:
                        progress(len(indices))

                self.pool.verify(misses, on_result=record)
            return results  # type: ignore[return-value]

    def _known(self, pair: Pair) -> Outcome | None:
        """The outcome without a worker: from the cache, or the exact numeric shortcut; None if neither applies.

        A single reading of one text parses as that text boxed, so the shortcut holds for it too.
        """
        cached = self._cache.get(pair)
        if cached is not None:
            return cached
        text = single_text(pair[1])
        shortcut = numeric_verdict(pair[0], text) if text is not None else None
        if shortcut is None:
            return None
        outcome = Outcome(correct=shortcut, status="ok")
        self._cache.put(pair, outcome)
        return outcome

    def grade(self, gold: str, completions: Sequence[str]) -> list[Verdict]:
        """Grade a group of completions against one gold answer (the shape of an RL reward call)."""
        extractions = [self.extract(text) for text in completions]
        return self.grade_extracted([(gold, extraction) for extraction in extractions])

    def grade_problems(self, items: Sequence[tuple[Problem, str]], progress: ProgressFn | None = None) -> list[Verdict]:
        """Grade ``(problem, completion)`` pairs, each by the grader its problem asks for: unit tests in the sandbox
        for code problems, the extracted answer against ``problem.answer`` otherwise."""
        from rlvr_lab.grading.code import grade_code
        from rlvr_lab.tasks.code import code_spec

        code = [index for index, (problem, _) in enumerate(items) if code_spec(problem) is not None]
        maths = sorted(set(range(len(items))) - set(code))
        verdicts: dict[int, Verdict] = {}
        if code:
            verdicts.update(zip(code, grade_code(self.code, [items[i] for i in code], progress), strict=True))
        if maths:
            extracted = [(items[i][0].answer, self.extract(items[i][1])) for i in maths]
            verdicts.update(zip(maths, self.grade_extracted(extracted, progress), strict=True))
        return [verdicts[index] for index in range(len(items))]

    def grade_extracted(
        self, items: Sequence[tuple[str, Extraction]], progress: ProgressFn | None = None
    ) -> list[Verdict]:
        """Grade already extracted answers, each against its own gold; no answer means ``no_answer``."""
        answered = [index for index, (_, extraction) in enumerate(items) if extraction.answer is not None]
        if progress is not None and len(items) > len(answered):
            progress(len(items) - len(answered))
        pairs = [(items[index][0], items[index][1].key) for index in answered]
        outcomes = dict(zip(answered, self.verify(pairs, progress), strict=True))
        verdicts = []
        for index, (_, extraction) in enumerate(items):
            outcome = outcomes.get(index)
            if outcome is None:
                verdicts.append(Verdict(False, "no_answer", None, extraction.strategy))
            else:
                verdicts.append(
                    Verdict(outcome.correct, outcome.status, extraction.answer, extraction.strategy, outcome.detail)
                )
        return verdicts


GRADE_COLUMNS = ("problem_id", "sample_idx", "answer", "extract_strategy", "correct", "status", "detail")


def grade_schema() -> pa.Schema:
    """The columns of a graded table; ``answer`` is null when nothing was extracted."""
    import pyarrow as pa

    return pa.schema(
        [
            ("problem_id", pa.string()),
            ("sample_idx", pa.int64()),
            ("answer", pa.string()),
            ("extract_strategy", pa.string()),
            ("correct", pa.bool_()),
            ("status", pa.string()),
            ("detail", pa.string()),
        ]
    )


def grade_samples(
    problems: Mapping[str, Problem],
    rows: Iterable[tuple[str, int, str]],
    config: GradingConfig | None = None,
    *,
    grader: Grader | None = None,
    progress: bool = False,
    start: int = 0,
) -> pa.Table:
    """Grade ``(problem_id, sample_idx, completion)`` rows against their problems' gold answers.

    Returns one row per sample, in input order, with the columns of :func:`grade_schema`. An unknown problem id
    or a repeated (problem_id, sample_idx) raises ``ValueError`` naming it and the row number (0-based, counted
    from ``start``, for callers that grade a file batch by batch).
    Pass ``grader`` to reuse its workers and verdict cache (the caller closes it; ``config`` must then be None),
    else a Grader with ``config`` is made and closed here. ``progress`` shows a rich progress bar on stderr.
    """
    if grader is not None and config is not None:
        raise ValueError("pass either a config or a grader (which has its own config), not both")
    if grader is None:
        with Grader(config) as own:
            return grade_samples(problems, rows, grader=own, progress=progress, start=start)

    import pyarrow as pa

    keys: list[tuple[str, int]] = []
    items: list[tuple[Problem, str]] = []
    seen: set[tuple[str, int]] = set()
    for row, (problem_id, sample_idx, completion) in enumerate(rows, start=start):
        problem = problems.get(problem_id)
        if problem is None:
            raise ValueError(f"sample row {row}: problem_id {problem_id!r} is not among the {len(problems)} problems")
        key = (problem_id, int(sample_idx))
        if key in seen:
            raise ValueError(f"sample row {row}: (problem_id, sample_idx) = {key} appears twice")
        seen.add(key)
        keys.append(key)
        items.append((problem, completion))
    verdicts = _grade_with_progress(grader, items) if progress else grader.grade_problems(items)
    columns = {
        "problem_id": [problem_id for problem_id, _ in keys],
        "sample_idx": [sample_idx for _, sample_idx in keys],
        "answer": [verdict.answer for verdict in verdicts],
        "extract_strategy": [verdict.strategy for verdict in verdicts],
        "correct": [verdict.correct for verdict in verdicts],
        "status": [verdict.status for verdict in verdicts],
        "detail": [verdict.detail for verdict in verdicts],
    }
    return pa.Table.from_pydict(columns, schema=grade_schema())


def _grade_with_progress(grader: Grader, items: Sequence[tuple[Problem, str]]) -> list[Verdict]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("grading", total=len(items))
        return grader.grade_problems(items, progress=lambda done: bar.advance(task, done))


def status_counts(table: pa.Table) -> dict[str, int]:
    """Samples per status in a graded table: every math status (zeros included), and with code problems every
    code status too."""
    counts = Counter(table.column("status").to_pylist())
    statuses = ("ok", "no_answer", "timeout", "error")
    if {"passed", "failed", "oom"} & set(counts):
        statuses = ("ok", "no_answer", *CODE_STATUSES) if counts.get("ok") or counts.get("no_answer") else CODE_STATUSES
    return {status: counts.get(status, 0) for status in statuses}
