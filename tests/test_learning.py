"""
A short learning check that tells SARSA from Q-learning, with a fixed seed.

The fork: at A, action 1 ends the episode with reward 0.7 and action 0 leads to B; at B,
action 0 pays 1 and action 1 pays -1. With gamma = 1 and a fixed epsilon of 0.5 (two actions),
the epsilon-greedy policy at B gets ``0.75 * 1 + 0.25 * (-1) = 0.5``. So SARSA learns
``Q(A, 0) = 0.5`` and prefers the safe exit (0.7), while Q-learning learns ``Q(A, 0) = 1``
and takes the risky branch: the tutorial's cliff-walking point in two states. A target that
bootstrapped from the greedy action, the wrong step or the wrong episode would miss 0.5.
"""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_sarsa import SARSA

AT_A, AT_B = np.array([1, 0], np.float32), np.array([0, 1], np.float32)


class Fork(gym.Env):
    observation_space = spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.at_b = False
        return AT_A, {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.at_b:
            return AT_B, (1.0 if action == 0 else -1.0), True, False, {}
        if action == 1:
            return AT_A, 0.7, True, False, {}
        self.at_b = True
        return AT_B, 0.0, False, False, {}


#: Hyperparameters of the fork experiment (also used by ``benchmarks/fork.py``): a fixed epsilon
#: of 0.5 and no discount, so the epsilon-greedy values are the ones worked out above.
FORK_PARAMS: dict[str, Any] = dict(
    learning_rate=3e-3,
    buffer_size=2000,
    learning_starts=200,
    batch_size=32,
    train_freq=1,
    target_update_interval=100,
    exploration_initial_eps=0.5,
    exploration_final_eps=0.5,
    gamma=1.0,
    policy_kwargs=dict(net_arch=[16]),
)


def learned_q_values(**kwargs: Any) -> np.ndarray:
    model = SARSA("MlpPolicy", Fork(), loss="mse", seed=0, **FORK_PARAMS, **kwargs)
    model.learn(3000)
    with th.no_grad():
        return model.q_net(th.tensor(np.stack([AT_A, AT_B]))).numpy()


@pytest.mark.parametrize("target, tolerance", [("sarsa", 0.1), ("expected", 0.02)])
def test_sarsa_learns_the_epsilon_greedy_values_and_takes_the_safe_exit(target: str, tolerance: float) -> None:
    q = learned_q_values(target=target)
    np.testing.assert_allclose(q[1], [1.0, -1.0], atol=tolerance)
    np.testing.assert_allclose(q[0], [0.5, 0.7], atol=tolerance)
    assert q[0].argmax() == 1  # Q-learning (DQN) would learn Q(A, 0) = 1 and take action 0
