"""Deep SARSA and Expected SARSA as a Stable-Baselines3 off-policy algorithm."""

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.dqn import DQN
from stable_baselines3.her.her_replay_buffer import HerReplayBuffer

from sb3_sarsa.batch_targets import SarsaTargets
from sb3_sarsa.buffers import DictSarsaReplayBuffer, NextActionStorage, SarsaReplayBuffer
from sb3_sarsa.checks import (
    check_exploration_zeta,
    check_lambda,
    check_parameters,
    check_policy_kwargs,
    check_recency,
    check_spaces,
    check_target_epsilon,
    policy_class_of,
)
from sb3_sarsa.her import HerSarsaReplayBuffer
from sb3_sarsa.optimism import VisitCounts, check_optimism
from sb3_sarsa.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SarsaPolicy, SarsaQNetwork
from sb3_sarsa.recency import ere_window
from sb3_sarsa.save_util import SARSA_FORMAT_KEY, AtomicSaving
from sb3_sarsa.targets import (
    check_finite,
    check_loss,
    check_target,
    td_loss,
)

SelfSARSA = TypeVar("SelfSARSA", bound="SARSA")

Obs = np.ndarray | dict[str, np.ndarray]


def sarsa_buffer_class(buffer_class: type[ReplayBuffer] | None, observation_space: spaces.Space, recent_eta: float) -> type:
    """
    The replay buffer class SARSA uses for a ``replay_buffer_class`` argument.

    :param buffer_class: the argument: ``None`` (chosen from the observation space), SB3's ``HerReplayBuffer``
        (replaced by :class:`sb3_sarsa.HerSarsaReplayBuffer`, so that DQN code runs unchanged) or a class
        that stores next actions
    :param observation_space: the model's observation space
    :param recent_eta: the model's ``recent_eta`` (below 1 it needs :meth:`SarsaReplayBuffer.sample_recent`)
    :raises TypeError: if the class stores no next actions
    :raises ValueError: if ``recent_eta < 1`` and the class cannot sample its newest transitions
    """
    if buffer_class is None:
        buffer_class = DictSarsaReplayBuffer if isinstance(observation_space, spaces.Dict) else SarsaReplayBuffer
    elif buffer_class is HerReplayBuffer:
        buffer_class = HerSarsaReplayBuffer
    if not issubclass(buffer_class, NextActionStorage):
        raise TypeError(
            f"replay_buffer_class must store next actions (a subclass of SarsaReplayBuffer, "
            f"DictSarsaReplayBuffer or HerSarsaReplayBuffer), got {buffer_class.__name__}."
        )
    if recent_eta < 1.0 and not hasattr(buffer_class, "sample_recent"):
        raise ValueError(
            f"recent_eta={recent_eta} needs a buffer that can sample its newest transitions "
            f"(SarsaReplayBuffer, DictSarsaReplayBuffer); {buffer_class.__name__} cannot: use recent_eta=1.0."
        )
    return buffer_class


class SARSA(SarsaTargets, AtomicSaving):
    """
    Deep SARSA: DQN's machinery with an on-policy TD target.

    SARSA: Rummery & Niranjan (1994), "On-line Q-learning using connectionist systems"; Sutton & Barto
    (2018), "Reinforcement Learning: An Introduction", 2nd ed., section 6.4. Expected SARSA: van Seijen,
    van Hasselt, Whiteson & Wiering (2009), "A theoretical and empirical analysis of Expected Sarsa".

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
    :param optimism: fading optimism (Rashid et al., 2020; :mod:`sb3_sarsa.optimism`) for a ``Discrete``
        observation space: the behaviour's greedy choice adds ``action_scale / (N(s, a) + 1) ** 2`` to each
        Q-value and the target adds ``bootstrap_scale / (N(s', a') + 1) ** 2`` to ``Q(s', a')``, ``N``
        counting visits. Both vanish with experience, so the fixed point stays the epsilon-greedy policy's
        value. ``"auto"`` (default): ``(100.0, 10.0)`` on a ``Discrete`` observation space, none on any
        other (no change there); ``None``: none; or ``(action_scale, bootstrap_scale)``.
    :param td_lambda: SARSA(lambda) (Sutton & Barto, 2018, chapter 12; :mod:`sb3_sarsa.lambda_return`): the
        target is the truncated lambda-return over a stored sequence of at most ``lambda_horizon`` steps of one
        env, bootstrapping from the stored ``a'`` at every step. ``0`` (default): the one-step target. Not with
        ``n_steps > 1``, HER, dict observations or ``recent_eta < 1``.
    :param lambda_horizon: the longest sequence of ``td_lambda``
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
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
        optimism: tuple[float, float] | str | None = "auto",
        td_lambda: float = 0.0,
        lambda_horizon: int = 16,
        _init_setup_model: bool = True,
    ) -> None:
        self.target = check_target(target)
        self.loss = check_loss(loss)
        self.recent_eta, self.recent_min_size = check_recency(recent_eta, recent_min_size)
        self.target_epsilon = check_target_epsilon(target_epsilon, self.target)
        self.exploration_zeta = check_exploration_zeta(exploration_zeta, self.target)
        self.optimism = optimism
        self.td_lambda, self.lambda_horizon = check_lambda(td_lambda, lambda_horizon, n_steps)
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
            check_policy_kwargs(policy_class_of(self.policy_aliases, policy), policy_kwargs)
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
        self._next_actions: np.ndarray | None = None  # see SarsaBehaviour for these four
        self._exploring_action: np.ndarray | None = None
        self._exploring_left: np.ndarray | None = None
        self._visits: VisitCounts | None = None
        self._last_finite_loss: float | None = None
        self._warned_negative_reward = False
        # Last measured train/next_action_agreement and the update count when it was measured.
        self._agreement: float | None = None
        self._agreement_update: int | None = None
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        if hasattr(env, "observation_space") and hasattr(env, "action_space"):  # else SB3 names what env is not
            check_spaces(env.observation_space, env.action_space)  # before SB3's wrappers, which fail on some spaces
        return DQN._wrap_env(env, verbose, monitor_wrapper)

    def _setup_model(self) -> None:
        scales = check_optimism(self.optimism, self.observation_space)
        if scales is None:
            self._visits = None
        elif self._visits is None:  # on load, the saved counts are already here
            n_states, n_actions = int(self.observation_space.n), int(self.action_space.n)  # type: ignore[attr-defined]
            self._visits = VisitCounts(n_states, n_actions, *scales)
        self.replay_buffer_class = sarsa_buffer_class(self.replay_buffer_class, self.observation_space, self.recent_eta)
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
        if self.td_lambda > 0.0 and (not isinstance(self.replay_buffer, SarsaReplayBuffer) or self.recent_eta < 1.0):
            raise ValueError(
                f"td_lambda > 0 samples sequences from a SarsaReplayBuffer with uniform replay; got "
                f"{type(self.replay_buffer).__name__} with recent_eta={self.recent_eta} (HER and dict observations "
                "are not supported: a relabelled goal would change every reward of the sequence)."
            )
        # OffPolicyAlgorithm warns that n_steps is ignored whenever a replay_buffer_class is set;
        # ours reads it (above), so the check must not see it.
        n_steps, self.n_steps = self.n_steps, 1
        try:
            super()._setup_model()
        finally:
            self.n_steps = n_steps

    # ----------------------------------------------------------------------------------------
    # Learning
    # ----------------------------------------------------------------------------------------
    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        losses: list[float] = []
        q_means: list[float] = []
        agreements: list[float] = []
        # For SARSA the online network's greedy actions at s' only feed train/next_action_agreement:
        # measured on the last batch of this call if AGREEMENT_INTERVAL updates have passed since the
        # last measurement. Expected SARSA needs them on every batch (they define its policy).
        due = (
            self._agreement_update is None
            or self._n_updates + gradient_steps - self._agreement_update >= self.AGREEMENT_INTERVAL
        )
        windows = []
        for step in range(gradient_steps):
            observations: Any
            if self.td_lambda > 0.0:
                due_now = due and step == gradient_steps - 1
                target_q_values, observations, actions = self._lambda_batch(batch_size, due_now, agreements)
            else:
                if self.recent_eta < 1.0:
                    window = ere_window(
                        self.replay_buffer.size(), step + 1, gradient_steps, self.recent_eta, self.recent_min_size
                    )
                    windows.append(window)
                    replay_data = self.replay_buffer.sample_recent(batch_size, window, env=self._vec_normalize_env)
                else:
                    replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
                measure = self.target == "expected" or (due and step == gradient_steps - 1)
                target_q_values = self._one_step_targets(replay_data, measure, agreements)
                observations, actions = replay_data.observations, replay_data.actions
            current_q_values = th.gather(self.q_net(observations), dim=1, index=actions.long())
            loss = td_loss(current_q_values, target_q_values, self.loss)
            loss_value = loss.item()
            check_finite(loss_value, current_q_values, target_q_values, self._n_updates + step + 1, self._last_finite_loss)
            self._last_finite_loss = loss_value
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
