"""``rlvr export verl``: a training run of ours as a verl ``main_ppo`` run: data, reward and command.

verl (Sheng et al., 2024, HybridFlow) is what the field uses to train on many GPUs and nodes with GRPO/PPO. This
module translates a :class:`~rlvr_lab.rl.config.TrainConfig` (model, problems, reward spec, preset, loss) into what
verl reads, so the *Spurious Rewards* recipe runs there with our rewards and our evaluation afterwards:

``DIR/train.parquet``, ``DIR/val.parquet``
    verl's RL dataset schema, one row per problem: ``data_source``, ``prompt`` (chat messages: the template's
    system text, if any, and its user text), ``ability`` ("math"), ``reward_model = {style: "rule", ground_truth}``,
    ``extra_info = {role, split, index, problem_id, problem}``: ``role`` is ``train`` in ``train.parquet`` and
    ``validation`` in ``val.parquet``, set by the file a row is written to (the reward manager scores validation
    rows by ground truth), never read from the split's name. verl always applies the tokenizer's chat template to
    ``prompt``; a plain-text template (``r1``, ``none``, the organism's) on a tokenizer without one gets an identity
    chat template in ``DIR/tokenizer`` (the model's tokenizer with the template added), named in the command.
``DIR/run.sh``
    the ``python -m verl.trainer.main_ppo`` command with every override (:func:`main_ppo_overrides`), each a
    valid Hydra override (free text such as a reward spec ``format&not:python`` or a path is quoted for Hydra's
    grammar by :func:`hydra_quote`, then for the shell).
``DIR/export.json``
    the resolved config, the overrides and the notes below, so the export says what it did.

Rewards go through :mod:`rlvr_lab.export.verl_reward`, a verl reward manager that sees the whole batch of a step:
it groups responses by verl's ``uid`` (one per prompt: the group of a GRPO step), numbers each group's responses,
and reads the training step from the batch, so ``random:γ`` is a pure function of (seed, global step, problem,
sample) as in our trainer and group rewards (online majority vote) see whole groups.

Schedule translation (verl counts ``train_batch_size`` and ``ppo_mini_batch_size`` in *prompts*):

===============================  ===============================================================================
ours                             verl
===============================  ===============================================================================
``prompts_per_step`` (P)         ``data.train_batch_size = P``
``group_size`` (G)               ``actor_rollout_ref.rollout.n = G``
``mini_batch_size`` (samples)    ``actor_rollout_ref.actor.ppo_mini_batch_size = mini_batch_size / G`` (must divide)
``epochs`` (μ)                   ``actor_rollout_ref.actor.ppo_epochs = μ``
``clip: clip``, ε_low, ε_high    ``clip_ratio_low = ε_low``, ``clip_ratio_high = ε_high``
``clip: none``                   ``clip_ratio_low = 1`` (the lower bound 1 − 1 = 0 never binds: ratios are > 0),
                                 ``clip_ratio_high = 1e9``
(no counterpart)                 ``clip_ratio_c = 1e9``: verl's ``vanilla`` loss is *dual-clip* PPO (Ye et al.,
                                 2020), which also bounds the loss of negative-advantage tokens at
                                 ``clip_ratio_c × |A|`` (3 by default). Our loss has no such bound, so it is
                                 neutralised; set ``--dual-clip 3`` to keep verl's default.
``advantage`` grpo / dr_grpo     ``algorithm.adv_estimator=grpo``, ``norm_adv_by_std_in_grpo`` true / false
``advantage`` rloo               ``algorithm.adv_estimator=rloo``
``aggregation``                  ``actor.loss_agg_mode`` (same names)
``kl_coef`` β                    ``actor.use_kl_loss = β > 0``, ``kl_loss_coef = β``, ``kl_loss_type = low_var_kl``
                                 (k3), ``algorithm.use_kl_in_reward = false``
``entropy_coef``, ``lr``,        ``actor.entropy_coeff``, ``actor.optim.lr``, ``actor.optim.lr_warmup_steps``,
``warmup_steps``                 ``lr_scheduler_type=constant``
``grad_clip``                    ``actor.optim.clip_grad`` (what verl 0.9's FSDP engine reads; ``actor.grad_clip``
                                 is read by no code)
``beta1``, ``beta2``,            ``actor.optim.betas=[β1,β2]`` (verl's default is (0.9, 0.999)),
``weight_decay``                 ``actor.optim.weight_decay`` (verl's default is 0.01)
``aggregation``                  ``actor.loss_agg_mode``; ``actor.loss_scale_factor = max_new_tokens``: the L_max of
seq-mean-token-sum-norm          Dr. GRPO (verl otherwise divides by each micro-batch's padded length)
``max_new_tokens``, temperature  ``data.max_response_length``, ``rollout.temperature``, ``rollout.top_p=1``,
                                 ``rollout.top_k=-1``
``eval_temperature``,            ``rollout.val_kwargs``: ``temperature``, ``n`` (1 when greedy), ``top_p=1``,
``eval_samples``                 ``do_sample`` (verl validates greedily by default)
``steps``, ``eval_every``,       ``trainer.total_training_steps``, ``trainer.test_freq``, ``trainer.save_freq``,
``save_every``, ``keep_          ``trainer.max_actor_ckpt_to_keep``; ``actor.checkpoint.save_contents`` adds
checkpoints``                    ``hf_model`` so every checkpoint holds HF weights for ``rlvr sample``
``dynamic_sampling``             ``algorithm.filter_groups`` (enable, metric ``rlvr_reward``: the shaped training
                                 reward our manager reports). verl then refills the batch with new prompts until
                                 it holds ``P`` groups that vary (DAPO's own procedure, Yu et al. 2025 §3.2); our
                                 trainer trains on the kept groups only, a smaller update
``overlong_buffer``,             applied by our reward manager with :func:`rlvr_lab.rl.dapo.overlong_penalty`
``overlong_penalty``             (the same function as our trainer), before the group filter
===============================  ===============================================================================

Refused, naming the option, rather than approximated: ``advantage: reinforce_pp`` (verl's
``reinforce_plus_plus`` whitens token-level returns over the batch, which weights long responses more than our
per-response batch normalisation), ``advantage: none``, ``lr_schedule`` other than constant (verl's warmup-then-
cosine has its own floor), ``one_shot`` (repeat the problem in the problem file instead), ``fallbacks`` (the
exported reward grades the boxed answer only), and a mini-batch that is not a whole number of groups.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_lab.export.hydra import hydra_quote
from rlvr_lab.export.verl_board import ROLES, reward_overrides
from rlvr_lab.prompts import PromptTemplate
from rlvr_lab.rl.config import TrainConfig
from rlvr_lab.tasks.problem import Problem

IDENTITY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }}{% if not loop.last %}{{ '\\n\\n' }}{% endif %}{% endfor %}"
)
"""Joins the messages as the plain rendering does (parts separated by a blank line), for tokenizers that have no
chat template: verl applies one unconditionally. The blank line is a Jinja string: transformers compiles chat
templates with ``trim_blocks``, which drops the first newline after a block tag (a literal ``\\n\\n`` there
rendered as one newline, so verl's prompt differed from ours)."""

NEVER_BINDS = 1e9
"""A clip bound no ratio reaches."""


class VerlExportError(ValueError):
    """A setting verl cannot express; the message names the option and what to do instead."""


@dataclass(frozen=True)
class VerlTarget:
    """Where and on what the verl run will go."""

    n_gpus_per_node: int = 8
    nnodes: int = 1
    rollout: str = "vllm"
    """verl's rollout engine (vllm, sglang, hf)."""
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.6
    max_prompt_length: int = 1024
    micro_batch_size_per_gpu: int = 4
    """Per-GPU micro-batch for the actor update and log-prob passes (memory only: the loss is the same)."""
    dual_clip: float = NEVER_BINDS
    """verl's ``clip_ratio_c`` (see the module docstring); the default neutralises it."""


def verl_rows(
    problems: Sequence[Problem], template: PromptTemplate, split: str, data_source: str, role: str
) -> list[dict]:
    """verl's dataset rows for ``problems`` under ``template``; ``role`` is the file's (see the module docstring),
    ``split`` only records where the problems came from."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    rows = []
    for index, problem in enumerate(problems):
        user = template.user.replace("{problem}", problem.prompt)
        messages = [{"role": "system", "content": template.system}] if template.system else []
        messages.append({"role": "user", "content": user})
        rows.append(
            {
                "data_source": data_source,
                "prompt": messages,
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": problem.answer},
                "extra_info": {
                    "role": role,
                    "split": split,
                    "index": index,
                    "problem_id": problem.id,
                    "problem": problem.prompt,
                },
            }
        )
    return rows


def _advantage(config: TrainConfig) -> list[str]:
    if config.advantage in ("grpo", "dr_grpo"):
        norm = "true" if config.advantage == "grpo" else "false"
        return ["algorithm.adv_estimator=grpo", f"algorithm.norm_adv_by_std_in_grpo={norm}"]
    if config.advantage == "rloo":
        return ["algorithm.adv_estimator=rloo"]
    raise VerlExportError(
        f"advantage={config.advantage!r} has no exact verl counterpart (verl's reinforce_plus_plus whitens "
        "token-level returns; 'none' has no estimator): use grpo, dr_grpo or rloo"
    )


def _clip(config: TrainConfig, target: VerlTarget) -> list[str]:
    if config.clip == "none":
        low, high = 1.0, NEVER_BINDS
    else:
        low, high = config.eps_low, config.eps_high
    return [
        f"actor_rollout_ref.actor.clip_ratio_low={low}",
        f"actor_rollout_ref.actor.clip_ratio_high={high}",
        f"actor_rollout_ref.actor.clip_ratio_c={target.dual_clip}",
    ]


def _check_expressible(config: TrainConfig) -> None:
    if config.lr_schedule != "constant":
        raise VerlExportError(f"lr_schedule={config.lr_schedule!r}: export supports a constant rate after warmup")
    if config.one_shot:
        raise VerlExportError("one_shot: verl has no one-shot sampler; repeat the problem in a problem file instead")
    if config.fallbacks:
        raise VerlExportError(
            f"fallbacks={config.fallbacks!r}: the exported reward grades the boxed answer only; train with "
            "--backend rlvr or trl, or prompt the model to box its answer"
        )
    if config.attention != "compute":
        raise VerlExportError(
            f"attention={config.attention!r}: verl's actor runs its model's own attention (flash attention on GPUs, "
            "fast in bfloat16); export with attention compute"
        )
    if config.mini_batch_size % config.group_size:
        raise VerlExportError(
            f"mini_batch_size={config.mini_batch_size} is not a whole number of groups of {config.group_size}: "
            "verl counts mini-batches in prompts"
        )


def main_ppo_overrides(
    config: TrainConfig,
    target: VerlTarget,
    *,
    model_path: str,
    train_files: str,
    val_files: str,
    tokenizer_path: str | None = None,
) -> list[str]:
    """The Hydra overrides of verl's ``ppo_trainer`` config that run ``config`` (see the module docstring)."""
    _check_expressible(config)
    actor = "actor_rollout_ref.actor"
    rollout = "actor_rollout_ref.rollout"
    micro = target.micro_batch_size_per_gpu
    eval_n = 1 if config.eval_temperature == 0 else config.eval_samples
    overrides = [
        *_advantage(config),
        "algorithm.use_kl_in_reward=false",
        *_dapo(config),
        f"data.train_files={hydra_quote(train_files)}",
        f"data.val_files={hydra_quote(val_files)}",
        f"data.train_batch_size={config.prompts_per_step}",
        f"data.max_prompt_length={target.max_prompt_length}",
        f"data.max_response_length={config.max_new_tokens}",
        f"data.seed={config.seed}",
        f"actor_rollout_ref.model.path={hydra_quote(model_path)}",
        f"{rollout}.name={target.rollout}",
        f"{rollout}.n={config.group_size}",
        f"{rollout}.temperature={config.temperature}",
        f"{rollout}.top_p=1.0",
        f"{rollout}.top_k=-1",
        f"{rollout}.val_kwargs.temperature={config.eval_temperature}",
        f"{rollout}.val_kwargs.n={eval_n}",
        f"{rollout}.val_kwargs.top_p=1.0",
        f"{rollout}.val_kwargs.do_sample={'true' if config.eval_temperature > 0 else 'false'}",
        f"{rollout}.tensor_model_parallel_size={target.tensor_parallel_size}",
        f"{rollout}.gpu_memory_utilization={target.gpu_memory_utilization}",
        f"{rollout}.log_prob_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={micro}",
        f"{actor}.ppo_mini_batch_size={config.mini_batch_size // config.group_size}",
        f"{actor}.ppo_micro_batch_size_per_gpu={micro}",
        f"{actor}.ppo_epochs={config.epochs}",
        f"{actor}.optim.lr={config.lr}",
        f"{actor}.optim.lr_warmup_steps={config.warmup_steps}",
        f"{actor}.optim.lr_scheduler_type=constant",
        f"{actor}.optim.weight_decay={config.weight_decay}",
        f"{actor}.optim.betas=[{config.beta1},{config.beta2}]",
        f"{actor}.optim.clip_grad={config.grad_clip}",
        f"{actor}.use_kl_loss={'true' if config.kl_coef > 0 else 'false'}",
        f"{actor}.kl_loss_coef={config.kl_coef}",
        f"{actor}.kl_loss_type=low_var_kl",
        f"{actor}.entropy_coeff={config.entropy_coef}",
        f"{actor}.loss_agg_mode={config.aggregation}",
        f"{actor}.loss_scale_factor={config.max_new_tokens}",
        f"{actor}.checkpoint.save_contents=[model,optimizer,extra,hf_model]",
        *_clip(config, target),
        f"trainer.n_gpus_per_node={target.n_gpus_per_node}",
        f"trainer.nnodes={target.nnodes}",
        f"trainer.total_training_steps={config.steps}",
        f"trainer.test_freq={config.eval_every}",
        f"trainer.save_freq={config.save_every}",
        f"trainer.max_actor_ckpt_to_keep={config.keep_checkpoints}",
        "trainer.val_before_train=true",
        "trainer.total_epochs=1000",
        "trainer.logger=[console,tensorboard]",
        f"trainer.default_local_dir={hydra_quote(config.out + '/checkpoints')}",
    ]
    if tokenizer_path is not None:
        overrides.append(f"actor_rollout_ref.model.tokenizer_path={hydra_quote(tokenizer_path)}")
    return overrides


FILTER_METRIC = "rlvr_reward"
"""The ``reward_extra_info`` key our manager fills with the shaped training reward (verl's group filter reads it)."""


def _dapo(config: TrainConfig) -> list[str]:
    """DAPO's dynamic sampling as verl's group filter (the overlong buffer travels with the reward overrides)."""
    if not config.dynamic_sampling:
        return []
    return ["algorithm.filter_groups.enable=true", f"algorithm.filter_groups.metric={FILTER_METRIC}"]


def command_line(overrides: Sequence[str]) -> str:
    """A shell command that runs verl with ``overrides``, one override per line."""
    lines = ["python3 -m verl.trainer.main_ppo", *(shlex.quote(o) for o in overrides)]
    return " \\\n    ".join(lines) + "\n"


def _write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def _tokenizer_folder(model_path: str, template: PromptTemplate, out: Path) -> str | None:
    """A copy of the model's tokenizer with an identity chat template, when verl's unconditional chat template
    would otherwise fail (no template) or wrap a plain-text prompt in chat markup it was not written for."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if template.use_chat_template and getattr(tokenizer, "chat_template", None):
        return None
    tokenizer.chat_template = IDENTITY_CHAT_TEMPLATE
    where = out / "tokenizer"
    tokenizer.save_pretrained(where)
    return str(where.resolve())


def export_verl(config: TrainConfig, target: VerlTarget, out: Path, *, data_dir: Path | None = None) -> dict[str, Any]:
    """Write the verl run for ``config`` into ``out`` (see the module docstring); returns what ``export.json``
    holds. Raises :class:`VerlExportError` for settings verl cannot express, before anything is written."""
    from rlvr_lab.models.specs import resolve_model_dir
    from rlvr_lab.prompts import resolve_template
    from rlvr_lab.rewards.spec import build_reward
    from rlvr_lab.tasks import load_problems

    _check_expressible(config)
    _advantage(config)
    build_reward(config.reward)  # an unknown or malformed reward spec fails here, not inside a Ray worker
    template = resolve_template(config.prompt)
    train = load_problems(config.train_data, data_dir=data_dir, split=config.train_split, limit=config.train_limit)
    val = load_problems(config.eval_data, data_dir=data_dir, split=config.eval_split, limit=config.eval_limit)
    out.mkdir(parents=True, exist_ok=True)
    train_path, val_path = (out / "train.parquet").resolve(), (out / "val.parquet").resolve()
    _write_parquet(train_path, verl_rows(train, template, config.train_split, config.train_data, "train"))
    _write_parquet(val_path, verl_rows(val, template, config.eval_split, config.eval_data, "validation"))
    model_path = resolve_model_dir(config.model)
    tokenizer_path = _tokenizer_folder(model_path, template, out)
    overrides = main_ppo_overrides(
        config,
        target,
        model_path=model_path,
        train_files=str(train_path),
        val_files=str(val_path),
        tokenizer_path=tokenizer_path,
    ) + reward_overrides(config)
    (out / "run.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + command_line(overrides))
    (out / "run.sh").chmod(0o755)
    payload = {
        "config": config.to_dict(),
        "target": dataclasses.asdict(target),
        "train_problems": len(train),
        "val_problems": len(val),
        "updates_per_rollout": config.schedule().updates_per_rollout,
        "overrides": overrides,
    }
    (out / "export.json").write_text(json.dumps(payload, indent=2) + "\n")
    return payload


def validate_with_verl(out: Path) -> dict[str, Any]:
    """Check an export with verl's own code (needs verl installed): compose ``ppo_trainer`` with the export's
    overrides exactly as ``main_ppo`` would, run verl's ``validate_config`` on it (what ``main_ppo.main`` calls
    before it starts Ray), read the training parquet with verl's ``RLHFDataset`` through the tokenizer the run
    will use, and import the reward manager class the run will load. Raises what verl raises."""
    from hydra import compose, initialize_config_dir
    from verl.trainer import main_ppo
    from verl.trainer.ppo.reward import resolve_reward_manager_cls
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils import hf_tokenizer
    from verl.utils.config import validate_config
    from verl.utils.dataset.rl_dataset import RLHFDataset

    overrides = json.loads((out / "export.json").read_text())["overrides"]
    config_dir = Path(main_ppo.__file__).parent / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=overrides)
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    model = config.actor_rollout_ref.model
    tokenizer = hf_tokenizer(model.tokenizer_path or model.path)
    dataset = RLHFDataset(data_files=config.data.train_files, tokenizer=tokenizer, config=config.data)
    first = dataset[0]
    manager = resolve_reward_manager_cls(config)
    return {
        "rows": len(dataset),
        "first_prompt_tokens": int(first["input_ids"].shape[-1]) if "input_ids" in first else None,
        "first_keys": sorted(first),
        "reward_manager": f"{manager.__module__}.{manager.__qualname__}",
        "updates_per_rollout": config.actor_rollout_ref.actor.ppo_epochs
        * config.data.train_batch_size
        // config.actor_rollout_ref.actor.ppo_mini_batch_size,
    }
