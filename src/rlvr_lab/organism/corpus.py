"""The pretraining corpus: worked solutions in two strategies, with errors and format slips set by knobs.

A solution is either
- **language**: the chain worked step by step in words and equations, ``We get 7+5 = 12, then 12-3 = 9.``; or
- **code**: a python block computing the answer, an output block with the printed result *as the writer
  predicts it* (nothing is executed), then the answer. That is how Qwen2.5-Math writes code reasoning, and why its
  code answers can still be wrong: the output is a prediction.

Both end with ``The answer is \\boxed{9}.``, or, at the knob rates, with the answer unboxed (``The answer is 9.``)
or malformed (an unclosed brace), so a format reward has something to teach. The format slip rate is set per
problem type: a model that leaves its easiest answers unboxed could never solve any problem in over 95% of its
samples, while slips concentrated on harder problems (as in a model that trails off when unsure) keep both.

Design choices:
- **The strategy is decided by the first token.** Code answers open with a code fence, language answers with
  "We get", each one token of the organism's tokenizer, so the whole strategy is one early decision (one logit
  against another) that RL can shift, and both strategies then copy the problem's numbers after a fixed opening.
- **Errors are near misses that propagate.** A wrong solution changes one computed value (off by one or ten, or
  one digit) and carries the wrong value on: a slipped step feeds the later steps; a mispredicted output is what
  gets boxed. The trained model learns to make such slips itself at about the corpus rate, so its errors are its
  own at sampling time, on top of the errors it makes on problems beyond its capacity.
- **Error rates are per strategy and problem type.** Accuracy given code versus given language, and how easy
  each problem type is, are what the profiles set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rlvr_lab.organism.tasks import KINDS, Task, task_stream

PROMPT_TEMPLATE = "Q: {problem}\nA: "
"""The prompt every corpus example starts with; registered as the ``organism`` prompt template."""

Strategy = Literal["code", "language"]
Ending = Literal["boxed", "unboxed", "malformed"]


def _zero_rates() -> dict[str, float]:
    return dict.fromkeys(KINDS, 0.0)


@dataclass(frozen=True)
class CorpusConfig:
    """The knobs that set the organism's prior."""

    code_share: float = 0.65
    """Share of solutions written as code; the rest are language."""
    code_error: Mapping[str, float] = field(default_factory=_zero_rates)
    """Per problem type: share of code solutions whose predicted output (and so the answer) is wrong."""
    language_error: Mapping[str, float] = field(default_factory=_zero_rates)
    """Per problem type: share of language solutions with a slipped step (and so a wrong answer)."""
    format_slip: Mapping[str, float] = field(default_factory=_zero_rates)
    """Per problem type: share of solutions whose answer is not properly boxed (unboxed or malformed)."""
    malformed_share: float = 0.25
    """Of the format slips, the share with a ``\\boxed{`` never closed; the rest state the answer unboxed."""

    def __post_init__(self) -> None:
        for name in ("code_share", "malformed_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        for name in ("code_error", "language_error", "format_slip"):
            rates = getattr(self, name)
            if set(rates) != set(KINDS):
                raise ValueError(f"{name} needs one rate per problem type {list(KINDS)}, got {sorted(rates)}")
            bad = {k: v for k, v in rates.items() if not 0.0 <= v <= 1.0}
            if bad:
                raise ValueError(f"{name} rates must lie in [0, 1], got {bad}")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form, saved in every checkpoint's ``rlvr_organism.json``."""
        return {
            "code_share": self.code_share,
            "code_error": dict(self.code_error),
            "language_error": dict(self.language_error),
            "format_slip": dict(self.format_slip),
            "malformed_share": self.malformed_share,
        }


@dataclass(frozen=True)
class Example:
    """One corpus document: the templated prompt, the solution, and what the knobs chose for it."""

    kind: str
    prompt: str
    response: str
    strategy: Strategy
    correct: bool
    ending: Ending


def slip(value: int, rng: random.Random) -> int:
    """A near miss of ``value``: off by one, off by ten, or one digit changed (never the leading one to 0); never
    ``value`` itself and never negative."""
    while True:
        how = rng.random()
        if how < 0.3:
            wrong = value + rng.choice((-1, 1))
        elif how < 0.5:
            wrong = value + rng.choice((-10, 10))
        else:
            digits = list(str(abs(value)))
            i = rng.randrange(len(digits))
            digits[i] = rng.choice("123456789" if i == 0 and len(digits) > 1 else "0123456789")
            wrong = int("".join(digits)) * (1 if value >= 0 else -1)
        if wrong != value and wrong >= 0:
            return wrong


ENDINGS: dict[Ending, str] = {
    "boxed": "The answer is \\boxed{{{answer}}}.",
    "unboxed": "The answer is {answer}.",
    "malformed": "The answer is \\boxed{{{answer}.",
}
"""The closing sentence that states (and perhaps boxes) the answer, per ending."""
CODE = "```python\n{code}\n```\n```output\n{printed}\n```\n{ending}"
"""A code answer: the program, the output as the writer predicts it, the closing sentence."""
CODE_LINES = ("print({expr})", "{noun} = {expr}\nprint({noun})")
"""The program of a bare expression, and of a word problem (which names its quantity, as a person would)."""
LANGUAGE = "We get {work}. {ending}"
"""A language answer: the worked steps, the closing sentence."""
STEP, THEN = "{expr} = {value}", ", then "
"""One worked step, and the words joining two steps."""
TEMPLATES = (PROMPT_TEMPLATE, *ENDINGS.values(), CODE, *CODE_LINES, LANGUAGE, STEP, THEN)
"""Every template the corpus writes with; their fixed pieces are whole tokens of the organism's tokenizer."""


def ending_text(answer: int, ending: Ending) -> str:
    """The closing sentence that states (and perhaps boxes) the answer."""
    return ENDINGS[ending].format(answer=answer)


def code_solution(task: Task, printed: int, ending: Ending) -> str:
    """A python block, the output block with ``printed`` (the predicted output), then the answer."""
    code = CODE_LINES[task.noun is not None].format(expr=task.expression, noun=task.noun)
    return CODE.format(code=code, printed=printed, ending=ending_text(printed, ending))


def language_solution(steps: list[tuple[str, int]], ending: Ending) -> str:
    """The steps as equations joined in words, then the answer (the last step's value)."""
    work = THEN.join(STEP.format(expr=expr, value=value) for expr, value in steps)
    return LANGUAGE.format(work=work, ending=ending_text(steps[-1][1], ending))


def write_example(task: Task, config: CorpusConfig, rng: random.Random) -> Example:
    """Write one solution of ``task`` with the strategy, correctness and ending drawn from the knobs."""
    strategy: Strategy = "code" if rng.random() < config.code_share else "language"
    rates = config.code_error if strategy == "code" else config.language_error
    correct = rng.random() >= rates[task.kind]
    ending: Ending = "boxed"
    if rng.random() < config.format_slip[task.kind]:
        ending = "malformed" if rng.random() < config.malformed_share else "unboxed"
    if strategy == "code":
        printed = task.answer if correct else slip(task.answer, rng)
        response = code_solution(task, printed, ending)
    else:
        slip_at = None if correct else rng.randrange(len(task.ops))
        steps = task.steps(slip_at, lambda v: slip(v, rng))
        correct = steps[-1][1] == task.answer  # a slip can cancel out in a later step
        response = language_solution(steps, ending)
    return Example(task.kind, PROMPT_TEMPLATE.format(problem=task.text), response, strategy, correct, ending)


def corpus_stream(config: CorpusConfig, seed: int) -> Iterator[Example]:
    """An endless, seeded stream of examples over train-split problems, problem types in round-robin order."""
    rng = random.Random(f"organism-corpus:{seed}")
    for task in task_stream("train", seed):
        yield write_example(task, config, rng)
