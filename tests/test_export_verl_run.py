"""``export_verl`` end to end, without verl: a recipe exported to real files, each value that decides the run read
back from them (the command as the shell hands it to verl, the parquet rows, the tokenizer, ``export.json``).

The expected values are written out by hand from the recipe (``recipes/organism-ground-truth.yaml``) and the
options set below, so a wrong translation fails here; verl's own checks of the same export are in
``test_export_verl.py`` and ``test_recipes_conformance.py`` (they need verl).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from rlvr_lab.export.verl import (
    IDENTITY_CHAT_TEMPLATE,
    VerlExportError,
    VerlTarget,
    _tokenizer_folder,
    command_line,
    export_verl,
    main_ppo_overrides,
)
from rlvr_lab.export.verl_board import is_training_row
from rlvr_lab.prompts import PROMPTS
from rlvr_lab.recipes import load_recipe
from rlvr_lab.rl.config import TrainConfig, resolve_config

RECIPE = "organism-ground-truth"
TARGET = VerlTarget(
    n_gpus_per_node=2,
    nnodes=3,
    rollout="sglang",
    tensor_parallel_size=2,
    gpu_memory_utilization=0.5,
    max_prompt_length=512,
    micro_batch_size_per_gpu=2,
    dual_clip=3.0,
)
"""Every field away from its default, so a field that is not passed through shows."""
OPTIONS = {
    "train_limit": 6,
    "eval_limit": 3,
    "eps_high": 0.28,  # DAPO's clip-higher: the two bounds differ, so a swap shows
    "kl_coef": 0.001,
    "entropy_coef": 0.01,
    "warmup_steps": 3,
    "weight_decay": 0.1,
    "beta1": 0.85,
    "beta2": 0.95,
    "grad_clip": 0.5,
    "eval_every": 5,
    "save_every": 7,
    "keep_checkpoints": 3,
    "seed": 11,
    "temperature": 0.9,
    "eval_temperature": 0.6,
    "eval_samples": 5,
}


def _config(out: Path, arms: tuple[str, ...] = ("random", "clip"), **values: object) -> TrainConfig:
    return resolve_config({**load_recipe(RECIPE).train_values(arms), **OPTIONS, "out": str(out / "run"), **values})


def _verl_argv(script: Path, tmp: Path) -> list[str]:
    """The arguments ``run.sh`` hands to ``python3``, as bash parses them (a stand-in ``python3`` prints them)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text('#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n')
    (bin_dir / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(script)], capture_output=True, env=env, check=True, timeout=60)
    return done.stdout.decode().split("\0")[:-1]


def test_the_recipe_exported_to_files_holds_its_values(tmp_path: Path) -> None:
    """One export (into a folder whose parent does not exist yet), every file read back. One test, not a fixture
    shared by several: scripts/mutation.sh's mutmut runs, for a mutant, only the tests that call its function."""
    out = tmp_path / "new" / "export"
    payload = export_verl(_config(tmp_path), TARGET, out)
    argv = _verl_argv(out / "run.sh", tmp_path)
    _check_run_sh(out, payload, dict(a.split("=", 1) for a in argv[2:]), argv)
    _check_export_json(out, payload)
    _check_parquet_files(out)
    _check_tokenizer_folder(out)


def _check_run_sh(out: Path, payload: dict, got: dict[str, str], argv: list[str]) -> None:
    root = out.parent.parent
    assert argv[:2] == ["-m", "verl.trainer.main_ppo"] and argv[2:] == payload["overrides"]
    assert (out / "run.sh").read_text().startswith("#!/usr/bin/env bash\nset -euo pipefail\npython3 -m ")
    assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o755
    actor, rollout = "actor_rollout_ref.actor", "actor_rollout_ref.rollout"
    expected = {
        # the recipe: preset clip (16 prompts × 8, mini-batches of 32 = 4 prompts, one epoch), 50 steps, lr 2e-4,
        # 64 new tokens, GRPO with the std, token-mean aggregation, the random:0.5 arm
        "algorithm.adv_estimator": "grpo",
        "algorithm.norm_adv_by_std_in_grpo": "true",
        "algorithm.use_kl_in_reward": "false",
        "data.train_files": f"'{out / 'train.parquet'}'",
        "data.val_files": f"'{out / 'val.parquet'}'",
        "data.train_batch_size": "16",
        "data.max_prompt_length": "512",
        "data.max_response_length": "64",
        "data.seed": "11",
        f"{rollout}.name": "sglang",
        f"{rollout}.n": "8",
        f"{rollout}.temperature": "0.9",
        f"{rollout}.top_p": "1.0",
        f"{rollout}.top_k": "-1",
        f"{rollout}.val_kwargs.temperature": "0.6",
        f"{rollout}.val_kwargs.n": "5",
        f"{rollout}.val_kwargs.top_p": "1.0",
        f"{rollout}.val_kwargs.do_sample": "true",
        f"{rollout}.tensor_model_parallel_size": "2",
        f"{rollout}.gpu_memory_utilization": "0.5",
        f"{rollout}.log_prob_micro_batch_size_per_gpu": "2",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": "2",
        f"{actor}.ppo_mini_batch_size": "4",
        f"{actor}.ppo_micro_batch_size_per_gpu": "2",
        f"{actor}.ppo_epochs": "1",
        f"{actor}.optim.lr": "0.0002",
        f"{actor}.optim.lr_warmup_steps": "3",
        f"{actor}.optim.lr_scheduler_type": "constant",
        f"{actor}.optim.weight_decay": "0.1",
        f"{actor}.optim.betas": "[0.85,0.95]",
        f"{actor}.optim.clip_grad": "0.5",
        f"{actor}.use_kl_loss": "true",
        f"{actor}.kl_loss_coef": "0.001",
        f"{actor}.kl_loss_type": "low_var_kl",
        f"{actor}.entropy_coeff": "0.01",
        f"{actor}.loss_agg_mode": "seq-mean-token-mean",
        f"{actor}.loss_scale_factor": "64",
        f"{actor}.checkpoint.save_contents": "[model,optimizer,extra,hf_model]",
        f"{actor}.clip_ratio_low": "0.2",
        f"{actor}.clip_ratio_high": "0.28",
        f"{actor}.clip_ratio_c": "3.0",
        "trainer.n_gpus_per_node": "2",
        "trainer.nnodes": "3",
        "trainer.total_training_steps": "50",
        "trainer.test_freq": "5",
        "trainer.save_freq": "7",
        "trainer.max_actor_ckpt_to_keep": "3",
        "trainer.val_before_train": "true",
        "trainer.total_epochs": "1000",
        "trainer.logger": "[console,tensorboard]",
        "trainer.default_local_dir": f"'{root / 'run' / 'checkpoints'}'",
        "actor_rollout_ref.model.tokenizer_path": f"'{(out / 'tokenizer').resolve()}'",
        "+reward.custom_reward_function.reward_kwargs.reward": "'random:0.5'",
        "+reward.custom_reward_function.reward_kwargs.seed": "11",
        "reward.reward_manager.module.path": "pkg://rlvr_lab.export.verl_reward",
    }
    assert {key: got.get(key) for key in expected} == expected
    assert got["actor_rollout_ref.model.path"].endswith("/organism/checkpoints/qwen-math-like-v2'")
    assert "algorithm.filter_groups.enable" not in got  # no dynamic sampling in this recipe


def _check_export_json(out: Path, payload: dict) -> None:
    text = (out / "export.json").read_text()
    assert json.loads(text) == payload and text.splitlines()[1] == '  "config": {' and text.endswith("}\n")
    assert payload["config"] == _config(out.parent.parent).to_dict()
    assert payload["target"] == {
        "n_gpus_per_node": 2,
        "nnodes": 3,
        "rollout": "sglang",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.5,
        "max_prompt_length": 512,
        "micro_batch_size_per_gpu": 2,
        "dual_clip": 3.0,
    }
    assert (payload["train_problems"], payload["val_problems"], payload["updates_per_rollout"]) == (6, 3, 4)


def _check_parquet_files(out: Path) -> None:
    """Training rows from the organism's train split, validation rows from its test split; the reward manager
    scores a row by the training signal exactly when it sits in train.parquet."""
    train = pq.read_table(out / "train.parquet").to_pylist()
    val = pq.read_table(out / "val.parquet").to_pylist()
    assert train[0] == {
        "data_source": "organism",
        "prompt": [{"role": "user", "content": "Q: What is 24 times 1?\nA: "}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": "24"},
        "extra_info": {
            "role": "train",
            "split": "train",
            "index": 0,
            "problem_id": "org-train-00000",
            "problem": "What is 24 times 1?",
        },
    }
    assert [r["extra_info"]["problem_id"] for r in train] == [f"org-train-{i:05d}" for i in range(6)]
    assert [r["extra_info"]["problem_id"] for r in val] == [f"org-test-{i:05d}" for i in range(3)]
    assert {(r["extra_info"]["role"], r["extra_info"]["split"], r["data_source"]) for r in val} == {
        ("validation", "test", "organism")
    }
    assert all(is_training_row(r["extra_info"]) for r in train) and not any(
        is_training_row(r["extra_info"]) for r in val
    )


def _check_tokenizer_folder(out: Path) -> None:
    """The organism's tokenizer has no chat template and verl applies one always: the export's copy joins the
    messages as the plain rendering does, so verl's prompt is the one our trainer samples from."""
    tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
    assert tokenizer.chat_template == IDENTITY_CHAT_TEMPLATE
    prompt = pq.read_table(out / "train.parquet").to_pylist()[0]["prompt"]
    assert tokenizer.apply_chat_template(prompt, tokenize=False) == "Q: What is 24 times 1?\nA: "
    two = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert tokenizer.apply_chat_template(two, tokenize=False) == "S\n\nU"


def test_a_tokenizer_with_a_chat_template_is_used_as_is_only_for_chat_prompts(tmp_path: Path) -> None:
    from rlvr_lab.models.specs import resolve_model_dir

    chat = tmp_path / "chat-model"
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_dir("qwen-math-like-v2"))
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    tokenizer.save_pretrained(chat)
    assert _tokenizer_folder(str(chat), PROMPTS.get("qwen-boxed"), tmp_path / "a") is None
    assert not (tmp_path / "a").exists()
    plain = _tokenizer_folder(str(chat), PROMPTS.get("r1"), tmp_path / "b")  # plain text: no chat markup
    assert plain == str((tmp_path / "b" / "tokenizer").resolve())
    assert AutoTokenizer.from_pretrained(plain).chat_template == IDENTITY_CHAT_TEMPLATE


def test_a_benchmark_is_read_from_the_data_folder_given(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "math500").mkdir(parents=True)
    rows = [{"problem": f"{i}+{i}?", "answer": str(2 * i), "unique_id": f"q{i}"} for i in range(4)]
    (data / "math500" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    both = {"train_data": "math500", "train_split": "test", "train_limit": 3, "eval_data": "math500"}
    config = _config(tmp_path, **both, eval_split="test", eval_limit=2, prompt="qwen-boxed")
    payload = export_verl(config, VerlTarget(), tmp_path / "out", data_dir=data)
    val = pq.read_table(tmp_path / "out" / "val.parquet").to_pylist()
    train = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert [r["extra_info"]["problem_id"] for r in train] == ["q0", "q1", "q2"]  # from the folder given
    assert payload["val_problems"] == 2 and [r["reward_model"]["ground_truth"] for r in val] == ["0", "2"]
    assert val[1]["prompt"][-1]["content"].startswith("1+1?")
    assert val[0]["prompt"][0]["role"] == "system"  # qwen-boxed's instruction as the system message


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"advantage": "reinforce_pp"}, VerlExportError, "no exact verl counterpart .*: use grpo, dr_grpo or rloo$"),
        ({"advantage": "none"}, VerlExportError, "advantage='none'"),
        (
            {"one_shot": "org-train-00000"},
            VerlExportError,
            "^one_shot: verl has no one-shot sampler; repeat the problem in a problem file instead$",
        ),
        ({"lr_schedule": "linear"}, VerlExportError, "lr_schedule='linear'"),
        (
            {"mini_batch_size": 4},
            VerlExportError,
            "mini_batch_size=4 is not a whole number of groups of 8: verl counts mini-batches in prompts$",
        ),
        ({"reward": "no-such-reward"}, ValueError, "no-such-reward"),
    ],
)
def test_an_inexpressible_config_is_refused_before_anything_is_written(
    tmp_path: Path, values: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        export_verl(_config(tmp_path, **values), VerlTarget(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_clip_greedy_validation_and_the_other_estimators() -> None:
    def overrides(arms: tuple[str, ...], **values: object) -> dict[str, str]:
        config = _config(Path("/r"), arms, **values)
        pairs = main_ppo_overrides(config, VerlTarget(), model_path="M", train_files="T", val_files="V")
        return dict(pair.split("=", 1) for pair in pairs)

    got = overrides(("random", "no-clip"), eval_temperature=0.0, kl_coef=0.0, advantage="dr_grpo")
    actor = "actor_rollout_ref.actor"
    bounds = (got[f"{actor}.clip_ratio_low"], got[f"{actor}.clip_ratio_high"], got[f"{actor}.clip_ratio_c"])
    assert bounds == ("1.0", "1000000000.0", "1000000000.0")  # no bound binds; dual clip neutralised by default
    assert got["actor_rollout_ref.rollout.val_kwargs.n"] == "1" and got[f"{actor}.use_kl_loss"] == "false"
    assert got["actor_rollout_ref.rollout.val_kwargs.do_sample"] == "false"
    assert got["actor_rollout_ref.rollout.val_kwargs.temperature"] == "0.0"
    assert got["algorithm.norm_adv_by_std_in_grpo"] == "false"
    assert "actor_rollout_ref.model.tokenizer_path" not in got  # none passed
    rloo = overrides(("random", "clip"), advantage="rloo", dynamic_sampling=True)
    assert rloo["algorithm.adv_estimator"] == "rloo" and "algorithm.norm_adv_by_std_in_grpo" not in rloo
    assert rloo["algorithm.filter_groups.enable"] == "true" and rloo["algorithm.filter_groups.metric"] == "rlvr_reward"


def test_the_command_line_quotes_each_override_for_the_shell_one_per_line() -> None:
    text = command_line(["a=1", "b=x y", "c='q'"])
    assert text == ("python3 -m verl.trainer.main_ppo \\\n    a=1 \\\n    'b=x y' \\\n    'c='\"'\"'q'\"'\"''\n")


def test_a_row_role_other_than_train_or_validation_is_refused() -> None:
    from rlvr_lab.export.verl import verl_rows

    with pytest.raises(ValueError, match=r"role must be one of \('train', 'validation'\), got 'test'"):
        verl_rows([], PROMPTS.get("none"), "test", "x", "test")
