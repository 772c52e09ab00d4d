"""Per-sample seeds (the ``vllm`` engine's requests) against one request per problem with ``n`` samples, seeded and
unseeded, in one run of vLLM (``make test-engines`` builds ``.venv-vllm`` with the CPU build).

Also checks what makes the seeded forms one sampling path: vLLM fans a request with ``n`` samples and seed ``s`` out
into ``n`` child requests seeded ``s + i`` (``vllm/v1/engine/parallel_sampling.py``), so child ``i`` equals a lone
request seeded ``s + i``. Usage: ``PYTHONPATH=src .venv-vllm/bin/python benchmarks/bench_vllm_seeds.py P N T``
(problems, samples per problem, new tokens; a config-built model, no download). Prints one JSON line per run.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from rlvr_lab.engines.base import SamplingConfig
from rlvr_lab.engines.vllm_engine import import_vllm, sampling_params_kwargs
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer


def main(problems: int, n: int, tokens: int) -> None:
    where = Path(tempfile.mkdtemp())
    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=64, num_layers=2, num_heads=2, max_position_embeddings=256)
    model.save_pretrained(where)
    tokenizer.save_pretrained(where)
    vllm = import_vllm()
    llm = vllm.LLM(
        model=str(where),
        dtype="float32",
        max_model_len=256,
        enforce_eager=True,
        max_num_seqs=256,
        gpu_memory_utilization=0.05,  # on the CPU build: the share of host memory for the KV cache
        logprobs_mode="raw_logprobs",
    )
    prompts = [{"prompt_token_ids": tokenizer(f"{i}+{i}=")["input_ids"]} for i in range(problems)]
    config = SamplingConfig(n=n, temperature=1.0, max_new_tokens=tokens, seed=0)
    base = {"temperature": 1.0, "top_p": 1.0, "max_tokens": tokens, "ignore_eos": True, "stop_token_ids": []}

    def timed(label: str, requests: list, params: list) -> None:
        start = time.perf_counter()
        outputs = llm.generate(requests, params, use_tqdm=False)
        seconds = time.perf_counter() - start
        count = sum(len(o.token_ids) for r in outputs for o in r.outputs)
        print(
            json.dumps({"path": label, "seconds": round(seconds, 3), "tokens": count, "tokens_per_s": count / seconds})
        )

    llm.generate(prompts, [vllm.SamplingParams(n=n, **base) for _ in prompts], use_tqdm=False)  # warm-up, untimed
    for _ in range(2):
        per_sample = [
            vllm.SamplingParams(**sampling_params_kwargs(config, f"p{i}", j, (), logprobs=False))
            for i in range(problems)
            for j in range(n)
        ]
        timed("per-sample seeds, n=1 each (ours)", [p for p in prompts for _ in range(n)], per_sample)
        timed(
            "one request per problem, n samples, one seed",
            prompts,
            [vllm.SamplingParams(n=n, seed=1000 + i, **base) for i in range(problems)],
        )
        timed(
            "one request per problem, n samples, no seed",
            prompts,
            [vllm.SamplingParams(n=n, **base) for _ in range(problems)],
        )
    fanned = llm.generate([prompts[0]], [vllm.SamplingParams(n=4, seed=77, **base)], use_tqdm=False)[0].outputs
    alone = [
        llm.generate([prompts[0]], [vllm.SamplingParams(n=1, seed=77 + i, **base)], use_tqdm=False)[0].outputs[0]
        for i in range(4)
    ]
    same = [list(a.token_ids) == list(b.token_ids) for a, b in zip(fanned, alone, strict=True)]
    print(json.dumps({"child_i_equals_a_request_seeded_seed_plus_i": same}))


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))
