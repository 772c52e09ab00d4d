"""Forward and backward of causal attention as a training step runs it, by backend and dtype, in one run.

Why: in the bfloat16 GRPO update of SmolLM2-135M (`roofline.py --stages train`), torch's CPU flash-attention
backward takes about a fifth of the step. This times ``F.scaled_dot_product_attention`` forward plus backward at
the update's shape (rows × heads × tokens × head dim, grouped kv heads as SmolLM2 has them) for the flash and math
backends in bfloat16 and float32, and prints each against float32 flash measured in the same process.

    python benchmarks/attention_backward.py                       # SmolLM2's shape: 16 x 9 (3 kv) x 96 x 64
    python benchmarks/attention_backward.py --rows 4 --tokens 512
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from rlvr_lab.runtime.threads import use_threads


def fwd_bwd_seconds(backend: SDPBackend, dtype: torch.dtype, args: argparse.Namespace) -> float:
    """Best of ``args.repeats`` CPU seconds for one forward and backward."""
    gen = torch.Generator().manual_seed(0)
    shape = (args.rows, args.heads, args.tokens, args.head_dim)
    kv_shape = (args.rows, args.kv_heads, args.tokens, args.head_dim)
    q = torch.randn(shape, generator=gen).to(dtype).requires_grad_()
    k = torch.randn(kv_shape, generator=gen).to(dtype).requires_grad_()
    v = torch.randn(kv_shape, generator=gen).to(dtype).requires_grad_()
    grad = torch.randn(shape, generator=gen).to(dtype)
    gqa = args.kv_heads != args.heads

    def step() -> None:
        q.grad = k.grad = v.grad = None
        with sdpa_kernel(backend):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        out.backward(grad)

    step()
    best = float("inf")
    for _ in range(args.repeats):
        start = time.process_time()
        step()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = (("rows", 16, "sequences"), ("heads", 9, "query heads"), ("kv-heads", 3, "key/value heads"))
    sizes += (("tokens", 96, "sequence length"), ("head-dim", 64, "head dimension"), ("repeats", 5, "timed runs"))
    for name, default, what in sizes:
        parser.add_argument(f"--{name}", type=int, default=default, help=f"{what} (default {default})")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the rlvr_lab rule)")
    args = parser.parse_args(argv)
    threads = use_threads(args.threads)
    cases = [
        ("flash", SDPBackend.FLASH_ATTENTION, torch.float32),
        ("flash", SDPBackend.FLASH_ATTENTION, torch.bfloat16),
        ("math", SDPBackend.MATH, torch.float32),
        ("math", SDPBackend.MATH, torch.bfloat16),
    ]
    times = {(name, dtype): fwd_bwd_seconds(backend, dtype, args) for name, backend, dtype in cases}
    baseline = times[("flash", torch.float32)]
    print(
        f"torch {torch.__version__}, {threads} thread(s), shape {args.rows}x{args.heads}({args.kv_heads})x"
        f"{args.tokens}x{args.head_dim}, forward + backward, CPU ms (best of {args.repeats})"
    )
    for (name, dtype), seconds in times.items():
        print(
            f"  {name:5s} {str(dtype).removeprefix('torch.'):8s} {seconds * 1e3:8.1f} ms  "
            f"{seconds / baseline:5.2f}x float32 flash"
        )


if __name__ == "__main__":
    main()
