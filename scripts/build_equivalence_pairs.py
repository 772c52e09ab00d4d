"""Build ``tests/data/equivalence_pairs.jsonl``: labelled (prediction, gold, equivalent?) pairs from real MATH answers.

Every gold is a real final answer: the ``answer`` field of MATH-500, then the last ``\\boxed{}`` of the other MATH
test solutions. Each rule below picks the golds it applies to and rewrites them; the label comes from the rule,
never from a grader:
- equivalent rewrites: fraction <-> decimal, ``\\dfrac``/``\\tfrac``, spacing, adding or removing
  ``\\left``/``\\right``, degree signs, percent signs, intervals, sets reordered, tuples reformatted, matrices
  (``bmatrix``, decimal entries), units and dollar signs, text answers, thousands separators;
- near misses that must fail: one digit changed (an arithmetic slip, also inside each rewrite above), a sign
  flipped, a reciprocal, a rounded non-terminating decimal, a flipped interval bracket, a set missing an element,
  a tuple reversed, a different word or choice, an angle in radians where degrees are asked.

Rules take at most ``PER_RULE`` distinct golds each, in file order, so the file is stable. Run from the repository
root: ``python scripts/build_equivalence_pairs.py [--data-dir ../shared/data]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from rlvr_lab.grading.extract import last_boxed

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "data" / "equivalence_pairs.jsonl"
PER_RULE = 14


@dataclass(frozen=True)
class Gold:
    """A real final answer with the problem it answers."""

    source: str
    answer: str
    problem: str


Rule = Callable[[Gold], "str | None"]
"""Returns the prediction for a gold, or None when the rule does not apply to it."""


def read_golds(data_dir: Path) -> list[Gold]:
    """MATH-500 answers first, then the other MATH test problems' last boxed answers."""
    golds = []
    with (data_dir / "math500" / "test.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            golds.append(Gold(row["unique_id"], row["answer"], row["problem"]))
    seen = {gold.source for gold in golds}
    with gzip.open(data_dir / "math" / "test.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            answer = last_boxed(row["solution"])
            if row["unique_id"] not in seen and answer:
                golds.append(Gold(row["unique_id"], answer.strip(), row["problem"]))
    return golds


# ------------------------------------------------------------------------------------------------ helpers

INTEGER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?\d*\.\d+")
SIMPLE_FRACTION = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)")
TEXT_COMMAND = re.compile(r"\\(?:text|mbox|textbf|mathrm)\{[^{}]*\}")
THOUSANDS = re.compile(r"\d(?:,\\!|\{,\}|,)\s?\d{3}")


def is_number(text: str) -> bool:
    return bool(INTEGER.fullmatch(text) or DECIMAL.fullmatch(text) or SIMPLE_FRACTION.fullmatch(text))


def decimal_of(fraction: Fraction) -> str | None:
    """The exact decimal of a fraction whose denominator has only the factors 2 and 5, else None."""
    denominator = fraction.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return None
    text = f"{float(fraction):.10f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == fraction else None


def latex_fraction(fraction: Fraction) -> str:
    sign = "-" if fraction < 0 else ""
    return f"{sign}\\frac{{{abs(fraction.numerator)}}}{{{fraction.denominator}}}"


def slip(answer: str) -> str | None:
    """One digit of the answer changed (the last digit outside text commands): an arithmetic slip."""
    protected = {i for match in TEXT_COMMAND.finditer(answer) for i in range(match.start(), match.end())}
    digits = [i for i, char in enumerate(answer) if char.isdigit() and i not in protected]
    if not digits:
        return None
    at = digits[-1]
    digit = int(answer[at])
    return answer[:at] + str(digit + 1 if digit < 9 else digit - 1) + answer[at + 1 :]


def compact_spaces(answer: str) -> str:
    """Drop every space that does not separate two letters (``\\pi r`` keeps its space)."""
    return re.sub(r"(?<![A-Za-z]) | (?![A-Za-z])", "", answer)


def add_left_right(answer: str) -> str:
    answer = re.sub(r"(?<!\\)([(\[])", r"\\left\1", answer)
    return re.sub(r"(?<!\\)([)\]])", r"\\right\1", answer)


def split_top_level(text: str) -> list[str]:
    """Split at commas outside braces, brackets and parentheses."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


ASKS_DEGREES = re.compile(r"in degrees|degree measure|how many degrees|number of degrees")
ASKS_PERCENT = re.compile(r"[Ww]hat percent|as a percent|[Ww]hat is the percent|percent (?:increase|decrease)")
ASKS_UNIT = re.compile(
    r"\b(?:in|how many) ((?:square |cubic )?(?:inches|feet|centimeters|meters|miles|cm|units|dollars|hours|minutes))\b"
)


def unit_in(problem: str) -> str | None:
    """The unit a problem asks its answer in ("in square feet", "how many inches"), if any."""
    match = ASKS_UNIT.search(problem)
    return match.group(1) if match else None


# ------------------------------------------------------------------------------------------------ equivalent rewrites


def frac_to_decimal(gold: Gold) -> str | None:
    match = SIMPLE_FRACTION.fullmatch(gold.answer)
    if not match:
        return None
    value = Fraction(int(match.group(2)), int(match.group(3))) * (-1 if match.group(1) else 1)
    return decimal_of(value)


def decimal_to_frac(gold: Gold) -> str | None:
    return latex_fraction(Fraction(gold.answer)) if DECIMAL.fullmatch(gold.answer) else None


def dfrac(gold: Gold) -> str | None:
    return gold.answer.replace("\\frac", "\\dfrac") if "\\frac" in gold.answer else None


def tfrac(gold: Gold) -> str | None:
    return gold.answer.replace("\\frac", "\\tfrac") if "\\frac" in gold.answer else None


def spacing_removed(gold: Gold) -> str | None:
    compact = compact_spaces(gold.answer)
    return compact if compact != gold.answer and not TEXT_COMMAND.search(gold.answer) else None


def spacing_added(gold: Gold) -> str | None:
    answer = gold.answer
    if " " in answer or TEXT_COMMAND.search(answer) or THOUSANDS.search(answer) or not re.search(r"[,+=]", answer):
        return None
    return re.sub(r"\s*([+=])\s*", r" \1 ", answer.replace(",", ", "))


def left_right_added(gold: Gold) -> str | None:
    answer = gold.answer
    if "\\left" in answer or not re.search(r"[(\[]", answer) or re.search(r"\\begin|\\sqrt\[|\\text", answer):
        return None
    return add_left_right(answer)


def left_right_removed(gold: Gold) -> str | None:
    answer = gold.answer
    return re.sub(r"\\(?:left|right)(?![a-zA-Z])\s*", "", answer) if "\\left" in answer else None


def degrees_added(gold: Gold) -> str | None:
    if not (ASKS_DEGREES.search(gold.problem) and is_number(gold.answer)):
        return None
    return gold.answer + "^\\circ"


def degrees_braced(gold: Gold) -> str | None:
    if not (ASKS_DEGREES.search(gold.problem) and is_number(gold.answer)):
        return None
    return gold.answer + "^{\\circ}"


def degrees_removed(gold: Gold) -> str | None:
    match = re.fullmatch(r"(.+?)\s*\^\s*\{?\\circ\}?", gold.answer)
    return match.group(1) if match else None


def percent_removed(gold: Gold) -> str | None:
    match = re.fullmatch(r"(.+?)\s*\\%", gold.answer)
    return match.group(1) if match else None


def percent_added(gold: Gold) -> str | None:
    return gold.answer + "\\%" if ASKS_PERCENT.search(gold.problem) and is_number(gold.answer) else None


def is_interval(answer: str) -> bool:
    return "\\infty" in answer and bool(re.fullmatch(r"\\?(?:left)?[(\[].*[)\]]", answer))


def interval_spacing(gold: Gold) -> str | None:
    if not is_interval(gold.answer):
        return None
    compact = compact_spaces(gold.answer)
    return compact if compact != gold.answer else compact.replace(",", ", ")


def interval_left_right(gold: Gold) -> str | None:
    if not is_interval(gold.answer):
        return None
    return left_right_removed(gold) or add_left_right(gold.answer)


def interval_membership(gold: Gold) -> str | None:
    return "x \\in " + gold.answer if is_interval(gold.answer) else None


def solution_list(gold: Gold) -> list[str] | None:
    """The elements of a gold that lists all solutions, when the problem asks for a comma-separated list."""
    answer = gold.answer
    if "separated by commas" not in gold.problem or THOUSANDS.search(answer) or "\\pm" in answer:
        return None
    if answer.startswith(("(", "\\left", "[", "\\{")):
        return None
    parts = split_top_level(answer)
    return parts if len(parts) >= 2 and len(set(parts)) == len(parts) else None


def set_reordered(gold: Gold) -> str | None:
    parts = solution_list(gold)
    return ", ".join(parts[1:] + parts[:1]) if parts else None


def set_braced(gold: Gold) -> str | None:
    parts = solution_list(gold)
    return "\\{" + ", ".join(parts) + "\\}" if parts else None


def tuple_parts(answer: str) -> list[str] | None:
    """Elements of an ordered pair or triple written ``(a, b)`` or ``\\left( a, b \\right)`` (not intervals)."""
    match = re.fullmatch(r"(?:\\left)?\(\s*(.*?)\s*(?:\\right)?\)", answer)
    if not match or "\\infty" in answer or "\\cup" in answer:
        return None
    parts = split_top_level(match.group(1))
    return parts if len(parts) >= 2 else None


def tuple_reformatted(gold: Gold) -> str | None:
    parts = tuple_parts(gold.answer)
    if not parts:
        return None
    plain = "(" + ", ".join(parts) + ")"
    return plain if plain != gold.answer else "\\left( " + ", ".join(parts) + " \\right)"


def tuple_compact(gold: Gold) -> str | None:
    parts = tuple_parts(gold.answer)
    return "(" + ",".join(compact_spaces(part) for part in parts) + ")" if parts else None


def matrix_bmatrix(gold: Gold) -> str | None:
    return gold.answer.replace("pmatrix", "bmatrix") if "pmatrix" in gold.answer else None


def matrix_decimal_entries(gold: Gold) -> str | None:
    if "pmatrix" not in gold.answer:
        return None
    changed = False

    def to_decimal(match: re.Match[str]) -> str:
        nonlocal changed
        decimal = decimal_of(Fraction(int(match.group(1)), int(match.group(2))))
        if decimal is None:
            return match.group(0)
        changed = True
        return decimal

    rewritten = re.sub(r"(?<![\d.])(\d+)/(\d+)", to_decimal, gold.answer)
    return rewritten if changed else None


def units_removed(gold: Gold) -> str | None:
    match = re.fullmatch(r"(.+?)\s*\\(?:text|mbox)\{\s*[a-z][a-z ]*\}(?:\^[23])?", gold.answer)
    return match.group(1).strip() if match and NUMBER.search(match.group(1)) else None


def units_added(gold: Gold) -> str | None:
    unit = unit_in(gold.problem)
    return f"{gold.answer}\\text{{ {unit}}}" if unit and is_number(gold.answer) else None


def dollars_removed(gold: Gold) -> str | None:
    return gold.answer.replace("\\$", "").strip() if gold.answer.startswith("\\$") else None


def text_unwrapped(gold: Gold) -> str | None:
    match = re.fullmatch(r"\\text\{([A-Za-z][A-Za-z ]*)\}", gold.answer)
    return match.group(1) if match else None


def text_restyled(gold: Gold) -> str | None:
    match = re.fullmatch(r"\\text\{([A-Za-z][A-Za-z ]*)\}", gold.answer)
    return f"\\textbf{{{match.group(1)}}}" if match else None


def choice_unwrapped(gold: Gold) -> str | None:
    match = re.fullmatch(r"\\text\{\(([A-E])\)\}", gold.answer)
    return f"({match.group(1)})" if match else None


def thousands_plain(gold: Gold) -> str | None:
    if not re.fullmatch(r"(\\\$\s?)?\d{1,3}(?:(?:,\\!|\{,\}|,)\s?\d{3})+(?:\.\d+)?", gold.answer):
        return None
    return re.sub(r",\\!\s?|\{,\}|,", "", gold.answer).replace("\\$", "").strip()


# ------------------------------------------------------------------------------------------------ near misses


def digit_slip(gold: Gold) -> str | None:
    return slip(gold.answer)


def sign_flipped(gold: Gold) -> str | None:
    answer = gold.answer
    if not is_number(answer) or Fraction(0) == _value(answer):
        return None
    return answer[1:] if answer.startswith("-") else "-" + answer


def _value(answer: str) -> Fraction:
    match = SIMPLE_FRACTION.fullmatch(answer)
    if match:
        return Fraction(int(match.group(2)), int(match.group(3))) * (-1 if match.group(1) else 1)
    return Fraction(answer)


def reciprocal(gold: Gold) -> str | None:
    match = SIMPLE_FRACTION.fullmatch(gold.answer)
    if not match or match.group(2) == match.group(3) or match.group(2) == "0":
        return None
    return f"{match.group(1)}\\frac{{{match.group(3)}}}{{{match.group(2)}}}"


def rounded_decimal(gold: Gold) -> str | None:
    """A non-terminating fraction rounded to two places: 1/3 is not 0.33."""
    match = SIMPLE_FRACTION.fullmatch(gold.answer)
    if not match:
        return None
    value = _value(gold.answer)
    return None if decimal_of(value) is not None else f"{float(value):.2f}"


def slipped(rewrite: Rule) -> Rule:
    """The rewrite applied to a slipped gold: the format is accepted, the value is wrong."""

    def rule(gold: Gold) -> str | None:
        wrong = slip(gold.answer)
        return rewrite(Gold(gold.source, wrong, gold.problem)) if wrong else None

    rule.__name__ = f"{rewrite.__name__}_slipped"
    return rule


def interval_bracket_flipped(gold: Gold) -> str | None:
    answer = gold.answer
    if not is_interval(answer) or "\\cup" in answer:
        return None
    if answer.endswith(")") and not answer.rstrip(")").rstrip().endswith("\\infty"):
        return answer[:-1] + "]"
    if answer.endswith("]"):
        return answer[:-1] + ")"
    return None


def set_missing_element(gold: Gold) -> str | None:
    parts = solution_list(gold)
    return ", ".join(parts[:-1]) if parts else None


def tuple_reversed(gold: Gold) -> str | None:
    parts = tuple_parts(gold.answer)
    if not parts or len(set(parts)) < len(parts):
        return None
    return "(" + ", ".join(reversed(parts)) + ")"


# Another real answer of the same type for each text gold that MATH uses (a swap, not a typo).
WORD_SWAPS = {
    "Evelyn": "Navin",
    "Navin": "Evelyn",
    "east": "west",
    "even": "odd",
    "odd": "even",
    "neither": "odd",
    "ellipse": "hyperbola",
    "circle": "ellipse",
    "parabola": "hyperbola",
    "Monday": "Tuesday",
    "VW": "WV",
    "A": "B",
    "D": "E",
    "E": "D",
}


def other_word(gold: Gold) -> str | None:
    match = re.fullmatch(r"\\text\{([A-Za-z]+)\}", gold.answer)
    swap = WORD_SWAPS.get(match.group(1)) if match else None
    return f"\\text{{{swap}}}" if swap else None


def other_choice(gold: Gold) -> str | None:
    match = re.fullmatch(r"\\text\{\(([A-E])\)\}", gold.answer)
    return f"\\text{{({'ABCDEA'['ABCDE'.index(match.group(1)) + 1]})}}" if match else None


def radians_for_degrees(gold: Gold) -> str | None:
    match = re.fullmatch(r"(\d+)\s*\^\s*\{?\\circ\}?", gold.answer)
    if not match or int(match.group(1)) == 0:
        return None
    turn = Fraction(int(match.group(1)), 180)
    numerator = "" if turn.numerator == 1 else str(turn.numerator)
    return f"\\frac{{{numerator}\\pi}}{{{turn.denominator}}}" if turn.denominator != 1 else f"{numerator}\\pi"


RULES: list[tuple[str, Rule, bool]] = [
    ("fraction_decimal", frac_to_decimal, True),
    ("fraction_decimal", decimal_to_frac, True),
    ("fraction_decimal", rounded_decimal, False),
    ("fraction_decimal", reciprocal, False),
    ("fraction_decimal", slipped(frac_to_decimal), False),
    ("dfrac", dfrac, True),
    ("dfrac", tfrac, True),
    ("dfrac", slipped(dfrac), False),
    ("spacing", spacing_removed, True),
    ("spacing", spacing_added, True),
    ("spacing", slipped(spacing_removed), False),
    ("left_right", left_right_added, True),
    ("left_right", left_right_removed, True),
    ("left_right", slipped(left_right_removed), False),
    ("degrees", degrees_added, True),
    ("degrees", degrees_braced, True),
    ("degrees", degrees_removed, True),
    ("degrees", slipped(degrees_removed), False),
    ("degrees", radians_for_degrees, False),
    ("percent", percent_removed, True),
    ("percent", percent_added, True),
    ("percent", slipped(percent_removed), False),
    ("interval", interval_spacing, True),
    ("interval", interval_left_right, True),
    ("interval", interval_membership, True),
    ("interval", interval_bracket_flipped, False),
    ("interval", slipped(interval_spacing), False),
    ("set", set_reordered, True),
    ("set", set_braced, True),
    ("set", set_missing_element, False),
    ("set", slipped(set_reordered), False),
    ("tuple", tuple_reformatted, True),
    ("tuple", tuple_compact, True),
    ("tuple", tuple_reversed, False),
    ("tuple", slipped(tuple_reformatted), False),
    ("matrix", matrix_bmatrix, True),
    ("matrix", matrix_decimal_entries, True),
    ("matrix", slipped(matrix_bmatrix), False),
    ("units", units_removed, True),
    ("units", units_added, True),
    ("units", dollars_removed, True),
    ("units", slipped(units_added), False),
    ("text", text_unwrapped, True),
    ("text", text_restyled, True),
    ("text", choice_unwrapped, True),
    ("text", other_word, False),
    ("text", other_choice, False),
    ("number_format", thousands_plain, True),
    ("number_format", slipped(thousands_plain), False),
    ("number", digit_slip, False),
    ("number", sign_flipped, False),
]


def build(golds: list[Gold]) -> Iterator[dict[str, object]]:
    """Up to ``PER_RULE`` pairs per rule, distinct golds, in file order."""
    for kind, rule, equivalent in RULES:
        used: set[str] = set()
        for gold in golds:
            if len(used) == PER_RULE:
                break
            if gold.answer in used:
                continue
            prediction = rule(gold)
            if prediction is None or prediction == gold.answer:
                continue
            used.add(gold.answer)
            yield {
                "prediction": prediction,
                "gold": gold.answer,
                "equivalent": equivalent,
                "kind": kind,
                "rule": rule.__name__,
                "source": gold.source,
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    pairs = list(build(read_golds(args.data_dir)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
    positives = sum(bool(pair["equivalent"]) for pair in pairs)
    print(f"wrote {len(pairs)} pairs ({positives} equivalent, {len(pairs) - positives} near misses) to {args.out}")


if __name__ == "__main__":
    main()
