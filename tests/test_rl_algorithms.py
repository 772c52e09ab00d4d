"""PPO's value loss and critic, DAPO's rollout shaping, and the algorithm registry."""

from __future__ import annotations

import pytest
import torch

from rlvr_lab.models.loading import tiny_llama
from rlvr_lab.rl.algorithms import ALGORITHMS, options_for
from rlvr_lab.rl.config import resolve_config
from rlvr_lab.rl.dapo import overlong_penalty, varied_groups
from rlvr_lab.rl.logprobs import pack
from rlvr_lab.rl.value import ValueModel, reference_value_loss, value_loss, whiten


def test_value_loss_hand_computed() -> None:
    # token 0: V 1.0, old 0.5, R 0 -> clipped V 0.7: max(0.5, 0.245) = 0.5; token 1: V 0.4, old 0.5, R 1 ->
    # clipped = 0.4 (inside the range): 0.5·0.36 = 0.18; padded token ignored. Mean = 0.34.
    v = torch.tensor([[1.0, 0.4, 5.0]])
    old = torch.tensor([[0.5, 0.5, 0.0]])
    ret = torch.tensor([[0.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    torch.testing.assert_close(value_loss(v, old, ret, mask, clip=0.2), torch.tensor(0.34))
    # clipping binds when it makes the error larger: V moved toward R past the range, the clipped error counts
    loss = value_loss(torch.tensor([[0.9]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.ones(1, 1), 0.2)
    torch.testing.assert_close(loss, torch.tensor(0.5 * 0.8**2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_loss_matches_loop(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    B, C = 4, 6
    lengths = torch.randint(1, C + 1, (B,), generator=gen)
    mask = (torch.arange(C).unsqueeze(0) < lengths.unsqueeze(1)).double()
    v, old, ret = (torch.randn(B, C, generator=gen, dtype=torch.float64) for _ in range(3))
    expected = reference_value_loss(v.tolist(), old.tolist(), ret.tolist(), lengths.tolist(), 0.3)
    assert float(value_loss(v, old, ret, mask, 0.3)) == pytest.approx(expected, abs=1e-12)


def test_value_model_reads_the_completion_positions() -> None:
    policy = tiny_llama(vocab_size=32, hidden_size=16, num_layers=1, num_heads=2, seed=0)
    critic = ValueModel(policy)
    batch = pack([[3, 4], [5]], [[6, 7, 8], [9]], pad_id=0)
    assert torch.equal(critic(batch), torch.zeros(2, 3))  # the head starts at zero
    torch.nn.init.normal_(critic.head.weight)
    values = critic(batch)
    # row 1's value before its only token equals the value of the same prefix computed alone
    alone = critic(pack([[5]], [[9]], pad_id=0))
    torch.testing.assert_close(values[1, 0], alone[0, 0])
    assert all(p.data_ptr() != q.data_ptr() for p in critic.parameters() for q in policy.parameters())


def test_whiten() -> None:
    x = torch.tensor([[1.0, 3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    torch.testing.assert_close(whiten(x, mask), torch.tensor([[-1.0, 1.0, 0.0]]), atol=1e-4, rtol=0)
    assert torch.equal(whiten(torch.ones(1, 3), torch.ones(1, 3)), torch.zeros(1, 3))


def test_dapo_shaping_hand_computed() -> None:
    # budget 20, buffer 8: no penalty up to 12 tokens, then linear to -1 at 20
    got = overlong_penalty(torch.tensor([5, 12, 14, 16, 20]), max_len=20, buffer=8)
    torch.testing.assert_close(got, torch.tensor([0.0, 0.0, -0.25, -0.5, -1.0]))
    assert torch.equal(overlong_penalty(torch.tensor([20]), 20, 0), torch.zeros(1))
    rewards = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    assert varied_groups(rewards).tolist() == [False, True, False]


def test_six_algorithms_resolve_to_valid_configs() -> None:
    assert ALGORITHMS.names() == ["dapo", "grpo", "ppo", "reinforce_pp", "remax", "rloo"]
    for name in ALGORITHMS.names():
        config = resolve_config(cli_values={"max_new_tokens": 64, **options_for(name, 64)})
        assert config.advantage in {"grpo", "rloo", "reinforce_pp", "remax", "gae"}
    dapo = resolve_config(cli_values=options_for("dapo", 64))
    assert (dapo.eps_high, dapo.aggregation, dapo.dynamic_sampling, dapo.overlong_buffer) == (
        0.28,
        "token-mean",
        True,
        16,
    )


@pytest.mark.parametrize("name", ["ppo", "remax", "dapo"])
def test_each_new_algorithm_trains_on_the_organism(tmp_path, name: str) -> None:
    import json

    from rlvr_lab.organism.profiles import shipped_checkpoint
    from rlvr_lab.rl.trainer import train

    if shipped_checkpoint("qwen-math-like") is None:
        pytest.skip("qwen-math-like is not shipped")
    options = options_for(name, 32)
    config = resolve_config(
        cli_values={
            "model": "qwen-math-like",
            "out": str(tmp_path / name),
            "steps": 2,
            "prompts_per_step": 4,
            "group_size": 4,
            "mini_batch_size": 8,
            "max_new_tokens": 32,
            "eval_limit": 4,
            "eval_samples": 1,
            "train_limit": 16,
            "tensorboard": False,
            "track_ref_kl": False,
            "threads": 1,
            **options,
        }
    )
    records = [json.loads(line) for line in (train(config, show_progress=False) / "metrics.jsonl").open()]
    last = records[-1]
    assert last["step"] == 2
    if name == "ppo":
        assert last["critic/value_loss"] >= 0
    if name == "dapo":
        assert 0 <= last["train/kept_groups"] <= 4
    if last["optim/updates"]:
        assert last["actor/grad_norm"] > 0
