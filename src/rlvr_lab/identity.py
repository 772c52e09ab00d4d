"""What a sample file was drawn from, as content hashes: the problems (ids and gold answers) and the model (its files).

Why hashes and not names: a name says nothing about content. Samples of one file graded against another file with
the same ids but other answers, GSM8K train samples graded as GSM8K test, a store resumed after ``rlvr train
--resume`` rewrote the model folder it names: each gave a wrong number with exit code 0. The sample store records
both hashes in its header (:class:`rlvr_lab.store.StoreHeader`), the graded file carries them on, and ``grade``,
``compare``, ``store merge`` and resuming a store refuse a mismatch, naming both sides.

- The problems' hash covers the whole problem set the samples were drawn from (before ``--limit`` and ``--shard``),
  so a store extended to more problems, and the shards of one run, keep one identity.
- The model's hash covers every file of its folder (names and contents, sorted), weights and configuration alike;
  a model that is not a local folder (a hub id) has none, and nothing is compared for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlvr_lab.tasks.problem import Problem

DIGEST_CHARS = 16
"""Hex characters kept of each sha256: 64 bits, far beyond any chance collision among one user's files."""
_CHUNK = 1 << 20


def problems_hash(problems: Iterable[Problem]) -> str:
    """sha256 of the (id, gold answer) pairs in id order: the same set of problems gives the same hash."""
    digest = hashlib.sha256()
    for problem_id, answer in sorted((problem.id, problem.answer) for problem in problems):
        for text in (problem_id, answer):
            data = text.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:DIGEST_CHARS]


def model_hash(model_dir: str | Path) -> str | None:
    """sha256 of every file under a model folder (relative names and contents, in name order); None when the model
    is not a local folder."""
    folder = Path(model_dir)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix().encode("utf-8", "surrogatepass")
        digest.update(len(name).to_bytes(8, "little") + name + path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:DIGEST_CHARS]
