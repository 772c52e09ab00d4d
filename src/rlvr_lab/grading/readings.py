"""Which part of a completion ``math_verify.parse`` reads, found in linear time: the grader's primary answer.

Why: the grader's verdict must be math-verify's verdict on the whole completion, and math-verify does not simply
read the last box. With its default configuration it collects, at one priority, four kinds of match and reads the
one that *ends last* (ties: the one that starts first), moving on to the next when the text read does not parse:

- ``\\boxed{.+}``: from the first ``\\boxed{`` to the last ``}`` of the text, read as
  ``extract_boxed_content(..., mode="last")`` (the last box, joined with the earlier boxes near it);
- a math region that holds a ``\\boxed{...}`` (``$...$``, ``$$...$$``, ``\\[...\\]``, ``\\(...\\)``, `` [...] ``),
  chained with up to five more such regions by ``and``, ``or`` or a comma; every box of a region is read
  (``mode="all"``), and a chain is the set of its regions' readings;
- ``final answer ... is`` followed by a math region (boxed or not, or a bare ``\\frac{a}{b}``), chained the same way;
- ``final answer ... is`` followed by a number or a plain expression (math-verify's own pattern, matched here on a
  bounded window after each "final answer" so that the whole stays linear).

So ``\\boxed{29} ... The final answer is $\\boxed{19}$.`` reads ``19`` (the region ends after the last box), and
``$\\boxed{1}$ and $\\boxed{2}$`` reads the set ``1,2``. The rules are math-verify 0.9's regular expressions
(``math_verify/parser.py``) restated as scans: every delimiter search moves forward only, so any input costs time
linear in its length, where the regular expressions themselves can take quadratic time on unclosed ``\\[``.
``tests/test_grading_corpus.py`` checks this reading against ``math_verify.parse`` on a generated corpus.

What is not reproduced, on purpose: math-verify's lower-priority readings (an ``answer:`` phrase, any number in
the text) when no box and no "final answer" is found: those are the grader's opt-in fallbacks instead. A reading
that math-verify would fail to parse is recognised only for the one case a scan can tell, a box cut off before its
closing brace; any other unparseable reading is graded as read (``error``), where math-verify moves to the next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_MACRO = re.compile(r"\\(?:boxed|fbox)")
"""Every place ``str.rfind`` would find a box macro, as ``extract_boxed_content`` looks for them."""
_BRACE = re.compile(r"[{}]")
_SEPARATOR = re.compile(r"\b(and|or)\b|,|;")
_JOIN_NEAR = 10
_JOIN_FAR = 70
_FINAL_ANSWER = re.compile(r"final answer", re.IGNORECASE)
_FINAL_ANSWER_IS = re.compile(r"final answer is", re.IGNORECASE)
_CHAIN_SEPARATOR = re.compile(r"\s*(?:,?and|,?or|,)\s*")
_PERCENT = re.compile(r"\\?%|[Pp]ercent|[Pp]ct")
_FRACTION = re.compile(r"-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\}")
_I_HOPE = re.compile(r"\.?\s?I hope")
_SPACE = re.compile(r"\s*")
_WINDOW = 600
"""Characters after a "final answer" in which math-verify's number/expression pattern is matched."""
_CHAIN = 5
"""Regions chained after the first one."""


@dataclass(frozen=True)
class Reading:
    """One match math-verify would try: where it ends and starts (its rank) and the answer text it reads.

    ``answer`` is None when math-verify's parse of it fails for sure (a box cut off before its closing brace).
    """

    end: int
    start: int
    answer: tuple[str, ...] | None
    """The texts math-verify parses: one, or one per region of a chain (read as the set of their values)."""


def read_boxes(text: str, start: int, end: int, mode: str) -> tuple[str, bool]:
    """``extract_boxed_content(text[start:end], mode)`` and whether its result can parse (False for the tail of a
    box that never closes). Without any box, the text itself.

    Linear: macros are found in one scan; each box's braces are scanned only up to the next box.
    """
    macros = [(m.start(), m.end()) for m in _MACRO.finditer(text, start, end)]
    results: list[str] = []
    limit = end
    last_start: int | None = None
    for macro_start, command_end in reversed(macros):
        position = command_end
        while position < limit and text[position].isspace():
            position += 1
        if position >= limit:
            break
        if text[position] != "{":
            if not results:
                return text[position:end], True
            break
        close = _closing_brace(text, position, limit)
        if close is None:
            if not results:
                return text[position:end], False
            break
        content = text[position + 1 : close].strip()
        if mode == "last" and last_start is not None:
            between = text[close + 1 : last_start]
            previous = results[-1]
            near = len(between) < _JOIN_NEAR
            if not near and not (content != previous and len(between) < _JOIN_FAR and _SEPARATOR.search(between)):
                break
        if not results or results[-1] != content:
            results.append(content)
        last_start = macro_start
        limit = macro_start
    if not results:
        return text[start:end], True
    return ",".join(reversed(results)), True


def _closing_brace(text: str, open_at: int, limit: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``open_at`` before ``limit`` (braces counted as math-verify counts
    them, escaped or not), else None."""
    depth = 0
    for match in _BRACE.finditer(text, open_at, limit):
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return match.start()
    return None


class _Scanner:
    """Delimiter searches over one text that remember their last answer, so forward scans stay linear."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._found: dict[str, tuple[int, int]] = {}

    def find(self, needle: str, start: int) -> int:
        """``text.find(needle, start)``, reusing the previous search when it answers this one too."""
        cached = self._found.get(needle)
        if cached is not None and cached[0] <= start and (cached[1] >= start or cached[1] < 0):
            return cached[1]
        found = self.text.find(needle, start)
        self._found[needle] = (start, found)
        return found


def _region_at(scan: _Scanner, p: int, boxed: bool) -> tuple[int, int, int] | None:
    """The math region math-verify's pattern matches at ``p``: (content start, content end, end), else None.

    The alternatives in math-verify's order; each closes at its first closing delimiter (the content patterns
    cannot step over one). ``boxed`` asks for a region whose content holds ``\\boxed{`` and a later ``}``.
    """
    text = scan.text
    n = len(text)
    before = text[p - 1] if p > 0 else ""
    found: tuple[int, int, int] | None = None
    if text.startswith("$$", p) and before != "\\":
        q = scan.find("$$", p + 2)
        if q > p + 2 and text[q - 1] != "\\":
            found = (p + 2, q, q + 2)
    if found is None and text.startswith("\\[", p) and before != "\\":
        q = scan.find("\\]", p + 2)
        if q > p + 2 and text[q - 1] != "\\":
            found = (p + 2, q, q + 2)
    if found is None and text.startswith("$", p) and before != "\\" and not before.isdigit():
        q = _inline_dollar_close(scan, p + 1)
        if q is not None and q > p + 1:
            found = (p + 1, q, q + 1)
    if found is None and text.startswith("\\(", p) and before != "\\":
        q = scan.find("\\)", p + 2)
        newline = scan.find("\n", p + 2)
        if q > p + 2 and text[q - 1] != "\\" and (newline < 0 or newline > q):
            found = (p + 2, q, q + 2)
    if found is None and p + 1 < n and text[p].isspace() and text[p + 1] == "[":
        q = _bracket_close(scan, p + 2)
        if q is not None and q > p + 2 and q + 1 < n and text[q + 1].isspace():
            found = (p + 2, q, q + 2)
    if found is None and not boxed:
        fraction = _FRACTION.match(text, p)
        if fraction:
            found = (p, fraction.end(), fraction.end())
    if found is None or (boxed and not _holds_box(scan, found[0], found[1])):
        return None
    return found


def _inline_dollar_close(scan: _Scanner, start: int) -> int | None:
    """The ``$`` closing an inline region whose content starts at ``start``: the first ``$`` not preceded by a
    backslash, with no newline before it."""
    text = scan.text
    position = start
    while True:
        q = scan.find("$", position)
        if q < 0:
            return None
        newline = scan.find("\n", start)
        if 0 <= newline < q:
            return None
        if text[q - 1] != "\\" or q == start:
            return q if q > start else None
        position = q + 1


def _bracket_close(scan: _Scanner, start: int) -> int | None:
    """The ``]`` closing `` [...] `` whose content starts at ``start``: content holds no newline and no bracket."""
    text = scan.text
    candidates = [scan.find(c, start) for c in "]\n["]
    stops = [c for c in candidates if c >= 0]
    if not stops:
        return None
    first = min(stops)
    return first if text[first] == "]" else None


def _holds_box(scan: _Scanner, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` holds ``\\boxed{``, at least one character, then a ``}``."""
    box = scan.find("\\boxed{", start)
    if box < 0 or box + 8 >= end:
        return False
    brace = scan.find("}", box + 8)
    return 0 <= brace < end


def _after_region(text: str, end: int) -> tuple[int, bool]:
    """Where ``\\s*`` and math-verify's optional percent sign after a region end, and whether there was one."""
    end = _SPACE.match(text, end).end()  # type: ignore[union-attr]
    percent = _PERCENT.match(text, end)
    return (percent.end(), True) if percent else (end, False)


_Groups = list[tuple[int, int, bool, int]]
"""The regions of a chain: (content start, content end, percent sign after it, end of the match up to it)."""


def _chain(scan: _Scanner, p: int, boxed: bool) -> _Groups | None:
    """The region at ``p`` and the regions chained after it, each as (content start, content end, percent, end
    of the match up to it)."""
    first = _region_at(scan, p, boxed)
    if first is None:
        return None
    text = scan.text
    end, percent = _after_region(text, first[2])
    groups = [(first[0], first[1], percent, end)]
    for _ in range(_CHAIN):
        if boxed:
            end = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        separator = _CHAIN_SEPARATOR.match(text, end)
        if separator is None:
            break
        region = _region_at(scan, separator.end(), boxed)
        if region is None and separator.end() > end and text[separator.end() - 1].isspace():
            region = _region_at(scan, separator.end() - 1, boxed)  # `` [..]`` starts with the space
        if region is None:
            break
        end, percent = _after_region(text, region[2])
        groups.append((region[0], region[1], percent, end))
    if boxed:
        groups[-1] = (*groups[-1][:3], _SPACE.match(text, groups[-1][3]).end())  # type: ignore[union-attr]
    return groups


def _group_answer(text: str, start: int, end: int, percent: bool, _: int = 0) -> str | None:
    reading, parses = read_boxes(text, start, end, "all")
    if not parses:
        return None
    return reading + "\\%" if percent and reading else reading


def _chain_answer(text: str, groups: _Groups) -> tuple[str, ...] | None:
    """A chain's texts, one per region; None when its first region cannot parse (a box cut off)."""
    answers = [_group_answer(text, *group) for group in groups]
    if answers[0] is None:
        return None
    return tuple(answers) if all(answer is not None for answer in answers) else (answers[0],)  # type: ignore[return-value]


_STARTS = re.compile(r"\$|\\[\[(]|\s(?=\[)")


def _regions(scan: _Scanner, matches: Iterable[re.Match[str]], chain: Callable[[re.Match[str]], Any]) -> list[Reading]:
    """The readings of ``chain`` at each match, left to right and non-overlapping as ``finditer`` finds them: a
    match inside the previous reading is skipped, one where ``chain`` finds nothing is passed over."""
    readings = []
    position = 0
    for match in matches:
        start = match.start()
        if start < position:
            continue
        groups = chain(match)
        if groups is None:
            continue
        end = groups[-1][3]
        readings.append(Reading(end=end, start=start, answer=_chain_answer(scan.text, groups)))
        position = end
    return readings


def _boxed_regions(scan: _Scanner) -> list[Reading]:
    """math-verify's boxed-region matches."""
    return _regions(scan, _STARTS.finditer(scan.text), lambda m: _chain(scan, m.start(), boxed=True))


def _final_answer_regions(scan: _Scanner) -> list[Reading]:
    """``final answer.{0,100}?\\s+is:?\\s*`` then a region chain, as math-verify's pattern matches it."""
    return _regions(
        scan,
        _FINAL_ANSWER.finditer(scan.text),
        lambda m: _after_is(scan, m.end(), lambda q: _chain(scan, q, boxed=False)),
    )


def _after_is(scan: _Scanner, after_phrase: int, match_at: Callable[[int], _Groups | None]) -> _Groups | None:
    """Try ``.{0,100}?\\s+is:?\\s*`` then ``match_at`` (lazily: the first "is" whose region matches wins)."""
    text = scan.text
    tried: set[int] = set()
    for x in range(after_phrase, min(after_phrase + 101, len(text))):
        if not text[x].isspace():
            continue
        y = _SPACE.match(text, x).end()  # type: ignore[union-attr]
        if y in tried or not text.startswith("is", y):
            continue
        tried.add(y)
        q = y + 2
        if text.startswith(":", q):
            q += 1
        z = _SPACE.match(text, q).end()  # type: ignore[union-attr]
        found = match_at(z)
        if found is None and z > q:
            found = match_at(z - 1)
        if found is None and q > y + 2:
            z = _SPACE.match(text, y + 2).end()  # type: ignore[union-attr]
            found = match_at(z) if z > y + 2 else None
        if found is not None:
            return found
    return None


def _final_answer_numbers(text: str) -> list[Reading]:
    """math-verify's own "final answer ... is <number or expression>" pattern, matched after each phrase."""
    pattern = _expr_pattern(50)
    readings = []
    position = 0
    for phrase in _FINAL_ANSWER.finditer(text):
        s = phrase.start()
        if s < position:
            continue
        match = pattern.match(text, s, min(len(text), s + _WINDOW))
        if match is None:
            continue
        answer = _number_answer(match)
        readings.append(Reading(end=match.end(), start=s, answer=(answer,) if answer else None))
        position = match.end()
    return readings


def _expr_pattern(priority: int) -> re.Pattern[str]:
    from math_verify.parser import ExprExtractionConfig, lazy_expr_regex

    return next(pattern for pattern, rank in lazy_expr_regex(ExprExtractionConfig()) if rank == priority)


def _number_answer(match: re.Match[str]) -> str | None:
    """The text of math-verify's number or expression reading (``extract_expr``), as an answer to box."""
    groups = match.groupdict()
    integer = next((value for name, value in groups.items() if name.startswith("integer") and value), "")
    decimal = next((value for name, value in groups.items() if name.startswith("decimal") and value), "")
    if integer or decimal:
        integer = integer.translate(str.maketrans("", "", ", ")).lstrip("0") or "0"
        number = integer + decimal.replace(",", ".")
        return number + "\\%" if groups.get("percent") else number
    expr = groups.get("expr") or ""
    return expr.replace("\n", " ") or None


def _hoped(scan: _Scanner) -> list[Reading]:
    """Priority 0: ``final answer is:? <region chain>.? ?I hope`` (the Minerva format)."""
    text = scan.text
    readings = []
    for phrase in _FINAL_ANSWER_IS.finditer(text):
        q = phrase.end()
        if text.startswith(":", q):
            q += 1
        z = _SPACE.match(text, q).end()  # type: ignore[union-attr]
        for start in (z, z - 1) if z > q else (z,):
            groups = _chain(scan, start, boxed=False)
            if groups is None:
                continue
            for size in range(len(groups), 0, -1):
                hope = _I_HOPE.match(text, groups[size - 1][3])
                if hope:
                    answer = _chain_answer(text, groups[:size])
                    readings.append(Reading(end=hope.end(), start=phrase.start(), answer=answer))
                    break
            break
    pattern = _expr_pattern(0)
    for phrase in _FINAL_ANSWER_IS.finditer(text):
        match = pattern.match(text, phrase.start(), min(len(text), phrase.start() + _WINDOW))
        if match:
            answer = _number_answer(match)
            readings.append(Reading(end=match.end(), start=phrase.start(), answer=(answer,) if answer else None))
    return readings


def math_verify_readings(text: str) -> tuple[tuple[str, ...], ...]:
    """The readings ``math_verify.parse`` would try on a completion, in its order; the first that parses is its
    answer. Each reading is the text of one match, or of each region of a chain.

    Only the box and "final answer" priorities; empty when neither reads anything (no box, no phrase, or only
    boxes cut off). Repeats and blank readings are dropped, and the list ends at the first plain number, which
    always parses.
    """
    from rlvr_lab.grading.numeric import parse_literal

    if _one_box_only(text):
        # Every match then reads that one box (a region's boxes, the last box): the scans cannot differ from it.
        first, last = text.find("\\boxed{"), text.rfind("}")
        if first < 0 or last < first + 8:
            return ()
        reading, parses = read_boxes(text, first, last + 1, "last")
        return ((reading.strip(),),) if parses and reading.strip() else ()
    scan = _Scanner(text)
    found: list[tuple[str, ...]] = []
    for readings in (_hoped(scan), _priority_fifty(scan)):
        for reading in sorted(readings, key=lambda reading: (-reading.end, reading.start)):
            if reading.answer is None:
                continue
            answer = tuple(part.strip() for part in reading.answer)
            if not all(answer) or answer in found:
                continue
            found.append(answer)
            if len(answer) == 1 and parse_literal(answer[0]) is not None:
                return tuple(found)
    return tuple(found)


_ONE_BOX_SPOILERS = re.compile(r"\\fbox|%|[Pp]ercent|[Pp]ct|final answer", re.IGNORECASE)


def _one_box_only(text: str) -> bool:
    """A completion with a single box macro and nothing that could read otherwise (a percent sign after a region,
    a "final answer" phrase): the common case, read without the region scans."""
    return text.count("\\boxed") == 1 and _ONE_BOX_SPOILERS.search(text) is None


def _priority_fifty(scan: _Scanner) -> list[Reading]:
    text = scan.text
    readings = []
    first = text.find("\\boxed{")
    last = text.rfind("}")
    if first >= 0 and last >= first + 8:
        reading, parses = read_boxes(text, first, last + 1, "last")
        readings.append(Reading(end=last + 1, start=first, answer=(reading,) if parses else None))
    readings += _boxed_regions(scan)
    if _FINAL_ANSWER.search(text):
        readings += _final_answer_regions(scan)
        readings += _final_answer_numbers(text)
    return readings
