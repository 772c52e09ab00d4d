"""The six RL algorithms of Yue et al. (2025, §4.4) as named bundles of trainer options.

Each algorithm is a set of :class:`~rlvr_lab.rl.config.TrainConfig` values over the shared trainer: the
advantage estimator (:mod:`rlvr_lab.rl.advantages`), the clip range and aggregation (:mod:`rlvr_lab.rl.losses`),
and for DAPO the rollout shaping of :mod:`rlvr_lab.rl.dapo`. Everything else (rollout size, learning rate,
steps) comes from the caller, so a study that trains every algorithm with the same settings spends the same
number of sampled responses on each, except ReMax's one greedy response per prompt (its baseline).

==============  ==========================================================================================
``grpo``        group mean/std baseline (Shao et al., 2024, DeepSeekMath)
``rloo``        leave-one-out baseline (Ahmadian et al., 2024, "Back to Basics")
``reinforce_pp`` batch-normalised REINFORCE (Hu, 2025, "REINFORCE++")
``remax``       greedy-response baseline (Li et al., 2024, "ReMax")
``ppo``         value model + GAE, γ = λ = 1 (Schulman et al., 2017; Ouyang et al., 2022)
``dapo``        clip-higher ε_high = 0.28, token-mean loss, dynamic sampling, soft overlong punishment with a
                quarter of the budget as buffer (Yu et al., 2025, "DAPO")
==============  ==========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlvr_lab.registry import Registry


@dataclass(frozen=True)
class Algorithm:
    """A paper's algorithm as trainer options."""

    paper: str
    options: dict[str, Any]
    """TrainConfig values; ``overlong_buffer`` given as a share of max_new_tokens (see :func:`options_for`)."""


ALGORITHMS: Registry[Algorithm] = Registry("RL algorithm")
ALGORITHMS.add("grpo", Algorithm("Shao et al., 2024 (DeepSeekMath)", {"advantage": "grpo"}))
ALGORITHMS.add("rloo", Algorithm("Ahmadian et al., 2024 (Back to Basics)", {"advantage": "rloo"}))
ALGORITHMS.add("reinforce_pp", Algorithm("Hu, 2025 (REINFORCE++)", {"advantage": "reinforce_pp"}))
ALGORITHMS.add("remax", Algorithm("Li et al., 2024 (ReMax)", {"advantage": "remax"}))
ALGORITHMS.add("ppo", Algorithm("Schulman et al., 2017 (PPO)", {"advantage": "gae", "gamma": 1.0, "gae_lambda": 1.0}))
ALGORITHMS.add(
    "dapo",
    Algorithm(
        "Yu et al., 2025 (DAPO)",
        {
            "advantage": "grpo",
            "eps_low": 0.2,
            "eps_high": 0.28,
            "aggregation": "token-mean",
            "dynamic_sampling": True,
            "overlong_buffer": 0.25,
        },
    ),
)


def options_for(name: str, max_new_tokens: int) -> dict[str, Any]:
    """The TrainConfig values of algorithm ``name`` for a generation budget of ``max_new_tokens``."""
    options = dict(ALGORITHMS.get(name).options)
    if "overlong_buffer" in options:
        options["overlong_buffer"] = int(options["overlong_buffer"] * max_new_tokens)
    return options
