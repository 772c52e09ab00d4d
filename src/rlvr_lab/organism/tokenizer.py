"""Character-level tokenizer for the organism, built with the ``tokenizers`` library.

Why characters: arithmetic is digit-by-digit, so a character vocabulary lets a 1M-parameter model learn
carries; and it keeps the vocabulary (~100 symbols) and the embedding matrix tiny. The tokenizer is saved as a
``tokenizer.json`` wrapped in ``PreTrainedTokenizerFast`` so ``AutoTokenizer.from_pretrained`` loads it.
"""

from __future__ import annotations

import string

from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

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
