"""Packed batches: log-probs and entropies of right-padded prompt+completion rows equal those of each sequence
computed alone, the plain way; sub-batches drop their padding columns and give the same numbers."""

from __future__ import annotations

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
