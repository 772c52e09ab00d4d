"""Choosing the next token: greedy, or seeded sampling with temperature, top-k and top-p.

Seeding is counter-based, not a shared random stream. Each completion gets a 64-bit stream id hashed from
``(seed, request key, sample index)``, and the uniform that picks its ``t``-th generated token is
``splitmix64(stream id + (t + 1) * golden gamma)``. Nothing depends on which other completions share the
batch, how many came before, or where a resumed run starts: a completion is a pure function of its triple
(and the model). Splitmix64 is the generator of Steele, Lea and Flood, "Fast splittable pseudorandom number
generators" (OOPSLA 2014); it runs vectorised over the batch in numpy's wrapping ``uint64`` arithmetic.

The uniform is turned into a token by inverse-CDF sampling over the (truncated, tempered) distribution: one
number per token rather than one per vocabulary entry, so the noise costs nothing next to the model.
Candidates are visited in vocabulary order, or in descending probability (stable sort, ties by id) when top-k
or top-p truncates: either way the order depends on the logits alone. Probabilities are float32 (as the
model's logits) and their running sums float64. The running sum is taken in two levels, which is the same
inverse CDF: float64 sums of blocks of :data:`CDF_BLOCK` probabilities locate the block that holds the target
mass, then a float64 running sum inside that block alone locates the token. A float64 running sum over the whole
vocabulary is a sequential scalar loop (10 ms a step for 32 rows of SmolLM2's 49,152 tokens, a third of the
step's matrix products in bfloat16); block sums are vectorised and the in-block sum covers ``CDF_BLOCK`` entries
per row. The two orders of summation differ only in the last float64 bits, so a token is picked differently from
a single running sum only when its uniform falls within about 1e-15 of a boundary. (float32 block sums would save
the float64 copy of the probabilities but move boundaries by about 1e-8 of the mass: measured, 2 picks in 5,120
differ from the exact inverse CDF on a 49,152-token vocabulary, which would break resuming older stores.)

Truncation follows transformers' logits-processor order: temperature, then top-k, then top-p, where top-p keeps
the smallest descending-probability prefix whose mass reaches ``top_p`` (always at least one token).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
CDF_BLOCK = 256
"""Probabilities per block of the two-level inverse CDF (see the module docstring)."""
TOP_P_CANDIDATES = 4 * CDF_BLOCK
"""Highest scores per row that top-p sampling reads before it sorts a whole row (see :func:`_top_p_tokens`); a
multiple of :data:`CDF_BLOCK`, so the inverse CDF over them sums the same blocks as over the sorted vocabulary."""


def stream_id(seed: int, key: str, sample_index: int) -> int:
    """The 64-bit stream id of one completion: a hash of ``(seed, key, sample_index)``.

    blake2b rather than Python's ``hash``, which is salted per process and would break resumption.
    """
    text = f"{seed}\x1f{key}\x1f{sample_index}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def step_uniforms(stream_ids: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1) for generated-token index ``steps[i]`` of completion ``stream_ids[i]``.

    ``stream_ids``: ``(B,)`` uint64; ``steps``: ``(B,)`` non-negative ints; returns ``(B,)`` float64 with 53
    random bits, never exactly 0 or 1.
    """
    with np.errstate(over="ignore"):
        z = stream_ids.astype(np.uint64) + (steps.astype(np.uint64) + np.uint64(1)) * _GOLDEN_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def choose_tokens(
    logits: torch.Tensor, uniforms: torch.Tensor, temperature: float, top_k: int, top_p: float
) -> torch.Tensor:
    """Pick one token per row.

    ``logits``: ``(B, V)`` raw next-token logits; ``uniforms``: ``(B,)`` float64 in (0, 1) (ignored when
    ``temperature == 0``, which is greedy: the first maximal logit, as ``torch.argmax`` and ``generate``).
    Returns ``(B,)`` int64 token ids.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits.float()
    if temperature != 1:  # x / 1.0 == x: skip a pass over the vocabulary
        scores = scores / temperature
    if top_p < 1 and not 0 < top_k < scores.shape[-1]:
        return _top_p_tokens(scores, uniforms, top_p)
    order: torch.Tensor | None = None
    if 0 < top_k < scores.shape[-1]:
        scores, order = scores.topk(top_k, dim=-1)  # sorted, descending
    probs = torch.softmax(scores, dim=-1)
    if top_p < 1:
        probs = _nucleus(probs, top_p)
    picked = inverse_cdf(probs, uniforms)
    return picked if order is None else order.gather(-1, picked.unsqueeze(-1)).squeeze(-1)


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """``probs`` (sorted descending) with every token after the smallest prefix whose mass reaches ``top_p`` zeroed:
    a token is kept when the mass before it is below ``top_p``."""
    mass_before = probs.cumsum(dim=-1, dtype=torch.float64) - probs
    return probs.masked_fill(mass_before >= top_p, 0.0)


def _top_p_tokens(scores: torch.Tensor, uniforms: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p sampling from tempered ``scores`` ``(B, V)`` without sorting the vocabulary where it can be helped.

    The definition sorts every row (descending, ties by id) and keeps a prefix. Sorting 49,152 logits per row was
    over 40% of a SmolLM2 decoding step at top-p 0.95 (70 ms of 165 for 32 rows), while the kept prefix is
    usually a few dozen tokens. So each row's :data:`TOP_P_CANDIDATES` highest scores are taken (``topk``), put in
    the definition's order (descending, ties by id), and the prefix is read from them; it is the definition's
    prefix whenever it ends on a score strictly above the lowest candidate's, since every token left out scores at
    most that. Rows where it does not (a flat distribution) are sorted in full and drawn exactly as the definition
    draws them. Elsewhere the tokens and their order are the definition's; the probabilities are ``softmax`` over
    the row in vocabulary order rather than in sorted order. torch's float32 sum of a 49,152-token row differs
    between the two orders by up to about 5e-6 of the total, which flips a pick only when its uniform lies that
    close to a boundary, as float rounding in the model can: measured against the sorting version, 0 of 17,088
    SmolLM2 next-token rows and 1 of 15,360 synthetic bfloat16 rows picked differently (temperature 0.6 and 1,
    top-p 0.5 to 0.99; ``tests/test_engines_sampling.py``).
    """
    rows, vocab = scores.shape
    picked = torch.empty(rows, dtype=torch.long, device=scores.device)
    todo = torch.ones(rows, dtype=torch.bool, device=scores.device)
    if vocab > TOP_P_CANDIDATES:
        top, ids = scores.topk(TOP_P_CANDIDATES, dim=-1)  # descending; ties in no set order
        by_id, perm = ids.sort(dim=-1)
        top, order = top.gather(-1, perm).sort(dim=-1, descending=True, stable=True)  # descending, ties by id
        ids = by_id.gather(-1, order)
        probs = _nucleus(torch.softmax(scores, dim=-1).gather(-1, ids), top_p)
        last = ((probs > 0).sum(dim=-1, keepdim=True) - 1).clamp(max=TOP_P_CANDIDATES - 1)
        complete = top.gather(-1, last).squeeze(-1) > top[:, -1]
        if bool(complete.any()):
            local = inverse_cdf(probs[complete], uniforms[complete])
            picked[complete] = ids[complete].gather(-1, local.unsqueeze(-1)).squeeze(-1)
        todo = ~complete
    if bool(todo.any()):
        rest, order = scores[todo].sort(dim=-1, descending=True, stable=True)
        local = inverse_cdf(_nucleus(torch.softmax(rest, dim=-1), top_p), uniforms[todo])
        picked[todo] = order.gather(-1, local.unsqueeze(-1)).squeeze(-1)
    return picked


def inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Per row, the first index whose float64 running sum of ``probs`` exceeds ``uniform × total``.

    ``probs``: ``(B, V)`` non-negative float32, not necessarily normalised, each row with some mass;
    ``uniforms``: ``(B,)`` in (0, 1). Two levels (see the module docstring): block sums, then a running sum inside
    the chosen block. An index of zero probability is never returned: the target is kept strictly below the
    total, and where the block's own running sum rounds below the target, the block's last token of non-zero
    probability is taken.
    """
    rows, vocab = probs.shape
    pad = (-vocab) % CDF_BLOCK
    blocks = (torch.nn.functional.pad(probs, (0, pad)) if pad else probs).view(rows, -1, CDF_BLOCK)
    block_cdf = blocks.sum(dim=-1, dtype=torch.float64).cumsum(dim=-1)  # (B, blocks)
    total = block_cdf[:, -1:]
    targets = uniforms.to(probs.device, torch.float64).unsqueeze(-1) * total
    targets = torch.minimum(targets, torch.nextafter(total, torch.zeros_like(total)))  # u * total may round up
    block = torch.searchsorted(block_cdf, targets, right=True)  # (B, 1): block_cdf[block - 1] <= target
    before = torch.where(block > 0, block_cdf.gather(1, (block - 1).clamp(min=0)), 0.0)
    inside = blocks.gather(1, block.unsqueeze(-1).expand(-1, -1, CDF_BLOCK)).squeeze(1)  # (B, CDF_BLOCK)
    local = torch.searchsorted(inside.cumsum(dim=-1, dtype=torch.float64), targets - before, right=True)
    span = torch.arange(CDF_BLOCK, device=probs.device)
    last_nonzero = torch.where(inside > 0, span, -1).amax(dim=-1, keepdim=True)
    local = torch.minimum(local, last_nonzero)
    return (block * CDF_BLOCK + local).squeeze(-1)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of ``tokens`` ``(B,)`` under the raw distribution ``softmax(logits)`` ``(B, V)``, float32.

    Temperature 1 and no truncation whatever the sampling settings: the quantity RL ratios need.
    """
    logits = logits.float()
    return logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
