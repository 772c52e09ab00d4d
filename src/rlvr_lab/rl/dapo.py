"""DAPO's two rollout-side changes (Yu et al., 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at
Scale", §3.2 and §3.4); its other two, clip-higher and the token-level loss, are the loss's ``eps_high`` and
``token-mean`` aggregation (:mod:`rlvr_lab.rl.losses`).

- **Dynamic sampling**: a group whose rewards are all equal has zero advantage under any group baseline, so it
  adds nothing to the gradient but still dilutes a token-mean loss. :func:`varied_groups` marks the groups to
  keep. The paper then samples more prompts until the batch is full again; here the dropped groups are simply
  left out, so every algorithm of a study spends the same number of samples (the update is smaller instead).
- **Soft overlong punishment** (eq. 13): a length-dependent penalty added to the reward of responses that run
  into the last ``buffer`` tokens of the budget ``L_max``::

      R_len(L) = 0                                  if L <= L_max - buffer
               = (L_max - buffer - L) / buffer      if L_max - buffer < L <= L_max      (down to -1)

  scaled by ``penalty``. Responses cut at the budget (``L = L_max``) get the full ``-penalty``.
"""

from __future__ import annotations

import torch


def varied_groups(rewards: torch.Tensor) -> torch.Tensor:
    """(P,) bool: the group's rewards are not all equal (the groups dynamic sampling keeps)."""
    return rewards.amax(dim=1) > rewards.amin(dim=1)


def overlong_penalty(lengths: torch.Tensor, max_len: int, buffer: int, penalty: float = 1.0) -> torch.Tensor:
    """The soft overlong punishment of each response length (see the module docstring); 0 everywhere when
    ``buffer`` is 0."""
    if buffer < 0 or buffer > max_len:
        raise ValueError(f"need 0 <= buffer <= max_len ({max_len}), got {buffer}")
    lengths = lengths.to(torch.float32)
    if buffer == 0:
        return torch.zeros_like(lengths)
    start = max_len - buffer
    return penalty * ((start - lengths) / buffer).clamp(min=-1.0, max=0.0)


def shape_rewards(
    rewards: torch.Tensor,
    lengths: torch.Tensor,
    max_len: int,
    overlong_buffer: int,
    overlong_penalty_value: float,
    dynamic_sampling: bool,
) -> tuple[torch.Tensor, list[int]]:
    """Both DAPO changes applied to one rollout: the overlong penalty added to ``rewards`` (P, G) given the
    responses' ``lengths`` (P, G), then (with ``dynamic_sampling``) the groups whose shaped rewards are all equal
    left out. Returns the kept rows of the shaped rewards and their slot indices."""
    if overlong_buffer:
        rewards = rewards + overlong_penalty(lengths, max_len, overlong_buffer, overlong_penalty_value)
    kept = [j for j, varied in enumerate(varied_groups(rewards).tolist()) if varied or not dynamic_sampling]
    return rewards[kept], kept
