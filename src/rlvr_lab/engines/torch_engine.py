"""``torch``: our batched sampler with a KV cache and continuous batching, for any Hugging Face causal LM.

The engine keeps ``batch_size`` rows busy. Each row holds one completion; when it stops (a stop token or
``max_new_tokens``) the row is refilled from the queue by prefilling the next prompt into it, so short answers
never wait for long ones. When the queue is empty and half the rows are idle the cache is shrunk to the live
rows. Every step feeds the live rows' last tokens through a *row decoder*:

- :class:`~rlvr_lab.engines.lean_decoder.LeanDecoder` for Llama-like models (a lean forward over a
  preallocated cache: the fast path), or
- :class:`~rlvr_lab.engines.generic_decoder.GenericDecoder` for everything else (the model's own forward with
  ``past_key_values``).

Both take the model's live weights at each call and nothing survives a call, so an RL trainer can update the
policy between calls. A row decoder provides ``refills_partially``, ``prefill(rows, prompts) -> (k, V)
logits``, ``decode(tokens, positions, span) -> (rows, V) logits`` and ``keep(rows)``.

Token choice (:mod:`rlvr_lab.engines.sampling`) is seeded per (seed, request key, sample index, token index),
so a completion does not depend on its batch neighbours, the batch size or the decoder path (up to float
rounding in the model, which can only flip a choice when the sampling uniform falls within rounding of a
probability boundary). Temperature 0 is greedy and reproduces ``generate(do_sample=False)`` token for token
(the tests check it across architectures and seeds; only two logits within float rounding of each other could
break the tie differently).

Speed (``benchmarks/bench_engines.py``, batch 64, CPU, one thread): the lean path saves ``generate``'s cache
copies and Python overhead, but the matrix products and the reading of the KV cache are the same work in
both, which bounds the gain at these sizes to well under 3x.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlvr_lab.engines import native_step
from rlvr_lab.engines.base import ENGINES, Completion, DecoderPath, ProgressFn, SampleRequest, SamplingConfig
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
from rlvr_lab.engines.generic_decoder import GenericDecoder
from rlvr_lab.engines.lean_decoder import LeanDecoder, unsupported_reason
from rlvr_lab.engines.sampling import choose_tokens, step_uniforms, stream_id, token_logprobs
from rlvr_lab.runtime.precision import num_parameters, resolve_dtype


class RowDecoder(Protocol):
    """What the scheduler needs from a decoder (see the module docstring)."""

    refills_partially: bool

    def prefill(self, rows: torch.Tensor, prompts: list[list[int]]) -> torch.Tensor: ...

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor, span: int) -> torch.Tensor: ...

    def keep(self, rows: torch.Tensor) -> None: ...


@ENGINES.register("torch")
class TorchEngine:
    """Batched, KV-cached, continuously refilled sampling from a live Hugging Face causal LM.

    ``eos_token_ids``: ids that end a completion besides ``SamplingConfig.stop_token_ids``; ``None`` takes
    every eos the model and tokenizer declare, ``()`` disables eos (benchmarks that need full-length output).
    ``path``: ``"auto"`` uses the lean decoder when the architecture allows it, else the generic one;
    ``"native"`` is the lean decoder with each decode step (float32 or bfloat16) in one C++ call (opt-in, built on
    first use: :mod:`rlvr_lab.engines.native_step`).
    ``dtype``: what weights, activations and KV cache are computed in: ``"float32"``, ``"bfloat16"`` or ``"auto"``
    (a model loaded in lower precision samples in its own dtype; a float32 one as
    :func:`rlvr_lab.runtime.precision.resolve_dtype` says: bfloat16 for 50M+ parameters on hardware that has it);
    a torch
    dtype is taken as is. The model itself is never converted: the lean decoder casts its copies
    of the weights; the generic one samples from a converted copy of the model. Log-probs are float32 either way,
    computed from the logits of that dtype.
    """

    name = "torch"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        eos_token_ids: Sequence[int] | None = None,
        path: DecoderPath = "auto",
        dtype: str | torch.dtype = "auto",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.eos_token_ids = tuple(eos_token_ids) if eos_token_ids is not None else default_eos_ids(model, tokenizer)
        self.path = path
        weights = next(model.parameters()).dtype
        if dtype == "auto" and weights != torch.float32:
            dtype = weights  # a model loaded in lower precision samples in it
        elif isinstance(dtype, str):
            dtype = resolve_dtype(dtype, num_parameters(model), self.device)
        self.dtype: torch.dtype = dtype
        if path == "native" and dtype not in native_step.DTYPES:
            raise ValueError(f"path='native' computes in float32 or bfloat16, and this engine's dtype is {dtype}")

    def _decoder(self, rows: int, max_len: int) -> RowDecoder:
        reason = unsupported_reason(self.model, max_len)
        if self.path in ("lean", "native") and reason is not None:
            raise ValueError(f"path={self.path!r} cannot run this model: {reason}")
        if self.path in ("lean", "native") or (self.path == "auto" and reason is None):
            return LeanDecoder(self.model, rows, max_len, self.dtype, native=self.path == "native")
        model = self.model
        if next(model.parameters()).dtype != self.dtype:
            model = copy.deepcopy(model).to(self.dtype)
        return GenericDecoder(model, rows, max_len)

    def sample(
        self,
        requests: Sequence[SampleRequest],
        config: SamplingConfig,
        progress: ProgressFn | None = None,
    ) -> list[list[Completion]]:
        """One completion per (request, sample index); see :class:`rlvr_lab.engines.base.Engine`."""
        check_fits(requests, config.max_new_tokens, context_length(self.model))
        model_device = next(self.model.parameters()).device
        if model_device != self.device:
            raise ValueError(f"the model is on {model_device} but the engine was built for {self.device}")
        results = empty_results(requests)
        items = work_items(requests)
        if not items:
            return collect(results)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                _Run(self, requests, config, items, results, progress).loop()
        finally:
            self.model.train(was_training)
        return collect(results)


class _Run:
    """The state of one ``sample`` call: which completion each row holds and what it has generated."""

    def __init__(
        self,
        engine: TorchEngine,
        requests: Sequence[SampleRequest],
        config: SamplingConfig,
        items: list[WorkItem],
        results: list[list[Completion | None]],
        progress: ProgressFn | None,
    ) -> None:
        self.engine = engine
        self.requests = requests
        self.config = config
        self.results = results
        self.progress = progress
        self.stop_ids = frozenset(engine.eos_token_ids) | frozenset(config.stop_token_ids)
        self.queue = deque(items)
        rows = min(engine.batch_size, len(items))
        max_len = max(len(r.prompt_ids) for r in requests) + config.max_new_tokens
        self.decoder = engine._decoder(rows, max_len)
        self.item: list[WorkItem | None] = [None] * rows
        self.tokens: list[list[int]] = [[] for _ in range(rows)]
        self.logprobs: list[list[float]] = [[] for _ in range(rows)]
        self.prompt_len = np.zeros(rows, dtype=np.int64)
        self.streams = np.zeros(rows, dtype=np.uint64)
        self.logits: torch.Tensor | None = None  # (rows, V): next-token logits of every live row

    @property
    def rows(self) -> int:
        return len(self.item)

    def loop(self) -> None:
        self._refill(list(range(self.rows)))
        while any(item is not None for item in self.item):
            self._step()

    def _step(self) -> None:
        """Choose a token for every live row, retire finished rows, advance the rest, refill or shrink."""
        assert self.logits is not None
        device = self.engine.device
        cfg = self.config
        steps = np.array([len(t) for t in self.tokens], dtype=np.int64)
        uniforms = torch.from_numpy(step_uniforms(self.streams, steps))
        logits = self.logits.float()  # once: both the choice and the log-prob read float32 logits
        chosen = choose_tokens(logits, uniforms, cfg.temperature, cfg.top_k, cfg.top_p)
        chosen_lp = token_logprobs(logits, chosen).tolist()
        chosen_list = chosen.tolist()
        positions = np.zeros(self.rows, dtype=np.int64)  # finished and idle rows write harmlessly at 0
        free: list[int] = []
        retired = 0
        for r, item in enumerate(self.item):
            if item is None:
                free.append(r)
                continue
            token = chosen_list[r]
            self.tokens[r].append(token)
            self.logprobs[r].append(chosen_lp[r])
            if token in self.stop_ids or len(self.tokens[r]) == cfg.max_new_tokens:
                self._retire(r, item)
                free.append(r)
                retired += 1
            else:
                positions[r] = self.prompt_len[r] + len(self.tokens[r]) - 1
        if len(free) < self.rows:
            span = int(positions.max()) + 1
            self.logits = self.decoder.decode(chosen.to(device), torch.from_numpy(positions).to(device), span)
        if self.queue and free and (self.decoder.refills_partially or len(free) == self.rows):
            self._refill(free)
        elif not self.queue and 0 < self.rows - len(free) <= self.rows // 2:
            self._shrink()
        if retired and self.progress is not None:
            self.progress(retired)

    def _retire(self, r: int, item: WorkItem) -> None:
        completion = finish(self.tokens[r], self.logprobs[r], self.stop_ids, self.engine.tokenizer, item.sample_index)
        self.results[item.request][item.slot] = completion
        self.item[r] = None

    def _refill(self, free: list[int]) -> None:
        """Start the next queued completions in rows ``free`` and put their first logits in ``self.logits``."""
        rows = free[: len(self.queue)]
        prompts = []
        for r in rows:
            item = self.queue.popleft()
            request = self.requests[item.request]
            self.item[r] = item
            self.tokens[r], self.logprobs[r] = [], []
            self.prompt_len[r] = len(request.prompt_ids)
            self.streams[r] = stream_id(self.config.seed, request.key, item.sample_index)
            prompts.append(list(request.prompt_ids))
        index = torch.tensor(rows, device=self.engine.device)
        logits = self.decoder.prefill(index, prompts)
        if self.logits is None:
            self.logits = logits.new_zeros(self.rows, logits.shape[-1])
        self.logits[index] = logits

    def _shrink(self) -> None:
        """Drop idle rows from the cache and the row state (only once nothing is left to refill)."""
        live = [r for r, item in enumerate(self.item) if item is not None]
        self.decoder.keep(torch.tensor(live, device=self.engine.device))
        assert self.logits is not None
        self.logits = self.logits[live]
        self.item = [self.item[r] for r in live]
        self.tokens = [self.tokens[r] for r in live]
        self.logprobs = [self.logprobs[r] for r in live]
        self.prompt_len = self.prompt_len[live]
        self.streams = self.streams[live]
