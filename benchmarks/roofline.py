"""Each stage of rlvr-lab against the machine's roof for the model at hand, and against its peer, in one run.

The roof of a stage is the time its model's own linear layers take as bare matrix products (for training the two
products of the backward pass too), one pass over the model's distinct weights as a forward pass streams them, at
exactly the shapes the stage runs, timed in this run, in this process, in the stage's dtype, with the fastest product
torch offers there: ``F.linear``, or where oneDNN can prepack weights the prepacked product, whichever is faster
(bfloat16 where :func:`rlvr_lab.runtime.precision.packed_bf16_linear` says so; float32 wherever oneDNN is built in, as
the native step runs it: :func:`rlvr_lab.engines.native_step.packs_float32`; forward products only: a training
step's weights change every step). ``roof_plain_cpu_s`` keeps the plain ``F.linear`` roof beside it,
so a fraction can be read against either. A stage at 100% of its roof would spend all its time in matrix products at
the speed the BLAS reaches on those shapes alone; everything else it does (attention, norms, the log-softmax over the
vocabulary, sampling, Python) shows as the gap. Beside each fraction, the ratio against the peer that does the same
work in the same run:

- **sample**: our ``torch`` engine against transformers ``generate`` (``batch`` prompts of ``prompt_len`` random
  tokens, ``new_tokens`` new tokens each, temperature 1 and no top-p unless ``--temperature`` / ``--top-p`` say
  otherwise, eos disabled so every row has full length), model and KV
  cache in the stage's dtype; both get the model loaded in that dtype, as ``rlvr sample`` loads it (our engine still
  packs its weights inside every timed call). ``--batch`` takes a list: the sample stage runs at each batch and the
  run names the batch with the most tokens per second. Roof: prefill (body at ``batch × prompt_len`` rows, head at
  ``batch``) plus ``new_tokens - 1`` decode steps (all linears at ``batch`` rows).
- **train**: one on-policy GRPO update of our trainer (:func:`rlvr_lab.rl.update.update_policy`: forward, backward,
  grad clip, AdamW as the trainer builds it) against TRL's ``GRPOTrainer`` loss on the same batch (``compute_loss``,
  backward, fused AdamW as TRL's default), ``train_rows`` rows of ``prompt_len`` + ``new_tokens`` tokens. bfloat16 is
  autocast over float32 weights on both sides (TRL's ``bf16=True`` does the same through accelerate). Roof: forward
  and both backward products of the body at every token, of the head at the ``new_tokens + 1`` positions whose logits
  are kept.
- **grade**: :func:`rlvr_lab.grading.grade.grade_samples` on MATH-500 × 64 samples (the workload of
  ``bench_grading.py``) against the plain math-verify loop. Its roof is one math-verify call per distinct (gold,
  answer) pair, timed one by one here: what no cache can avoid. Dtype plays no part.

Timing: CPU seconds of the process (plus the grader's worker processes) and wall seconds, each the best of
``--repeats`` (the ratio of the median CPU times and our slowest run are printed beside it: ``--repeats 3`` or more
on a shared machine); ``--threads 1,2`` repeats every stage at each thread count, the roof timed again at each. The
machine this was written on is shared by many processes: wall clock there measures the other tenants, CPU time the
work; with one torch thread (the default, :mod:`rlvr_lab.runtime.threads`) CPU time is what an idle core would take.
Wall seconds are printed too. bfloat16 rows run only where the CPU has native bfloat16
(:mod:`rlvr_lab.runtime.precision`), unless ``--dtypes`` names it.

    python benchmarks/roofline.py --model smollm2-135m            # batch 32, 32-token prompts, 64 new tokens
    python benchmarks/roofline.py --stages sample --dtypes bfloat16 --threads 1,2 --batch 32,64,128,256
    python benchmarks/roofline.py --stages sample --dtypes bfloat16 --prompt-len 256 --temperature 0.6 --top-p 0.95
    python benchmarks/roofline.py --stages sample --dtypes bfloat16 --threads 1,2 --paths lean,native  # issue 20
    python benchmarks/roofline.py --model qwen-math-like --stages sample,train
    python benchmarks/roofline.py --model qwen-math-like-v2 --stages sample --dtypes float32 --batch 256 \
        --prompt-len 17 --new-tokens 24 --paths lean,native           # issue 19: the organisms' float32 sampling
    python benchmarks/roofline.py --stages train --dtypes bfloat16 --train-attention float32  # no autocast in attention
    python benchmarks/roofline.py --model tiny --quick            # a config-built Llama, small everything
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rlvr_lab.engines import SampleRequest, SamplingConfig
from rlvr_lab.engines.native_step import packs_float32
from rlvr_lab.engines.torch_engine import TorchEngine
from rlvr_lab.rl.attention import float32_attention
from rlvr_lab.runtime.precision import bf16_supported, dtype_name, packed_bf16_linear
from rlvr_lab.runtime.threads import use_threads

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the peers of bench_engines.py and bench_grading.py


@dataclass(frozen=True)
class Timing:
    """CPU seconds (this process and its grading workers) and wall seconds of one measured call: the best of the
    repeats, and the median and slowest CPU seconds (on a shared machine the spread says how much to trust a ratio)."""

    cpu: float
    wall: float
    cpu_median: float = float("nan")
    cpu_max: float = float("nan")


def timed(work: Callable[[], object], repeats: int, extra_cpu: Callable[[], float] = lambda: 0.0) -> Timing:
    """``repeats`` runs of ``work``: best CPU and best wall (minimised separately), median and slowest CPU."""
    runs = []
    for _ in range(repeats):
        cpu, wall, before = time.process_time(), time.perf_counter(), extra_cpu()
        work()
        runs.append(Timing(time.process_time() - cpu + extra_cpu() - before, time.perf_counter() - wall))
    cpus = [r.cpu for r in runs]
    return Timing(min(cpus), min(r.wall for r in runs), statistics.median(cpus), max(cpus))


# ---------------------------------------------------------------------------------------------- the roof


def linear_shapes(model: nn.Module) -> tuple[Counter, tuple[int, int]]:
    """``(out, in)`` shapes of the body's linear layers with their counts, and the output head's shape."""
    head = model.get_output_embeddings()
    body = Counter(
        (m.out_features, m.in_features) for m in model.modules() if isinstance(m, nn.Linear) and m is not head
    )
    return body, (head.out_features, head.in_features)


def linear_weights(model: nn.Module) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The body's linear weights in module order, and the output head's weight."""
    head = model.get_output_embeddings()
    body = [m.weight for m in model.modules() if isinstance(m, nn.Linear) and m is not head]
    return body, head.weight


def products_time(
    weights: list[torch.Tensor], rows: list[int], backward: bool, repeats: int, packed: bool = False
) -> Timing:
    """One pass of ``(rows[i], in) x (in, out)`` products over the distinct ``weights`` (and, with ``backward``,
    their two gradient products), in order, as a forward pass reads them.

    Every weight is its own tensor, as in the model: at decode shapes the products stream the whole model's weights
    from memory at every step, and a roof timed on one weight per shape, hot in the cache, would be faster than any
    real step can be (1.3x on SmolLM2 at 32 rows). ``packed``: forward products on weights prepacked by oneDNN
    (bfloat16, or float32 as the native step runs them).
    """
    dtype = weights[0].dtype
    inputs = {(r, w.shape[1]): torch.randn(r, w.shape[1], dtype=dtype) for r, w in zip(rows, weights, strict=True)}
    grads = {(r, w.shape[0]): torch.randn(r, w.shape[0]).to(dtype) for r, w in zip(rows, weights, strict=True)}
    plan = [(inputs[r, w.shape[1]], grads[r, w.shape[0]], w) for r, w in zip(rows, weights, strict=True)]
    if packed:
        stored = [torch.ops.mkldnn._reorder_linear_weight(w, r) for r, w in zip(rows, weights, strict=True)]

        def forward(x: torch.Tensor, i: int) -> None:
            torch.ops.mkldnn._linear_pointwise(x, stored[i], None, "none", [], "")
    else:

        def forward(x: torch.Tensor, i: int) -> None:
            F.linear(x, weights[i])

    def work() -> None:
        for i, (x, grad, w) in enumerate(plan):
            forward(x, i)
            if backward:
                grad @ w  # d input
                grad.t() @ x  # d weight

    work()  # first call: BLAS kernel selection, page faults
    return timed(work, repeats)


class Roof:
    """Bare-product timings over one model's own linear weights, cached per (rows, dtype, backward, kernel)."""

    def __init__(self, model: nn.Module, repeats: int) -> None:
        self.body, self.head = linear_shapes(model)
        self.weights = linear_weights(model)
        self.repeats = repeats
        self.cache: dict[tuple, Timing] = {}
        self.cast: dict[torch.dtype, list[torch.Tensor]] = {}

    def _weights(self, dtype: torch.dtype) -> list[torch.Tensor]:
        """Body then head weights in ``dtype`` (cast once, outside any timing)."""
        if dtype not in self.cast:
            self.cast.clear()  # one dtype's copies at a time
            body, head = self.weights
            self.cast[dtype] = [w.detach().to(dtype) for w in [*body, head]]
        return self.cast[dtype]

    def time(
        self, body_rows: int, head_rows: int, dtype: torch.dtype, backward: bool = False, plain: bool = False
    ) -> Timing:
        """Every body linear at ``body_rows`` rows plus the head at ``head_rows`` rows, with the fastest kernel
        (``plain``: ``F.linear`` only)."""
        key = (body_rows, head_rows, dtype, backward, plain, torch.get_num_threads())
        if key not in self.cache:
            weights = self._weights(dtype)
            rows = [body_rows] * (len(weights) - 1) + [head_rows]
            best = products_time(weights, rows, backward, self.repeats)
            prepacks = packed_bf16_linear() if dtype == torch.bfloat16 else packs_float32(torch.device("cpu"))
            if not plain and not backward and prepacks:
                packed = products_time(weights, rows, backward, self.repeats, packed=True)
                best = min(best, packed, key=lambda t: t.cpu_median)
            self.cache[key] = best
        return self.cache[key]

    def flops(self, body_rows: int, head_rows: int, backward: bool = False) -> float:
        per = 6 if backward else 2
        body = sum(o * i * n for (o, i), n in self.body.items()) * body_rows
        return per * (body + self.head[0] * self.head[1] * head_rows)


def add(*timings: Timing, times: tuple[int, ...] | None = None) -> Timing:
    """``sum(times[i] * timings[i])``, field by field (a stage's roof is a weighted sum of measured passes)."""
    weights = times or (1,) * len(timings)
    return Timing(
        *(
            sum(getattr(t, name) * k for t, k in zip(timings, weights, strict=True))
            for name in ("cpu", "wall", "cpu_median", "cpu_max")
        )
    )


# ---------------------------------------------------------------------------------------------- models


def load(spec: str) -> tuple[nn.Module, object]:
    """``(model, tokenizer)`` in float32: a model spec, or ``tiny`` (a config-built 4-layer Llama)."""
    if spec == "tiny":
        from rlvr_lab.models.loading import tiny_llama
        from rlvr_lab.organism.tokenizer import build_char_tokenizer

        tokenizer = build_char_tokenizer()
        return tiny_llama(2048, hidden_size=256, num_layers=4, num_heads=4), tokenizer
    from rlvr_lab.models.loading import load_model

    return load_model(spec)


def cast(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The model in ``dtype`` for the peer (``generate``); the float32 original is kept for the others."""
    import copy

    return model if dtype == torch.float32 else copy.deepcopy(model).to(dtype)


# ---------------------------------------------------------------------------------------------- stages


def stage_sample(model, tokenizer, roof: Roof, dtype: torch.dtype, args: argparse.Namespace) -> dict:
    from bench_engines import run_generate  # the peer exactly as the engine benchmark runs it

    B, P, N = args.batch, args.prompt_len, args.new_tokens
    vocab = model.get_output_embeddings().out_features
    prompts = torch.randint(3, vocab, (B, P), generator=torch.Generator().manual_seed(0))
    requests = [SampleRequest(row.tolist(), key=f"p{i}") for i, row in enumerate(prompts)]
    config = SamplingConfig(temperature=args.temperature, top_p=args.top_p, max_new_tokens=N)
    peer_model = cast(model, dtype)  # both sample the model loaded in the dtype, as `rlvr sample` loads it
    engine = TorchEngine(peer_model, tokenizer, batch_size=B, eos_token_ids=(), dtype=dtype, path=args.path)

    def ours() -> None:
        out = engine.sample(requests, config)
        assert all(len(c[0].token_ids) == N for c in out)

    def peer() -> None:
        run_generate(peer_model, prompts, N, args.temperature, args.top_p)

    bound = add(roof.time(B * P, B, dtype), roof.time(B, B, dtype), times=(1, N - 1))
    plain = add(roof.time(B * P, B, dtype, plain=True), roof.time(B, B, dtype, plain=True), times=(1, N - 1))
    flops = roof.flops(B * P, B) + (N - 1) * roof.flops(B, B)
    work = f"{B * N} tokens" + ("" if args.path == "auto" else f", {args.path}")
    row = measure("sample", ours, peer, bound, flops, args.repeats, work)
    return {
        **row,
        "batch": B,
        "tokens": B * N,
        "path": args.path,
        "roof_plain_cpu_s": plain.cpu,
        "roof_plain_wall_s": plain.wall,
    }


def _update_batch(vocab: int, args: argparse.Namespace):
    from rlvr_lab.rl.logprobs import pack

    gen = torch.Generator().manual_seed(1)
    R, P, C = args.train_rows, args.prompt_len, args.new_tokens
    prompts = torch.randint(3, vocab, (R, P), generator=gen).tolist()
    completions = torch.randint(3, vocab, (R, C), generator=gen).tolist()
    advantages = torch.randn(R, generator=gen)
    return pack(prompts, completions, pad_id=0), advantages


def stage_train(model, tokenizer, roof: Roof, dtype: torch.dtype, args: argparse.Namespace) -> dict:
    import copy

    from rlvr_lab.rl.losses import LossConfig
    from rlvr_lab.rl.schedule import Schedule
    from rlvr_lab.rl.update import UpdateConfig, adamw, update_policy

    R, P, C = args.train_rows, args.prompt_len, args.new_tokens
    vocab = model.get_output_embeddings().out_features
    batch, advantages = _update_batch(vocab, args)
    ours_model = copy.deepcopy(model)
    if args.train_attention == "float32":
        ours_model.set_attn_implementation(float32_attention())
    optimizer = adamw(ours_model.parameters(), 1e-7, (0.9, 0.99), 0.0, dtype)  # as the trainer builds it
    config = UpdateConfig(
        schedule=Schedule(prompts_per_step=1, group_size=R, mini_batch_size=R, epochs=1),
        loss=LossConfig(),
        micro_batch_size=R,
        max_len=C,
        grad_clip=1.0,
        dtype=dtype,
    )

    def ours() -> None:
        update_policy(ours_model, None, optimizer, batch, advantages, config, seed=0, step=1)

    peer = trl_update(copy.deepcopy(model), tokenizer, batch, advantages, dtype, args)
    bound = roof.time(R * (P + C), R * (C + 1), dtype, backward=True)
    flops = roof.flops(R * (P + C), R * (C + 1), backward=True)
    row = measure("train", ours, peer, bound, flops, args.repeats, f"{R} x {P + C} tokens")
    return {**row, "batch": R, "tokens": R * (P + C)}


def trl_update(model, tokenizer, batch, advantages, dtype: torch.dtype, args: argparse.Namespace):
    """TRL's GRPO loss, backward and AdamW step on our batch (prompts left-padded as TRL lays them out)."""
    try:
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as err:
        print(f"  (TRL not importable: {err}; no peer for the update)", file=sys.stderr)
        return None
    import tempfile

    R = batch.input_ids.shape[0]
    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=R,
        num_generations=R,
        max_completion_length=args.new_tokens,
        learning_rate=1e-7,
        beta=0.0,
        loss_type="grpo",
        use_cpu=True,
        bf16=False,  # autocast below, exactly as ours
        gradient_checkpointing=False,
        report_to=[],
        save_strategy="no",
    )
    if getattr(tokenizer, "pad_token", None) is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.convert_ids_to_tokens(0)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
        args=config,
        train_dataset=Dataset.from_list([{"prompt": "x"}] * R),
        processing_class=tokenizer,
    )
    P = int(batch.prompt_lengths.max())
    inputs = {
        "prompt_ids": batch.input_ids[:, :P],
        "prompt_mask": torch.ones(R, P, dtype=torch.long),
        "completion_ids": batch.completion_ids,
        "completion_mask": batch.completion_mask.long(),
        "advantages": advantages,
        "old_per_token_logps": None,
        "num_items_in_batch": batch.completion_mask.sum(),
    }
    optimizer = torch.optim.AdamW(trainer.model.parameters(), lr=1e-7, fused=True)  # TRL's default on torch 2.8+

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            loss = trainer.compute_loss(trainer.model, inputs)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def stage_grade(args: argparse.Namespace) -> dict:
    from bench_grading import make_workload, plain_loop
    from rlvr_lab.grading.equivalence import reference_equal
    from rlvr_lab.grading.extract import extract_answer
    from rlvr_lab.grading.grade import Grader, grade_samples

    problems, rows = make_workload(args.data_dir, args.grade_problems, 64, seed=0)
    pairs = {(problems[pid].answer, a) for (pid, _, text) in rows if (a := extract_answer(text).answer)}
    with Grader() as warm:  # the fork server is a one-time cost per process, as in bench_grading
        warm.verify([("x", "x")])
    bound = timed(lambda: [reference_equal(gold, answer) for gold, answer in pairs], 1)
    grader_box: list[Grader] = []

    def ours() -> None:
        with Grader() as grader:
            grader_box[:] = [grader]
            grade_samples(problems, rows, grader=grader)

    def worker_cpu() -> float:
        return grader_box[0].pool.worker_cpu_s if grader_box else 0.0

    ours_t = timed(ours, 1, worker_cpu)
    peer_t = timed(lambda: plain_loop(problems, rows), 1)
    return report_row("grade", ours_t, peer_t, bound, None, f"{len(rows)} samples, {len(pairs)} distinct pairs")


# ---------------------------------------------------------------------------------------------- output


def measure(name, ours, peer, bound: Timing, flops: float, repeats: int, work: str) -> dict:
    ours()  # warm-up: weight casts, allocator, kernel selection
    ours_t = timed(ours, repeats)
    peer_t = None
    if peer is not None:
        peer()
        peer_t = timed(peer, repeats)
    return report_row(name, ours_t, peer_t, bound, flops, work)


def report_row(name: str, ours: Timing, peer: Timing | None, bound: Timing, flops: float | None, work: str) -> dict:
    return {
        "stage": name,
        "work": work,
        "roof_cpu_s": bound.cpu,
        "roof_wall_s": bound.wall,
        "ours_cpu_s": ours.cpu,
        "ours_wall_s": ours.wall,
        "peer_cpu_s": None if peer is None else peer.cpu,
        "peer_wall_s": None if peer is None else peer.wall,
        "fraction_of_roof": bound.cpu / ours.cpu,
        "fraction_of_roof_wall": bound.wall / ours.wall,
        "fraction_of_roof_median": bound.cpu_median / ours.cpu_median,
        "ours_cpu_median_s": ours.cpu_median,
        "ours_cpu_max_s": ours.cpu_max,
        "vs_peer_median": None if peer is None else peer.cpu_median / ours.cpu_median,
        "vs_peer": None if peer is None else peer.cpu / ours.cpu,
        "roof_gflops": None if flops is None else flops / bound.cpu / 1e9,
        "ours_gflops": None if flops is None else flops / ours.cpu / 1e9,
    }


def print_table(rows: list[dict]) -> None:
    print(
        f"\n{'stage':<7} {'dtype':<9} {'thr':>3} {'work':<26} {'roof GFLOP/s':>12} {'ours GFLOP/s':>12} "
        f"{'of roof':>7} {'(wall)':>7} {'(med)':>7} {'x peer':>7} {'(wall)':>7} {'cpu s':>7} {'med':>7} {'max':>7} "
        f"{'wall s':>7} {'tok/s':>7}"
    )
    for r in rows:
        gf = "-" if r["roof_gflops"] is None else f"{r['roof_gflops']:.0f}"
        of = "-" if r["ours_gflops"] is None else f"{r['ours_gflops']:.0f}"
        peer = "-" if r["vs_peer"] is None else f"{r['vs_peer']:.2f}"
        peer_wall = "-" if r["peer_wall_s"] is None else f"{r['peer_wall_s'] / r['ours_wall_s']:.2f}"
        tokens = f"{r['tokens'] / r['ours_wall_s']:.0f}" if r.get("tokens") else "-"
        print(
            f"{r['stage']:<7} {r['dtype']:<9} {r.get('threads', '-'):>3} {r['work']:<26} {gf:>12} {of:>12} "
            f"{r['fraction_of_roof']:>7.0%} {r.get('fraction_of_roof_wall', float('nan')):>7.0%} "
            f"{r.get('fraction_of_roof_median', float('nan')):>7.0%} {peer:>7} {peer_wall:>7} {r['ours_cpu_s']:>7.2f} "
            f"{r.get('ours_cpu_median_s', float('nan')):>7.2f} {r.get('ours_cpu_max_s', float('nan')):>7.2f} "
            f"{r['ours_wall_s']:>7.2f} {tokens:>7}"
        )
    print(
        "(best of the repeats; 'of roof' = bare-product time / stage time, CPU then wall, then the ratio of the median "
        "CPU times; 'x peer' = peer time / our time, CPU then wall; cpu s = our CPU seconds, best, median and slowest "
        "of the repeats; tok/s = tokens / wall second)"
    )
    for key in sorted({(r["dtype"], r.get("threads")) for r in rows if r["stage"] == "sample"}, key=str):
        runs = [r for r in rows if r["stage"] == "sample" and (r["dtype"], r.get("threads")) == key]
        top = max(runs, key=lambda r: r["tokens"] / r["ours_wall_s"])
        print(
            f"sample {key[0]}, {key[1]} thread(s): most tokens/s at batch {top['batch']} "
            f"({top['tokens'] / top['ours_wall_s']:.0f} wall, {top['tokens'] / top['ours_cpu_s']:.0f} per CPU second)"
        )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", help="model spec, or 'tiny' (default: smollm2-135m)")
    parser.add_argument("--stages", default="sample,train,grade", help="comma-separated: sample, train, grade")
    parser.add_argument("--dtypes", default="auto", help="'auto' (float32, and bfloat16 where native) or a list")
    parser.add_argument("--batch", default="32", help="sampling batch (rows decoded together), or a list: 32,256")
    parser.add_argument("--prompt-len", type=int, default=32, help="prompt tokens (sampling and training)")
    parser.add_argument("--new-tokens", type=int, default=64, help="generated / completion tokens")
    parser.add_argument(
        "--paths",
        default="auto",
        help="the torch engine's decoder paths to sample with, a list: auto, lean, native (each decode step in one "
        "C++ call, built on first use), generic (default: auto)",
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (both engines)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus mass, 1 = off (both engines)")
    parser.add_argument("--train-rows", type=int, default=16, help="rows of the GRPO update")
    parser.add_argument(
        "--train-attention",
        choices=("autocast", "float32"),
        default="autocast",
        help="our update's attention: as autocast runs it (bfloat16 under --dtypes bfloat16, the trainer's own), or "
        "float32 inputs with autocast off (a measurement, not what the trainer does; the peer keeps autocast)",
    )
    parser.add_argument("--grade-problems", type=int, default=500, help="MATH-500 problems graded (64 samples each)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder holding math500/test.jsonl")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per measurement (best kept)")
    parser.add_argument("--threads", default=None, help="torch threads, or a list: 1,2 (default: the rlvr_lab rule)")
    parser.add_argument("--quick", action="store_true", help="batch 8, 8+16 tokens, 4 training rows, 20 problems")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.prompt_len, args.new_tokens, args.train_rows, args.grade_problems = "8", 8, 16, 4, 20
        args.repeats = 1
    batches = [int(b) for b in str(args.batch).split(",")]
    paths = args.paths.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")] if args.threads else [None]
    threads = use_threads(thread_counts[0])
    if args.dtypes == "auto":
        dtypes = [torch.float32] + ([torch.bfloat16] if bf16_supported() else [])
    else:
        dtypes = [getattr(torch, name) for name in args.dtypes.split(",")]
    stages = args.stages.split(",")
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()} (asked {threads}), native bfloat16: "
        f"{bf16_supported()}, model {args.model}, dtypes {[dtype_name(d) for d in dtypes]}",
        flush=True,
    )
    rows: list[dict] = []
    if "sample" in stages or "train" in stages:
        model, tokenizer = load(args.model)
        roof = Roof(model, args.repeats)
        for count in thread_counts:
            if count is not None:
                torch.set_num_threads(count)
            for dtype in dtypes:
                for name, stage in (("sample", stage_sample), ("train", stage_train)):
                    for batch in batches if name == "sample" else batches[:1]:
                        for path in paths if name == "sample" else paths[:1]:
                            if name not in stages:
                                continue
                            run = argparse.Namespace(**{**vars(args), "batch": batch, "path": path})
                            row = stage(model, tokenizer, roof, dtype, run)
                            rows.append({**row, "dtype": dtype_name(dtype), "threads": torch.get_num_threads()})
                            print(json.dumps(rows[-1]), flush=True)
    if "grade" in stages:
        rows.append({**stage_grade(args), "dtype": "-"})
        print(json.dumps(rows[-1]), flush=True)
    print_table(rows)
    if args.out is not None:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
