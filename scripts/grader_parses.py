"""Dump what the grader's parser makes of every labelled-pair side and every MATH-500 answer, and the pairs' verdicts.

Run it in each environment the grader runs in (ours, the verl venv with antlr4 4.9.3, the vLLM venv) and compare:

    PYTHONPATH=src .venv/bin/python scripts/grader_parses.py /tmp/ours.json
    PYTHONPATH=src .venv-verl/bin/python scripts/grader_parses.py /tmp/verl.json
    python3 scripts/grader_parses.py --compare /tmp/ours.json /tmp/verl.json

The comparison prints one JSON object: how many strings parse differently and how many verdicts differ (both 0
when the environments grade alike), with the first differences. MATH-500 answers are read from
``$RLVR_DATA_DIR/math500/test.jsonl`` when it exists.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "equivalence_pairs.jsonl"


def dump(out: Path) -> None:
    from rlvr_lab.grading.antlr_compat import antlr_runtime
    from rlvr_lab.grading.equivalence import equivalent, parse_for_verify

    pairs = [json.loads(line) for line in PAIRS.open(encoding="utf-8")]
    texts = {p["gold"] for p in pairs} | {p["prediction"] for p in pairs}
    math500 = Path(os.environ.get("RLVR_DATA_DIR", "")) / "math500" / "test.jsonl"
    if math500.is_file():
        texts |= {json.loads(line)["answer"] for line in math500.open(encoding="utf-8")}
    parses = {text: repr(parse_for_verify(text)) for text in sorted(texts)}
    verdicts = [equivalent(parse_for_verify(p["gold"]), parse_for_verify(p["prediction"])) for p in pairs]
    record = {"antlr": antlr_runtime(), "python": sys.version.split()[0], "parses": parses, "verdicts": verdicts}
    out.write_text(json.dumps(record, indent=0, sort_keys=True), encoding="utf-8")
    print(json.dumps({"antlr": record["antlr"], "strings": len(parses), "pairs": len(verdicts), "out": str(out)}))


def compare(a_path: Path, b_path: Path) -> int:
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (a_path, b_path))
    common = sorted(set(a["parses"]) & set(b["parses"]))
    parses = [t for t in common if a["parses"][t] != b["parses"][t]]
    verdicts = [i for i, (x, y) in enumerate(zip(a["verdicts"], b["verdicts"], strict=True)) if x != y]
    print(
        json.dumps(
            {
                "antlr": [a["antlr"], b["antlr"]],
                "strings": len(common),
                "parse_differences": len(parses),
                "verdict_differences": len(verdicts),
                "first": [(t, a["parses"][t], b["parses"][t]) for t in parses[:5]],
            },
            ensure_ascii=False,
        )
    )
    return 1 if parses or verdicts else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="OUT.json, or two dumps with --compare")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    if args.compare:
        if len(args.paths) != 2:
            parser.error("--compare takes two dumps")
        raise SystemExit(compare(*args.paths))
    dump(args.paths[0])


if __name__ == "__main__":
    main()
