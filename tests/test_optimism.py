"""
Fading optimism (``optimism``): the bonus by hand, the counts against the executed trajectory, the
bonus where the behaviour and the target use it, and nowhere else.
"""

import pathlib
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.monitor import Monitor

import sb3_sarsa.batch_targets as sarsa_module
from sb3_sarsa import SARSA
from sb3_sarsa.optimism import AUTO_SCALES, check_optimism, count_bonus


def cliff(max_steps: int = 30) -> Monitor:
    return Monitor(gym.make("CliffWalking-v1", max_episode_steps=max_steps))


def test_count_bonus_by_hand() -> None:
    bonus = count_bonus(th.tensor([0, 1, 3, 9]), 10.0)
    assert th.allclose(bonus, th.tensor([10.0, 2.5, 0.625, 0.1]))


def test_check_optimism_resolves_auto_by_the_observation_space() -> None:
    assert check_optimism("auto", spaces.Discrete(5)) == AUTO_SCALES
    assert check_optimism("auto", spaces.Box(-1, 1, (2,))) is None
    assert check_optimism(None, spaces.Discrete(5)) is None
    assert check_optimism((1, 0.5), spaces.Discrete(5)) == (1.0, 0.5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "optimism must be 'auto', None or"),
        ((1.0,), "two numbers >= 0"),
        (1.0, "two numbers >= 0"),
        ((1.0, -2.0), "two numbers >= 0"),
        ((True, 1.0), "two numbers >= 0"),
        ((1.0, float("nan")), "two numbers >= 0"),
    ],
)
def test_bad_optimism_is_refused_by_name(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SARSA("MlpPolicy", cliff(), optimism=value)


def test_optimism_needs_discrete_observations() -> None:
    with pytest.raises(ValueError, match="needs a Discrete observation space"):
        SARSA("MlpPolicy", "CartPole-v1", optimism=(1.0, 1.0))
    assert SARSA("MlpPolicy", "CartPole-v1")._visits is None  # "auto": no change on other spaces


def test_counts_are_the_executed_state_action_pairs() -> None:
    model = SARSA("MlpPolicy", cliff(), learning_starts=50, buffer_size=1000, batch_size=8, seed=0)
    model.learn(400)
    assert model._visits is not None
    buffer = model.replay_buffer
    assert isinstance(buffer.observations, np.ndarray)
    expected = np.zeros_like(model._visits.counts)
    np.add.at(expected, (buffer.observations[: buffer.pos, 0].astype(int), buffer.actions[: buffer.pos, 0]), 1)
    assert model._visits.counts.sum() == 400
    np.testing.assert_array_equal(model._visits.counts, expected)


def test_the_behaviours_greedy_choice_adds_the_bonus_and_predict_does_not() -> None:
    model = SARSA("MlpPolicy", cliff(), optimism=(1e6, 0.0), seed=0)
    assert model._visits is not None
    state = 36
    with th.no_grad():
        greedy = int(model.q_net(th.tensor([state])).argmax())
    untried = (greedy + 1) % 4
    model._visits.counts[state] = 1000
    model._visits.counts[state, untried] = 0
    assert model._greedy_actions(np.array([state])).tolist() == [untried]
    assert int(model.predict(np.array(state), deterministic=True)[0]) == greedy
    model._visits.counts[state, untried] = 1000  # all tried alike: the bonus no longer decides
    assert model._greedy_actions(np.array([state])).tolist() == [greedy]


def test_the_target_bootstraps_from_q_plus_the_bonus_of_s_prime_a_prime(monkeypatch: pytest.MonkeyPatch) -> None:
    model = SARSA("MlpPolicy", cliff(), optimism=(0.0, 7.0), learning_starts=50, batch_size=16, seed=0)
    model.learn(200)
    assert model._visits is not None
    sample = model.replay_buffer.sample(16)
    monkeypatch.setattr(model.replay_buffer, "sample", lambda *args, **kwargs: sample)
    seen: dict[str, th.Tensor] = {}
    original = sarsa_module.sarsa_target

    def spy(rewards: Any, dones: Any, discounts: Any, next_q_values: Any, next_actions: Any) -> Any:
        seen["next_q_values"] = next_q_values.clone()
        return original(rewards, dones, discounts, next_q_values, next_actions)

    monkeypatch.setattr(sarsa_module, "sarsa_target", spy)
    assert isinstance(sample.next_observations, th.Tensor)
    states = sample.next_observations.long().reshape(-1)
    with th.no_grad():
        target_q = model.q_net_target(sample.next_observations)
    bonus = th.tensor(7.0 / (model._visits.counts[states.numpy()] + 1.0) ** 2, dtype=th.float32)
    model.train(gradient_steps=1, batch_size=16)
    assert th.allclose(seen["next_q_values"], target_q + bonus)
    assert (bonus > 0).all()


def test_optimism_none_trains_as_before() -> None:
    model = SARSA("MlpPolicy", cliff(), optimism=None, learning_starts=50, seed=0)
    model.learn(100)
    assert model._visits is None


def test_counts_survive_save_and_load(tmp_path: pathlib.Path) -> None:
    model = SARSA("MlpPolicy", cliff(), learning_starts=50, seed=0)
    model.learn(200)
    assert model._visits is not None
    model.save(tmp_path / "model")
    loaded = SARSA.load(tmp_path / "model", env=cliff())
    assert loaded._visits is not None
    np.testing.assert_array_equal(loaded._visits.counts, model._visits.counts)
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded._visits.counts.sum() == 300
