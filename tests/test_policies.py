"""Policies: MLP, CNN and multi-input Q-networks, with and without the softplus head."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import DQN

from sb3_sarsa import SARSA, CnnPolicy, MlpPolicy, MultiInputPolicy
from tests.helpers import CounterEnv

pytestmark = pytest.mark.filterwarnings("ignore:policy_kwargs\\['dueling'\\] is deprecated:FutureWarning")


def test_dueling_is_deprecated() -> None:
    with pytest.warns(FutureWarning, match="will be removed in sb3-sarsa 0.4.0"):
        SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(dueling=True))


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


def test_dueling_layer_against_hand_computed_values() -> None:
    from sb3_sarsa.policies import DuelingLayer

    layer = DuelingLayer(2, 3)
    with th.no_grad():
        layer.value.weight.copy_(th.tensor([[1.0, 2.0]]))
        layer.value.bias.fill_(0.5)
        layer.advantage.weight.copy_(th.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        layer.advantage.bias.copy_(th.tensor([0.0, 0.0, -3.0]))
        q = layer(th.tensor([[1.0, 1.0], [2.0, 0.0]]))
    # row 1: V = 3.5, A = (1, 1, -1), mean 1/3; row 2: V = 2.5, A = (2, 0, -1), mean 1/3
    expected = th.tensor(
        [[3.5 + 1 - 1 / 3, 3.5 + 1 - 1 / 3, 3.5 - 1 - 1 / 3], [2.5 + 2 - 1 / 3, 2.5 - 1 / 3, 2.5 - 1 - 1 / 3]]
    )
    assert th.allclose(q, expected)


@pytest.mark.parametrize("net_arch", [[32, 16], []])
def test_dueling_q_network_shares_hidden_layers_and_means_to_the_value(net_arch: list[int]) -> None:
    from sb3_sarsa.policies import DuelingLayer

    model = SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=net_arch, dueling=True), seed=0)
    for q_net in (model.q_net, model.q_net_target):
        head = q_net.q_net[-1]
        assert isinstance(head, DuelingLayer)
        assert head.value.in_features == (net_arch[-1] if net_arch else 4) and head.advantage.out_features == 2
        assert sum(isinstance(layer, th.nn.Linear) for layer in q_net.q_net) == len(net_arch)
    obs = th.randn(16, 4)
    with th.no_grad():
        q = model.q_net(obs)
        hidden = model.q_net.q_net[:-1](obs)
        head = model.q_net.q_net[-1]
        assert isinstance(head, DuelingLayer)
        assert th.allclose(q.mean(dim=1), head.value(hidden).squeeze(1), atol=1e-6)
    assert model.q_net_target.state_dict().keys() == model.q_net.state_dict().keys()


def test_dueling_with_softplus_head_applies_the_softplus_to_q() -> None:
    from sb3_sarsa.policies import DuelingLayer

    model = SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(dueling=True, softplus_head=True), seed=0)
    assert isinstance(model.q_net.q_net[-2], DuelingLayer) and isinstance(model.q_net.q_net[-1], th.nn.Softplus)
    with th.no_grad():
        model.q_net.q_net[-2].value.bias.fill_(-50.0)
        assert (model.q_net(th.randn(8, 4)) >= 0).all()


def test_dueling_trains_and_round_trips_through_save_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(dueling=True), learning_starts=50, batch_size=16, seed=0)
    before = {k: v.clone() for k, v in model.q_net.state_dict().items()}
    model.learn(200)
    changed = [k for k, v in model.q_net.state_dict().items() if not th.equal(v, before[k])]
    assert any("value" in k for k in changed) and any("advantage" in k for k in changed)
    model.save(tmp_path / "dueling")
    loaded = SARSA.load(tmp_path / "dueling")
    assert loaded.policy.dueling and loaded.q_net.dueling and loaded.q_net_target.dueling
    obs = th.randn(8, 4)
    with th.no_grad():
        assert th.equal(loaded.q_net(obs), model.q_net(obs))
    model.policy.save(tmp_path / "policy.pth")  # the policy alone, as SB3's BasePolicy.save writes it
    policy = MlpPolicy.load(tmp_path / "policy.pth")
    assert policy.dueling and policy.q_net.dueling
    with th.no_grad():
        assert th.equal(policy.q_net(obs), model.q_net(obs))


def test_dueling_is_off_by_default_and_checked() -> None:
    model = SARSA("MlpPolicy", "CartPole-v1")
    assert not model.policy.dueling and isinstance(model.q_net.q_net[-1], th.nn.Linear)
    with pytest.raises(ValueError, match="dueling must be True or False, got 'yes'"):
        SARSA("MlpPolicy", "CartPole-v1", policy_kwargs=dict(dueling="yes"))
