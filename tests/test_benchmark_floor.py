"""The FLOP model behind ``benchmarks/demo_floor.py`` and ``benchmarks/roofline.py``: ``Roof.flops`` counts exactly
the matrix products torch runs for a forward, and for a forward + backward, of the trainer's log-probs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from rlvr_lab.models.loading import load_model
from rlvr_lab.rl.logprobs import pack, token_logprobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from roofline import Roof


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
