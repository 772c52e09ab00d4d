"""Label a response as a *code* or a *language* answer.

Two rules, both available everywhere a strategy is measured (organism calibration, training logs, analyses):

- ``contains_python``: the response contains the word "python", case-insensitive. This is the rule of the
  *Spurious Rewards* paper (Shao et al., 2025), which counts "code reasoning" this way for Qwen2.5-Math.
- ``fenced_python``: the response has a fenced block opened by a python info string (a line starting with
  three backticks followed by ``python``/``py``). Stricter: "I will not use Python" is language under it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

StrategyRule = Literal["contains_python", "fenced_python"]
STRATEGY_RULES: tuple[StrategyRule, ...] = ("contains_python", "fenced_python")

_FENCED = re.compile(r"^[ \t]*```[ \t]*(?:python|py)\b", re.IGNORECASE | re.MULTILINE)


def is_code(response: str, rule: StrategyRule = "contains_python") -> bool:
    """True if ``response`` is a code answer under ``rule``."""
    if rule == "contains_python":
        return "python" in response.lower()
    if rule == "fenced_python":
        return _FENCED.search(response) is not None
    raise ValueError(f"unknown strategy rule {rule!r}; choose one of: {', '.join(STRATEGY_RULES)}")


def code_frequency(responses: Iterable[str], rule: StrategyRule = "contains_python") -> float:
    """Share of code answers; NaN for no responses (an empty set has no frequency, not 0)."""
    labels = [is_code(r, rule) for r in responses]
    return sum(labels) / len(labels) if labels else float("nan")


def code_entry_length(
    token_ids: Sequence[int], decode: Callable[[Sequence[int]], str], rule: StrategyRule
) -> int | None:
    """Leading tokens up to and including the one after which the text is code under ``rule``; None if never.

    For organism v1 this is 1 (the code fence is one token); for a model that drifts into code over several tokens
    ("Let me write a python program") it counts them all. Found by bisection: a prefix that is code stays code.
    """
    if not token_ids or not is_code(decode(token_ids), rule):
        return None
    lo, hi = 1, len(token_ids)  # the shortest code prefix has length in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if is_code(decode(token_ids[:mid]), rule):
            hi = mid
        else:
            lo = mid + 1
    return lo


def strategy_token_counts(
    responses: Sequence[Sequence[int]], decode: Callable[[Sequence[int]], str], rule: StrategyRule = "contains_python"
) -> list[int]:
    """How many leading tokens of each response are *strategy tokens*: those before the strategy is settled.

    A code response's count is its :func:`code_entry_length`. A language response never becomes code, so its
    decision is read off the code responses beside it: it counts the median entry length of the batch's code
    responses (1 when there are none), the tokens in which it could have entered code and did not.
    """
    entries = [code_entry_length(ids, decode, rule) for ids in responses]
    code = sorted(e for e in entries if e is not None)
    language = code[len(code) // 2] if code else 1
    return [min(len(ids), language if e is None else e) for ids, e in zip(responses, entries, strict=True)]
