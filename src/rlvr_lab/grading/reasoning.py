"""Answer-only responses: a final answer with no reasoning before it.

Yue et al. (2025) checked by hand whether correct answers at large k came with sound reasoning. On a real model no
checker can validate a free-form chain (the organism has one: :mod:`rlvr_lab.organism.chains`), but the crudest
lucky guess can be flagged mechanically: a response that states an answer and nothing else. The rule: remove every
``\\boxed{...}`` (with its argument), the answer phrases ("the final answer is", "answer:"), maths delimiters and
punctuation; what is left is the reasoning, and fewer than :data:`MIN_REASONING_WORDS` words or numbers of it is
none. The graded file's ``answer_only`` column is this flag on correct samples.
"""

from __future__ import annotations

import re

from rlvr_lab.grading.extract import last_boxed

MIN_REASONING_WORDS = 3
"""Fewer words or numbers than this outside the answer statement: no reasoning."""

_ANSWER_PHRASE = re.compile(r"\b(?:the\s+)?(?:final\s+)?answer(?:\s+is)?\s*:?", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")


def _without_boxes(text: str) -> str:
    while True:
        start = text.rfind("\\boxed")
        if start < 0:
            return text
        inner = last_boxed(text[start:]) or ""
        end = start + len("\\boxed")
        end = text.find(inner, end) + len(inner) if inner else end  # past the argument (braced or bare)
        text = text[:start] + " " + text[end:].lstrip("}")


def reasoning_words(text: str) -> int:
    """Words and numbers of ``text`` outside its answer statements (see the module docstring)."""
    return len(_WORD.findall(_ANSWER_PHRASE.sub(" ", _without_boxes(text))))


def is_answer_only(text: str) -> bool:
    """True when ``text`` carries fewer than :data:`MIN_REASONING_WORDS` words of reasoning."""
    return reasoning_words(text) < MIN_REASONING_WORDS
