"""Stop training at the first non-finite loss or gradient, before the step is logged or saved.

Why: ``lr: 1000`` (or a reward bug) drives the weights to NaN within a few steps, and the run went on to its end
with exit code 0, saving NaN checkpoints and a NaN final model that ``rlvr sample`` then sampled. Checking the
step's record costs nothing; raising before :func:`~rlvr_lab.rl.checkpoint.save_checkpoint` keeps the last good
checkpoint as the newest, so the run can be resumed from it with a smaller learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WATCHED = ("actor/pg_loss", "actor/grad_norm", "actor/entropy", "actor/kl")
"""The step's loss, gradient norm (before clipping) and the quantities computed from the new weights."""


class NonFiniteTrainingError(ValueError):
    """A training step produced a NaN or infinite loss or gradient."""


def check_finite(record: Mapping[str, Any], step: int, run_dir: Path) -> None:
    """Raise, naming the values and what to do, when a watched value of the step's ``record`` is not finite."""
    bad = [f"{key} = {record[key]}" for key in WATCHED if key in record and not math.isfinite(float(record[key]))]
    if bad:
        raise NonFiniteTrainingError(
            f"step {step}: {', '.join(bad)}: training stopped before saving this step; the last good checkpoint in "
            f"{run_dir / 'checkpoints'} is kept (resume from it with a smaller lr, or check the reward)"
        )
