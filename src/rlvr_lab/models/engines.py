"""Open a sampling engine for a model spec: the one place that joins a model name to an engine.

It lives with the models, not in :mod:`rlvr_lab.engines`, so the engines stay below everything that knows how a
model is named or loaded (the layering rule in docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from rlvr_lab.engines import ENGINES, Engine, make_engine
from rlvr_lab.models.loading import load_model


def open_engine(name: str, model_spec: str, dtype: str = "float32", **options: Any) -> tuple[Engine, Any]:
    """Build engine ``name`` for a model spec (see :func:`rlvr_lab.models.specs.resolve_model_dir`); returns it and the
    tokenizer that encodes its prompts.

    ``torch`` and ``hf`` get the model loaded in memory in ``dtype`` (``device`` in ``options`` places it), so
    every engine samples in that dtype. ``vllm`` takes its dtype from its own options and gets the
    model's folder and loads its own copy: loading the Hugging Face model too would double the memory for nothing,
    so only the tokenizer is loaded here.
    """
    from transformers import AutoTokenizer

    from rlvr_lab.models.loading import resolve_model_dir

    ENGINES.get(name)  # an unknown engine fails before any model is loaded
    if name == "vllm":
        where = resolve_model_dir(model_spec)
        return make_engine(name, where, None, **options), AutoTokenizer.from_pretrained(where)
    import torch

    model, tokenizer = load_model(model_spec, dtype=getattr(torch, dtype), device=options.get("device") or "cpu")
    return make_engine(name, model, tokenizer, **options), tokenizer
