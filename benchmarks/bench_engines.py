"""Benchmark (b): tokens/s of the ``torch`` engine against transformers ``generate``, same model, same run.

Config-built Llama models of about 2M and 20M parameters (:func:`rlvr_lab.models.tiny_llama`), 64 distinct
prompts of 16 tokens (batch 64, one sample each, so prompt sharing gives the engine no edge), 128 new tokens,
sampling at temperature 1 with no truncation, eos disabled on both sides so every completion has full length.
The engines alternate ``--repeats`` times and each keeps its fastest run (wall clock and, more stable
on a shared machine, the process's CPU time): the machine is shared and noisy, so
only ratios measured side by side in one run mean anything. One intra-op thread by default: on a shared
two-core machine a second OpenMP thread makes every parallel kernel (SDPA above all) wait a scheduler slice
for a busy core, and the timings then measure the other tenants rather than the engines.

``torch`` does more than ``generate`` here (it also returns raw log-probs and decoded text), so the ratio
is conservative. ``--paths`` adds the engine's generic decoder (the HF forward with ``past_key_values``).

    python benchmarks/bench_engines.py            # both sizes, 128 new tokens
    python benchmarks/bench_engines.py --quick    # the 2M model, 32 new tokens, one repeat
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import NamedTuple

import torch

from rlvr_lab.engines import SampleRequest, SamplingConfig
from rlvr_lab.engines.base import DecoderPath
from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer

MODELS = {
    # name: (vocab, hidden, layers, heads)
    "2M": (512, 128, 8, 4),
    "20M": (2048, 384, 8, 6),
}
PROMPT_LEN = 16


class Timing(NamedTuple):
    """Wall-clock seconds, and CPU seconds of this process (what the work cost, whoever else shares the cores)."""

    wall: float
    cpu: float


def timed(work: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def run_generate(
    model: torch.nn.Module, prompts: torch.Tensor, new_tokens: int, temperature: float = 1.0, top_p: float = 1.0
) -> None:
    """One batched ``generate`` call: sampling (T=1 and no top-p unless asked), no top-k, no eos."""
    torch.manual_seed(0)
    with torch.inference_mode():
        out = model.generate(
            input_ids=prompts,
            attention_mask=torch.ones_like(prompts),
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=top_p,
            max_new_tokens=new_tokens,
            eos_token_id=None,
            pad_token_id=0,
        )
    assert out.shape == (prompts.shape[0], prompts.shape[1] + new_tokens), out.shape


def run_engine(engine: TorchEngine, prompts: torch.Tensor, new_tokens: int) -> None:
    """One ``engine.sample`` call over the same prompts and settings."""
    requests = [SampleRequest(row.tolist(), key=f"p{i}") for i, row in enumerate(prompts)]
    out = engine.sample(requests, SamplingConfig(temperature=1.0, max_new_tokens=new_tokens))
    assert all(c[0].num_tokens == new_tokens for c in out)


def bench_model(name: str, batch: int, new_tokens: int, repeats: int, paths: bool) -> None:
    vocab, hidden, layers, heads = MODELS[name]
    model = tiny_llama(vocab, hidden_size=hidden, num_layers=layers, num_heads=heads)
    params = sum(p.numel() for p in model.parameters())
    tokenizer = build_char_tokenizer()  # only decodes the text field; ids above its vocabulary decode to ""
    prompts = torch.randint(3, vocab, (batch, PROMPT_LEN), generator=torch.Generator().manual_seed(0))

    def engine_runner(path: DecoderPath) -> Callable[[], None]:
        return lambda: run_engine(TorchEngine(model, tokenizer, eos_token_ids=(), path=path), prompts, new_tokens)

    runners = {"hf generate": lambda: run_generate(model, prompts, new_tokens), "torch (lean)": engine_runner("lean")}
    if paths:
        runners["torch (generic)"] = engine_runner("generic")
    runs: dict[str, list[Timing]] = {label: [] for label in runners}
    for _ in range(repeats):
        for label, work in runners.items():
            runs[label].append(timed(work))
    best = {label: Timing(min(t.wall for t in ts), min(t.cpu for t in ts)) for label, ts in runs.items()}
    base = best["hf generate"]
    tokens = batch * new_tokens
    print(f"\n{name} model: {params / 1e6:.1f}M parameters, batch {batch}, {new_tokens} new tokens, best of {repeats}")
    print(f"  {'':<16} {'tokens/s':>9}  {'wall s':>7}  {'cpu s':>7}  {'x generate (wall)':>17}  {'(cpu)':>6}")
    for label, t in best.items():
        print(
            f"  {label:<16} {tokens / t.wall:9.0f}  {t.wall:7.2f}  {t.cpu:7.2f}  "
            f"{base.wall / t.wall:17.2f}  {base.cpu / t.cpu:6.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the 2M model only, 32 new tokens, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per engine (default 3, quick 1)")
    parser.add_argument("--new-tokens", type=int, default=None, help="tokens per completion (default 128)")
    parser.add_argument("--batch", type=int, default=64, help="completions sampled together (default 64)")
    parser.add_argument("--paths", action="store_true", help="also time the engine's generic decoder")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads; 0 keeps torch's default")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    new_tokens = args.new_tokens or (32 if args.quick else 128)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in ["2M"] if args.quick else list(MODELS):
        bench_model(name, args.batch, new_tokens, repeats, args.paths)


if __name__ == "__main__":
    main()
