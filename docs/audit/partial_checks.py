"""The checks the finished part of a stopped ``rlvr audit organism-ground-truth --quick --backend trl`` supports.

The claimed arm (3 seeds) against the base on both families (families, large k, soundness), by the audit's own
functions; the controls and the clip ablation had not run. Usage: ``python docs/audit/partial_checks.py DIR``.
"""

import dataclasses
import json
import sys
from pathlib import Path

from rlvr_lab.studies.audit import build_config
from rlvr_lab.studies.audit_checks import audit_checks
from rlvr_lab.studies.audit_run import read_model_data, verdict_table
from rlvr_lab.studies.markdown import markdown_table

KEYS = ("family", "claim", "effect", "interval", "p_value", "holm_p", "verdict", "seeds", "problems")

root = Path(sys.argv[1])
config = build_config("organism-ground-truth", quick=True, backend="trl")
config = dataclasses.replace(config, controls=(), ablations=())
checks = audit_checks(config, [read_model_data(config, root, m) for m in config.models])
print(markdown_table(verdict_table(checks)))
for check in checks:
    record = check.as_dict()
    print(json.dumps({key: record[key] for key in KEYS}))
