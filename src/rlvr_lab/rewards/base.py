"""The reward contract and registry.

A reward scores a whole *group*: all completions sampled for one problem at one training step. Seeing the group
is what lets group-level signals exist (online majority vote takes the group's most common answer as the label).

Contract (:class:`RewardFn`): called with explicit keyword arguments, no ``**kwargs`` sink, so a misspelled
argument fails loudly::

    reward(problem=Problem, completions=[str, ...], sample_indices=[int, ...], step=int, seed=int)
        -> list[float | None]          # one entry per completion, in order

``sample_indices[i]`` names completion ``i`` within this step (unique per step, also when one problem fills
several groups, as in one-shot RLVR), so a stochastic reward can be a pure function of
``(seed, step, problem.id, sample index)``. ``None`` means "not applicable" (the trainer scores it as 0). Rewards are
picklable objects (callable classes, not closures) so they cross process boundaries (TRL, verl workers).

Registered names map to *factories* ``(arg, grader) -> reward``: ``arg`` is the spec's argument string
(``random:0.5`` → ``"0.5"``, see :mod:`rlvr_lab.rewards.spec`), and ``grader`` an optional shared
:class:`~rlvr_lab.grading.grade.Grader` so that every reward of a run (and the trainer's own accuracy measurement)
uses one worker pool and one verdict cache; a grading reward given none starts its own on first use.

A reward built from labels (offline majority vote, incorrect labels) can only score problems it has a label for:
it exposes ``select(problems) -> problems``, and :func:`select_problems` applies it (the identity for every
other reward).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rlvr_lab.registry import Registry
from rlvr_lab.tasks.problem import Problem

if TYPE_CHECKING:
    from rlvr_lab.grading.grade import Grader


@runtime_checkable
class RewardFn(Protocol):
    """Scores one group of completions of one problem."""

    def __call__(
        self,
        *,
        problem: Problem,
        completions: Sequence[str],
        sample_indices: Sequence[int],
        step: int,
        seed: int,
    ) -> list[float | None]: ...


RewardFactory = Callable[[str | None, "Grader | None"], RewardFn]
"""``(argument string or None, shared grader or None) -> reward``; the argument follows ``name:`` in a spec."""

REWARDS: Registry[RewardFactory] = Registry("reward")


def select_problems(reward: RewardFn, problems: Sequence[Problem]) -> list[Problem]:
    """The problems ``reward`` can score: its ``select`` method if it has one, else all of them."""
    select = getattr(reward, "select", None)
    return list(problems) if select is None else select(problems)


def parse_args(name: str, arg: str | None, positional: Sequence[str]) -> dict[str, str]:
    """Parse a spec argument ``"v1,v2"`` or ``"k1=v1,k2=v2"`` (mixable, positional first) into a dict.

    ``positional`` names the parameters in order; unknown keys and surplus values raise ``ValueError``.
    """
    out: dict[str, str] = {}
    if not arg:
        return out
    keyword_seen = False
    for i, part in enumerate(arg.split(",")):
        key, sep, value = part.partition("=")
        if sep:
            keyword_seen = True
        else:
            if keyword_seen or i >= len(positional):
                raise ValueError(f"reward {name!r}: unexpected positional value {part!r} in {arg!r}")
            key, value = positional[i], part
        if key not in positional:
            raise ValueError(f"reward {name!r}: unknown parameter {key!r}; choose from: {', '.join(positional)}")
        if key in out:
            raise ValueError(f"reward {name!r}: parameter {key!r} given twice in {arg!r}")
        out[key] = value.strip()
    return out


def no_args(name: str, arg: str | None) -> None:
    """Refuse an argument for a reward that takes none."""
    if arg:
        raise ValueError(f"reward {name!r} takes no argument, got {arg!r}")
