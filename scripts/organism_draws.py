"""Build an organism profile from several seeds, measure each build's calibration table, and record them.

Why: a build is bit-reproducible only where the CPU's float32 kernels are the ones that built the shipped
checkpoint (``rlvr_lab.runtime.precision.float_kernels``). On another CPU the products round differently and
the build's steps (8,000 for v2, 4,000 for ``qwen-math-like``) amplify it into another draw of the same recipe, as
a new seed does. How far such a draw lies from the shipped table is what ``tests/test_organism_rebuild.py`` must
allow on a machine whose kernels differ, and which targets the recipe (not one lucky draw) meets; this script
measures it. Each draw: ``rlvr organism build --seed S``, then the calibration table with the shipped table's
config (as ``rlvr organism stats``): about 25 minutes of one core for v2, 14 for ``qwen-math-like`` (three jobs
sharing two cores).

    python scripts/organism_draws.py --profile qwen-math-like-v2 --seeds 0,1,2,3 --work /tmp/draws \\
        --out tests/data/organism_draws/qwen-math-like-v2.json
    python scripts/organism_draws.py --profile qwen-math-like --seeds 0,1,2,3,4,5 --work /tmp/draws1 \\
        --out tests/data/organism_draws/qwen-math-like.json

A build already in ``WORK/seed-S`` (its ``rlvr_organism.json`` written) is measured, not rebuilt.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from rlvr_lab.organism.pretrain import METADATA_FILE, build_profile
from rlvr_lab.organism.profiles import get_profile, shipped_tables
from rlvr_lab.organism.stats import StatsConfig, measure
from rlvr_lab.runtime.precision import float_kernels


def commit() -> str:
    """HEAD's hash, with ``+dirty`` when ``src`` differs from it."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], check=False).returncode
    return head + ("+dirty" if dirty else "")


def draw(profile_name: str, seed: int, folder: Path) -> dict[str, object]:
    """Build ``profile_name`` from ``seed`` into ``folder`` (unless built there) and measure its default table."""
    profile = get_profile(profile_name)
    if not (folder / METADATA_FILE).exists():
        build_profile(profile, folder, seed=seed)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    if metadata["seed"] != seed or metadata["profile"] != profile_name:
        raise SystemExit(
            f"{folder / METADATA_FILE}: holds {metadata['profile']} seed {metadata['seed']}, not seed {seed}"
        )
    shipped = shipped_tables(profile_name)["organism"]
    config = StatsConfig(**{k: shipped["config"][k] for k in ("n", "problems", "rule", "seed")})
    return {"seed": seed, "final_loss": metadata["final_loss"], "table": measure(str(folder), config).to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="qwen-math-like-v2", help="profile to build (default: %(default)s)")
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated build seeds (default: %(default)s)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the builds (WORK/seed-S)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file the draws are appended to")
    args = parser.parse_args()

    record = json.loads(args.out.read_text()) if args.out.exists() else {"profile": args.profile, "draws": []}
    if record["profile"] != args.profile:
        raise SystemExit(f"{args.out}: records {record['profile']}, not {args.profile}")
    for seed in (int(s) for s in args.seeds.split(",")):
        result = draw(args.profile, seed, args.work / f"seed-{seed}")
        result.update(built_on=float_kernels(), commit=commit())
        record["draws"].append(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        table = result["table"]
        print(
            f"seed {seed}: final loss {result['final_loss']:.4f}, code {table['code_frequency']:.3f}, "
            f"acc|code {table['acc_given_code']:.3f}, acc|language {table['acc_given_language']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
