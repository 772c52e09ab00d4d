"""Answer extraction: find the final answer a completion commits to.

Order of strategies: the boxed answer always comes first; after it, only the fallbacks a caller names, in the order
named. Every extractor is registered in :data:`EXTRACTORS`, so the names are the command line's choices and an
unknown name raises listing them.

Design choices:
- The boxed answer is what ``math_verify.parse`` reads from the whole completion
  (:mod:`rlvr_lab.grading.readings`): the match that ends last among the boxes, the math regions holding a box and
  the "final answer is" phrases, so ``\\boxed{29} ... The final answer is $\\boxed{19}$.`` answers ``19`` and
  ``$\\boxed{1}$ and $\\boxed{2}$`` answers the set ``1,2``. The grader's verdicts are math-verify's, so its
  reading is the one that counts; a reading the worker finds unparseable hands over to the next one, as
  math-verify does (:attr:`Extraction.readings`). Gold solutions (MATH's ``solution``) keep :func:`last_boxed`,
  the benchmark convention for their final answer.
- Only a completion with a box is read this way: without one, math-verify's "final answer is" reading is the
  ``answer_is`` fallback's job, asked for by name, as before.
- A box math-verify's patterns do not see (``\\fbox{...}`` alone, ``\\boxed 5`` without braces) is read as the
  last box, as before: math-verify reads nothing there at its box priority.
- A completion whose only boxes are cut off (the token limit inside the answer) has no answer at all, and no
  fallback runs either, because everything after the unclosed brace is inside the cut box (``The answer is
  \\boxed{12`` must not earn credit through ``answer_is`` or ``last_number``). An earlier complete box still
  answers when math-verify reads it (``\\boxed{29}. Thus \\boxed{12`` reads ``29``).
- Linear time on any input: the readings are found by forward scans, ``str.rfind`` finds the last macro, and
  the fallback patterns have no nested quantifiers, so no input makes them backtrack.
- A blank answer (``\\boxed{}``) counts as no answer, so the next strategy gets its turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rlvr_lab.grading.readings import math_verify_readings
from rlvr_lab.registry import Registry

Extractor = Callable[[str], "str | None"]
"""Returns the answer a text commits to, or None when its strategy finds none."""

EXTRACTORS: Registry[Extractor] = Registry("answer extractor")

PRIMARY = "boxed"
"""The strategy tried before every fallback."""

NO_ANSWER = "none"
"""The strategy recorded when nothing was extracted."""

_BOX_MACROS = ("\\boxed", "\\fbox")
_BRACE_OR_ESCAPE = re.compile(r"\\.|[{}]", re.DOTALL)
_BARE_ARGUMENT_END = re.compile(r"[\s$]")


@dataclass(frozen=True)
class Extraction:
    """What was extracted from one completion and how.

    ``answer`` is None exactly when ``strategy`` is ``"none"``.
    """

    answer: str | None
    strategy: str
    readings: tuple[tuple[str, ...], ...] = field(default=(), compare=False, repr=False)
    """With the boxed strategy: every reading math-verify would try, in its order (``answer`` shows the first);
    the grader parses the first that parses. Empty for the other strategies, whose ``answer`` is parsed alone."""

    @property
    def key(self) -> str | tuple[tuple[str, ...], ...]:
        """What the verdict depends on besides the gold: the readings when there are any, else the answer."""
        return self.readings if self.readings else self.answer or ""


def _last_macro(text: str) -> tuple[int, int]:
    """Start and end of the last ``\\boxed``/``\\fbox`` that is a whole control word, or ``(-1, -1)``."""
    best = (-1, -1)
    for macro in _BOX_MACROS:
        end = len(text)
        while True:
            start = text.rfind(macro, 0, end)
            if start < 0:
                break
            after = start + len(macro)
            # ``\boxedx`` would be another control word; only a non-letter may follow.
            if after == len(text) or not text[after].isalpha():
                if start > best[0]:
                    best = (start, after)
                break
            end = start
    return best


def _braced_group(text: str, open_at: int) -> str | None:
    """Content of the group whose ``{`` is at ``open_at``, or None if it never closes."""
    depth = 0
    for match in _BRACE_OR_ESCAPE.finditer(text, open_at):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : match.start()]
    return None


def _argument_start(text: str, after: int, end: int) -> int:
    """Where a macro ending at ``after`` takes its argument: the first non-space before ``end``, else ``end``."""
    while after < end and text[after].isspace():
        after += 1
    return after


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\boxed ...`` / ``\\fbox{...}`` in ``text``, else None.

    Nested braces are matched exactly; None when there is no box or the last one never closes.

    >>> last_boxed(r"so $x = \\boxed{\\frac{1}{2}}$, not \\boxed{3")
    >>> last_boxed(r"first \\boxed{1}, then \\boxed{\\frac{1}{2}}.")
    '\\\\frac{1}{2}'
    >>> last_boxed(r"$\\boxed 7$")
    '7'
    """
    start, after = _last_macro(text)
    if start < 0:
        return None
    position = _argument_start(text, after, len(text))
    if position == len(text):
        return None
    if text[position] == "{":
        return _braced_group(text, position)
    end = _BARE_ARGUMENT_END.search(text, position)
    return text[position : end.start() if end else len(text)]


def truncated_box(text: str) -> bool:
    """Whether the last box opens a brace that never closes: the completion was cut inside its answer."""
    start, after = _last_macro(text)
    if start < 0:
        return False
    position = _argument_start(text, after, len(text))
    return position < len(text) and text[position] == "{" and _braced_group(text, position) is None


def boxed_answer(text: str) -> str | None:
    """The boxed answer: math-verify's first reading (its regions joined by commas), else the last box.

    >>> boxed_answer(r"We get \\boxed{29}; the final answer is $\\boxed{19}$.")
    '19'
    """
    readings = math_verify_readings(text) if "\\boxed" in text else ()
    return display(readings[0]) if readings else last_boxed(text)


def display(reading: tuple[str, ...]) -> str:
    """A reading as one answer string: a chain of regions joined by commas."""
    return ",".join(reading)


@EXTRACTORS.register(PRIMARY)
def _boxed(text: str) -> str | None:
    return boxed_answer(text)


# ``answer is X`` / ``answer: X``, e.g. "The final answer is $\frac{1}{2}$." or "**Answer:** 12". The answer runs
# to the end of its line, cut at a sentence-ending period (one followed by a space or the end, so 0.5 survives).
# Each alternative is linear on its own (no two adjacent quantifiers can trade characters), so a long run of
# spaces after "answer" costs one pass, not a quadratic search.
_ANSWER_IS = re.compile(r"answer(?:\s+is|\s*:|\*\*\s*:)\s*\**", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?:\s|$)")


def _strip_math_delimiters(answer: str) -> str:
    """Remove the wrapping a sentence puts around an answer: ``$...$``, ``\\(...\\)``, ``**``, a final period."""
    answer = answer.strip().strip("*").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
            break
    return answer.rstrip(".").strip()


@EXTRACTORS.register("answer_is")
def _answer_is(text: str) -> str | None:
    last = None
    for last in _ANSWER_IS.finditer(text):  # noqa: B007 - only the last match is wanted
        pass
    if last is None:
        return None
    line_end = text.find("\n", last.end())
    sentence = text[last.end() : line_end if line_end >= 0 else len(text)]
    period = _SENTENCE_END.search(sentence)
    if period:
        sentence = sentence[: period.start()]
    return _strip_math_delimiters(sentence) or None


# R1-style templates ask for ``<answer>...</answer>``; a box inside the tag wins over the tag's raw text.
_ANSWER_TAG_OPEN = "<answer>"
_ANSWER_TAG_CLOSE = "</answer>"


@EXTRACTORS.register("answer_tag")
def _answer_tag(text: str) -> str | None:
    start = text.rfind(_ANSWER_TAG_OPEN)
    if start < 0:
        return None
    start += len(_ANSWER_TAG_OPEN)
    end = text.find(_ANSWER_TAG_CLOSE, start)
    if end < 0:
        return None
    inner = text[start:end]
    boxed = last_boxed(inner)
    return boxed if boxed is not None else _strip_math_delimiters(inner)


# An integer (thousands separators allowed), decimal or simple fraction; the separators are dropped so that
# ``1,000`` is not read as the pair (1, 0) downstream.
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\.\d+")


@EXTRACTORS.register("last_number")
def _last_number(text: str) -> str | None:
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007 - only the last match is wanted
        pass
    return last.group().replace(",", "") if last is not None else None


def check_fallbacks(fallbacks: Sequence[str]) -> tuple[str, ...]:
    """Validate fallback names: registered, not the primary strategy, no repeats. Returns them as a tuple."""
    seen: set[str] = set()
    for name in fallbacks:
        EXTRACTORS.get(name)
        if name == PRIMARY:
            raise ValueError(f"{PRIMARY!r} is always tried first; it is not a fallback")
        if name in seen:
            raise ValueError(f"fallback {name!r} is named twice")
        seen.add(name)
    return tuple(fallbacks)


def parse_fallbacks(text: str) -> tuple[str, ...]:
    """``"answer_is, last_number"`` (the form ``rlvr grade --fallbacks`` and a training config's ``fallbacks``
    take) as validated fallback names; empty text is no fallback."""
    return check_fallbacks(tuple(name.strip() for name in text.split(",") if name.strip()))


def extract_answer(text: str, fallbacks: tuple[str, ...] = ()) -> Extraction:
    """The answer ``text`` commits to: the boxed answer first, then each named fallback in order; nothing when the
    last box was cut off.

    Unknown fallback names raise ``ValueError`` listing the registered ones.

    >>> extract_answer("The answer is 12.", fallbacks=("answer_is",))
    Extraction(answer='12', strategy='answer_is')
    >>> extract_answer("no answer here")
    Extraction(answer=None, strategy='none')
    >>> extract_answer(r"The answer is \\boxed{12", fallbacks=("answer_is",))
    Extraction(answer=None, strategy='none')
    """
    readings = math_verify_readings(text) if "\\boxed" in text else ()
    if readings:
        return Extraction(answer=display(readings[0]), strategy=PRIMARY, readings=readings)
    boxed = last_boxed(text)
    if boxed is not None and boxed.strip():
        return Extraction(answer=boxed.strip(), strategy=PRIMARY)
    if boxed is None and truncated_box(text):
        return Extraction(answer=None, strategy=NO_ANSWER)
    for name in fallbacks:
        answer = EXTRACTORS.get(name)(text)
        if answer is not None and answer.strip():
            return Extraction(answer=answer.strip(), strategy=name)
    return Extraction(answer=None, strategy=NO_ANSWER)
