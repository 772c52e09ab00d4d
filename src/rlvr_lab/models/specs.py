"""Model names: which spec means which folder, checked before torch is imported.

A model spec is, in order of precedence:
1. a named model in :data:`NAMED_MODELS`: ``smollm2-135m`` (converted once from an installed package into a
   cached HF folder) and whatever plug-ins register (the organism registers its shipped profiles, such as
   ``qwen-math-like``: checkpoints inside the package);
2. a local folder in Hugging Face format;
3. a hub id, loaded with ``from_pretrained`` (needs network or a populated HF cache).

Why a module of its own: :mod:`rlvr_lab.models` imports torch and transformers, which takes seconds; a misspelt
name should fail before that, and before a command creates any output file. A name that is none of the four
raises :class:`UnknownModelError` listing the names that exist; with the hub out of reach
(:func:`rlvr_lab.runtime.data.hub_offline`) a hub id missing from the Hugging Face cache fails at once instead of
after a
minute of retries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rlvr_lab.models.smollm import MODEL_NAME, smollm2_dir
from rlvr_lab.registry import Registry

NAMED_MODELS: Registry[Callable[[], Path]] = Registry("named model")
"""Name -> a function giving the model's Hugging Face folder (called only when the name is used)."""
NAMED_MODELS.add(MODEL_NAME, smollm2_dir)


class UnknownModelError(ValueError):
    """A model spec that names no shipped organism, built-in model, local folder or reachable hub model."""


def model_names() -> list[str]:
    """The models that need neither a folder nor the hub: the registered named models."""
    return NAMED_MODELS.names()


def unknown_model(spec: str, why: str) -> UnknownModelError:
    """The error for a spec that resolves to nothing, with the valid names."""
    return UnknownModelError(
        f"model {spec!r}: {why}. Valid names: {', '.join(model_names())}; or a local Hugging Face folder "
        "(with config.json), or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct"
    )


def _hub_model(spec: str) -> str:
    """A hub id as ``from_pretrained`` should get it: the id online, its cached snapshot folder offline."""
    from rlvr_lab.runtime.data import hub_offline

    offline = hub_offline()
    if offline is None:
        return spec
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return snapshot_download(spec, local_files_only=True)
    except (HFValidationError, LocalEntryNotFoundError, OSError):
        searched = f"{Path(spec).expanduser().resolve()} (no such folder) and the Hugging Face cache {HF_HUB_CACHE}"
        raise unknown_model(spec, f"searched {searched}, and the hub is out of reach ({offline})") from None


def resolve_model_dir(spec: str) -> str:
    """Map a model spec to something ``from_pretrained`` accepts (a folder, or a hub id when the hub is reachable)."""
    if not spec.strip():
        raise unknown_model(spec, "empty name")
    if spec in NAMED_MODELS:
        return str(NAMED_MODELS.get(spec)())
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} has no config.json: not a Hugging Face model folder")
        return str(path)
    return _hub_model(spec)
