"""The engine protocol: sample ``n`` completions per prompt.

Every backend (``torch``, ``hf``, ``vllm``) takes prompts as token ids (templating and tokenisation happen
before, in :mod:`rlvr_lab.prompts`, so every engine sees exactly the same tokens) and returns, per prompt, ``n``
:class:`Completion` records with token ids, per-token log-probs and why generation stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from rlvr_lab.registry import Registry

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingConfig:
    """How to sample; saved next to every sample file."""

    n: int = 1
    """Completions per prompt."""
    temperature: float = 1.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling mass; 1.0 disables it."""
    top_k: int = 0
    """Keep only the k most likely tokens; 0 disables it."""
    max_new_tokens: int = 512
    """Hard cap on generated tokens; a completion that reaches it finishes with reason ``length``."""
    seed: int = 0
    """Sampling seed; with the same seed and keys an engine returns the same tokens."""
    stop_token_ids: tuple[int, ...] = ()
    """Token ids that end a completion in addition to the tokenizer's eos (never stop on words)."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass
class Completion:
    """One sampled completion.

    ``logprobs[i]`` is the log-probability of ``token_ids[i]`` under the model's raw distribution (temperature 1,
    no top-p/top-k truncation): the quantity RL ratios and perplexities need. A completion that ended on a stop
    token includes that token in ``token_ids``; ``text`` is decoded without special tokens.
    """

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: FinishReason
    text: str = ""
    sample_index: int = 0

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)


ProgressFn = Callable[[int], None]
"""Called with the number of completions just finished, for progress bars."""


@dataclass(frozen=True)
class SampleRequest:
    """One prompt and which of its samples to draw.

    ``key`` identifies the prompt for seeding (the problem id), and ``sample_indices`` names the samples wanted:
    an engine that seeds per (seed, key, sample index) returns the same completion for the same triple whatever
    the batch it lands in, which is what makes resumed sampling identical to an uninterrupted run.
    """

    prompt_ids: list[int]
    key: str
    sample_indices: tuple[int, ...] = field(default=(0,))


class Engine(Protocol):
    """What every backend provides."""

    name: str

    def sample(
        self,
        requests: Sequence[SampleRequest],
        config: SamplingConfig,
        progress: ProgressFn | None = None,
    ) -> list[list[Completion]]:
        """Return, for each request, one completion per entry of ``sample_indices`` (in that order).

        ``config.n`` is informational here: the requests say which samples to draw. Raises ``ValueError`` if a
        prompt's length plus ``max_new_tokens`` exceeds the model's context.
        """
        ...


EngineFactory = Callable[..., Engine]

DecoderPath = Literal["auto", "lean", "native", "generic"]
"""The torch engine's decoders (:class:`rlvr_lab.engines.torch_engine.TorchEngine`'s ``path``): ``auto`` (lean where
the architecture allows, else generic), ``lean``, ``native`` (the lean decoder with each decode step in one C++
call, :mod:`rlvr_lab.engines.native_step`) or ``generic``. Named here, beside the engine protocol, as the one list
that ``TrainConfig``, ``rlvr sample --engine-options`` and ``rlvr demo --decoder`` check against (importing it
imports torch: :class:`rlvr_lab.rl.config.TrainConfig` does so only when a config is built)."""
DECODER_PATHS: tuple[str, ...] = get_args(DecoderPath)
ENGINES: Registry[EngineFactory] = Registry("engine")
