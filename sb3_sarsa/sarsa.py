"""Deep SARSA and Expected SARSA as a Stable-Baselines3 off-policy algorithm."""

import io
import math
import pathlib
import warnings
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.dqn import DQN
from stable_baselines3.her.her_replay_buffer import HerReplayBuffer

from sb3_sarsa.buffers import DictSarsaReplayBuffer, NextActionStorage, SarsaReplayBuffer
from sb3_sarsa.checks import (
    check_exploration_zeta,
    check_parameters,
    check_policy_kwargs,
    check_recency,
    check_spaces,
    check_target_epsilon,
)
from sb3_sarsa.her import HerSarsaReplayBuffer
from sb3_sarsa.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SarsaPolicy, SarsaQNetwork
from sb3_sarsa.recency import ere_window
from sb3_sarsa.save_util import SARSA_FORMAT_KEY, atomic_open, check_sarsa_zip, find_saved_file, resolve_save_path
from sb3_sarsa.targets import check_loss, check_target, expected_sarsa_target, next_action_agreement, sarsa_target, td_loss

SelfSARSA = TypeVar("SelfSARSA", bound="SARSA")

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


class SARSA(DQN):
    """
    Deep SARSA: DQN's machinery with an on-policy TD target.

    The target is ``r + gamma * Q_target(s', a') * (1 - done)`` where ``a'`` is the action
    really executed at ``s'``, drawn epsilon-greedily with the same epsilon as every behaviour
    action and stored in the replay buffer with the transition (DQN uses ``max_a Q_target(s', a)``).
    With ``target="expected"`` it is Expected SARSA: ``r + gamma * sum_a pi(a|s') Q_target(s', a)``
    under the current epsilon-greedy policy (or the one of ``target_epsilon``).

    Each env draws its own exploration coin. The next action is drawn right after each step,
    before any gradient update, and executed at the next step (committed, as in textbook SARSA).
    At a truncation (time limit) the stored ``a'`` is drawn at the terminal observation and the
    target bootstraps; at a termination it is masked out.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps of the model to collect transitions for before learning starts;
        until then both the action and the next action are uniformly random
    :param batch_size: Minibatch size for each gradient update
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1) default 1 for hard update
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps. Alternatively pass a tuple of frequency and unit
        like ``(5, "step")`` or ``(2, "episode")``.
    :param gradient_steps: How many gradient steps to do after each rollout (see ``train_freq``)
        Set to ``-1`` means to do as many gradient steps as steps done in the environment
        during the rollout.
    :param replay_buffer_class: Replay buffer class to use; it must store next actions
        (a subclass of :class:`SarsaReplayBuffer`, :class:`DictSarsaReplayBuffer` or
        :class:`HerSarsaReplayBuffer`). SB3's ``HerReplayBuffer`` is replaced by
        :class:`HerSarsaReplayBuffer` (the same buffer, with next actions).
        If ``None``, it will be automatically selected.
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
        at a cost of more complexity (SB3's: the next observation is the next stored observation;
        needs ``replay_buffer_kwargs=dict(handle_timeout_termination=False)``, so a truncation
        ends the target like a termination). Not with dict observations, as in SB3.
    :param n_steps: When ``n_steps > 1``, uses n-step returns, bootstrapping from the next action
        stored with the last step of the window. Works with dict observations too.
    :param target_update_interval: update the target network every ``target_update_interval``
        environment steps.
    :param exploration_fraction: fraction of entire training period over which the exploration rate is reduced
    :param exploration_initial_eps: initial value of random action probability
    :param exploration_final_eps: final value of random action probability
    :param max_grad_norm: The maximum value for the gradient clipping
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation,
        for instance ``dict(net_arch=[256, 256], softplus_head=True)``
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param target: The TD target: ``"sarsa"`` (stored next action) or ``"expected"`` (Expected SARSA)
    :param loss: The TD loss: ``"mse"`` (default, the tutorial's) or ``"huber"`` (DQN's smooth L1).
        SARSA's targets are noisy (``a'`` and the next state are sampled): only ``"mse"`` converges
        to their mean, the value of the epsilon-greedy policy. ``"huber"`` converges near their
        median, which ignores rare large losses (a fall off a cliff) and so learns values between
        the on-policy and the greedy ones. Default ``"huber"`` until sb3-sarsa 0.1.0.
    :param recent_eta: Emphasizing Recent Experience (Wang & Ross, 2019; :mod:`sb3_sarsa.recency`):
        the k-th of the K gradient steps of a ``train()`` call samples from the newest
        ``max(N * recent_eta ** (k * 1000 / K), recent_min_size)`` of the N stored transitions, so
        replayed next actions come more often from recent policies. ``1.0`` (default): uniform
        replay, as DQN. Not with HER (its buffer samples whole episodes).
    :param recent_min_size: the smallest window of ``recent_eta``
    :param target_epsilon: with ``target="expected"``, the epsilon of the epsilon-greedy policy whose
        value the target takes. ``None`` (default): the behaviour's current epsilon, on-policy at every
        step. A number (such as ``exploration_final_eps``) learns the value of that policy while the
        behaviour still explores more (the decay of epsilon), and is on-policy once the behaviour's
        epsilon has reached it. ``0``: the greedy value, its action chosen by the online network (Double
        DQN's target).
    :param exploration_zeta: ``None`` (default): epsilon-greedy, each random action lasts one step. A number
        ``mu > 1``: epsilon-z-greedy (Dabney, Ostrovski & Barreto, 2021, "Temporally-Extended
        epsilon-Greedy Exploration"; ``mu=2`` in the paper): a coin that says explore draws a uniformly
        random action and a duration n from the zeta distribution ``P(n) ~ n ** -mu``, and the env repeats
        that action for n steps, tossing no coin meanwhile. A duration ends with its episode (at a
        truncation the stored ``a'`` still continues it). The stored ``a'`` is the action really executed
        next, so the target is SARSA's, for this behaviour. ``predict(deterministic=False)`` stays one-step
        epsilon-greedy. With ``target="sarsa"`` only.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    #: Version of what :meth:`save` writes; :meth:`load` refuses files from a newer version.
    SAVE_FORMAT_VERSION: ClassVar[int] = 1
    #: ``train/next_action_agreement`` costs one forward of the online network on one batch; it is
    #: measured at most once per ``train()`` call and once per this many gradient updates.
    AGREEMENT_INTERVAL: ClassVar[int] = 100

    q_net: SarsaQNetwork
    q_net_target: SarsaQNetwork
    policy: SarsaPolicy
    replay_buffer: SarsaReplayBuffer | DictSarsaReplayBuffer  # type: ignore[assignment]

    def __init__(
        self,
        policy: str | type[SarsaPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 32,
        tau: float = 1.0,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 4,
        gradient_steps: int = 1,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        target_update_interval: int = 10000,
        exploration_fraction: float = 0.1,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        max_grad_norm: float = 10,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        target: str = "sarsa",
        loss: str = "mse",
        recent_eta: float = 1.0,
        recent_min_size: int = 2500,
        target_epsilon: float | None = None,
        exploration_zeta: float | None = None,
        _init_setup_model: bool = True,
    ) -> None:
        self.target = check_target(target)
        self.loss = check_loss(loss)
        self.recent_eta, self.recent_min_size = check_recency(recent_eta, recent_min_size)
        self.target_epsilon = check_target_epsilon(target_epsilon, self.target)
        self.exploration_zeta = check_exploration_zeta(exploration_zeta, self.target)
        if _init_setup_model:
            # On load (_init_setup_model=False) the saved values replace these defaults anyway.
            check_parameters(
                learning_rate=learning_rate,
                learning_starts=learning_starts,
                buffer_size=buffer_size,
                batch_size=batch_size,
                tau=tau,
                gamma=gamma,
                train_freq=train_freq,
                gradient_steps=gradient_steps,
                n_steps=n_steps,
                target_update_interval=target_update_interval,
                exploration_fraction=exploration_fraction,
                exploration_initial_eps=exploration_initial_eps,
                exploration_final_eps=exploration_final_eps,
                max_grad_norm=max_grad_norm,
            )
            check_policy_kwargs(self._policy_class_of(policy), policy_kwargs)
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            n_steps=n_steps,
            target_update_interval=target_update_interval,
            exploration_fraction=exploration_fraction,
            exploration_initial_eps=exploration_initial_eps,
            exploration_final_eps=exploration_final_eps,
            max_grad_norm=max_grad_norm,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        setattr(self, SARSA_FORMAT_KEY, self.SAVE_FORMAT_VERSION)
        # Actions drawn for the next env step (one per env), None until drawn from a fresh reset.
        self._next_actions: np.ndarray | None = None
        # With exploration_zeta: per env, the random action being repeated and how many more steps it lasts.
        self._exploring_action: np.ndarray | None = None
        self._exploring_left: np.ndarray | None = None
        self._last_finite_loss: float | None = None
        self._warned_negative_reward = False
        # Last measured train/next_action_agreement and the update count when it was measured.
        self._agreement: float | None = None
        self._agreement_update: int | None = None
        if _init_setup_model:
            self._setup_model()

    @classmethod
    def _policy_class_of(cls, policy: str | type[BasePolicy]) -> type[BasePolicy]:
        if isinstance(policy, str):
            if policy not in cls.policy_aliases:
                raise ValueError(f"Unknown policy {policy!r}: valid policies are {', '.join(cls.policy_aliases)}.")
            return cls.policy_aliases[policy]
        return policy

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        check_spaces(env.observation_space, env.action_space)
        return DQN._wrap_env(env, verbose, monitor_wrapper)

    def _setup_model(self) -> None:
        if self.replay_buffer_class is None:
            dict_obs = isinstance(self.observation_space, spaces.Dict)
            self.replay_buffer_class = DictSarsaReplayBuffer if dict_obs else SarsaReplayBuffer
        elif self.replay_buffer_class is HerReplayBuffer:  # DQN code: the same buffer, with next actions
            self.replay_buffer_class = HerSarsaReplayBuffer
        if not issubclass(self.replay_buffer_class, NextActionStorage):
            raise TypeError(
                f"replay_buffer_class must store next actions (a subclass of SarsaReplayBuffer, "
                f"DictSarsaReplayBuffer or HerSarsaReplayBuffer), got {self.replay_buffer_class.__name__}."
            )
        if self.recent_eta < 1.0 and not hasattr(self.replay_buffer_class, "sample_recent"):
            raise ValueError(
                f"recent_eta={self.recent_eta} needs a buffer that can sample its newest transitions "
                f"(SarsaReplayBuffer, DictSarsaReplayBuffer); {self.replay_buffer_class.__name__} cannot: "
                "use recent_eta=1.0."
            )
        if self.replay_buffer is None:
            buffer_kwargs = {"n_steps": self.n_steps, "gamma": self.gamma, **self.replay_buffer_kwargs}
            if issubclass(self.replay_buffer_class, HerReplayBuffer):
                assert self.env is not None, "You must pass an environment when using `HerReplayBuffer`"
                buffer_kwargs["env"] = self.env
            if buffer_kwargs["n_steps"] != self.n_steps:
                raise ValueError(
                    f"replay_buffer_kwargs['n_steps']={buffer_kwargs['n_steps']} contradicts n_steps={self.n_steps}: "
                    "set n_steps only."
                )
            self.replay_buffer = self.replay_buffer_class(
                self.buffer_size,
                self.observation_space,
                self.action_space,
                device=self.device,
                n_envs=self.n_envs,
                optimize_memory_usage=self.optimize_memory_usage,
                **buffer_kwargs,
            )
        # OffPolicyAlgorithm warns that n_steps is ignored whenever a replay_buffer_class is set;
        # ours reads it (above), so the check must not see it.
        n_steps, self.n_steps = self.n_steps, 1
        try:
            super()._setup_model()
        finally:
            self.n_steps = n_steps

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

    # ----------------------------------------------------------------------------------------
    # Acting
    # ----------------------------------------------------------------------------------------
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
        """Greedy actions of a batch: ``policy.predict`` without its switch to evaluation mode."""
        obs_tensor, _ = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            return self.policy._predict(obs_tensor, deterministic=True).cpu().numpy().reshape(-1)

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

    # ----------------------------------------------------------------------------------------
    # Learning
    # ----------------------------------------------------------------------------------------
    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        losses, q_means, agreements = [], [], []
        # For SARSA the online network's greedy actions at s' only feed train/next_action_agreement:
        # measured on the last batch of this call if AGREEMENT_INTERVAL updates have passed since the
        # last measurement. Expected SARSA needs them on every batch (they define its policy).
        due = (
            self._agreement_update is None
            or self._n_updates + gradient_steps - self._agreement_update >= self.AGREEMENT_INTERVAL
        )
        windows = []
        for step in range(gradient_steps):
            if self.recent_eta < 1.0:
                window = ere_window(self.replay_buffer.size(), step + 1, gradient_steps, self.recent_eta, self.recent_min_size)
                windows.append(window)
                replay_data = self.replay_buffer.sample_recent(batch_size, window, env=self._vec_normalize_env)
            else:
                replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
            measure = self.target == "expected" or (due and step == gradient_steps - 1)

            with th.no_grad():
                next_q_values = self.q_net_target(replay_data.next_observations)
                policy_q_values = self._online_q_values(replay_data.next_observations) if measure else None
                if self.target == "expected":
                    assert policy_q_values is not None
                    target_q_values = expected_sarsa_target(
                        replay_data.rewards,
                        replay_data.dones,
                        discounts,
                        next_q_values,
                        policy_q_values,
                        self.exploration_rate if self.target_epsilon is None else self.target_epsilon,
                    )
                else:
                    target_q_values = sarsa_target(
                        replay_data.rewards, replay_data.dones, discounts, next_q_values, replay_data.next_actions
                    )
                if policy_q_values is not None:
                    agreement = next_action_agreement(policy_q_values, replay_data.next_actions, replay_data.dones)
                    if agreement is not None:
                        agreements.append(agreement)

            current_q_values = th.gather(self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long())
            loss = td_loss(current_q_values, target_q_values, self.loss)
            loss_value = loss.item()
            self._check_finite(loss_value, current_q_values, target_q_values, step)
            losses.append(loss_value)
            q_means.append(current_q_values.mean().item())

            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))
        self.logger.record("train/q_mean", np.mean(q_means))
        if windows:
            self.logger.record("train/recent_window", np.mean(windows))
        if agreements:
            self._agreement, self._agreement_update = float(np.mean(agreements)), self._n_updates
        if self._agreement is not None:
            self.logger.record("train/next_action_agreement", self._agreement)

    def _online_q_values(self, observations: Any) -> th.Tensor:
        """Q-values of the online network in evaluation mode (as when it acts)."""
        self.q_net.set_training_mode(False)
        try:
            return self.q_net(observations)
        finally:
            self.q_net.set_training_mode(True)

    def _check_finite(self, loss_value: float, q_values: th.Tensor, target_q_values: th.Tensor, step: int) -> None:
        """Stop before a non-finite loss reaches the parameters."""
        if math.isfinite(loss_value) and th.isfinite(q_values).all() and th.isfinite(target_q_values).all():
            self._last_finite_loss = loss_value
            return
        raise RuntimeError(
            f"Non-finite value at gradient update {self._n_updates + step + 1}: loss={loss_value}, "
            f"Q-values finite: {bool(th.isfinite(q_values).all())}, "
            f"targets finite: {bool(th.isfinite(target_q_values).all())}. "
            f"The last finite loss was {self._last_finite_loss}. The parameters were not updated with it; "
            "try a lower learning_rate, a smaller max_grad_norm or scaled rewards."
        )

    def learn(
        self: SelfSARSA,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SARSA",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfSARSA:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    # ----------------------------------------------------------------------------------------
    # Saving and loading
    # ----------------------------------------------------------------------------------------
    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
    ) -> None:
        """
        Save the model in SB3's zip format; a path is written atomically.

        The file is complete or absent: it is written to a temporary file in the same folder,
        then renamed over ``path``, so a process killed mid-save leaves the previous file intact.

        :param path: path to the file (``.zip`` is added when it has no suffix) or a file object
        :param exclude: name of parameters that should be excluded in addition to the default ones
        :param include: name of parameters that might be excluded but should be included anyway
        """
        setattr(self, SARSA_FORMAT_KEY, self.SAVE_FORMAT_VERSION)
        if isinstance(path, io.BufferedIOBase):
            super().save(path, exclude, include)
            return
        with atomic_open(resolve_save_path(path, "zip")) as file:
            super().save(file, exclude, include)  # type: ignore[arg-type]

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfSARSA],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfSARSA:
        """
        Load a model saved by :meth:`save`; see :meth:`stable_baselines3.common.base_class.BaseAlgorithm.load`.

        :raises FileNotFoundError: if there is no such file
        :raises ValueError: if the file is truncated or corrupted, was saved by another algorithm
            or a newer sb3-sarsa, or ``env`` has other spaces than the saved model
        """
        if not isinstance(path, io.BufferedIOBase):
            path = find_saved_file(path, "zip")
            check_sarsa_zip(path, cls.SAVE_FORMAT_VERSION)
        return super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)

    def save_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """
        Save the replay buffer (next actions included) as a pickle file; a path is written atomically.

        :param path: path to the file (``.pkl`` is added when it has no suffix) or a file object
        """
        if isinstance(path, io.BufferedIOBase):
            super().save_replay_buffer(path)
            return
        with atomic_open(resolve_save_path(path, "pkl")) as file:
            super().save_replay_buffer(file)  # type: ignore[arg-type]

    def load_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase, truncate_last_traj: bool = True) -> None:
        """
        Load a replay buffer saved by :meth:`save_replay_buffer`.

        :raises FileNotFoundError: if there is no such file
        :raises ValueError: if the buffer has no next actions or does not fit this model;
            the current buffer is then kept
        """
        if not isinstance(path, io.BufferedIOBase):
            path = find_saved_file(path, "pkl")
        current = self.replay_buffer
        super().load_replay_buffer(path, truncate_last_traj)
        loaded = self.replay_buffer
        problem = None
        if not isinstance(loaded, NextActionStorage):
            problem = f"it is a {type(loaded).__name__}, which stores no next actions (saved by another algorithm?)"
        elif loaded.observation_space != self.observation_space or loaded.action_space != self.action_space:
            problem = f"its spaces ({loaded.observation_space}, {loaded.action_space}) differ from the model's"
        elif loaded.n_envs != self.n_envs:
            problem = f"it was filled by {loaded.n_envs} envs and the model has {self.n_envs}"
        if problem is not None:
            self.replay_buffer = current
            raise ValueError(f"Cannot load the replay buffer {path}: {problem}.")
