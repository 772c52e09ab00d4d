"""The README shows what the code produced: the demo's tables verbatim, and the shipped organisms' calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_lab.organism.profiles import shipped_checkpoint

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_carries_the_demo_table_verbatim_and_its_plot() -> None:
    start, end = "<!-- demo-table:start -->\n", "<!-- demo-table:end -->"
    shown = README[README.index(start) + len(start) : README.index(end)]
    assert shown == (ROOT / "docs" / "demo" / "README_table.md").read_text(encoding="utf-8").rstrip() + "\n"
    assert "**Spurious rewards: held-out accuracy and code frequency**" in shown
    plot = ROOT / "docs" / "demo" / "passk_base_vs_gt_rl.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({plot.relative_to(ROOT)})" in README


@pytest.mark.parametrize("name", ["qwen-math-like", "olmo-like", "qwen-math-like-v2", "olmo-like-v2", "llama-like-v2"])
def test_readme_calibration_table_is_the_shipped_one(name: str) -> None:
    path = shipped_checkpoint(name)
    assert path is not None
    table = json.loads((path / "calibration.json").read_text())
    section = README[README.index("### Organism calibration") : README.index("## Training")]
    for key in ("code_frequency", "acc_given_code", "acc_given_language", "boxed_rate"):
        assert f"{100 * table[key]:.1f}%" in section, key
    for k in ("1", "8", "64"):
        assert f"{100 * table['pass_at_k'][k]:.1f}%" in section, k
