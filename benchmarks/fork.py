"""
The two-state fork of ``tests/test_learning.py``: what each target and loss learns.

    python -m benchmarks.fork [--seeds 5] [--steps 3000]

At A, action 1 exits with 0.7 and action 0 leads to B, where action 0 pays 1 and action 1 pays
-1. With gamma 1 and a fixed epsilon of 0.5, the epsilon-greedy value of the risky branch is
``Q(A, 0) = 0.75 * 1 + 0.25 * (-1) = 0.5`` (SARSA's answer, so it exits) and the greedy value is
1 (Q-learning's answer, so DQN takes the risk). With sampled ``a'`` the targets are 1 or -1, and
Huber's clipped gradient settles where ``0.75 * (1 - q) = 0.25 * 1``, i.e. ``q = 2/3``; MSE
settles at their mean, 0.5. Prints the learned ``Q(A, 0)`` and the greedy action at A per seed.
"""

import argparse

import numpy as np
import torch as th
from stable_baselines3 import DQN

from benchmarks.common import machine, versions
from sb3_sarsa import SARSA
from tests.test_learning import AT_A, FORK_PARAMS, Fork

SETTINGS = {
    "SARSA, mse": (SARSA, {"loss": "mse"}),
    "SARSA, huber": (SARSA, {"loss": "huber"}),
    "Expected SARSA, mse": (SARSA, {"loss": "mse", "target": "expected"}),
    "DQN (huber)": (DQN, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    print(f"{machine()}. {versions()}", flush=True)
    for name, (model_class, extra) in SETTINGS.items():
        values, exits = [], 0
        for seed in range(args.seeds):
            model = model_class("MlpPolicy", Fork(), seed=seed, **FORK_PARAMS, **extra).learn(args.steps)
            with th.no_grad():
                q = model.q_net(th.tensor(AT_A[None])).numpy()[0]
            values.append(float(q[0]))
            exits += int(q.argmax() == 1)
        print(
            f"{name:20} Q(A, risky) per seed {[round(v, 3) for v in values]}, mean {np.mean(values):.3f}; "
            f"takes the safe exit in {exits}/{args.seeds} seeds"
        )


if __name__ == "__main__":
    main()
