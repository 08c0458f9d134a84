"""
The behaviour policy while collecting, checked exactly: every row (each env's next action and each
truncated env's ``a'`` at its terminal observation) tosses its own exploration coin with the
behaviour's epsilon, and ``learn`` with a reset draws the first action from the reset observation.

A random action is made recognisable: the action space's ``sample`` returns ``-1``, which no greedy
choice can be. No gradient step runs (``gradient_steps=0``), so the network is fixed.
"""

from typing import Any

import numpy as np
import pytest

from sb3_sarsa import SARSA
from tests.helpers import obs_equal, recorded_vec_env

RANDOM = -1


def collecting_model(n_envs: int, epsilon: float, time_limit: int = 3, seed: int = 0) -> tuple[SARSA, list, list]:
    env, recorders = recorded_vec_env(n_envs, time_limit=time_limit, seed=seed)
    model = SARSA(
        "MlpPolicy",
        env,
        learning_starts=0,
        gradient_steps=0,
        exploration_initial_eps=epsilon,
        exploration_final_eps=epsilon,
        buffer_size=1000,
        seed=seed,
        policy_kwargs=dict(net_arch=[8]),
    )
    model.action_space.sample = lambda *args, **kwargs: RANDOM  # type: ignore[method-assign]
    draws: list[tuple[Any, np.ndarray, list[int]]] = []
    original = model._draw_actions

    def spy(observation: Any, ended: np.ndarray | None = None, truncated: list[int] | None = None) -> np.ndarray:
        actions = original(observation, ended, truncated)
        draws.append((observation, actions.copy(), list(truncated or [])))
        return actions

    model._draw_actions = spy  # type: ignore[method-assign]
    return model, recorders, draws


def greedy(model: SARSA, observation: np.ndarray) -> np.ndarray:
    return model.predict(observation, deterministic=True)[0]


def test_the_next_action_at_a_truncation_is_drawn_with_the_behaviour_epsilon() -> None:
    model, _, draws = collecting_model(n_envs=2, epsilon=1.0)
    model.learn(60)
    terminal_rows = [actions[2:] for _, actions, truncated in draws if truncated]
    assert len(terminal_rows) >= 10
    # epsilon 1: every a' at a terminal observation is random, as every behaviour action is.
    assert all((rows == RANDOM).all() for rows in terminal_rows)
    assert all((actions == RANDOM).all() for _, actions, _ in draws)

    model, _, draws = collecting_model(n_envs=2, epsilon=0.5)
    model.learn(400)
    terminal = [
        (observation[2:], actions[2:]) for observation, actions, truncated in draws if truncated
    ]  # rows after the n_envs next-step rows
    explored = np.concatenate([actions for _, actions in terminal]) == RANDOM
    # epsilon 0.5: about half of them random, the others greedy at their terminal observation.
    assert 0.3 < explored.mean() < 0.7, explored.mean()
    for observation, actions in terminal:
        chosen = actions != RANDOM
        np.testing.assert_array_equal(actions[chosen], greedy(model, observation)[chosen])


def test_each_env_tosses_its_own_coin_while_collecting() -> None:
    model, _, draws = collecting_model(n_envs=8, epsilon=0.5)
    model.learn(400)
    next_step_rows = np.array([actions[:8] == RANDOM for _, actions, _ in draws])
    mixed = next_step_rows.any(axis=1) & ~next_step_rows.all(axis=1)
    # One coin per env: most draws mix random and greedy rows (a shared coin never would).
    assert mixed.mean() > 0.9, mixed.mean()
    assert 0.4 < next_step_rows.mean() < 0.6, next_step_rows.mean()


@pytest.mark.parametrize("n_envs", [1, 3])
def test_learn_with_a_reset_draws_the_first_action_from_the_reset_observation(n_envs: int) -> None:
    model, recorders, draws = collecting_model(n_envs=n_envs, epsilon=0.0, time_limit=50)
    model.learn(7)
    steps_before = [len(recorder.steps) for recorder in recorders]
    draws_before = len(draws)
    model.learn(5, reset_num_timesteps=True)
    reset_observation, first_actions, _ = draws[draws_before]
    for env, recorder in enumerate(recorders):
        first = recorder.steps[steps_before[env]]
        # The env was reset: the first step starts from the new episode's first observation ...
        assert first.obs[2] == 0 and first.obs[1] >= 1
        assert obs_equal(reset_observation[env], first.obs)
        # ... with the action drawn there (greedy: epsilon 0), not the one committed before the reset.
        assert first.action == first_actions[env] == greedy(model, reset_observation)[env]


def test_learn_without_a_reset_executes_the_committed_action() -> None:
    model, recorders, draws = collecting_model(n_envs=2, epsilon=0.0, time_limit=50)
    model.learn(7)
    assert model._next_actions is not None
    committed = model._next_actions.copy()
    steps_before = [len(recorder.steps) for recorder in recorders]
    draws_before = len(draws)
    model.learn(5, reset_num_timesteps=False)
    for env, recorder in enumerate(recorders):
        first = recorder.steps[steps_before[env]]
        assert first.action == committed[env]
        # No draw at the start: the next one is made after that first step, at its next observation.
        assert obs_equal(draws[draws_before][0][env], first.next_obs)
