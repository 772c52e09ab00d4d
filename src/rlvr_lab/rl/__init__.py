"""RL with verifiable rewards: advantages, policy losses, the schedule, and the trainer.

- :mod:`.advantages`: ``ADVANTAGES`` registry (grpo, dr_grpo, rloo, reinforce_pp, remax, none over ``(P, G)``
  rewards; gae per token for PPO);
- :mod:`.value`: PPO's value model (a copy of the policy's trunk with a scalar head) and its clipped loss;
- :mod:`.dapo`: DAPO's dynamic sampling and soft overlong punishment;
- :mod:`.algorithms`: ``ALGORITHMS``, the six algorithms of Yue et al. (2025) as bundles of trainer options;
- :mod:`.losses`: clipped / unclipped surrogate (``CLIP_MODES``), ``AGGREGATIONS``, k3 KL, entropy bonus;
- :mod:`.schedule`: prompts per step, group size, mini-batch, epochs; the clipping-ablation ``PRESETS``; LR schedules;
- :mod:`.config`: ``TrainConfig`` and its resolution (defaults < preset < YAML < command line);
- :mod:`.logprobs`, :mod:`.update`: packed batches and one rollout's μ epochs × mini-batches;
- :mod:`.data`: data order as a pure function of (seed, step); one-shot RLVR selection;
- :mod:`.trainer`: the loop; :mod:`.evaluate`, :mod:`.logger`, :mod:`.checkpoint`: its I/O.

Submodules are imported on use (``from rlvr_lab.rl.trainer import train``) so importing the config stays light.
"""
