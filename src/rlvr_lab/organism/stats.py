"""The calibration table of an organism, measured through the evaluation pipeline.

``n`` samples per test problem at temperature 1 from the ``torch`` engine, prompted with the ``organism``
template (or another, e.g. ``python-hint``, which reaches a v2 organism through its chat template), graded by
the pipeline's :class:`~rlvr_lab.grading.Grader` (last ``\\boxed{}``, no fallbacks: an unboxed answer scores 0,
as under the ground-truth reward), labelled code or language by the shared classifier
(:mod:`rlvr_lab.analysis.strategy`), and summarised with the unbiased pass@k estimator. Nothing is injected at
sampling time: every error in the table is the model's own.

Besides the table the issue asks for (code frequency, accuracy given each strategy, boxed rate, pass@k), the
result records the spread of difficulty (share of problems solved in under 5% and over 95% of samples) and a
per-problem-type breakdown, which is how the profiles were calibrated, and the shares of problems whose
majority strategy is code and language (as the strategy-switch table labels them), which v2 needs both of.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rlvr_lab.analysis.strategy import STRATEGY_RULES, StrategyRule, is_code

if TYPE_CHECKING:
    from rlvr_lab.tasks.problem import Problem

PASS_KS = (1, 8, 64)
"""The k values of the printed table (those up to ``n``); the JSON holds every power of two up to ``n``."""


@dataclass(frozen=True)
class StatsConfig:
    """How the calibration is measured."""

    n: int = 64
    """Samples per problem."""
    problems: int = 120
    """Test problems (the first ones of the organism test split, problem types in round-robin order)."""
    rule: StrategyRule = "contains_python"
    """Code/language rule: the paper's ``contains_python`` or the strict ``fenced_python``."""
    seed: int = 0
    """Sampling seed."""
    max_new_tokens: int = 64
    """Cap on a response's length in tokens (corpus solutions stay under 25 tokens, so only a derailed answer is
    cut)."""
    batch_size: int = 256
    """Rows the torch engine keeps busy."""
    threads: int = 1
    """Torch CPU threads while sampling (one is fastest on a shared, oversubscribed CPU)."""
    template: str = "organism"
    """Prompt template the problems are presented with."""
    dtype: str = "auto"
    """Sampler compute dtype (float32, bfloat16, auto: float32 for the organisms; :mod:`rlvr_lab.runtime.precision`)."""

    def __post_init__(self) -> None:
        if self.n < 1 or self.problems < 1:
            raise ValueError(f"need n >= 1 and problems >= 1, got n={self.n}, problems={self.problems}")
        if self.rule not in STRATEGY_RULES:
            raise ValueError(f"unknown strategy rule {self.rule!r}; choose one of: {', '.join(STRATEGY_RULES)}")


@dataclass(frozen=True)
class TypeStats:
    """Accuracy and code frequency on one problem type."""

    problems: int
    accuracy: float
    code_frequency: float
    acc_given_code: float
    """NaN if the type has no code answers."""
    acc_given_language: float
    """NaN if the type has no language answers."""


@dataclass(frozen=True)
class Calibration:
    """One organism's calibration table (rates are shares of all samples unless said otherwise)."""

    model: str
    config: StatsConfig
    code_frequency: float
    acc_given_code: float
    """Share correct among code answers (NaN if there are none)."""
    acc_given_language: float
    """Share correct among language answers (NaN if there are none)."""
    boxed_rate: float
    """Share of answers with a non-empty, closed ``\\boxed{}``."""
    pass_at_k: dict[int, float]
    """Mean unbiased pass@k over problems, for every power of two up to ``n``, and ``n``."""
    solved_under_5: float
    """Share of problems solved in under 5% of their samples."""
    solved_over_95: float
    """Share of problems solved in over 95% of their samples."""
    code_majority: float
    """Share of problems with strictly more than half of their answers code (labelled Code by the switch table)."""
    truncated_rate: float
    """Share of answers cut off at ``max_new_tokens``."""
    by_type: dict[str, TypeStats]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``pass_at_k`` keyed by k as a string, NaN as None."""

        def clean(x: float) -> float | None:
            return None if np.isnan(x) else round(float(x), 4)

        return {
            "model": self.model,
            "code_frequency": clean(self.code_frequency),
            "acc_given_code": clean(self.acc_given_code),
            "acc_given_language": clean(self.acc_given_language),
            "boxed_rate": clean(self.boxed_rate),
            "pass_at_k": {str(k): clean(v) for k, v in self.pass_at_k.items()},
            "solved_under_5pct": clean(self.solved_under_5),
            "solved_over_95pct": clean(self.solved_over_95),
            "code_majority_share": clean(self.code_majority),
            "language_majority_share": clean(1.0 - self.code_majority),
            "truncated_rate": clean(self.truncated_rate),
            "by_type": {
                kind: {
                    "problems": s.problems,
                    "accuracy": clean(s.accuracy),
                    "code_frequency": clean(s.code_frequency),
                    "acc_given_code": clean(s.acc_given_code),
                    "acc_given_language": clean(s.acc_given_language),
                }
                for kind, s in self.by_type.items()
            },
            "config": asdict(self.config),
            "seconds": round(self.seconds, 1),
        }


def _share(mask: np.ndarray, within: np.ndarray | None = None) -> float:
    """Mean of ``mask`` (over ``within`` if given); NaN for an empty set."""
    values = mask if within is None else mask[within]
    return float(values.mean()) if values.size else float("nan")


def pass_ks(n: int) -> list[int]:
    """Every power of two up to ``n``, and ``n`` itself."""
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if ks[-1] == n else [*ks, n]


def measure(
    model_spec: str, config: StatsConfig | None = None, progress: Callable[[int], None] | None = None
) -> Calibration:
    """Sample, grade and summarise ``model_spec`` (a profile name or a model folder) on the organism test split.

    ``progress`` is called with the number of completions just sampled.
    """
    import rlvr_lab.organism  # noqa: F401  (registers the ``organism`` prompt template)
    from rlvr_lab.engines import SampleRequest, SamplingConfig, make_engine
    from rlvr_lab.models.loading import load_model
    from rlvr_lab.organism.pretrain import torch_threads
    from rlvr_lab.organism.tasks import organism_problems
    from rlvr_lab.prompts import PROMPTS, encode_prompt

    config = config if config is not None else StatsConfig()
    started = time.monotonic()
    model, tokenizer = load_model(model_spec)
    problems = organism_problems("test", seed=0, n=config.problems)
    template = PROMPTS.get(config.template)
    requests = [
        SampleRequest(encode_prompt(template, p, tokenizer), key=p.id, sample_indices=tuple(range(config.n)))
        for p in problems
    ]
    sampling = SamplingConfig(n=config.n, temperature=1.0, max_new_tokens=config.max_new_tokens, seed=config.seed)
    engine = make_engine("torch", model, tokenizer, batch_size=config.batch_size, dtype=config.dtype)
    with torch_threads(config.threads):
        completions = engine.sample(requests, sampling, progress)
    texts = [[c.text for c in group] for group in completions]
    truncated = np.array([[c.finish_reason == "length" for c in group] for group in completions])
    return summarise(model_spec, config, problems, texts, truncated, time.monotonic() - started)


CORPUS_TEMPLATES = {"organism": False, "python-hint": True}
"""The prompt templates a corpus table can be written for, and whether their prompt carries the python hint."""


def measure_corpus(profile_name: str, config: StatsConfig | None = None) -> Calibration:
    """The calibration table of profile ``profile_name``'s *corpus*: ``n`` solutions per test problem written by
    the corpus's own knobs, graded and summarised exactly as a model's samples are.

    It is what a perfect learner of the corpus would show, so it says whether the knobs can meet the profile's
    targets at all: a model trained on the corpus can only fall short of it (its own slips on problems beyond it
    come on top). The test problems are never in the corpus, but the knobs are functions of the problem type and
    surface form, so they apply to them as to any problem.
    """
    from rlvr_lab.organism.corpus import write_example
    from rlvr_lab.organism.profiles import get_profile
    from rlvr_lab.organism.tasks import organism_tasks, to_problem

    config = config if config is not None else StatsConfig()
    if config.template not in CORPUS_TEMPLATES:
        known = ", ".join(CORPUS_TEMPLATES)
        raise ValueError(f"a corpus table is written for the templates {known}, not {config.template!r}")
    started = time.monotonic()
    corpus = get_profile(profile_name).corpus
    hinted = CORPUS_TEMPLATES[config.template]
    rng = random.Random(f"corpus-table:{profile_name}:{config.seed}")
    tasks = organism_tasks("test", seed=0, n=config.problems)
    texts = [[write_example(task, corpus, rng, hinted).response for _ in range(config.n)] for task in tasks]
    problems = [to_problem(task, "test", i) for i, task in enumerate(tasks)]
    truncated = np.zeros((len(tasks), config.n), dtype=bool)
    return summarise(f"corpus:{profile_name}", config, problems, texts, truncated, time.monotonic() - started)


def summarise(
    model: str,
    config: StatsConfig,
    problems: list[Problem],
    texts: list[list[str]],
    truncated: np.ndarray,
    seconds: float,
) -> Calibration:
    """Grade ``texts`` (``n`` answers per problem) and summarise them as the calibration table."""
    from rlvr_lab.grading import Grader, last_boxed
    from rlvr_lab.metrics import pass_at_k_curve

    with Grader() as grader:
        correct = np.array(
            [[v.correct for v in grader.grade(p.answer, group)] for p, group in zip(problems, texts, strict=True)]
        )
    code = np.array([[is_code(t, config.rule) for t in group] for group in texts])
    boxed = np.array([[bool((last_boxed(t) or "").strip()) for t in group] for group in texts])

    per_problem = correct.mean(axis=1)
    ks = pass_ks(config.n)
    curve = pass_at_k_curve(config.n, correct.sum(axis=1), ks)
    kinds = [p.meta["type"] for p in problems]
    by_type = {}
    for kind in dict.fromkeys(kinds):
        rows = np.array([k == kind for k in kinds])
        by_type[kind] = TypeStats(
            int(rows.sum()),
            _share(correct[rows]),
            _share(code[rows]),
            _share(correct[rows], code[rows]),
            _share(correct[rows], ~code[rows]),
        )
    return Calibration(
        model=model,
        config=config,
        code_frequency=_share(code),
        acc_given_code=_share(correct, code),
        acc_given_language=_share(correct, ~code),
        boxed_rate=_share(boxed),
        pass_at_k={k: float(v) for k, v in zip(ks, curve, strict=True)},
        solved_under_5=_share(per_problem < 0.05),
        solved_over_95=_share(per_problem > 0.95),
        code_majority=_share(code.mean(axis=1) > 0.5),
        truncated_rate=_share(truncated),
        by_type=by_type,
        seconds=seconds,
    )
