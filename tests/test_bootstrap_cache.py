"""
SARSA(lambda)'s kept bootstrap values: every value a target uses equals the target network's value of the stored
step at that moment (with Expected SARSA, its row of values), through target updates, buffer wrap-around, several
envs, the memory-optimized buffer and writes from outside ``learn``; the cache is used only where that holds, and is
never saved.
"""

import zipfile
from typing import Any, cast

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from sb3_sarsa import SARSA
from sb3_sarsa.bootstrap_cache import BootstrapCache
from sb3_sarsa.buffers import SarsaReplayBuffer
from sb3_sarsa.lambda_return import lambda_targets


def fresh_values(model: SARSA, positions: np.ndarray, envs: np.ndarray) -> np.ndarray:
    """``Q_target(s', a')`` of stored steps (Expected SARSA: the rows ``Q_target(s', .)``), computed now from the buffer."""
    buffer = cast(SarsaReplayBuffer, model.replay_buffer)
    with th.no_grad():
        q_values = model.q_net_target(buffer.next_observations_at(positions, envs)).numpy()
    if model.target == "expected":
        return q_values
    return q_values[np.arange(len(positions)), buffer.next_actions[positions, envs, 0].astype(int)]


class CheckedCache(BootstrapCache):
    """A cache that compares every value it returns with a fresh computation (``model`` set after construction)."""

    model: SARSA
    checked = 0

    def values(self, key: Any, positions: np.ndarray, env_indices: np.ndarray, needed: np.ndarray, compute: Any) -> th.Tensor:
        values = super().values(key, positions, env_indices, needed, compute).numpy()
        envs = np.broadcast_to(env_indices[:, None], positions.shape)
        fresh = fresh_values(self.model, positions[needed], envs[needed])
        np.testing.assert_allclose(values[needed], fresh, rtol=1e-5, atol=1e-5)
        CheckedCache.checked += int(needed.sum())
        return th.as_tensor(values)


def checked_model(monkeypatch: pytest.MonkeyPatch, env: Any = "CartPole-v1", **kwargs: Any) -> SARSA:
    def make(buffer: Any, value_shape: tuple[int, ...] = ()) -> CheckedCache:
        cache = CheckedCache(buffer, value_shape)
        cache.model = model
        return cache

    monkeypatch.setattr("sb3_sarsa.batch_targets.BootstrapCache", make)
    CheckedCache.checked = 0
    settings = dict(td_lambda=0.8, lambda_horizon=6, learning_starts=100, train_freq=1, seed=0)
    model = SARSA("MlpPolicy", env, **{**settings, **kwargs})
    return model


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(buffer_size=300, target_update_interval=40),
        dict(buffer_size=300, target_update_interval=40, tau=0.5, n_envs=2),
        dict(buffer_size=300, target_update_interval=40, optimize_memory_usage=True),
        dict(buffer_size=300, target_update_interval=40, target="expected"),
    ],
    ids=["one-env", "two-envs-soft-updates", "memory-optimized", "expected-rows"],
)
def test_every_kept_value_is_the_target_networks_value_of_the_stored_step(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any]
) -> None:
    n_envs = kwargs.pop("n_envs", 1)
    if kwargs.get("optimize_memory_usage"):
        kwargs["replay_buffer_kwargs"] = dict(handle_timeout_termination=False)
    env: Any = "CartPole-v1"
    if n_envs > 1:
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    model = checked_model(monkeypatch, env, **kwargs)
    model.learn(1200)  # the buffer wraps around 4 times (fewer with 2 envs); 30 target updates
    cache = model._bootstrap_cache
    assert isinstance(cache, CheckedCache) and CheckedCache.checked > 10_000
    assert cache.computed < cache.looked_up / 2  # most values were kept, not recomputed


def test_a_step_written_from_outside_learn_and_a_loaded_target_network_are_not_served_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = checked_model(monkeypatch, buffer_size=200, target_update_interval=10_000)
    model.learn(400)
    buffer = cast(SarsaReplayBuffer, model.replay_buffer)
    cache = model._bootstrap_cache
    assert cache is not None
    # A user writes steps into the buffer between two gradient steps: they must be computed, not read back.
    for _ in range(30):
        obs = np.random.uniform(-1, 1, size=(1, 4)).astype(np.float32)
        buffer.add(obs, obs * 2, np.array([1]), np.array([1.0]), np.array([False]), [{}], next_action=np.array([0]))
    for _ in range(20):
        model.train(gradient_steps=1, batch_size=64)
    # The target network's weights replaced in place (as set_parameters or a callback would do)
    other = SARSA("MlpPolicy", "CartPole-v1", seed=5)
    model.q_net_target.load_state_dict(other.q_net_target.state_dict())
    for _ in range(20):
        model.train(gradient_steps=1, batch_size=64)
    # A parameter's data replaced by another tensor (no in-place write: its version counter does not move)
    for param in model.q_net_target.parameters():
        param.data = param.data.clone() * 0.5 + 0.1
    for _ in range(20):
        model.train(gradient_steps=1, batch_size=64)
    assert CheckedCache.checked > 7_000


def test_expected_sarsas_targets_from_kept_rows_equal_the_uncached_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    settings: dict[str, Any] = dict(td_lambda=0.8, lambda_horizon=6, learning_starts=100, train_freq=1, buffer_size=300)
    model = SARSA("MlpPolicy", "CartPole-v1", target="expected", target_update_interval=40, seed=0, **settings)
    model.learn(600)
    buffer = cast(SarsaReplayBuffer, model.replay_buffer)
    sampled: list[Any] = []
    sample_sequences = buffer.sample_sequences

    def sample(*args: Any, **kwargs: Any) -> Any:
        sampled.append(sample_sequences(*args, **kwargs))
        return sampled[-1]

    monkeypatch.setattr(buffer, "sample_sequences", sample)
    cache = model._bootstrap_cache
    assert cache is not None and cache.value_shape == (2,)
    looked_up, computed = cache.looked_up, cache.computed
    for epsilon in (0.0, 0.3, 1.0):  # the kept rows serve any epsilon: the policy is applied after the cache
        model.exploration_rate = epsilon
        targets, _, _ = model._lambda_batch(64, False, [])
        with th.no_grad():
            uncached = lambda_targets(
                sampled[-1], model.q_net_target, model.gamma, 0.8, "expected", model._online_q_values, epsilon
            )
        th.testing.assert_close(targets, uncached, rtol=1e-5, atol=1e-5)
    assert cache.computed - computed < (cache.looked_up - looked_up) / 2  # the rows were mostly kept


def test_the_cache_serves_both_targets_without_vecnormalize_or_optimism() -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    kinds: dict[str, tuple[dict[str, Any], Any, bool]] = {
        "sarsa": (dict(), "CartPole-v1", True),
        "expected": (dict(target="expected"), "CartPole-v1", True),
        "vecnormalize": (dict(), VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=0)), False),
        "optimism": (dict(optimism=(1.0, 1.0)), "FrozenLake-v1", False),
    }
    for name, (kwargs, env, cached) in kinds.items():
        model = SARSA("MlpPolicy", env, td_lambda=0.5, learning_starts=50, seed=0, **kwargs)
        model.learn(100)
        assert (model._bootstrap_cache is not None) == cached, name


def test_the_cache_is_not_saved_and_learning_resumes_after_load(tmp_path: Any) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", td_lambda=0.5, learning_starts=50, seed=0)
    model.learn(200)
    assert model._bootstrap_cache is not None and model._bootstrap_cache.looked_up > 0
    model.save(tmp_path / "model")
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        assert "_bootstrap_cache" not in archive.read("data").decode()
    with pytest.raises(ValueError, match="not a Gymnasium environment"):  # as DQN.load says of a string
        SARSA.load(tmp_path / "model", env=cast(Any, "CartPole-v1"))
    loaded = SARSA.load(tmp_path / "model", env=gym.make("CartPole-v1"))
    assert loaded._bootstrap_cache is None
    loaded.learn(200, reset_num_timesteps=False)  # a new buffer: the cache is rebuilt
    assert loaded._bootstrap_cache is not None and loaded._bootstrap_cache.computed > 0
    # A loaded replay buffer replaces the one the cache describes: a new cache, for the new buffer
    kept = model._bootstrap_cache
    model.save_replay_buffer(tmp_path / "buffer")
    model.load_replay_buffer(tmp_path / "buffer")
    model.learn(100, reset_num_timesteps=False)
    assert model._bootstrap_cache is not kept and model._bootstrap_cache.buffer() is model.replay_buffer
