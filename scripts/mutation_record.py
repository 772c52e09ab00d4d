"""Fold one module's mutmut results into docs/mutation.json (called by scripts/mutation.sh after a run).

The record keeps, per module: the commit measured on, the focused tests, the counts by outcome, the kill rate
(mutants the tests caught over all mutants) and every survivor with the line it changes and a one-line reason.
Reasons are written by hand in docs/mutation.json and kept across runs for a survivor of the same name (mutmut
names mutants by function and position, so a name is stable while its function is unchanged); a new survivor gets
the reason ``"unexplained"`` until someone gives one (a test that kills it is the better answer).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

# mutmut 3's exit codes (mutmut/stats.py): what the tests did to each mutant.
CAUGHT = {
    1: "killed",
    3: "killed",
    36: "timeout",
    37: "type check",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}


def commit() -> str:
    """HEAD's hash, with ``+dirty`` when tracked files differ from it (a measurement off any commit)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src", "tests"], check=False).returncode
    return head + ("+dirty" if dirty else "")


def functions(path: Path) -> dict[str, list[str]]:
    """Every function in mutmut's rewritten module, by name, as source lines."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    return {
        node.name: lines[node.lineno - 1 : node.end_lineno]
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def change(defs: dict[str, list[str]], key: str) -> str:
    """The mutant's edit as ``old → new`` (first differing lines, stripped), read off mutmut's rewritten module."""
    name = key.rsplit(".", 1)[-1]
    original = defs.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    mutant = defs.get(name)
    if original is None or mutant is None:
        return "?"
    old, new = [], []
    mutant = [line.replace(name, name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", 1) for line in mutant]
    for line in difflib.ndiff(original, mutant):
        if line.startswith("- "):
            old.append(line[2:].strip())
        elif line.startswith("+ "):
            new.append(line[2:].strip())
    return f"{' '.join(old)[:150]} → {' '.join(new)[:150]}"


def natural(key: str) -> tuple[str, int]:
    """Sort ``f__mutmut_10`` after ``f__mutmut_9``."""
    name, _, number = key.rpartition("_")
    return name, int(number) if number.isdigit() else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", type=Path)
    parser.add_argument("module")
    parser.add_argument("work", type=Path)
    parser.add_argument("source")
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--seconds", type=int, default=0)
    parser.add_argument("--commit", default="", help="the commit the module was copied from (default: HEAD now)")
    parser.add_argument("--function", default="", help="only this function's mutants (MODULE:function runs)")
    args = parser.parse_args()
    meta = args.work / "mutants" / (args.source + ".meta")
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    if args.function:
        prefix = f"rlvr_lab.{args.module.split(':')[0]}.x_{args.function}__mutmut_"
        codes = {key: code for key, code in codes.items() if key.startswith(prefix)}
    unchecked = [key for key, code in codes.items() if code is None]
    if unchecked:
        raise SystemExit(f"{meta}: {len(unchecked)} mutants not checked; rerun scripts/mutation.sh --run {args.module}")
    record = json.loads(args.record.read_text(encoding="utf-8")) if args.record.exists() else {}
    old = record.get("modules", {}).get(args.module, {}).get("survivors", {})
    defs = functions(args.work / "mutants" / args.source)
    counts: dict[str, int] = {}
    survivors = {}
    for key, code in sorted(codes.items(), key=lambda item: natural(item[0])):
        outcome = CAUGHT.get(code) or SURVIVED.get(code) or "suspicious"
        counts[outcome] = counts.get(outcome, 0) + 1
        if code not in CAUGHT:
            short = key.removeprefix("rlvr_lab.")
            reason = old.get(short, {}).get("reason", "unexplained")
            survivors[short] = {"outcome": outcome, "change": change(defs, key), "reason": reason}
    caught = sum(n for outcome, n in counts.items() if outcome in set(CAUGHT.values()))
    record.setdefault("tool", "mutmut 3.8.1")
    record.setdefault("modules", {})[args.module] = {
        "source": args.source,
        "tests": args.tests,
        "commit": args.commit or commit(),
        "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": args.seconds,
        "mutants": len(codes),
        "counts": dict(sorted(counts.items())),
        "kill_rate": round(caught / len(codes), 4) if codes else None,
        "survivors": survivors,
    }
    args.record.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rate = record["modules"][args.module]["kill_rate"]
    print(f"{args.module}: {caught}/{len(codes)} caught, kill rate {rate}, {len(survivors)} survivors")


if __name__ == "__main__":
    main()
