"""The exact-value solver, on an MDP small enough to solve by hand, and on the cliff."""

import gymnasium as gym
import numpy as np
import pytest

from sb3_sarsa.exact import action_values, greedy_path, transition_table

# s0: action 0 pays 0 and leads to s1 or s2 (half each); action 1 pays 0.8 and ends.
# s1: action 0 pays 2 and ends, action 1 pays -2 and ends.
# s2: action 0 pays 1 and stays in s2 (forever, unless another action is taken); action 1 pays 0 and ends.
TABLE = {
    0: {0: [(0.5, 1, 0.0, False), (0.5, 2, 0.0, False)], 1: [(1.0, 0, 0.8, True)]},
    1: {0: [(1.0, 1, 2.0, True)], 1: [(1.0, 1, -2.0, True)]},
    2: {0: [(1.0, 2, 1.0, False)], 1: [(1.0, 2, 0.0, True)]},
}


def test_greedy_backup_by_hand() -> None:
    # gamma 0.5: V(s2) = 1 + 0.5 V(s2) = 2, V(s1) = 2, Q(s0, 0) = 0.5 * (0.5 * 2 + 0.5 * 2) = 1.
    q = action_values(TABLE, gamma=0.5)
    np.testing.assert_allclose(q, [[1.0, 0.8], [2.0, -2.0], [2.0, 0.0]], atol=1e-9)
    assert greedy_path(TABLE, q, start=0, max_steps=10) == ([0, 1, 1], True)


def test_epsilon_greedy_backup_by_hand() -> None:
    # epsilon 0.5, two actions: V(s) = 0.75 max_a Q + 0.25 min_a Q.
    # V(s1) = 0.75 * 2 - 0.25 * 2 = 1; Q(s2, 0) = 1 + 0.5 * 0.75 * Q(s2, 0), so Q(s2, 0) = 1.6 and
    # V(s2) = 1.2; Q(s0, 0) = 0.5 * (0.5 * 1 + 0.5 * 1.2) = 0.55 < 0.8: the safe exit wins.
    q = action_values(TABLE, gamma=0.5, epsilon=0.5)
    np.testing.assert_allclose(q, [[0.55, 0.8], [2.0, -2.0], [1.6, 0.0]], atol=1e-9)
    assert greedy_path(TABLE, q, start=0, max_steps=10) == ([0, 0], True)
    # epsilon 0 is the greedy backup, epsilon 1 evaluates the uniform policy.
    np.testing.assert_allclose(action_values(TABLE, 0.5, epsilon=0.0), action_values(TABLE, 0.5), atol=1e-12)
    assert action_values(TABLE, 0.5, epsilon=1.0)[1].tolist() == [2.0, -2.0]


def test_a_path_that_loops_stops_at_max_steps() -> None:
    q = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    q_loop = q.copy()
    q_loop[0] = [0.0, 1.0]
    assert greedy_path(TABLE, q_loop, 0, 5) == ([0, 0], True)
    assert greedy_path(TABLE, q, 2, 4) == ([2, 2, 2, 2, 2], False)


def test_cliff_walking_fixed_points() -> None:
    # Sutton & Barto's Example 6.6 at gamma 0.99, epsilon 0.1: the epsilon-greedy values choose
    # the 15-step path two rows above the cliff, the greedy ones the 13-step path along its edge.
    table = transition_table(gym.make("CliffWalking-v1"))
    sarsa = action_values(table, 0.99, epsilon=0.1)
    greedy = action_values(table, 0.99)
    assert sarsa[36].max() == pytest.approx(-16.5487, abs=1e-4)
    assert greedy[36].max() == pytest.approx(-(1 - 0.99**13) / (1 - 0.99), abs=1e-9)  # 13 steps of -1
    assert greedy_path(table, sarsa, 36, 100) == ([36, 24, 12, *range(13, 24), 35, 47], True)
    assert greedy_path(table, greedy, 36, 100) == ([36, 24, *range(25, 36), 47], True)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\)"):
        action_values(TABLE, gamma=1.0)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        action_values(TABLE, gamma=0.5, epsilon=1.5)
    with pytest.raises(ValueError, match="has no transition table"):
        transition_table(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="no convergence within 3 sweeps"):
        action_values(TABLE, gamma=0.9, max_iterations=3)
