"""Named prompt templates: how a bare problem becomes the text (and token ids) a model is given.

A template has a system text, a user text with the single placeholder ``{problem}`` (other braces, such as
``\\boxed{}``, are literal), a flag saying whether to go through the tokenizer's chat template, and an optional
assistant prefix appended verbatim after the rendered prompt (to start the answer, e.g. with ``<think>``).

Rendering: when the template asks for it and the tokenizer has a chat template, the system and user texts
become chat messages and ``apply_chat_template(..., add_generation_prompt=True)`` renders them; otherwise the
plain rendering is the non-empty parts joined by a blank line. Either way the assistant prefix follows. The
same template is used for every model in a comparison, and its full text is recorded with the samples.

Built-in templates and their sources:
- ``qwen-boxed``: the Qwen2.5-Math chain-of-thought prompt. The system text is verbatim from the QwenLM/Qwen2.5-Math
  README ("CoT" messages) and the evaluation harness's ``qwen25-math-cot`` template (``evaluation/utils.py``).
- ``r1``: the DeepSeek-R1-Zero template (DeepSeek-AI 2025, arXiv:2501.12948, Table 1), a plain-text
  conversation written for base models, so it never goes through a chat template. The turns ("User:",
  "Assistant:") are on their own lines, as in common reproductions, instead of the table's run-on sentence.
- ``none``: the bare problem text, nothing added.
- ``python-hint``: ``qwen-boxed`` plus a request to solve the problem with Python, to move the code/language
  strategy mix through the prompt alone (our wording).
- ``code``: for code problems (HumanEval, MBPP): asks for one complete Python program in a fenced code block, the
  convention chat models follow (a base model given the bare prompt with ``none`` continues the function body
  instead; the code grader accepts both). Our wording, after EvalPlus's instruction prompt.
- ``organism``, ``organism-python-hint``: registered by the organism plug-in (:mod:`rlvr_lab.organism.plugin`).

User templates come from a YAML file mapping names to fields, e.g.::

    my-cot:
      system: "Think carefully."
      user: "Problem: {problem}\\nAnswer:"
      use_chat_template: false
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_lab.registry import Registry
from rlvr_lab.tasks.problem import Problem

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PLACEHOLDER = "{problem}"


@dataclass(frozen=True)
class PromptTemplate:
    """A named way to present a problem to a model."""

    name: str
    """Registry name, recorded with the samples."""
    system: str = ""
    """System text; empty means no system message."""
    user: str = PLACEHOLDER
    """User text; ``{problem}`` is replaced by the problem statement."""
    use_chat_template: bool = True
    """Render through the tokenizer's chat template when it has one."""
    assistant_prefix: str = ""
    """Appended verbatim after the rendered prompt: the start of the model's answer."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a prompt template needs a name")
        if PLACEHOLDER not in self.user:
            raise ValueError(f"prompt template {self.name!r}: the user text must contain {PLACEHOLDER}")

    def to_dict(self) -> dict[str, Any]:
        """All fields, for the sample store's header."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> PromptTemplate:
        """Build from a mapping (a YAML entry or a store header); ``where`` names the source in errors."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown prompt template field(s) {unknown}; known: {sorted(known)}")
        for key, value in data.items():
            expected = bool if key == "use_chat_template" else str
            if not isinstance(value, expected):
                raise ValueError(f"{where}: field {key!r} must be a {expected.__name__}, got {type(value).__name__}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None


QWEN_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."

R1_ZERO_INSTRUCTION = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)

PROMPTS: Registry[PromptTemplate] = Registry("prompt template")

for _template in (
    PromptTemplate("qwen-boxed", system=QWEN_COT_SYSTEM),
    PromptTemplate("r1", user=R1_ZERO_INSTRUCTION + "\nUser: {problem}\nAssistant:", use_chat_template=False),
    PromptTemplate("none", use_chat_template=False),
    PromptTemplate(
        "code",
        system="You are an expert Python programmer.",
        user="Complete the following task in Python. Reply with one self-contained program in a ```python code "
        "block that defines the requested function.\n\n{problem}",
    ),
    PromptTemplate(
        "python-hint",
        system=QWEN_COT_SYSTEM,
        user="{problem}\n\nSolve it with Python: write a short program that computes the answer.",
    ),
):
    PROMPTS.add(_template.name, _template)


def load_template_file(path: Path) -> dict[str, PromptTemplate]:
    """The templates of a YAML file (a mapping from name to fields); errors name the file and template."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML ({err})") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a mapping from template name to its fields")
    templates: dict[str, PromptTemplate] = {}
    for name, body in data.items():
        if not isinstance(body, dict):
            raise ValueError(f"{path}: template {name!r} must be a mapping of fields")
        templates[str(name)] = PromptTemplate.from_dict({"name": str(name), **body}, f"{path}: template {name!r}")
    return templates


def resolve_template(spec: str) -> PromptTemplate:
    """A registered name, a YAML file holding one template, or ``file.yaml:name``."""
    if spec in PROMPTS:
        return PROMPTS.get(spec)
    path, name = Path(spec).expanduser(), ""
    if not path.is_file() and ":" in spec:
        file_part, _, name = spec.rpartition(":")
        path = Path(file_part).expanduser()
    if not path.is_file():
        raise ValueError(
            f"unknown prompt template {spec!r}: neither a registered name ({', '.join(PROMPTS.names())}) "
            "nor a YAML file"
        )
    templates = load_template_file(path)
    if name:
        if name not in templates:
            raise ValueError(f"{path} has no template {name!r}; it has: {', '.join(templates)}")
        return templates[name]
    if len(templates) != 1:
        raise ValueError(f"{path} holds {len(templates)} templates; pick one with {path}:<name>")
    return next(iter(templates.values()))


def _render(template: PromptTemplate, problem: Problem, tokenizer: PreTrainedTokenizerBase | None) -> tuple[str, bool]:
    """The prompt text, and whether the chat template rendered it (then it already has its special tokens)."""
    user = template.user.replace(PLACEHOLDER, problem.prompt)
    if template.use_chat_template and tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": template.system}] if template.system else []
        messages.append({"role": "user", "content": user})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + template.assistant_prefix, True
    return "\n\n".join(part for part in (template.system, user) if part) + template.assistant_prefix, False


def render_prompt(template: PromptTemplate, problem: Problem, tokenizer: PreTrainedTokenizerBase | None) -> str:
    """The text a model sees for ``problem`` under ``template`` (plain rendering when ``tokenizer`` is None)."""
    return _render(template, problem, tokenizer)[0]


def encode_prompt(template: PromptTemplate, problem: Problem, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Token ids of the rendered prompt.

    Chat-rendered text already carries its special tokens, so the tokenizer adds none; plain text gets the
    tokenizer's usual ones (e.g. a BOS), as ``generate`` users would pass it.
    """
    text, chat = _render(template, problem, tokenizer)
    return list(tokenizer(text, add_special_tokens=not chat)["input_ids"])
