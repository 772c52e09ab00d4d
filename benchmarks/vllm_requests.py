"""The ``vllm`` engine's two request forms against each other, alternated in one process: ``per-sample`` (one
vLLM request with ``n=1`` per sample) and ``per-problem`` (one request with ``n`` samples per problem).

Both use the same seeds (vLLM seeds child ``j`` of a request with seed ``s`` as ``s + j``), so the script also
checks that they drew the same tokens. Usage (``make test-engines`` builds ``.venv-vllm`` with vLLM's CPU build):
``PYTHONPATH=src .venv-vllm/bin/python benchmarks/vllm_requests.py [P N T REPS]`` (problems, samples per problem,
new tokens, repetitions; default 32 64 192 3). A config-built Llama (no download), log-probs not requested (as
``rlvr sample`` without ``--keep-tokens``), no stop token, so every sample is T tokens. Prints one JSON line per
timed call, then one with the per-repetition ratios (per-problem tokens/s over per-sample tokens/s).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rlvr_lab.engines import SampleRequest, SamplingConfig, make_engine
from rlvr_lab.engines.vllm_engine import VLLMOptions
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer


def main(problems: int = 32, n: int = 64, tokens: int = 192, reps: int = 3) -> None:
    where = Path(tempfile.mkdtemp())
    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=64, num_layers=2, num_heads=2, max_position_embeddings=256)
    model.save_pretrained(where)
    tokenizer.save_pretrained(where)
    options = VLLMOptions(  # on the CPU build gpu_memory_utilization is the share of host memory for the KV cache
        dtype="float32", max_model_len=256, enforce_eager=True, gpu_memory_utilization=0.05, logprobs=False
    )
    engine = make_engine("vllm", str(where), None, batch_size=256, options=options, eos_token_ids=())
    requests = [SampleRequest(tokenizer.encode(f"{i}+{i}="), f"p{i}", tuple(range(n))) for i in range(problems)]
    config = SamplingConfig(n=n, temperature=1.0, max_new_tokens=tokens, seed=0)
    engine.sample(requests[:2], SamplingConfig(n=2, temperature=1.0, max_new_tokens=4))  # warm-up, untimed

    speeds: dict[str, list[float]] = {"per-sample": [], "per-problem": []}
    identical: list[bool] = []
    for rep in range(reps):
        drawn = {}
        order = ("per-sample", "per-problem") if rep % 2 == 0 else ("per-problem", "per-sample")
        for form in order:  # alternated, so a change in the machine's load falls on both forms
            engine.requests = form
            start = time.perf_counter()
            drawn[form] = engine.sample(requests, config)
            seconds = time.perf_counter() - start
            count = sum(len(c.token_ids) for row in drawn[form] for c in row)
            speeds[form].append(count / seconds)
            line = {"rep": rep, "form": form, "seconds": round(seconds, 2), "tokens": count}
            print(json.dumps({**line, "tokens_per_s": round(count / seconds)}), flush=True)
        same = [
            a.token_ids == b.token_ids and a.sample_index == b.sample_index
            for row_a, row_b in zip(drawn["per-sample"], drawn["per-problem"], strict=True)
            for a, b in zip(row_a, row_b, strict=True)
        ]
        identical.append(all(same))
    ratios = [p / s for p, s in zip(speeds["per-problem"], speeds["per-sample"], strict=True)]
    print(
        json.dumps(
            {
                "problems": problems,
                "n": n,
                "tokens": tokens,
                "ratio_per_problem_over_per_sample": [round(r, 3) for r in ratios],
                "median_ratio": round(statistics.median(ratios), 3),
                "same_samples_every_rep": all(identical),
            }
        )
    )


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:5]))
