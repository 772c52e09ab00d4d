"""Resumable checkpoints in Hugging Face format.

``DIR/checkpoints/step_000010/`` holds the policy as ``save_pretrained`` writes it (safetensors, config,
tokenizer: loadable by ``AutoModelForCausalLM.from_pretrained`` and by vLLM) plus ``trainer_state.pt``: the step,
the AdamW state, the torch RNG state and, for PPO, the critic (value model and its optimiser). Weights are saved
in float32, so a resumed run starts from bit-identical parameters; together with data order, sampling and rewards
being pure functions of ``(seed, step, ...)`` that is what makes it continue the same trajectory.

A checkpoint is written to ``step_000010.tmp`` and renamed into place, so a kill while saving leaves either the
previous checkpoint or the new one, never half of one; leftover ``.tmp`` folders are ignored and removed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

STATE_FILE = "trainer_state.pt"


@dataclass(frozen=True)
class TrainerState:
    """What besides the weights a resumed run needs."""

    step: int
    """Steps completed."""
    optimizer: dict[str, Any]
    """``optimizer.state_dict()``."""
    torch_rng: torch.Tensor
    """``torch.get_rng_state()`` (CPU generator)."""
    critic: dict[str, Any] | None = None
    """PPO's value model and its optimiser (:meth:`rlvr_lab.rl.value.Critic.state_dict`); None without a critic."""


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:06d}"


def save_checkpoint(
    run_dir: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    state: TrainerState,
    keep: int,
) -> Path:
    """Write the checkpoint of ``state.step`` atomically and delete all but the ``keep`` newest."""
    final = checkpoint_dir(run_dir, state.step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(
            {"step": state.step, "optimizer": state.optimizer, "torch_rng": state.torch_rng, "critic": state.critic},
            tmp / STATE_FILE,
        )
    except Exception as error:  # a full disk: torch says RuntimeError (iostream), safetensors SafetensorError
        shutil.rmtree(tmp, ignore_errors=True)
        kept = list_checkpoints(run_dir)
        raise OSError(
            f"{final}: writing the checkpoint failed ({str(error).splitlines()[0]}); "
            + (f"the last complete one, {kept[-1]}, is kept: " if kept else "")
            + "free disk space, then run again with --resume"
        ) from error
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    for tmp in root.glob("step_*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(p for p in root.glob("step_*") if (p / STATE_FILE).is_file())


def load_trainer_state(checkpoint: Path) -> TrainerState:
    raw = torch.load(Path(checkpoint) / STATE_FILE, weights_only=True)
    return TrainerState(
        step=int(raw["step"]), optimizer=raw["optimizer"], torch_rng=raw["torch_rng"], critic=raw.get("critic")
    )
