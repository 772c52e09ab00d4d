"""One bfloat16 decode step of SmolLM2-135M: the native step (one C++ call) against the eager lean step and its
own products, alternating in one process; and, with ``--source``, another build of the C++ against the shipped one.

Why: ``roofline.py --paths lean,native`` times whole ``sample`` calls (prefill, token choice and all); this isolates
the step that ``engines/native_step.cpp`` replaces, so a change to that file can be judged on the step alone.
Three timings per round, each the best of ``--repeats`` runs of ``--steps`` steps at ``--prompt-len`` cached
positions: the step's packed products alone (its roof), the eager lean step, the native step (plus ``--source``'s
build, under a name of its own). Then a few greedy steps of a float32 decoder on the same rows give each path's
largest logit gap to float32 (the eager bfloat16 step's is the yardstick: the native step rounds where it rounds,
summing in another order). Needs a CPU where oneDNN prepacks bfloat16 (``packed_bf16_linear``) and a C++ compiler.

    python benchmarks/native_step.py --threads 2                 # products, eager, native: ms a step, 4 rounds
    python benchmarks/native_step.py --threads 1 --prompt-len 48 --source /tmp/variant.cpp   # a variant of the C++
"""

from __future__ import annotations

import json
import sys

import torch

from compiled_decode import best_ms, products, step_parser  # this script's folder is on sys.path when it runs
from rlvr_lab.engines import native_step
from rlvr_lab.engines.lean_decoder import LeanDecoder
from rlvr_lab.models.loading import load_model
from rlvr_lab.runtime.precision import packed_bf16_linear
from rlvr_lab.runtime.threads import use_threads


def main() -> None:
    parser = step_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds of all timings, alternating (default: 4)")
    parser.add_argument("--source", default=None, help="another C++ source of decode_step to time beside the shipped")
    args = parser.parse_args()
    threads = use_threads(args.threads)
    if not packed_bf16_linear() or native_step.missing_build_tools() is not None:
        sys.exit("needs a CPU where oneDNN prepacks bfloat16, a C++ compiler and ninja: nothing to compare")
    builds = {"native": native_step.build()}
    if args.source:
        from torch.utils.cpp_extension import load

        builds["source"] = load("rlvr_bench_native_variant", sources=[args.source], **native_step.BUILD_FLAGS)

    model, _ = load_model(args.model)
    rows, cached = args.batch, args.prompt_len
    prompts = torch.randint(0, model.config.vocab_size, (rows, cached), generator=torch.Generator().manual_seed(0))
    eager, native = (LeanDecoder(model, rows, cached + 16, torch.bfloat16, native=n) for n in (False, True))
    reference = LeanDecoder(model, rows, cached + 16, torch.float32)
    rounds = []
    with torch.inference_mode():
        for decoder in (eager, native, reference):
            logits = decoder.prefill(torch.arange(rows), prompts.tolist())
        tokens, positions, span = logits.argmax(-1), torch.full((rows,), cached), cached + 1

        def with_build(name: str):
            def step() -> None:
                native_step.build = lambda: builds[name]  # decode_step calls build() for its extension
                native.decode(tokens, positions, span)

            return step

        shipped_build = native_step.build
        for _ in range(args.rounds):
            timing = {"products": best_ms(products(eager, rows), args.steps, args.repeats)}
            timing["eager"] = best_ms(lambda: eager.decode(tokens, positions, span), args.steps, args.repeats)
            for name in builds:
                timing[name] = best_ms(with_build(name), args.steps, args.repeats)
            rounds.append({k: round(v, 2) for k, v in timing.items()})
            print(json.dumps(rounds[-1]), flush=True)
        native_step.build = shipped_build
        gaps = {"eager": 0.0, "native": 0.0}
        for _ in range(4):  # greedy steps fed by the float32 decoder's choices
            expected = reference.decode(tokens, positions, span)
            for name, decoder in (("eager", eager), ("native", native)):
                gap = (decoder.decode(tokens, positions, span).float() - expected).abs().max().item()
                gaps[name] = max(gaps[name], gap)
            tokens, positions, span = expected.argmax(-1), positions + 1, span + 1
    best = {k: min(r[k] for r in rounds) for k in rounds[0]}
    result = {
        "model": args.model,
        "threads": threads,
        "batch": rows,
        "cached_positions": cached,
        "best_step_ms": best,
        "products_share": {k: round(best["products"] / v, 3) for k, v in best.items() if k != "products"},
        "max_logit_gap_to_float32": {k: round(v, 3) for k, v in gaps.items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
