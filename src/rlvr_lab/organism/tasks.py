"""The organism's synthetic problems: arithmetic and short word problems with integer answers.

Design choices:
- **Graded difficulty by construction.** Six problem types run from problems whose answer is in the text
  (``unit``: 47*1), through small tables of facts (``add1``: 9-5, ``mul1``: 7*8), two-step word problems and
  carries (``add2``: 47+38), to two-digit multiplication (``mul22``: 47*38), which is beyond a model this small.
  Pass@k curves only rise with k when some problems are solved rarely and others almost always, so the spread is
  designed in, not hoped for.
- **Splits are a function of the text.** A problem belongs to the test split when a hash of its text falls in the
  first ``TEST_PERCENT`` buckets, else to train. Generators draw candidates and keep those of the wanted split, so
  train and test can never share a problem, whatever seeds or sizes are asked for.
- **Structure travels with the text.** A :class:`Task` keeps the operations as a chain (start value, then
  ``(op, operand)`` pairs), so the corpus writes both solution strategies, and slips that propagate through later
  steps, from the same facts.
- **Several phrasings** ("What is 7*8?", "Compute 7*8.", "What is 7 times 8?") give the small fact spaces enough
  distinct texts for a test split of a few hundred problems without repeats; past that, a type that has run out
  leaves the round-robin (:func:`organism_tasks`), so the boundary study's 500+ problems exist.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from rlvr_lab.tasks.problem import Problem

Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")
TEST_PERCENT = 20
"""Share of all problem texts (by hash bucket) that belong to the test split."""
DEFAULT_SIZES: dict[Split, int] = {"train": 1200, "test": 300}
"""Problems returned by :func:`organism_problems` when ``n`` is not given."""
SOURCE = "organism"


@dataclass(frozen=True)
class Task:
    """One problem with the structure the corpus writes solutions from.

    The answer is a chain of operations applied left to right: ``start``, then each ``(op, operand)`` of ``ops``
    (``7, (("+", 5), ("-", 3))`` for "has 7, gets 5, gives 3 away"). Chains mix no precedence levels, so the
    same chain written as one Python expression (``7+5-3``) computes the same value. ``noun`` names the
    quantity of a word problem (a Python variable in code answers).
    """

    kind: str
    text: str
    start: int
    ops: tuple[tuple[str, int], ...]
    noun: str | None = None

    @property
    def expression(self) -> str:
        """The chain as one Python expression, e.g. ``"7+5-3"``."""
        return f"{self.start}" + "".join(f"{op}{b}" for op, b in self.ops)

    def steps(self, slip_at: int | None = None, slip: Callable[[int], int] | None = None) -> list[tuple[str, int]]:
        """The chain as ``(expression, value)`` steps with earlier values substituted in.

        With ``slip_at`` and ``slip``, the value of step ``slip_at`` is replaced by ``slip(true value)`` and the
        later steps compute from the wrong value, the way a slip in worked reasoning propagates.
        """
        value, out = self.start, []
        for i, (op, b) in enumerate(self.ops):
            expr = f"{value}{op}{b}"
            value = apply(value, op, b)
            if i == slip_at and slip is not None:
                value = slip(value)
            out.append((expr, value))
        return out

    @property
    def answer(self) -> int:
        return self.steps()[-1][1]


def apply(a: int, op: str, b: int) -> int:
    """One operation of a chain."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    raise ValueError(f"unknown operation {op!r}")


Generator = Callable[[random.Random], Task]
PHRASINGS = ("What is {e}?", "Compute {e}.", "Find {e}.", "What is {w}?")
"""How a bare expression is asked; ``{w}`` spells the operation as a word."""
WORDS = {"+": "plus", "-": "minus", "*": "times"}
NAMES = ("Ann", "Ben", "Cal", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lee", "Max", "Ned", "Sam")
NOUNS = ("apples", "pens", "cards", "coins", "books", "cups", "eggs", "toys", "stamps", "shells")
CONTAINERS = (("box", "boxes"), ("bag", "bags"), ("jar", "jars"), ("tray", "trays"))
"""(singular, plural) of the containers of grouping stories."""
HAS_GETS_GIVES = "{name} has {a} {noun}, gets {b} more and gives {c} away. How many {noun} are left?"
GROUPS = "A {box} holds {a} {noun}. How many {noun} are in {b} {boxes}?"


def _binary(kind: str, rng: random.Random, a: int, op: str, b: int) -> Task:
    """A bare ``a op b`` problem in one of the phrasings."""
    text = rng.choice(PHRASINGS).format(e=f"{a}{op}{b}", w=f"{a} {WORDS[op]} {b}")
    return Task(kind=kind, text=text, start=a, ops=((op, b),))


def _unit(rng: random.Random) -> Task:
    """Add or subtract 0, or multiply by 1: the answer is in the problem (trivial once the model can copy)."""
    op, b = rng.choice((("+", 0), ("-", 0), ("*", 1)))
    return _binary("unit", rng, rng.randint(0, 99), op, b)


def _add1(rng: random.Random) -> Task:
    """Add or subtract two digits (easy: a table of 155 facts)."""
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    op = rng.choice("+-") if a >= b else "+"
    return _binary("add1", rng, a, op, b)


def _mul1(rng: random.Random) -> Task:
    """The times table from 2 to 10."""
    return _binary("mul1", rng, rng.randint(2, 10), "*", rng.randint(2, 10))


def _word(rng: random.Random) -> Task:
    """A two-step story (has, gets, gives away) or a one-step grouping story (boxes of equal size)."""
    name, noun = rng.choice(NAMES), rng.choice(NOUNS)
    if rng.random() < 0.5:
        a, b = rng.randint(3, 19), rng.randint(2, 9)
        c = rng.randint(1, a + b - 1)
        text = HAS_GETS_GIVES.format(name=name, a=a, noun=noun, b=b, c=c)
        return Task("word", text, a, (("+", b), ("-", c)), noun)
    a, b, (box, boxes) = rng.randint(2, 9), rng.randint(2, 9), rng.choice(CONTAINERS)
    text = GROUPS.format(box=box, a=a, noun=noun, b=b, boxes=boxes)
    return Task("word", text, a, (("*", b),), noun)


def _add2(rng: random.Random) -> Task:
    """Two-digit addition or subtraction (carries and borrows make some much harder than others)."""
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    if rng.random() < 0.5:
        return _binary("add2", rng, a, "+", b)
    return _binary("add2", rng, max(a, b), "-", min(a, b))


def _mul22(rng: random.Random) -> Task:
    """Two-digit times two-digit: beyond the organism, the source of never-solved problems."""
    return _binary("mul22", rng, rng.randint(11, 99), "*", rng.randint(11, 99))


GENERATORS: dict[str, Generator] = {
    "unit": _unit,
    "add1": _add1,
    "mul1": _mul1,
    "word": _word,
    "add2": _add2,
    "mul22": _mul22,
}
"""Problem types, easiest first; the order is also the round-robin order of :func:`organism_problems`."""
KINDS: tuple[str, ...] = tuple(GENERATORS)


def split_of(text: str) -> Split:
    """The split a problem text belongs to: a pure function of the text, so splits can never overlap."""
    bucket = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % 100
    return "test" if bucket < TEST_PERCENT else "train"


def _check_split(split: str) -> Split:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    return split  # type: ignore[return-value]


def draw_task(kind: str, split: Split, rng: random.Random, max_tries: int = 1000) -> Task:
    """One task of ``kind`` from ``split`` (candidates of the other split are drawn again)."""
    generate = GENERATORS[kind]
    for _ in range(max_tries):
        task = generate(rng)
        if split_of(task.text) == split:
            return task
    raise RuntimeError(f"no {split} problem of type {kind!r} in {max_tries} draws")


def task_stream(split: str, seed: int, kinds: tuple[str, ...] = KINDS) -> Iterator[Task]:
    """An endless, seeded stream of tasks of ``split``, cycling through ``kinds``; repeats are possible (the
    pretraining corpus wants many solutions per problem, not unique problems)."""
    split = _check_split(split)
    rng = random.Random(f"organism-stream:{split}:{seed}")
    while True:
        for kind in kinds:
            yield draw_task(kind, split, rng)


def organism_tasks(split: str = "test", seed: int = 0, n: int | None = None) -> list[Task]:
    """``n`` distinct tasks of ``split``, problem types in round-robin order, deterministic from ``seed``.

    A type whose distinct texts run out (the test split holds about 80 single-digit products) leaves the rotation
    and the others go on, so a large study can ask for 500 or more test problems; the first problems are the same
    whatever ``n`` is (a prefix of a longer list), so 120 problems are the first 120 of 1,000.
    """
    split = _check_split(split)
    n = DEFAULT_SIZES[split] if n is None else n
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"organism:{split}:{seed}")
    seen: set[str] = set()
    tasks: list[Task] = []
    active = list(KINDS)
    turn = 0
    while len(tasks) < n:
        if not active:
            raise ValueError(f"the {split} split ran out of distinct problems at {len(tasks)}; ask for fewer")
        kind = active[turn % len(active)]
        for _ in range(200):
            task = draw_task(kind, split, rng)
            if task.text not in seen:
                break
        else:
            active.remove(kind)  # the next type moves into this turn
            continue
        seen.add(task.text)
        tasks.append(task)
        turn += 1
    return tasks


def to_problem(task: Task, split: Split, index: int) -> Problem:
    """The shared :class:`Problem` record for a task (id ``org-test-00012``, meta with the problem type)."""
    return Problem(
        id=f"org-{split}-{index:05d}",
        prompt=task.text,
        answer=str(task.answer),
        source=SOURCE,
        meta={"type": task.kind, "difficulty": KINDS.index(task.kind), "split": split},
    )


def organism_problems(split: str = "test", seed: int = 0, n: int | None = None) -> list[Problem]:
    """The organism benchmark: ``n`` distinct problems of ``split`` (default :data:`DEFAULT_SIZES`)."""
    split = _check_split(split)
    return [to_problem(task, split, i) for i, task in enumerate(organism_tasks(split, seed, n))]
