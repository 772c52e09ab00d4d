"""One bfloat16 decode step of the lean decoder, eager against ``torch.compile`` (inductor), against its own products.

Why: at batch 32 the sampler's decode step spends about half its time outside the matrix products (norms, rope,
residuals, SiLU, the cache write, attention: some 25 eager ops a layer), which keeps ``roofline.py``'s sample stage
well under the 70% of its roof that issue 20 asks for. Fusing those ops is what a compiler does, so this measures
how far inductor gets on the whole step: every layer of the decoder in one graph, the prepacked bfloat16 products
kept as they are (registered as a custom op, since inductor cannot lower ``mkldnn._linear_pointwise`` on a packed
weight that is not a frozen constant, and the RL trainer changes the weights between calls), attention left to
torch's CPU flash kernel. Three timings in one process, each the best of ``--repeats`` runs of ``--steps`` steps:

- **products**: the decoder's own packed projections alone, in a step's order, at the step's rows (its roof);
- **eager**: :meth:`rlvr_lab.engines.lean_decoder.LeanDecoder.decode`, as the sampler runs it;
- **compiled**: the same method through ``torch.compile`` (``--cpp-wrapper`` for inductor's C++ wrapper).

It prints each step's milliseconds, the products' share of each (the fraction of roof a whole sampler could reach at
most with that step, before token choice), the compile time and the largest logit difference from eager. Needs a CPU
with native bfloat16 and oneDNN (``packed_bf16_linear``); the first compile takes tens of seconds.

    python benchmarks/compiled_decode.py --threads 2                 # SmolLM2-135M, batch 32, 32 cached positions
    python benchmarks/compiled_decode.py --threads 1 --cpp-wrapper
    python benchmarks/compiled_decode.py --threads 2 --cpp-wrapper --profile --steps 10   # where a compiled step goes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable

import torch

from rlvr_lab.engines.lean_decoder import LeanDecoder, _PackedLinear
from rlvr_lab.models.loading import load_model
from rlvr_lab.runtime.precision import packed_bf16_linear
from rlvr_lab.runtime.threads import use_threads
from roofline import timed  # this script's folder is on sys.path when it runs


@torch.library.custom_op("rlvr_bench::packed_linear", mutates_args=())
def packed_linear(x: torch.Tensor, packed: torch.Tensor, out_features: int) -> torch.Tensor:
    """oneDNN's product on a prepacked bfloat16 weight, opaque to inductor (called as an external kernel)."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")


@packed_linear.register_fake
def _(x: torch.Tensor, packed: torch.Tensor, out_features: int) -> torch.Tensor:
    return x.new_empty(*x.shape[:-1], out_features)


@dataclasses.dataclass(frozen=True)
class OpaqueLinear:
    """A :class:`_PackedLinear` called through :func:`packed_linear` (no bias: SmolLM2's projections have none)."""

    packed: torch.Tensor
    out_features: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return packed_linear(x, self.packed, self.out_features)


def best_ms(work: Callable[[], object], steps: int, repeats: int) -> float:
    """Milliseconds a call of ``work`` takes: the best wall time of ``repeats`` runs of ``steps`` calls, per call."""

    def run() -> None:
        for _ in range(steps):
            work()

    return timed(run, repeats).wall / steps * 1e3


def products(decoder: LeanDecoder, rows: int) -> Callable[[], None]:
    """The step's products alone: every packed projection of :meth:`LeanDecoder.projections` on ``rows`` inputs of
    its width."""
    plan = [(lin, torch.randn(rows, int(lin.packed.shape[1])).to(decoder.dtype)) for lin in decoder.projections()]

    def work() -> None:
        for linear, x in plan:
            linear(x)

    return work


def opaque(decoder: LeanDecoder) -> LeanDecoder:
    """``decoder`` with every packed projection behind :func:`packed_linear` (the same weights, the same kernel)."""

    def wrap(linear: _PackedLinear) -> OpaqueLinear:
        return OpaqueLinear(linear.packed, int(linear.packed.shape[0]))  # packed as (out, in), like the weight

    decoder.layers = [
        dataclasses.replace(lay, qkv=wrap(lay.qkv), out=wrap(lay.out), gate_up=wrap(lay.gate_up), down=wrap(lay.down))
        for lay in decoder.layers
    ]
    decoder.head = wrap(decoder.head)
    return decoder


def step_parser(description: str) -> argparse.ArgumentParser:
    """The options every decode-step benchmark takes (this one and ``native_step.py``): model, threads, rows,
    cached positions, and how the best time is taken."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="smollm2-135m", help="model spec (default: smollm2-135m)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: $RLVR_THREADS, else 1)")
    parser.add_argument("--batch", type=int, default=32, help="rows decoded together (default: 32)")
    parser.add_argument("--prompt-len", type=int, default=32, help="cached positions before the step (default: 32)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed run (default: 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, best kept (default: 3)")
    return parser


def main() -> None:
    parser = step_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--cpp-wrapper", action="store_true", help="inductor's C++ wrapper instead of Python's")
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler's table of compiled steps")
    args = parser.parse_args()
    threads = use_threads(args.threads)
    if not packed_bf16_linear():
        sys.exit("this CPU or torch build has no native bfloat16 with oneDNN packing: nothing to compare")
    import torch._inductor.config as inductor

    inductor.cpp_wrapper = args.cpp_wrapper
    inductor.emulate_precision_casts = True  # bfloat16 rounding where eager rounds, so the logits can be compared

    model, _ = load_model(args.model)
    rows, cached = args.batch, args.prompt_len
    prompts = torch.randint(0, model.config.vocab_size, (rows, cached), generator=torch.Generator().manual_seed(0))
    decoders = [LeanDecoder(model, rows, cached + 8, torch.bfloat16) for _ in range(2)]  # eager, to compile
    if not all(isinstance(lin, _PackedLinear) for lin in decoders[0].projections()):
        sys.exit("oneDNN refused to pack this model's projections: nothing to compare")
    with torch.inference_mode():
        first, _ = (d.prefill(torch.arange(rows), prompts.tolist()) for d in decoders)
        tokens, positions, span = first.argmax(-1), torch.full((rows,), cached), cached + 1
        eager = decoders[0].decode(tokens, positions, span)
        step = torch.compile(opaque(decoders[1]).decode, dynamic=False)
        start = time.perf_counter()
        compiled = step(tokens, positions, span)
        compile_s = time.perf_counter() - start
        timings = {
            "products": best_ms(products(decoders[0], rows), args.steps, args.repeats),
            "eager": best_ms(lambda: decoders[0].decode(tokens, positions, span), args.steps, args.repeats),
            "compiled": best_ms(lambda: step(tokens, positions, span), args.steps, args.repeats),
        }
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(args.steps):
                    step(tokens, positions, span)
            print(f"torch.profiler, {args.steps} compiled steps:", file=sys.stderr)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), file=sys.stderr)
    result = {
        "model": args.model,
        "threads": threads,
        "batch": rows,
        "cached_positions": cached,
        "cpp_wrapper": args.cpp_wrapper,
        "step_ms": {k: round(v, 2) for k, v in timings.items()},
        "products_share": {k: round(timings["products"] / timings[k], 3) for k in ("eager", "compiled")},
        "compiled_speedup": round(timings["eager"] / timings["compiled"], 3),
        "compile_s": round(compile_s, 1),
        "max_logit_diff": float((compiled.float() - eager.float()).abs().max()),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
