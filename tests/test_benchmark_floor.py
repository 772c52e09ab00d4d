"""The FLOP model behind ``benchmarks/demo_floor.py`` and ``benchmarks/roofline.py``: ``Roof.flops`` counts exactly
the matrix products torch runs for a forward, and for a forward + backward, of the trainer's log-probs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from rlvr_lab.models.loading import load_model
from rlvr_lab.rl.logprobs import pack, token_logprobs

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from roofline import Roof  # noqa: E402  (a script of benchmarks/, not a package)


@pytest.mark.parametrize("backward", [False, True])
def test_roof_flops_are_the_products_torch_counts(backward: bool) -> None:
    model, _ = load_model("qwen-math-like-v2")
    gen = torch.Generator().manual_seed(0)
    rows, prompt, completion = 6, 9, 12  # equal lengths: no padding, every token counted once
    prompts = torch.randint(3, 150, (rows, prompt), generator=gen).tolist()
    completions = torch.randint(3, 150, (rows, completion), generator=gen).tolist()
    batch = pack(prompts, completions, pad_id=0)
    with FlopCounterMode(display=False) as counter, torch.set_grad_enabled(backward):
        logprobs, _ = token_logprobs(model, batch)
        if backward:
            logprobs.sum().backward()
    counted = counter.get_flop_counts()["Global"]
    # the body at every token; the head at the kept columns, the last prompt position onward (completion + 1)
    expected = Roof(model, 1).flops(rows * (prompt + completion), rows * (completion + 1), backward=backward)
    assert counted[torch.ops.aten.mm] == expected
    assert set(counted) <= {torch.ops.aten.mm, torch.ops.aten.bmm}  # attention's products are not in the roof


def demo_floor_module():
    """``benchmarks/demo_floor.py`` as a module (a script of that folder, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_floor", BENCHMARKS / "demo_floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_refuses_a_demo_whose_models_differ(tmp_path: Path) -> None:
    """One roof and one tokenizer stand for every model of a demo: profiles of another shape are refused, not timed
    as if they were the first's."""
    demo = {
        "ablation": {"profile": "qwen-math-like-v2"},
        "spurious": {"profiles": ["qwen-math-like-v2", "qwen-math-like"]},
    }
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo))
    with pytest.raises(SystemExit, match="qwen-math-like-v2 and qwen-math-like differ"):
        demo_floor_module().floor(tmp_path, repeats=1)
