"""`sb3_sarsa.evaluation.run_episodes`: start states, how episodes ended, the random actions of epsilon."""

import gymnasium as gym
import numpy as np
import pytest

from sb3_sarsa.evaluation import run_episodes


class Fixed:
    """A policy that always predicts ``action``; records what it was asked."""

    def __init__(self, action: int) -> None:
        self.action = action
        self.deterministic: list[bool] = []

    def predict(self, observation, state=None, episode_start=None, deterministic=False):  # type: ignore[no-untyped-def]
        self.deterministic.append(deterministic)
        return np.array(self.action), state


class Recorder(gym.Wrapper):
    """Keeps the actions the env received."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list[int] = []

    def step(self, action):  # type: ignore[no-untyped-def]
        self.actions.append(action)
        return self.env.step(action)


def test_terminated_and_truncated_episodes_are_told_apart() -> None:
    # CliffWalking: from the start (36), "right" (1) steps into the cliff and back to the start, -100
    # each step, never terminating.
    env = gym.make("CliffWalking-v1", max_episode_steps=7)
    found = run_episodes(Fixed(1), env, [3, 4])
    assert found.seeds == [3, 4] and found.lengths == [7, 7] and found.truncated == [True, True]
    assert found.returns == [-700.0, -700.0] and found.stuck("CliffWalking-v1") == 2
    # CartPole pushed one way falls over (terminated) well before 500 steps.
    cartpole = gym.make("CartPole-v1")
    pushed = run_episodes(Fixed(0), cartpole, [0, 1, 2])
    assert pushed.truncated == [False] * 3 and all(length < 30 for length in pushed.lengths)
    assert pushed.returns == [float(length) for length in pushed.lengths]
    # No goal, no stuck count, even for episodes at the limit.
    assert run_episodes(Fixed(0), gym.make("CartPole-v1", max_episode_steps=3), [0]).stuck("CartPole-v1") is None


class Starts(gym.Wrapper):
    """Keeps the observation of every reset."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.starts: list[np.ndarray] = []

    def reset(self, **kwargs):  # type: ignore[no-untyped-def]
        observation, info = self.env.reset(**kwargs)
        self.starts.append(observation)
        return observation, info


def test_each_seed_gives_its_start_state() -> None:
    env = Starts(gym.make("Acrobot-v1", max_episode_steps=1))
    run_episodes(Fixed(0), env, [5, 6, 5])
    expected = [gym.make("Acrobot-v1").reset(seed=seed)[0] for seed in (5, 6, 5)]
    np.testing.assert_array_equal(np.stack(env.starts), np.stack(expected))
    assert not np.array_equal(env.starts[0], env.starts[1])


def test_epsilon_replaces_actions_with_the_generators_draws() -> None:
    env = Recorder(gym.make("CartPole-v1", max_episode_steps=50))
    policy = Fixed(1)
    found = run_episodes(policy, env, [0], deterministic=False, epsilon=0.3, rng_seed=11)
    rng = np.random.default_rng(11)
    expected = []
    for _ in range(found.lengths[0]):
        expected.append(int(rng.integers(2)) if rng.random() < 0.3 else 1)
    assert env.actions == expected and 0 in expected
    assert policy.deterministic == [False] * found.lengths[0]
    # epsilon 0: the model's action every step, asked greedily by default
    env.actions.clear()
    greedy = Fixed(1)
    run_episodes(greedy, env, [0])
    assert set(env.actions) == {1} and all(greedy.deterministic)


def test_continuous_actions_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="needs a Discrete action space, got Box"):
        run_episodes(Fixed(0), gym.make("Pendulum-v1"), [0])


def test_recorded_episodes_keep_what_was_acted_on() -> None:
    env = Starts(gym.make("CartPole-v1", max_episode_steps=50))
    found = run_episodes(Fixed(1), env, [0, 1], epsilon=0.3, rng_seed=4, record=True)
    assert [len(actions) for actions in found.actions] == found.lengths
    assert [len(observations) for observations in found.observations] == found.lengths
    np.testing.assert_array_equal(np.stack([obs[0] for obs in found.observations]), np.stack(env.starts))
    assert 0 in found.actions[0] + found.actions[1]  # epsilon's draws are what is recorded
    assert run_episodes(Fixed(1), env, [0]).observations == []  # not recorded by default
