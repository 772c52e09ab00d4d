"""Training backends: who runs the GRPO loop for a :class:`~rlvr_lab.rl.config.TrainConfig`.

``rlvr`` is our own trainer (:mod:`rlvr_lab.rl.trainer`: one process, exact, fast for small models); ``trl`` runs
TRL's ``GRPOTrainer`` with the same config translated (:mod:`rlvr_lab.backends.trl_config`), on one process or
many (``accelerate``, DDP or DeepSpeed ZeRO-3, optionally vLLM). Both write the same run directory
(``config.yaml``, ``metrics.jsonl`` with the same keys, ``problems.jsonl``, ``eval/``, checkpoints, ``model/``),
so ``rlvr report`` reads either. A backend is registered as a zero-argument factory so that choosing one imports
only its own dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rlvr_lab.registry import Registry
from rlvr_lab.rl.config import TrainConfig

VLLM_MODES = ("colocate", "server")
STRATEGIES = ("ddp", "zero3")


@dataclass(frozen=True)
class Launch:
    """How a run is spread over processes (not part of the config: the same run can launch on 1 or 8 GPUs)."""

    nproc: int = 1
    """Processes (ranks) on this node; the data-parallel world size."""
    vllm: str | None = None
    """Generate with vLLM: ``colocate`` (in the training processes) or ``server`` (``trl vllm-serve``)."""
    strategy: str = "ddp"
    """``ddp`` (a full model per rank) or ``zero3`` (DeepSpeed ZeRO-3: parameters sharded, for large models)."""
    timeout: int = 1800
    """Seconds a rank may wait on the others in a collective before the run fails (the process group's timeout;
    transformers' ``ddp_timeout`` default). Set where the group is created, before anything else."""
    vllm_gpu_memory_utilization: float | None = None
    """TRL's ``vllm_gpu_memory_utilization`` (colocate: the share vLLM takes beside training); unset: TRL's."""
    vllm_sleep: bool = False
    """TRL's ``vllm_enable_sleep_mode``: vLLM frees its memory while the policy trains (colocate)."""
    vllm_server: str | None = None
    """TRL's ``vllm_server_base_url`` for ``--vllm server`` (a ``trl vllm-serve`` started first)."""
    gpu_ids: str | None = None
    """GPUs of this node the ranks use (``accelerate``'s ``gpu_ids``, e.g. ``0,1,2,3``); unset: all."""

    def __post_init__(self) -> None:
        if self.nproc < 1:
            raise ValueError(f"--nproc must be >= 1, got {self.nproc}")
        if self.timeout < 1:
            raise ValueError(f"--timeout must be >= 1 second, got {self.timeout}")
        share = self.vllm_gpu_memory_utilization
        if share is not None and not 0 < share <= 1:
            raise ValueError(f"--vllm-gpu-memory-utilization must lie in (0, 1], got {share}")
        if (self.vllm_server is not None or self.vllm_sleep) and self.vllm is None:
            raise ValueError("--vllm-server and --vllm-sleep need --vllm (server or colocate)")
        if self.vllm is not None and self.vllm not in VLLM_MODES:
            raise ValueError(f"--vllm must be one of {', '.join(VLLM_MODES)}, got {self.vllm!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")


class TrainingBackend(Protocol):
    """Runs a training config and writes the run directory."""

    def plan(self, config: TrainConfig, launch: Launch) -> str:
        """What ``--dry-run`` prints: the resolved settings and the optimiser updates per rollout."""
        ...

    def resolved(self, config: TrainConfig, launch: Launch) -> dict[str, Any]:
        """What ``--dry-run --json`` adds to the config: the backend's own resolved settings, JSON-ready."""
        ...

    def train(self, config: TrainConfig, launch: Launch, resume: bool, show_progress: bool) -> Path:
        """Train; return the run directory."""
        ...


BACKENDS: Registry[Callable[[], TrainingBackend]] = Registry("training backend")


class RlvrBackend:
    """Our own trainer, on one process."""

    def plan(self, config: TrainConfig, launch: Launch) -> str:
        self._check(launch)
        return config.schedule().describe()

    def resolved(self, config: TrainConfig, launch: Launch) -> dict[str, Any]:
        self._check(launch)
        s = config.schedule()
        return {
            "backend": "rlvr",
            "rollout_size": s.rollout_size,
            "updates_per_rollout": s.updates_per_rollout,
            "schedule": s.describe(),
        }

    def train(self, config: TrainConfig, launch: Launch, resume: bool, show_progress: bool) -> Path:
        from rlvr_lab.rl.trainer import train

        self._check(launch)
        return train(config, resume=resume, show_progress=show_progress)

    @staticmethod
    def _check(launch: Launch) -> None:
        if (launch.nproc, launch.vllm, launch.strategy) != (1, None, "ddp"):
            raise ValueError("--nproc, --vllm and --strategy need --backend trl: our trainer runs on one process")


@BACKENDS.register("rlvr")
def _rlvr() -> TrainingBackend:
    return RlvrBackend()


@BACKENDS.register("trl")
def _trl() -> TrainingBackend:
    from rlvr_lab.backends.trl_backend import TRLBackend

    return TRLBackend()
