"""
Hindsight Experience Replay for SARSA: SB3's :class:`HerReplayBuffer` plus the next action ``a'``.

:class:`sb3_sarsa.SARSA` swaps it in when a user passes SB3's ``HerReplayBuffer`` (as DQN code
does), so that code runs unchanged. Real and relabelled (virtual) transitions carry the ``a'``
that was really executed after ``s'``, and samples mark the relabelled rows (``relabelled``). For a
relabelled row that action was drawn by the epsilon-greedy policy for the *original* goal, so it is not
on-policy for the new one: SARSA's target replaces it by an action that the current epsilon-greedy
policy draws for the new goal at ``s'`` (:func:`sb3_sarsa.targets.relabelled_next_actions`); Expected
SARSA (``target="expected"``) averages over that policy.
"""

from typing import NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.type_aliases import DictReplayBufferSamples
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from stable_baselines3.her.goal_selection_strategy import GoalSelectionStrategy
from stable_baselines3.her.her_replay_buffer import HerReplayBuffer

from sb3_sarsa.buffers import DictSarsaReplayBufferSamples, NextActionStorage


class _Indices(NamedTuple):
    batch: np.ndarray
    env: np.ndarray


class HerSarsaReplayBuffer(NextActionStorage, HerReplayBuffer):
    """
    SB3's :class:`HerReplayBuffer` that also stores and samples the next action.

    :param buffer_size: Max number of element in the buffer
    :param observation_space: Observation space (a goal-conditioned Dict)
    :param action_space: Action space
    :param env: The training environment
    :param device: PyTorch device
    :param n_envs: Number of parallel environments
    :param optimize_memory_usage: Not supported (as by SB3's HER buffer), must be ``False``
    :param handle_timeout_termination: Handle timeout termination (due to timelimit)
        separately and treat the task as infinite horizon task.
    :param n_sampled_goal: Number of virtual transitions to create per real transition
    :param goal_selection_strategy: ``"future"``, ``"final"`` or ``"episode"``
    :param copy_info_dict: Whether to copy the info dictionary and pass it to ``compute_reward()``
    :param n_steps: Must be 1: n-step returns would mix rewards computed for different goals
    :param gamma: Discount factor (unused with 1-step returns)
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Dict,
        action_space: spaces.Space,
        env: VecEnv,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        n_sampled_goal: int = 4,
        goal_selection_strategy: GoalSelectionStrategy | str = "future",
        copy_info_dict: bool = False,
        n_steps: int = 1,
        gamma: float = 0.99,
    ):
        if n_steps != 1:
            raise ValueError(
                f"SARSA with HerReplayBuffer needs n_steps=1, got {n_steps}: the rewards of an n-step window "
                "would have to be recomputed for each relabelled goal (SB3's DQN ignores n_steps with HER)."
            )
        self._init_next_actions(n_steps, gamma)
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            env,
            device=device,
            n_envs=n_envs,
            optimize_memory_usage=optimize_memory_usage,
            handle_timeout_termination=handle_timeout_termination,
            n_sampled_goal=n_sampled_goal,
            goal_selection_strategy=goal_selection_strategy,
            copy_info_dict=copy_info_dict,
        )
        self.next_actions = np.zeros_like(self.actions)
        self._sampled: list[_Indices] = []

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> DictSarsaReplayBufferSamples:  # type: ignore[override]
        """
        Sample real and virtual transitions as SB3's HER buffer does, with their next actions.

        :param batch_size: Number of element to sample
        :param env: Associated VecEnv to normalize the observations/rewards when sampling
        :return: Samples; ``next_actions`` are the stored ones, in the order of the rows (real first), and
            ``relabelled`` marks the virtual rows
        """
        self._sampled = []
        samples = super().sample(batch_size, env)
        real, virtual = self._sampled  # HerReplayBuffer.sample gets the real rows first, then the virtual ones
        self._sampled = []
        next_actions = np.concatenate([self.next_actions[real.batch, real.env], self.next_actions[virtual.batch, virtual.env]])
        relabelled = np.concatenate([np.zeros(len(real.batch), dtype=bool), np.ones(len(virtual.batch), dtype=bool)])
        return DictSarsaReplayBufferSamples(
            **samples._asdict(),
            next_actions=self.to_torch(next_actions),
            relabelled=th.as_tensor(relabelled.reshape(-1, 1), device=self.device),
        )

    def _get_real_samples(
        self, batch_indices: np.ndarray, env_indices: np.ndarray, env: VecNormalize | None = None
    ) -> DictReplayBufferSamples:
        self._sampled.append(_Indices(batch_indices, env_indices))
        return super()._get_real_samples(batch_indices, env_indices, env)

    def _get_virtual_samples(
        self, batch_indices: np.ndarray, env_indices: np.ndarray, env: VecNormalize | None = None
    ) -> DictReplayBufferSamples:
        self._sampled.append(_Indices(batch_indices, env_indices))
        return super()._get_virtual_samples(batch_indices, env_indices, env)
