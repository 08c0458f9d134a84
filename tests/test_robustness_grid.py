"""The robustness grid's queue: an Optuna study of enqueued trials that resumes after a killed worker."""

import pathlib
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from benchmarks import robustness


def fake_run(variant: str, cell: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        "variant": variant,
        "cell": cell,
        "seed": seed,
        "online_last": float(seed),
        "reached_goal": True,
        "path_kind": "safe",
        "q_start": -16.0,
        "value_error": 0.1,
    }


def test_the_queue_runs_every_cell_once_and_requeues_a_killed_trial(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = str(tmp_path / "grid.log")
    monkeypatch.setattr(robustness, "run_one", fake_run)
    study = optuna.create_study(study_name=robustness.study_name("sarsa"), storage=robustness.storage_of(spec))
    assert robustness.prepare(study, (600, 601)) == (0, 16)
    assert robustness.prepare(study, (600, 601)) == (0, 0)  # nothing enqueued twice
    killed = study.ask()  # a worker that died before its objective began
    assert robustness.prepare(study, (600, 601)) == (1, 1)
    assert study.trials[killed.number].state == TrialState.FAIL
    robustness.work("sarsa", spec)
    records = robustness.load_records(spec)["sarsa"]
    assert sorted((robustness.cell_label(r["cell"]), r["seed"]) for r in records) == sorted(
        (robustness.cell_label(cell), seed) for seed in (600, 601) for cell in robustness.cells()
    )
    assert robustness.prepare(study, (600, 601)) == (0, 0)


def test_the_value_error_is_zero_for_the_exact_values_and_the_path_excludes_the_goal() -> None:
    from benchmarks.cliff import exact_values

    exact = exact_values()
    assert robustness.value_error(exact["epsilon-greedy"].max(axis=1), "epsilon-greedy") == 0.0
    assert robustness.value_error(exact["epsilon-greedy"].max(axis=1) + 2.0, "epsilon-greedy") == pytest.approx(2.0)
    paths = robustness.exact_path_states()
    assert paths["epsilon-greedy"][0] == 36 and 47 not in paths["epsilon-greedy"]
    assert len(paths["greedy"]) == 13  # the edge: up, 11 steps right (the goal, left out, is the 14th state)
