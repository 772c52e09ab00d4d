"""The docs show what the code produced: the demo's tables verbatim (docs/demo/README.md), and the shipped
organisms' calibration (docs/organism.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_lab.organism.profiles import shipped_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "docs" / "demo" / "README.md").read_text(encoding="utf-8")
ORGANISM = (ROOT / "docs" / "organism.md").read_text(encoding="utf-8")


def test_the_demo_page_carries_the_demo_table_verbatim_and_its_plot() -> None:
    start, end = "<!-- demo-table:start -->\n", "<!-- demo-table:end -->"
    shown = DEMO[DEMO.index(start) + len(start) : DEMO.index(end)]
    assert shown == (ROOT / "docs" / "demo" / "README_table.md").read_text(encoding="utf-8").rstrip() + "\n"
    assert "**Spurious rewards: held-out accuracy and code frequency**" in shown
    plot = ROOT / "docs" / "demo" / "passk_base_vs_gt_rl.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({plot.name})" in DEMO


@pytest.mark.parametrize("name", ["qwen-math-like", "olmo-like", "qwen-math-like-v2", "olmo-like-v2", "llama-like-v2"])
def test_the_calibration_tables_are_the_shipped_ones(name: str) -> None:
    path = shipped_checkpoint(name)
    assert path is not None
    table = json.loads((path / "calibration.json").read_text())
    section = ORGANISM[
        ORGANISM.index("## Calibration of the shipped v1") : ORGANISM.index("## Does the better-learned")
    ]
    for key in ("code_frequency", "acc_given_code", "acc_given_language", "boxed_rate"):
        assert f"{100 * table[key]:.1f}%" in section, key
    for k in ("1", "8", "64"):
        assert f"{100 * table['pass_at_k'][k]:.1f}%" in section, k
