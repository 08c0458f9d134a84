"""
``exploration_zeta``: epsilon-z-greedy (Dabney et al., 2021), explorations that last several steps.

The executed actions are read from a Recorder outside the time limit; the random actions and the
durations are fixed by patching the action space's ``sample`` and numpy's ``zipf``.
"""

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_sarsa import SARSA
from tests.helpers import CounterEnv, Recorder
from tests.test_trajectory import check_buffer_against_trajectory, run

pytestmark = pytest.mark.filterwarnings("ignore:exploration_zeta is deprecated:FutureWarning")


def test_exploration_zeta_is_deprecated() -> None:
    with pytest.warns(FutureWarning, match="exploration_zeta is deprecated and will be removed in sb3-sarsa 0.4.0"):
        SARSA("MlpPolicy", "CartPole-v1", exploration_zeta=2.0)


class FixedLength(CounterEnv):
    """A CounterEnv whose every episode terminates after ``length`` steps."""

    def __init__(self, length: int) -> None:
        super().__init__(n_actions=3)
        self.fixed_length = length

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        obs, info = super().reset(seed=seed, options=options)
        self.length = self.fixed_length
        return obs, info


def executed_actions(
    monkeypatch: pytest.MonkeyPatch, env: gym.Env, steps: int, duration: int, **kwargs: Any
) -> tuple[list[int], SARSA]:
    """
    Train with epsilon 1 throughout, random actions 0, 1, 2, 0, ... in the order drawn, every
    exploration lasting ``duration`` steps.

    :return: the actions the env executed, and the model
    """
    recorder = Recorder(env)
    model = SARSA(
        "MlpPolicy",
        DummyVecEnv([lambda: Monitor(recorder)]),
        learning_starts=0,
        train_freq=1,
        batch_size=4,
        exploration_initial_eps=1.0,
        exploration_final_eps=1.0,
        seed=0,
        policy_kwargs=dict(net_arch=[8]),
        **kwargs,
    )
    draws: Iterator[int] = iter(i % 3 for i in range(10_000))
    monkeypatch.setattr(model.action_space, "sample", lambda *args: next(draws))
    monkeypatch.setattr(np.random, "zipf", lambda mu: duration)
    model.learn(steps)
    return [step.action for step in recorder.steps], model


def test_an_exploration_repeats_its_action_and_ends_with_the_episode(monkeypatch: pytest.MonkeyPatch) -> None:
    actions, model = executed_actions(monkeypatch, FixedLength(5), 10, duration=4, exploration_zeta=2.0)
    # Episode 1: the first draw for 4 steps, a new draw at step 5; episode 2 starts a new draw.
    assert actions == [0, 0, 0, 0, 1, 2, 2, 2, 2, 0]
    stored = model.replay_buffer.next_actions[:10, 0, 0].tolist()
    assert stored[:4] + stored[5:9] == actions[1:5] + actions[6:10]  # a' is the action executed next
    assert stored[4] == actions[5]  # after a termination: the next episode's first action (masked out)


def test_without_exploration_zeta_every_random_action_lasts_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    actions, _ = executed_actions(monkeypatch, FixedLength(5), 10, duration=4)
    assert actions == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]


def test_at_a_truncation_a_prime_continues_the_exploration(monkeypatch: pytest.MonkeyPatch) -> None:
    actions, model = executed_actions(monkeypatch, TimeLimit(FixedLength(100), 5), 10, duration=10, exploration_zeta=2.0)
    # The 10-step exploration of episode 1 is cut by the time limit at step 5; episode 2 draws anew.
    assert actions == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    buffer = model.replay_buffer
    assert buffer.timeouts[4, 0] == 1.0
    # The a' the truncated step bootstraps from is the action the exploration would have repeated.
    assert buffer.next_actions[4, 0, 0] == 0


@pytest.mark.parametrize("n_envs, dict_obs", [(1, False), (4, False), (2, True)])
def test_buffer_matches_the_executed_trajectory_with_extended_exploration(n_envs: int, dict_obs: bool) -> None:
    model, recorders, draws = run(n_envs, 600 * n_envs, dict_obs=dict_obs, exploration_zeta=2.0)
    counts = check_buffer_against_trajectory(model, recorders, draws)
    assert counts["truncated"] >= 10 * n_envs and counts["terminated"] >= 10 * n_envs


def test_a_repeating_env_tosses_no_coin_and_a_truncated_row_changes_nothing() -> None:
    model = SARSA(
        "MlpPolicy", FixedLength(50), learning_starts=0, exploration_zeta=2.0, seed=0, policy_kwargs=dict(net_arch=[8])
    )
    observations = np.arange(6, dtype=np.float32).reshape(2, 3)
    greedy, _ = model.predict(observations, deterministic=True)
    model._exploring_left, model._exploring_action = np.array([3]), np.array([(greedy[0] + 1) % 3])
    # epsilon 1 would explore any row that tossed a coin: the repeating env does not toss one
    assert model._extended_epsilon_greedy(observations[:1], 1.0, None, []).tolist() == [(greedy[0] + 1) % 3]
    assert model._exploring_left.tolist() == [2]
    # The episode ended by truncation: row 0 is the new episode's (epsilon 0: greedy), row 1 the terminal
    # observation's a', which continues the exploration; the exploration is over afterwards.
    actions = model._extended_epsilon_greedy(observations, 0.0, np.array([True]), [0])
    assert actions.tolist() == [greedy[0], (greedy[0] + 1) % 3]
    assert model._exploring_left.tolist() == [0]


@pytest.mark.parametrize("value", [1.0, 0.5, -2.0, float("nan"), float("inf"), True, "2"])
def test_exploration_zeta_must_be_above_one(value: Any) -> None:
    with pytest.raises(ValueError, match=r"exploration_zeta must be None .* or a number above 1"):
        SARSA("MlpPolicy", "CartPole-v1", exploration_zeta=value)


def test_exploration_zeta_is_refused_with_the_expected_target() -> None:
    with pytest.raises(ValueError, match=r"exploration_zeta applies to target='sarsa' only \(got target='expected'\)"):
        SARSA("MlpPolicy", "CartPole-v1", target="expected", exploration_zeta=2.0)


def test_exploration_zeta_is_saved(tmp_path: Any) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", exploration_zeta=2.5, policy_kwargs=dict(net_arch=[8]))
    model.save(tmp_path / "model.zip")
    assert SARSA.load(tmp_path / "model.zip").exploration_zeta == 2.5
