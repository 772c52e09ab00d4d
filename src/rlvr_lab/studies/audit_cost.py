"""What an audit costs, arm by arm, printed before anything starts (``rlvr audit --dry-run``, and at the start of
every audit).

The estimate counts the arithmetic of every stage from the claim's sizes and the model's parameter count N:

- a training step samples ``P × G`` responses and updates on them: generation ``2·N`` FLOPs per token (prompt and
  response), the old-policy log-probabilities another ``2·N`` (one forward), and each epoch's update ``6·N``
  (forward and backward), per token of ``P × G × (prompt + response)``;
- an evaluation samples ``problems × n`` responses: ``2·N`` per token.

Every response is counted at its full budget (``max_new_tokens``) and every prompt at :data:`PROMPT_TOKENS`, so
the figure is an upper bound on the arithmetic; attention's own FLOPs are left out (small next to ``N`` at these
lengths). On GPUs the FLOPs are turned into time at an assumed fraction of the peak (:data:`H100`); on the CPU
the organisms are so small that fixed costs dominate, so a run costs the per-response and per-run constants
measured on this 2-core machine (:data:`CPU`) plus its FLOPs at the measured single-thread rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_lab.rl.config import TrainConfig
from rlvr_lab.studies.audit import CLAIMED, AuditConfig, train_config, train_problems

PROMPT_TOKENS = {"organism": 16, "default": 1024}
"""Prompt length assumed per response: the organism's longest test prompt is 16 tokens; otherwise the *Spurious
Rewards* recipe's prompt budget (1,024), an upper bound for MATH-style problems."""
KNOWN_PARAMS = {
    "Qwen/Qwen2.5-Math-7B": 7.62e9,
    "Qwen/Qwen2.5-Math-1.5B": 1.54e9,
    "Qwen/Qwen2.5-7B": 7.62e9,
    "allenai/OLMo-2-1124-7B": 7.30e9,
    "meta-llama/Llama-3.1-8B": 8.03e9,
    "smollm2-135m": 1.35e8,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 1.35e8,
}
"""Parameter counts of models not on disk (their model cards), for estimates made without downloading them."""


@dataclass(frozen=True)
class GPU:
    """The GPU assumption: bf16 dense peak and the fraction of it each stage reaches."""

    name: str = "H100 SXM"
    peak_flops: float = 989e12
    """bf16 dense tensor-core peak (NVIDIA H100 SXM datasheet)."""
    generation_mfu: float = 0.10
    """vLLM decoding is bound by memory bandwidth: 10% of peak assumed."""
    training_mfu: float = 0.30
    """FSDP / ZeRO-3 forward and backward of a 7B model: 30% of peak assumed."""


@dataclass(frozen=True)
class CPU:
    """Costs measured on this 2-core machine, one torch thread per worker, organism runs (see the module docs)."""

    per_response_s: float = 0.02
    """A rollout response, sampled and updated on (``clip`` preset, 4 updates per rollout)."""
    per_sample_s: float = 0.005
    """An evaluation sample."""
    per_run_s: float = 20.0
    """Start-up, the trainer's own evaluations, saving and grading of one run."""
    sampling_flops: float = 40e9
    """float32 sampling rate of SmolLM2-135M on one thread (docs/performance.md)."""
    update_flops: float = 60e9
    """float32 update rate on one thread (docs/performance.md)."""


H100 = GPU()
THIS_CPU = CPU()


def parameter_count(model: str) -> float | None:
    """N of ``model``: the tensors of a local or shipped checkpoint, else :data:`KNOWN_PARAMS`, else None."""
    if model in KNOWN_PARAMS:
        return KNOWN_PARAMS[model]
    folder = _local_folder(model)
    if folder is None:
        return None
    from safetensors import safe_open

    total = 0
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as f:
            for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                shape = f.get_slice(name).get_shape()
                count = 1
                for size in shape:
                    count *= size
                total += count
    return float(total) or None


def _local_folder(model: str) -> str | None:
    from rlvr_lab.models.specs import resolve_model_dir

    try:
        folder = resolve_model_dir(model)
    except (ValueError, FileNotFoundError):
        return None
    return folder if Path(folder).is_dir() else None


def _prompt_tokens(data: str) -> int:
    return PROMPT_TOKENS.get(data, PROMPT_TOKENS["default"])


@dataclass(frozen=True)
class Cost:
    """One line of the plan: a stage, how many of it, and its cost each and in all."""

    stage: str
    model: str
    count: int
    flops: float
    """FLOPs of one."""
    cpu_s: float
    """Estimated seconds of one on this CPU (one worker)."""
    gpu_h: float
    """Estimated GPU-hours of one on :data:`H100`."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "model": self.model,
            "count": self.count,
            "flops_each": self.flops,
            "cpu_s_each": round(self.cpu_s, 1),
            "gpu_hours_each": round(self.gpu_h, 3),
            "gpu_hours_total": round(self.gpu_h * self.count, 2),
        }


def run_cost(config: TrainConfig, params: float, eval_samples: int, cpu: CPU = THIS_CPU, gpu: GPU = H100) -> Cost:
    """One training run and its final evaluation."""
    schedule = config.schedule()
    tokens = _prompt_tokens(config.train_data) + config.max_new_tokens
    responses = config.steps * schedule.rollout_size
    gen = 2 * params * responses * tokens
    train = (2 + 6 * schedule.epochs) * params * responses * tokens
    evals = 2 * params * eval_samples * (_prompt_tokens(config.eval_data) + config.max_new_tokens)
    fixed = responses * cpu.per_response_s + eval_samples * cpu.per_sample_s
    cpu_s = cpu.per_run_s + max(fixed, (gen + evals) / cpu.sampling_flops + train / cpu.update_flops)
    gpu_s = (gen + evals) / (gpu.peak_flops * gpu.generation_mfu) + train / (gpu.peak_flops * gpu.training_mfu)
    return Cost("", config.model, 1, gen + train + evals, cpu_s, gpu_s / 3600)


def sample_cost(
    model: str, params: float, data: str, samples: int, max_new_tokens: int, cpu: CPU = THIS_CPU, gpu: GPU = H100
) -> Cost:
    """Sampling ``samples`` responses (and grading them)."""
    flops = 2 * params * samples * (_prompt_tokens(data) + max_new_tokens)
    cpu_s = cpu.per_run_s / 2 + max(samples * cpu.per_sample_s, flops / cpu.sampling_flops)
    return Cost("", model, 1, flops, cpu_s, flops / (gpu.peak_flops * gpu.generation_mfu) / 3600)


def audit_costs(config: AuditConfig, root: Path) -> list[Cost]:
    """Every stage of the audit, one line per (model, arm) and per sampling stage; ``ValueError`` when a model's
    parameter count is unknown."""
    s = config.sizes
    claim = config.claimed.config()
    lines: list[Cost] = []
    for model in config.models:
        params = parameter_count(model)
        if params is None:
            raise ValueError(f"no parameter count for {model!r}: not on disk and not in the table of known models")

        def sampled(stage: str, count: int, data: str, n: int, model: str = model, params: float = params) -> Cost:
            one = sample_cost(model, params, data, n, claim.max_new_tokens)
            return Cost(stage, model, count, one.flops, one.cpu_s, one.gpu_h)

        lines.append(sampled("base evaluation", 1, claim.eval_data, s.eval_problems * s.eval_samples))
        if "incorrect" in config.arms:
            train_n = train_problems(config)
            lines.append(sampled("base votes (incorrect labels)", 1, claim.train_data, train_n * s.votes))
        for arm in config.arms:
            one = run_cost(
                train_config(config, root, model, arm, config.seeds[0]), params, s.eval_problems * s.eval_samples
            )
            lines.append(Cost(f"train {arm}", model, len(config.seeds), one.flops, one.cpu_s, one.gpu_h))
        k_samples = s.boundary_problems * config.largest_k
        lines.append(sampled(f"large k base (k = {config.largest_k})", 1, claim.eval_data, k_samples))
        lines.append(
            sampled(f"large k {CLAIMED} (k = {config.largest_k})", len(config.seeds), claim.eval_data, k_samples)
        )
    return lines


def assumptions(gpu: GPU = H100, cpu: CPU = THIS_CPU) -> list[str]:
    return [
        "FLOPs: 2N per token sampled (prompt and response), 2N for the old-policy log-probs and 6N per epoch for the "
        "update, per token of every rollout; every response at its full max_new_tokens budget and every prompt at "
        f"{PROMPT_TOKENS['default']} tokens ({PROMPT_TOKENS['organism']} on the organism): an upper bound",
        f"GPU: {gpu.name}, bf16 dense peak {gpu.peak_flops / 1e12:.0f} TFLOP/s, {gpu.generation_mfu:.0%} of it "
        f"while sampling and {gpu.training_mfu:.0%} while training (assumed, not measured)",
        f"CPU: {cpu.per_run_s:.0f} s per run, {cpu.per_response_s} s per rollout response, {cpu.per_sample_s} s per "
        "evaluation sample (organism runs measured on this 2-core machine), or the FLOPs at "
        f"{cpu.sampling_flops / 1e9:.0f} / {cpu.update_flops / 1e9:.0f} GFLOP/s (docs/performance.md, one thread) "
        "when that is longer",
    ]


def plan_text(config: AuditConfig, costs: list[Cost], gpus: int) -> str:
    """The plan as ``--dry-run`` prints it: one line per stage, then the totals and the assumptions."""
    width = max(len(c.stage) for c in costs) + 2
    lines = [f"{'stage':<{width}}{'model':<24}{'runs':>5}{'CPU each':>12}{'GPU-h each':>12}{'GPU-h total':>13}"]
    for c in costs:
        lines.append(
            f"{c.stage:<{width}}{c.model[:23]:<24}{c.count:>5}{_duration(c.cpu_s):>12}"
            f"{c.gpu_h:>12.3g}{c.gpu_h * c.count:>13.4g}"
        )
    gpu_h = sum(c.gpu_h * c.count for c in costs)
    cpu_s = sum(c.cpu_s * c.count for c in costs)
    lines.append(
        f"total: {gpu_h:,.4g} GPU-hours (about {gpu_h / gpus:,.3g} h on {gpus} GPU(s)); on this CPU "
        f"{_duration(cpu_s)} of worker time, about {_duration(cpu_s / config.workers)} with "
        f"{config.workers} worker(s)"
    )
    lines += [f"assumption: {a}" for a in assumptions()]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
