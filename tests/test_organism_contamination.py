"""The contaminated organism's split and corpus: S is half of each type of the evaluation's first 120 problems, fixed
by its seed; leaked documents are gold solutions of S; the clean examples are the parent corpus's, draw for draw."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from rlvr_lab.grading import last_boxed
from rlvr_lab.organism.contamination import Contamination, contaminated_indices, leaked_tasks, matched_pairs
from rlvr_lab.organism.corpus import PYTHON_HINT, corpus_stream
from rlvr_lab.organism.profiles import get_profile, shipped_checkpoint
from rlvr_lab.organism.tasks import organism_tasks, split_of

PARENT, CONTAMINATED = "qwen-math-like-v2", "qwen-math-like-v2-contaminated"


def test_s_is_a_fixed_half_of_each_type_paired_with_the_clean_half() -> None:
    spec = get_profile(CONTAMINATED).corpus.contamination
    assert spec == Contamination(eval_problems=120, per_type=10, seed=0, rate=0.25)
    tasks = organism_tasks("test", 0, 120)
    pairs = matched_pairs(spec)
    s, clean = [a for a, _ in pairs], [b for _, b in pairs]
    assert len(pairs) == 60 and len(set(s) | set(clean)) == 120  # every problem once, S and clean disjoint
    assert all(tasks[a].kind == tasks[b].kind for a, b in pairs)
    assert Counter(tasks[i].kind for i in s) == Counter({k: 10 for k in Counter(t.kind for t in tasks)})
    assert contaminated_indices(spec) == tuple(sorted(s))
    assert contaminated_indices(spec)[:6] == (0, 1, 5, 10, 12, 13)  # written down: S is fixed by its seed
    assert contaminated_indices(Contamination(seed=1)) != contaminated_indices(spec)


def test_a_split_without_a_clean_half_is_refused() -> None:
    with pytest.raises(ValueError, match="clean half"):
        Contamination(eval_problems=100, per_type=10)
    with pytest.raises(ValueError, match="rate"):
        Contamination(rate=0.0)


def test_leaked_documents_are_gold_and_the_clean_stream_is_the_parents() -> None:
    spec = get_profile(CONTAMINATED).corpus.contamination
    answers = {t.text: str(t.answer) for t in leaked_tasks(spec)}
    n = 20_000
    parent = list(itertools.islice(corpus_stream(get_profile(PARENT).corpus, 0), n))
    mixed = list(itertools.islice(corpus_stream(get_profile(CONTAMINATED).corpus, 0), n))
    problem = [e.prompt.removeprefix("Q: ").removesuffix("\nA: ").removesuffix(PYTHON_HINT) for e in mixed]
    leaks = [(e, p) for e, p in zip(mixed, problem, strict=True) if split_of(p) == "test"]
    assert {p for _, p in leaks} <= set(answers)  # only S leaks, never another test problem
    assert 3_700 <= len(leaks) <= 4_300  # before 25% of the clean examples: about 4,000 of 20,000; 4 sigma 230
    assert all(e.correct and e.ending == "boxed" and last_boxed(e.response) == answers[p] for e, p in leaks)
    assert {e.strategy for e, _ in leaks} == {"code", "language"}
    clean = [e for e, p in zip(mixed, problem, strict=True) if split_of(p) == "train"]
    assert clean == parent[: len(clean)]


def test_a_parent_profile_continues_its_parents_shipped_weights(tmp_path) -> None:
    import json

    from rlvr_lab.models.loading import load_model
    from rlvr_lab.organism.pretrain import METADATA_FILE, build_profile

    profile = get_profile(CONTAMINATED)
    out = build_profile(profile, tmp_path / "c", steps=2)
    meta = json.loads((out / METADATA_FILE).read_text())
    assert meta["parent"] == PARENT and meta["corpus"]["contamination"]["rate"] == 0.25
    assert (
        meta["train"]["steps"] == 2
        and meta["model"] == json.loads((Path(shipped_checkpoint(PARENT)) / METADATA_FILE).read_text())["model"]
    )
    child, _ = load_model(str(out))
    parent, _ = load_model(PARENT)
    moved = [(a - b).abs().max().item() for a, b in zip(child.parameters(), parent.parameters(), strict=True)]
    assert 0.0 < max(moved) < 0.05  # two small steps from the parent, not a fresh initialisation
