"""Known benchmarks, and :func:`load_problems`, the one entry point from a name or a file to problems.

A benchmark resolves, for a split, to the first local file found in the data directories (``--data-dir`` or
``RLVR_DATA_DIR``, then the user data cache ``~/.cache/rlvr-lab/data``; see :mod:`rlvr_lab.runtime.data`), each laid out
like ``shared/data``, or, when no folder has it, to a hub dataset (which needs network or a populated Hugging Face
cache). With the hub out of reach a missing file fails at once, naming every path searched; ``rlvr data import``
fills the user data cache. Where the answers come from:

============== ============================ ============================================ ==============================
name           local file                   hub dataset [split]                          gold answer
============== ============================ ============================================ ==============================
math500        math500/test.jsonl           HuggingFaceH4/MATH-500 [test]                ``answer``
math           math/{train,test}.jsonl.gz   DigitalLearningGmbH/MATH-lighteval           last ``\\boxed{}`` of
                                            [train, test]                                ``solution``
gsm8k          gsm8k/{train,test}.jsonl     openai/gsm8k, config main [train, test]      ``#### N`` of ``answer``,
                                                                                         commas removed
aime2024       aime2024/test.jsonl          HuggingFaceH4/aime_2024 [train]              ``answer`` as an integer
                                                                                         (``"025"`` -> ``"25"``)
aime2025       aime2025/test.jsonl          math-ai/aime25 [test]                        ``answer`` as an integer
amc2023        amc2023/test.jsonl           math-ai/amc23 [test]                         ``answer`` (``27.0`` -> ``27``)
minerva        minerva_math/test.jsonl      math-ai/minervamath [test]                   ``answer``, else last
                                                                                         ``\\boxed{}`` of ``solution``
olympiadbench  olympiadbench/test.jsonl     Hothan/OlympiadBench, config                 ``final_answer`` items, ``$``
                                            OE_TO_maths_en_COMP [train]                  removed, joined by ``", "``
organism       (generated)                  --                                           the organism's own tasks
humaneval      humaneval/HumanEval.jsonl.gz openai/openai_humaneval [test]               unit tests (see
mbpp           mbpp/sanitized-mbpp.json     google-research-datasets/mbpp, sanitized     :mod:`rlvr_lab.tasks.code`)
============== ============================ ============================================ ==============================

Ids: ``unique_id`` (MATH, MATH-500), ``id`` (AIME, OlympiadBench), ``idx`` (Minerva), else the row index
(GSM8K). The prompt is ``problem`` or ``question``; OlympiadBench's ``context``, when present, goes before it.
Every other field of a row is kept in ``Problem.meta``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from rlvr_lab.registry import Registry
from rlvr_lab.runtime.data import data_dirs, hub_offline
from rlvr_lab.tasks.code import HUMANEVAL, MBPP
from rlvr_lab.tasks.loaders import (
    Converter,
    FieldError,
    FieldMap,
    ProblemSourceError,
    Row,
    answer_text,
    id_field,
    load_file,
    load_hub,
    map_fields,
    text_field,
)
from rlvr_lab.tasks.problem import Problem
from rlvr_lab.tasks.sources import Benchmark, FileBenchmark, HubSource

# ---------------------------------------------------------------------------------------------- row converters


def _first_present(row: Row, names: tuple[str, ...]) -> str:
    """The first of ``names`` that the row has (non-null); raises naming all of them."""
    for name in names:
        if row.get(name) is not None:
            return name
    raise FieldError("|".join(names), "missing")


def boxed_solution(row: Row, name: str = "solution") -> str:
    """The last ``\\boxed{...}`` of a worked solution: MATH and Minerva have no separate answer field."""
    from rlvr_lab.grading.extract import last_boxed

    gold = last_boxed(text_field(row, name))
    if gold is None or not gold.strip():
        raise FieldError(name, "no \\boxed{...} final answer in the solution")
    return gold.strip()


def gsm8k_answer(row: Row) -> str:
    """GSM8K's final answer: the text after the last ``####``, thousands separators removed (``1,000`` -> ``1000``)."""
    _, sep, tail = text_field(row, "answer").rpartition("####")
    if not sep:
        raise FieldError("answer", "no '#### <number>' final line")
    gold = tail.strip().replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", gold):
        raise FieldError("answer", f"expected a number after '####', got {tail.strip()!r}")
    return gold


def integer_answer(row: Row, name: str = "answer") -> str:
    """AIME answers are integers 0-999 written zero-padded (``"025"``); compared as integers, so stored as ``"25"``."""
    text = answer_text(row.get(name), name)
    try:
        return str(int(text))
    except ValueError:
        raise FieldError(name, f"expected an integer answer, got {text!r}") from None


def olympiad_answer(row: Row) -> str:
    """OlympiadBench's ``final_answer`` list: ``$`` delimiters dropped (escaped ``\\$`` kept), items joined by ``", "``.

    Multi-answer rows usually hold one item that lists every answer (``"$69$,$84$"`` -> ``"69,84"``).
    """
    items = row.get("final_answer")
    if not isinstance(items, list) or not items or not all(isinstance(item, str) for item in items):
        raise FieldError("final_answer", f"expected a non-empty list of strings, got {items!r}")
    cleaned = [re.sub(r"(?<!\\)\$", "", item).strip() for item in items]
    if not all(cleaned):
        raise FieldError("final_answer", f"empty answer in {items!r}")
    return ", ".join(cleaned)


MATH_BLANK_ANSWERS = frozenset({"train/number_theory/7115.json", "train/number_theory/7117.json"})
"""The two MATH train problems whose solution ends in an empty ``\\boxed{}`` in the original release: no gold
answer exists, so ``math [train]`` leaves them out (7,498 problems). Any other unboxed solution still raises."""


def math_style(
    row: Row, index: int, *, source: str, integer: bool = False, skip_ids: frozenset[str] = frozenset()
) -> Problem | None:
    """MATH-like rows: ``problem``/``question``; ``answer`` or else the solution's last box; integer answers
    normalised when ``integer`` (AIME); rows whose id is in ``skip_ids`` (known defects) dropped."""
    id_name = next((n for n in ("unique_id", "id", "idx") if row.get(n) is not None), "id")
    if row.get(id_name) in skip_ids:
        return None
    prompt_name = _first_present(row, ("problem", "question"))
    if integer:
        gold = integer_answer(row)
    elif row.get("answer") is not None:
        gold = answer_text(row["answer"], "answer")
    else:
        gold = boxed_solution(row)
    used = {id_name, prompt_name, "answer"}
    return Problem(
        id=id_field(row, id_name, index),
        prompt=text_field(row, prompt_name),
        answer=gold,
        source=source,
        meta={k: v for k, v in row.items() if k not in used},
    )


def gsm8k_row(row: Row, index: int, *, source: str) -> Problem:
    """GSM8K: ``question``; the worked ``answer`` is kept in ``meta["solution"]``."""
    meta = {k: v for k, v in row.items() if k not in ("question", "answer")}
    meta["solution"] = row.get("answer")
    return Problem(
        id=str(index), prompt=text_field(row, "question"), answer=gsm8k_answer(row), source=source, meta=meta
    )


def olympiad_row(row: Row, index: int, *, source: str) -> Problem:
    """OlympiadBench: ``context`` (when not null) then ``question``."""
    question = text_field(row, "question")
    context = row.get("context")
    prompt = f"{context.strip()}\n\n{question}" if isinstance(context, str) and context.strip() else question
    return Problem(
        id=id_field(row, "id", index),
        prompt=prompt,
        answer=olympiad_answer(row),
        source=source,
        meta={k: v for k, v in row.items() if k not in ("id", "question", "context")},
    )


# ---------------------------------------------------------------------------------------------- benchmarks


BENCHMARKS: Registry[Benchmark] = Registry("benchmark")


def _file_benchmark(
    name: str, description: str, files: Mapping[str, str], hub: HubSource, convert: Converter = math_style, **kw: Any
) -> FileBenchmark:
    return FileBenchmark(name, description, files, partial(convert, source=name, **kw), hub)


for _benchmark in (
    _file_benchmark(
        "math500",
        "MATH-500, the 500-problem MATH test subset of PRM800K",
        {"test": "math500/test.jsonl"},
        HubSource("HuggingFaceH4/MATH-500"),
    ),
    _file_benchmark(
        "math",
        "MATH (Hendrycks et al.), 7,498 train (2 without an answer left out) / 5,000 test problems",
        {"train": "math/train.jsonl.gz", "test": "math/test.jsonl.gz"},
        HubSource("DigitalLearningGmbH/MATH-lighteval"),
        skip_ids=MATH_BLANK_ANSWERS,
    ),
    _file_benchmark(
        "gsm8k",
        "GSM8K grade-school word problems, 7,473 train / 1,319 test",
        {"train": "gsm8k/train.jsonl", "test": "gsm8k/test.jsonl"},
        HubSource("openai/gsm8k", "main"),
        gsm8k_row,
    ),
    _file_benchmark(
        "aime2024",
        "AIME 2024 I and II, 30 problems, integer answers",
        {"test": "aime2024/test.jsonl"},
        HubSource("HuggingFaceH4/aime_2024", splits={"test": "train"}),
        integer=True,
    ),
    _file_benchmark(
        "aime2025",
        "AIME 2025 I and II, 30 problems, integer answers (held out: hub or your own file)",
        {"test": "aime2025/test.jsonl"},
        HubSource("math-ai/aime25"),
        integer=True,
    ),
    _file_benchmark(
        "amc2023",
        "AMC 2023, 40 problems (held out: hub or your own file)",
        {"test": "amc2023/test.jsonl"},
        HubSource("math-ai/amc23"),
    ),
    _file_benchmark(
        "minerva",
        "Minerva MATH (OCWCourses), 272 undergraduate STEM problems",
        {"test": "minerva_math/test.jsonl"},
        HubSource("math-ai/minervamath"),
    ),
    _file_benchmark(
        "olympiadbench",
        "OlympiadBench OE_TO_maths_en_COMP, 675 competition problems",
        {"test": "olympiadbench/test.jsonl"},
        HubSource("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", {"test": "train"}),
        olympiad_row,
    ),
    HUMANEVAL,
    MBPP,
):
    BENCHMARKS.add(_benchmark.name, _benchmark)


# ---------------------------------------------------------------------------------------------- entry point


def load_problems(
    spec: str,
    *,
    data_dir: Path | None = None,
    split: str | None = None,
    fields: FieldMap | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Problems from a benchmark name, a local file, or ``hf:owner/name[:config]``.

    ``split`` (default ``test``) applies to benchmarks and hub datasets; ``fields`` maps the columns of files and
    hub datasets (benchmarks know their own); ``limit`` keeps the first problems in file order.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if spec in BENCHMARKS:
        if fields is not None:
            raise ValueError(f"benchmark {spec!r} has its own field mapping; field mappings apply to files")
        benchmark = BENCHMARKS.get(spec)
        # A benchmark generated in code (the organism) reads no folder, so a missing data folder is not its error.
        folders = data_dirs(data_dir) if getattr(benchmark, "reads_files", True) else []
        return benchmark.load(split or "test", folders, limit)
    convert = partial(map_fields, fields=fields or FieldMap(), source=spec)
    if spec.startswith("hf:"):
        dataset, _, config = spec.removeprefix("hf:").partition(":")
        hub_offline()  # offline, the datasets library then reads its cache instead of retrying the hub
        return load_hub(dataset, split or "test", convert, config=config or None, limit=limit)
    path = Path(spec).expanduser()
    if not path.exists():
        raise ProblemSourceError(
            f"{spec!r} is neither a benchmark ({', '.join(BENCHMARKS.names())}) nor an existing file; "
            "write hub datasets as hf:owner/name[:config]"
        )
    if split is not None:
        raise ValueError(f"{spec} is a file: a split applies only to benchmarks and hub datasets")
    return load_file(path, convert, limit=limit)
