"""``hf``: sampling through transformers ``generate``, the reference backend.

Prompts are grouped into batches of ``batch_size`` completions, left-padded, and generated together; a batch
runs until its longest completion ends (static batching). Design choices:

- Log-probs come from a teacher-forced forward pass over each finished batch rather than ``output_logits``:
  keeping ``(batch, new tokens, vocab)`` logits from every step needs gigabytes for real vocabularies, while
  the pass computes the same raw (temperature 1, untruncated) distribution a few rows at a time.
- Seeding: each batch runs under ``torch.random.fork_rng`` seeded with a hash of ``config.seed`` and the
  batch's (key, sample index) list, so a call is reproducible and leaves the global RNG untouched. The stream
  differs from the ``torch`` engine's, and a completion depends on its batch neighbours (``generate`` draws
  from one generator for the whole batch); use ``torch`` when batch invariance matters.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlvr_lab.engines.base import ENGINES, Completion, ProgressFn, SampleRequest, SamplingConfig
from rlvr_lab.engines.common import (
    WorkItem,
    check_fits,
    collect,
    context_length,
    default_eos_ids,
    empty_results,
    finish,
    work_items,
)
from rlvr_lab.engines.sampling import stream_id

_LOGIT_BUDGET = 1 << 26
"""Most logits (floats) the teacher-forced pass materialises at once: 256 MiB in float32."""


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, mask)``, both ``(B, longest)``, prompts aligned on the right as ``generate`` expects."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, prompt in enumerate(prompts):
        ids[i, width - len(prompt) :] = torch.tensor(list(prompt), device=device)
        mask[i, width - len(prompt) :] = 1
    return ids, mask


def teacher_forced_logprobs(
    model: PreTrainedModel, sequences: torch.Tensor, mask: torch.Tensor, new_tokens: int
) -> torch.Tensor:
    """Raw log-probs of the last ``new_tokens`` tokens of each row of ``sequences`` ``(B, T)``.

    ``mask`` ``(B, T)`` marks real tokens (left padding is 0); positions restart at 0 on each row's first real
    token, as in ``generate``. Returns ``(B, new_tokens)`` float32.
    """
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep_arg = "logits_to_keep" in inspect.signature(model.forward).parameters
    vocab = model.config.get_text_config().vocab_size
    step = max(1, _LOGIT_BUDGET // ((new_tokens + 1) * vocab))
    out = []
    for start in range(0, sequences.shape[0], step):
        rows = slice(start, start + step)
        extra = {"logits_to_keep": new_tokens + 1} if keep_arg else {}
        logits = model(input_ids=sequences[rows], attention_mask=mask[rows], position_ids=positions[rows], **extra)
        logits = logits.logits[:, -new_tokens - 1 : -1].float()  # position t predicts token t + 1
        targets = sequences[rows, -new_tokens:]
        out.append(logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1))
    return torch.cat(out)


@ENGINES.register("hf")
class HFEngine:
    """``model.generate`` in batches of ``batch_size`` completions.

    ``eos_token_ids``: as for the ``torch`` engine (``None`` = the model's and tokenizer's eos, ``()`` = none).
    """

    name = "hf"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        eos_token_ids: Sequence[int] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.eos_token_ids = tuple(eos_token_ids) if eos_token_ids is not None else default_eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else model.config.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0

    def sample(
        self,
        requests: Sequence[SampleRequest],
        config: SamplingConfig,
        progress: ProgressFn | None = None,
    ) -> list[list[Completion]]:
        """One completion per (request, sample index); see :class:`rlvr_lab.engines.base.Engine`."""
        check_fits(requests, config.max_new_tokens, context_length(self.model))
        results = empty_results(requests)
        items = work_items(requests)
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                for item, completion in zip(batch, self._batch(requests, batch, config), strict=True):
                    results[item.request][item.slot] = completion
                if progress is not None:
                    progress(len(batch))
        finally:
            self.model.train(was_training)
        return collect(results)

    def _batch(
        self, requests: Sequence[SampleRequest], batch: list[WorkItem], config: SamplingConfig
    ) -> list[Completion]:
        stop_ids = frozenset(self.eos_token_ids) | frozenset(config.stop_token_ids)
        ids, mask = left_pad([requests[i.request].prompt_ids for i in batch], self.pad_id, self.device)
        sampling = (
            {"do_sample": True, "temperature": config.temperature, "top_k": config.top_k, "top_p": config.top_p}
            if config.temperature > 0
            else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None}
        )
        names = "\x1e".join(f"{requests[i.request].key}\x1f{i.sample_index}" for i in batch)
        with torch.inference_mode(), torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(stream_id(config.seed, names, 0) >> 1)
            sequences = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=config.max_new_tokens,
                eos_token_id=sorted(stop_ids) or None,
                pad_token_id=self.pad_id,
                **sampling,
            )
            new = sequences.shape[1] - ids.shape[1]
            full_mask = torch.cat([mask, mask.new_ones(mask.shape[0], new)], dim=1)
            logprobs = teacher_forced_logprobs(self.model, sequences, full_mask, new)
        generated = sequences[:, ids.shape[1] :].tolist()
        return [
            finish(tokens, lps, stop_ids, self.tokenizer, item.sample_index)
            for item, tokens, lps in zip(batch, generated, logprobs.tolist(), strict=True)
        ]
