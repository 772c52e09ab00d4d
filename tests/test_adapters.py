"""Adapters: our rewards inside the real TRL ``GRPOTrainer``, and as a verl ``compute_score``.

verl itself is not installed here (its wheel installs with ``--no-deps``, but importing it needs Ray and the rest
of its stack), so the verl test checks the function contract: keyword call as verl's reward manager makes it,
``reward_kwargs`` merged as verl's ``_call_with_kwargs`` does, and loading the module by file path as
``custom_reward_function.path`` does.
"""

from __future__ import annotations

import importlib.util
import pickle

import pytest

import rlvr_lab.export.verl_score as verl_score
from rlvr_lab.backends.trl_reward import TRLReward, trl_rows
from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.organism.tokenizer import build_char_tokenizer
from rlvr_lab.rewards.random_reward import uniform_draw
from rlvr_lab.tasks.problem import Problem

PROBLEMS = [Problem(f"q{i}", f"{i}+{i}=", str(2 * i)) for i in range(4)]


def test_trl_reward_scores_groups_like_trl_calls_it() -> None:
    reward = TRLReward("format&not:python", group_size=2)
    rows = trl_rows(PROBLEMS[:2], lambda p: f"Q: {p.prompt}")
    kwargs = {key: [row[key] for row in rows for _ in range(2)] for key in ("problem_id", "problem", "answer")}
    completions = [r"\boxed{0}", "python", [{"role": "assistant", "content": r"\boxed{2}"}], "none"]
    assert reward(prompts=["Q"] * 4, completions=completions, completion_ids=[[1]] * 4, **kwargs) == [1, 0, 1, 0]
    assert reward.__name__ == "rlvr:format&not:python"
    with pytest.raises(ValueError, match="mix problems"):
        reward(
            prompts=["Q"] * 4, completions=["a"] * 4, problem_id=["a", "b", "a", "b"], problem=[""] * 4, answer=[""] * 4
        )
    # A per-sample reward scores any slice of rows (a rank may hold part of a group); a group reward refuses it.
    assert reward(
        prompts=["Q"] * 3, completions=[r"\boxed{1}"] * 3, problem_id=["a"] * 3, problem=[""] * 3, answer=[""] * 3
    ) == [1, 1, 1]
    vote = TRLReward("majority_vote", group_size=2)
    with pytest.raises(ValueError, match="holds 1 of the 2 completions of group 1"):
        vote(prompts=["Q"] * 3, completions=["a"] * 3, problem_id=["a"] * 3, problem=[""] * 3, answer=[""] * 3)
    with pytest.raises(TypeError, match="solution"):  # an unexpected dataset column fails loudly
        reward(
            prompts=["Q"] * 2,
            completions=["a"] * 2,
            problem_id=["a"] * 2,
            problem=[""] * 2,
            answer=[""] * 2,
            solution=["x"] * 2,
        )
    assert pickle.loads(pickle.dumps(reward)).reward == reward.reward


def test_trl_reward_grades_with_the_runs_fallbacks() -> None:
    """A model that does not box (SmolLM2) is graded by the run's fallbacks in TRL too: reward and accuracy."""
    rows = trl_rows(PROBLEMS[1:2], lambda p: p.prompt)
    kwargs = {key: [row[key] for row in rows for _ in range(3)] for key in ("problem_id", "problem", "answer")}
    completions = ["1+1 is 2. The answer is 2.", r"\boxed{3}", "I think 5"]
    boxed_only = TRLReward("ground_truth", group_size=3)
    assert boxed_only(prompts=["Q"] * 3, completions=completions, **kwargs) == [0, 0, 0]
    lenient = TRLReward("ground_truth", group_size=3, fallbacks=("answer_is",))
    assert lenient(prompts=["Q"] * 3, completions=completions, **kwargs) == [1, 0, 0]
    assert lenient.grader.config.fallbacks == ("answer_is",)
    copy = pickle.loads(pickle.dumps(lenient))  # each rank rebuilds its grader: with the same fallbacks
    assert copy(prompts=["Q"] * 3, completions=completions, **kwargs) == [1, 0, 0]
    boxed_only.close(), lenient.close(), copy.close()


def test_trl_grpo_trainer_trains_with_our_rewards(tmp_path) -> None:
    trl = pytest.importorskip("trl")
    from datasets import Dataset

    tokenizer = build_char_tokenizer()
    model = tiny_llama(len(tokenizer), hidden_size=32, num_layers=2, num_heads=2)
    data = Dataset.from_list(trl_rows(PROBLEMS, lambda p: p.prompt))
    args = trl.GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=8,
        use_cpu=True,
        bf16=False,
        report_to=[],
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        gradient_checkpointing=False,
        seed=0,
    )
    rewards = [TRLReward("random:0.5", group_size=4, seed=1), TRLReward("majority_vote", group_size=4)]
    trainer = trl.GRPOTrainer(
        model=model, reward_funcs=rewards, args=args, train_dataset=data, processing_class=tokenizer
    )
    trainer.train()
    logged = trainer.state.log_history[0]
    assert "rewards/rlvr:random:0.5/mean" in logged and "rewards/rlvr:majority_vote/mean" in logged
    # Recompute the random rewards TRL received from their keys: (seed 1, rollout 1, problem, row of the rollout).
    prompt_to_id = {p.prompt: p.id for p in PROBLEMS}
    prompts = list(trainer._logs["prompt"])
    expected = [float(uniform_draw(1, 1, prompt_to_id[prompt], i) < 0.5) for i, prompt in enumerate(prompts)]
    assert list(trainer._logs["rewards"]["rlvr:random:0.5"]) == expected
    assert len(set(prompts[:4])) == 1 and len(set(prompts[4:])) == 1  # blocks of num_generations rows


def _verl_call(fn, **reward_kwargs):
    """Call ``fn`` as verl's NaiveRewardManager does, with config ``reward_kwargs`` merged on top."""

    def call(solution_str: str, ground_truth: str, extra_info: dict) -> float:
        kwargs = {
            "data_source": "organism",
            "solution_str": solution_str,
            "ground_truth": ground_truth,
            "extra_info": extra_info,
        }
        return fn(**{**kwargs, **reward_kwargs})

    return call


def test_verl_compute_score_contract() -> None:
    # Loaded by file path, the way verl's custom_reward_function.path does.
    spec = importlib.util.spec_from_file_location("user_reward", verl_score.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    truth = _verl_call(module.compute_score, reward="ground_truth")
    assert truth(r"so \boxed{4}", "4", {"index": 3}) == 1.0
    assert truth(r"so \boxed{5}", "4", {"index": 3}) == 0.0
    assert truth("no box", "4", {}) == 0.0
    fmt = _verl_call(module.compute_score, reward="format&not:python")
    assert [fmt(t, "4", {}) for t in (r"\boxed{1}", r"python \boxed{1}")] == [1.0, 0.0]
    rand = _verl_call(module.compute_score, reward="random:0.5", seed=2)
    info = {"problem_id": "q1", "sample_index": 7, "step": 3}
    assert rand("anything", "4", info) == float(uniform_draw(2, 3, "q1", 7) < 0.5)
    draws = [rand(f"response {i}", "4", {"problem_id": "q1"}) for i in range(200)]
    assert 60 < sum(draws) < 140  # distinct responses draw independently when no sample_index is given
