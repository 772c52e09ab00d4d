"""Prompt templates: the built-in texts, chat and plain rendering, encoding, and user YAML files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers.processors import TemplateProcessing
from transformers import PreTrainedTokenizerFast as Tok

from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.prompts import (
    PROMPTS,
    QWEN_COT_SYSTEM,
    PromptTemplate,
    encode_prompt,
    load_template_file,
    render_prompt,
    resolve_template,
)
from rlvr_lab.tasks import Problem

CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)
PROBLEM = Problem("p", r"Compute $\frac{1}{2} + {x}$ for {problem}.", "1")
"""Braces, LaTeX and even the placeholder inside a problem are kept verbatim."""


@pytest.fixture
def plain_tok() -> Tok:
    return build_char_tokenizer()


@pytest.fixture
def chat_tok() -> Tok:
    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def test_builtin_templates_and_the_qwen_text() -> None:
    assert {"qwen-boxed", "r1", "none", "python-hint"} <= set(PROMPTS.names())
    assert QWEN_COT_SYSTEM == "Please reason step by step, and put your final answer within \\boxed{}."
    assert PROMPTS.get("qwen-boxed") == PromptTemplate("qwen-boxed", system=QWEN_COT_SYSTEM)
    with pytest.raises(ValueError, match=r"unknown prompt template 'qwen': neither a registered name"):
        resolve_template("qwen")


def test_qwen_boxed_with_and_without_a_chat_template(chat_tok: Tok, plain_tok: Tok) -> None:
    template = PROMPTS.get("qwen-boxed")
    assert render_prompt(template, PROBLEM, chat_tok) == (
        f"<system>{QWEN_COT_SYSTEM}\n<user>{PROBLEM.prompt}\n<assistant>"
    )
    plain = f"{QWEN_COT_SYSTEM}\n\n{PROBLEM.prompt}"
    assert render_prompt(template, PROBLEM, plain_tok) == plain
    assert render_prompt(template, PROBLEM, None) == plain


def test_none_is_the_bare_problem_even_for_chat_models(chat_tok: Tok) -> None:
    assert render_prompt(PROMPTS.get("none"), PROBLEM, chat_tok) == PROBLEM.prompt


def test_r1_is_plain_text_ending_at_the_assistant_turn(chat_tok: Tok) -> None:
    text = render_prompt(PROMPTS.get("r1"), PROBLEM, chat_tok)
    assert text.startswith("A conversation between User and Assistant. The user asks a question")
    assert "<think> reasoning process here </think> <answer> answer here </answer>." in text
    assert text.endswith(f"\nUser: {PROBLEM.prompt}\nAssistant:")


def test_python_hint_adds_only_the_hint(chat_tok: Tok) -> None:
    text = render_prompt(PROMPTS.get("python-hint"), PROBLEM, chat_tok)
    boxed = render_prompt(PROMPTS.get("qwen-boxed"), PROBLEM, chat_tok)
    hint = "\n\nSolve it with Python: write a short program that computes the answer."
    assert text == boxed.replace(PROBLEM.prompt, PROBLEM.prompt + hint)


def test_assistant_prefix_follows_both_renderings(chat_tok: Tok, plain_tok: Tok) -> None:
    template = PromptTemplate("t", system="S", user="Q: {problem}", assistant_prefix="<think>")
    assert render_prompt(template, PROBLEM, chat_tok) == f"<system>S\n<user>Q: {PROBLEM.prompt}\n<assistant><think>"
    assert render_prompt(template, PROBLEM, plain_tok) == f"S\n\nQ: {PROBLEM.prompt}<think>"


def test_encode_adds_special_tokens_only_to_plain_text(chat_tok: Tok, plain_tok: Tok) -> None:
    bos = plain_tok.eos_token_id  # stands in for a BOS: the char tokenizer has none of its own
    for tokenizer in (chat_tok, plain_tok):
        tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
            single="<eos> $A", special_tokens=[("<eos>", bos)]
        )
    template = PROMPTS.get("qwen-boxed")
    chat_ids = encode_prompt(template, PROBLEM, chat_tok)
    plain_ids = encode_prompt(template, PROBLEM, plain_tok)
    assert chat_ids[0] != bos and chat_tok.decode(chat_ids) == render_prompt(template, PROBLEM, chat_tok)
    assert plain_ids[0] == bos and plain_tok.decode(plain_ids[1:]) == render_prompt(template, PROBLEM, plain_tok)


def test_templates_from_a_yaml_file(tmp_path: Path, plain_tok: Tok) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        'terse:\n  user: "Q: {problem}\\nA:"\n  use_chat_template: false\n'
        "boxed:\n  system: Box it.\n  assistant_prefix: 'Answer:'\n",
        encoding="utf-8",
    )
    templates = load_template_file(path)
    assert templates["terse"] == PromptTemplate("terse", user="Q: {problem}\nA:", use_chat_template=False)
    assert templates["boxed"] == PromptTemplate("boxed", system="Box it.", assistant_prefix="Answer:")
    assert resolve_template(f"{path}:terse") == templates["terse"]
    with pytest.raises(ValueError, match="holds 2 templates; pick one"):
        resolve_template(str(path))
    single = tmp_path / "one.yaml"
    single.write_text("only:\n  user: '{problem}?'\n", encoding="utf-8")
    assert render_prompt(resolve_template(str(single)), PROBLEM, plain_tok) == PROBLEM.prompt + "?"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("t:\n  user: 'no placeholder'\n", r"template 't': .*must contain \{problem\}"),
        ("t:\n  sytem: typo\n", r"template 't': unknown prompt template field\(s\) \['sytem'\]"),
        ("t:\n  use_chat_template: 'yes'\n", r"template 't': field 'use_chat_template' must be a bool"),
        ("- a list\n", "expected a mapping from template name"),
        ("t: [unclosed\n", "invalid YAML"),
    ],
)
def test_bad_yaml_templates_name_file_and_template(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_template_file(path)
    assert str(path) in str(info.value)


def test_the_organism_template_resolves_in_a_fresh_process() -> None:
    """``--template organism`` must work before anything imported the organism package: the registry loads the
    organism plug-in (its entry point) on the first missing name, and ``prompts`` itself never imports it."""
    code = (
        "import sys\n"
        "from rlvr_lab.prompts import PROMPTS, resolve_template\n"
        "assert 'rlvr_lab.organism' not in sys.modules\n"
        "t = resolve_template('organism')\n"
        "print(t.name, t.use_chat_template)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["organism", "False"]
