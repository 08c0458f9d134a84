"""Bad input gets an error that names the problem, before any work is done."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.dqn.policies import DQNPolicy

from sb3_sarsa import SARSA
from tests.helpers import CounterEnv


class SpacesEnv(gym.Env):
    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        return self.observation_space.sample(), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        return self.observation_space.sample(), 0.0, True, False, {}


BOX = spaces.Box(-1, 1, shape=(2,), dtype=np.float32)


@pytest.mark.parametrize(
    "action_space, message",
    [
        (spaces.Box(-1, 1, shape=(1,)), "needs a Discrete action space .* got Box"),
        (spaces.MultiDiscrete([2, 3]), "needs a Discrete action space .* got MultiDiscrete"),
        (spaces.MultiBinary(3), "needs a Discrete action space .* got MultiBinary"),
        (spaces.Discrete(3, start=1), "starts at 0"),
    ],
)
def test_unsupported_action_spaces(action_space: spaces.Space, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SARSA("MlpPolicy", SpacesEnv(BOX, action_space))


@pytest.mark.parametrize(
    "observation_space",
    [spaces.Tuple([BOX, BOX]), spaces.Text(5), spaces.Dict({"a": spaces.Tuple([BOX])})],
)
def test_unsupported_observation_spaces(observation_space: spaces.Space) -> None:
    with pytest.raises(ValueError, match="cannot handle the observation space"):
        SARSA("MlpPolicy", SpacesEnv(observation_space, spaces.Discrete(2)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(gamma=1.5), r"gamma must be in \[0.0, 1.0\], got 1.5"),
        (dict(gamma=-0.1), r"gamma must be in \[0.0, 1.0\], got -0.1"),
        (dict(exploration_initial_eps=1.2), "exploration_initial_eps must be in"),
        (dict(exploration_final_eps=-0.5), "exploration_final_eps must be in"),
        (dict(exploration_fraction=-0.1), r"exploration_fraction must be in \[0.0, inf\]"),
        (dict(batch_size=0), "batch_size must be >= 1, got 0"),
        (dict(buffer_size=-5), "buffer_size must be >= 1, got -5"),
        (dict(train_freq=0), "train_freq must be >= 1, got 0"),
        (dict(train_freq=(4, "minute")), r"train_freq must be an int or a tuple \(n, 'step' \| 'episode'\)"),
        (dict(target_update_interval=-1), "target_update_interval must be >= 0, got -1"),
        (dict(n_steps=0), "n_steps must be >= 1, got 0"),
        (dict(learning_rate=-1e-3), r"learning_rate must be in \[0.0, inf\]"),
        (dict(tau=1.5), r"tau must be in \[0.0, 1.0\]"),
        (dict(max_grad_norm=-1), "max_grad_norm must be in"),
        (dict(learning_starts=-1), "learning_starts must be >= 0"),
        (dict(gradient_steps=-2), "gradient_steps must be >= -1"),
        (dict(batch_size=32.0), "batch_size must be an integer, got 32.0"),
        (dict(target="q_learning"), r"Unknown target 'q_learning': valid targets are 'sarsa', 'expected'"),
        (dict(loss="l1"), r"Unknown loss 'l1': valid losses are 'huber', 'mse'"),
        # SB3's own message, as for DQN:
        (dict(optimize_memory_usage=True), "does not support optimize_memory_usage = True and handle_timeout_termination"),
        (
            dict(policy_kwargs=dict(net_arch=[8], softplus=True)),
            "Unknown policy keyword.*softplus for SarsaPolicy.*softplus_head",
        ),
        (dict(policy_kwargs=dict(softplus_head="yes")), "softplus_head must be True or False, got 'yes'"),
    ],
)
def test_invalid_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SARSA("MlpPolicy", "CartPole-v1", **kwargs)


def test_unknown_policy_name_and_foreign_policy_class() -> None:
    with pytest.raises(
        ValueError, match="Unknown policy 'MLPPolicy': valid policies are MlpPolicy, CnnPolicy, MultiInputPolicy"
    ):
        SARSA("MLPPolicy", "CartPole-v1")
    with pytest.raises(TypeError, match="needs a SarsaPolicy"):
        SARSA(DQNPolicy, "CartPole-v1")  # type: ignore[arg-type]  # the wrong class is the test


def test_replay_buffer_without_next_actions_is_refused() -> None:
    with pytest.raises(TypeError, match=r"replay_buffer_class must store next actions .* got ReplayBuffer"):
        SARSA("MlpPolicy", "CartPole-v1", replay_buffer_class=ReplayBuffer)


def test_contradicting_n_steps() -> None:
    with pytest.raises(ValueError, match=r"replay_buffer_kwargs\['n_steps'\]=3 contradicts n_steps=1"):
        SARSA("MlpPolicy", "CartPole-v1", replay_buffer_kwargs=dict(n_steps=3))


def test_cnn_policy_on_vector_observations_names_the_problem() -> None:
    with pytest.raises(AssertionError, match="NatureCNN only with images"):
        SARSA("CnnPolicy", CounterEnv())
