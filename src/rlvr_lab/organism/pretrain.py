"""Pretrain the organism: a small Llama built from a config, trained on the corpus, saved in Hugging Face format.

Design choices:
- **Llama architecture through transformers** (:func:`rlvr_lab.models.tiny_llama`), so the checkpoint loads with
  ``AutoModelForCausalLM.from_pretrained`` and in vLLM with no custom code.
- **Loss on the solution only.** Prompts are read, not predicted: the model's capacity goes to the conditional
  the studies measure (strategy, arithmetic, format given a problem). The end-of-text token is predicted, so
  generation stops by itself.
- **Every token weighs the same.** A batch's summed token loss is divided by a constant (``loss_tokens`` per
  example), not by its own token count. A per-batch mean would weigh each token of a batch with many short
  language answers more than one of a batch with many long code answers, and skew the learned strategy mix:
  the mix at temperature 1 is the corpus mix only under uniform weights.
- **One example per row, right-padded, consecutive examples of the stream as a batch.** Every row starts at
  position 0 exactly as a prompt does at sampling time. The stream cycles through the problem types, so every
  batch holds each type and both strategies in the corpus's mix, and the optimiser never follows one type's
  gradient alone. With phrase tokens an example is about 25 tokens, so padding costs little and no length
  bucketing is needed.
- **Deterministic from the seed**: the weights' initialisation, the corpus stream and the batch order all derive
  from it; the same seed (and thread count) gives the same weights.
- AdamW with linear warmup and cosine decay to ``min_lr_ratio`` of the peak, gradient clipping at 1: the usual
  recipe; a high peak rate suits a model this small and a budget this short.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from rlvr_lab.models.loading import load_model, tiny_llama
from rlvr_lab.organism.config import ModelConfig, TrainConfig
from rlvr_lab.organism.corpus import CorpusConfig, Example, corpus_stream
from rlvr_lab.organism.profiles import Profile, shipped_checkpoint
from rlvr_lab.organism.tokenizer import build_organism_tokenizer
from rlvr_lab.runtime.precision import float_kernels

METADATA_FILE = "rlvr_organism.json"
"""Written beside the weights: profile, seed, corpus knobs, model and training configs, prompt template."""
PROMPT_TEMPLATE_NAME = "organism"
IGNORE = -100
"""Label of positions that carry no loss (prompt and padding), as torch's cross-entropy expects."""


ProgressFn = Callable[[int, float], None]
"""Called after each step with (steps done, loss)."""


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def collate(examples: list[Example], tokenizer: PreTrainedTokenizerBase) -> Batch:
    """Right-padded ``(input_ids, attention_mask, labels)``, each ``(B, T)``; labels cover the response and eos."""
    prompts = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
    responses = tokenizer([e.response for e in examples], add_special_tokens=False)["input_ids"]
    rows = [(p, [*r, tokenizer.eos_token_id]) for p, r in zip(prompts, responses, strict=True)]
    width = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (p, r) in enumerate(rows):
        n = len(p) + len(r)
        ids[i, :n] = torch.tensor(p + r)
        labels[i, len(p) : n] = torch.tensor(r)
        mask[i, :n] = 1
    return ids, mask, labels


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def batches(examples: Iterator[Example], batch_size: int) -> Iterator[list[Example]]:
    """Consecutive ``batch_size`` examples of the stream, endlessly."""
    while True:
        yield list(itertools.islice(examples, batch_size))


def pretrain(
    corpus: CorpusConfig,
    model_config: ModelConfig,
    train: TrainConfig,
    seed: int,
    progress: ProgressFn | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, list[float]]:
    """Train a fresh organism; return ``(model, tokenizer, per-step mean token losses)``, the model in eval mode."""
    with torch_threads(train.threads):
        return _pretrain(corpus, model_config, train, seed, progress)


def _pretrain(
    corpus: CorpusConfig,
    model_config: ModelConfig,
    train: TrainConfig,
    seed: int,
    progress: ProgressFn | None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, list[float]]:
    tokenizer = build_organism_tokenizer(corpus.phrases(), chat=corpus.hint_share > 0)
    model = tiny_llama(
        vocab_size=len(tokenizer),
        hidden_size=model_config.hidden_size,
        num_layers=model_config.num_layers,
        num_heads=model_config.num_heads,
        intermediate_size=model_config.intermediate_size,
        max_position_embeddings=model_config.max_position_embeddings,
        seed=seed,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    losses = fit(model, tokenizer, corpus, train, seed, progress)
    return model, tokenizer, losses


def fit(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    corpus: CorpusConfig,
    train: TrainConfig,
    seed: int,
    progress: ProgressFn | None = None,
) -> list[float]:
    """Train ``model`` (fresh or already pretrained) on the corpus stream; return the per-step mean token losses.
    The model is left in eval mode."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay, betas=(0.9, 0.95))
    stream = batches(corpus_stream(corpus, seed), train.batch_size)
    losses: list[float] = []
    for step in range(train.steps):
        for group in optimizer.param_groups:
            group["lr"] = train.lr_at(step)
        ids, mask, labels = collate(next(stream), tokenizer)
        logits = model(input_ids=ids, attention_mask=mask).logits  # (B, T, V)
        summed = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), reduction="sum")
        optimizer.zero_grad(set_to_none=True)
        (summed / (ids.shape[0] * train.loss_tokens)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(summed.item() / int((labels != IGNORE).sum()))
        if progress is not None:
            progress(step + 1, losses[-1])
    model.eval()
    return losses


def save_checkpoint(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out: Path, metadata: dict[str, Any]
) -> Path:
    """Save weights (safetensors), config, generation config, tokenizer and :data:`METADATA_FILE` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        do_sample=True,
        temperature=1.0,
        max_new_tokens=model.config.max_position_embeddings // 2,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return out


def checkpoint_metadata(
    profile: str, seed: int, corpus: CorpusConfig, model_config: ModelConfig, train: TrainConfig, final_loss: float
) -> dict[str, Any]:
    """What :data:`METADATA_FILE` records: enough to rebuild the checkpoint and to prompt it the right way, and
    the kernels that built it (the same weights come back only on the same ones)."""
    return {
        "profile": profile,
        "seed": seed,
        "corpus": corpus.to_dict(),
        "model": asdict(model_config),
        "train": asdict(train),
        "prompt_template": PROMPT_TEMPLATE_NAME,
        "final_loss": final_loss,
        "built_on": float_kernels(),
    }


def build_profile(
    profile: Profile, out: Path, seed: int | None = None, steps: int | None = None, progress: ProgressFn | None = None
) -> Path:
    """Pretrain ``profile`` (optionally with another seed or step budget) and save the checkpoint to ``out``; a
    profile with a ``parent`` continues that profile's shipped checkpoint instead of a fresh model."""
    seed = profile.seed if seed is None else seed
    train = profile.train if steps is None else replace(profile.train, steps=steps)
    if profile.parent is None:
        model, tokenizer, losses = pretrain(profile.corpus, profile.model, train, seed, progress)
    else:
        model, tokenizer, losses = continue_pretraining(profile.parent, profile.corpus, train, seed, progress)
    metadata = checkpoint_metadata(profile.name, seed, profile.corpus, profile.model, train, losses[-1])
    if profile.parent is not None:
        metadata["parent"] = profile.parent
    return save_checkpoint(model, tokenizer, out, metadata)


def continue_pretraining(
    parent: str, corpus: CorpusConfig, train: TrainConfig, seed: int, progress: ProgressFn | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, list[float]]:
    """The shipped checkpoint of profile ``parent``, trained for ``train``'s budget on ``corpus``'s stream."""
    where = shipped_checkpoint(parent)
    if where is None:
        raise FileNotFoundError(f"profile {parent!r} has no shipped checkpoint to continue; build it first")
    with torch_threads(train.threads):
        model, tokenizer = load_model(str(where))
        return model, tokenizer, fit(model, tokenizer, corpus, train, seed, progress)
