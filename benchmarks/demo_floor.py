"""A finished demo against its floor: the matrix products it cannot avoid, at this core's own rate, timed now.

Why: issue 19 asks for the 5-seed demo in 30 minutes on 2 cores by training seeds together, which pays where
small-model training is bound by per-call overhead. This prints how far the demo is from the other bound, the
arithmetic: from what a finished ``rlvr demo`` folder recorded, the tokens that went through the models' linear
layers, and the time those products take as bare products of the model's own weights on one core (the roof of
``roofline.py``, 512 rows, the faster of ``F.linear`` and oneDNN's prepacked product, timed in this run). Any
implementation of the same algorithm on the same tokens does at least these products; however it groups seeds, it
cannot finish in less CPU time than this floor at the core's rate.

Counted, per training run (``config.yaml``, ``metrics.jsonl``, ``problems.jsonl``: each step's problems and mean
completion length):

- the update: forward and backward (three products per weight) over every prompt and completion token, the output
  head at completion tokens, once per epoch; the no-grad old-log-prob pass (forward) over the rows after the first
  mini-batch when the schedule takes several steps per rollout (``rl/update.py``); a reference pass when a KL is
  kept;
- the rollout: each distinct prompt once (the engine shares prefills) and every generated token.

Per sample store (every evaluation, the trainer's curves, the base models' label votes, the boundary's 1,024-sample
stores, read from their graded parquet where one exists): each distinct prompt once per store and every generated
token. Left out, so the true floor is higher: attention's products, padding, the perplexity pass, grading, process
start-up. The roof is timed in the demo's dtype (``rlvr demo --dtype``; auto is float32 for the organisms). The
organisms' float32 products run at the core's peak at these shapes (``aten::mm`` 100 GFLOP/s on the AMD EPYC
at 576 x 160 x 448, against 97 at 2048 cubed), so the floor is the arithmetic, not a kernel choice.

    PYTHONPATH=src python benchmarks/demo_floor.py DIR [--wall S] [--cpu S] [--target-min 30] [--json]

``--wall`` and ``--cpu``: the demo's measured wall and CPU seconds (``/usr/bin/time -v``), for the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import torch
import yaml

from rlvr_lab.models.loading import model_dtype
from rlvr_lab.prompts import encode_prompt, resolve_template
from rlvr_lab.runtime.threads import use_threads
from rlvr_lab.store import read_header, read_sample_table
from rlvr_lab.studies.evaluation import TEMPLATE
from rlvr_lab.tasks.benchmarks import load_problems

sys.path.insert(0, str(Path(__file__).resolve().parent))
from roofline import Roof, linear_shapes, load  # a peer script of this folder

ROWS = 512
"""Rows of the timed products: a boundary job's engine batch (4 x 128). Rollouts and evaluations run 128 or 256 rows,
whose products are no faster per FLOP, so timing them at 512 can only lower the floor."""


class Work:
    """Tokens through the body's linear layers and through the output head, forward only and forward + backward."""

    def __init__(self) -> None:
        self.tokens: Counter = Counter()

    def add(self, part: str, body: float, head: float, backward: bool = False) -> None:
        kind = "train" if backward else "forward"
        self.tokens[part, kind, "body"] += body
        self.tokens[part, kind, "head"] += head


def prompt_lengths(tokenizer, limits: dict[str, int]) -> dict[str, int]:
    """Prompt tokens of every organism problem of each split (the first ``limits[split]``), keyed by problem id."""
    template = resolve_template(TEMPLATE)
    out = {}
    for split, limit in limits.items():
        for problem in load_problems("organism", split=split, limit=limit):
            out[problem.id] = len(encode_prompt(template, problem, tokenizer))
    return out


def count_run(run: Path, lengths: dict[str, int], work: Work) -> int:
    """Add one training run's updates and rollouts to ``work``; return its steps."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    rows = config["prompts_per_step"] * config["group_size"]
    mini, epochs = config["mini_batch_size"], config["epochs"]
    old_share = 0.0 if (mini >= rows and epochs == 1) else (rows - mini) / rows  # the first mini-batch needs no pass
    reference = config["kl_coef"] > 0 or config["track_ref_kl"]
    problems = [json.loads(line) for line in (run / "problems.jsonl").read_text().splitlines()]
    by_step = {entry["step"]: list(entry["accuracy"]) for entry in problems}
    count = 0
    for line in (run / "metrics.jsonl").read_text().splitlines():
        metrics = json.loads(line)
        if "response/length_mean" not in metrics:
            continue
        prompts = [lengths[pid] for pid in by_step[metrics["step"]]]
        completion = rows * metrics["response/length_mean"]
        prompt = config["group_size"] * sum(prompts)
        work.add("training: update", epochs * (prompt + completion), epochs * completion, backward=True)
        passes = old_share + (1.0 if reference else 0.0)
        work.add("training: update", passes * (prompt + completion), passes * completion)
        work.add("training: rollout", sum(prompts) + completion, len(prompts) + completion)
        count += 1
    return count


def count_store(path: Path, lengths: dict[str, int], work: Work, part: str) -> int:
    """Add one sample store's sampling to ``work``; return its samples."""
    graded = path.with_suffix(".graded.parquet")  # the same samples, read far faster than 512k lines of JSON
    table = read_sample_table(graded if graded.exists() else path, columns=["num_tokens"])
    ids = set(table.column("problem_id").to_pylist())
    generated = float(pc.sum(table.column("num_tokens")).as_py())
    work.add(part, sum(lengths[pid] for pid in ids) + generated, len(ids) + generated)
    return table.num_rows


def stores(root: Path) -> list[tuple[Path, str]]:
    """Every sample store under a demo folder, with the part of the demo it belongs to."""
    found = []
    for path in sorted(root.rglob("*.jsonl")):
        if read_header(path) is None:  # metrics.jsonl, problems.jsonl
            continue
        relative = path.relative_to(root).parts
        part = {"boundary": "boundary sampling", "base": "base models"}.get(relative[0], "training: evaluations")
        found.append((path, part))
    return found


def floor(root: Path, repeats: int) -> dict:
    """Count the folder's work and time it at this core's roof."""
    demo = yaml.safe_load((root / "demo.yaml").read_text())
    profile = demo["ablation"]["profile"]
    model, tokenizer = load(profile)
    for other in demo["spurious"]["profiles"]:  # one roof and one tokenizer stand for every model of the demo
        twin, twin_tokenizer = load(other)
        if linear_shapes(twin) != linear_shapes(model) or twin_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise SystemExit(f"{root}: profiles {profile} and {other} differ in their linear layers or tokenizer")
    test = max(demo["evaluation"]["problems"], demo["boundary"]["problems"])  # the trainer's curves take fewer
    limits = {"train": demo["training"]["train_problems"], "test": test}
    lengths = prompt_lengths(tokenizer, limits)
    work = Work()
    runs = sorted(p.parent for p in root.glob("runs/*/*/*/config.yaml"))
    steps = sum(count_run(run, lengths, work) for run in runs)
    samples = sum(count_store(path, lengths, work, part) for path, part in stores(root))

    use_threads(1, announce=False)  # the demo's workers run one thread each
    roof = Roof(model, repeats)
    dtype = getattr(torch, model_dtype(profile, demo["training"].get("dtype", "auto")))  # the demo's products' dtype
    rate = {
        "forward": roof.flops(ROWS, ROWS) / roof.time(ROWS, ROWS, dtype).cpu,
        "train": roof.flops(ROWS, ROWS, backward=True) / roof.time(ROWS, ROWS, dtype, backward=True).cpu,
    }
    per_token = {  # FLOPs of one token through the body or the head, forward (2 per weight) or trained (6)
        (kind, where): roof.flops(1 if where == "body" else 0, 1 if where == "head" else 0, backward=kind == "train")
        for kind in rate
        for where in ("body", "head")
    }
    parts: dict[str, dict[str, float]] = {}
    for (part, kind, where), tokens in work.tokens.items():
        entry = parts.setdefault(part, {"gflop": 0.0, "floor_cpu_s": 0.0})
        flops = tokens * per_token[kind, where]
        entry["gflop"] += flops / 1e9
        entry["floor_cpu_s"] += flops / rate[kind]
    total = sum(p["floor_cpu_s"] for p in parts.values())
    return {
        "folder": str(root),
        "profile": profile,
        "runs": len(runs),
        "steps": steps,
        "samples": samples,
        "workers": demo["workers"],
        "dtype": str(dtype).removeprefix("torch."),
        "roof_gflops": {kind: r / 1e9 for kind, r in rate.items()},
        "parts": parts,
        "floor_cpu_s": total,
        "floor_wall_s": total / demo["workers"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a finished `rlvr demo` output folder")
    parser.add_argument("--wall", type=float, help="the demo's measured wall seconds (for the ratio)")
    parser.add_argument("--cpu", type=float, help="the demo's measured CPU seconds (for the ratio)")
    parser.add_argument("--target-min", type=float, default=30.0, help="wall-time target in minutes (default 30)")
    parser.add_argument("--repeats", type=int, default=5, help="timings of the roof, best taken (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    if not (args.folder / "demo.yaml").is_file():
        parser.error(f"{args.folder}: no demo.yaml (not an `rlvr demo` folder)")
    out = floor(args.folder, args.repeats)
    target = 60 * args.target_min
    out["target_wall_s"] = target
    out["floor_share_of_target"] = out["floor_wall_s"] / target  # the efficiency the target would need
    if args.wall:
        out["measured_wall_s"] = args.wall
        out["floor_share_of_wall"] = out["floor_wall_s"] / args.wall
    if args.cpu:
        out["measured_cpu_s"] = args.cpu
        out["floor_share_of_cpu"] = out["floor_cpu_s"] / args.cpu
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['folder']}: {out['runs']} runs, {out['steps']} steps, {out['samples']:,} stored samples")
    rates = out["roof_gflops"]
    print(
        f"roof, one core, {ROWS} rows, {out['dtype']}: forward {rates['forward']:.1f} GFLOP/s, "
        f"forward+backward {rates['train']:.1f}"
    )
    for name, part in sorted(out["parts"].items()):
        print(f"  {name:24s} {part['gflop']:10,.0f} GFLOP {part['floor_cpu_s']:8,.0f} s")
    print(f"floor: {out['floor_cpu_s']:,.0f} CPU s, {out['floor_wall_s']:,.0f} s on {out['workers']} workers")
    print(f"the {args.target_min:g}-minute target needs {out['floor_share_of_target']:.0%} of the roof throughout")
    if args.wall:
        print(f"measured wall {args.wall:,.0f} s: the floor is {out['floor_share_of_wall']:.0%} of it")
    if args.cpu:
        print(f"measured CPU {args.cpu:,.0f} s: the floor is {out['floor_share_of_cpu']:.0%} of it")


if __name__ == "__main__":
    main()
