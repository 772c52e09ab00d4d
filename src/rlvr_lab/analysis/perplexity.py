"""Perplexity of one model's responses under another, from teacher-forced log-probs.

If RL only re-weights what the base model already says, the base model finds the RL model's answers unsurprising:
their perplexity under the base stays close to the base's perplexity on its own answers. Yue et al., 2025, "Does
Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?" use this measure.

For responses r_1..r_N (token ids, each after its prompt) scored by model M,

    PPL_M = exp( - sum_i sum_t log p_M(r_i,t | prompt_i, r_i,<t) / sum_i |r_i| ),

pooled over tokens (a corpus perplexity: long responses weigh in proportion to their length). Prompt tokens are
context only and never scored. Teacher forcing is one forward pass per batch under ``torch.inference_mode``;
sequences are right-padded (so real tokens keep positions 0..L-1) with an attention mask, and sorted by length
first so a batch holds sequences of similar length. All models of a matrix must share one tokenizer: the
responses are token ids. torch is imported inside the scoring function, so reading and plotting a saved
:class:`PerplexityMatrix` (the report) does not load it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from transformers import PreTrainedModel

TokenIds = Sequence[int]


@dataclass(frozen=True)
class ScoredResponses:
    """Responses of one model: ``prompts[i]`` is the context of ``responses[i]``, both token ids."""

    prompts: Sequence[TokenIds]
    responses: Sequence[TokenIds]


@dataclass(frozen=True)
class PerplexityMatrix:
    """``values[i, j]``: perplexity of the responses of ``sources[i]`` under the model ``scorers[j]``."""

    sources: tuple[str, ...]
    scorers: tuple[str, ...]
    values: NDArray[np.float64]

    def as_dict(self) -> dict[str, Any]:
        return {
            "responses_of": list(self.sources),
            "scored_by": list(self.scorers),
            "perplexity": self.values.tolist(),
        }


def response_logprobs(
    model: PreTrainedModel,
    prompts: Sequence[TokenIds],
    responses: Sequence[TokenIds],
    batch_size: int = 16,
    pad_token_id: int = 0,
) -> list[NDArray[np.float64]]:
    """Per-token log-probs of each response given its prompt: one ``(len(response),)`` array per response.

    Raises ``ValueError`` for an empty prompt (the first response token would have no context) or a sequence
    longer than the model's context.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    limit = getattr(model.config, "max_position_embeddings", None)
    for i, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        if not prompt:
            raise ValueError(f"response {i}: empty prompt, the first response token has no context")
        if limit is not None and len(prompt) + len(response) > limit:
            raise ValueError(f"response {i}: {len(prompt) + len(response)} tokens exceed the context of {limit}")
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(responses[i]))
    out: list[NDArray[np.float64]] = [np.zeros(0)] * len(prompts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            scored = _score_batch(model, [prompts[i] for i in batch], [responses[i] for i in batch], pad_token_id)
            for i, lp in zip(batch, scored, strict=True):
                out[i] = lp
    return out


def _score_batch(
    model: PreTrainedModel, prompts: Sequence[TokenIds], responses: Sequence[TokenIds], pad_token_id: int
) -> list[NDArray[np.float64]]:
    """Teacher-force one right-padded batch; return each response's token log-probs."""
    import torch

    device = next(model.parameters()).device
    seqs = [list(p) + list(r) for p, r in zip(prompts, responses, strict=True)]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    ids, mask = ids.to(device), mask.to(device)
    logits = model(input_ids=ids, attention_mask=mask).logits  # (B, T, V)
    # Position t predicts token t + 1: log p(ids[:, 1:]) from logits[:, :-1]; padded positions are never read.
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    token_logp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).double().cpu().numpy()  # (B, T - 1)
    # The first response token is predicted at position len(prompt) - 1.
    return [
        token_logp[row, len(p) - 1 : len(p) - 1 + len(r)]
        for row, (p, r) in enumerate(zip(prompts, responses, strict=True))
    ]


def perplexity(logprobs: Sequence[NDArray[np.float64]]) -> float:
    """Token-pooled perplexity ``exp(-sum log p / tokens)``; ``ValueError`` when there are no tokens."""
    tokens = sum(len(lp) for lp in logprobs)
    if tokens == 0:
        raise ValueError("no response tokens: perplexity is undefined")
    return float(np.exp(-sum(float(np.sum(lp)) for lp in logprobs) / tokens))


def perplexity_matrix(
    models: Mapping[str, PreTrainedModel],
    responses: Mapping[str, ScoredResponses],
    batch_size: int = 16,
    pad_token_id: int = 0,
) -> PerplexityMatrix:
    """Perplexity of every response set (rows, keys of ``responses``) under every model (columns)."""
    sources, scorers = tuple(responses), tuple(models)
    values = np.empty((len(sources), len(scorers)), dtype=np.float64)
    for j, scorer in enumerate(scorers):
        for i, source in enumerate(sources):
            data = responses[source]
            lps = response_logprobs(models[scorer], data.prompts, data.responses, batch_size, pad_token_id)
            values[i, j] = perplexity(lps)
    return PerplexityMatrix(sources, scorers, values)
