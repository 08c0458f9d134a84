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
from sb3_sarsa.targets import action_values, expected_values, lambda_returns


def lambda_targets(
    samples: SarsaSequenceSamples,
    target_q_values: Callable[[th.Tensor], th.Tensor] | None,
    gamma: float,
    td_lambda: float,
    target: str = "sarsa",
    policy_q_values: Callable[[th.Tensor], th.Tensor] | None = None,
    epsilon: float = 0.0,
    bootstrap_bonus: Callable[[th.Tensor], th.Tensor] | None = None,
    next_values: th.Tensor | None = None,
) -> th.Tensor:
    """
    The SARSA(lambda) target of each sequence.

    :param samples: the sequences
    :param target_q_values: the target network: Q-values of a batch of observations (``None`` with ``next_values``)
    :param gamma: discount factor
    :param td_lambda: lambda
    :param target: ``"sarsa"``: bootstrap from ``Q_target(s', a')`` with the stored ``a'``; ``"expected"``: from
        ``sum_a pi(a|s') Q_target(s', a)``, ``pi`` epsilon-greedy in ``policy_q_values``
    :param policy_q_values: the online network (with ``target="expected"``)
    :param epsilon: the epsilon of ``pi`` (with ``target="expected"``)
    :param bootstrap_bonus: added to ``Q_target`` at every next state (fading optimism), if given
    :param next_values: the bootstrap value of every step, shape ``(batch_size, horizon)``, where the caller has
        them already (:class:`sb3_sarsa.bootstrap_cache.BootstrapCache`); else :func:`bootstrap_values` computes them
    :return: targets, shape ``(batch_size, 1)``
    """
    if next_values is None:
        if target_q_values is None:
            raise ValueError(
                "lambda_targets needs the target network (target_q_values) or the bootstrap values (next_values)."
            )
        next_values = bootstrap_values(samples, target_q_values, target, policy_q_values, epsilon, bootstrap_bonus)
    return lambda_returns(samples.rewards, next_values, samples.terminations, samples.lengths, gamma, td_lambda)


def bootstrap_values(
    samples: SarsaSequenceSamples,
    target_q_values: Callable[[th.Tensor], th.Tensor],
    target: str = "sarsa",
    policy_q_values: Callable[[th.Tensor], th.Tensor] | None = None,
    epsilon: float = 0.0,
    bootstrap_bonus: Callable[[th.Tensor], th.Tensor] | None = None,
    next_q_values: th.Tensor | None = None,
) -> th.Tensor:
    """
    :param samples: the sequences, sampled with their next observations
    :param next_q_values: ``Q_target`` at every step's next observation, shape ``(batch_size * horizon, n_actions)``,
        where the caller has them already (then ``target_q_values`` is not called)
    :return: the value each step bootstraps from (other parameters as :func:`lambda_targets`), shape
        ``(batch_size, horizon)``
    """
    batch_size, horizon = samples.rewards.shape
    next_observations = samples.next_observations
    if next_observations is None:
        raise ValueError("lambda_targets needs the next observations: sample the sequences with next_observations=True.")
    next_q = target_q_values(next_observations) if next_q_values is None else next_q_values
    if bootstrap_bonus is not None:
        next_q = next_q + bootstrap_bonus(next_observations)
    if target == "expected":
        if policy_q_values is None:
            raise ValueError("target='expected' needs policy_q_values, the online network that defines the policy.")
        values = expected_values(next_q, policy_q_values(next_observations), epsilon)
    else:
        values = action_values(next_q, samples.next_actions)
    return values.reshape(batch_size, horizon)
