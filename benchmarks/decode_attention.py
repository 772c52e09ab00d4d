"""The lean decoder's decode step with its grouped-query attention against SDPA's ``enable_gqa``, in one process.

Why: in a decode step each row has one query per head. With ``enable_gqa`` torch's CPU flash kernel gets
``rows x query heads`` blocks of one query each; the decoder instead passes the query heads that share a key head
as that head's query positions (:func:`rlvr_lab.engines.lean_decoder.decode_attention`), ``rows x key heads``
blocks of several queries. For a model whose query heads outnumber its key heads (SmolLM2-135M: 9 over 3) the
kernel's per-block cost is paid a third as often. This times both on the same decoder, prompts and tokens:
``--new-tokens`` steps from a prefilled cache (the attended span grows as in sampling), alternating the two
variants ``--repeats`` times, and prints the best milliseconds per step of each, their ratio and the largest
difference between their logits after the first step (the maths is the same, the rounding is not).

    python benchmarks/decode_attention.py --threads 1            # SmolLM2-135M, bfloat16, batch 32
    python benchmarks/decode_attention.py --threads 2 --dtype float32
    python benchmarks/decode_attention.py --threads 1 --profile      # also torch.profiler's table of each variant
    python benchmarks/decode_attention.py --threads 1 --kernel       # and the C++ kernel of attention_kernel.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

import rlvr_lab.engines.lean_decoder as lean
from rlvr_lab.models.loading import load_model
from rlvr_lab.runtime.threads import use_threads


def enable_gqa(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """The baseline: one query per (row, query head), key heads shared through ``enable_gqa``."""
    gqa = keys.shape[1] != q.shape[1]
    return F.scaled_dot_product_attention(q.unsqueeze(2), keys, values, attn_mask=mask, scale=scale, enable_gqa=gqa)


VARIANTS = {"enable_gqa": enable_gqa, "grouped": lean.decode_attention}


def decode_ms(model, dtype: torch.dtype, prompts: torch.Tensor, new_tokens: int) -> tuple[float, torch.Tensor]:
    """Wall milliseconds per step of ``new_tokens`` greedy steps after prefilling ``prompts``; the first logits."""
    rows, cached = prompts.shape
    decoder = lean.LeanDecoder(model, rows, cached + new_tokens + 1, dtype)
    with torch.inference_mode():
        logits = decoder.prefill(torch.arange(rows), prompts.tolist())
        positions = torch.full((rows,), cached)
        first = None
        start = time.perf_counter()
        for _ in range(new_tokens):
            logits = decoder.decode(logits.argmax(-1), positions, int(positions.max()) + 1)
            first = logits if first is None else first
            positions = positions + 1
        return (time.perf_counter() - start) / new_tokens * 1e3, first


def print_profile(model, dtype: torch.dtype, prompts: torch.Tensor, new_tokens: int, name: str) -> None:
    """torch.profiler's table (self CPU time) of ``new_tokens`` decode steps with the current attention, on stderr."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        decode_ms(model, dtype, prompts, new_tokens)
    print(f"torch.profiler, {name}: prefill and {new_tokens} decode steps", file=sys.stderr)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="model spec (default: smollm2-135m)")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"], help="(default: bfloat16)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: $RLVR_THREADS, else 1)")
    parser.add_argument("--batch", type=int, default=32, help="rows decoded together (default: 32)")
    parser.add_argument("--prompt-len", type=int, default=32, help="prompt tokens per row (default: 32)")
    parser.add_argument("--new-tokens", type=int, default=64, help="decode steps per timed run (default: 64)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant, alternating (default: 3)")
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler's table of each variant")
    parser.add_argument(
        "--kernel", action="store_true", help="also time attention_kernel.py's C++ kernel (built at first use)"
    )
    args = parser.parse_args()
    variants = dict(VARIANTS)
    if args.kernel:
        from attention_kernel import build, kernel_attention  # this script's folder is on sys.path when it runs

        build()  # compiled here, not inside the first timed run

        variants["kernel"] = kernel_attention
    threads = use_threads(args.threads)
    model, _ = load_model(args.model)
    dtype = getattr(torch, args.dtype)
    vocab = model.config.vocab_size
    prompts = torch.randint(0, vocab, (args.batch, args.prompt_len), generator=torch.Generator().manual_seed(0))
    best = {name: float("inf") for name in variants}
    first = {}
    for _ in range(args.repeats):
        for name, attention in variants.items():
            lean.decode_attention = attention  # the name LeanDecoder.decode looks up at each call
            ms, first[name] = decode_ms(model, dtype, prompts, args.new_tokens)
            best[name] = min(best[name], ms)
    if args.profile:
        for name, attention in variants.items():
            lean.decode_attention = attention
            print_profile(model, dtype, prompts, args.new_tokens, name)
    config = model.config
    kernel = {}
    if args.kernel:
        kernel = {
            "kernel_speedup": round(best["grouped"] / best["kernel"], 3),
            "kernel_max_first_logit_diff": float((first["kernel"].float() - first["grouped"].float()).abs().max()),
        }
    print(
        json.dumps(
            {
                "model": args.model,
                "heads": config.num_attention_heads,
                "kv_heads": config.num_key_value_heads,
                "dtype": args.dtype,
                "threads": threads,
                "batch": args.batch,
                "prompt_len": args.prompt_len,
                "new_tokens": args.new_tokens,
                "step_ms": {k: round(v, 2) for k, v in best.items()},
                "grouped_speedup": round(best["enable_gqa"] / best["grouped"], 3),
                "max_first_logit_diff": float((first["grouped"].float() - first["enable_gqa"].float()).abs().max()),
                **kernel,
            }
        )
    )


if __name__ == "__main__":
    main()
