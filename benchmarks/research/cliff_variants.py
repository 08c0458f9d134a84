"""
Named variants of the cliff's training, shared by ``benchmarks.research.cliff_bias`` and
``benchmarks.research.cliff_discovery``: constructor arguments put over the ``CliffWalking-v1`` entry of
``hyperparams/sarsa.yml`` (``benchmarks.cliff.train_agent``).

Every variant but ``entry`` spells out the batch size and epsilon's decay it was run with, so a
stored result keeps meaning what it meant when the entry changes: the diagnostics' first runs were
made over the entry of batch 128 with epsilon's decay over the first 10% of training
(:data:`BATCH128`), which became batch 512 with the decay over 30% after
``python -m benchmarks.research.cliff_discovery --settings batch512-explore30 --first-seed 100``.
"""

import copy
from typing import Any

#: The entry's batch size and epsilon decay before the change to ``batch512-explore30``.
BATCH128: dict[str, Any] = {"batch_size": 128, "exploration_fraction": 0.1}
#: Expected SARSA's target with the behaviour's epsilon (``target_epsilon=None``), as the variants that
#: ran Expected SARSA before ``benchmarks.cliff`` gave it ``target_epsilon=0.1`` were run.
BEHAVIOUR_EPSILON: dict[str, Any] = {"target_epsilon": None}

VARIANTS: dict[str, dict[str, Any]] = {
    # the entry as ``sarsa.yml`` has it when the run is made (its record keeps the values)
    "entry": {},
    "batch128": {**BATCH128, **BEHAVIOUR_EPSILON},
    # epsilon decays from 1 to 0.1 over the first 30% of training instead of 10%
    "batch128-explore30": {**BATCH128, "exploration_fraction": 0.3, **BEHAVIOUR_EPSILON},
    # The fit of rarely sampled pairs: a larger batch draws them in nearly every batch; plain SGD
    # (instead of Adam, whose steps are scaled by a running root mean square of the gradient) takes
    # steps in proportion to the error. Measured: the batch closes the gap, SGD does not (CLIFF_BIAS.md).
    "batch512": {**BATCH128, "batch_size": 512},
    "batch1024": {**BATCH128, "batch_size": 1024},
    "batch1024-explore30": {"batch_size": 1024, "exploration_fraction": 0.3, **BEHAVIOUR_EPSILON},
    "batch512-explore30": {"batch_size": 512, "exploration_fraction": 0.3, **BEHAVIOUR_EPSILON},
    # Expected SARSA's goal discovery: epsilon's decay over half of training, or a target network
    # copied every 500 steps (not 100), which slows the values' fall to the value of wandering (-100)
    "batch512-explore50": {"batch_size": 512, "exploration_fraction": 0.5, **BEHAVIOUR_EPSILON},
    "batch512-explore30-tui500": {
        "batch_size": 512,
        "exploration_fraction": 0.3,
        "target_update_interval": 500,
        **BEHAVIOUR_EPSILON,
    },
    # Expected SARSA only: its target takes the value of the epsilon-0.1 policy from the start, not that of
    # the behaviour's decaying epsilon (near 1 early: the random walk's values, which shelter in a corner)
    "batch512-explore30-target10": {"batch_size": 512, "exploration_fraction": 0.3, "target_epsilon": 0.1},
    # a buffer of the last half of the run (all of it at epsilon 0.1), and of the whole run
    "buffer50k": {**BATCH128, "buffer_size": 50_000},
    "buffer100k": {**BATCH128, "buffer_size": 100_000},
    # linear on the one-hot state: one weight per (state, action), which can represent the table exactly
    "linear": {**BATCH128, "policy_kwargs": {"net_arch": []}},
    # (the optimizer by its name in ``torch.optim``, resolved by :func:`variant_kwargs`)
    "sgd": {
        **BATCH128,
        "policy_kwargs": {"net_arch": [64, 64], "optimizer_class": "SGD", "optimizer_kwargs": {"momentum": 0.9}},
    },
}


def variant_kwargs(variant: str) -> dict[str, Any]:
    """
    :param variant: a key of :data:`VARIANTS`
    :return: the variant's constructor arguments, an ``optimizer_class`` name resolved in ``torch.optim``
    """
    import torch as th

    if variant not in VARIANTS:
        raise ValueError(f"Unknown cliff variant {variant!r}: choose from {sorted(VARIANTS)}")
    kwargs = copy.deepcopy(VARIANTS[variant])
    policy_kwargs = kwargs.get("policy_kwargs", {})
    if isinstance(policy_kwargs.get("optimizer_class"), str):
        policy_kwargs["optimizer_class"] = getattr(th.optim, policy_kwargs["optimizer_class"])
    return kwargs
