"""
The replay buffer holds the trajectory that was really executed, and a' is the next action.

CounterEnv makes every observation unique, a Recorder outside the time limit logs every
executed step, and a spy on ``SARSA._draw_actions`` logs the a' drawn at truncations.
"""

from typing import Any

import numpy as np
import pytest

from sb3_sarsa import SARSA
from tests.helpers import obs_equal, recorded_vec_env, stored_obs


def run(n_envs: int, n_steps_total: int, dict_obs: bool = False, **kwargs: Any) -> tuple[SARSA, list, list]:
    env, recorders = recorded_vec_env(n_envs, dict_obs=dict_obs)
    params: dict[str, Any] = dict(
        learning_starts=40,
        buffer_size=10_000,
        batch_size=16,
        train_freq=4,
        target_update_interval=50,
        exploration_fraction=0.5,
        exploration_final_eps=0.3,
        seed=3,
        policy_kwargs=dict(net_arch=[16]),
    )
    params.update(kwargs)
    model = SARSA("MultiInputPolicy" if dict_obs else "MlpPolicy", env, **params)
    draws: list[tuple[Any, np.ndarray]] = []
    original = model._draw_actions

    def spy(observation: Any, ended: np.ndarray | None = None, truncated: list[int] | None = None) -> np.ndarray:
        actions = original(observation, ended, truncated)
        draws.append((observation, actions.copy()))
        return actions

    model._draw_actions = spy  # type: ignore[method-assign]
    model.learn(n_steps_total)
    return model, recorders, draws


def check_buffer_against_trajectory(model: SARSA, recorders: list, draws: list) -> dict[str, int]:
    buffer = model.replay_buffer
    optimize = buffer.optimize_memory_usage  # s' is the next stored observation, truncations end targets
    n_envs = len(recorders)
    n_stored = buffer.pos
    counts = {"truncated": 0, "terminated": 0, "within": 0}
    # draws[0] is the first action of each env (reset); draws[p + 1] is made after vec step p.
    assert len(draws) == n_stored + 1
    for env_idx, recorder in enumerate(recorders):
        steps = recorder.steps
        assert len(steps) == n_stored
        for p, step in enumerate(steps):
            assert obs_equal(stored_obs(buffer.observations, p, env_idx), step.obs)
            assert buffer.actions[p, env_idx, 0] == step.action
            assert buffer.rewards[p, env_idx] == step.reward
            ended = step.terminated or step.truncated
            if not optimize:
                assert obs_equal(stored_obs(buffer.next_observations, p, env_idx), step.next_obs)
            elif not ended or p + 1 == n_stored:  # after an end, the reset observation overwrote s'
                assert obs_equal(stored_obs(buffer.observations, p + 1, env_idx), step.next_obs)
            assert buffer.dones[p, env_idx] == float(ended)
            assert buffer.timeouts[p, env_idx] == float(step.truncated and not step.terminated and not optimize)
            next_action = buffer.next_actions[p, env_idx, 0]
            if step.truncated and not step.terminated:
                # a' drawn at the terminal observation, in the same draw as the next step's actions.
                observation, actions = draws[p + 1]
                truncated_envs = [
                    e for e in range(n_envs) if recorders[e].steps[p].truncated and not recorders[e].steps[p].terminated
                ]
                row = n_envs + truncated_envs.index(env_idx)
                assert obs_equal(stored_obs_row(observation, row), step.next_obs)
                assert next_action == actions[row]
                counts["truncated"] += 1
            elif p + 1 < n_stored:
                # The action really executed next in this env (after a termination: the first
                # action of the next episode, which the (1 - done) mask ignores).
                assert next_action == steps[p + 1].action
                counts["terminated" if step.terminated else "within"] += 1
            else:
                # The newest transition: a' is the action committed for the next step.
                assert model._next_actions is not None
                assert next_action == model._next_actions[env_idx]
    return counts


def stored_obs_row(observation: Any, row: int) -> Any:
    if isinstance(observation, dict):
        return {key: value[row] for key, value in observation.items()}
    return observation[row]


@pytest.mark.parametrize("n_envs", [1, 4])
def test_buffer_matches_the_executed_trajectory(n_envs: int) -> None:
    model, recorders, draws = run(n_envs, 600 * n_envs)
    counts = check_buffer_against_trajectory(model, recorders, draws)
    # The run really went through terminations and truncations, in every env.
    assert counts["truncated"] >= 10 * n_envs
    assert counts["terminated"] >= 10 * n_envs
    assert model._n_updates > 0


@pytest.mark.parametrize("n_envs", [1, 3])
def test_buffer_matches_the_executed_trajectory_memory_optimized(n_envs: int) -> None:
    model, recorders, draws = run(
        n_envs, 500 * n_envs, optimize_memory_usage=True, replay_buffer_kwargs=dict(handle_timeout_termination=False)
    )
    assert not hasattr(model.replay_buffer, "next_observations")
    counts = check_buffer_against_trajectory(model, recorders, draws)
    assert counts["truncated"] >= 5 * n_envs and counts["terminated"] >= 5 * n_envs


def test_buffer_matches_the_executed_trajectory_with_dict_observations() -> None:
    model, recorders, draws = run(2, 400, dict_obs=True)
    counts = check_buffer_against_trajectory(model, recorders, draws)
    assert counts["truncated"] > 0 and counts["terminated"] > 0


def test_warm_up_actions_are_uniform_and_not_from_the_network() -> None:
    model, _, draws = run(2, 200, learning_starts=10_000)
    actions = np.concatenate([actions for _, actions in draws])
    assert set(actions.tolist()) == {0, 1, 2}
    assert model._n_updates == 0


def test_each_env_draws_its_own_exploration_coin() -> None:
    """With epsilon 0.5 and one batched draw, about half the rows are greedy (DQN: all or none)."""
    env, _ = recorded_vec_env(1)
    model = SARSA("MlpPolicy", env, learning_starts=0, seed=0, policy_kwargs=dict(net_arch=[8]))
    observations = np.zeros((3000, 3), dtype=np.float32)
    greedy, _ = model.predict(observations, deterministic=True)
    assert len(set(greedy.tolist())) == 1  # the same observation: one greedy action
    model.exploration_rate = 0.5
    actions, _ = model.predict(observations)
    share_greedy = float(np.mean(actions == greedy))
    # 0.5 greedy + 0.5 * 1/3 random hits on the greedy action = 2/3.
    assert 0.62 < share_greedy < 0.71


def count_forwards(model: SARSA) -> list[int]:
    calls = [0]
    model.q_net.register_forward_hook(lambda *args: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("n_envs", [1, 4])
def test_one_batched_forward_per_env_step(n_envs: int) -> None:
    """Greedy everywhere (epsilon 0), no training: exactly one Q-network forward per vec step
    plus the first draw, truncation rows included in the same forward."""
    env, recorders = recorded_vec_env(n_envs)
    model = SARSA(
        "MlpPolicy",
        env,
        learning_starts=0,
        gradient_steps=0,
        exploration_initial_eps=0.0,
        exploration_final_eps=0.0,
        policy_kwargs=dict(net_arch=[8]),
    )
    calls = count_forwards(model)
    model.learn(200 * n_envs)
    vec_steps = model.num_timesteps // n_envs
    assert calls[0] == vec_steps + 1
    assert sum(s.truncated for r in recorders for s in r.steps) > 0
