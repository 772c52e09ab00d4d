"""Perplexity from teacher-forced log-probs on config-built models (tiny Llama, character tokenizer)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from rlvr_lab.analysis.perplexity import ScoredResponses, perplexity, perplexity_matrix, response_logprobs
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer

PROMPTS = ["12+7=", "Compute 3*4.", "What is 81-9? ", "x", "Find 2^5 and explain"]


@pytest.fixture(scope="module")
def setup() -> Iterator[dict[str, object]]:
    # One thread: these models are tiny, and on a shared 2-core machine two threads contending with other
    # processes run ~25x slower than one. Restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tok = build_char_tokenizer()
    sharp = tiny_llama(len(tok), seed=0)
    with torch.no_grad():  # a 10x final-norm gain makes its next-token distributions peaked, like a trained model's
        sharp.model.norm.weight.mul_(10.0)
    models = {"sharp": sharp, "random": tiny_llama(len(tok), seed=1)}
    prompts = [tok(p)["input_ids"] for p in PROMPTS]
    greedy = {}
    for name, model in models.items():
        outs = []
        for ids in prompts:
            gen = model.generate(
                torch.tensor([ids]), max_new_tokens=12, do_sample=False, pad_token_id=0, eos_token_id=None
            )
            outs.append(gen[0, len(ids) :].tolist())
        greedy[name] = ScoredResponses(prompts, outs)
    yield {"models": models, "prompts": prompts, "greedy": greedy}
    torch.set_num_threads(threads)


def test_batched_logprobs_match_a_hand_computation(setup: dict[str, object]) -> None:
    model = setup["models"]["sharp"]  # type: ignore[index]
    prompts = setup["prompts"]
    # Responses of different lengths so that batches need padding.
    responses = [[5 + i] * (i + 1) for i in range(len(prompts))]  # type: ignore[arg-type]
    got = response_logprobs(model, prompts, responses, batch_size=2)  # type: ignore[arg-type]
    for prompt, response, lp in zip(prompts, responses, got, strict=True):  # type: ignore[call-overload]
        ids = torch.tensor([prompt + response])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].double()  # type: ignore[operator]
        want = [float(torch.log_softmax(logits[len(prompt) - 1 + t], dim=-1)[tok]) for t, tok in enumerate(response)]
        assert lp.shape == (len(response),)
        np.testing.assert_allclose(lp, want, atol=1e-5)


def test_own_greedy_outputs_are_least_perplexing(setup: dict[str, object]) -> None:
    matrix = perplexity_matrix(setup["models"], setup["greedy"], batch_size=3)  # type: ignore[arg-type]
    assert matrix.sources == ("sharp", "random") and matrix.scorers == ("sharp", "random")
    values = matrix.values
    # The peaked model finds its own greedy answers nearly certain; the random model finds them near-uniform.
    assert values[0, 0] < 1.5 < 20 < values[0, 1]
    # A greedy token is the argmax, so its probability is >= 1/V: own greedy perplexity never exceeds the vocab size.
    vocab = setup["models"]["random"].config.vocab_size  # type: ignore[index]
    assert values[1, 1] <= vocab
    assert matrix.as_dict()["perplexity"] == values.tolist()


def test_perplexity_formula_and_errors(setup: dict[str, object]) -> None:
    # Tokens of probability 1/2 and 1/8: exp(-(log 1/2 + log 1/8) / 2) = 4.
    assert perplexity([np.log([0.5]), np.log([0.125])]) == pytest.approx(4.0)
    assert perplexity([np.log([0.25, 0.25]), np.zeros(0)]) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="no response tokens"):
        perplexity([np.zeros(0)])
    model = setup["models"]["random"]  # type: ignore[index]
    with pytest.raises(ValueError, match="empty prompt"):
        response_logprobs(model, [[]], [[3]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exceed the context"):
        response_logprobs(model, [[3] * 1000], [[4] * 100])  # type: ignore[arg-type]
    assert math.isfinite(perplexity(response_logprobs(model, [[3]], [[4, 5]])))  # type: ignore[arg-type]
