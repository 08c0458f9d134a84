"""Emphasizing Recent Experience (``recent_eta``): the window formula, the sampled positions, the algorithm's use."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import HerReplayBuffer
from stable_baselines3.common.envs import BitFlippingEnv

from sb3_sarsa import SARSA
from sb3_sarsa.buffers import SarsaReplayBuffer, recent_indices
from sb3_sarsa.recency import ere_window


def test_ere_window_against_hand_computed_numbers() -> None:
    # N = 10,000, K = 4 updates, eta = 0.996: c_k = 10000 * 0.996 ** (250 k) = 3671.4, 1347.9, 494.9, 181.7
    assert [ere_window(10_000, k, 4, 0.996, 1) for k in (1, 2, 3, 4)] == [3671, 1347, 494, 181]
    assert [ere_window(10_000, k, 4, 0.996, 2500) for k in (1, 2, 3, 4)] == [3671, 2500, 2500, 2500]
    assert ere_window(10_000, 3, 4, 1.0, 2500) == 10_000  # eta 1: the whole buffer
    assert ere_window(800, 4, 4, 0.996, 2500) == 800  # c_min above N: all that is stored
    with pytest.raises(ValueError, match=r"update must be in \[1, updates=4\], got 0"):
        ere_window(10_000, 0, 4, 0.996, 1)


def buffer_of(size: int, steps: int, optimize: bool = False) -> SarsaReplayBuffer:
    """A buffer whose transition t has observation t (t = 0 .. steps - 1)."""
    buffer = SarsaReplayBuffer(
        size,
        spaces.Box(-1e6, 1e6, (1,)),
        spaces.Discrete(2),
        device="cpu",
        optimize_memory_usage=optimize,
        handle_timeout_termination=not optimize,
    )
    for t in range(steps):
        buffer.add(
            np.array([[t]]),
            np.array([[t + 1]]),
            np.array([0]),
            np.array([0.0]),
            np.array([False]),
            [{}],
            next_action=np.array([1]),
        )
    return buffer


def test_recent_indices_are_the_newest_positions() -> None:
    np.random.seed(0)
    assert set(recent_indices(buffer_of(10, 5), 500, 3)) == {4, 3, 2}
    # Full and wrapped: written 13 times into 6 slots, so pos = 1 and the newest are 0, 5, 4.
    assert set(recent_indices(buffer_of(6, 13), 500, 3)) == {0, 5, 4}
    # A window larger than the buffer: every stored position; memory-optimized and full: all but pos.
    assert set(recent_indices(buffer_of(6, 13), 500, 100)) == set(range(6))
    assert set(recent_indices(buffer_of(6, 13, optimize=True), 500, 100)) == {0, 2, 3, 4, 5}
    with pytest.raises(ValueError, match="window must be >= 1, got 0"):
        recent_indices(buffer_of(6, 3), 5, 0)
    with pytest.raises(ValueError, match="empty replay buffer"):
        recent_indices(buffer_of(6, 0), 5, 3)


def test_sample_recent_returns_the_newest_transitions() -> None:
    np.random.seed(1)
    buffer = buffer_of(100, 40)
    samples = buffer.sample_recent(256, 2)
    assert set(samples.observations.reshape(-1).tolist()) == {38.0, 39.0}
    assert set(samples.next_observations.reshape(-1).tolist()) == {39.0, 40.0}
    assert set(samples.next_actions.reshape(-1).tolist()) == {1}


class Recording(SarsaReplayBuffer):
    """Keeps the window of every ``sample_recent`` call and counts ``sample`` calls."""

    windows: list[int] = []
    uniform = 0

    def sample_recent(self, batch_size, window, env=None):  # type: ignore[no-untyped-def]
        Recording.windows.append(window)
        return super().sample_recent(batch_size, window, env)

    def sample(self, batch_size, env=None):  # type: ignore[no-untyped-def]
        Recording.uniform += 1
        return super().sample(batch_size, env)


def test_sarsa_trains_on_the_ere_windows() -> None:
    Recording.windows, Recording.uniform = [], 0
    model = SARSA(
        "MlpPolicy",
        "CartPole-v1",
        learning_starts=50,
        train_freq=10,
        gradient_steps=4,
        batch_size=8,
        recent_eta=0.999,
        recent_min_size=5,
        replay_buffer_class=Recording,
        seed=0,
    )
    model.learn(70)
    # train() runs at steps 60 and 70 (after learning_starts): N = 60 then 70 stored, K = 4.
    expected = [ere_window(n, k, 4, 0.999, 5) for n in (60, 70) for k in (1, 2, 3, 4)]
    assert Recording.windows == expected and Recording.uniform == 0
    assert expected[:4] == [46, 36, 28, 22]  # 60 * 0.999 ** (250 k)
    assert model.logger.name_to_value["train/recent_window"] == pytest.approx(np.mean(expected[4:]))
    # The default is uniform replay: no recent sampling at all.
    Recording.windows = []
    SARSA("MlpPolicy", "CartPole-v1", learning_starts=50, train_freq=10, replay_buffer_class=Recording).learn(70)
    assert Recording.windows == [] and Recording.uniform > 0


def test_recency_parameters_are_checked_and_saved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for bad in (0.0, 1.5, True, "0.99"):
        with pytest.raises(ValueError, match=r"recent_eta must be in \(0, 1\]"):
            SARSA("MlpPolicy", "CartPole-v1", recent_eta=bad)  # type: ignore[arg-type]  # the wrong types are the test
    with pytest.raises(ValueError, match="recent_min_size must be >= 1, got 0"):
        SARSA("MlpPolicy", "CartPole-v1", recent_min_size=0)
    env = BitFlippingEnv(n_bits=4)
    with pytest.raises(ValueError, match=r"recent_eta=0\.99 needs a buffer that can sample its newest transitions"):
        SARSA("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer, recent_eta=0.99)
    model = SARSA("MlpPolicy", gym.make("CartPole-v1"), recent_eta=0.995, recent_min_size=300)
    model.save(tmp_path / "model")
    loaded = SARSA.load(tmp_path / "model")
    assert (loaded.recent_eta, loaded.recent_min_size) == (0.995, 300)
