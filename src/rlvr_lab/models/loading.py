"""Load a model spec as a Hugging Face causal LM and tokenizer, and build tiny Llamas from a config.

Which folder a spec names (organism profile, built-in, local folder, hub id) is decided by
:func:`rlvr_lab.models.specs.resolve_model_dir`, which is torch-free so that a misspelt name fails before torch is
imported. Everything is loaded in float32 on CPU by default: the project's own models are tiny, and training needs
fp32.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from rlvr_lab.models.specs import resolve_model_dir, unknown_model


def load_model(
    spec: str, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load ``(model, tokenizer)`` for a model spec, in eval mode."""
    where = resolve_model_dir(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
    except OSError as err:  # transformers reports an unknown hub id as an OSError
        raise unknown_model(spec, f"no local folder, and the hub has no such model ({type(err).__name__})") from None
    model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype).to(device)
    model.eval()
    return model, tokenizer


def count_parameters(spec: str) -> int:
    """Parameters of the model ``spec`` names, from its config alone: built on the meta device, no weights read
    (how ``--dtype auto`` sizes a model before loading it)."""
    from transformers import AutoConfig

    from rlvr_lab.runtime.precision import num_parameters

    config = AutoConfig.from_pretrained(resolve_model_dir(spec))
    with torch.device("meta"):
        return num_parameters(AutoModelForCausalLM.from_config(config))


def model_dtype(spec: str, dtype: str, device: str = "cpu", option: str = "dtype") -> str:
    """The dtype name ``dtype`` (float32, bfloat16 or auto) resolves to for the model ``spec`` names: ``auto`` sizes
    it from its config alone (:func:`count_parameters`), so a sampler can name its dtype before loading weights.
    ``option`` names the setting in the errors (``--dtype`` on the command line)."""
    from rlvr_lab.runtime.precision import DTYPE_CHOICES, dtype_name, resolve_dtype

    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"{option} must be one of {', '.join(DTYPE_CHOICES)}, got {dtype!r}")
    if dtype != "auto":
        return dtype
    try:
        size = count_parameters(spec)
    except OSError as err:
        raise ValueError(f"cannot read the config of model {spec!r} to choose {option} auto: {err}") from None
    return dtype_name(resolve_dtype("auto", size, device))


def tiny_llama(
    vocab_size: int,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 1024,
    seed: int = 0,
    pad_token_id: int = 0,
    eos_token_id: int = 1,
) -> PreTrainedModel:
    """A randomly initialised Llama-architecture model built from a config (tests, benchmarks, the organism).

    Deterministic given ``seed``. Tied embeddings keep tiny models small.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 4 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    return model
