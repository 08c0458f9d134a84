"""
Replay buffers that store the next action ``a'`` next to each transition.

SARSA needs ``(s, a, r, s', a', done)``: SB3's buffers store everything but ``a'``.
:class:`SarsaReplayBuffer` and :class:`DictSarsaReplayBuffer` add a ``next_actions`` array,
fill it from :meth:`add` and return it with every sample. Both also compute n-step returns
(``n_steps > 1``), bootstrapping from the ``a'`` stored with the last step of the window.
"""

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.type_aliases import TensorDict
from stable_baselines3.common.vec_env import VecNormalize


class SarsaReplayBufferSamples(NamedTuple):
    """A batch of SARSA transitions; ``discounts`` is ``None`` for 1-step returns."""

    observations: th.Tensor
    actions: th.Tensor
    next_observations: th.Tensor
    dones: th.Tensor
    rewards: th.Tensor
    next_actions: th.Tensor
    discounts: th.Tensor | None = None


class SarsaSequenceSamples(NamedTuple):
    """
    A batch of stored sequences for SARSA(lambda): the first step's ``s`` and ``a``, then, for each of
    ``horizon`` steps, its reward, next observation (flattened to ``(batch_size * horizon, ...)``; ``None`` if
    not asked for), stored next action and termination flag, the length of each sequence (steps past it belong
    to other episodes), and where each step is stored: its buffer position, shape ``(batch_size, horizon)``,
    and its env, shape ``(batch_size,)``.
    """

    observations: th.Tensor
    actions: th.Tensor
    rewards: th.Tensor
    next_observations: th.Tensor | None
    next_actions: th.Tensor
    terminations: th.Tensor
    lengths: th.Tensor
    positions: np.ndarray
    env_indices: np.ndarray


class DictSarsaReplayBufferSamples(NamedTuple):
    """
    A batch of SARSA transitions with dict observations; ``relabelled`` (HER only) marks the rows whose
    goal was relabelled, whose stored ``a'`` was drawn for another goal.
    """

    observations: TensorDict
    actions: th.Tensor
    next_observations: TensorDict
    dones: th.Tensor
    rewards: th.Tensor
    next_actions: th.Tensor
    discounts: th.Tensor | None = None
    relabelled: th.Tensor | None = None


def n_step_window(
    dones: np.ndarray,
    timeouts: np.ndarray,
    batch_inds: np.ndarray,
    env_indices: np.ndarray,
    n_steps: int,
    last_written: int,
) -> tuple[np.ndarray, np.ndarray]:
    """
    Cut each n-step window at the first episode end.

    The window that starts at ``batch_inds[i]`` in env ``env_indices[i]`` holds at most
    ``n_steps`` transitions; it ends early, inclusively, at the first transition that ended
    an episode (terminated or truncated) and at ``last_written``, the newest transition,
    beyond which the buffer holds older data or nothing. So a window never mixes episodes.

    :param dones: episode ends (termination or truncation), shape ``(buffer_size, n_envs)``
    :param timeouts: truncations, shape ``(buffer_size, n_envs)``
    :param batch_inds: first index of each window, shape ``(batch_size,)``
    :param env_indices: env of each window, shape ``(batch_size,)``
    :param n_steps: the largest window
    :param last_written: index of the newest transition in the buffer
    :return: the buffer indices of each window, shape ``(batch_size, n_steps)`` (entries past
        the window's end are unused), and the window lengths, shape ``(batch_size,)``, in ``[1, n_steps]``
    """
    buffer_size = dones.shape[0]
    indices = (batch_inds[:, None] + np.arange(n_steps)) % buffer_size
    envs = env_indices[:, None]
    ends = np.logical_or(dones[indices, envs], timeouts[indices, envs]) | (indices == last_written)
    lengths = np.where(ends.any(axis=1), ends.argmax(axis=1), n_steps - 1) + 1
    return indices, lengths


def n_step_return(reward_seqs: np.ndarray, lengths: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """
    Discounted sum of the first ``lengths[i]`` rewards of each row, and the bootstrap discount.

    :param reward_seqs: rewards of each window, shape ``(batch_size, n_steps)``
    :param lengths: window lengths, shape ``(batch_size,)``
    :param gamma: discount factor
    :return: ``sum_{j < k} gamma ** j * r_j`` and ``gamma ** k`` with ``k = lengths[i]``,
        both of shape ``(batch_size, 1)`` and dtype float32
    """
    steps = np.arange(reward_seqs.shape[1])
    mask = steps[None, :] < lengths[:, None]
    returns = (reward_seqs * (gamma**steps) * mask).sum(axis=1, keepdims=True)
    discounts = gamma ** lengths.reshape(-1, 1)
    return returns.astype(np.float32), discounts.astype(np.float32)


def recent_indices(buffer: ReplayBuffer, batch_size: int, window: int) -> np.ndarray:
    """
    Buffer positions drawn uniformly among the newest ``window`` (each position holds one
    transition per env; the env is drawn later, as in :meth:`ReplayBuffer.sample`).

    With ``optimize_memory_usage`` and a full buffer, the oldest position is left out, as SB3 does:
    its next observation has been overwritten.

    :param window: how many of the newest positions; capped at those that can be sampled
    :return: positions, shape ``(batch_size,)``
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}.")
    stored = buffer.size()
    valid = stored - 1 if buffer.full and buffer.optimize_memory_usage else stored
    if valid < 1:
        raise ValueError("Cannot sample from an empty replay buffer.")
    offsets = np.random.randint(0, min(window, valid), size=batch_size)
    return (buffer.pos - 1 - offsets) % buffer.buffer_size


class NextActionStorage:
    """
    What the SARSA buffers share: the ``next_actions`` array and the sampling windows.

    Mixed into subclasses of SB3's :class:`ReplayBuffer`, :class:`DictReplayBuffer` and
    :class:`HerReplayBuffer`; ``isinstance(buffer, NextActionStorage)`` tells a buffer SARSA can use.
    """

    actions: np.ndarray
    next_actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    timeouts: np.ndarray
    pos: int
    full: bool
    buffer_size: int
    n_envs: int
    action_dim: int
    n_steps: int
    gamma: float

    def _init_next_actions(self, n_steps: int, gamma: float) -> None:
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}.")
        self.n_steps = n_steps
        self.gamma = gamma

    def _missing_next_action(self, method: str) -> ValueError:
        return ValueError(
            f"{type(self).__name__}.{method}() needs next_action, the action executed next in each env "
            "(or drawn at the terminal observation of a truncated episode)."
        )

    def _store_next_action(self, next_action: np.ndarray | None) -> None:
        if next_action is None:
            raise self._missing_next_action("add")
        self.next_actions[self.pos] = np.asarray(next_action).reshape((self.n_envs, self.action_dim))

    def add(
        self,
        obs: Any,
        next_obs: Any,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
        next_action: np.ndarray | None = None,
    ) -> None:
        """
        Add one step of every env: SB3's ``add`` with the next action.

        :param next_action: the action executed next in each env (at a truncation: the action
            drawn at the terminal observation), shape ``(n_envs,)``
        """
        self._store_next_action(next_action)
        super().add(obs, next_obs, action, reward, done, infos)  # type: ignore[misc]
        self.n_added = self.added() + 1

    def added(self) -> int:
        """:return: how many steps :meth:`add` has stored in this buffer's life (one per call, for every env)"""
        return getattr(self, "n_added", 0)  # buffers saved before the count existed start from 0

    def extend(self, *args: Any, next_action: np.ndarray | None = None, **kwargs: Any) -> None:
        """
        Add a batch of steps: each argument of :meth:`add` with a leading batch axis, in the same order.

        :param next_action: the next actions, shape ``(batch, n_envs)``; also accepted as the
            seventh positional argument
        """
        if next_action is None and len(args) > 6:
            args, next_action = args[:6], args[6]
        if next_action is None:
            raise self._missing_next_action("extend")
        if kwargs:
            raise TypeError(f"{type(self).__name__}.extend() takes the arguments of add() in order, got {sorted(kwargs)}.")
        if len(args) != 6:
            raise TypeError(
                f"{type(self).__name__}.extend() needs obs, next_obs, action, reward, done, infos and next_action, "
                f"got {len(args)} positional arguments."
            )
        for *step, step_next_action in zip(*args, next_action, strict=True):
            self.add(*step, next_action=step_next_action)  # type: ignore[misc]

    def _window(
        self, batch_inds: np.ndarray, env: VecNormalize | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """
        Pick an env for each sample and the transition to bootstrap from.

        :return: env indices, last index of each (n-step) window, (n-step) normalized rewards,
            dones (terminations only), discounts (``None`` for 1-step: the algorithm uses its gamma)
        """
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        if self.n_steps == 1:
            last_inds = batch_inds
            rewards = self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env)
            discounts = None
        else:
            indices, lengths = n_step_window(
                self.dones,
                self.timeouts,
                batch_inds,
                env_indices,
                self.n_steps,
                last_written=(self.pos - 1) % self.buffer_size,
            )
            reward_seqs = self._normalize_reward(self.rewards[indices, env_indices[:, None]], env)
            rewards, discounts = n_step_return(reward_seqs, lengths, self.gamma)
            last_inds = indices[np.arange(len(batch_inds)), lengths - 1]
        return env_indices, last_inds, rewards, self._terminations(last_inds, env_indices).reshape(-1, 1), discounts

    def _terminations(self, indices: np.ndarray, env_indices: np.ndarray) -> np.ndarray:
        """:return: 1.0 where the stored step terminated its episode (a truncation is not a termination)"""
        return self.dones[indices, env_indices] * (1.0 - self.timeouts[indices, env_indices])

    if TYPE_CHECKING:  # provided by SB3's BaseBuffer

        @staticmethod
        def _normalize_reward(reward: np.ndarray, env: VecNormalize | None = None) -> np.ndarray: ...


class SarsaReplayBuffer(NextActionStorage, ReplayBuffer):
    """
    Replay buffer for SARSA: SB3's :class:`ReplayBuffer` plus the next action ``a'``.

    :param buffer_size: Max number of element in the buffer
    :param observation_space: Observation space
    :param action_space: Action space
    :param device: PyTorch device
    :param n_envs: Number of parallel environments
    :param optimize_memory_usage: Enable a memory efficient variant (SB3's): the next observation
        of a transition is the next stored observation. Needs ``handle_timeout_termination=False``.
        The next actions are stored apart, as always (one integer per transition).
    :param handle_timeout_termination: Handle timeout termination (due to timelimit)
        separately and treat the task as infinite horizon task.
    :param n_steps: Number of steps of the n-step return (1: one-step TD target)
    :param gamma: Discount factor, used for n-step returns only
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        n_steps: int = 1,
        gamma: float = 0.99,
    ):
        self._init_next_actions(n_steps, gamma)
        super().__init__(
            buffer_size, observation_space, action_space, device, n_envs, optimize_memory_usage, handle_timeout_termination
        )
        self.next_actions = np.zeros_like(self.actions)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> SarsaReplayBufferSamples:  # type: ignore[override]
        return super().sample(batch_size, env)  # type: ignore[return-value]

    def sample_recent(self, batch_size: int, window: int, env: VecNormalize | None = None) -> SarsaReplayBufferSamples:
        """Like :meth:`sample`, from the newest ``window`` positions only (:func:`recent_indices`)."""
        return self._get_samples(recent_indices(self, batch_size, window), env)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> SarsaReplayBufferSamples:  # type: ignore[override]
        env_indices, last_inds, rewards, dones, discounts = self._window(batch_inds, env)
        next_obs = self._stored_next_observations(last_inds, env_indices)
        return SarsaReplayBufferSamples(
            observations=self.to_torch(self._normalize_obs(self.observations[batch_inds, env_indices], env)),  # type: ignore[arg-type]
            actions=self.to_torch(self.actions[batch_inds, env_indices]),
            next_observations=self.to_torch(self._normalize_obs(next_obs, env)),  # type: ignore[arg-type]
            dones=self.to_torch(dones),
            rewards=self.to_torch(rewards),
            next_actions=self.to_torch(self.next_actions[last_inds, env_indices]),
            discounts=None if discounts is None else self.to_torch(discounts),
        )

    def _stored_next_observations(self, indices: np.ndarray, env_indices: np.ndarray) -> np.ndarray:
        """:return: the next observation of each stored step (with ``optimize_memory_usage``, the next stored one)"""
        if self.optimize_memory_usage:
            return self.observations[(indices + 1) % self.buffer_size, env_indices]
        return self.next_observations[indices, env_indices]

    def sample_sequences(
        self, batch_size: int, horizon: int, env: VecNormalize | None = None, next_observations: bool = True
    ) -> SarsaSequenceSamples:
        """
        Sample ``batch_size`` sequences of at most ``horizon`` consecutive steps of one env each, for
        SARSA(lambda) (:func:`sb3_sarsa.targets.lambda_returns`). The first steps are drawn as :meth:`sample`
        draws transitions; each sequence follows its env and ends, inclusively, at its episode's end and at the
        newest stored step (:func:`n_step_window`).

        :param horizon: the longest sequence
        :param next_observations: whether to read the next observation of every step (``False``: a caller that
            knows the bootstrap values already, :class:`sb3_sarsa.bootstrap_cache.BootstrapCache`, reads only
            those it lacks with :meth:`next_observations_at`)
        :return: the sequences; rewards, terminations and next actions have shape ``(batch_size, horizon)``
        """
        if self.optimize_memory_usage and self.full:  # the oldest position's next observation is overwritten
            batch_inds = (np.random.randint(1, self.buffer_size, size=batch_size) + self.pos) % self.buffer_size
        else:
            batch_inds = np.random.randint(0, self.buffer_size if self.full else self.pos, size=batch_size)
        env_indices = np.random.randint(0, high=self.n_envs, size=(batch_size,))
        indices, lengths = n_step_window(
            self.dones, self.timeouts, batch_inds, env_indices, horizon, last_written=(self.pos - 1) % self.buffer_size
        )
        envs = env_indices[:, None]
        return SarsaSequenceSamples(
            observations=self.to_torch(self._normalize_obs(self.observations[batch_inds, env_indices], env)),  # type: ignore[arg-type]
            actions=self.to_torch(self.actions[batch_inds, env_indices]),
            rewards=self.to_torch(self._normalize_reward(self.rewards[indices, envs], env)),
            next_observations=self.next_observations_at(indices.reshape(-1), np.repeat(env_indices, horizon), env)
            if next_observations
            else None,
            next_actions=self.to_torch(self.next_actions[indices, envs, 0]),
            terminations=self.to_torch(self._terminations(indices, envs)),
            lengths=self.to_torch(lengths),
            positions=indices,
            env_indices=env_indices,
        )

    def next_observations_at(self, indices: np.ndarray, env_indices: np.ndarray, env: VecNormalize | None = None) -> th.Tensor:
        """
        :param indices: buffer positions, shape ``(n,)``
        :param env_indices: their envs, shape ``(n,)``
        :return: the (normalized) next observation of each stored step, shape ``(n, *obs_shape)``
        """
        return self.to_torch(self._normalize_obs(self._stored_next_observations(indices, env_indices), env))  # type: ignore[arg-type]


class DictSarsaReplayBuffer(NextActionStorage, DictReplayBuffer):
    """
    Replay buffer for SARSA with dict observations: SB3's :class:`DictReplayBuffer` plus ``a'``.

    :param buffer_size: Max number of element in the buffer
    :param observation_space: Observation space
    :param action_space: Action space
    :param device: PyTorch device
    :param n_envs: Number of parallel environments
    :param optimize_memory_usage: Not supported (as by SB3's :class:`DictReplayBuffer`), must be ``False``
    :param handle_timeout_termination: Handle timeout termination (due to timelimit)
        separately and treat the task as infinite horizon task.
    :param n_steps: Number of steps of the n-step return (1: one-step TD target)
    :param gamma: Discount factor, used for n-step returns only
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Dict,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        n_steps: int = 1,
        gamma: float = 0.99,
    ):
        self._init_next_actions(n_steps, gamma)
        super().__init__(
            buffer_size, observation_space, action_space, device, n_envs, optimize_memory_usage, handle_timeout_termination
        )
        self.next_actions = np.zeros_like(self.actions)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> DictSarsaReplayBufferSamples:  # type: ignore[override]
        return super().sample(batch_size, env)  # type: ignore[return-value]

    def sample_recent(self, batch_size: int, window: int, env: VecNormalize | None = None) -> DictSarsaReplayBufferSamples:
        """Like :meth:`sample`, from the newest ``window`` positions only (:func:`recent_indices`)."""
        return self._get_samples(recent_indices(self, batch_size, window), env)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> DictSarsaReplayBufferSamples:  # type: ignore[override]
        env_indices, last_inds, rewards, dones, discounts = self._window(batch_inds, env)
        obs = self._normalize_obs({key: obs[batch_inds, env_indices] for key, obs in self.observations.items()}, env)
        next_obs = self._normalize_obs({key: obs[last_inds, env_indices] for key, obs in self.next_observations.items()}, env)
        assert isinstance(obs, dict) and isinstance(next_obs, dict)
        return DictSarsaReplayBufferSamples(
            observations={key: self.to_torch(value) for key, value in obs.items()},
            actions=self.to_torch(self.actions[batch_inds, env_indices]),
            next_observations={key: self.to_torch(value) for key, value in next_obs.items()},
            dones=self.to_torch(dones),
            rewards=self.to_torch(rewards),
            next_actions=self.to_torch(self.next_actions[last_inds, env_indices]),
            discounts=None if discounts is None else self.to_torch(discounts),
        )
