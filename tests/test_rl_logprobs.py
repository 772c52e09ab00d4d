"""Packed batches: log-probs and entropies of right-padded prompt+completion rows equal those of each sequence
computed alone, the plain way; sub-batches drop their padding columns and give the same numbers."""

from __future__ import annotations

import pytest
import torch

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.rl.logprobs import pack, token_logprobs


def _alone(model, prompt: list[int], completion: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropies of one unpadded sequence: full logits, log-softmax."""
    ids = torch.tensor([prompt + completion])
    logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]  # (C, V)
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(-1, torch.tensor(completion).unsqueeze(-1)).squeeze(-1)
    return picked, -(logp.exp() * logp).sum(-1)


def test_packed_logprobs_match_unpadded_sequences() -> None:
    model = tiny_llama(40, hidden_size=32, num_layers=2, num_heads=2, seed=1)
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 40, (n,), generator=gen).tolist() for n in (1, 6, 3)]
    completions = [torch.randint(3, 40, (n,), generator=gen).tolist() for n in (5, 1, 3)]
    batch = pack(prompts, completions, pad_id=0)
    assert batch.input_ids.shape == (3, 7)  # the longest row (6 + 1), not max prompt + max completion (6 + 5)
    assert batch.completion_mask.tolist() == [[1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 1, 0, 0]]
    assert batch.positions[:, 0].tolist() == [0, 5, 2]
    with torch.no_grad():
        logprobs, entropy = token_logprobs(model, batch, with_entropy=True)
        for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
            ref_lp, ref_h = _alone(model, p, c)
            torch.testing.assert_close(logprobs[i, : len(c)], ref_lp, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(entropy[i, : len(c)], ref_h, atol=1e-5, rtol=1e-5)
        part = batch.rows(torch.tensor([2, 1]))
        assert part.input_ids.shape == (2, 7) and part.completion_ids.shape == (2, 3)
        sub, _ = token_logprobs(model, part)
        mask = part.completion_mask
        torch.testing.assert_close(sub * mask, logprobs[[2, 1], :3] * mask, atol=1e-5, rtol=1e-5)
        assert batch.rows(torch.tensor([2])).input_ids.shape == (1, 6)


def _unchunked(model, batch, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs and entropies by plain autograd over the float32 copy of every needed logit row (the reference)."""
    T = batch.input_ids.shape[1]
    first = int(batch.prompt_lengths.min()) - 1
    with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        logits = model(input_ids=batch.input_ids, logits_to_keep=T - first).logits
    B, kept, _ = logits.shape
    columns = (batch.positions - first).clamp(max=kept - 2)
    logits = logits[torch.arange(B).unsqueeze(1), columns].float()  # (B, C, V)
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, batch.completion_ids.unsqueeze(-1)).squeeze(-1)
    with torch.no_grad():
        entropy = lse - (torch.softmax(logits, dim=-1) * logits).sum(dim=-1)
    return picked - lse, entropy


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_chunked_vocabulary_pass_is_bit_identical_to_autograd(dtype: torch.dtype, monkeypatch) -> None:
    """The log-softmax computed a few rows at a time (its own backward) gives the same log-probs, entropies and
    weight gradients, to the bit, as autograd over one float32 copy of all the logits."""
    import rlvr_lab.rl.logprobs as logprobs_module

    monkeypatch.setattr(logprobs_module, "VOCAB_CHUNK_BYTES", 3 * 4 * 300)  # 3 rows a chunk: many chunks, a short last
    model = tiny_llama(300, hidden_size=32, num_layers=2, num_heads=2, seed=3)
    gen = torch.Generator().manual_seed(4)
    prompts = [torch.randint(3, 300, (n,), generator=gen).tolist() for n in (2, 5, 3, 4)]
    completions = [torch.randint(3, 300, (n,), generator=gen).tolist() for n in (6, 2, 4, 5)]
    batch = pack(prompts, completions, pad_id=0)
    weights = torch.randn(batch.completion_mask.shape, generator=gen) * batch.completion_mask
    results = []
    for compute in (lambda: _unchunked(model, batch, dtype), lambda: token_logprobs(model, batch, True, dtype, False)):
        model.zero_grad(set_to_none=True)
        logprobs, entropy = compute()
        (logprobs * weights).sum().backward()
        results.append((logprobs.detach(), entropy, [p.grad.clone() for p in model.parameters()]))
    (ref_lp, ref_h, ref_g), (lp, h, g) = results
    assert torch.equal(lp, ref_lp) and torch.equal(h, ref_h)
    assert all(torch.equal(a, b) for a, b in zip(g, ref_g, strict=True))
    assert any(bool(a.abs().sum() > 0) for a in g)  # the gradient did reach the weights


def test_runs_under_vmap_over_stacked_weights() -> None:
    """Under ``torch.func.vmap`` (rl/multiseed.py stacks seeds' weights) the log-probs and the logged entropy come
    from plain autograd ops, which vmap can batch: the chunked function cannot run there."""
    from torch.func import functional_call, stack_module_state, vmap

    model = tiny_llama(50, hidden_size=32, num_layers=1, num_heads=2, seed=5)
    batch = pack([[3, 4, 5], [6, 7]], [[8, 9], [10, 11, 12]], pad_id=0)
    params, buffers = stack_module_state([model, model])

    def one(p, b):
        return token_logprobs(lambda **kw: functional_call(model, (p, b), (), kw), batch, True, entropy_grad=False)

    with torch.no_grad():
        stacked_lp, stacked_h = vmap(one)(params, buffers)
        alone_lp, alone_h = token_logprobs(model, batch, with_entropy=True, entropy_grad=False)
    assert stacked_lp.shape == (2, *alone_lp.shape)
    torch.testing.assert_close(stacked_lp, torch.stack([alone_lp, alone_lp]), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(stacked_h, torch.stack([alone_h, alone_h]), atol=1e-6, rtol=1e-6)
