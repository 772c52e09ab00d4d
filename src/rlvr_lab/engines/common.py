"""What every backend does the same way: context checks, stop ids, the work list, finishing a completion.

Kept in one place so the ``torch`` and ``hf`` engines cannot drift apart on what "fits the context", "stops"
or "finish reason" mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from rlvr_lab.engines.base import Completion, SampleRequest

_CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


DEFAULT_MAX_NEW_TOKENS = 512
"""The generation budget when none is asked for and the context has room for it."""


def context_length(model: PreTrainedModel | PretrainedConfig) -> int | None:
    """The model's context window in tokens from its config (or the config itself), or ``None`` if it names none."""
    config = (model if isinstance(model, PretrainedConfig) else model.config).get_text_config()
    for name in _CONTEXT_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_fits(requests: Sequence[SampleRequest], max_new_tokens: int, context: int | None) -> None:
    """Refuse empty prompts and prompts that cannot take ``max_new_tokens`` more tokens within ``context``.

    Truncating instead would silently change the question or cut answers short.
    """
    for request in requests:
        n = len(request.prompt_ids)
        if n == 0:
            raise ValueError(f"prompt {request.key!r} is empty: there is nothing to condition on")
        if context is not None and n + max_new_tokens > context:
            raise ValueError(
                f"prompt {request.key!r}: {n} prompt tokens + {max_new_tokens} max_new_tokens = "
                f"{n + max_new_tokens} exceeds the model's context of {context} tokens"
            )


def fitting_max_new_tokens(
    prompt_lengths: Iterable[int], context: int | None, cap: int = DEFAULT_MAX_NEW_TOKENS
) -> int:
    """The default generation budget: ``cap``, or less when the longest prompt leaves less room in ``context``.

    Why a default that adapts: a user who names no budget wants the model to write as long as it can, and the
    organisms' context (256 tokens) is shorter than the usual 512; an explicit budget that does not fit is still
    refused by :func:`check_fits`, since the user asked for it.
    """
    longest = max(prompt_lengths, default=0)
    if context is None:
        return cap
    if longest >= context:
        raise ValueError(f"the longest prompt has {longest} tokens: no room left in the model's context of {context}")
    return min(cap, context - longest)


def _as_ids(value: int | Iterable[int] | None) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    return {int(v) for v in value}


def default_eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    """Every end-of-sequence id the model's generation config, model config or tokenizer declares.

    Chat models often list several (end of turn and end of text); missing one would run on to the length cap.
    """
    ids = _as_ids(model.config.get_text_config().eos_token_id) | _as_ids(tokenizer.eos_token_id)
    generation_config = getattr(model, "generation_config", None)
    if generation_config is not None:
        ids |= _as_ids(generation_config.eos_token_id)
    return tuple(sorted(ids))


@dataclass(frozen=True)
class WorkItem:
    """One completion to draw: request ``request``'s ``slot``-th entry of ``sample_indices``."""

    request: int
    slot: int
    sample_index: int


def work_items(requests: Sequence[SampleRequest]) -> list[WorkItem]:
    """Flatten requests into completions, in request order then ``sample_indices`` order."""
    return [WorkItem(r, slot, s) for r, request in enumerate(requests) for slot, s in enumerate(request.sample_indices)]


def finish(
    token_ids: list[int],
    logprobs: list[float],
    stop_ids: frozenset[int],
    tokenizer: PreTrainedTokenizerBase,
    sample_index: int,
) -> Completion:
    """Cut a generated sequence after its first stop token and wrap it as a :class:`Completion`.

    Finish reason ``stop`` when a stop token ended it (the token is kept), else ``length``.
    """
    for i, token in enumerate(token_ids):
        if token in stop_ids:
            token_ids, logprobs, reason = token_ids[: i + 1], logprobs[: i + 1], "stop"
            break
    else:
        reason = "length"
    text = tokenizer.decode(token_ids, skip_special_tokens=True)
    return Completion(token_ids, logprobs, reason, text=text, sample_index=sample_index)


def empty_results(requests: Sequence[SampleRequest]) -> list[list[Completion | None]]:
    """One slot per requested sample, filled as completions finish in any order."""
    return [[None] * len(request.sample_indices) for request in requests]


def collect(results: list[list[Completion | None]]) -> list[list[Completion]]:
    """Check every slot was filled and drop the ``None`` typing."""
    out: list[list[Completion]] = []
    for row in results:
        done = [c for c in row if c is not None]
        if len(done) != len(row):
            raise RuntimeError("engine bug: a requested sample was never produced")
        out.append(done)
    return out


def dedupe(prompts: Sequence[Sequence[int]]) -> tuple[list[list[int]], list[int]]:
    """Distinct prompts (first-seen order) and, for each input prompt, the index of its distinct copy.

    The ``n`` samples of one problem share a prompt: a prefill computes it once and copies the cache rows.
    """
    index: dict[tuple[int, ...], int] = {}
    inverse = [index.setdefault(tuple(p), len(index)) for p in prompts]
    return [list(p) for p in index], inverse
