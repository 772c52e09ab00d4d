"""Attention in float32 inside a bfloat16 autocast forward: the trainer's ``attention: float32``.

Under ``torch.autocast(bfloat16)`` torch hands attention bfloat16 queries, keys and values, and on CPU the
bfloat16 flash-attention backward is slow where the float32 one is not: 6x the float32 time at the organisms'
shape (16 rows x 4 heads x 35 tokens x 40), 2.4x at SmolLM2's (``benchmarks/attention_backward.py``). This module
registers a transformers attention function that upcasts its inputs and runs ``sdpa`` with autocast off;
the output projection's autocast casts the float32 output back to bfloat16, as it would have been. The matrix
products stay bfloat16, so a bfloat16 update keeps its speed-up where the CPU has native bfloat16.

It also brings the trainer closer to the samplers, whose attention is float32 in both dtypes (the lean decoder's
``sdpa`` on the cache it keeps, the native step's scores, softmax and sums in float32).
"""

from __future__ import annotations

from typing import Any

import torch

FLOAT32_SDPA = "rlvr_sdpa_float32"
"""The name :func:`float32_attention` registers with transformers' ``AttentionInterface``."""


def _sdpa_float32(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' ``sdpa`` attention on float32 copies of its inputs, autocast off on their device."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    with torch.autocast(query.device.type, enabled=False):
        return sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask, **kwargs)


def float32_attention() -> str:
    """Register the float32 ``sdpa`` and the masks ``sdpa`` takes under :data:`FLOAT32_SDPA` (again on every call:
    the same entries) and return the name, for ``model.set_attn_implementation``.

    The mask function matters: transformers builds no mask at all for an attention name without one, which would
    ignore a padding mask.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(FLOAT32_SDPA, _sdpa_float32)
    AttentionMaskInterface.register(FLOAT32_SDPA, sdpa_mask)
    return FLOAT32_SDPA
