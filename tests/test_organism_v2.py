"""Organism v2's corpus, tokenizer and targets: per-problem preferences, lead-ins, the hint; v1 left unchanged."""

from __future__ import annotations

import hashlib
import itertools
import json
import math

import pytest

from rlvr_lab.analysis.strategy import is_code
from rlvr_lab.organism.corpus import (
    CONTINUATIONS,
    FORMS,
    OPENERS,
    PROMPT_TEMPLATE,
    PYTHON_HINT,
    CorpusConfig,
    Example,
    code_probability,
    corpus_stream,
    surface_form,
)
from rlvr_lab.organism.profiles import PROFILES, Target, get_profile
from rlvr_lab.organism.tasks import KINDS, Task, organism_tasks, task_stream
from rlvr_lab.organism.tokenizer import build_organism_tokenizer
from rlvr_lab.prompts import PROMPTS, encode_prompt
from rlvr_lab.tasks.problem import Problem

N = 12000
V2 = ("qwen-math-like-v2", "olmo-like-v2", "llama-like-v2")


def examples(config: CorpusConfig, n: int = N) -> list[Example]:
    return list(itertools.islice(corpus_stream(config, 0), n))


def within_3_sigma(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 3 * math.sqrt(n * p * (1 - p)) + 1


def _digest(items: object) -> str:
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    ("name", "digest"), [("qwen-math-like", "51aa671b02e4c85e"), ("olmo-like", "d0ed35dc73b26812")]
)
def test_v1_corpus_is_unchanged(name: str, digest: str) -> None:
    """The v2 knobs' defaults write v1's corpus draw for draw (digests taken before v2 existed), so v1 rebuilds."""
    batch = examples(get_profile(name).corpus, n=500)
    assert _digest([(e.prompt, e.response) for e in batch]) == digest


def test_v1_tokenizer_is_unchanged() -> None:
    tokenizer = build_organism_tokenizer()
    assert len(tokenizer) == 160 and tokenizer.chat_template is None
    assert _digest(sorted(tokenizer.get_vocab().items())) == "e15511132d363a4a"


def test_surface_forms_cover_every_phrasing() -> None:
    forms = {surface_form(t) for t in organism_tasks("test", n=300)}
    assert forms == set(FORMS)
    assert surface_form(Task("mul1", "Compute 7*8.", 7, (("*", 8),))) == "compute"
    assert surface_form(Task("mul1", "What is 7 times 8?", 7, (("*", 8),))) == "in_words"
    assert surface_form(Task("mul1", "What is 7*8?", 7, (("*", 8),))) == "what_is"


def test_each_form_gets_its_code_preference_and_the_hint_raises_it() -> None:
    config = get_profile("qwen-math-like-v2").corpus
    assert config.code_preference is not None
    batch = examples(config)
    tasks = list(itertools.islice(task_stream("train", 0), N))  # the stream the corpus writes from, one to one
    for task, example in zip(tasks, batch, strict=True):
        assert example.prompt.startswith(PROMPT_TEMPLATE.format(problem=task.text).removesuffix("\nA: "))
    for form, p in config.code_preference.items():
        group = [
            e for t, e in zip(tasks, batch, strict=True) if surface_form(t) == form and PYTHON_HINT not in e.prompt
        ]
        assert within_3_sigma(sum(e.strategy == "code" for e in group), len(group), p), form
    hinted = [(t, e) for t, e in zip(tasks, batch, strict=True) if PYTHON_HINT in e.prompt]
    assert within_3_sigma(len(hinted), N, config.hint_share)
    expected = sum(code_probability(t, config, hinted=True) for t, _ in hinted)
    assert abs(sum(e.strategy == "code" for _, e in hinted) - expected) <= 3 * math.sqrt(len(hinted) / 4)
    assert code_probability(tasks[0], config, hinted=True) > code_probability(tasks[0], config, hinted=False)


def test_lead_ins_spread_the_decision_over_three_tokens() -> None:
    config = get_profile("qwen-math-like-v2").corpus
    batch = examples(config, n=6000)
    tokenizer = build_organism_tokenizer(config.phrases(), chat=True)
    group_of = {c: g for g, cs in CONTINUATIONS.items() for c in cs}
    contrary = 0
    for e in batch:
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(e.response, add_special_tokens=False)["input_ids"])
        assert tokens[0] in OPENERS and tokens[1] in group_of, tokens[:3]
        assert tokens[2] == ("```python\n" if e.strategy == "code" else "We get ")
        # the shared classifier's two rules agree with the writer: no lead-in says "python"
        assert is_code(e.response, "contains_python") == is_code(e.response, "fenced_python") == (e.strategy == "code")
        other = "language" if e.strategy == "code" else "code"
        contrary += group_of[tokens[1]] == other
    assert within_3_sigma(contrary, len(batch), 0.1)


def test_hint_and_chat_template_prompt_like_the_corpus() -> None:
    """``python-hint`` reaches a v2 organism through its chat template as exactly the corpus's hinted prompt, and
    ``qwen-boxed`` as the plain ``organism`` prompt (the system text is dropped)."""
    import rlvr_lab.organism  # noqa: F401  (registers the organism templates)

    config = get_profile("qwen-math-like-v2").corpus
    tokenizer = build_organism_tokenizer(config.phrases(), chat=True)
    problem = Problem(id="p", prompt="What is 7*8?", answer="56", source="test")
    hinted = PROMPT_TEMPLATE.format(problem=problem.prompt + PYTHON_HINT)
    ids = encode_prompt(PROMPTS.get("python-hint"), problem, tokenizer)
    assert ids == tokenizer(hinted, add_special_tokens=False)["input_ids"]
    assert PYTHON_HINT in tokenizer.convert_ids_to_tokens(ids)  # one token, as in the corpus
    assert encode_prompt(PROMPTS.get("organism-python-hint"), problem, tokenizer) == ids
    plain = encode_prompt(PROMPTS.get("organism"), problem, tokenizer)
    assert encode_prompt(PROMPTS.get("qwen-boxed"), problem, tokenizer) == plain


def test_targets_read_paths_differences_and_templates() -> None:
    tables = {
        "organism": {"code_frequency": 0.6, "acc": 0.5, "by_type": {"word": {"acc_given_code": None}}},
        "python-hint": {"code_frequency": 0.9},
    }
    assert Target("code_frequency", 0.55, 0.65).met(tables)
    assert Target("python-hint:code_frequency - code_frequency").value(tables) == pytest.approx(0.3)
    assert Target("python-hint:code_frequency - code_frequency").templates() == {"organism", "python-hint"}
    assert not Target("code_frequency - acc", 0.2).met(tables)
    assert not Target("by_type.word.acc_given_code", high=1.0).met(tables)  # NaN meets nothing


def test_v2_profiles_are_registered_with_targets() -> None:
    for name in V2:
        profile = get_profile(name)
        assert profile.corpus.lead_ins and profile.corpus.hint_share > 0 and profile.targets
        assert set(profile.corpus.code_error) == set(KINDS)
    assert set(V2) < set(PROFILES.names())


def test_code_preference_must_name_every_form() -> None:
    with pytest.raises(ValueError, match="one rate per form"):
        CorpusConfig(code_preference={"compute": 0.9})
    with pytest.raises(ValueError, match=r"code_preference\[find\] must lie in"):
        CorpusConfig(code_preference={**dict.fromkeys(FORMS, 0.5), "find": 1.5})
