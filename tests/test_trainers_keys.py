"""Both trainers (ours and the TRL backend) write one ``metrics.jsonl`` schema: the same evaluation keys, and the
same step keys but for the few TRL cannot measure (named in ``tests/test_trl_backend.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from test_trl_backend import TRL_ABSENT, _tiny_setup


def _keys(run_dir: Path) -> tuple[set[str], set[str]]:
    """(keys of the step-0 evaluation record, keys of the last step's record)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return set(records[0]), set(records[-1])


def test_both_trainers_log_the_same_keys(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    config = _tiny_setup(
        tmp_path,
        prompts_per_step=2,
        group_size=4,
        mini_batch_size=4,
        steps=1,
        eval_every=1,
        eval_temperature=1.0,  # a sampled evaluation: both add the greedy one (eval/greedy_accuracy)
        eval_samples=2,
    )
    keys = {}
    for backend in ("rlvr", "trl"):
        out = tmp_path / backend
        args = ["train", str(config), "--backend", backend, "--out", str(out), "--quiet"]
        result = CliRunner().invoke(build_app(), args)
        assert result.exit_code == 0, result.output
        keys[backend] = _keys(out)
    (ours_eval, ours_step), (trl_eval, trl_step) = keys["rlvr"], keys["trl"]
    assert {"eval/greedy_accuracy", "eval/code_entry_prob", "eval/accuracy"} <= ours_eval
    assert trl_eval == ours_eval
    assert trl_step == ours_step - TRL_ABSENT
