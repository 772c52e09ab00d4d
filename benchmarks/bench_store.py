"""The sample store at pass@1024 scale: written, killed, resumed, read and graded, with peak memory per stage.

Workload: MATH-500's shape, 500 problems x 1024 samples = 512k samples (``--samples`` shrinks it), each a
~2,400-character completion (600 tokens at ~4 characters a token: reasoning sentences with numbers) ending in
``\\boxed{answer}``, where the answer is the problem's integer gold with the problem's accuracy (drawn per problem)
and a nearby integer otherwise, so every pair goes through the grader's exact numeric fast path. Token ids and
log-probs are not kept (the default of ``rlvr sample``); what they would add is printed from a measured sample.

Stages, each in its own process so that its peak resident memory (``ru_maxrss`` from ``wait4``, which covers the
process and the children it waited for) is its own:
1. write: the store is filled chunk by chunk (512 samples, fsynced, as ``rlvr sample`` does) until about half
   the samples are on disk, then the process is killed with SIGKILL from outside, mid-run;
2. resume: a new process reopens the store (cutting any partial last line), and draws only the missing samples;
3. read: stream every sample back (:func:`rlvr_lab.store.iter_sample_batches`, no token columns);
4. grade: the real grader through :func:`rlvr_lab.grading.graded_file.grade_to_parquet` (``rlvr grade``'s path);
5. passk: :func:`rlvr_lab.metrics.load_graded` without texts, and the pass@k curve up to k = n.
Baseline, in the same run: the same rows written as plain JSONL (``json.dumps`` per row into a buffered file,
no fsync, no key checks) and read back with ``json.loads`` per line, keeping nothing.

Run: ``python benchmarks/bench_store.py`` (512k samples; about 2.6 GB of disk under ``--dir``, default a
temporary folder) or ``--samples 51200`` for a quick pass.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PROBLEMS = 500
CHUNK = 512
"""Samples per append, as ``rlvr sample`` with batch size 128 saves them (4 batches a chunk)."""
LIMIT_BYTES = 2 * 1024**3
TOKENS = 600
WORDS = ["we", "note", "that", "the", "sum", "of", "terms", "gives", "hence", "so", "substituting", "into", "the"]


def paragraphs(count: int = 64, chars: int = 2300) -> list[str]:
    """Reasoning-like texts of about ``chars`` characters: words and small equations, seeded."""
    rng = random.Random(0)
    pool = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while size < chars:
            a, b = rng.randint(2, 999), rng.randint(2, 999)
            sentence = " ".join(rng.choices(WORDS, k=rng.randint(4, 9))) + f" ${a} + {b} = {a + b}$, "
            sentence += " ".join(rng.choices(WORDS, k=rng.randint(3, 7))) + f" $\\frac{{{a}}}{{{b}}}$. "
            parts.append(sentence.capitalize())
            size += len(sentence)
        pool.append("".join(parts))
    return pool


def gold(problem: int) -> int:
    return (problem * 7919) % 10007


def accuracy(problem: int) -> int:
    """Percent of correct samples of a problem, U-shaped over problems as at large k."""
    return [0, 2, 5, 20, 50, 80, 95, 100][problem % 8]


def completion(pool: list[str], problem: int, index: int) -> str:
    h = (problem * 2654435761 + index * 40503) % 2**32
    answer = gold(problem) if h % 100 < accuracy(problem) else gold(problem) + 1 + h % 7
    return (
        f"{pool[(problem * 1031 + index) % len(pool)]}Checking sample {index} of problem {problem}: the result "
        f"holds. Therefore the final answer is $\\boxed{{{answer}}}$."
    )


def keys(samples: int) -> Iterator[tuple[int, int]]:
    n = samples // PROBLEMS
    for problem in range(PROBLEMS):
        for index in range(n):
            yield problem, index


def pid(problem: int) -> str:
    return f"test/synthetic/{problem}.json"


def header():  # type: ignore[no-untyped-def]
    from rlvr_lab.engines.base import SamplingConfig
    from rlvr_lab.prompts import PROMPTS
    from rlvr_lab.store import StoreHeader

    return StoreHeader.for_run(
        model="synthetic",
        engine="bench",
        template=PROMPTS.get("none"),
        sampling=SamplingConfig(n=1024, max_new_tokens=TOKENS),
        problems="synthetic-math500",
    )


def fill(store_path: Path, samples: int) -> dict[str, float]:
    """Open (or resume) the store and append every missing sample, chunk by chunk."""
    from rlvr_lab.store import SampleStore, StoredSample

    pool, run_header = paragraphs(), header()
    start = time.perf_counter()
    with SampleStore.open(store_path, run_header) as store:
        opened = time.perf_counter()
        existing, dropped = len(store), store.dropped_bytes
        chunk: list[StoredSample] = []
        written = 0
        for problem, index in keys(samples):
            if (pid(problem), index) in store:
                continue
            chunk.append(StoredSample(pid(problem), index, completion(pool, problem, index), [], [], "stop", TOKENS))
            if len(chunk) == CHUNK:
                store.append(chunk)
                written += len(chunk)
                chunk = []
        store.append(chunk)
        written += len(chunk)
    end = time.perf_counter()
    return {"open_s": opened - start, "write_s": end - opened, "existing": existing, "dropped_bytes": dropped,
            "written": written}  # fmt: skip


def read(store_path: Path) -> dict[str, float]:
    from rlvr_lab.store import iter_sample_batches

    start = time.perf_counter()
    rows = chars = 0
    for table in iter_sample_batches(store_path, columns=["finish_reason", "num_tokens"]):
        rows += table.num_rows
        chars += sum(len(text) for text in table["completion"].to_pylist())
    return {"rows": rows, "chars": chars, "read_s": time.perf_counter() - start}


def grade(store_path: Path, out: Path, samples: int) -> dict[str, float]:
    from rlvr_lab.grading.grade import Grader, GradingConfig
    from rlvr_lab.grading.graded_file import grade_to_parquet
    from rlvr_lab.tasks.problem import Problem

    problems = {pid(p): Problem(pid(p), f"problem {p}", str(gold(p))) for p in range(PROBLEMS)}
    start = time.perf_counter()
    with Grader(GradingConfig(workers=1)) as grader:
        summary = grade_to_parquet(problems, store_path, out, grader, {"bench": "store"})
    seconds = time.perf_counter() - start
    expected = sum(
        1 for p, i in keys(samples) if (p * 2654435761 + i * 40503) % 2**32 % 100 < accuracy(p)
    )  # the right answer was written exactly this often
    if summary.correct != expected or summary.samples != samples:
        raise SystemExit(f"grading wrong: {summary} but {expected} correct of {samples} were written")
    started = int(grader._pool is not None)
    return {"samples": summary.samples, "correct": summary.correct, "workers_started": started, "grade_s": seconds}


def passk(out: Path) -> dict[str, float]:
    from rlvr_lab.metrics import load_graded, pass_at_k_curve, powers_of_two

    graded = load_graded(out, completions=False)
    n = graded.uniform_n()
    curve = pass_at_k_curve(graded.n, graded.c, powers_of_two(n))
    return {"n": n, "pass@1": float(curve[0]), f"pass@{n}": float(curve[-1])}


def baseline(folder: Path, samples: int) -> dict[str, float]:
    """The same rows as plain JSONL: written (buffered, no fsync, no checks) and read back with json.loads."""
    pool = paragraphs()
    path = folder / "plain.jsonl"
    start = time.perf_counter()
    with path.open("w", encoding="utf-8") as handle:
        for problem, index in keys(samples):
            row = {"problem_id": pid(problem), "sample_idx": index, "completion": completion(pool, problem, index)}
            handle.write(json.dumps({**row, "finish_reason": "stop", "num_tokens": TOKENS}) + "\n")
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            rows += 1
    read_s = time.perf_counter() - start
    size = path.stat().st_size
    path.unlink()
    return {"write_s": write_s, "read_s": read_s, "rows": rows, "bytes": size}


def token_bytes() -> float:
    """Mean extra bytes a sample's 600 token ids and log-probs add to its JSON line (measured on 200 samples)."""
    rng = random.Random(1)
    extra = [
        len(json.dumps({"token_ids": [rng.randrange(151_000) for _ in range(TOKENS)]}))
        + len(json.dumps({"logprobs": [-rng.expovariate(1.5) for _ in range(TOKENS)]}))
        for _ in range(200)
    ]
    return sum(extra) / len(extra)


def child(stage: str, folder: Path, samples: int) -> None:
    """Run one stage and print its figures as JSON (the parent adds the peak memory)."""
    start = time.perf_counter()
    store = folder / "samples.jsonl"
    result: dict[str, float]
    if stage in ("write", "resume"):
        result = fill(store, samples)
    elif stage == "read":
        result = read(store)
    elif stage == "grade":
        result = grade(store, folder / "graded.parquet", samples)
    elif stage == "passk":
        result = passk(folder / "graded.parquet")
    else:
        result = baseline(folder, samples)
    print(json.dumps({**result, "seconds": time.perf_counter() - start}), flush=True)


def run_stage(stage: str, folder: Path, samples: int, kill_at: int | None = None) -> dict[str, float]:
    """Run ``stage`` in a child process; with ``kill_at``, SIGKILL it once the store holds that many bytes."""
    argv = [sys.executable, __file__, "--stage", stage, "--dir", str(folder), "--samples", str(samples)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    killed = False
    if kill_at is not None:
        store = folder / "samples.jsonl"
        while proc.poll() is None:
            if store.exists() and store.stat().st_size >= kill_at:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = proc.stdout.read() if proc.stdout else ""
    result: dict[str, float] = {}
    if not killed:
        if proc.returncode != 0:
            raise SystemExit(f"stage {stage} failed (exit {proc.returncode})")
        result = json.loads(output.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024
    result["killed"] = killed
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=PROBLEMS * 1024, help="Samples (a multiple of 500).")
    parser.add_argument("--dir", type=Path, default=None, help="Work folder (default: a temporary one).")
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.samples % PROBLEMS:
        parser.error(f"--samples must be a multiple of {PROBLEMS}")
    if args.stage is not None:
        child(args.stage, args.dir, args.samples)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        pool = paragraphs()
        mean_line = sum(
            len(json.dumps({"problem_id": pid(p), "sample_idx": i, "completion": completion(pool, p, i)})) + 45
            for p, i in ((p, i) for p in range(0, PROBLEMS, 50) for i in range(20))
        ) / (10 * 20)
        print(f"{args.samples} samples ({PROBLEMS} problems x {args.samples // PROBLEMS}), ~{TOKENS} tokens "
              f"(~{mean_line:.0f} bytes a line) each; work folder {folder}", flush=True)  # fmt: skip
        stages = {"write (killed)": run_stage("write", folder, args.samples, kill_at=int(mean_line * args.samples / 2))}
        for stage in ("resume", "read", "grade", "passk", "baseline"):
            stages[stage] = run_stage(stage, folder, args.samples)
            print(f"  {stage}: {json.dumps(stages[stage])}", flush=True)
        store_bytes = (folder / "samples.jsonl").stat().st_size
        graded_bytes = (folder / "graded.parquet").stat().st_size
    report(args.samples, stages, store_bytes, graded_bytes)


def report(samples: int, stages: dict[str, dict[str, float]], store_bytes: int, graded_bytes: int) -> None:
    resume, plain, graded, curve = stages["resume"], stages["baseline"], stages["grade"], stages["passk"]
    per_sample = store_bytes / samples
    extra = token_bytes()
    lines = [
        "",
        f"store {store_bytes / 1024**2:.0f} MiB ({per_sample:.0f} B a sample); "
        f"graded Parquet {graded_bytes / 1024**2:.0f} MiB",
        f"with --keep-tokens it would hold ~{(store_bytes + extra * samples) / 1024**3:.1f} GiB "
        f"(+{extra:.0f} B a sample of token ids and log-probs)",
        f"killed after {resume['existing']:.0f} of {samples} samples (cut {resume['dropped_bytes']:.0f} bytes of a "
        f"partial line); the resume opened the store in {resume['open_s']:.1f} s and wrote {resume['written']:.0f}",
    ]
    store_write = resume["written"] * per_sample / resume["write_s"] / 1024**2
    plain_write = plain["bytes"] / plain["write_s"] / 1024**2
    store_read = store_bytes / stages["read"]["read_s"] / 1024**2
    plain_read = plain["bytes"] / plain["read_s"] / 1024**2
    lines += [
        f"write: store {store_write:.0f} MiB/s (fsync every {CHUNK} samples) vs plain JSONL {plain_write:.0f} MiB/s "
        f"= {store_write / plain_write:.2f}x",
        f"read:  store {store_read:.0f} MiB/s (checked, to Arrow) vs plain json.loads {plain_read:.0f} MiB/s "
        f"= {store_read / plain_read:.2f}x",
        f"grade: {graded['samples']:.0f} samples in {graded['grade_s']:.1f} s "
        f"({graded['samples'] / graded['grade_s']:.0f}/s), {graded['correct']:.0f} correct, "
        f"verifier workers started: {graded['workers_started']:.0f}",
        f"passk: n={curve['n']:.0f}, pass@1 {curve['pass@1']:.4f}, read and computed in {curve['seconds']:.1f} s",
        "",
        "peak resident memory per stage (bound 2 GiB):",
    ]
    for name, stage in stages.items():
        peak = stage["peak_rss_bytes"]
        lines.append(
            f"  {name:15s} {peak / 1024**2:7.0f} MiB = {peak / LIMIT_BYTES:5.1%} of the bound, {stage['wall_s']:.1f} s"
        )
    under = all(stage["peak_rss_bytes"] < LIMIT_BYTES for stage in stages.values())
    lines.append("all stages under 2 GiB" if under else "OVER the 2 GiB bound")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
