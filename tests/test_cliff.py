"""
SARSA learns the value of the epsilon-greedy policy that acts, checked against the exact answer.

A small cliff (``tests.helpers.SmallCliff``: 3 x 5, -1 per step, -100 and back to the start for a
step into the cliff) with epsilon fixed at 0.3 after a short warm-up and gamma 0.9. Solved exactly
from its transition table (:mod:`sb3_sarsa.exact`): the epsilon-greedy values prefer the 8-step path
along the top row, max_a Q(start) = -9.82; the greedy values (Q-learning's) the 6-step path along
the cliff's edge, -4.69. The Q-network is linear on the one-hot state (``net_arch=[]``), so it can
represent both tables exactly and what is tested is the target and the loss, not the network.

With the default loss (MSE), SARSA's values land on the epsilon-greedy fixed point and its greedy
path is the safe one; the same run with Huber, whose clipped gradient pulls towards the median of
the sampled targets and so ignores the rare fall, and SB3's DQN, whose target is the greedy value,
take the edge. (Seeds 0, 1 and 2 gave the same outcome in a check outside the suite; the test runs
seed 0.)
"""

from typing import Any

import numpy as np
import pytest
import torch as th
from gymnasium.wrappers import TimeLimit
from stable_baselines3 import DQN
from stable_baselines3.common.utils import LinearSchedule

from sb3_sarsa import SARSA
from sb3_sarsa.exact import action_values, greedy_path
from tests.helpers import SmallCliff

GAMMA, EPSILON = 0.9, 0.3
PARAMS: dict[str, Any] = dict(
    learning_rate=LinearSchedule(2e-2, 0.0, 1.0),
    buffer_size=1000,
    learning_starts=500,
    batch_size=64,
    gamma=GAMMA,
    train_freq=2,
    target_update_interval=100,
    exploration_initial_eps=1.0,
    exploration_fraction=0.1,
    exploration_final_eps=EPSILON,
    policy_kwargs=dict(net_arch=[]),
    seed=0,
)
CLIFF = SmallCliff(rows=3, columns=5)
SAFE_PATH = [10, 5, 0, 1, 2, 3, 4, 9, 14]
EDGE_PATH = [10, 5, 6, 7, 8, 9, 14]


def train(model_class: Any, **kwargs: Any) -> tuple[np.ndarray, list[int]]:
    """:return: the learned Q-table and the greedy path from the start"""
    model = model_class("MlpPolicy", TimeLimit(SmallCliff(rows=3, columns=5), 50), **PARAMS, **kwargs)
    model.learn(12_000)
    with th.no_grad():
        q_values = model.q_net(th.arange(CLIFF.rows * CLIFF.columns)).numpy()
    path, _ = greedy_path(CLIFF.P, q_values, CLIFF.start, 50)
    return q_values, path


def test_the_exact_answers() -> None:
    on_policy = action_values(CLIFF.P, GAMMA, EPSILON)
    greedy = action_values(CLIFF.P, GAMMA)
    assert on_policy[CLIFF.start].max() == pytest.approx(-9.82, abs=0.01)
    assert greedy[CLIFF.start].max() == pytest.approx(-(1 - GAMMA**6) / (1 - GAMMA))  # 6 steps of -1
    assert greedy_path(CLIFF.P, on_policy, CLIFF.start, 50) == (SAFE_PATH, True)
    assert greedy_path(CLIFF.P, greedy, CLIFF.start, 50) == (EDGE_PATH, True)


def test_sarsa_with_the_default_loss_learns_the_epsilon_greedy_value_and_the_safe_path() -> None:
    exact = action_values(CLIFF.P, GAMMA, EPSILON)[CLIFF.start].max()
    q_values, path = train(SARSA)
    assert path == SAFE_PATH
    assert q_values[CLIFF.start].max() == pytest.approx(exact, abs=0.75)


def test_sarsa_lambda_reaches_the_same_on_policy_fixed_point() -> None:
    # SARSA(lambda)'s target mixes the n-step returns of the same epsilon-greedy policy: the same fixed point.
    exact = action_values(CLIFF.P, GAMMA, EPSILON)[CLIFF.start].max()
    q_values, path = train(SARSA, td_lambda=0.5, lambda_horizon=2)
    assert path == SAFE_PATH
    assert q_values[CLIFF.start].max() == pytest.approx(exact, abs=0.75)


@pytest.mark.xfail(strict=True, reason="known gap: long replayed sequences (lambda 0.5, horizon 8) end pessimistic")
def test_sarsa_lambda_with_long_sequences_reaches_the_fixed_point() -> None:
    # With sb3-sarsa 0.3.0 the greedy path loops in the top-left corner and max_a Q(start) ends below the
    # exact value. Not because the sequences replay older policies' returns: the final buffer solved as a table
    # gives the same value with the lambda-return as with the one-step target (benchmarks.research.lambda_cliff);
    # the loop's data keep the policy in the loop.
    exact = action_values(CLIFF.P, GAMMA, EPSILON)[CLIFF.start].max()
    q_values, path = train(SARSA, td_lambda=0.5, lambda_horizon=8)
    assert path == SAFE_PATH
    assert q_values[CLIFF.start].max() == pytest.approx(exact, abs=0.75)


def test_huber_and_the_greedy_target_learn_something_else() -> None:
    exact = action_values(CLIFF.P, GAMMA, EPSILON)[CLIFF.start].max()
    q_values, path = train(SARSA, loss="huber")
    assert path == EDGE_PATH
    assert q_values[CLIFF.start].max() > exact + 2  # the falls are (mostly) not priced in
    q_values, path = train(DQN)
    assert path == EDGE_PATH
    assert q_values[CLIFF.start].max() == pytest.approx(action_values(CLIFF.P, GAMMA)[CLIFF.start].max(), abs=0.5)


def test_the_bias_diagnostic_reads_the_buffer_as_it_was_filled() -> None:
    # benchmarks.research.cliff_bias solves the final replay buffer as a table: its reading of the buffer must be
    # the trajectory that was executed (each s' the next s, each a' the next a, within an episode).
    from gymnasium import make
    from stable_baselines3.common.monitor import Monitor

    from benchmarks.cliff import falling_pairs
    from benchmarks.research.cliff_bias import buffer_transitions
    from sb3_sarsa.exact import sample_fixed_point

    falls = falling_pairs()
    # reachable cells from which a step falls: the ten above the cliff (down) and the start (right)
    assert [(s, a) for s, a in zip(*np.nonzero(falls[:37]))] == [*((s, 2) for s in range(25, 35)), (36, 1)]
    model = SARSA("MlpPolicy", Monitor(make("CliffWalking-v1", max_episode_steps=30)), learning_starts=50, seed=0)
    model.learn(200)
    samples = buffer_transitions(model)
    assert len(samples["states"]) == 200
    ends = np.flatnonzero(model.replay_buffer.dones[:200, 0])
    assert ends.tolist() == list(range(29, 200, 30))  # no goal in 200 steps: every end is the time limit
    assert not samples["terminated"].any()  # truncations, not terminations
    inside = np.setdiff1d(np.arange(199), ends)
    np.testing.assert_array_equal(samples["next_states"][inside], samples["states"][inside + 1])
    np.testing.assert_array_equal(samples["next_actions"][inside], samples["actions"][inside + 1])
    states, actions, rewards = samples["states"], samples["actions"], samples["rewards"]
    next_states, next_actions, terminated = samples["next_states"], samples["next_actions"], samples["terminated"]
    table = sample_fixed_point(
        states, actions, rewards, next_states, next_actions, terminated, gamma=0.9, unseen=np.zeros((48, 4))
    )
    assert np.isfinite(table).all() and table.max() <= 0.0


@pytest.mark.parametrize("diagnostic, field", [("cliff_bias", "variant"), ("cliff_discovery", "setting")])
def test_stored_diagnostic_runs_were_made_with_their_variants_values(diagnostic: str, field: str) -> None:
    # A variant's name must keep meaning the values its stored runs were made with when the entry
    # changes: each result file's recorded hyperparameters hold the variant's overrides.
    import importlib
    import json

    from benchmarks.research.cliff_variants import VARIANTS

    # The stored runs are part of the repository: a missing folder is a failure, not a skip.
    results = importlib.import_module(f"benchmarks.research.{diagnostic}").RESULTS
    assert results.is_dir(), f"{results} (the stored runs) is missing"
    checked = 0
    for path in sorted(results.glob("*.json")):
        run = json.loads(path.read_text())
        name = run[field]
        if name not in VARIANTS or name == "entry":
            continue
        assert path.name.startswith(f"{name}_"), path.name
        for key, value in VARIANTS[name].items():
            if key == "target_epsilon" and value is None:  # runs made before the option existed lack it
                assert run["hyperparameters"].get(key, "None") == "None", path.name
            elif key != "policy_kwargs":
                assert run["hyperparameters"][key] == repr(value), (path.name, key)
        checked += 1
    assert checked > 0


def test_cliff_variants_resolve_their_optimizer_and_reject_unknown_names() -> None:
    from benchmarks.research.cliff_variants import VARIANTS, variant_kwargs

    kwargs = variant_kwargs("sgd")
    assert kwargs["policy_kwargs"]["optimizer_class"] is th.optim.SGD
    assert VARIANTS["sgd"]["policy_kwargs"]["optimizer_class"] == "SGD"  # the table itself is not changed
    with pytest.raises(ValueError, match="Unknown cliff variant 'batch-1024'"):
        variant_kwargs("batch-1024")


def test_the_random_walks_values_lead_up_and_into_the_top_left_corner() -> None:
    # docs/research/CLIFF.md's reading of the runs that never find the goal: while epsilon is near 1, the values
    # both SARSA targets estimate are the random walk's, which rise away from the cliff and have a local
    # maximum in the top-left corner (lower on its both sides), where those runs' greedy paths end.
    from benchmarks.research.cliff_discovery import grid_rows, random_walk_values

    values = random_walk_values()
    assert values.shape == (4, 12)
    assert (np.diff(values[:, :6], axis=0) < 0).all()  # each step down the grid's left half loses value
    assert values[0, 0] > values[0, 1] > values[0, 2] > values[0, 3] and values[0, 0] > values[1, 0]
    assert values[0, 0] == pytest.approx(-929, abs=1)
    assert grid_rows(values)[-1].startswith("| 3 | -1072 | cliff |") and grid_rows(values)[-1].endswith("| goal |")
    assert grid_rows(values)[-1].count("cliff") == 10
    # Another grid's bottom row: the start's value, then the cliff, then the goal.
    assert grid_rows(np.arange(8.0).reshape(2, 4))[-1] == "| 1 | 4 | cliff | cliff | goal |"


def test_the_cliff_benchmarks_algorithms_differ_from_the_entry_as_documented() -> None:
    from benchmarks.cliff import cliff_kwargs

    def shown(algo: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
        return {key: repr(value) for key, value in cliff_kwargs(algo, overrides)[0].items()}  # schedules by repr

    sarsa = shown("sarsa")
    assert cliff_kwargs("sarsa")[1] == 100_000 and sarsa["target"] == "'sarsa'" and "target_epsilon" not in sarsa
    assert shown("expected") == {**sarsa, "target": "'expected'", "target_epsilon": sarsa["exploration_final_eps"]}
    # the report's exact values, labels and text use the constant EPSILON for the entry's final epsilon
    from benchmarks.cliff import EPSILON, LABELS

    assert cliff_kwargs("sarsa")[0]["exploration_final_eps"] == EPSILON and f"target_epsilon {EPSILON}" in LABELS["expected"]
    assert shown("expected", {"target_epsilon": None})["target_epsilon"] == "None"
    assert {"target", "loss", "target_epsilon"}.isdisjoint(shown("dqn", {"target_epsilon": None}))
    assert shown("sarsa-huber") == {**sarsa, "loss": "'huber'"}


def test_the_edge_table_reads_a_networks_values_against_its_own_policys_worth() -> None:
    from benchmarks import cliff, robustness

    exact = cliff.exact_values()

    def record(q_values: Any, kind: str) -> dict[str, Any]:
        return {"path_kind": kind, "q_values": q_values.tolist()}

    # the epsilon-greedy fixed point believes what its policy is worth, and is its own backup; the greedy fixed
    # point (the edge) believes -12.25 where its policy, followed with epsilon 0.1, is worth -39.59
    found = {"sarsa-optimism": [record(exact["epsilon-greedy"], "safe"), record(exact["greedy"], "edge")]}
    lines = robustness.edge_values(found)
    assert "| safe | 1 | -16.55 | -16.55 | +0.00 | +0.00 | -2.61 |" in lines[-3]
    assert "| edge | 1 | -12.25 | -39.59 |" in lines[-2]
    assert robustness.edge_values({}) == []


def test_every_robustness_variant_builds_its_model() -> None:
    from stable_baselines3 import DQN

    from benchmarks import cliff, robustness
    from sb3_sarsa import SARSA

    cell = robustness.cells()[0]
    for variant, (algo, extra) in robustness.VARIANTS.items():
        kwargs = robustness.constructor_kwargs(variant, cell)
        assert {key: kwargs[key] for key in extra} == extra and kwargs["batch_size"] == cell["batch_size"]
        model = (DQN if algo == "dqn" else SARSA)("MlpPolicy", cliff.make_env(), **kwargs)
        assert model.max_grad_norm == extra.get("max_grad_norm", 10)
    assert set(robustness.LABELS) == set(robustness.VARIANTS)


def test_the_clipping_diagnostic_counts_what_clipping_removes_by_hand() -> None:
    from benchmarks.research.clipping import fall_priced, norm_statistics

    stats = norm_statistics(np.array([5.0, 10.0, 20.0, 40.0]), clip_at=10.0)
    assert stats["steps"] == 4
    assert stats["clipped_share"] == 0.5  # 20 and 40; a norm at the threshold is not cut
    assert stats["removed_share"] == pytest.approx((10.0 + 30.0) / 75.0)
    assert stats["median"] == 15.0
    greedy, exact = np.array([-5.0, -4.0]), np.array([-10.0, -8.0])
    assert fall_priced(greedy, greedy, exact) == 0.0  # Q-learning's values: no fall priced
    assert fall_priced(exact, greedy, exact) == 1.0  # SARSA's fixed point: priced in full
    assert fall_priced(np.array([-6.0, -5.0]), greedy, exact) == pytest.approx(2.0 / 9.0)


@pytest.mark.parametrize("algo", [SARSA, DQN])
def test_the_clipping_diagnostic_records_one_norm_per_gradient_step_and_restores_clipping(algo: Any) -> None:
    from benchmarks.research.clipping import gradient_norms

    clip = th.nn.utils.clip_grad_norm_
    with gradient_norms() as norms:
        assert th.nn.utils.clip_grad_norm_ is not clip
        model = algo("MlpPolicy", "CartPole-v1", learning_starts=50, train_freq=1, gradient_steps=2, seed=0)
        model.learn(150)
    assert th.nn.utils.clip_grad_norm_ is clip
    assert len(norms) == model._n_updates > 0
    assert all(np.isfinite(norms)) and min(norms) > 0.0


def test_the_clipping_screen_counts_each_cell_and_level_by_hand() -> None:
    from benchmarks.research.clipping import screen_table

    def run(variant: str, seed: int, kind: str, error: float, priced: float, clipped: float | None) -> dict[str, Any]:
        result = {"cell_name": "c", "variant": variant, "seed": seed, "path_kind": kind, "value_error": error}
        result["fall_priced"] = priced
        if clipped is not None:
            result["norms_last_half_own_level"] = {"clipped_share": clipped}
        return result

    assert screen_table([]) == []
    lines = screen_table(
        [
            run("sarsa-clip100", 700, "safe", 0.4, 0.9, 0.1),
            run("sarsa-clip100", 701, "edge", 1.5, 0.3, 0.2),
            run("sarsa-clip100", 702, "no goal", 30.0, -1.0, 0.6),
            run("sarsa-noclip", 700, "safe", 0.2, 1.2, None),  # no level: nothing clipped
        ]
    )
    assert "| c | sarsa-clip100 | 700, 701, 702 | 1 / 1 / 1 | 1/3 | 0.30 | 20.0% |" in lines
    assert "| c | sarsa-noclip | 700 | 1 / 0 / 0 | 1/1 | 1.20 | 0.0% |" in lines


def test_the_robustness_targets_read_a_cell_with_fewer_goals_by_its_interval() -> None:
    from benchmarks import robustness

    def records(variant: str, goals: dict[int, int]) -> list[dict[str, Any]]:
        """five runs per cell, ``goals[cell index]`` of them (5 unless given) reaching the goal"""
        found = []
        for index, cell in enumerate(robustness.cells()):
            for seed in robustness.SEEDS:
                reached = seed - robustness.SEEDS[0] < goals.get(index, 5)
                kind = "safe" if reached else "no goal"
                found.append({"variant": variant, "cell": cell, "seed": seed, "reached_goal": reached, "path_kind": kind})
                found[-1].update({"value_error": 0.1 if reached else 50.0, "q_start": -16.5, "online_last": -20.0})
        return found

    first = robustness.cell_label(robustness.cells()[0])
    dqn = records("dqn", {})

    def per_cell_row(goals: dict[int, int]) -> str:
        rows = robustness.targets({robustness.DEFAULT_VARIANT: records("sarsa-optimism", goals), "dqn": dqn})
        (row,) = [row for row in rows if row.startswith("| in every cell")]
        return row

    assert per_cell_row({}).endswith("| every cell | yes |")
    # one seed short in one cell: within the noise of 5 seeds against 5
    assert per_cell_row({0: 4}).endswith(f"| fewer in 1 of 8: {first}: 4/5 vs 5/5 (-0.20 [-0.60, +0.00]) | tie |")
    # three short: the interval lies below 0
    assert per_cell_row({0: 4, 1: 2}).endswith("[-1.00, -0.20]) | **no** |")
    assert "fewer in 2 of 8: " in per_cell_row({0: 4, 1: 2})
