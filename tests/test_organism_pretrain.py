"""Pretraining on a tiny budget: deterministic from the seed, saved in a form transformers loads back."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlvr_lab.organism.config import ModelConfig, TrainConfig
from rlvr_lab.organism.corpus import CorpusConfig, corpus_stream
from rlvr_lab.organism.pretrain import IGNORE, METADATA_FILE, batches, build_profile, collate, pretrain
from rlvr_lab.organism.profiles import Profile, get_profile
from rlvr_lab.organism.tasks import KINDS
from rlvr_lab.organism.tokenizer import build_organism_tokenizer, organism_phrases
from rlvr_lab.runtime.precision import float_kernels

TINY_MODEL = ModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=256)
TINY_TRAIN = TrainConfig(steps=3, batch_size=8, warmup_steps=1)


def tiny_profile() -> Profile:
    return replace(get_profile("qwen-math-like"), model=TINY_MODEL, train=TINY_TRAIN)


def test_tokenizer_round_trips_the_corpus_in_a_quarter_of_the_characters(tmp_path: Path) -> None:
    build_organism_tokenizer().save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert (loaded.pad_token_id, loaded.eos_token_id) == (0, 1)
    characters = tokens = 0
    for example in itertools.islice(corpus_stream(get_profile("olmo-like").corpus, 0), 600):
        text = example.prompt + example.response
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert loaded.decode(ids) == text
        digits = [loaded.decode([i]) for i in ids if any(c.isdigit() for c in loaded.decode([i]))]
        assert all(len(d) == 1 for d in digits)  # one token per digit, whatever the phrases
        characters, tokens = characters + len(text), tokens + len(ids)
    assert tokens < 0.3 * characters


def test_phrases_are_the_fixed_text_and_each_strategy_opens_with_one_token() -> None:
    phrases = organism_phrases()
    assert {"Q: ", "\nA: ", "```python\n", "We get ", "The answer is \\boxed{", "\n```\n```output\n"} <= set(phrases)
    assert not any(c.isdigit() for p in phrases for c in p)
    tokenizer = build_organism_tokenizer()
    for opening in ("```python\nprint(2+2)", "We get 2+2 = 4."):
        first = tokenizer(opening, add_special_tokens=False)["input_ids"][0]
        assert tokenizer.decode([first]) in ("```python\n", "We get ")


def test_collate_puts_loss_on_the_response_and_eos_only() -> None:
    tokenizer = build_organism_tokenizer()
    batch = list(itertools.islice(corpus_stream(CorpusConfig(), 0), 4))
    ids, mask, labels = collate(batch, tokenizer)
    for row, example in enumerate(batch):
        p = len(tokenizer(example.prompt, add_special_tokens=False)["input_ids"])
        r = len(tokenizer(example.response, add_special_tokens=False)["input_ids"])
        assert (labels[row, :p] == IGNORE).all()
        assert tokenizer.decode(labels[row, p : p + r]) == example.response
        assert labels[row, p + r] == tokenizer.eos_token_id
        assert (labels[row, p + r + 1 :] == IGNORE).all()
        assert mask[row].sum() == p + r + 1 and (ids[row, p + r + 1 :] == tokenizer.pad_token_id).all()


def test_every_batch_holds_every_problem_type_and_nothing_is_lost() -> None:
    stream = corpus_stream(CorpusConfig(code_share=0.5), 0)
    drawn = list(itertools.islice(batches(stream, batch_size=24), 8))
    expected = list(itertools.islice(corpus_stream(CorpusConfig(code_share=0.5), 0), 24 * 8))
    assert list(map(repr, itertools.chain(*drawn))) == list(map(repr, expected))
    for batch in drawn:
        assert {e.kind for e in batch} == set(KINDS)
        assert 4 <= sum(e.strategy == "code" for e in batch) <= 20


def test_learning_rate_schedule() -> None:
    train = TrainConfig(steps=110, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert train.lr_at(0) == pytest.approx(1e-4)
    assert train.lr_at(9) == pytest.approx(1e-3)
    assert train.lr_at(60) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert train.lr_at(110) == pytest.approx(1e-4)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    corpus = get_profile("qwen-math-like").corpus
    first, _, losses = pretrain(corpus, TINY_MODEL, TINY_TRAIN, seed=1)
    second, _, again = pretrain(corpus, TINY_MODEL, TINY_TRAIN, seed=1)
    other, _, _ = pretrain(corpus, TINY_MODEL, TINY_TRAIN, seed=2)
    assert losses == again and len(losses) == 3
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not all(
        torch.equal(a, c) for a, c in zip(first.state_dict().values(), other.state_dict().values(), strict=True)
    )


def test_build_saves_a_loadable_checkpoint(tmp_path: Path) -> None:
    out = build_profile(tiny_profile(), tmp_path / "ckpt", seed=3, steps=2)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", METADATA_FILE} <= names
    meta = json.loads((out / METADATA_FILE).read_text())
    assert (meta["profile"], meta["seed"], meta["prompt_template"], meta["train"]["steps"]) == (
        "qwen-math-like",
        3,
        "organism",
        2,
    )
    assert meta["corpus"]["code_share"] == 0.65
    assert meta["built_on"]["torch"] == torch.__version__ and meta["built_on"] == float_kernels()
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "llama" and model.generation_config.eos_token_id == tokenizer.eos_token_id
    ids = torch.tensor([tokenizer("Q: What is 2+2?\nA: ")["input_ids"]])
    with torch.no_grad():
        out_ids = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert out_ids.shape[1] > ids.shape[1]
