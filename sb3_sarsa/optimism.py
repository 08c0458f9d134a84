"""
Optimism that fades with experience, for discrete observation spaces.

A network that has only seen falls learns low values everywhere, for the states it never visited too,
so no untried action looks better than a tried one and a greedy agent never goes to find the goal
(tabular SARSA with zero initial values does, because an untried action keeps its 0). Following
Rashid, Peng, Böhmer & Whiteson (2020), "Optimistic Exploration even with a Pessimistic Initialisation"
(OPIQ), SARSA counts the visits ``N(s, a)`` of each state-action pair and adds a bonus
``C / (N(s, a) + 1) ** 2``:

- to the Q-values the behaviour policy takes its greedy action from (``C = action_scale``), so
  untried actions are tried;
- to ``Q_target(s', a')`` in the TD target (``C = bootstrap_scale``), so the values of states that
  lead to little-visited pairs rise and draw the agent there.

Both bonuses vanish as the counts grow, so the fixed point is SARSA's: the value of the epsilon-greedy
policy. Counts are exact only for a :class:`gymnasium.spaces.Discrete` observation space, the only one
on which this applies.
"""

import numpy as np
import torch as th
from gymnasium import spaces

#: ``optimism="auto"``: these scales on a discrete observation space, no optimism on any other.
AUTO_SCALES = (100.0, 10.0)
#: The exponent of the count in the bonus (OPIQ's M).
POWER = 2


def count_bonus(counts: th.Tensor, scale: float) -> th.Tensor:
    """
    The optimistic bonus ``scale / (counts + 1) ** 2``.

    :param counts: visit counts, any shape
    :param scale: the bonus of a pair never visited
    :return: the bonus, same shape as ``counts``
    """
    return scale / (counts.to(th.float32) + 1.0) ** POWER


def check_optimism(optimism: tuple[float, float] | str | None, observation_space: spaces.Space) -> tuple[float, float] | None:
    """
    Resolve and validate the ``optimism`` parameter of :class:`sb3_sarsa.SARSA`.

    :param optimism: ``"auto"`` (:data:`AUTO_SCALES` on a discrete observation space, else none), ``None``
        (none) or ``(action_scale, bootstrap_scale)``, two numbers >= 0
    :param observation_space: the model's observation space
    :return: the two scales, or ``None`` for no optimism
    :raises ValueError: naming what is wrong
    """
    discrete = isinstance(observation_space, spaces.Discrete)
    if optimism is None:
        return None
    if isinstance(optimism, str):
        if optimism != "auto":
            raise ValueError(f"optimism must be 'auto', None or (action_scale, bootstrap_scale), got {optimism!r}.")
        return AUTO_SCALES if discrete else None
    scales = tuple(optimism) if isinstance(optimism, (tuple, list)) else ()
    if len(scales) != 2 or any(
        isinstance(scale, bool) or not isinstance(scale, (int, float)) or not np.isfinite(scale) or scale < 0
        for scale in scales
    ):
        raise ValueError(f"optimism must be two numbers >= 0, (action_scale, bootstrap_scale), got {optimism!r}.")
    if not discrete:
        raise ValueError(
            f"optimism={optimism!r} needs a Discrete observation space (it counts visits of each state), "
            f"got {observation_space}. Use optimism=None."
        )
    return float(scales[0]), float(scales[1])


class VisitCounts:
    """
    Visit counts ``N(s, a)`` of a discrete observation space and their bonuses.

    :param n_states: number of observations
    :param n_actions: number of actions
    :param action_scale: bonus of an untried pair in action selection
    :param bootstrap_scale: bonus of an untried pair in the TD target
    """

    def __init__(self, n_states: int, n_actions: int, action_scale: float, bootstrap_scale: float) -> None:
        self.counts = np.zeros((n_states, n_actions), dtype=np.int64)
        self.action_scale = action_scale
        self.bootstrap_scale = bootstrap_scale

    def add(self, states: np.ndarray, actions: np.ndarray) -> None:
        """Count one visit of each ``(states[i], actions[i])`` (a pair may repeat)."""
        np.add.at(self.counts, (np.asarray(states).reshape(-1).astype(np.int64), np.asarray(actions).reshape(-1)), 1)

    def action_bonus(self, states: np.ndarray) -> np.ndarray:
        """:return: the bonus of every action of each state, shape ``(len(states), n_actions)``"""
        rows = self.counts[np.asarray(states).reshape(-1).astype(np.int64)]
        return count_bonus(th.as_tensor(rows), self.action_scale).numpy()

    def bootstrap_bonus(self, states: th.Tensor) -> th.Tensor:
        """:return: the bonus of every action of each state, shape ``(len(states), n_actions)``, on ``states``' device"""
        rows = th.as_tensor(self.counts, device=states.device)[states.long().reshape(-1)]
        return count_bonus(rows, self.bootstrap_scale)
