"""Code grading throughput: the grader's dedupe and cache against running every sample's program once.

Workload: HumanEval x 64 samples per problem, programs repeating the way sampled programs repeat. Per problem an
accuracy p is drawn from Beta(0.6, 0.4) (U-shaped, as in ``bench_grading.py``); a correct sample is the canonical
solution written as a body or as a fenced program, a wrong one is one of four wrong bodies (``return None``,
``pass``, raising, an empty fenced program); forms are drawn Zipf-like (weight 1/rank^1.2), so a few dominate.

Both sides use the same sandbox, limits and number of parallel programs (``--workers``): the grader
(:meth:`Grader.grade_problems`, cold cache) runs each distinct (program, tests) pair once; the baseline runs
:func:`~rlvr_lab.grading.execution.run_program` for every sample. Verdicts must agree, and are asserted to.

Run: ``python benchmarks/bench_code_grading.py`` (164 problems; the baseline takes minutes) or ``--quick``
(16 problems).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rlvr_lab.grading.code import assemble
from rlvr_lab.grading.execution import run_program
from rlvr_lab.grading.grade import Grader, GradingConfig
from rlvr_lab.grading.sandbox import SandboxConfig, protections, resolve_backend
from rlvr_lab.tasks import Problem, load_problems
from rlvr_lab.tasks.code import code_spec

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def forms(problem: Problem) -> tuple[list[str], list[str]]:
    """(correct completions, wrong completions) of one problem, most common first."""
    body = problem.answer[len(problem.prompt) :]
    right = [body, f"```python\n{problem.answer}\n```"]
    wrong = ["    return None\n", "    pass\n", "    raise NotImplementedError\n", "```python\n```"]
    return right, wrong


def workload(problems: list[Problem], samples: int, seed: int) -> list[tuple[Problem, str]]:
    rng = random.Random(seed)
    items = []
    for problem in problems:
        p = rng.betavariate(0.6, 0.4)
        right, wrong = forms(problem)
        for _ in range(samples):
            options = right if rng.random() < p else wrong
            weights = [1.0 / rank**1.2 for rank in range(1, len(options) + 1)]
            items.append((problem, rng.choices(options, weights=weights)[0]))
    return items


def baseline(items: list[tuple[Problem, str]], config: SandboxConfig) -> list[str]:
    """Every sample's program run once, no dedupe, the same parallelism."""
    backend = resolve_backend(config.backend)
    with tempfile.TemporaryDirectory(prefix="rlvr-bench-") as base:
        Path(base).chmod(0o711)

        def one(index: int) -> str:
            problem, completion = items[index]
            spec = code_spec(problem)
            assert spec is not None
            program = assemble(spec, completion)[0]
            return run_program(program, spec.tests, config, Path(base), f"b{index}", backend, spec.entry_point).status

        with ThreadPoolExecutor(max_workers=config.resolved_workers()) as pool:
            return list(pool.map(one, range(len(items))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="16 problems instead of 164")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="parallel programs (default: one per core, <= 4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    problems = load_problems("humaneval", data_dir=args.data_dir, limit=16 if args.quick else None)
    items = workload(problems, args.samples, args.seed)
    config = SandboxConfig(workers=args.workers)
    print(f"sandbox: {protections(config)}")
    print(f"workload: {len(problems)} problems x {args.samples} samples = {len(items)} programs")

    start = time.perf_counter()
    with Grader(GradingConfig(sandbox=config)) as grader:
        fast = [verdict.status for verdict in grader.grade_problems(items)]
        runs = grader.code.runs
    fast_s = time.perf_counter() - start
    print(f"grader (dedupe + cache): {fast_s:8.1f} s, {runs} distinct programs run")

    start = time.perf_counter()
    slow = baseline(items, config)
    slow_s = time.perf_counter() - start
    print(f"baseline (every sample): {slow_s:8.1f} s, {len(items)} programs run")
    assert fast == slow, "the grader's verdicts differ from running every sample"
    print(f"speed-up: {slow_s / fast_s:.1f}x ({len(items) / runs:.1f} samples per distinct program); verdicts agree")


if __name__ == "__main__":
    main()
