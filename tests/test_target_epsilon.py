"""``target_epsilon``: the epsilon of the policy whose value Expected SARSA's target takes."""

import pathlib
from typing import Any

import pytest

import sb3_sarsa.batch_targets
from sb3_sarsa import SARSA


def recorded_epsilons(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> tuple[SARSA, list[tuple[float, float]]]:
    """Train briefly; :return: the model and, per target computed, (epsilon passed, behaviour's epsilon)"""
    calls: list[tuple[float, float]] = []
    original = sb3_sarsa.batch_targets.expected_sarsa_target

    def spy(*args: Any) -> Any:
        calls.append((args[-1], model.exploration_rate))
        return original(*args)

    monkeypatch.setattr(sb3_sarsa.batch_targets, "expected_sarsa_target", spy)
    # epsilon decays from 1 to 0.5 over the whole run: the behaviour's epsilon is at least 0.5 at every update
    model = SARSA(
        "MlpPolicy",
        "CartPole-v1",
        target="expected",
        learning_starts=50,
        exploration_fraction=1.0,
        exploration_final_eps=0.5,
        seed=0,
        **kwargs,
    )
    model.learn(200)
    return model, calls


def test_by_default_the_expected_target_uses_the_behaviours_epsilon(monkeypatch: pytest.MonkeyPatch) -> None:
    model, calls = recorded_epsilons(monkeypatch)
    assert model.target_epsilon is None
    assert len(calls) == 38  # one gradient step every 4 env steps from step 52 (after learning_starts=50) to 200
    assert all(passed == behaviour >= 0.5 for passed, behaviour in calls)
    assert calls[0][0] > calls[-1][0]  # it decays with the behaviour


def test_a_fixed_target_epsilon_replaces_it(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    model, calls = recorded_epsilons(monkeypatch, target_epsilon=0.1)
    assert len(calls) == 38
    assert all(passed == 0.1 and behaviour >= 0.5 for passed, behaviour in calls)
    model.save(tmp_path / "model.zip")
    assert SARSA.load(tmp_path / "model.zip").target_epsilon == 0.1


def test_target_epsilon_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"target_epsilon applies to target='expected' only \(got target='sarsa'\)"):
        SARSA("MlpPolicy", "CartPole-v1", target_epsilon=0.1)
    for value in (-0.1, 1.5, True, "0.1"):
        with pytest.raises(ValueError, match=r"target_epsilon must be None \(the behaviour's epsilon\) or in \[0, 1\]"):
            SARSA("MlpPolicy", "CartPole-v1", target="expected", target_epsilon=value)  # type: ignore[arg-type]
    assert SARSA("MlpPolicy", "CartPole-v1", target="expected", target_epsilon=0).target_epsilon == 0.0
