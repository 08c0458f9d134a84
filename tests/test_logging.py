"""
What SARSA logs: everything DQN logs, plus ``train/q_mean`` and ``train/next_action_agreement``,
and what the agreement costs (one online forward per ``AGREEMENT_INTERVAL`` updates for SARSA).
"""

import csv
import math
import pathlib
from typing import Any

import pytest
from stable_baselines3.common.logger import configure

from sb3_sarsa import SARSA

PARAMS: dict[str, Any] = dict(
    learning_starts=50,
    buffer_size=1000,
    batch_size=16,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=50,
    seed=0,
    policy_kwargs=dict(net_arch=[16]),
)


def count_online_forwards(model: SARSA) -> list[int]:
    calls = [0]
    original = model._online_q_values

    def counted(observations: Any) -> Any:
        calls[0] += 1
        return original(observations)

    model._online_q_values = counted  # type: ignore[method-assign]
    return calls


def test_logs_what_dqn_logs_plus_q_mean_and_next_action_agreement(tmp_path: pathlib.Path) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", **PARAMS)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(600, log_interval=1)
    with open(tmp_path / "progress.csv") as file:
        rows = list(csv.DictReader(file))
    assert rows
    for key in (
        "rollout/exploration_rate",
        "rollout/ep_rew_mean",
        "train/loss",
        "train/learning_rate",
        "train/n_updates",
        "train/q_mean",
        "train/next_action_agreement",
    ):
        assert key in rows[0], key
    agreements = [float(row["train/next_action_agreement"]) for row in rows if row["train/next_action_agreement"]]
    q_means = [float(row["train/q_mean"]) for row in rows if row["train/q_mean"]]
    assert agreements and all(0.0 <= value <= 1.0 for value in agreements)
    assert q_means and all(math.isfinite(value) for value in q_means)


@pytest.mark.parametrize("gradient_steps", [1, 3])
def test_sarsa_measures_agreement_once_per_interval(gradient_steps: int) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", **{**PARAMS, "gradient_steps": gradient_steps})
    calls = count_online_forwards(model)
    model.learn(50 + 400)
    updates = model._n_updates
    assert updates == 400 * gradient_steps
    # Measured on the first train() call, then on the first call that completes
    # AGREEMENT_INTERVAL more updates: with 1 update per call at updates 1, 101, 201, 301.
    expected, last = 0, None
    for done in range(gradient_steps, updates + 1, gradient_steps):
        if last is None or done - last >= SARSA.AGREEMENT_INTERVAL:
            expected, last = expected + 1, done
    assert calls[0] == expected
    assert expected == {1: 4, 3: 12}[gradient_steps]


def test_expected_sarsa_needs_the_online_forward_on_every_batch() -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", target="expected", **PARAMS)
    calls = count_online_forwards(model)
    model.learn(50 + 200)
    assert calls[0] == model._n_updates == 200
