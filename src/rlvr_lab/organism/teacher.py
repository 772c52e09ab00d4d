"""A distillation teacher for the organism: the base organism pretrained further on an error-free corpus.

Yue et al. (2025, §4.3) distil from a stronger model (DeepSeek-R1 into Qwen2.5) and find that, unlike RL, it
widens the reasoning boundary. The organism's teacher must know what the base lacks; the cheapest such model is
the base itself after a few hundred more pretraining steps on the same problem types (two-digit sums and products
included) written with no slips in either strategy and every answer boxed. It keeps the base's tokenizer, shape
and strategy mix, so it differs from the base only in accuracy, which is what a distillation study needs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rlvr_lab.organism.config import TrainConfig
from rlvr_lab.organism.corpus import CorpusConfig
from rlvr_lab.organism.pretrain import ProgressFn, checkpoint_metadata, fit, save_checkpoint, torch_threads
from rlvr_lab.organism.profiles import get_profile
from rlvr_lab.organism.tasks import KINDS

TEACHER_TRAIN = TrainConfig(steps=400, lr=2e-3, warmup_steps=20, min_lr_ratio=0.1)
"""Further pretraining of the teacher: a few hundred steps at a quarter of the base's peak rate (minutes)."""


def error_free(corpus: CorpusConfig) -> CorpusConfig:
    """``corpus`` with no slips and no format errors (the same strategy mix)."""
    zero = dict.fromkeys(KINDS, 0.0)
    return replace(corpus, code_error=zero, language_error=dict(zero), format_slip=dict(zero))


def build_teacher(
    profile: str,
    out: Path,
    train: TrainConfig = TEACHER_TRAIN,
    seed: int = 1,
    progress: ProgressFn | None = None,
) -> Path:
    """Pretrain the shipped checkpoint of ``profile`` further on :func:`error_free` text and save it to ``out``.

    ``seed`` sets the corpus stream (a different one from the base's build, seed 0, so the teacher sees new
    solutions). Returns ``out``; a folder that already holds a teacher is returned as is.
    """
    from rlvr_lab.models.loading import load_model

    if (Path(out) / "config.json").is_file():
        return Path(out)
    recipe = get_profile(profile)
    corpus = error_free(recipe.corpus)
    model, tokenizer = load_model(profile)
    with torch_threads(train.threads):
        losses = fit(model, tokenizer, corpus, train, seed, progress)
    metadata = checkpoint_metadata(f"{profile}-teacher", seed, corpus, recipe.model, train, losses[-1])
    return save_checkpoint(model, tokenizer, Path(out), {**metadata, "continued_from": profile})
