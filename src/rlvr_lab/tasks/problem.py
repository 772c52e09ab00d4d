"""The ``Problem`` record every stage shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem with a verifiable answer.

    ``id`` is unique within its source and is the key that joins samples, grades and labels; ``prompt`` is the
    bare problem text (a prompt template adds instructions around it); ``answer`` is the gold final answer as a
    string (LaTeX allowed) that the grader compares against.
    """

    id: str
    prompt: str
    answer: str
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
