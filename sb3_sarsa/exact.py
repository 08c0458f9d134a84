"""
Exact action values of small MDPs, by dynamic programming, to check what SARSA learns.

Gymnasium's toy-text envs (``CliffWalking-v1``, ``FrozenLake-v1``, ``Taxi-v3``) expose their
transition table as ``env.unwrapped.P``: ``P[s][a]`` is a list of
``(probability, next_state, reward, terminated)``. From it, :func:`action_values` computes the
fixed point of one of two backups:

- ``epsilon=None``: Q-learning's (DQN's), ``Q(s,a) = E[r + gamma * (1 - term) * max_a' Q(s',a')]``,
  the value of the greedy policy;
- ``epsilon=e``: SARSA's and Expected SARSA's, the same with ``max`` replaced by the average under
  the epsilon-greedy policy in ``Q`` itself, ``(1 - e) * max_a' Q(s',a') + e * mean_a' Q(s',a')``:
  the value of the epsilon-greedy policy that acts (its greedy action is the argmax of the values
  it is the value of).

Both backups are ``gamma``-contractions (a convex combination of ``max`` and ``mean``), so the
iteration converges to a unique fixed point from any start. A time limit is not part of the
table: at a truncation SB3 (and so SARSA) bootstraps, which learns these infinite-horizon values.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: ``P[s][a]``: the ``(probability, next_state, reward, terminated)`` outcomes of action ``a`` at ``s``.
TransitionTable = Mapping[int, Mapping[int, Sequence[tuple[float, int, float, bool]]]]


def transition_table(env: Any) -> TransitionTable:
    """
    :param env: a Gymnasium env (wrappers are looked through) whose ``unwrapped`` has a ``P`` table
    :return: ``env.unwrapped.P``
    :raises ValueError: if the env has no transition table
    """
    table = getattr(getattr(env, "unwrapped", env), "P", None)
    if not isinstance(table, Mapping):
        raise ValueError(f"{env} has no transition table env.unwrapped.P: exact values need a tabular env.")
    return table


def _arrays(table: TransitionTable) -> tuple[np.ndarray, np.ndarray]:
    """:return: expected rewards ``r[s, a]`` and ``continues[s, a, s']``, the probability of reaching ``s'`` unterminated"""
    n_states = len(table)
    n_actions = len(table[0])
    continues = np.zeros((n_states, n_actions, n_states))
    rewards = np.zeros((n_states, n_actions))
    for state in range(n_states):
        if len(table[state]) != n_actions:
            raise ValueError(f"state {state} has {len(table[state])} actions, state 0 has {n_actions}.")
        for action in range(n_actions):
            for prob, next_state, reward, terminated in table[state][action]:
                rewards[state, action] += prob * reward
                if not terminated:
                    continues[state, action, int(next_state)] += prob
    return rewards, continues


def _iterate(
    backup: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...], tolerance: float, max_iterations: int
) -> np.ndarray:
    """:return: the fixed point of ``backup``, iterated from zeros of ``shape`` until no value changes by more than
    ``tolerance``; :raises ValueError: without convergence within ``max_iterations`` sweeps"""
    q_values = np.zeros(shape)
    change = float("inf")
    for _ in range(max_iterations):
        updated = backup(q_values)
        change = float(np.abs(updated - q_values).max())
        q_values = updated
        if change <= tolerance:
            return q_values
    raise ValueError(f"no convergence within {max_iterations} sweeps (last change {change}).")


def next_state_values(q_values: np.ndarray, epsilon: float | None) -> np.ndarray:
    """
    Value of each state under the policy that the backup evaluates.

    :param q_values: shape ``(n_states, n_actions)``
    :param epsilon: ``None`` for the greedy policy (``max``), else the epsilon of an epsilon-greedy policy
    :return: shape ``(n_states,)``
    """
    best = q_values.max(axis=1)
    if epsilon is None:
        return best
    return (1.0 - epsilon) * best + epsilon * q_values.mean(axis=1)


def action_values(
    table: TransitionTable,
    gamma: float,
    epsilon: float | None = None,
    tolerance: float = 1e-10,
    max_iterations: int = 1_000_000,
) -> np.ndarray:
    """
    The fixed point of the Q-learning backup (``epsilon=None``) or of the epsilon-greedy backup.

    :param table: ``P[s][a]`` as in Gymnasium's toy-text envs (see :func:`transition_table`)
    :param gamma: discount factor, in ``[0, 1)``
    :param epsilon: ``None`` for Q-learning's fixed point, else the epsilon in ``[0, 1]`` of the
        epsilon-greedy policy (SARSA's and Expected SARSA's fixed point)
    :param tolerance: stop when no value changes by more than this
    :param max_iterations: give up after this many sweeps
    :return: ``Q[s, a]``, shape ``(n_states, n_actions)``
    :raises ValueError: on a ``gamma`` or ``epsilon`` out of range, or no convergence
    """
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1) for the iteration to converge, got {gamma}.")
    if epsilon is not None and not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1] (or None for the greedy backup), got {epsilon}.")
    rewards, continues = _arrays(table)
    return _iterate(
        lambda q: rewards + gamma * continues @ next_state_values(q, epsilon), rewards.shape, tolerance, max_iterations
    )


def policy_action_values(
    table: TransitionTable,
    gamma: float,
    q_values: np.ndarray,
    epsilon: float,
    tolerance: float = 1e-10,
    max_iterations: int = 1_000_000,
) -> np.ndarray:
    """
    What the epsilon-greedy policy of ``q_values`` is really worth: the action values of that fixed policy
    (its greedy action the argmax of ``q_values``, ties to the lowest action, as SARSA acts), by iterative
    policy evaluation. A trained network's ``q_values`` are its estimate of exactly this; the difference is
    its error about its own policy. For the fixed point of :func:`action_values` with the same ``epsilon``,
    the two agree.

    :param table: ``P[s][a]``
    :param gamma: discount factor, in ``[0, 1)``
    :param q_values: the values that define the policy, shape ``(n_states, n_actions)``
    :param epsilon: the policy's epsilon, in ``[0, 1]``
    :param tolerance: stop when no value changes by more than this
    :param max_iterations: give up after this many sweeps
    :return: ``Q_pi[s, a]``, shape ``(n_states, n_actions)``
    :raises ValueError: on a ``gamma`` or ``epsilon`` out of range, values of another shape than the table's, or
        no convergence
    """
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1) for the iteration to converge, got {gamma}.")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}.")
    rewards, continues = _arrays(table)
    if np.shape(q_values) != rewards.shape:
        raise ValueError(f"q_values has shape {np.shape(q_values)}, the table's states and actions are {rewards.shape}.")
    n_states, n_actions = rewards.shape
    policy = np.full((n_states, n_actions), epsilon / n_actions)
    policy[np.arange(n_states), np.argmax(q_values, axis=1)] += 1.0 - epsilon
    return _iterate(lambda q: rewards + gamma * continues @ (policy * q).sum(axis=1), rewards.shape, tolerance, max_iterations)


def greedy_path(table: TransitionTable, q_values: np.ndarray, start: int, max_steps: int) -> tuple[list[int], bool]:
    """
    Follow the greedy policy of ``q_values`` (ties to the lowest action, as SARSA acts) through
    the most likely outcome of each action.

    :param table: ``P[s][a]``
    :param q_values: shape ``(n_states, n_actions)``, e.g. a trained network's values of every state
    :param start: the first state
    :param max_steps: the longest path to follow (a path that loops stops there)
    :return: the visited states (``start`` first) and whether the walk terminated
    """
    path = [start]
    state = start
    for _ in range(max_steps):
        outcomes = table[state][int(np.argmax(q_values[state]))]
        _, next_state, _, terminated = max(outcomes, key=lambda outcome: outcome[0])
        state = int(next_state)
        path.append(state)
        if terminated:
            return path, True
    return path, False


def sample_fixed_point(
    states: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    next_states: np.ndarray,
    next_actions: np.ndarray,
    terminated: np.ndarray,
    gamma: float,
    unseen: np.ndarray,
    tolerance: float = 1e-10,
    max_iterations: int = 1_000_000,
) -> np.ndarray:
    """
    The values that SARSA's target estimates from a fixed set of transitions, with a table
    instead of a network: ``Q(s,a) = mean over the samples of (s,a) of r + gamma * (1 - term) * Q(s',a')``,
    with each sample's stored ``a'``.

    Applied to a replay buffer, it separates what the samples say from what the network makes of
    them: where this differs from :func:`action_values`, the difference is in the buffer (which
    ``a'`` it happens to hold), not in the function approximation.

    :param states: ``s`` of each sample, integers, shape ``(n,)``
    :param actions: ``a``, shape ``(n,)``
    :param rewards: ``r``, shape ``(n,)``
    :param next_states: ``s'``, shape ``(n,)``
    :param next_actions: the stored ``a'``, shape ``(n,)``
    :param terminated: 1 where the episode terminated at ``s'`` (no bootstrap; a truncation is not a
        termination), shape ``(n,)``
    :param gamma: discount factor, in ``[0, 1)``
    :param unseen: ``Q[s, a]`` for the pairs without a sample (e.g. :func:`action_values`); its shape,
        ``(n_states, n_actions)``, is the result's
    :param tolerance: stop when no value changes by more than this
    :param max_iterations: give up after this many sweeps
    :return: ``Q[s, a]``: the fixed point on the sampled pairs, ``unseen`` elsewhere
    :raises ValueError: on a ``gamma`` out of range, arrays of different lengths, or no convergence
    """
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1) for the iteration to converge, got {gamma}.")
    columns = [np.asarray(column).reshape(-1) for column in (states, actions, rewards, next_states, next_actions, terminated)]
    if len({len(column) for column in columns}) != 1:
        raise ValueError(f"every array needs one entry per sample, got lengths {[len(column) for column in columns]}.")
    state, action, reward, next_state, next_action, done = columns
    state, action, next_state, next_action = (column.astype(np.int64) for column in (state, action, next_state, next_action))
    reward = reward.astype(np.float64)
    bootstraps = done.astype(np.float64) == 0.0
    counts = np.zeros(np.shape(unseen), dtype=np.float64)
    np.add.at(counts, (state, action), 1.0)
    seen = counts > 0
    q_values = np.where(seen, 0.0, np.asarray(unseen, dtype=np.float64))
    for _ in range(max_iterations):
        sums = np.zeros_like(q_values)
        next_values = np.where(bootstraps, q_values[next_state, next_action], 0.0)  # a' after a termination: unused
        np.add.at(sums, (state, action), reward + gamma * next_values)
        updated = np.where(seen, sums / np.maximum(counts, 1.0), q_values)
        change = float(np.abs(updated - q_values)[seen].max(initial=0.0))
        q_values = updated
        if change <= tolerance:
            return q_values
    raise ValueError(f"no convergence within {max_iterations} sweeps (last change {change}).")
