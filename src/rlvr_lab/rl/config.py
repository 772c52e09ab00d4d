"""The training config: one frozen dataclass, resolved from defaults, a preset, a YAML file and the command line.

Resolution order (later wins): the field defaults below, then the preset's values (``preset``, see
:mod:`rlvr_lab.rl.schedule`), then the YAML file, then options given on the command line. The resolved config is
written to ``DIR/config.yaml`` and is all a run needs to be reproduced.

The fields are flat and grouped like nanoGPT's ``train.py``; the docstring under each field is its ``--help``
(read from this file's source by :func:`field_docs`, as ``tyro`` does for cleanrl), so help and code cannot
drift. Derived values (the :class:`~rlvr_lab.rl.schedule.Schedule`, the
:class:`~rlvr_lab.rl.losses.LossConfig`) come from methods, not from stored fields.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rlvr_lab.rl.schedule import LR_SCHEDULES, PRESETS, Schedule
from rlvr_lab.runtime.precision import DTYPE_CHOICES

if TYPE_CHECKING:
    from rlvr_lab.rl.losses import LossConfig

ATTENTION_CHOICES = ("compute", "float32")
"""``attention`` values: the forward's compute dtype, or float32 (:mod:`rlvr_lab.rl.attention`)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run."""

    # -- run ------------------------------------------------------------------------------------------------------
    model: str = "qwen-math-like"
    """Model to train: a shipped organism (qwen-math-like, olmo-like), a built-in name or a HF folder."""
    out: str = "runs/train"
    """Run directory: config.yaml, metrics.jsonl, problems.jsonl, checkpoints/, model/, eval/, tb/."""
    seed: int = 0
    """Seed of everything random: data order, sampling, random rewards, mini-batch shuffles."""
    steps: int = 20
    """Training steps (rollouts)."""
    backend: str = "rlvr"
    """Who runs the loop: rlvr (our trainer, one process) or trl (TRL's GRPOTrainer; see docs/scale.md). Recorded
    here as data; the name is checked where the run is dispatched (:data:`rlvr_lab.backends.BACKENDS`)."""

    # -- data -----------------------------------------------------------------------------------------------------
    train_data: str = "organism"
    """Training problems: a benchmark name, a problem file or hf:owner/name (see `rlvr sample --help`)."""
    train_split: str = "train"
    """Split of the training benchmark (ignored for files)."""
    train_limit: int | None = None
    """Use only the first N training problems (all when unset)."""
    eval_data: str = "organism"
    """Held-out evaluation problems (same forms as train_data)."""
    eval_split: str = "test"
    """Split of the evaluation benchmark."""
    eval_limit: int | None = 100
    """Evaluate on the first N held-out problems (all when unset)."""
    prompt: str = "organism"
    """Prompt template name (or YAML file) used for training and evaluation alike."""
    one_shot: str = ""
    """One-shot RLVR: a problem id, or a previous run's directory to pick the problem with the largest variance of
    training accuracy; that one problem then fills every prompt slot. Empty: train on all problems."""

    # -- signal ---------------------------------------------------------------------------------------------------
    reward: str = "ground_truth"
    """Reward spec, e.g. ground_truth, majority_vote, format, random:0.5, incorrect:store=PATH, format&not:python.
    The store of incorrect (and of majority_vote:store=PATH) holds the base model's samples on the training
    problems: rlvr sample --model qwen-math-like --problems organism --split train --template organism --n 8
    --out labels.jsonl."""
    fallbacks: str = ""
    """Answer extractors tried in order when a completion has no \\boxed{} (comma-separated: answer_is, answer_tag,
    last_number), for the reward, its label stores and every evaluation of the run alike, as rlvr grade --fallbacks.
    Empty (both papers' rule): the boxed answer only. For models that do not box, such as SmolLM2-135M."""
    advantage: str = "grpo"
    """Advantage estimator: grpo, dr_grpo, rloo, reinforce_pp, remax (greedy baseline), gae (PPO critic), none."""

    # -- algorithm extras: PPO's critic, DAPO's rollout shaping (see rlvr_lab.rl.algorithms) ----------------------
    gamma: float = 1.0
    """GAE discount γ (advantage gae only)."""
    gae_lambda: float = 1.0
    """GAE trace λ (advantage gae only)."""
    value_lr: float = 1e-4
    """Learning rate of PPO's value model (advantage gae only)."""
    value_clip: float = 0.2
    """Clip range of PPO's value loss (advantage gae only)."""
    dynamic_sampling: bool = False
    """DAPO: leave out of the update the groups whose rewards are all equal."""
    overlong_buffer: int = 0
    """DAPO soft overlong punishment: penalise responses in the last N tokens of max_new_tokens (0: off)."""
    overlong_penalty: float = 1.0
    """DAPO: the penalty at max_new_tokens (linear from 0 at the buffer's start)."""

    # -- schedule (a preset fills these; explicit values win) -----------------------------------------------------
    preset: str = "clip"
    """Schedule preset: clip, no-clip, on-policy-batch, small-rollout (the clipping ablation), paper (64 × 16,
    mini-batches of 128: 8 updates per rollout) or paper-on-policy (its one-update control)."""
    prompts_per_step: int = 16
    """Prompt slots per rollout (P)."""
    group_size: int = 8
    """Completions per prompt (G)."""
    mini_batch_size: int = 32
    """Completions per optimiser update; divides P × G."""
    epochs: int = 1
    """Passes over each rollout (μ)."""
    micro_batch_size: int | None = 16
    """Completions per forward/backward pass inside a mini-batch, cut after sorting the mini-batch by length so
    each pass pads little (speed and memory only: the loss is the same). Unset: the whole mini-batch at once."""

    # -- sampling -------------------------------------------------------------------------------------------------
    max_new_tokens: int = 160
    """Generation budget per completion; also L_max of the seq-mean-token-sum-norm aggregation."""
    temperature: float = 1.0
    """Sampling temperature of rollouts (log-probs in the loss are always at temperature 1)."""
    engine_batch_size: int = 128
    """Rows the sampler keeps busy at once."""
    decoder: str = "auto"
    """The torch sampler's decoder for rollouts and evaluations: auto (lean where the architecture allows), lean,
    native (each decode step in one C++ call, built on first use; its sums run in another order, so samples can
    differ from lean's where two tokens lie within rounding) or generic."""

    # -- loss: the fields of rlvr_lab.rl.losses.LossConfig, documented there (field_docs reads them) -------------
    clip: str = "clip"
    eps_low: float = 0.2
    eps_high: float = 0.2
    aggregation: str = "seq-mean-token-mean"
    kl_coef: float = 0.0
    entropy_coef: float = 0.0
    track_ref_kl: bool = True
    """Keep a frozen copy of the initial model to log actor/kl even when kl_coef is 0 (one extra forward)."""

    # -- optimiser ------------------------------------------------------------------------------------------------
    lr: float = 2e-4
    """Peak learning rate of AdamW."""
    lr_schedule: str = "constant"
    """constant, linear or cosine decay after warmup."""
    warmup_steps: int = 0
    """Steps of linear warmup."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    beta1: float = 0.9
    """AdamW β1."""
    beta2: float = 0.99
    """AdamW β2."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0: no clipping; the norm is logged either way)."""

    # -- evaluation, logging, checkpoints -------------------------------------------------------------------------
    eval_every: int = 10
    """Evaluate on the held-out split every N steps (also before the first and after the last; 0: only those)."""
    eval_samples: int = 4
    """Samples per held-out problem: eval/accuracy is avg@n (= pass@1), eval/pass@n is logged too."""
    eval_temperature: float = 1.0
    """Sampling temperature of evaluation (0: greedy, one sample is enough)."""
    save_every: int = 10
    """Write a resumable checkpoint every N steps (and after the last)."""
    keep_checkpoints: int = 1
    """Checkpoints kept on disk (oldest deleted first)."""
    tensorboard: bool = True
    """Also write TensorBoard events under DIR/tb."""
    device: str = "cpu"
    """Torch device."""
    dtype: str = "auto"
    """Compute dtype of sampling and of the update: float32, bfloat16 (autocast; weights and AdamW state stay
    float32) or auto (bfloat16 for models of 50M+ parameters on hardware with native bfloat16, else float32)."""
    attention: str = "compute"
    """Dtype of the update's attention: compute (the forward's: bfloat16 under bfloat16 autocast) or float32
    (upcast, autocast off: on CPU the bfloat16 flash-attention backward is 2.4-6x the float32 one, and the samplers'
    attention is float32; see rlvr_lab.rl.attention). The same in float32 runs."""
    compile: bool = False
    """torch.compile the policy's forward for the update (inductor, dynamic shapes; rlvr_lab.rl.compiled): a
    bfloat16 update of the organisms in 0.8 of the eager time, after a compilation of 35-50 s that
    later runs in the same process reuse (rlvr demo's workers). Numbers round differently from eager's. Backend rlvr
    only (trl refuses it; verl's actor has its own use_torch_compile)."""
    threads: int | None = None
    """Torch intra-op CPU threads (unset: $RLVR_THREADS, else 1; 0: torch's default, one per core). One thread does
    not collapse on a busy machine, where spinning worker threads wait on each other (rlvr_lab.runtime.threads)."""

    def __post_init__(self) -> None:
        from rlvr_lab.engines.base import DECODER_PATHS  # torch: imported on use so `rlvr --help` stays fast
        from rlvr_lab.rl.advantages import ADVANTAGES

        _check_types(self)
        PRESETS.get(self.preset)
        ADVANTAGES.get(self.advantage)
        LR_SCHEDULES.get(self.lr_schedule)
        self.schedule()
        self.loss()
        self.answer_fallbacks()
        positive = ("steps", "max_new_tokens", "engine_batch_size", "eval_samples", "save_every", "keep_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.micro_batch_size is not None and self.micro_batch_size < 1:
            raise ValueError(f"micro_batch_size must be >= 1 when set, got {self.micro_batch_size}")
        if self.threads is not None and self.threads < 0:
            raise ValueError(f"threads must be >= 0 when set (0: torch's default), got {self.threads}")
        if self.decoder not in DECODER_PATHS:
            raise ValueError(f"decoder must be one of {', '.join(DECODER_PATHS)}, got {self.decoder!r}")
        if self.dtype not in DTYPE_CHOICES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {self.dtype!r}")
        if self.attention not in ATTENTION_CHOICES:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_CHOICES)}, got {self.attention!r}")
        if not (0 < self.gamma <= 1 and 0 <= self.gae_lambda <= 1) or self.value_lr <= 0 or self.value_clip <= 0:
            raise ValueError("need 0 < gamma <= 1, 0 <= gae_lambda <= 1, value_lr > 0 and value_clip > 0")
        if not 0 <= self.overlong_buffer <= self.max_new_tokens:
            raise ValueError(f"overlong_buffer must lie in [0, max_new_tokens], got {self.overlong_buffer}")
        if self.eval_every < 0 or self.warmup_steps < 0 or self.grad_clip < 0 or self.lr <= 0:
            raise ValueError("eval_every, warmup_steps and grad_clip must be >= 0 and lr > 0")
        self._check_learnable()

    def _check_learnable(self) -> None:
        """Refuse configs that run without error and learn nothing (or sample nothing sensible)."""
        for name in ("train_limit", "eval_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 when set (unset: all problems), got {getattr(self, name)}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (rollouts are sampled), got {self.temperature}")
        if self.eval_temperature < 0:
            raise ValueError(f"eval_temperature must be >= 0 (0: greedy), got {self.eval_temperature}")
        if self.group_size == 1 and self.advantage in GROUP_BASELINES:
            raise ValueError(
                f"group_size 1 with advantage {self.advantage!r}: a group of one is its own baseline, so every "
                "advantage is 0 and nothing is learned; use group_size >= 2, or advantage reinforce_pp, remax, gae "
                "or none"
            )
        _check_reward(self.reward)

    def schedule(self) -> Schedule:
        return Schedule(self.prompts_per_step, self.group_size, self.mini_batch_size, self.epochs)

    def loss(self) -> LossConfig:
        from rlvr_lab.rl.losses import LossConfig

        return LossConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(LossConfig)})

    @property
    def needs_reference(self) -> bool:
        """Whether a frozen copy of the initial model is kept."""
        return self.kl_coef > 0 or self.track_ref_kl

    def answer_fallbacks(self) -> tuple[str, ...]:
        """``fallbacks`` as the grader takes them; an unknown or repeated name is a ``ValueError`` naming the field."""
        from rlvr_lab.grading.extract import parse_fallbacks

        try:
            return parse_fallbacks(self.fallbacks)
        except ValueError as err:
            raise ValueError(f"fallbacks: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}

GROUP_BASELINES = ("grpo", "dr_grpo", "rloo")
"""Advantage estimators whose baseline is the prompt's own group (0 for a group of one)."""


def _check_types(config: TrainConfig) -> None:
    """Every number field holds a finite number (a YAML ``lr: fast`` was a TypeError deep in the optimiser, and
    ``lr: .inf`` trained to NaN weights); booleans are booleans, strings strings."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        kind = str(field.type)
        if value is None and kind.endswith("| None"):
            continue
        if kind.startswith("float") and isinstance(value, str):
            try:  # YAML 1.1 reads `lr: 1e-4` (no dot) as a string
                value = float(value)
            except ValueError:
                pass
            else:
                object.__setattr__(config, field.name, value)
        if kind.startswith(("float", "int")):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or (kind.startswith("int") and not isinstance(value, int)):
                raise ValueError(f"{field.name} must be {'an integer' if kind.startswith('int') else 'a number'}, "
                                 f"got {value!r}")  # fmt: skip
            if not math.isfinite(value):
                raise ValueError(f"{field.name} must be finite, got {value!r}")
        elif kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"{field.name} must be true or false, got {value!r}")
        elif kind == "str" and not isinstance(value, str):
            raise ValueError(f"{field.name} must be a string, got {value!r}")


def _check_reward(spec: str) -> None:
    """The reward names of a spec exist (``random:0.5``, ``format&not:python``, ``module:function``), checked before
    anything is written; building the reward itself (which may read a label store) waits for the run."""
    from rlvr_lab.rewards import REWARDS

    for term in spec.split("&"):
        term = term.strip()
        while term.startswith("not:"):
            term = term[len("not:") :].strip()
        name, sep, arg = term.partition(":")
        if name not in REWARDS and not (sep and arg.isidentifier()):
            raise ValueError(
                f"reward: unknown reward {name!r} in {spec!r}; choose one of: {', '.join(REWARDS.names())}, "
                "or give a user reward as module:function"
            )


def resolve_config(file_values: dict[str, Any] | None = None, cli_values: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults < preset < YAML file < command line; unknown keys raise ``ValueError`` listing the valid ones."""
    explicit = {**(file_values or {}), **(cli_values or {})}
    unknown = sorted(set(explicit) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid keys: {', '.join(FIELDS)}")
    preset = explicit.get("preset", TrainConfig.preset)
    return TrainConfig(**{**PRESETS.get(preset), **explicit})


def load_config_file(path: Path) -> dict[str, Any]:
    """The key/value mapping of a YAML config file (validated by :func:`resolve_config`)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must be a mapping of option names to values")
    return data


def save_config(config: TrainConfig, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


@cache
def field_docs(cls: type | None = None) -> dict[str, str]:
    """Field name -> the docstring written under it in ``cls`` (one paragraph). For :class:`TrainConfig` (the
    default), the loss fields' docs come from :class:`~rlvr_lab.rl.losses.LossConfig`, where they are written once."""
    if cls is None:
        from rlvr_lab.rl.losses import LossConfig

        return {**field_docs(TrainConfig), **field_docs(LossConfig)}
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        named = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        if named and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs
