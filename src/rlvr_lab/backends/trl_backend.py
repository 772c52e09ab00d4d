"""``rlvr train --backend trl``: plan, launch and run TRL's ``GRPOTrainer`` on a :class:`TrainConfig`.

One process (``--nproc 1``, the default) runs in this process: no launcher, no extra start-up, and the same code
path as every rank of a launched run (:func:`rlvr_lab.backends.trl_run.run`). More processes are started with
``accelerate launch`` on an ``accelerate`` config written to ``DIR/accelerate.yaml`` (DDP, or DeepSpeed ZeRO-3 with
``--strategy zero3``), each rank running ``python -m rlvr_lab.backends.trl_run DIR/config.yaml``; on the CPU with
``torchrun`` (gloo), which starts that module the same way. ``--vllm colocate|server`` is passed through to TRL
(``use_vllm``, ``vllm_mode``); vLLM needs a GPU (TRL's weight sync into vLLM's CPU build fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from rlvr_lab.backends import Launch
from rlvr_lab.backends.trl_config import launch_kwargs, trl_plan
from rlvr_lab.rl.config import TrainConfig

ACCELERATE_FILE = "accelerate.yaml"


def accelerate_config(launch: Launch, device: str) -> dict[str, Any]:
    """The ``accelerate`` config of a launch: one machine, ``nproc`` processes, DDP or DeepSpeed ZeRO-3."""
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU" if device != "cpu" else "MULTI_CPU",
        "num_machines": 1,
        "machine_rank": 0,
        "num_processes": launch.nproc,
        "mixed_precision": "no" if device == "cpu" else "bf16",
        "use_cpu": device == "cpu",
        "main_training_function": "main",
        "rdzv_backend": "static",
        "same_network": True,
    }
    if launch.gpu_ids is not None:
        config["gpu_ids"] = launch.gpu_ids
    if launch.strategy == "zero3":
        config["distributed_type"] = "DEEPSPEED"
        config["deepspeed_config"] = {
            "zero_stage": 3,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": True,
            "zero3_save_16bit_model": True,
        }
    elif launch.nproc == 1:
        config["distributed_type"] = "NO"
    return config


def launch_command(run_dir: Path, launch: Launch, resume: bool, device: str) -> list[str]:
    """The command line that starts every rank of the run in ``run_dir``.

    On GPUs: ``accelerate launch`` with ``DIR/accelerate.yaml``. On the CPU: ``torchrun`` (gloo), because
    ``accelerate launch`` starts a single process for a multi-CPU config unless it is given an MPI host file.
    """
    bin_dir = str(Path(sys.executable).parent)
    if device == "cpu":
        torchrun = shutil.which("torchrun", path=bin_dir) or "torchrun"
        command = [torchrun, "--standalone", "--nproc_per_node", str(launch.nproc)]
    else:
        accelerate = shutil.which("accelerate", path=bin_dir) or "accelerate"
        command = [accelerate, "launch", "--config_file", str(run_dir / ACCELERATE_FILE)]
    command += ["-m", "rlvr_lab.backends.trl_run", str(run_dir / "config.yaml"), "--world-size", str(launch.nproc)]
    command += ["--strategy", launch.strategy, "--timeout", str(launch.timeout)]
    if launch.vllm:
        command += ["--vllm", launch.vllm]
    if launch.vllm_gpu_memory_utilization is not None:
        command += ["--vllm-gpu-memory-utilization", str(launch.vllm_gpu_memory_utilization)]
    if launch.vllm_sleep:
        command.append("--vllm-sleep")
    if launch.vllm_server is not None:
        command += ["--vllm-server", launch.vllm_server]
    if resume:
        command.append("--resume")
    return command


class TRLBackend:
    """TRL's ``GRPOTrainer`` with our rewards, logs, evaluation and run directory."""

    def plan(self, config: TrainConfig, launch: Launch) -> str:
        plan = trl_plan(config, launch.nproc)
        lines = [
            "GRPOConfig(",
            *(f"    {key}={value!r}," for key, value in {**plan.kwargs, **launch_kwargs(config, launch)}.items()),
            ")",
            plan.describe(),
        ]
        if launch.nproc > 1 or launch.strategy != "ddp":
            lines += [
                f"accelerate config ({ACCELERATE_FILE}):",
                yaml.safe_dump(accelerate_config(launch, config.device)),
            ]
        return "\n".join(lines)

    def resolved(self, config: TrainConfig, launch: Launch) -> dict[str, Any]:
        plan = trl_plan(config, launch.nproc)
        return {
            "backend": "trl",
            "world_size": plan.world_size,
            "grpo_config": {**plan.kwargs, **launch_kwargs(config, launch)},
            "generation_batch_size": plan.generation_batch_size,
            "optimiser_batch": plan.optimiser_batch,
            "updates_per_rollout": plan.updates_per_rollout,
            "rows_per_rank": plan.rows_per_rank,
            "accelerate": accelerate_config(launch, config.device) if launch.nproc > 1 else None,
            "launch": launch_command(Path(config.out), launch, resume=False, device=config.device),
        }

    def train(self, config: TrainConfig, launch: Launch, resume: bool, show_progress: bool) -> Path:
        from rlvr_lab.rl.run_dir import LOCK_HELD_ENV, prepare_run_dir

        trl_plan(config, launch.nproc)  # refuse what TRL cannot express before anything starts
        if launch.nproc == 1 and launch.strategy == "ddp":
            from rlvr_lab.backends.trl_run import run

            return run(config, launch, resume=resume, show_progress=show_progress)
        run_dir, _ = prepare_run_dir(config, resume)
        if config.device != "cpu":
            (run_dir / ACCELERATE_FILE).write_text(yaml.safe_dump(accelerate_config(launch, config.device)))
        command = launch_command(run_dir, launch, resume, config.device)
        print(" ".join(command), file=sys.stderr)
        # This process holds the run directory's lock while its ranks train in it (they would refuse it otherwise).
        code = subprocess.run(command, env={**os.environ, LOCK_HELD_ENV: str(run_dir.resolve())}).returncode
        if code:
            raise SystemExit(f"the training processes failed (exit code {code}); their output is above")
        return run_dir
