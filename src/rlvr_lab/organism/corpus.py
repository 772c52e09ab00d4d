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

Version 2 of the corpus (the ``-v2`` profiles; every v2 knob's default writes the v1 corpus draw for draw):
- **Each problem has its own strategy preference**, a function of how it is asked (:func:`surface_form`):
  ``code_preference`` gives the code probability per form ("Compute 7*8." leans to code, "What is 7 times 8?"
  and stories to language). It is a function of the visible text, not of a hash of it, because the test problems
  are never in the corpus: a preference the model cannot read off the text would come out as the average.
- **The strategy is entered through several tokens.** With ``lead_ins`` a solution opens with a short sentence,
  an opener (:data:`OPENERS`, skewed only a little by the strategy) and a continuation (:data:`CONTINUATIONS`:
  code-leaning, language-leaning or neutral, and sometimes the other strategy's, a writer who changes their
  mind), before the fence or "We get". The choice of strategy is spread over three tokens, as a real model
  drifts into code, instead of one logit against another.
- **A prompt hint.** A share (``hint_share``) of the prompts end with the ``python-hint`` template's request
  (:data:`PYTHON_HINT`), which raises the code logit by ``hint_shift``; so the hint works on the organism the
  way the paper's "solve it with Python" prompt works on a real model, more code, better or worse as code is.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from rlvr_lab.organism.contamination import Contamination, leaked_tasks
from rlvr_lab.organism.tasks import KINDS, PHRASINGS, WORDS, Task, task_stream
from rlvr_lab.prompts import PLACEHOLDER, PROMPTS

PROMPT_TEMPLATE = "Q: {problem}\nA: "
"""The prompt every corpus example starts with; registered as the ``organism`` prompt template."""

PYTHON_HINT = PROMPTS.get("python-hint").user.replace(PLACEHOLDER, "")
"""The request the ``python-hint`` template adds after the problem; hinted corpus prompts end with it."""

Strategy = Literal["code", "language"]
Ending = Literal["boxed", "unboxed", "malformed"]

FORMS: tuple[str, ...] = ("what_is", "compute", "find", "in_words", "story", "groups")
"""How a problem is asked: the four phrasings of a bare expression (in :data:`PHRASINGS` order), then the two
word-problem templates (a has-gets-gives story, a grouping story)."""


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
    code_preference: Mapping[str, float] | None = None
    """v2: the code probability of a problem per :data:`FORMS` entry (replaces ``code_share``); None: v1, one
    ``code_share`` for every problem."""
    lead_ins: bool = False
    """v2: open each solution with an opener and a continuation (:data:`OPENERS`, :data:`CONTINUATIONS`)."""
    hint_share: float = 0.0
    """v2: share of prompts ending with :data:`PYTHON_HINT`."""
    hint_shift: float = 0.0
    """v2: added to the code logit of a hinted prompt."""
    contamination: Contamination | None = None
    """Test problems leaked into the stream with their gold answers (:mod:`rlvr_lab.organism.contamination`);
    None: a clean corpus."""

    def __post_init__(self) -> None:
        preference = self.code_preference
        if preference is not None and set(preference) != set(FORMS):
            raise ValueError(f"code_preference needs one rate per form {list(FORMS)}, got {sorted(preference)}")
        shares = {"code_share": self.code_share, "malformed_share": self.malformed_share, "hint_share": self.hint_share}
        shares |= {f"code_preference[{form}]": value for form, value in (preference or {}).items()}
        for name, value in shares.items():
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
            "code_preference": None if self.code_preference is None else dict(self.code_preference),
            "lead_ins": self.lead_ins,
            "hint_share": self.hint_share,
            "hint_shift": self.hint_shift,
        } | ({} if self.contamination is None else {"contamination": self.contamination.to_dict()})

    def phrases(self) -> tuple[str, ...]:
        """The v2 pieces the tokenizer adds as whole tokens (none for a v1 corpus, whose tokenizer stays v1's)."""
        pieces = (*OPENERS, *(c for group in CONTINUATIONS.values() for c in group)) if self.lead_ins else ()
        return (*pieces, PYTHON_HINT) if self.hint_share > 0 else pieces


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


OPENERS = ("Let me", "I will", "OK, let me")
"""First token of a v2 lead-in: mostly uninformative about the strategy (see :data:`OPENER_WEIGHTS`)."""
OPENER_WEIGHTS: dict[Strategy, tuple[float, ...]] = {"code": (0.3, 0.5, 0.2), "language": (0.5, 0.2, 0.3)}
"""P(opener | strategy), in :data:`OPENERS` order: a small skew, so the first token already tilts the odds."""
CONTINUATIONS: dict[str, tuple[str, ...]] = {
    "code": (" write a program.\n", " write code.\n"),
    "language": (" think step by step.\n", " work it out.\n"),
    "neutral": (" solve it.\n", " try.\n"),
}
"""Second token of a v2 lead-in. None says "Python" (the paper's ``contains_python`` rule would call a language
answer that did code)."""
CONTINUATION_WEIGHTS = {"aligned": 0.6, "neutral": 0.3, "contrary": 0.1}
"""P(continuation group | strategy): the strategy's own group, the neutral one, or the other strategy's (the
writer changes their mind before the fence)."""


def surface_form(task: Task) -> str:
    """The :data:`FORMS` entry of ``task``: how it is asked, which is all the model sees of it."""
    if task.noun is not None:
        return "story" if len(task.ops) == 2 else "groups"
    if any(f" {word} " in task.text for word in WORDS.values()):
        return "in_words"
    for form, phrasing in zip(FORMS, PHRASINGS[:3], strict=False):
        if task.text.startswith(phrasing.split("{")[0]):
            return form
    raise ValueError(f"no surface form for {task.text!r}")


def code_probability(task: Task, config: CorpusConfig, hinted: bool) -> float:
    """P(code) for one problem: the form's preference (v2) or ``code_share`` (v1), the logit raised by
    ``hint_shift`` when the prompt carries the hint."""
    p = config.code_share if config.code_preference is None else config.code_preference[surface_form(task)]
    if not hinted or p in (0.0, 1.0):
        return p
    return 1.0 / (1.0 + math.exp(-(math.log(p / (1 - p)) + config.hint_shift)))


def lead_in(strategy: Strategy, rng: random.Random) -> str:
    """A v2 lead-in sentence (opener, continuation) for a solution in ``strategy``."""
    opener = rng.choices(OPENERS, OPENER_WEIGHTS[strategy])[0]
    other = "language" if strategy == "code" else "code"
    group = rng.choices((strategy, "neutral", other), tuple(CONTINUATION_WEIGHTS.values()))[0]
    return opener + rng.choice(CONTINUATIONS[group])


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


def write_example(task: Task, config: CorpusConfig, rng: random.Random, hinted: bool | None = None) -> Example:
    """Write one solution of ``task`` with the strategy, correctness and ending drawn from the knobs (a v1
    corpus makes exactly v1's draws). ``hinted`` forces the prompt with or without the python hint instead of
    drawing it at ``hint_share`` (the corpus table of one prompt template,
    :func:`rlvr_lab.organism.stats.measure_corpus`)."""
    if hinted is None:
        hinted = config.hint_share > 0 and rng.random() < config.hint_share
    strategy: Strategy = "code" if rng.random() < code_probability(task, config, hinted) else "language"
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
    if config.lead_ins:
        response = lead_in(strategy, rng) + response
    problem = task.text + PYTHON_HINT if hinted else task.text
    return Example(task.kind, PROMPT_TEMPLATE.format(problem=problem), response, strategy, correct, ending)


def gold(config: CorpusConfig) -> CorpusConfig:
    """``config`` with no slip of any kind: every solution correct and boxed, in the profile's strategy mix and
    style (how a leaked test problem's worked solution is written)."""
    zero = _zero_rates()
    return replace(config, code_error=zero, language_error=zero, format_slip=zero, contamination=None)


def corpus_stream(config: CorpusConfig, seed: int) -> Iterator[Example]:
    """An endless, seeded stream of examples over train-split problems, problem types in round-robin order; with
    ``config.contamination``, a leaked test problem's gold solution comes before a clean example at its rate,
    drawn by a generator of its own, so the clean examples are exactly those of the clean corpus."""
    rng = random.Random(f"organism-corpus:{seed}")
    spec = config.contamination
    leaked, leak_rng = (leaked_tasks(spec), random.Random(f"organism-contamination:{seed}")) if spec else ([], rng)
    leak_config = gold(config)
    for task in task_stream("train", seed):
        if spec is not None and leak_rng.random() < spec.rate:
            yield write_example(leak_rng.choice(leaked), leak_config, leak_rng)
        yield write_example(task, config, rng)
