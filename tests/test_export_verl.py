"""``rlvr export verl``: the schema, the schedule translation, the refusals, the reward board, and verl's own checks.

The last two tests run verl itself (config validation, its dataset reader, our reward manager inside a real Ray
job); they are slow and skip where verl is not importable (`make test-engines` runs them in ``.venv-verl``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rlvr_lab.cli import build_app
from rlvr_lab.export.hydra import hydra_quote
from rlvr_lab.export.verl import VerlExportError, VerlTarget, main_ppo_overrides, verl_rows
from rlvr_lab.export.verl_board import GroupBoard, first_step, is_training_row, needs_group, reward_overrides
from rlvr_lab.prompts import PROMPTS
from rlvr_lab.rl.config import resolve_config
from rlvr_lab.tasks.problem import Problem

HAS_VERL = importlib.util.find_spec("verl") is not None
needs_verl = pytest.mark.skipif(
    not HAS_VERL, reason="verl is not installed here: `make test-engines` runs this test in .venv-verl (verl 0.9)"
)


def _overrides(**values) -> dict[str, str]:
    config = resolve_config(cli_values=values)
    pairs = main_ppo_overrides(config, VerlTarget(), model_path="M", train_files="T", val_files="V")
    return dict(item.split("=", 1) for item in pairs)


def test_rows_follow_verls_schema() -> None:
    problems = [Problem("p1", "What is 1+1?", "2"), Problem("p2", "3*3", "9")]
    rows = verl_rows(problems, PROMPTS.get("qwen-boxed"), "train", "math500", "train")
    assert rows[1] == {
        "data_source": "math500",
        "prompt": [
            {"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
            {"role": "user", "content": "3*3"},
        ],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": "9"},
        "extra_info": {"role": "train", "split": "train", "index": 1, "problem_id": "p2", "problem": "3*3"},
    }
    assert verl_rows(problems, PROMPTS.get("none"), "test", "x", "validation")[0]["prompt"] == [
        {"role": "user", "content": "What is 1+1?"}
    ]


def test_spurious_rewards_recipe_translates_to_8_updates_per_rollout() -> None:
    """64 prompts × 16, mini-batch 128 samples = 8 prompts, ε 0.2, lr 5e-7, no KL (Shao et al., 2025)."""
    got = _overrides(
        prompts_per_step=64, group_size=16, mini_batch_size=128, epochs=1, lr=5e-7, clip="clip", kl_coef=0.0
    )
    assert got["data.train_batch_size"] == "64"
    assert got["actor_rollout_ref.rollout.n"] == "16"
    assert got["actor_rollout_ref.actor.ppo_mini_batch_size"] == "8"  # 64 / 8 = 8 updates per rollout
    assert got["actor_rollout_ref.actor.ppo_epochs"] == "1"
    assert (got["actor_rollout_ref.actor.clip_ratio_low"], got["actor_rollout_ref.actor.clip_ratio_high"]) == (
        "0.2",
        "0.2",
    )
    assert got["actor_rollout_ref.actor.clip_ratio_c"] == "1000000000.0"  # dual clip neutralised
    assert got["actor_rollout_ref.actor.use_kl_loss"] == "false"
    assert got["algorithm.use_kl_in_reward"] == "false"
    assert got["actor_rollout_ref.actor.optim.lr"] == "5e-07"
    assert got["algorithm.adv_estimator"] == "grpo" and got["algorithm.norm_adv_by_std_in_grpo"] == "true"
    # one optimiser on every backend: verl 0.9 clips with optim.clip_grad (actor.grad_clip is read by no code)
    # and would use Adam betas (0.9, 0.999) and weight decay 0.01 unless told ours
    assert got.get("actor_rollout_ref.actor.optim.clip_grad") == "1.0"
    assert "actor_rollout_ref.actor.grad_clip" not in got
    assert got.get("actor_rollout_ref.actor.optim.betas") == "[0.9,0.99]"
    assert got.get("actor_rollout_ref.actor.optim.weight_decay") == "0.0"
    # validation samples as our evaluation does (verl's default is greedy, n 1)
    assert got["actor_rollout_ref.rollout.val_kwargs.temperature"] == "1.0"
    assert (
        got["actor_rollout_ref.rollout.val_kwargs.n"] == "4"
        and got["actor_rollout_ref.rollout.val_kwargs.do_sample"] == "true"
    )
    assert got["actor_rollout_ref.actor.loss_scale_factor"] == "160"  # Dr. GRPO's L_max, not the padded length
    assert got["trainer.max_actor_ckpt_to_keep"] == "1"
    assert "hf_model" in got["actor_rollout_ref.actor.checkpoint.save_contents"]


def test_no_clip_bounds_never_bind_and_dr_grpo_drops_the_std() -> None:
    got = _overrides(preset="no-clip", advantage="dr_grpo", aggregation="seq-mean-token-sum-norm")
    assert float(got["actor_rollout_ref.actor.clip_ratio_low"]) == 1.0  # ratio > 1 - 1 = 0 always
    assert float(got["actor_rollout_ref.actor.clip_ratio_high"]) >= 1e9
    assert got["algorithm.norm_adv_by_std_in_grpo"] == "false"
    assert got["actor_rollout_ref.actor.loss_agg_mode"] == "seq-mean-token-sum-norm"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"advantage": "reinforce_pp"}, "advantage='reinforce_pp' has no exact verl counterpart"),
        ({"lr_schedule": "cosine"}, "lr_schedule='cosine'"),
        ({"group_size": 8, "mini_batch_size": 4, "prompts_per_step": 4}, "not a whole number of groups of 8"),
        ({"one_shot": "p1"}, "one_shot"),
        ({"attention": "float32"}, "^attention='float32': verl's actor runs its model's own attention"),
        ({"fallbacks": "answer_is"}, "^fallbacks='answer_is': the exported reward grades the boxed answer only"),
    ],
)
def test_inexpressible_settings_are_refused_by_name(values: dict, message: str) -> None:
    with pytest.raises(VerlExportError, match=message):
        _overrides(**values)


def test_dapo_options_translate_to_verls_group_filter_and_our_overlong_shaping() -> None:
    got = _overrides(dynamic_sampling=True, overlong_buffer=40, overlong_penalty=0.5)
    assert got.get("algorithm.filter_groups.enable") == "true"
    assert got.get("algorithm.filter_groups.metric") == "rlvr_reward"
    config = resolve_config(cli_values={"overlong_buffer": 40, "overlong_penalty": 0.5})
    kwargs = dict(o.split("=", 1) for o in reward_overrides(config))
    assert kwargs["+reward.custom_reward_function.reward_kwargs.overlong_buffer"] == "40"
    assert kwargs["+reward.custom_reward_function.reward_kwargs.overlong_penalty"] == "0.5"
    assert "algorithm.filter_groups.enable" not in _overrides()


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("format&not:python", "'format&not:python'"),
        ("incorrect:store=/x/l.jsonl,votes=4", "'incorrect:store=/x/l.jsonl,votes=4'"),
        ("it's", "'it\\'s'"),
        ("a\\", "'a\\\\'"),
    ],
)
def test_hydra_quote_escapes_what_hydras_grammar_needs(text: str, quoted: str) -> None:
    assert hydra_quote(text) == quoted


def test_a_rows_role_comes_from_its_file_not_its_split(tmp_path: Path) -> None:
    """`--set train_split=test` trains on the test split: its rows are still training rows, scored by the training
    signal (they used to be scored by ground truth because their split was not called "train")."""
    out = tmp_path / "verl"
    args = ["export", "verl", "--out", str(out), "--reward", "random:0.5", "--set", "train_split=test"]
    result = CliRunner().invoke(build_app(), [*args, "--set", "train_limit=4", "--set", "eval_limit=2"])
    assert result.exit_code == 0, result.output
    train = [row["extra_info"] for row in pq.read_table(out / "train.parquet").to_pylist()]
    val = [row["extra_info"] for row in pq.read_table(out / "val.parquet").to_pylist()]
    assert {r["split"] for r in train} == {"test"} and all(is_training_row(r) for r in train)
    assert not any(is_training_row(r) for r in val)
    with pytest.raises(ValueError, match=r"extra_info\.role is None"):
        is_training_row({"split": "train", "problem_id": "p1"})  # an export from before roles: re-export


def test_board_numbers_steps_and_samples_and_forgets_old_groups() -> None:
    board = GroupBoard(prompts_per_step=2)
    assert board.join("a", "x", train=True) == (1, 0)
    assert board.join("a", "y", train=True) == (1, 1)
    assert board.join("b", "z", train=True) == (1, 0)
    assert board.join("v", "val", train=False) == (0, 0)
    assert board.join("c", "w", train=True) == (2, 0)  # the third training group opens step 2
    assert board.group("a") == ["x", "y"]
    assert board.join("d", "w", train=True) == (2, 0)
    board.join("e", "u", train=True)  # step 3: step 1's groups and the validation group are dropped
    assert board.group("a") == [] and board.group("v") == [] and board.group("c") == ["w"]
    assert GroupBoard(prompts_per_step=4, first_step=11).join("r", "t", train=True) == (11, 0)


def test_board_takes_verls_step_and_index_and_grades_a_group_once() -> None:
    board = GroupBoard(prompts_per_step=2)
    assert board.join("g", "b", train=True, step=7, index=1) == (7, 1)  # verl's global_steps and session_id
    assert board.join("g", "a", train=True, step=7, index=0) == (7, 0)
    assert board.group("g") == ["a", "b"]  # by sample index, whatever the arrival order
    with pytest.raises(ValueError, match="sample 1 arrived twice"):
        board.join("g", "c", train=True, step=7, index=1)
    assert board.claim("g") and not board.claim("g")  # one grader per group
    assert board.group_scores("g") is None
    board.post_scores("g", [1.0, 0.0])
    assert board.group_scores("g") == [1.0, 0.0]


def test_a_resumed_run_numbers_steps_from_its_checkpoint(tmp_path: Path) -> None:
    """verl resumes at step N + 1 after checkpoint ``global_step_N``; the board must count on from there, or a
    random reward would repeat the draws of steps 1, 2, ... after a resume."""
    root = tmp_path / "ckpt"
    assert first_step({"resume_mode": "auto", "default_local_dir": str(root)}) == 1  # nothing saved yet
    (root / "global_step_40").mkdir(parents=True)
    (root / "latest_checkpointed_iteration.txt").write_text("40")
    assert first_step({"resume_mode": "auto", "default_local_dir": str(root)}) == 41
    assert first_step({"default_local_dir": str(root)}) == 41  # auto is verl's default
    assert first_step({"resume_mode": "disable", "default_local_dir": str(root)}) == 1
    path = {"resume_mode": "resume_path", "resume_from_path": str(root / "global_step_20")}
    assert first_step(path) == 21
    (root / "latest_checkpointed_iteration.txt").write_text("60")  # the tracker names a folder that is gone
    assert first_step({"resume_mode": "auto", "default_local_dir": str(root)}) == 1


def test_only_online_group_rewards_wait_for_the_group() -> None:
    assert needs_group("majority_vote")
    assert needs_group("format&majority_vote")
    assert not needs_group("majority_vote:store=labels.jsonl")
    assert not needs_group("random:0.5")


def test_cli_writes_the_export_and_refuses_clearly(tmp_path: Path) -> None:
    out = tmp_path / "verl"
    runner = CliRunner()
    args = ["export", "verl", "--out", str(out), "--reward", "random:0.5", "--preset", "clip", "--steps", "3"]
    result = runner.invoke(build_app(), [*args, "--set", "train_limit=6", "--set", "eval_limit=3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["train_problems"] == 6 and summary["updates_per_rollout"] == 4
    table = pq.read_table(out / "train.parquet").to_pylist()
    assert len(table) == 6 and table[0]["reward_model"]["style"] == "rule"
    assert (out / "tokenizer" / "tokenizer_config.json").is_file()  # the organism's tokenizer has no chat template
    script = (out / "run.sh").read_text()
    assert "python3 -m verl.trainer.main_ppo" in script
    assert "+reward.custom_reward_function.reward_kwargs.reward='\"'\"'random:0.5'\"'\"'" in script
    assert "reward.reward_manager.module.path=pkg://rlvr_lab.export.verl_reward" in script
    bad = runner.invoke(build_app(), [*args, "--set", "advantage=reinforce_pp"])
    assert bad.exit_code == 1 and "no exact verl counterpart" in bad.output and "Traceback" not in bad.output


@pytest.mark.slow
@needs_verl
@pytest.mark.parametrize("preset", ["clip", "no-clip"])
def test_verl_validates_the_export(tmp_path: Path, preset: str) -> None:
    from rlvr_lab.export.verl import export_verl, validate_with_verl

    config = resolve_config(cli_values={"preset": preset, "reward": "random:0.5", "train_limit": 8, "eval_limit": 4})
    export_verl(config, VerlTarget(n_gpus_per_node=1), tmp_path)
    report = validate_with_verl(tmp_path)
    assert report["rows"] == 8
    assert report["reward_manager"] == "rlvr_lab.export.verl_reward.RlvrRewardManager"
    assert report["updates_per_rollout"] == config.schedule().updates_per_rollout == 4
    assert isinstance(report["updates_per_rollout"], int)  # a whole number of updates, as verl counts them
    assert {"prompt", "reward_model", "extra_info"} <= set(report["first_keys"])


def _item(
    tokenizer,
    text: str,
    uid: str,
    role: str = "train",
    problem_id: str = "p1",
    answer: str = "4",
    verl_ids: tuple[int, int] | None = None,
    info: dict | None = None,
):
    """One finished response as verl's reward loop hands it over; ``verl_ids`` = (global_steps, session_id), which
    the v1 trainer passes and the legacy one does not; ``info``: the row's ``extra_info`` (default: a training row
    of a split named ``test``)."""
    import numpy as np
    import torch
    from verl import DataProto

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    responses = torch.tensor([ids])
    prompts = torch.tensor([[1, 2]])
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "attention_mask": torch.ones(1, prompts.shape[1] + responses.shape[1], dtype=torch.long),
        },
        non_tensors={
            "uid": np.array([uid], dtype=object),
            "data_source": np.array(["organism"], dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": answer}], dtype=object),
            "extra_info": np.array(
                [info or {"role": role, "split": "test", "problem_id": problem_id, "problem": "2+2"}], dtype=object
            ),
            **(
                {}
                if verl_ids is None
                else {"global_steps": np.array([verl_ids[0]]), "session_id": np.array([verl_ids[1]])}
            ),
        },
    )


@pytest.mark.slow
@needs_verl
def test_reward_manager_keys_random_draws_by_step_and_sample_and_sees_whole_groups(tmp_path: Path) -> None:
    """Our manager inside a real Ray job: random draws change with the step and the sample, ground-truth accuracy
    rides along, and online majority vote scores a response only once its whole group has arrived."""
    import ray
    from hydra import compose, initialize_config_dir
    from verl.trainer import main_ppo

    from rlvr_lab.export.verl import export_verl
    from rlvr_lab.export.verl_reward import RlvrRewardManager
    from rlvr_lab.rewards.random_reward import RandomReward

    def manager_for(reward: str, out: Path) -> RlvrRewardManager:
        config = resolve_config(
            cli_values={
                "reward": reward,
                "prompts_per_step": 2,
                "group_size": 4,
                "mini_batch_size": 8,
                "train_limit": 4,
                "eval_limit": 2,
            }
        )
        overrides = export_verl(config, VerlTarget(n_gpus_per_node=1), out)["overrides"]
        with initialize_config_dir(config_dir=str(Path(main_ppo.__file__).parent / "config"), version_base=None):
            composed = compose(config_name="ppo_trainer", overrides=overrides)
        from transformers import AutoTokenizer

        return RlvrRewardManager(composed, AutoTokenizer.from_pretrained(str(out / "tokenizer")))

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="rlvr-test")
    try:
        manager = manager_for("random:0.5", tmp_path / "random")
        tok = manager.tokenizer

        async def score_all(items):
            return await asyncio.gather(*(manager.run_single(item) for item in items))

        texts = ["We get 4. The answer is \\boxed{4}", "We get 5. The answer is \\boxed{5}"]
        step1 = asyncio.run(score_all([_item(tok, texts[i % 2], f"s1-g{i // 4}") for i in range(8)]))
        step2 = asyncio.run(score_all([_item(tok, texts[i % 2], f"s2-g{i // 4}") for i in range(8)]))
        for step, results in ((1, step1), (2, step2)):
            assert [r["reward_extra_info"]["rlvr_step"] for r in results] == [step] * 8
            assert sorted(r["reward_extra_info"]["rlvr_sample"] for r in results[:4]) == [0, 1, 2, 3]
            expected = [
                RandomReward(0.5)(
                    problem=Problem("p1", "", "4"),
                    completions=["x"],
                    sample_indices=[r["reward_extra_info"]["rlvr_sample"]],
                    step=step,
                    seed=0,
                )[0]
                for r in results
            ]
            assert [r["reward_score"] for r in results] == expected
        assert [r["reward_extra_info"]["acc"] for r in step1[:2]] == [1.0, 0.0]  # ground truth beside the signal
        assert [r["reward_score"] for r in step1] != [r["reward_score"] for r in step2]
        val = asyncio.run(score_all([_item(tok, texts[0], "val-0", role="validation")]))
        assert val[0]["reward_score"] == 1.0 and val[0]["reward_extra_info"]["rlvr_step"] == 0

        ray.kill(ray.get_actor("rlvr_group_board"))
        vote = manager_for("majority_vote", tmp_path / "vote")
        group = [texts[1], texts[1], texts[0], texts[1]]  # majority answer 5

        async def vote_all():
            return await asyncio.gather(*(vote.run_single(_item(tok, t, "mv-0")) for t in group))

        results = asyncio.run(vote_all())
        by_text = {(r["reward_extra_info"]["rlvr_sample"]): r["reward_score"] for r in results}
        assert sorted(by_text.values()) == [0.0, 1.0, 1.0, 1.0]
        assert ray.get(ray.get_actor("rlvr_group_board").group_scores.remote("mv-0")) is not None  # graded once

        # The v1 trainer passes its own step and sample index: they key the draws, whatever the arrival order.
        async def with_verl_ids():
            items = [_item(tok, texts[0], "v1-g0", verl_ids=(12, i)) for i in (3, 1, 0, 2)]
            return await asyncio.gather(*(manager.run_single(item) for item in items))

        got = asyncio.run(with_verl_ids())
        assert [(r["reward_extra_info"]["rlvr_step"], r["reward_extra_info"]["rlvr_sample"]) for r in got] == [
            (12, 3),
            (12, 1),
            (12, 0),
            (12, 2),
        ]
        draws = [
            RandomReward(0.5)(problem=Problem("p1", "", "4"), completions=["x"], sample_indices=[i], step=12, seed=0)[0]
            for i in (3, 1, 0, 2)
        ]
        assert [r["reward_score"] for r in got] == draws
    finally:
        ray.shutdown()


def _export(out: Path, *settings: str) -> None:
    """`rlvr export verl` of the organism's run into ``out``, with ``--set`` settings, as a user runs it."""
    args = ["export", "verl", "--out", str(out), "--set", "train_limit=4", "--set", "eval_limit=2"]
    result = CliRunner().invoke(build_app(), [*args, *(a for s in settings for a in ("--set", s))])
    assert result.exit_code == 0, result.output


def _composed_run_sh(out: Path):
    """``out/run.sh``'s overrides as bash hands them to verl, composed by Hydra onto verl's ``ppo_trainer.yaml``."""
    from hydra import compose, initialize_config_dir
    from verl.trainer import main_ppo

    words = shlex.split((out / "run.sh").read_text().replace("\\\n", " "), comments=True)
    overrides = words[words.index("verl.trainer.main_ppo") + 1 :]
    with initialize_config_dir(config_dir=str(Path(main_ppo.__file__).parent / "config"), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


@pytest.mark.slow
@needs_verl
def test_training_rows_of_a_split_named_test_get_the_training_reward_in_verls_manager(tmp_path: Path) -> None:
    """Bug 3 of issue 23: verl scored a row by ground truth whenever its split was not named `train`, so
    `--set train_split=test` trained a random-reward run on gold labels. Exported by the CLI, the rows read back
    from train.parquet and scored by our manager in a Ray job: wrong answers on training rows get the random
    reward's draws, not ground truth's 0. (Written against the CLI and the files only, so it runs on older code.)"""
    import ray
    from transformers import AutoTokenizer

    from rlvr_lab.export.verl_reward import RlvrRewardManager
    from rlvr_lab.rewards.random_reward import RandomReward

    out = tmp_path / "verl"
    _export(out, "reward=random:0.5", "train_split=test", "prompts_per_step=2", "group_size=4", "mini_batch_size=8")
    rows = pq.read_table(out / "train.parquet").to_pylist()[:2]
    assert {row["extra_info"]["split"] for row in rows} == {"test"}
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="rlvr-test-split")
    try:
        manager = RlvrRewardManager(_composed_run_sh(out), AutoTokenizer.from_pretrained(str(out / "tokenizer")))
        wrong = "We get -7. The answer is \\boxed{-7}"
        items = [
            _item(manager.tokenizer, wrong, f"g{g}", answer=row["reward_model"]["ground_truth"], info=row["extra_info"])
            for g, row in enumerate(rows)
            for _ in range(4)
        ]

        async def score_all():
            return await asyncio.gather(*(manager.run_single(item) for item in items))

        results = asyncio.run(score_all())
    finally:
        ray.shutdown()
    assert [r["reward_extra_info"]["acc"] for r in results] == [0.0] * 8  # every answer is wrong
    draws = [
        RandomReward(0.5)(
            problem=Problem(rows[i // 4]["extra_info"]["problem_id"], "", "0"),
            completions=["x"],
            sample_indices=[r["reward_extra_info"]["rlvr_sample"]],
            step=r["reward_extra_info"]["rlvr_step"],
            seed=0,
        )[0]
        for i, r in enumerate(results)
    ]
    assert 1.0 in draws  # the random reward pays some of these wrong answers ...
    assert [r["reward_score"] for r in results] == draws  # ... and the manager gives its draws, not ground truth


@pytest.mark.slow
@needs_verl
def test_run_sh_sets_the_optimiser_verls_fsdp_engine_reads(tmp_path: Path) -> None:
    """Bug 6 of issue 23: the export wrote `actor.grad_clip`, which no verl 0.9 code reads, and no Adam betas;
    composed with Hydra, the `optim.clip_grad` verl's FSDP engine reads stayed 1.0 and the betas (0.9, 0.999).
    Here `run.sh` as bash splits it, composed onto verl's own config, carries our clip, betas and weight decay."""
    out = tmp_path / "verl"
    _export(out, "grad_clip=0.5")
    optim = _composed_run_sh(out).actor_rollout_ref.actor.optim
    assert (optim.clip_grad, list(optim.betas), optim.weight_decay) == (0.5, [0.9, 0.99], 0.0)


VERL_UNDECLARED = ("TransferQueue==0.1.8", "cachetools", "uvicorn", "fastapi")
"""What verl 0.9.0's trainer imports and its wheel does not declare (the v1 trainer: the first three; v0: the last)."""


def test_the_install_lines_name_every_package_verls_wheel_leaves_out() -> None:
    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    docs = (root / "docs" / "scale.md").read_text()
    pins = {line.split("==")[0].lower() for line in (root / "constraints" / "verl-cpu.txt").read_text().split()}
    for package in VERL_UNDECLARED:
        assert package in makefile and package in docs, package
        assert package.split("==")[0].lower() in pins, package
