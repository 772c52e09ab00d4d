"""The update's attention in float32 under bfloat16 autocast (``attention: float32``, :mod:`rlvr_lab.rl.attention`)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.rl.attention import FLOAT32_SDPA, _sdpa_float32, float32_attention
from rlvr_lab.rl.logprobs import pack, token_logprobs


def _model_and_batch() -> tuple[torch.nn.Module, object]:
    model = tiny_llama(40, hidden_size=64, num_layers=2, num_heads=4, seed=3)
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 40, (n,), generator=gen).tolist() for n in (3, 5, 4)]
    completions = [torch.randint(3, 40, (n,), generator=gen).tolist() for n in (6, 2, 7)]
    return model, pack(prompts, completions, pad_id=0)


def test_the_function_is_sdpa_on_float32_inputs_with_autocast_off() -> None:
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 9, 16, generator=gen).to(torch.bfloat16) for _ in range(3))
    module = torch.nn.Module()
    module.is_causal = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = _sdpa_float32(module, q, k, v, None)
    expected = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True).transpose(1, 2)
    assert out.dtype == torch.float32
    assert torch.equal(out, expected)


def test_bfloat16_log_probs_change_and_still_train() -> None:
    """Under bfloat16 autocast the swap reaches the forward (other log-probs than bfloat16 attention's) and the
    gradient reaches every weight."""
    model, batch = _model_and_batch()
    compute, _ = token_logprobs(model, batch, dtype=torch.bfloat16)
    model.set_attn_implementation(float32_attention())
    assert model.config._attn_implementation == FLOAT32_SDPA
    upcast, _ = token_logprobs(model, batch, dtype=torch.bfloat16)
    mask = batch.completion_mask.bool()
    assert not torch.equal(compute[mask], upcast[mask])
    assert (compute[mask] - upcast[mask]).abs().max() < 0.1  # the same model, rounded elsewhere
    (upcast * batch.completion_mask).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


def test_float32_runs_are_unchanged_bit_for_bit() -> None:
    model, batch = _model_and_batch()
    before, _ = token_logprobs(model, batch)
    model.set_attn_implementation(float32_attention())
    after, _ = token_logprobs(model, batch)
    assert torch.equal(before, after)


def test_a_padding_mask_still_masks() -> None:
    """transformers builds no mask for an attention name without a mask function: the registration adds sdpa's, so
    a left-padded row attends only to its tokens (its logits equal the unpadded row's)."""
    model, _ = _model_and_batch()
    model.set_attn_implementation(float32_attention())
    ids = torch.tensor([[0, 0, 5, 6, 7], [4, 5, 6, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    position_ids = (mask.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask, position_ids=position_ids).logits[0, 2:]
        alone = model(input_ids=ids[:1, 2:]).logits[0]
    torch.testing.assert_close(padded, alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("value", ["compute", "float32"])
def test_the_trainer_config_takes_the_setting(value: str) -> None:
    from rlvr_lab.rl.config import TrainConfig

    assert TrainConfig(attention=value).attention == value
    with pytest.raises(ValueError, match="attention must be one of compute, float32"):
        TrainConfig(attention="bfloat16")
