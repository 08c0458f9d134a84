"""Policies: MLP, CNN and multi-input Q-networks, with and without the softplus head."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import DQN

from sb3_sarsa import SARSA, CnnPolicy, MlpPolicy, MultiInputPolicy
from tests.helpers import CounterEnv


class ImageEnv(gym.Env):
    """36x36 RGB observations (the smallest NatureCNN takes), channel-last as SB3 expects."""

    observation_space = spaces.Box(0, 255, shape=(36, 36, 3), dtype=np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        self.t += 1
        return self.observation_space.sample(), 1.0, self.t >= 5, False, {}


def test_softplus_head_makes_q_values_non_negative() -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(softplus_head=True), seed=0)
    with th.no_grad():
        last = model.q_net.q_net[-2]
        assert isinstance(last, th.nn.Linear)  # the last Linear, before the Softplus
        last.bias.fill_(-50.0)
        q = model.q_net(th.randn(64, 4) * 10)
    assert (q >= 0).all() and (q < 1e-10).any()
    plain = SARSA("MlpPolicy", "CartPole-v1", seed=0)
    with th.no_grad():
        last = plain.q_net.q_net[-1]
        assert isinstance(last, th.nn.Linear)
        last.bias.fill_(-50.0)
        assert (plain.q_net(th.randn(64, 4)) < 0).all()


def test_softplus_head_keeps_dqn_state_dict_keys() -> None:
    sarsa = SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(softplus_head=True))
    dqn = DQN("MlpPolicy", "CartPole-v1")
    assert sarsa.policy.state_dict().keys() == dqn.policy.state_dict().keys()
    assert isinstance(sarsa.q_net_target.q_net[-1], th.nn.Softplus)


def test_policy_aliases() -> None:
    assert SARSA.policy_aliases == {"MlpPolicy": MlpPolicy, "CnnPolicy": CnnPolicy, "MultiInputPolicy": MultiInputPolicy}


def test_cnn_policy_on_image_observations() -> None:
    model = SARSA("CnnPolicy", ImageEnv(), buffer_size=200, learning_starts=20, batch_size=8, seed=0)
    model.learn(60)
    assert model._n_updates > 0
    assert type(model.q_net.features_extractor).__name__ == "NatureCNN"
    data = model.replay_buffer.sample(4)
    assert isinstance(data.observations, th.Tensor) and data.observations.shape == (
        4,
        3,
        36,
        36,
    )  # transposed to channel-first by SB3
    assert data.next_actions.shape == (4, 1)


def test_multi_input_policy_on_dict_observations_with_n_steps() -> None:
    model = SARSA(
        "MultiInputPolicy",
        CounterEnv(dict_obs=True),
        buffer_size=500,
        learning_starts=20,
        batch_size=8,
        n_steps=3,
        seed=0,
        policy_kwargs=dict(softplus_head=True),
    )
    model.learn(100)
    assert model._n_updates > 0
    assert type(model.q_net.features_extractor).__name__ == "CombinedExtractor"
    assert model.replay_buffer.sample(4).discounts is not None
    with pytest.raises(ValueError, match="MultiInputPolicy"):
        SARSA("MlpPolicy", CounterEnv(dict_obs=True))
