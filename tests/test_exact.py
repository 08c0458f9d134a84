"""The exact-value solver, on an MDP small enough to solve by hand, and on the cliff."""

import gymnasium as gym
import numpy as np
import pytest

from sb3_sarsa.exact import action_values, greedy_path, policy_action_values, sample_fixed_point, transition_table

# s0: action 0 pays 0 and leads to s1 or s2 (half each); action 1 pays 0.8 and ends.
# s1: action 0 pays 2 and ends, action 1 pays -2 and ends.
# s2: action 0 pays 1 and stays in s2 (forever, unless another action is taken); action 1 pays 0 and ends.
TABLE = {
    0: {0: [(0.5, 1, 0.0, False), (0.5, 2, 0.0, False)], 1: [(1.0, 0, 0.8, True)]},
    1: {0: [(1.0, 1, 2.0, True)], 1: [(1.0, 1, -2.0, True)]},
    2: {0: [(1.0, 2, 1.0, False)], 1: [(1.0, 2, 0.0, True)]},
}


def fixed_point(samples: np.ndarray, gamma: float, unseen: np.ndarray) -> np.ndarray:
    """:func:`sample_fixed_point` of samples given as rows (s, a, r, s', a', terminated)"""
    states, actions, rewards, next_states, next_actions, terminated = (samples[:, k] for k in range(6))
    return sample_fixed_point(states, actions, rewards, next_states, next_actions, terminated, gamma=gamma, unseen=unseen)


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


def test_policy_action_values_by_hand() -> None:
    # The 0.5-greedy policy of values whose greedy actions are 1, 0, 1: V(s1) = 0.75 * 2 - 0.25 * 2 = 1;
    # V(s2) = 0.25 * Q(s2, 0) = 0.25 * (1 + 0.5 V(s2)), so V(s2) = 2 / 7 and Q(s2, 0) = 8 / 7;
    # Q(s0, 0) = 0.5 * (0.5 * 1 + 0.5 * 2 / 7) = 0.25 + 1 / 14.
    q = policy_action_values(TABLE, 0.5, np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]), epsilon=0.5)
    np.testing.assert_allclose(q, [[0.25 + 1 / 14, 0.8], [2.0, -2.0], [8 / 7, 0.0]], atol=1e-9)


def test_policy_action_values_on_the_cliff() -> None:
    # The epsilon-greedy fixed point is the value of its own epsilon-greedy policy; the greedy fixed point's
    # policy (the edge), followed with epsilon 0.1, is worth -39.59 from the start, not the safe path's -16.55.
    table = transition_table(gym.make("CliffWalking-v1"))
    sarsa = action_values(table, 0.99, epsilon=0.1)
    np.testing.assert_allclose(policy_action_values(table, 0.99, sarsa, epsilon=0.1), sarsa, atol=1e-8)
    edge = policy_action_values(table, 0.99, action_values(table, 0.99), epsilon=0.1)
    assert edge[36].max() == pytest.approx(-39.585, abs=1e-3)
    with pytest.raises(ValueError, match=r"q_values has shape \(3, 2\), the table's states and actions are \(48, 4\)"):
        policy_action_values(table, 0.99, np.zeros((3, 2)), epsilon=0.1)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\], got -0.1"):
        policy_action_values(table, 0.99, sarsa, epsilon=-0.1)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\)"):
        action_values(TABLE, gamma=1.0)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        action_values(TABLE, gamma=0.5, epsilon=1.5)
    with pytest.raises(ValueError, match="has no transition table"):
        transition_table(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="no convergence within 3 sweeps"):
        action_values(TABLE, gamma=0.9, max_iterations=3)


def test_sample_fixed_point_by_hand() -> None:
    # (s, a, r, s', a', terminated); gamma 0.5; pair (2, 1) has no sample and keeps its given 4.0.
    samples = np.array(
        [
            (0, 0, 0.0, 1, 0, 0),
            (0, 0, 0.0, 1, 1, 0),  # the same (s, a) and s', the other stored a'
            (1, 0, 2.0, 1, 0, 1),  # terminated: a' does not count
            (1, 1, -2.0, 1, 1, 1),
            (2, 0, 1.0, 2, 0, 0),  # a truncation is not a termination: it bootstraps
            (2, 0, 1.0, 2, 1, 0),
        ]
    )
    unseen = np.array([[9.0, 0.8], [9.0, 9.0], [9.0, 4.0]])
    q = fixed_point(samples, gamma=0.5, unseen=unseen)
    # Q(1,0) = 2, Q(1,1) = -2, Q(0,0) = mean(0.5 * 2, 0.5 * -2) = 0,
    # Q(2,0) = mean(1 + 0.5 Q(2,0), 1 + 0.5 * 4) = 2 + 0.25 Q(2,0), so Q(2,0) = 8/3.
    np.testing.assert_allclose(q, [[0.0, 0.8], [2.0, -2.0], [8 / 3, 4.0]], atol=1e-9)
    # Only the mean over a pair's samples counts, not how often the pair was sampled.
    doubled = fixed_point(np.concatenate([samples, samples[:2]]), gamma=0.5, unseen=unseen)
    np.testing.assert_allclose(doubled, q, atol=1e-9)
    # One sample whose a' is the bad action moves the value: the stored a' decide.
    q_bad = fixed_point(np.concatenate([samples, [(0, 0, 0.0, 1, 1, 0)]]), gamma=0.5, unseen=unseen)
    assert q_bad[0, 0] == pytest.approx((1.0 - 1.0 - 1.0) / 3)


def test_sample_fixed_point_is_the_epsilon_greedy_value_when_the_samples_are_the_policy() -> None:
    # epsilon 0.5 over two actions: the greedy a' (action 0 at s1 and s2) 3 times in 4.
    exact = action_values(TABLE, gamma=0.5, epsilon=0.5)
    samples = []
    for state, actions in TABLE.items():
        for action, outcomes in actions.items():
            for probability, next_state, reward, terminated in outcomes:
                copies = int(probability * 2)  # 1 for the half-half outcomes of (s0, 0), else 2
                samples += [(state, action, reward, next_state, 0, terminated)] * 3 * copies
                samples += [(state, action, reward, next_state, 1, terminated)] * copies
    q = fixed_point(np.array(samples, dtype=float), gamma=0.5, unseen=np.full((3, 2), np.nan))
    np.testing.assert_allclose(q, exact, atol=1e-8)


def test_sample_fixed_point_names_bad_input() -> None:
    with pytest.raises(ValueError, match="one entry per sample"):
        sample_fixed_point(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(1), np.zeros(2), 0.5, np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\)"):
        fixed_point(np.zeros((1, 6)), gamma=1.0, unseen=np.zeros((1, 1)))
