"""
SARSA(lambda) with experience replay: the target of a batch of stored sequences.

The replay buffer samples sequences of at most ``lambda_horizon`` consecutive steps of one env
(:meth:`sb3_sarsa.buffers.SarsaReplayBuffer.sample_sequences`); the target network bootstraps at every
step, and :func:`sb3_sarsa.targets.lambda_returns` folds the rewards and values into the truncated
lambda-return (Sutton & Barto, 2018, section 12.3). Sampled sequences with their returns computed per
batch, from the current target network, follow the shape of Kozuno, Tang, Rowland, Munos, Kapturowski,
Dabney, Valko & Abel (2021), "Revisiting Peng's Q(lambda) for Modern Reinforcement Learning"; SARSA's
stored ``a'`` are the behaviour's own actions, so no trace is cut. Daley & Amato (2019), "Reconciling
lambda-Returns with Experience Replay", cache whole-episode returns instead: cheaper per update, staler.
"""

from collections.abc import Callable

import torch as th

from sb3_sarsa.buffers import SarsaSequenceSamples
from sb3_sarsa.targets import expected_values, lambda_returns


def lambda_targets(
    samples: SarsaSequenceSamples,
    target_q_values: Callable[[th.Tensor], th.Tensor],
    gamma: float,
    td_lambda: float,
    target: str = "sarsa",
    policy_q_values: Callable[[th.Tensor], th.Tensor] | None = None,
    epsilon: float = 0.0,
    bootstrap_bonus: Callable[[th.Tensor], th.Tensor] | None = None,
) -> th.Tensor:
    """
    The SARSA(lambda) target of each sequence.

    :param samples: the sequences
    :param target_q_values: the target network: Q-values of a batch of observations
    :param gamma: discount factor
    :param td_lambda: lambda
    :param target: ``"sarsa"``: bootstrap from ``Q_target(s', a')`` with the stored ``a'``; ``"expected"``: from
        ``sum_a pi(a|s') Q_target(s', a)``, ``pi`` epsilon-greedy in ``policy_q_values``
    :param policy_q_values: the online network (with ``target="expected"``)
    :param epsilon: the epsilon of ``pi`` (with ``target="expected"``)
    :param bootstrap_bonus: added to ``Q_target`` at every next state (fading optimism), if given
    :return: targets, shape ``(batch_size, 1)``
    """
    batch_size, horizon = samples.rewards.shape
    next_observations = samples.next_observations
    if next_observations is None:
        raise ValueError("lambda_targets needs the next observations: sample the sequences with next_observations=True.")
    next_q = target_q_values(next_observations)
    if bootstrap_bonus is not None:
        next_q = next_q + bootstrap_bonus(next_observations)
    if target == "expected":
        if policy_q_values is None:
            raise ValueError("target='expected' needs policy_q_values, the online network that defines the policy.")
        values = expected_values(next_q, policy_q_values(next_observations), epsilon)
    else:
        values = th.gather(next_q, dim=1, index=samples.next_actions.reshape(-1, 1).long())
    return lambda_returns(
        samples.rewards, values.reshape(batch_size, horizon), samples.terminations, samples.lengths, gamma, td_lambda
    )
