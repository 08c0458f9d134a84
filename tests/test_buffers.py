"""SarsaReplayBuffer and DictSarsaReplayBuffer: what is stored is what is sampled."""

from typing import Any

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_sarsa import DictSarsaReplayBuffer, SarsaReplayBuffer

OBS = spaces.Box(-1e6, 1e6, shape=(1,), dtype=np.float32)
ACT = spaces.Discrete(5)


def fill(buffer: SarsaReplayBuffer, episode_ends: dict[int, str], n: int) -> None:
    """Step t has obs t, action t % 5, reward t, next action (t + 1) % 5; ends as given."""
    for t in range(n):
        end = episode_ends.get(t)
        info = {"TimeLimit.truncated": end == "truncated"}
        buffer.add(
            np.array([[t]], dtype=np.float32),
            np.array([[t + 0.5]], dtype=np.float32),
            np.array([t % 5]),
            np.array([float(t)]),
            np.array([end is not None]),
            [info],
            next_action=np.array([(t + 1) % 5]),
        )


def sample_at(buffer: SarsaReplayBuffer, inds: list[int]):  # type: ignore[no-untyped-def]
    return buffer._get_samples(np.array(inds))


def test_one_step_samples_carry_the_stored_next_action() -> None:
    buffer = SarsaReplayBuffer(20, OBS, ACT, device="cpu")
    fill(buffer, {3: "terminated", 6: "truncated"}, 10)
    data = sample_at(buffer, [2, 3, 6])
    assert data.observations.ravel().tolist() == [2, 3, 6]
    assert data.actions.ravel().tolist() == [2, 3, 1]
    assert data.next_actions.ravel().tolist() == [3, 4, 2]
    assert data.next_observations.ravel().tolist() == [2.5, 3.5, 6.5]
    assert data.rewards.ravel().tolist() == [2, 3, 6]
    # Termination masks the bootstrap, truncation keeps it.
    assert data.dones.ravel().tolist() == [0, 1, 0]
    assert data.discounts is None
    assert data.next_actions.dtype == th.int64


def test_n_step_samples_bootstrap_from_the_last_step_of_the_window() -> None:
    buffer = SarsaReplayBuffer(20, OBS, ACT, device="cpu", n_steps=3, gamma=0.5)
    fill(buffer, {3: "terminated", 6: "truncated"}, 10)
    data = sample_at(buffer, [0, 2, 4, 5, 7, 8, 9])
    # 0 -> steps 0,1,2: bootstrap from next obs/action of step 2.
    # 2 -> 2,3 (termination at 3). 4 -> 4,5,6 (truncation at 6: a' of step 6, not of step 7).
    # 5 -> 5,6. 7 -> 7,8,9. 8 -> 8,9 and 9 -> 9: index 9 is the newest transition.
    assert data.next_observations.ravel().tolist() == [2.5, 3.5, 6.5, 6.5, 9.5, 9.5, 9.5]
    assert data.next_actions.ravel().tolist() == [3, 4, 2, 2, 0, 0, 0]
    assert data.dones.ravel().tolist() == [0, 1, 0, 0, 0, 0, 0]
    expected_returns = [
        0 + 0.5 * 1 + 0.25 * 2,
        2 + 0.5 * 3,
        4 + 0.5 * 5 + 0.25 * 6,
        5 + 0.5 * 6,
        7 + 0.5 * 8 + 0.25 * 9,
        8 + 0.5 * 9,
        9,
    ]
    assert data.rewards.ravel().tolist() == pytest.approx(expected_returns)
    assert data.discounts.ravel().tolist() == pytest.approx([0.125, 0.25, 0.125, 0.25, 0.125, 0.25, 0.5])  # type: ignore[union-attr]


def test_n_step_window_does_not_run_into_old_data_after_wrap_around() -> None:
    buffer = SarsaReplayBuffer(6, OBS, ACT, device="cpu", n_steps=4, gamma=1.0)
    fill(buffer, {}, 9)  # steps 6, 7, 8 overwrote slots 0, 1, 2; slot 3 holds step 3.
    data = sample_at(buffer, [1, 2, 3])
    # Slot 1 (step 7) -> 7, 8 then stops at the newest transition (slot 2), never reaching step 3.
    assert data.rewards.ravel().tolist() == [7 + 8, 8, 3 + 4 + 5 + 6]
    assert data.next_actions.ravel().tolist() == [4, 4, 2]  # a' of steps 8, 8 and 6


def test_dict_buffer_samples_next_actions_and_n_steps() -> None:
    obs_space = spaces.Dict({"x": OBS, "flag": spaces.Discrete(2)})
    buffer = DictSarsaReplayBuffer(20, obs_space, ACT, device="cpu", n_steps=2, gamma=0.5)
    for t in range(5):
        buffer.add(
            {"x": np.array([[t]], dtype=np.float32), "flag": np.array([t % 2])},
            {"x": np.array([[t + 0.5]], dtype=np.float32), "flag": np.array([(t + 1) % 2])},
            np.array([t]),
            np.array([1.0]),
            np.array([t == 2]),
            [{}],
            next_action=np.array([4 - t]),
        )
    data = buffer._get_samples(np.array([0, 1, 2]))
    assert data.observations["x"].ravel().tolist() == [0, 1, 2]
    assert data.next_observations["x"].ravel().tolist() == [1.5, 2.5, 2.5]
    assert data.next_actions.ravel().tolist() == [3, 2, 2]
    assert data.dones.ravel().tolist() == [0, 1, 1]
    assert data.rewards.ravel().tolist() == pytest.approx([1.5, 1.5, 1.0])


def test_add_without_next_action_is_an_error() -> None:
    buffer = SarsaReplayBuffer(4, OBS, ACT, device="cpu")
    with pytest.raises(ValueError, match="needs next_action"):
        buffer.add(np.zeros((1, 1)), np.zeros((1, 1)), np.array([0]), np.array([0.0]), np.array([False]), [{}])


def test_memory_optimized_layout_reads_s_prime_from_the_next_row() -> None:
    buffer = SarsaReplayBuffer(4, OBS, ACT, device="cpu", optimize_memory_usage=True, handle_timeout_termination=False)
    assert not hasattr(buffer, "next_observations")  # SB3 does not allocate it
    for t in range(3):
        buffer.add(
            np.array([[t]]),
            np.array([[t + 1]]),
            np.array([t]),
            np.array([t]),
            np.array([False]),
            [{}],
            next_action=np.array([t + 1]),
        )
    data = buffer._get_samples(np.array([0, 1, 2]))
    assert data.next_observations.ravel().tolist() == [1, 2, 3]
    assert data.next_actions.ravel().tolist() == [1, 2, 3]


def test_memory_optimized_dict_buffer_is_refused_as_by_sb3() -> None:
    with pytest.raises(AssertionError, match="DictReplayBuffer does not support optimize_memory_usage"):
        DictSarsaReplayBuffer(4, spaces.Dict({"x": OBS}), ACT, optimize_memory_usage=True, handle_timeout_termination=False)


def test_extend_with_next_actions() -> None:
    buffer = SarsaReplayBuffer(8, OBS, ACT, device="cpu")
    obs = np.arange(3, dtype=np.float32).reshape(3, 1, 1)
    args: tuple[Any, ...] = (obs, obs + 1, np.array([[0], [1], [2]]), np.zeros((3, 1)), np.zeros((3, 1)), [[{}]] * 3)
    buffer.extend(*args, next_action=np.array([[2], [1], [0]]))
    buffer.extend(*args, np.array([[1], [1], [1]]))  # or as the seventh positional argument, like add()
    assert buffer.pos == 6
    assert buffer.next_actions[:6, 0, 0].tolist() == [2, 1, 0, 1, 1, 1]
    assert buffer.observations[:3, 0, 0].tolist() == [0, 1, 2]


def test_extend_without_next_actions_names_extend() -> None:
    buffer = SarsaReplayBuffer(8, OBS, ACT, device="cpu")
    obs = np.zeros((2, 1, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=r"SarsaReplayBuffer.extend\(\) needs next_action"):
        buffer.extend(obs, obs, np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((2, 1)), [[{}]] * 2)
    assert buffer.pos == 0
