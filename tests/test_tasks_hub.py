"""Hub datasets: read through ``datasets.load_dataset`` from a local folder, and a clear error when offline.

The hub itself is never contacted: the fixture switches ``huggingface_hub`` to offline mode, as ``HF_HUB_OFFLINE=1``
would, so unreachable datasets fail at once instead of after retries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_lab.tasks import FieldMap, ProblemSourceError, load_problems


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The hub switched to offline mode, with a throwaway datasets cache."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    return tmp_path


def test_hub_loader_reads_a_local_datasets_folder(offline_hub: Path) -> None:
    folder = offline_hub / "my-dataset"
    folder.mkdir()
    rows = [
        {"qid": "a", "question": " 1+1? ", "final": "2", "level": 1},
        {"qid": "b", "question": "2+2?", "final": "4"},
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    problems = load_problems(f"hf:{folder}", split="test", fields=FieldMap(id="qid", prompt="question", answer="final"))
    assert [(p.id, p.prompt, p.answer) for p in problems] == [("a", "1+1?", "2"), ("b", "2+2?", "4")]
    assert problems[0].source == f"hf:{folder}"
    assert problems[0].meta == {"level": 1}


def test_unreachable_hub_dataset_fails_with_a_clear_message(offline_hub: Path) -> None:
    with pytest.raises(ProblemSourceError, match=r"hf:someone/absent-dataset \[test\]: could not load"):
        load_problems("hf:someone/absent-dataset")


@pytest.mark.parametrize(
    ("name", "dataset", "folder"), [("aime2025", "math-ai/aime25", "aime2025"), ("amc2023", "math-ai/amc23", "amc2023")]
)
def test_held_out_benchmarks_say_where_to_put_the_file(offline_hub: Path, name: str, dataset: str, folder: str) -> None:
    data_dir = offline_hub / "data"
    data_dir.mkdir()
    with pytest.raises(ProblemSourceError) as info:
        load_problems(name, data_dir=data_dir)
    message = str(info.value)
    assert f"benchmark {name!r} [test]: no local file, and the hub (hf:{dataset}) is out of reach" in message
    assert f"Searched {data_dir / folder / 'test.jsonl'}, " in message
    assert "fields problem, answer (id optional)" in message
