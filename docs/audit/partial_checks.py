"""The checks that the finished part of the TRL quick audit supports: the claimed arm (3 seeds) against the base on
both families (families, large k, soundness); the controls and the clip ablation had not run."""
import dataclasses, json, sys
from pathlib import Path
from rlvr_lab.studies.audit import build_config
from rlvr_lab.studies.audit_checks import audit_checks
from rlvr_lab.studies.audit_run import read_model_data, verdict_table
from rlvr_lab.studies.markdown import markdown_table
root = Path(sys.argv[1])
config = build_config("organism-ground-truth", quick=True, backend="trl")
config = dataclasses.replace(config, controls=(), ablations=())
data = [read_model_data(config, root, m) for m in config.models]
checks = audit_checks(config, data)
print(markdown_table(verdict_table(checks)))
for c in checks:
    d = c.as_dict()
    print(json.dumps({k: d[k] for k in ("family", "claim", "effect", "interval", "p_value", "holm_p", "verdict", "seeds", "problems")}))
