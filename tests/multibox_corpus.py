"""A generated corpus of completions with several boxes, in the shapes RL models write them (issue 22): adjacent,
in one math region, in separate regions, separated by prose, commas, "and" or "or", after "final answer is",
self-corrections, and completions cut off at a random character (the token limit).

Deterministic for a seed. :func:`compare` grades it both ways; ``tests/test_grading_corpus.py`` runs it, and
``python tests/multibox_corpus.py --n 10000`` prints the agreement figure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlvr_lab.grading import Grader

ANSWERS = [
    "29",
    "19",
    "-3",
    "0",
    "7",
    "12",
    "1,000",
    "3.5",
    "0.25",
    r"\frac{1}{2}",
    r"\frac{3}{4}",
    r"-\frac{5}{2}",
    r"\sqrt{2}",
    r"2\sqrt{3}",
    r"\pi",
    r"3\pi",
    "(2, 2)",
    "(6, 2)",
    r"\{1, 2\}",
    "[0, 1)",
    "x + 1",
    "x^2",
    "k = 45",
    "n = 2",
    r"\text{Monday}",
    "1, 2, 3",
    r"\dfrac{7}{8}",
    "10%",
    r"50\%",
    r"\infty",
    "2^{10}",
    "a",
]
PROSE = [
    "",
    " ",
    "  ",
    ", ",
    " and ",
    " or ",
    "; ",
    " so ",
    "\n",
    " , ",
    ", and ",
    ",and ",
    " then ",
    " which is wrong; instead ",
    " but wait, let me recheck. ",
    " no no no no no ",
    "\n\nWait, that is not right.\n\n",
    " is the first part, and the second is ",
    " (the other root) ",
    ". Actually, correcting the arithmetic above, ",
    " hmm, that does not satisfy the equation, so the sum must be different, namely ",
    " or equivalently ",
]
INTRO = [
    "",
    "We compute the value step by step. ",
    "Let me solve this.\n\n",
    "First, 3 + 4 = 7, so ",
    "The roots are ",
    "So the answer is ",
    "Therefore ",
    "We get ",
    "Thus $x = 5$ and ",
]
OUTRO = [
    "",
    ".",
    ". ",
    " is the answer.",
    "\n",
    ".\n\nI hope it is correct",
    ". I hope it is correct.",
    " units.",
    " $\\blacksquare$",
    "}",
    " {x}",
]


def _box(rng: random.Random, answer: str) -> str:
    style = rng.random()
    if style < 0.45:
        return "\\boxed{" + answer + "}"
    if style < 0.6:
        return "$\\boxed{" + answer + "}$"
    if style < 0.7:
        return "\\(\\boxed{" + answer + "}\\)"
    if style < 0.8:
        return "\\[\\boxed{" + answer + "}\\]"
    if style < 0.87:
        return "$$\\boxed{" + answer + "}$$"
    if style < 0.93:
        return "$x = \\boxed{" + answer + "}$"
    return " [\\boxed{" + answer + "}] "


def _region(rng: random.Random, answers: list[str]) -> str:
    """Several boxes inside one math region."""
    inner = rng.choice(
        [", ", " \\text{ and } ", " \\quad ", "", " = ", " \\text{ or } ", " \\text{ for part (a) and } "]
    )
    body = inner.join("\\boxed{" + a + "}" for a in answers)
    left, right = rng.choice([("$", "$"), ("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("\\[\n", "\n\\]")])
    return left + body + right


def completion(rng: random.Random) -> str:
    count = rng.choice([1, 2, 2, 2, 3, 3, 4, 6])
    answers = [rng.choice(ANSWERS) for _ in range(count)]
    shape = rng.random()
    text = rng.choice(INTRO)
    if shape < 0.15:
        text += _region(rng, answers)
    elif shape < 0.3:
        # the self-correction of the issue: an early box, then "final answer is"
        text += (
            "\\boxed{"
            + answers[0]
            + "}"
            + rng.choice(PROSE)
            + rng.choice(
                [
                    "The final answer is ",
                    "the final answer is: ",
                    "Final answer: the final answer is ",
                    "Final Answer: The final answer is ",
                ]
            )
            + rng.choice(["$\\boxed{%s}$", "\\boxed{%s}", "$%s$", "%s", "\\(%s\\)", "$$%s$$"]) % answers[-1]
        )
    else:
        parts = []
        for index, answer in enumerate(answers):
            parts.append(_box(rng, answer))
            if index < len(answers) - 1:
                parts.append(rng.choice(PROSE))
        text += "".join(parts)
    text += rng.choice(OUTRO)
    if rng.random() < 0.12:
        text = text[: rng.randrange(1, len(text))]  # cut off at the token limit
    return text


def generate(count: int, seed: int = 22) -> list[tuple[str, str]]:
    """(completion, gold) pairs; the gold is one of its answers or another."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = completion(rng)
        out.append((text, rng.choice(ANSWERS)))
    return out


@dataclass
class Agreement:
    """How our grading and math-verify's own reading compare on a corpus."""

    completions: int = 0
    boxed: int = 0
    """Completions holding ``\\boxed`` (the rest were cut off before their first box)."""
    same_reading: int = 0
    """Boxed completions whose parsed value equals math-verify's at its box and final-answer priorities."""
    same_verdict: int = 0
    """Boxed completions whose grader verdict equals math-verify's at those priorities."""
    same_full_verdict: int = 0
    """Boxed completions whose grader verdict equals plain ``verify(parse(gold), parse(completion))``, lower
    priorities included (which read any number in the text when no box reading parses)."""
    mismatches: list[str] = field(default_factory=list)


def reference_parse(text: str) -> list:
    """``math_verify.parse(text)`` restricted to its box and "final answer" priorities (<= 50), through the
    library's own extraction functions; below those it reads any number in the text, which the grader does not."""
    from math_verify.parser import (
        ExprExtractionConfig,
        LatexExtractionConfig,
        extract_target_from_pred,
        get_extraction_regexes,
    )

    regexes = get_extraction_regexes([LatexExtractionConfig(), ExprExtractionConfig()])
    restricted = [
        ([(pattern, rank) for pattern, rank in patterns if rank <= 50], config) for patterns, config in regexes
    ]
    return extract_target_from_pred(text, restricted, fallback_mode="first_match", extraction_mode="any_match")


def _same_value(left: list, right: list) -> bool:
    """Equal parsed values (each side's first non-text element, compared both ways by math-verify), or both none."""
    from math_verify import verify

    left = [item for item in left if not isinstance(item, str)]
    right = [item for item in right if not isinstance(item, str)]
    if not left or not right:
        return not left and not right
    return bool(verify(left[:1], right[:1], timeout_seconds=None)) and bool(
        verify(right[:1], left[:1], timeout_seconds=None)
    )


def compare(pairs: list[tuple[str, str]], grader: Grader, full: bool = False) -> Agreement:
    """Grade ``(completion, gold)`` pairs with ``grader`` and compare with math-verify on the whole completion
    (``full``: with plain ``math_verify.parse`` too, all priorities, which doubles the time)."""
    from math_verify import parse, verify

    from rlvr_lab.grading.equivalence import parse_for_verify
    from rlvr_lab.grading.extract import extract_answer

    by_gold: dict[str, list[int]] = {}
    for index, (_, gold) in enumerate(pairs):
        by_gold.setdefault(gold, []).append(index)
    verdicts: list = [None] * len(pairs)
    for gold, indices in by_gold.items():
        for index, verdict in zip(indices, grader.grade(gold, [pairs[i][0] for i in indices]), strict=True):
            verdicts[index] = verdict
    agreement = Agreement(completions=len(pairs))
    for (text, gold), verdict in zip(pairs, verdicts, strict=True):
        if "\\boxed" not in text:
            continue
        agreement.boxed += 1
        reference = reference_parse(text)
        extraction = extract_answer(text)
        readings = getattr(extraction, "readings", ())  # absent before issue 22: the answer alone was parsed
        if readings:
            from rlvr_lab.grading.equivalence import parse_readings

            ours = parse_readings(readings)
        else:
            ours = parse_for_verify(extraction.answer) if extraction.answer is not None else []
        same = _same_value(reference, ours)
        expected = bool(verify(parse("\\boxed{" + gold + "}", parsing_timeout=None), reference, timeout_seconds=None))
        agreement.same_reading += same
        agreement.same_verdict += verdict.correct == expected
        if full:
            gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=None)
            plain = bool(verify(gold_parsed, parse(text, parsing_timeout=None), timeout_seconds=None))
            agreement.same_full_verdict += verdict.correct == plain
        if not same or verdict.correct != expected:
            agreement.mismatches.append(f"{text!r} gold {gold!r}: math-verify {reference}, ours {ours} ({verdict})")
    return agreement


if __name__ == "__main__":
    import argparse
    import logging
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from rlvr_lab.grading import Grader, GradingConfig

    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    started = time.perf_counter()
    with Grader(GradingConfig(timeout_s=30.0)) as shared:
        result = compare(generate(args.n, args.seed), shared, full=True)
    for line in result.mismatches[:20]:
        print(line)
    print(
        f"{result.completions} completions (seed {args.seed}), {result.boxed} with a box: same reading "
        f"{result.same_reading}/{result.boxed}, same verdict {result.same_verdict}/{result.boxed}, same verdict as "
        f"plain math_verify.parse {result.same_full_verdict}/{result.boxed} "
        f"({time.perf_counter() - started:.0f} s)"
    )
