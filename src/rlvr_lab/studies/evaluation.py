"""The evaluation every study shares: sample a model into a store, grade the store, read the numbers back.

Each evaluation set is two files beside each other, the pipeline's own stages:

- ``<stem>.jsonl``: the sample store (its header records model, engine, prompt template and sampling config;
  a killed run resumes it with nothing lost or duplicated);
- ``<stem>.graded.parquet``: the graded table plus the samples' texts (``completion``), with the grading config
  in its schema metadata, written to a temporary name and renamed, so its presence means it is complete.

The trainer's own held-out evaluations are stores of exactly this kind (``RUN/eval/step_000030.jsonl``), so a
run's final evaluation is graded by :func:`grade_store` like any other and compared with the base model's
evaluation sampled with the same :class:`~rlvr_lab.engines.SamplingConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlvr_lab.analysis.strategy import StrategyRule, code_frequency
from rlvr_lab.engines import Engine, SamplingConfig
from rlvr_lab.metrics import GradedSamples, avg_at_n, load_graded
from rlvr_lab.tasks.problem import Problem

TEMPLATE = "organism"
"""Prompt template of every study (the organism's corpus prompt); the same for base and RL models."""


@dataclass(frozen=True)
class ProblemSet:
    """The first ``limit`` problems of a benchmark split (organism problems come in round-robin type order, so a
    prefix keeps every problem type equally represented)."""

    split: str
    """``train`` or ``test``."""
    limit: int
    """Number of problems."""
    benchmark: str = "organism"
    """Benchmark name (see :data:`rlvr_lab.tasks.BENCHMARKS`)."""

    @property
    def label(self) -> str:
        """What a store header records as its problem set (spec and split, not the limit)."""
        return f"{self.benchmark}:{self.split}"

    def load(self) -> list[Problem]:
        from rlvr_lab.tasks import load_problems

        return load_problems(self.benchmark, split=self.split, limit=self.limit)


def graded_path(store: Path) -> Path:
    """``x.jsonl`` -> ``x.graded.parquet`` (the name the report pairs with its sample file)."""
    return Path(store).with_suffix(".graded.parquet")


def sample(
    model: str,
    problems: ProblemSet,
    sampling: SamplingConfig,
    store: Path,
    batch_size: int = 256,
    template_name: str = TEMPLATE,
    decoder: str = "auto",
    dtype: str = "auto",
) -> None:
    """Fill ``store`` with ``sampling.n`` samples of each problem from ``model`` (the torch engine, its ``decoder``
    path, in ``dtype``: float32, bfloat16 or auto, resolved for the model and recorded in the store's header),
    prompted with ``template_name``.

    The model is loaded only if samples are missing; chunks of 4 × ``batch_size`` samples are appended as they
    finish, so a kill loses at most one chunk.
    """
    from rlvr_lab.engines import make_engine
    from rlvr_lab.models.loading import load_model, model_dtype
    from rlvr_lab.prompts import encode_prompt, resolve_template
    from rlvr_lab.sampling import sample_missing
    from rlvr_lab.store import SampleStore, StoreHeader

    template = resolve_template(template_name)
    compute = model_dtype(model, dtype)
    header = StoreHeader.for_run(
        model=model,
        engine="torch",
        template=template,
        sampling=sampling,
        problems=problems.label,
        keep_tokens=True,
        decoder=decoder,
        dtype=compute,
    )  # token ids kept: the perplexity job scores these responses

    def load() -> tuple[Engine, Callable[[Problem], list[int]]]:
        loaded, tokenizer = load_model(model)
        engine = make_engine("torch", loaded, tokenizer, batch_size=batch_size, path=decoder, dtype=compute)
        return engine, lambda p: encode_prompt(template, p, tokenizer)

    with SampleStore.open(Path(store), header) as opened:
        sample_missing(load, opened, problems.load(), sampling, chunk_size=4 * batch_size)


def grade_store(store: Path, problems: ProblemSet, fallbacks: tuple[str, ...] = ()) -> Path:
    """Grade every sample of ``store`` against its problem's gold answer into :func:`graded_path` (atomic), with
    the answer extractors ``fallbacks`` after the boxed answer (those of the run whose samples these are)."""
    from rlvr_lab.grading import Grader, GradingConfig
    from rlvr_lab.grading.graded_file import grade_to_parquet

    out = graded_path(store)
    by_id = {p.id: p for p in problems.load()}
    with Grader(GradingConfig(fallbacks=fallbacks)) as grader:
        metadata = {
            "grading": grader.config,
            "samples": str(store),
            "problems": problems.label,
            "limit": problems.limit,
        }
        grade_to_parquet(by_id, store, out, grader, metadata)
    return out


@dataclass(frozen=True)
class SetStats:
    """The headline numbers of one graded evaluation set."""

    problems: int
    samples: int
    """Samples per problem (the smallest, if they differ)."""
    accuracy: float
    """avg@n: mean over problems of the fraction of correct samples (= pass@1)."""
    code_frequency: float
    """Share of all samples labelled code."""
    problem_ids: tuple[str, ...] = field(default=(), repr=False, compare=False)
    """The problems, in the order of the per-problem arrays below (what paired comparisons align on)."""
    problem_accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    """(P,) each problem's fraction of correct samples."""
    problem_code: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    """(P,) each problem's share of samples labelled code."""

    def per_problem(self, key: str, order: tuple[str, ...]) -> np.ndarray:
        """``accuracy`` or ``code_frequency`` per problem, in the order ``order`` (ValueError if sets differ)."""
        values = {"accuracy": self.problem_accuracy, "code_frequency": self.problem_code}[key]
        index = {pid: i for i, pid in enumerate(self.problem_ids)}
        if set(index) != set(order):
            raise ValueError(f"the evaluations cover different problems ({len(index)} vs {len(order)}); cannot pair")
        return values[[index[pid] for pid in order]]

    def as_dict(self) -> dict[str, float]:
        return {
            "problems": self.problems,
            "samples": self.samples,
            "accuracy": self.accuracy,
            "code_frequency": self.code_frequency,
        }


def set_stats(graded: GradedSamples, rule: StrategyRule = "contains_python") -> SetStats:
    """Accuracy and code frequency of a graded set (it must carry its texts)."""
    if graded.completions is None:
        raise ValueError(f"{graded.path}: no completion column, so no strategy labels")
    texts = [t for group in graded.completions for t in group]
    return SetStats(
        problems=graded.num_problems,
        samples=int(np.min(graded.n)),
        accuracy=avg_at_n(graded.n, graded.c),
        code_frequency=code_frequency(texts, rule),
        problem_ids=graded.problem_ids,
        problem_accuracy=graded.c / graded.n,
        problem_code=np.array([code_frequency(group, rule) for group in graded.completions]),
    )


def load_set(store: Path) -> GradedSamples:
    """The graded set of ``store`` (texts included)."""
    return load_graded(graded_path(store))
