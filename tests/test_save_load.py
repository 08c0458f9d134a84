"""Save and load through SB3's zip format, and the replay buffer's pickle."""

import pathlib

import numpy as np
import pytest
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

from sb3_sarsa import SARSA, SarsaReplayBuffer
from tests.helpers import CounterEnv

PARAMS = dict(learning_starts=50, buffer_size=2000, batch_size=16, train_freq=4, seed=0, policy_kwargs=dict(net_arch=[32]))


def trained(**kwargs) -> SARSA:  # type: ignore[no-untyped-def]
    model = SARSA("MlpPolicy", "CartPole-v1", **{**PARAMS, **kwargs})  # type: ignore[arg-type]
    return model.learn(400)


@pytest.mark.parametrize("target", ["sarsa", "expected"])
def test_round_trip_keeps_predictions_and_settings(tmp_path: pathlib.Path, target: str) -> None:
    model = trained(target=target, policy_kwargs=dict(net_arch=[32], softplus_head=True), n_steps=2)
    model.save(tmp_path / "model")
    loaded = SARSA.load(tmp_path / "model")
    observations = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.predict(observations, deterministic=True)[0], model.predict(observations, deterministic=True)[0]
    )
    with th.no_grad():
        obs = th.as_tensor(observations)
        assert th.equal(loaded.q_net(obs), model.q_net(obs))
        assert th.equal(loaded.q_net_target(obs), model.q_net_target(obs))
    assert loaded.target == target
    assert loaded.n_steps == 2 and loaded.replay_buffer.n_steps == 2
    assert loaded.policy.softplus_head is True
    assert isinstance(loaded.q_net.q_net[-1], th.nn.Softplus)
    assert loaded.num_timesteps == model.num_timesteps


def test_load_with_env_and_resume_training(tmp_path: pathlib.Path) -> None:
    model = trained()
    model.save(tmp_path / "model.zip")
    env = make_vec_env("CartPole-v1", n_envs=2, seed=1)
    loaded = SARSA.load(tmp_path / "model.zip", env=env)
    assert loaded.n_envs == 2 and loaded.replay_buffer.n_envs == 2
    updates = loaded._n_updates
    loaded.learn(200, reset_num_timesteps=False)
    assert loaded.num_timesteps == model.num_timesteps + 200
    assert loaded._n_updates > updates


def test_replay_buffer_round_trip_keeps_next_actions(tmp_path: pathlib.Path) -> None:
    model = trained()
    model.save_replay_buffer(tmp_path / "buffer")
    other = SARSA("MlpPolicy", "CartPole-v1", **PARAMS)  # type: ignore[arg-type]
    other.load_replay_buffer(tmp_path / "buffer")
    assert isinstance(other.replay_buffer, SarsaReplayBuffer)
    assert other.replay_buffer.pos == model.replay_buffer.pos
    np.testing.assert_array_equal(other.replay_buffer.next_actions, model.replay_buffer.next_actions)
    np.testing.assert_array_equal(other.replay_buffer.observations, model.replay_buffer.observations)
    assert other.replay_buffer.next_actions[: other.replay_buffer.pos].any()


def test_loading_a_dqn_model_names_the_problem(tmp_path: pathlib.Path) -> None:
    DQN("MlpPolicy", "CartPole-v1").save(tmp_path / "dqn")
    with pytest.raises(ValueError, match=r"not saved by sb3-sarsa .*stable_baselines3\.dqn\.policies"):
        SARSA.load(tmp_path / "dqn")


def test_loading_with_an_env_of_other_spaces_names_the_problem(tmp_path: pathlib.Path) -> None:
    trained().save(tmp_path / "model")
    with pytest.raises(ValueError, match="Observation spaces do not match"):
        SARSA.load(tmp_path / "model", env=CounterEnv())


def test_a_saved_loss_survives_the_change_of_default(tmp_path: pathlib.Path) -> None:
    # sb3-sarsa 0.1.0 defaulted to loss="huber": such a model keeps training with Huber after load.
    assert SARSA("MlpPolicy", "CartPole-v1").loss == "mse"
    trained(loss="huber").save(tmp_path / "model")
    assert SARSA.load(tmp_path / "model").loss == "huber"
