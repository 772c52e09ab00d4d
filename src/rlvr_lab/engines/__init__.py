"""Sampling engines: one protocol (:mod:`rlvr_lab.engines.base`), three backends.

- ``torch``: our batched sampler with a KV cache and continuous batching (:mod:`.torch_engine`);
- ``hf``: transformers ``generate`` (:mod:`.hf_engine`), the reference;
- ``vllm``: vLLM on GPUs (:mod:`.vllm_engine`); registered here, but vllm itself is imported only when an
  engine is built, so this package imports without it.
"""

from __future__ import annotations

from typing import Any

from rlvr_lab.engines import hf_engine, torch_engine, vllm_engine
from rlvr_lab.engines.base import ENGINES, Completion, Engine, SampleRequest, SamplingConfig

# The backend modules are imported for their registrations and exported so ``engines.torch_engine`` resolves.
__all__ = [
    "ENGINES",
    "Completion",
    "Engine",
    "SampleRequest",
    "SamplingConfig",
    "hf_engine",
    "make_engine",
    "torch_engine",
    "vllm_engine",
]


def make_engine(name: str, model: Any, tokenizer: Any, **options: Any) -> Engine:
    """Build the engine registered as ``name``; ``options`` go to its constructor (``batch_size``, ``device``...).

    ``model`` is a loaded model for ``torch`` and ``hf`` and a model path or hub id for ``vllm``. An unknown
    name raises ``ValueError`` listing the registered engines.
    """
    return ENGINES.get(name)(model, tokenizer, **options)
