"""
Named variants of the cliff's training, shared by ``benchmarks.cliff_bias`` and
``benchmarks.cliff_discovery``: constructor arguments put over the ``CliffWalking-v1`` entry of
``hyperparams/sarsa.yml`` (``benchmarks.cliff.train_agent``).

Every variant but ``entry`` spells out the batch size and epsilon's decay it was run with, so a
stored result keeps meaning what it meant when the entry changes: the diagnostics' first runs were
made over the entry of batch 128 with epsilon's decay over the first 10% of training
(:data:`BATCH128`), which became batch 512 with the decay over 30% after
``python -m benchmarks.cliff_discovery --settings batch512-explore30 --first-seed 100``.
"""

import copy
from typing import Any

#: The entry's batch size and epsilon decay before the change to ``batch512-explore30``.
BATCH128: dict[str, Any] = {"batch_size": 128, "exploration_fraction": 0.1}

VARIANTS: dict[str, dict[str, Any]] = {
    # the entry as ``sarsa.yml`` has it when the run is made (its record keeps the values)
    "entry": {},
    "batch128": BATCH128,
    # epsilon decays from 1 to 0.1 over the first 30% of training instead of 10%
    "batch128-explore30": {**BATCH128, "exploration_fraction": 0.3},
    # The fit of rarely sampled pairs: a larger batch draws them in nearly every batch; plain SGD
    # (instead of Adam, whose steps are scaled by a running root mean square of the gradient) takes
    # steps in proportion to the error. Measured: the batch closes the gap, SGD does not (CLIFF_BIAS.md).
    "batch512": {**BATCH128, "batch_size": 512},
    "batch1024": {**BATCH128, "batch_size": 1024},
    "batch1024-explore30": {"batch_size": 1024, "exploration_fraction": 0.3},
    "batch512-explore30": {"batch_size": 512, "exploration_fraction": 0.3},
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
