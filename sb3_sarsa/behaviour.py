"""
SARSA's behaviour policy while collecting: epsilon-greedy with one coin per env, committed next actions.

The action an env executes at a step is drawn right after the previous step (from the new
observation, with the next step's epsilon) and stored as that transition's ``a'``: the replay
buffer holds the action really executed next. At a truncation the ``a'`` of the terminal
observation is drawn in the same batched forward, with the same epsilon. :class:`SarsaBehaviour`
overrides the hooks of SB3's ``OffPolicyAlgorithm`` that collect rollouts (``_sample_action``,
``_store_transition``, ``_setup_learn``) and ``predict``; :class:`sb3_sarsa.SARSA` inherits them.
"""

import warnings
from typing import Any, cast

import numpy as np
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.dqn import DQN

from sb3_sarsa.buffers import DictSarsaReplayBuffer, SarsaReplayBuffer
from sb3_sarsa.optimism import VisitCounts
from sb3_sarsa.policies import SarsaPolicy
from sb3_sarsa.targets import epsilon_greedy_actions, relabelled_next_actions

Obs = np.ndarray | dict[str, np.ndarray]


def _batch_size(observation: Obs) -> int:
    if isinstance(observation, dict):
        return len(next(iter(observation.values())))
    return len(observation)


def _select_rows(observation: Obs, rows: np.ndarray) -> Obs:
    if isinstance(observation, dict):
        return {key: value[rows] for key, value in observation.items()}
    return observation[rows]


def _append_rows(observation: Obs, extra: list[Any]) -> Obs:
    """Stack single observations (from ``infos[i]["terminal_observation"]``) under a batch."""
    if not extra:
        return observation
    if isinstance(observation, dict):
        return {key: np.concatenate([value, np.stack([obs[key] for obs in extra])]) for key, value in observation.items()}
    return np.concatenate([observation, np.stack(extra)])


class _AddWithNextAction:
    """
    Hands SB3's ``_store_transition`` a buffer whose ``add()`` also stores the next actions.

    ``OffPolicyAlgorithm._store_transition`` deals with terminal observations and VecNormalize,
    then calls ``replay_buffer.add()`` without a next action: this adds it.
    """

    def __init__(self, buffer: SarsaReplayBuffer | DictSarsaReplayBuffer, next_action: np.ndarray) -> None:
        self.buffer = buffer
        self.next_action = next_action

    def add(self, obs: Any, next_obs: Any, action: np.ndarray, reward: np.ndarray, done: np.ndarray, infos: Any) -> None:
        self.buffer.add(obs, next_obs, action, reward, done, infos, next_action=self.next_action)


class SarsaBehaviour(DQN):
    """
    The collecting half of :class:`sb3_sarsa.SARSA`: epsilon-greedy (or epsilon-z-greedy) behaviour with
    one exploration coin per env and per row, next actions committed one step ahead and stored as ``a'``.
    """

    policy: SarsaPolicy
    exploration_zeta: float | None
    #: Actions drawn for the next env step (one per env), None until drawn from a fresh reset.
    _next_actions: np.ndarray | None
    #: With exploration_zeta: per env, the random action being repeated and how many more steps it lasts.
    _exploring_action: np.ndarray | None
    _exploring_left: np.ndarray | None
    _warned_negative_reward: bool
    #: With optimism: the visit counts of the state-action pairs (saved with the model).
    _visits: VisitCounts | None

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        env_reset = reset_num_timesteps or self._last_obs is None
        result = super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        if env_reset:
            # Actions drawn for observations of an episode that was reset are void, and so are explorations.
            self._next_actions = None
            self._exploring_left = None
        return result

    def _epsilon_greedy(self, observation: Obs, epsilon: float, collecting: bool = True) -> np.ndarray:
        """
        Epsilon-greedy actions for a batch of observations, one exploration coin per row.

        The Q-network runs once, on the rows whose coin said greedy (not at all if none did).

        :param collecting: called while collecting rollouts, where SB3 has already put the
            policy in evaluation mode (so the forward skips ``predict``'s per-call mode switch)
        """
        n_rows = _batch_size(observation)
        explore = np.random.rand(n_rows) < epsilon
        actions = np.empty(n_rows, dtype=np.int64)
        self._fill_actions(observation, actions, explore, ~explore, collecting)
        return actions

    def _fill_actions(
        self, observation: Obs, actions: np.ndarray, explore: np.ndarray, greedy: np.ndarray, collecting: bool = True
    ) -> None:
        """
        Write uniformly random actions into the rows of ``explore`` and the greedy actions into those of
        ``greedy``; the Q-network runs once, on the greedy rows only (not at all if there are none).

        :param collecting: as in :meth:`_epsilon_greedy`
        """
        if greedy.any():
            greedy_rows = observation if greedy.all() else _select_rows(observation, greedy)
            chosen = (
                self._greedy_actions(greedy_rows) if collecting else self.policy.predict(greedy_rows, deterministic=True)[0]
            )
            actions[greedy] = np.asarray(chosen, dtype=np.int64).reshape(-1)
        actions[explore] = [self.action_space.sample() for _ in range(int(np.count_nonzero(explore)))]

    def _greedy_actions(self, observation: Obs) -> np.ndarray:
        """
        Greedy actions of a batch: ``policy.predict`` without its switch to evaluation mode. With
        ``optimism``, greedy in the Q-values plus each pair's fading visit bonus (:mod:`sb3_sarsa.optimism`).
        """
        obs_tensor, _ = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            if self._visits is None:
                return self.policy._predict(obs_tensor, deterministic=True).cpu().numpy().reshape(-1)
            q_values = self.q_net(obs_tensor).cpu().numpy()
        return (q_values + self._visits.action_bonus(np.asarray(observation))).argmax(axis=1)

    def _draw_actions(
        self, observation: Obs, ended: np.ndarray | None = None, truncated: list[int] | None = None
    ) -> np.ndarray:
        """
        Behaviour actions: uniform during warm-up, then epsilon-greedy with the current epsilon
        (epsilon-z-greedy with ``exploration_zeta``).

        :param observation: one row per env (the next step's observations), then one row per env of
            ``truncated`` (its terminal observation, whose ``a'`` the target bootstraps from)
        :param ended: per env, whether its episode just ended (which ends its exploration)
        :param truncated: the envs of the rows after the first ``n_envs``
        """
        if self.num_timesteps < self.learning_starts:
            return np.array([self.action_space.sample() for _ in range(_batch_size(observation))], dtype=np.int64)
        self.exploration_rate = self.exploration_schedule(self._current_progress_remaining)
        if self.exploration_zeta is None:
            return self._epsilon_greedy(observation, self.exploration_rate)
        return self._extended_epsilon_greedy(observation, self.exploration_rate, ended, truncated or [])

    def _extended_epsilon_greedy(
        self, observation: Obs, epsilon: float, ended: np.ndarray | None, truncated: list[int]
    ) -> np.ndarray:
        """
        Epsilon-z-greedy actions (``exploration_zeta``), rows as in :meth:`_draw_actions`.

        A row of an env that is repeating a random action repeats it; any other row tosses the
        epsilon coin, and an env whose coin says explore starts a new exploration. The rows of
        terminal observations continue the exploration their episode had, and change nothing.
        """
        n_envs = self.n_envs
        if self._exploring_left is None or self._exploring_action is None:
            self._exploring_left = np.zeros(n_envs, dtype=np.int64)
            self._exploring_action = np.zeros(n_envs, dtype=np.int64)
        if ended is not None:
            left_before = self._exploring_left.copy()
            self._exploring_left[np.asarray(ended, dtype=bool)] = 0
        else:
            left_before = self._exploring_left
        env_of_row = np.concatenate([np.arange(n_envs), np.asarray(truncated, dtype=np.int64)])
        left = np.concatenate([self._exploring_left, left_before[truncated]])
        repeating = left > 0
        explore = ~repeating & (np.random.rand(len(env_of_row)) < epsilon)
        actions = np.empty(len(env_of_row), dtype=np.int64)
        actions[repeating] = self._exploring_action[env_of_row[repeating]]
        self._fill_actions(observation, actions, explore, ~(repeating | explore))
        # The next step's rows: a repeated action counts down, a new exploration lasts n ~ zeta steps.
        self._exploring_left[repeating[:n_envs]] -= 1
        for env in np.flatnonzero(explore[:n_envs]):
            self._exploring_action[env] = actions[env]
            self._exploring_left[env] = int(np.random.zipf(cast(float, self.exploration_zeta))) - 1
        return actions

    def _sample_action(
        self,
        learning_starts: int,
        action_noise: ActionNoise | None = None,
        n_envs: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the actions committed at the previous step (drawn now only after a reset)."""
        if self._next_actions is None:
            assert self._last_obs is not None, "self._last_obs was not set"
            self._next_actions = self._draw_actions(self._last_obs)
        return self._next_actions, self._next_actions

    def _store_transition(
        self,
        replay_buffer: ReplayBuffer,
        buffer_action: np.ndarray,
        new_obs: Obs,
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """
        Draw the actions of the next step, then store the transition with its next action.

        The next step's actions are drawn from ``new_obs`` (after an episode end: the reset
        observation) with the next step's epsilon. An env whose episode was truncated also draws,
        in the same batched forward, the ``a'`` at its terminal observation: that is what the
        target bootstraps from. After a termination ``a'`` is masked out of the target, and the
        next episode's first action is stored there.
        """
        self._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
        if self._visits is not None:
            self._visits.add(cast(np.ndarray, self._last_obs), buffer_action)
        truncated = (
            [
                int(i)
                for i in np.flatnonzero(dones)
                if infos[i].get("TimeLimit.truncated", False) and "terminal_observation" in infos[i]
            ]
            if dones.any()
            else []
        )
        if truncated:
            drawn = self._draw_actions(
                _append_rows(new_obs, [infos[i]["terminal_observation"] for i in truncated]), dones, truncated
            )
            self._next_actions = drawn[: len(dones)]
            stored_next_actions = self._next_actions.copy()
            stored_next_actions[truncated] = drawn[len(dones) :]
        else:
            self._next_actions = stored_next_actions = self._draw_actions(new_obs, dones)
        self._warn_if_negative_reward(reward)
        buffer = cast(SarsaReplayBuffer, _AddWithNextAction(cast(SarsaReplayBuffer, replay_buffer), stored_next_actions))
        super()._store_transition(buffer, buffer_action, new_obs, reward, dones, infos)  # type: ignore[arg-type]

    def _warn_if_negative_reward(self, reward: np.ndarray) -> None:
        if self._warned_negative_reward or not self.policy.softplus_head or not (reward < 0).any():
            return
        self._warned_negative_reward = True
        env_id = "the env"
        if self.env is not None:
            spec = self.env.get_attr("spec", indices=0)[0]
            env_id = spec.id if spec is not None else type(self.env.get_attr("unwrapped", indices=0)[0]).__name__
        warnings.warn(
            f"softplus_head=True but {env_id} gave a negative reward ({float(reward.min())}): "
            "a softplus head keeps every Q-value above 0, so negative returns cannot be learned. "
            "Use policy_kwargs=dict(softplus_head=False) for this env.",
            stacklevel=2,
        )

    def predict(
        self,
        observation: Obs,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """
        Get the policy's action(s) from an observation.

        Unlike DQN, a batch of observations draws one exploration coin per row.

        :param observation: the input observation
        :param state: The last states (can be None, used in recurrent policies)
        :param episode_start: The last masks (can be None, used in recurrent policies)
        :param deterministic: Whether to return greedy actions (no exploration)
        :return: the model's action and the next state (used in recurrent policies)
        """
        if deterministic or not self.policy.is_vectorized_observation(observation):
            return super().predict(observation, state, episode_start, deterministic)
        return self._epsilon_greedy(observation, self.exploration_rate, collecting=False), state

    def _relabelled_next_actions(self, q_values: th.Tensor, next_actions: th.Tensor, relabelled: th.Tensor) -> th.Tensor:
        """
        HER: the ``a'`` of relabelled rows, drawn by the current epsilon-greedy policy for their new goal.

        :param q_values: the online network's Q-values at ``s'`` (with each row's goal), from :meth:`_online_q_values`
        """
        n_rows, n_actions = q_values.shape
        coins = th.rand(n_rows, device=q_values.device)
        random_actions = th.randint(n_actions, (n_rows,), device=q_values.device)
        drawn = epsilon_greedy_actions(q_values, self.exploration_rate, coins, random_actions)
        return relabelled_next_actions(next_actions, relabelled, drawn)

    def _online_q_values(self, observations: Any) -> th.Tensor:
        """Q-values of the online network in evaluation mode (as when it acts)."""
        self.q_net.set_training_mode(False)
        try:
            return self.q_net(observations)
        finally:
            self.q_net.set_training_mode(True)
