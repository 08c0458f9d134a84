"""The TD-target functions against numbers worked out by hand."""

import numpy as np
import pytest
import torch as th

from sb3_sarsa.buffers import n_step_return, n_step_window
from sb3_sarsa.targets import (
    check_target,
    epsilon_greedy_actions,
    epsilon_greedy_probs,
    expected_sarsa_target,
    greedy_actions,
    next_action_agreement,
    relabelled_next_actions,
    sarsa_target,
    td_loss,
)

Q_NEXT = th.tensor([[1.0, 5.0, 3.0], [2.0, 2.0, -4.0]])
REWARDS = th.tensor([[1.0], [0.5]])


def col(*values: float) -> th.Tensor:
    return th.tensor(values).reshape(-1, 1)


def test_sarsa_target_uses_the_stored_next_action() -> None:
    # Row 0: a'=2 -> 1 + 0.9 * 3 = 3.7 (DQN's max would give 1 + 0.9 * 5 = 5.5).
    # Row 1: a'=0 -> 0.5 + 0.9 * 2 = 2.3.
    target = sarsa_target(REWARDS, col(0, 0), 0.9, Q_NEXT, th.tensor([[2], [0]]))
    assert target == pytest.approx(col(3.7, 2.3))


def test_sarsa_target_masks_terminations() -> None:
    # Row 0 terminated: the target is the reward alone, whatever a' and Q(s', a') are.
    target = sarsa_target(REWARDS, col(1, 0), 0.9, Q_NEXT, th.tensor([[1], [2]]))
    assert target == pytest.approx(col(1.0, 0.5 + 0.9 * -4.0))


def test_sarsa_target_with_n_step_discounts() -> None:
    # n-step: rewards are already discounted sums, the bootstrap uses gamma ** k per row.
    discounts = col(0.9**3, 0.9**2)
    target = sarsa_target(col(2.71, 1.9), col(0, 0), discounts, Q_NEXT, th.tensor([[1], [1]]))
    assert target == pytest.approx(col(2.71 + 0.729 * 5.0, 1.9 + 0.81 * 2.0))


def test_epsilon_greedy_probs_and_ties() -> None:
    probs = epsilon_greedy_probs(Q_NEXT, 0.3)
    # Row 0: greedy is 1. Row 1: tie between 0 and 1 goes to 0, as argmax does when acting.
    assert probs == pytest.approx(th.tensor([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1]]))
    assert greedy_actions(Q_NEXT).tolist() == [1, 0]
    assert probs.sum(dim=1) == pytest.approx(th.ones(2))


def test_expected_sarsa_target() -> None:
    # Row 0: 0.1*1 + 0.8*5 + 0.1*3 = 4.4 -> 1 + 0.9 * 4.4 = 4.96.
    # Row 1: 0.8*2 + 0.1*2 + 0.1*-4 = 1.4 -> 0.5 + 0.9 * 1.4 = 1.76.
    target = expected_sarsa_target(REWARDS, col(0, 0), 0.9, Q_NEXT, Q_NEXT, 0.3)
    assert target == pytest.approx(col(4.96, 1.76))


def test_expected_sarsa_target_done_and_separate_policy_network() -> None:
    # The greedy action comes from policy_q_values (online net), the values from next_q_values.
    policy_q = th.tensor([[9.0, 0.0, 0.0], [0.0, 0.0, 9.0]])
    # Row 0: 0.8*1 + 0.1*5 + 0.1*3 = 1.6 -> 1 + 0.5 * 1.6 = 1.8. Row 1 terminated -> 0.5.
    target = expected_sarsa_target(REWARDS, col(0, 1), 0.5, Q_NEXT, policy_q, 0.3)
    assert target == pytest.approx(col(1.8, 0.5))


def test_expected_sarsa_with_epsilon_zero_is_q_learning_and_one_is_uniform() -> None:
    greedy = expected_sarsa_target(REWARDS, col(0, 0), 1.0, Q_NEXT, Q_NEXT, 0.0)
    assert greedy == pytest.approx(REWARDS + Q_NEXT.max(dim=1, keepdim=True).values)
    uniform = expected_sarsa_target(REWARDS, col(0, 0), 1.0, Q_NEXT, Q_NEXT, 1.0)
    assert uniform == pytest.approx(REWARDS + Q_NEXT.mean(dim=1, keepdim=True))


def test_next_action_agreement_ignores_terminated_transitions() -> None:
    # Greedy: [1, 0]. Row 0 agrees, row 1 does not; row 1 terminated -> only row 0 counts.
    assert next_action_agreement(Q_NEXT, th.tensor([[1], [2]]), col(0, 0)) == pytest.approx(0.5)
    assert next_action_agreement(Q_NEXT, th.tensor([[1], [2]]), col(0, 1)) == pytest.approx(1.0)
    assert next_action_agreement(Q_NEXT, th.tensor([[1], [2]]), col(1, 1)) is None


def test_check_target_lists_the_valid_targets() -> None:
    assert check_target("expected") == "expected"
    with pytest.raises(ValueError, match=r"Unknown target 'q'.*'sarsa', 'expected'"):
        check_target("q")


def test_td_losses_by_hand() -> None:
    q, target = col(0.0, 0.0), col(0.5, -3.0)
    # mse: (0.25 + 9) / 2; huber: 0.5 * 0.5**2 for the small error, |e| - 0.5 for the large one.
    assert td_loss(q, target, "mse").item() == pytest.approx(4.625)
    assert td_loss(q, target, "huber").item() == pytest.approx((0.125 + 2.5) / 2)
    with pytest.raises(ValueError, match=r"Unknown loss 'l2'.*'huber', 'mse'"):
        td_loss(q, target, "l2")


def test_n_step_window_stops_at_episode_ends_and_the_newest_transition() -> None:
    # One env, buffer of 8. Index 2 terminated, index 5 truncated, newest written index 6.
    dones = np.array([0, 0, 1, 0, 0, 1, 0, 0], dtype=np.float32).reshape(-1, 1)
    timeouts = np.array([0, 0, 0, 0, 0, 1, 0, 0], dtype=np.float32).reshape(-1, 1)
    starts = np.array([0, 1, 2, 3, 4, 6, 7])
    indices, lengths = n_step_window(dones, timeouts, starts, np.zeros(7, dtype=int), 3, last_written=6)
    # 0 -> 0,1,2 (ends at the termination); 1 -> 1,2; 2 -> 2; 3 -> 3,4,5 (truncation at 5);
    # 4 -> 4,5; 6 -> 6 (newest); 7 (old data before the wrap) -> 7,0,1 (full window).
    assert lengths.tolist() == [3, 2, 1, 3, 2, 1, 3]
    assert indices[6].tolist() == [7, 0, 1]


def test_n_step_return_by_hand() -> None:
    rewards = np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]], dtype=np.float32)
    returns, discounts = n_step_return(rewards, np.array([3, 2]), 0.5)
    # 1 + 0.5*2 + 0.25*4 = 3 with bootstrap 0.125; 1 + 0.5*2 = 2 with bootstrap 0.25.
    assert returns.ravel().tolist() == pytest.approx([3.0, 2.0])
    assert discounts.ravel().tolist() == pytest.approx([0.125, 0.25])


def test_epsilon_greedy_actions_from_given_coins() -> None:
    q_values = th.tensor([[1.0, 3.0, 2.0], [5.0, 0.0, 5.0], [0.0, 1.0, 2.0]])
    coins = th.tensor([0.5, 0.05, 0.09])
    random_actions = th.tensor([0, 1, 0])
    # epsilon 0.1: rows 2 and 3 explore (coin < 0.1), row 1 is greedy (action 1).
    assert epsilon_greedy_actions(q_values, 0.1, coins, random_actions).tolist() == [[1], [1], [0]]
    # epsilon 0: every row greedy, ties to the lowest index (row 2: action 0).
    assert epsilon_greedy_actions(q_values, 0.0, coins, random_actions).tolist() == [[1], [0], [2]]


def test_relabelled_next_actions_replace_only_relabelled_rows() -> None:
    stored = th.tensor([[0], [1], [2], [3]])
    relabelled = th.tensor([[False], [True], [False], [True]])
    drawn = th.tensor([[3], [3], [3], [0]])
    assert relabelled_next_actions(stored, relabelled, drawn).tolist() == [[0], [3], [2], [0]]
