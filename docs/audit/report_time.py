"""CPU time of ``run_audit`` on a finished 1-seed audit folder (every job reused: only the checks and the report run).

``PYTHONPATH=SRC python docs/audit/report_time.py DIR``, DIR a copy of the folder of ``rlvr audit organism-ground-truth
--quick --seeds 1 --k 4 --model qwen-math-like-v2 --backend trl --out DIR``; SRC the code to time (old or new).
"""

import sys
import time
from pathlib import Path

import rlvr_lab
from rlvr_lab.studies.audit import build_config
from rlvr_lab.studies.audit_run import run_audit

config = build_config(
    "organism-ground-truth", models=("qwen-math-like-v2",), seeds=1, quick=True, largest_k=4, backend="trl"
)
wall, cpu = time.perf_counter(), time.process_time()
run_audit(config, Path(sys.argv[1]))
print(f"{rlvr_lab.__file__}: wall {time.perf_counter() - wall:.1f} s, cpu {time.process_time() - cpu:.2f} s")
