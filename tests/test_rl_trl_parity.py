"""Differential test: our clipped GRPO loss against the loss TRL's real ``GRPOTrainer._compute_loss`` computes.

A real ``GRPOTrainer`` is built on a tiny config-built Llama; both sides score the same prompt/completion ids
(each in its own padding layout)
with the same model, advantages and old log-probs (perturbed so that tokens are clipped on both sides).
Aggregations TRL shares with us: ``grpo`` = seq-mean-token-mean, ``bnpo`` = token-mean (per batch),
``dapo`` = token-mean with a global token count, ``dr_grpo`` = seq-mean-token-sum-norm with L_max =
``max_completion_length``.
"""

from __future__ import annotations

import pytest
import torch

trl = pytest.importorskip("trl")

from datasets import Dataset  # noqa: E402

from rlvr_lab.models.loading import tiny_llama  # noqa: E402
from rlvr_lab.organism.tokenizer import build_char_tokenizer  # noqa: E402
from rlvr_lab.rl.logprobs import pack, token_logprobs  # noqa: E402
from rlvr_lab.rl.losses import LossConfig, Normaliser, policy_loss  # noqa: E402

MAX_COMPLETION = 7
EPS_LOW, EPS_HIGH = 0.2, 0.28


def _constant_reward(prompts: list[str], completions: list[str], **_: object) -> list[float]:
    return [0.0] * len(completions)


def _trainer(loss_type: str, beta: float, tmp_path) -> trl.GRPOTrainer:
    # Saved to a folder so TRL can load its own frozen reference copy when beta > 0.
    tokenizer = build_char_tokenizer()
    model_dir = tmp_path / "model"
    tiny_llama(len(tokenizer), hidden_size=32, num_layers=2, num_heads=2, seed=3).save_pretrained(model_dir)
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=MAX_COMPLETION,
        use_cpu=True,
        report_to=[],
        loss_type=loss_type,
        epsilon=EPS_LOW,
        epsilon_high=EPS_HIGH,
        beta=beta,
        gradient_checkpointing=False,
        bf16=False,  # TRL defaults to bf16 autocast, also on CPU; compare both sides in fp32
        use_bias_correction_kl=False,  # TRL's default weights the k3 term by the ratio; ours is GRPO's plain k3
    )
    data = Dataset.from_list([{"prompt": "1+1="}] * 4)
    trainer = trl.GRPOTrainer(
        model=str(model_dir), reward_funcs=_constant_reward, args=args, train_dataset=data, processing_class=tokenizer
    )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's training loop; we call the loss directly
    return trainer


def _trl_layout(prompts: list[list[int]], completions: list[list[int]]) -> dict[str, torch.Tensor]:
    """TRL's layout: prompts left-padded, completions right-padded (pad id 0)."""
    P, C = max(map(len, prompts)), max(map(len, completions))
    out = {
        name: torch.zeros(len(prompts), width, dtype=torch.long)
        for name, width in (("prompt_ids", P), ("prompt_mask", P), ("completion_ids", C), ("completion_mask", C))
    }
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        out["prompt_ids"][i, P - len(p) :] = torch.tensor(p)
        out["prompt_mask"][i, P - len(p) :] = 1
        out["completion_ids"][i, : len(c)] = torch.tensor(c)
        out["completion_mask"][i, : len(c)] = 1
    return out


def _inputs(seed: int) -> tuple[list[list[int]], list[list[int]], torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    prompts = [[int(t) for t in torch.randint(3, 90, (n,), generator=gen)] for n in (3, 5, 2, 4, 5)]
    completions = [[int(t) for t in torch.randint(3, 90, (n,), generator=gen)] for n in (7, 6, 5, 1, 6)]
    advantages = torch.rand(5, generator=gen) * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0])
    noise = 0.6 * torch.randn(5, max(map(len, completions)), generator=gen)
    return prompts, completions, advantages, noise


CASES = [
    ("grpo", "seq-mean-token-mean", 0.0),
    ("bnpo", "token-mean", 0.0),
    ("dr_grpo", "seq-mean-token-sum-norm", 0.0),
    ("dapo", "token-mean", 0.0),
    ("grpo", "seq-mean-token-mean", 0.05),
]


@pytest.mark.parametrize(("loss_type", "aggregation", "beta"), CASES)
def test_clipped_loss_matches_trl(loss_type: str, aggregation: str, beta: float, tmp_path) -> None:
    trainer = _trainer(loss_type, beta, tmp_path)
    model = trainer.model
    for seed in (0, 1):
        prompts, completions, advantages, noise = _inputs(seed)
        batch = pack(prompts, completions, pad_id=0)  # ours: prompt + completion, right-padded
        logprobs, _ = token_logprobs(model, batch)
        old = (logprobs.detach() + noise) * batch.completion_mask  # ratios far from 1: both sides clip
        ref = (logprobs.detach() - noise.flip(0)) * batch.completion_mask
        inputs = {**_trl_layout(prompts, completions), "advantages": advantages, "old_per_token_logps": old}
        norm = Normaliser.of(batch.completion_mask, max_len=MAX_COMPLETION)
        if loss_type == "dapo":
            # dapo divides by the token count of the whole generation batch: pretend it is twice this batch.
            inputs["num_items_in_batch"] = batch.completion_mask.sum() * 2
            norm = Normaliser(num_seqs=5, num_tokens=float(batch.completion_mask.sum() * 2), max_len=MAX_COMPLETION)
        if beta:
            inputs["ref_per_token_logps"] = ref
        trainer._metrics["train"].clear()
        theirs = trainer._compute_loss(model, inputs)

        config = LossConfig(clip="clip", eps_low=EPS_LOW, eps_high=EPS_HIGH, aggregation=aggregation, kl_coef=beta)
        ours, metrics = policy_loss(
            logprobs, old, advantages, batch.completion_mask, config, norm, ref_logprobs=ref if beta else None
        )
        assert abs(ours.item() - theirs.item()) < 1e-6, (loss_type, seed, ours.item(), theirs.item())
        assert metrics["actor/clip_frac_low"] > 0 and metrics["actor/clip_frac_high"] > 0
        assert metrics["actor/clip_frac_low"] == pytest.approx(trainer._metrics["train"]["clip_ratio/low_mean"][0])
        assert metrics["actor/clip_frac_high"] == pytest.approx(trainer._metrics["train"]["clip_ratio/high_mean"][0])
        if beta:
            assert metrics["actor/kl"] == pytest.approx(trainer._metrics["train"]["kl"][0], abs=1e-6)
        # The same loss means the same update: compare the gradients too.
        params = [p for p in model.parameters() if p.requires_grad]
        ours_grad = torch.autograd.grad(ours, params)
        theirs_grad = torch.autograd.grad(theirs, params)
        for mine, trl_grad in zip(ours_grad, theirs_grad, strict=True):
            torch.testing.assert_close(mine, trl_grad, atol=1e-6, rtol=1e-4)
