"""
Drop-in for DQN: snippets of SB3 DQN usage, each run with ``DQN`` and with ``SARSA`` in its place.

Every snippet is a function of the algorithm class, written as DQN code is (nothing SARSA-specific
in it). Both must run, and what must be the same is compared: shapes, saved files, logged keys,
parameter names, counters.
"""

import csv
import pathlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import DQN, HerReplayBuffer
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import BitFlippingEnv
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

from sb3_sarsa import SARSA

SMALL: dict[str, Any] = dict(learning_starts=50, buffer_size=1000, batch_size=16, policy_kwargs=dict(net_arch=[16]), seed=0)


class ImageEnv(gym.Env):
    """36 x 36 RGB frames (NatureCNN's smallest input), 3 actions, episodes of 10 steps."""

    observation_space = spaces.Box(0, 255, shape=(36, 36, 3), dtype=np.uint8)
    action_space = spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return self.observation_space.sample(), float(action == 1), self.t >= 10, False, {}


def both(snippet: Callable[[type[OffPolicyAlgorithm], pathlib.Path], Any], tmp_path: pathlib.Path) -> tuple[Any, Any]:
    """:return: what the snippet returned with DQN and with SARSA, each in its own folder"""
    results = []
    for algo in (DQN, SARSA):
        folder = tmp_path / algo.__name__
        folder.mkdir()
        results.append(snippet(algo, folder))
    return results[0], results[1]


def test_callbacks(tmp_path: pathlib.Path) -> None:
    def snippet(algo: type, folder: pathlib.Path) -> list[str]:
        model = algo("MlpPolicy", "CartPole-v1", **SMALL)
        eval_env = gym.make("CartPole-v1")
        callbacks = [
            CheckpointCallback(save_freq=100, save_path=str(folder / "checkpoints"), name_prefix="model"),
            EvalCallback(
                eval_env, eval_freq=150, n_eval_episodes=2, log_path=str(folder / "eval"), best_model_save_path=str(folder)
            ),
        ]
        model.learn(300, callback=callbacks)
        return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())

    dqn, sarsa = both(snippet, tmp_path)
    assert dqn == sarsa and "best_model.zip" in sarsa and "checkpoints/model_300_steps.zip" in sarsa


def test_vec_normalize_and_subproc_vec_env(tmp_path: pathlib.Path) -> None:
    def snippet(algo: type, folder: pathlib.Path) -> tuple[int, tuple[int, ...]]:
        env = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, vec_env_cls=SubprocVecEnv, seed=0))
        try:
            model = algo("MlpPolicy", env, **SMALL)
            model.learn(200)
            env.save(str(folder / "vecnormalize.pkl"))
            observation = env.reset()
            actions, _ = model.predict(observation, deterministic=True)
            return model.num_timesteps, actions.shape
        finally:
            env.close()

    dqn, sarsa = both(snippet, tmp_path)
    assert dqn == sarsa == (200, (2,))
    loaded = VecNormalize.load(str(tmp_path / "SARSA" / "vecnormalize.pkl"), DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    assert isinstance(loaded.obs_rms, RunningMeanStd) and loaded.obs_rms.count > 0


def test_cnn_policy_on_images_and_memory_optimized_buffer(tmp_path: pathlib.Path) -> None:
    def snippet(algo: type, folder: pathlib.Path) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
        model = algo(
            "CnnPolicy",
            ImageEnv(),
            optimize_memory_usage=True,
            replay_buffer_kwargs=dict(handle_timeout_termination=False),
            **{**SMALL, "policy_kwargs": dict(features_extractor_kwargs=dict(features_dim=32))},
        )
        model.learn(100)
        with th.no_grad():
            q_values = model.q_net(th.zeros((5, 3, 36, 36)))
        return tuple(q_values.shape), model.replay_buffer.observations.shape, hasattr(model.replay_buffer, "next_observations")

    dqn, sarsa = both(snippet, tmp_path)
    assert dqn == sarsa == ((5, 3), (1000, 1, 3, 36, 36), False)


def test_dict_observations_and_her(tmp_path: pathlib.Path) -> None:
    def snippet(algo: type, folder: pathlib.Path) -> tuple[int, list[str]]:
        model = algo(
            "MultiInputPolicy",
            BitFlippingEnv(n_bits=4),
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs=dict(n_sampled_goal=4, goal_selection_strategy="future"),
            **SMALL,
        )
        model.learn(200)
        model.save(folder / "model")
        model.save_replay_buffer(folder / "buffer")
        return model.num_timesteps, sorted(path.name for path in folder.iterdir())

    dqn, sarsa = both(snippet, tmp_path)
    assert dqn == sarsa == (200, ["buffer.pkl", "model.zip"])


def test_learning_rate_schedule_device_and_logged_keys(tmp_path: pathlib.Path) -> None:
    def snippet(algo: type, folder: pathlib.Path) -> tuple[set[str], list[float]]:
        model = algo("MlpPolicy", "CartPole-v1", learning_rate=LinearSchedule(1e-3, 0.0, 1.0), device="cpu", **SMALL)
        model.set_logger(configure(str(folder), ["csv"]))
        model.learn(400, log_interval=1)
        assert model.device == th.device("cpu")
        with open(folder / "progress.csv") as file:
            rows = list(csv.DictReader(file))
        logged = [row for row in rows if row.get("train/learning_rate")]
        for row in logged:  # the schedule at the logged step (logs come at episode ends, which differ)
            expected = 1e-3 * (1 - int(row["time/total_timesteps"]) / 400)
            assert float(row["train/learning_rate"]) == pytest.approx(expected, abs=2e-5)
        return set(rows[0]), [float(row["train/learning_rate"]) for row in logged]

    (dqn_keys, dqn_rates), (sarsa_keys, sarsa_rates) = both(snippet, tmp_path)
    assert dqn_keys <= sarsa_keys and sarsa_keys - dqn_keys == {"train/q_mean", "train/next_action_agreement"}
    assert sarsa_rates[0] > sarsa_rates[-1] > 0 and dqn_rates[0] > dqn_rates[-1] > 0


def test_tensorboard_log(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard_log needs the tensorboard package")

    def snippet(algo: type, folder: pathlib.Path) -> list[str]:
        algo("MlpPolicy", "CartPole-v1", tensorboard_log=str(folder), **SMALL).learn(100)
        return sorted(path.name for path in folder.iterdir())

    dqn, sarsa = both(snippet, tmp_path)
    assert dqn == ["DQN_1"] and sarsa == ["SARSA_1"]


def test_env_none_then_set_env_and_parameters(tmp_path: pathlib.Path) -> None:
    def snippet(algo: type[OffPolicyAlgorithm], folder: pathlib.Path) -> tuple[list[str], dict[str, list[str]]]:
        algo("MlpPolicy", "CartPole-v1", **SMALL).save(folder / "model")
        model = algo.load(folder / "model", env=None)
        model.set_env(make_vec_env("CartPole-v1", n_envs=1))
        model.learn(100, reset_num_timesteps=False)
        parameters = model.get_parameters()
        other = algo("MlpPolicy", "CartPole-v1", **{**SMALL, "seed": 1})
        other.set_parameters(parameters, exact_match=True)  # type: ignore[arg-type]  # SB3 annotates a flat dict; it takes this
        for name, tensor in other.policy.state_dict().items():
            assert th.equal(tensor, model.policy.state_dict()[name]), name
        return sorted(parameters), {key: sorted(value) for key, value in parameters.items()}

    dqn, sarsa = both(snippet, tmp_path)
    assert dqn == sarsa
