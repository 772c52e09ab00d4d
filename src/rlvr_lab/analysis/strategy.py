"""Label a response as a *code* or a *language* answer.

Two rules, both available everywhere a strategy is measured (organism calibration, training logs, analyses):

- ``contains_python``: the response contains the word "python", case-insensitive. This is the rule of the
  *Spurious Rewards* paper (Shao et al., 2025), which counts "code reasoning" this way for Qwen2.5-Math.
- ``fenced_python``: the response has a fenced block opened by a python info string (a line starting with
  three backticks followed by ``python``/``py``). Stricter: "I will not use Python" is language under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
