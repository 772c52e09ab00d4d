"""The organism's tokenizers, built with the ``tokenizers`` library: characters, plus the corpus's fixed phrases.

Why characters: arithmetic is digit-by-digit, so one token per digit lets a small model learn the digits of a sum
from the digits of its operands (as Llama and Qwen tokenizers also split digits); and it keeps the vocabulary and
the embedding matrix tiny. Why phrases on top: the corpus is mostly fixed text (code fences, "The answer is",
the word problems' wording). As single tokens, a solution is about four times shorter than in characters, so
the same CPU minutes of pretraining see four times more problems, and a strategy is chosen by one token
(```` ```python ```` against "We get"). The phrases are the fixed pieces of the templates the corpus and the
problems are written with, so they cannot drift from the text. The tokenizer is saved as a ``tokenizer.json``
wrapped in ``PreTrainedTokenizerFast`` so ``AutoTokenizer.from_pretrained`` loads it.

A v2 organism adds its corpus's extra phrases (lead-ins, the python hint) and a chat template
(:data:`CHAT_TEMPLATE`) that renders a user message in the corpus's own prompt format, so the chat-rendered
templates (``python-hint``, ``qwen-boxed``) prompt the organism the way they prompt a real model: the user text is
the question, the system text is dropped (the organism has never seen one).
"""

from __future__ import annotations

import string
from string import Formatter

from tokenizers import AddedToken, Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

from rlvr_lab.organism.corpus import PROMPT_TEMPLATE, TEMPLATES
from rlvr_lab.organism.tasks import CONTAINERS, GROUPS, HAS_GETS_GIVES, NAMES, NOUNS, PHRASINGS, WORDS

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
SPECIALS = (PAD, EOS, UNK)
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \n"
"""Printable ASCII plus space and newline; anything else maps to <unk>."""


def build_char_tokenizer(alphabet: str = ALPHABET) -> PreTrainedTokenizerFast:
    """A fast tokenizer with ids 0, 1, 2 = <pad>, <eos>, <unk>, then one id per character of ``alphabet``."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in dict.fromkeys(alphabet):
        vocab[ch] = len(vocab)
    # BPE with an empty merge list splits text into single characters; Fuse joins them back on decode.
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        model_max_length=1024,
        clean_up_tokenization_spaces=False,
    )


def template_pieces(template: str) -> list[str]:
    """The literal text between the fields of a ``str.format`` template (``"Q: {p}\\nA: "``: ``Q: ``, ``\\nA: ``)."""
    return [literal for literal, *_ in Formatter().parse(template) if literal]


def organism_phrases() -> list[str]:
    """Multi-character tokens of the organism: template pieces and the words of the word problems."""
    templates = (*TEMPLATES, *PHRASINGS, HAS_GETS_GIVES, GROUPS)
    pieces = [piece for template in templates for piece in template_pieces(template)]
    words = [f" {w} " for w in WORDS.values()] + [*NAMES, *NOUNS, *(w for pair in CONTAINERS for w in pair)]
    return [p for p in dict.fromkeys(pieces + words) if len(p) > 1]


CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    + PROMPT_TEMPLATE.replace("{problem}", "{{ message['content'] }}")
    + "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
"""Jinja chat template of a v2 organism: each user turn as ``Q: ...\nA: ``, system turns dropped."""


def build_organism_tokenizer(extra_phrases: tuple[str, ...] = (), chat: bool = False) -> PreTrainedTokenizerFast:
    """The character tokenizer plus :func:`organism_phrases` and ``extra_phrases`` as whole tokens (matched
    leftmost-longest first), with :data:`CHAT_TEMPLATE` if ``chat``. The defaults build v1's tokenizer exactly."""
    tokenizer = build_char_tokenizer()
    phrases = [p for p in dict.fromkeys([*organism_phrases(), *extra_phrases]) if len(p) > 1]
    tokenizer.add_tokens([AddedToken(p, normalized=False) for p in phrases])
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
