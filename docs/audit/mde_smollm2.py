"""MDE of the audit's t interval over 3 seeds × 16 problems when only evaluation noise separates an arm from the
base: every arm's avg@2 per problem drawn at accuracy p, independently (no training effect, no seed effect), the base
one evaluation shared by the seeds: a lower bound on the SmolLM2 audit's MDE. ``python docs/audit/mde_smollm2.py``.
"""

import numpy as np

from rlvr_lab.studies.paired import seeds_problems_t

rng = np.random.default_rng(0)
for p in (0.02, 0.05, 0.10):
    mdes = []
    for _ in range(200):
        arm = rng.binomial(2, p, (3, 16)) / 2
        base = rng.binomial(2, p, (1, 16)) / 2
        mdes.append(seeds_problems_t(arm - base, p_value=False)[3])
    print(f"accuracy {p:.2f}: MDE median {np.median(mdes):.3f}")
