"""Grading throughput: ``grade_samples`` against a plain loop of math-verify ``parse`` + ``verify`` per sample.

Workload: MATH-500 x 64 samples per problem, answers repeating the way large-k sampling repeats them. Per
problem, an accuracy p is drawn from Beta(0.6, 0.4) (U-shaped: most problems are nearly always or nearly never
solved, mean 0.6). Each sample is correct with probability p; a correct sample writes the gold in one of a few
equivalent forms (as written, ``\\dfrac`` for ``\\frac``, spaces dropped, ``x = `` prefixed), a wrong one gives one
of up to six plausible wrong answers (an arithmetic slip: one digit of the gold changed; or another answer of the
same subject, i.e. the right kind of object for the wrong problem). Forms are drawn Zipf-like, weight
1/rank^s (s = 2 for the gold's forms, 1.2 for the wrong answers), so a few strings dominate and the tail is long.
The completion is the problem's real reference solution with its final box holding the sampled answer; 3% of
samples are cut before the box (no answer).

Both sides run the same extraction (:func:`~rlvr_lab.grading.extract.extract_answer`) and the same math-verify
call (:func:`~rlvr_lab.grading.equivalence.reference_equal` in the loop, worker processes in the grader),
except that the grader decides pairs of plain numeric
literals itself, exactly (:mod:`rlvr_lab.grading.numeric`); the verdicts must be identical, and are asserted to
be. The loop runs in file order (problem by problem, as a sample store is written), which lets math-verify's own
small parse cache help it. The grader is timed end to end (extraction, dedupe, workers, table), cold verdict
cache; the fork server that the worker processes start from is started once before timing, a one-time cost per
process that is printed separately.

Run: ``python benchmarks/bench_grading.py`` (all 500 problems) or ``--quick`` (60 problems).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import defaultdict
from pathlib import Path

from rlvr_lab.grading.equivalence import reference_equal
from rlvr_lab.grading.extract import extract_answer
from rlvr_lab.grading.grade import Grader, GradingConfig, grade_samples
from rlvr_lab.tasks.problem import Problem

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
Row = tuple[str, int, str]


def zipf_pick(rng: random.Random, options: list[str], s: float) -> str:
    """One of ``options``, the one at rank r (1-based) with weight 1 / r**s."""
    return rng.choices(options, weights=[1.0 / (rank**s) for rank in range(1, len(options) + 1)])[0]


def gold_forms(gold: str) -> list[str]:
    """The gold as written, then equivalent ways a model writes it (distinct strings, most common first)."""
    forms = [gold, gold.replace("\\frac", "\\dfrac"), re.sub(r"(?<=[^A-Za-z]) | (?=[^A-Za-z])", "", gold)]
    if re.fullmatch(r"-?\d+", gold):
        forms.append(f"x = {gold}")
    return list(dict.fromkeys(forms))


def wrong_answers(gold: str, same_subject: list[str], rng: random.Random) -> list[str]:
    """Up to three one-digit slips of the gold and three answers to other problems of the same subject."""
    slips: list[str] = []
    digits = [match.start() for match in re.finditer(r"\d", gold)]
    for _ in range(10):
        if not digits or len(slips) == 3:
            break
        at = rng.choice(digits)
        slip = gold[:at] + rng.choice([d for d in "0123456789" if d != gold[at]]) + gold[at + 1 :]
        if slip not in slips:
            slips.append(slip)
    others = rng.sample([other for other in same_subject if other != gold], k=6 - len(slips))
    return slips + others


def make_workload(data_dir: Path, problems: int, samples: int, seed: int) -> tuple[dict[str, Problem], list[Row]]:
    """The benchmark's problems and sample rows (problem-major order, as a sample store holds them)."""
    records = [json.loads(line) for line in (data_dir / "math500" / "test.jsonl").open(encoding="utf-8")]
    by_subject: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_subject[record["subject"]].append(record["answer"])
    rng = random.Random(seed)
    chosen = records[:problems]
    table = {r["unique_id"]: Problem(r["unique_id"], r["problem"], r["answer"], "math500") for r in chosen}
    rows: list[Row] = []
    for record in chosen:
        gold, solution = record["answer"], record["solution"]
        boxed_at = solution.rfind("\\boxed")
        prefix = solution[:boxed_at] if boxed_at >= 0 else solution + " "
        right = gold_forms(gold)
        wrong = wrong_answers(gold, by_subject[record["subject"]], rng)
        accuracy = rng.betavariate(0.6, 0.4)
        for index in range(samples):
            answer = zipf_pick(rng, right, 2.0) if rng.random() < accuracy else zipf_pick(rng, wrong, 1.2)
            text = prefix if rng.random() < 0.03 else prefix + "\\boxed{" + answer + "}$."
            rows.append((record["unique_id"], index, text))
    return table, rows


def plain_loop(problems: dict[str, Problem], rows: list[Row]) -> list[bool]:
    """The baseline: extract, then math-verify parse + verify for every sample."""
    verdicts = []
    for problem_id, _, completion in rows:
        answer = extract_answer(completion).answer
        verdicts.append(answer is not None and reference_equal(problems[problem_id].answer, answer))
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder holding math500/test.jsonl")
    parser.add_argument("--quick", action="store_true", help="60 problems instead of 500")
    parser.add_argument("--samples", type=int, default=64, help="samples per problem")
    parser.add_argument("--workers", type=int, default=None, help="grader worker processes (default: one per core)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    problems, rows = make_workload(args.data_dir, 60 if args.quick else 500, args.samples, args.seed)
    answers = [extract_answer(text).answer for _, _, text in rows]
    distinct = len({(problems[pid].answer, a) for (pid, _, _), a in zip(rows, answers, strict=True) if a})
    print(f"workload: {len(problems)} problems x {args.samples} samples = {len(rows)} rows, {distinct} distinct pairs")

    config = GradingConfig(workers=args.workers)
    start = time.perf_counter()
    with Grader(config) as warm:  # starts the fork server (math-verify imported once), a per-process cost
        warm.verify([("x", "x")])
    print(f"fork server + first worker start: {time.perf_counter() - start:.2f} s (one-time, not timed below)")

    start, cpu_start = time.perf_counter(), time.process_time()
    with Grader(config) as grader:
        graded = grade_samples(problems, rows, grader=grader)
        fast_s, fast_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start + grader.pool.worker_cpu_s
        dispatched = grader.pool.dispatched
    start, cpu_start = time.perf_counter(), time.process_time()
    expected = plain_loop(problems, rows)
    loop_s, loop_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start

    got = graded.column("correct").to_pylist()
    mismatches = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert not mismatches, f"{len(mismatches)} verdicts differ, e.g. row {rows[mismatches[0]][:2]}"
    assert set(graded.column("status").to_pylist()) <= {"ok", "no_answer"}, "a timeout or error in the benchmark"
    print(f"accuracy {sum(got) / len(got):.3f}; verdicts identical on all {len(rows)} samples")
    print(f"plain loop: {loop_s:.2f} s wall, {loop_cpu_s:.2f} s CPU ({len(rows) / loop_s:.0f} samples/s)")
    print(
        f"grade_samples ({config.resolved_workers()} workers, {dispatched} pairs sent to workers): "
        f"{fast_s:.2f} s wall, "
        f"{fast_cpu_s:.2f} s CPU in parent + workers ({len(rows) / fast_s:.0f} samples/s)"
    )
    print(f"speed-up in CPU time: {loop_cpu_s / fast_cpu_s:.1f}x (what the grader saves; free of machine load)")
    print(f"speed-up in wall time: {loop_s / fast_s:.1f}x")


if __name__ == "__main__":
    main()
