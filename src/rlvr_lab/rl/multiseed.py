"""Several seeds' policies as one stacked model: the teacher-forced log-probs of S policies in one call.

Training S seeds of one arm means S copies of the same computation on different weights and rollouts. This module
stacks the S policies' parameters along a leading seed dimension (``torch.func.stack_module_state``) and maps the
trainer's own :func:`rlvr_lab.rl.logprobs.token_logprobs` over it with ``torch.func.vmap``, so a forward (and its
backward, through the stacked leaves) serves every seed at once. Seed ``s``'s log-probs and gradients are those of
its own model on its own batch: bit for bit when the S batches have one shape (measured on CPU: the matrix
products of a seed's slice are the same products as its own model's), except a tied embedding's gradient, whose
lookup backward adds repeated tokens in another order under vmap (about 1e-7 relative); to float rounding when
shorter batches are padded to the longest (padding sits after every real token, so only summation order changes).

Why the trainer does not use it (``benchmarks/seeds.py``, ``docs/benchmarks.md``; one torch thread as the
demo's workers run, CPU time, 5 seeds of the demo's ``clip`` arm): on CPU the organism's training step is
compute-bound, so S seeds cost S times one seed however they are grouped. One model on five times the rows (the
bound of any stacking over seeds, which does the same products with S weight sets instead of one) is 1.04-1.07x
the five seeds' update passes in turn and 1.17-1.21x their sampling, at most 1.07-1.10x a step (two runs); this
vmapped path is 0.88-0.91x on the update (torch 2.13 has no batching rule for CPU attention and loops over seeds
inside it). Stacking would pay where a step is bound by per-call overhead rather than arithmetic, as a
0.66M-parameter model on a GPU would be; that was not measured.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.func import functional_call, stack_module_state, vmap
from transformers import PreTrainedModel

from rlvr_lab.rl.logprobs import PackedBatch, token_logprobs


def pad_batches(batches: Sequence[PackedBatch], pad_id: int) -> PackedBatch:
    """S packed batches of B rows each as one ``(S, B, ...)`` batch, right-padded to the longest ``T`` and ``C``.

    Extra columns hold ``pad_id`` in the ids and 0 in the mask: after every real token, so a causal model's values
    at real positions do not depend on them.
    """
    if not batches or len({b.input_ids.shape[0] for b in batches}) != 1:
        raise ValueError(f"need S >= 1 batches of equal row counts, got {[b.input_ids.shape[0] for b in batches]}")
    T = max(b.input_ids.shape[1] for b in batches)
    C = max(b.num_completion_columns for b in batches)

    def right(x: torch.Tensor, width: int, value: float) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, width - x.shape[1]), value=value)

    return PackedBatch(
        torch.stack([right(b.input_ids, T, pad_id) for b in batches]),
        torch.stack([b.prompt_lengths for b in batches]),
        torch.stack([right(b.completion_ids, C, pad_id) for b in batches]),
        torch.stack([right(b.completion_mask, C, 0.0) for b in batches]),
    )


@dataclass
class SeedStack:
    """S policies of one architecture, their parameters stacked along a leading seed dimension.

    ``params`` are the leaves an optimiser would own (``(S, *shape)``, requiring grad); ``template`` is one copy of
    the architecture, frozen, whose own weights are never read (every forward replaces all of them).
    """

    template: PreTrainedModel
    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]

    @classmethod
    def from_models(cls, models: Sequence[PreTrainedModel]) -> SeedStack:
        """Copies of ``models``' weights, stacked (the models themselves are left as they are)."""
        if not models:
            raise ValueError("need at least one model to stack")
        params, buffers = stack_module_state(list(models))
        template = copy.deepcopy(models[0]).requires_grad_(False).eval()
        return cls(template, params, buffers)

    @property
    def seeds(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def token_logprobs(
        self,
        batch: PackedBatch,
        with_entropy: bool = False,
        dtype: torch.dtype = torch.float32,
        entropy_grad: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:func:`~rlvr_lab.rl.logprobs.token_logprobs` of seed ``s``'s policy on ``batch[s]``: ``(S, B, C)``.

        ``batch`` is ``(S, B, ...)`` (:func:`pad_batches`). Gradients flow to :attr:`params` when grad mode is on.
        """
        if batch.input_ids.shape[0] != self.seeds:
            raise ValueError(f"batch has {batch.input_ids.shape[0]} seeds, the stack {self.seeds}")
        first = int(batch.prompt_lengths.min()) - 1  # one logit window for every seed (a shape, not a traced value)

        def one(params: dict, buffers: dict, ids, prompt_lengths, completion_ids, mask):
            def model(**kwargs):
                return functional_call(self.template, (params, buffers), (), kwargs)

            part = PackedBatch(ids, prompt_lengths, completion_ids, mask)
            logprobs, entropy = token_logprobs(model, part, with_entropy, dtype, entropy_grad, first=first)
            return logprobs, entropy if entropy is not None else torch.zeros_like(logprobs)

        columns = (batch.input_ids, batch.prompt_lengths, batch.completion_ids, batch.completion_mask)
        logprobs, entropy = vmap(one)(self.params, self.buffers, *columns)
        return logprobs, entropy if with_entropy else None

    @torch.no_grad()
    def copy_into(self, models: Sequence[PreTrainedModel]) -> None:
        """Write seed ``s``'s stacked weights into ``models[s]``."""
        for s, model in enumerate(models):
            named = dict(model.named_parameters())
            for name, value in self.params.items():
                named[name].copy_(value[s])
