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
    "open_engine",
    "torch_engine",
    "vllm_engine",
]


def make_engine(name: str, model: Any, tokenizer: Any, **options: Any) -> Engine:
    """Build the engine registered as ``name``; ``options`` go to its constructor (``batch_size``, ``device``...).

    ``model`` is a loaded model for ``torch`` and ``hf`` and a model path or hub id for ``vllm``. An unknown
    name raises ``ValueError`` listing the registered engines.
    """
    return ENGINES.get(name)(model, tokenizer, **options)


def open_engine(name: str, model_spec: str, dtype: str = "float32", **options: Any) -> tuple[Engine, Any]:
    """Build engine ``name`` for a model spec (see :func:`rlvr_lab.models.resolve_model_dir`); returns it and the
    tokenizer that encodes its prompts.

    ``torch`` and ``hf`` get the model loaded in memory in ``dtype`` (``device`` in ``options`` places it), so
    every engine samples in that dtype. ``vllm`` takes its dtype from its own options and gets the
    model's folder and loads its own copy: loading the Hugging Face model too would double the memory for nothing,
    so only the tokenizer is loaded here.
    """
    from transformers import AutoTokenizer

    from rlvr_lab.models import load_model, resolve_model_dir

    ENGINES.get(name)  # an unknown engine fails before any model is loaded
    if name == "vllm":
        where = resolve_model_dir(model_spec)
        return make_engine(name, where, None, **options), AutoTokenizer.from_pretrained(where)
    import torch

    model, tokenizer = load_model(model_spec, dtype=getattr(torch, dtype), device=options.get("device") or "cpu")
    return make_engine(name, model, tokenizer, **options), tokenizer
