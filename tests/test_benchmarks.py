"""The benchmark's aggregation helpers and the tuning variants (no training here)."""

import json
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from benchmarks.common import format_steps, iqm, iqm_with_ci, record_command
from benchmarks.compare import hyperparameters, median_steps_to_threshold, same_seed_ratios, targets, with_overrides
from benchmarks.tune import VARIANTS
from sb3_sarsa import SARSA
from sb3_sarsa.hyperparameters import parse_learning_rate


def test_iqm_ci_is_reproducible() -> None:
    scores = [-200.0, -130.0, -104.0, -95.0, -172.0, -137.0, -200.0, -99.0]
    first, second = iqm_with_ci(scores), iqm_with_ci(scores)
    assert first == second  # seeded bootstrap: the report's bounds do not move between runs
    point, low, high = first
    # IQM of 8 scores: the mean of the middle 4 (-172, -137, -130, -104)
    assert point == pytest.approx((-172 - 137 - 130 - 104) / 4)
    assert point == pytest.approx(iqm(scores))
    assert low < point < high
    # the global NumPy generator is left as it was
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    iqm_with_ci(scores)
    assert np.random.rand() == expected


def test_median_steps_to_threshold_counts_misses_as_infinity() -> None:
    runs = [{"first_step_to_threshold": step} for step in (10_000, None, 20_000)]
    assert median_steps_to_threshold(runs) == 20_000
    runs = [{"first_step_to_threshold": step} for step in (None, None, 5_000)]
    assert math.isinf(median_steps_to_threshold(runs))
    assert format_steps(median_steps_to_threshold(runs)) == "never"
    # 4 seeds, 2 misses: the median is halfway between 30,000 and infinity
    runs = [{"first_step_to_threshold": step} for step in (30_000, None, 10_000, None)]
    assert format_steps(median_steps_to_threshold(runs)) == "never"
    runs = [{"first_step_to_threshold": step} for step in (30_000, None, 10_000, 20_000)]
    assert format_steps(median_steps_to_threshold(runs)) == "25000"


def test_same_seed_ratios_pairs_runs_by_seed() -> None:
    runs = [
        {"seed": 0, "steps_per_second": 90.0, "peak_memory_mib": 110.0},
        {"seed": 1, "steps_per_second": 50.0, "peak_memory_mib": 100.0},
        {"seed": 7, "steps_per_second": 1.0, "peak_memory_mib": 1.0},  # no DQN run with seed 7
    ]
    dqn_runs = [
        {"seed": 1, "steps_per_second": 100.0, "peak_memory_mib": 100.0},
        {"seed": 0, "steps_per_second": 100.0, "peak_memory_mib": 100.0},
    ]
    assert same_seed_ratios(runs, dqn_runs) == (2, pytest.approx(0.7), pytest.approx(1.05))
    assert same_seed_ratios(runs, []) is None


@pytest.mark.parametrize(
    "env_id, variant", [(env_id, variant) for env_id, variants in VARIANTS.items() for variant in variants]
)
def test_tuning_variants_are_valid_sarsa_arguments(env_id: str, variant: str) -> None:
    if env_id == "LunarLander-v3":
        pytest.importorskip("Box2D")
    from benchmarks.compare import make_env

    kwargs, _ = hyperparameters(env_id, "sarsa")
    overrides = dict(VARIANTS[env_id][variant])
    env = make_env(env_id, overrides.pop("env_wrapper", None))  # run_one's env: the wrapper is not a model argument
    model = SARSA("MlpPolicy", env, **with_overrides({**kwargs, "learning_starts": 0, "buffer_size": 1_000}, overrides))
    assert model.observation_space == env.observation_space
    for key, value in overrides.items():
        assert getattr(model, key) == (parse_learning_rate(value) if key == "learning_rate" else value)


def test_a_tuning_variant_can_train_at_twice_dqns_steps() -> None:
    from benchmarks.tune import DQN_CONTROL, VARIANT_ALGOS, overrides_text, variant_algo

    assert variant_algo("LunarLander-v3", "eps01-2x") == "sarsa-2x"
    assert variant_algo("LunarLander-v3", "eps01") == "sarsa" and variant_algo("Acrobot-v1", DQN_CONTROL) == "dqn"
    assert all(variant in VARIANTS[env_id] for env_id, algos in VARIANT_ALGOS.items() for variant in algos)
    # the report says so, from the run's record
    record = {"algo": "sarsa-2x", "budget": 200_000, "overrides": {"exploration_final_eps": 0.01}}
    assert overrides_text("eps01-2x", record) == "`exploration_final_eps=0.01`, 2x DQN's steps (200,000)"
    assert overrides_text("eps01", {"algo": "sarsa", "budget": 100_000, "overrides": {}}) == "-"
    stacked = {
        "algo": "sarsa",
        "budget": 100_000,
        "overrides": {"env_wrapper": VARIANTS["LunarLander-v3"]["fs8"]["env_wrapper"]},
    }
    assert (
        overrides_text("fs8", stacked)
        == "`env_wrapper=FrameStackObservation(stack_size=8, padding_type=zero), FlattenObservation`"
    )


def test_dqn_n3_control_is_dqn_config_with_three_step_returns() -> None:
    dqn_kwargs, dqn_budget = hyperparameters("MountainCar-v0", "dqn")
    control, budget = hyperparameters("MountainCar-v0", "dqn-n3")
    assert budget == dqn_budget
    assert control == {**dqn_kwargs, "n_steps": 3}
    sarsa_kwargs, sarsa_budget = hyperparameters("MountainCar-v0", "sarsa")
    assert sarsa_budget == dqn_budget  # every algorithm gets DQN's step budget
    assert sarsa_kwargs["target"] == "sarsa" and hyperparameters("MountainCar-v0", "expected")[0]["target"] == "expected"


def test_second_budget_is_sarsa_yml_for_twice_dqn_steps() -> None:
    sarsa_kwargs, budget = hyperparameters("MountainCar-v0", "sarsa")
    assert hyperparameters("MountainCar-v0", "sarsa-2x") == (sarsa_kwargs, 2 * budget)
    assert hyperparameters("MountainCar-v0", "sarsa-4x") == (sarsa_kwargs, 4 * budget)
    dqn_kwargs, dqn_budget = hyperparameters("MountainCar-v0", "dqn")
    assert hyperparameters("MountainCar-v0", "dqn-2x") == (dqn_kwargs, 2 * dqn_budget)


def test_second_budget_is_judged_against_dqn_at_the_same_budget_where_it_ran() -> None:
    def run(seed: int, final: float) -> dict:
        return {"seed": seed, "final_eval_mean": final}

    sarsa = [run(seed, 150.0) for seed in range(10)]
    dqn = [run(seed, 190.0) for seed in range(10)]
    longer = [run(seed, 230.0) for seed in range(10)]
    dqn_longer = [run(seed, 240.0) for seed in range(10)]
    rows = targets({"LunarLander-v3": {"sarsa": sarsa, "dqn": dqn, "sarsa-2x": longer, "dqn-2x": dqn_longer}})
    second = [line for line in rows if "2x" in line]
    # Against DQN at 2x (IQM 240, at or above 200), so the absolute row appears and the IQM row is a loss.
    assert second == [
        "| LunarLander-v3 | SARSA at 2x DQN's steps (DQN at 2x too) IQM >= DQN IQM | 230.0 vs 240.0 "
        "(difference -10.0 [-10.0, -10.0]) | **no** |",
        "| LunarLander-v3 | SARSA at 2x DQN's steps (DQN at 2x too) share of seeds with final eval >= 200 >= DQN's "
        "| 10/10 vs 10/10 (difference +0.00 [+0.00, +0.00]) | tie |",
        "| LunarLander-v3 | SARSA at 2x DQN's steps (DQN at 2x too) IQM >= 200 (DQN's IQM reaches it at this budget) "
        "| 230.0 | yes |",
    ]


def test_lunarlander_targets_judge_iqm_seed_share_and_both_budgets() -> None:
    def run(seed: int, final: float, start_states: float, stuck: int) -> dict:
        return {"seed": seed, "final_eval_mean": final, "final": {"mean": start_states, "stuck": stuck}}

    sarsa = [run(seed, final, final - 10, 0) for seed, final in enumerate([250, 240, 230, 220, 210, 205, 201, 150, 100, -50])]
    dqn = [run(seed, 190.0, 180.0, 1) for seed in range(10)]
    longer = [run(seed, 260.0, 255.0, 0) for seed in range(9)]
    rows = targets({"LunarLander-v3": {"sarsa": sarsa, "dqn": dqn, "sarsa-2x": longer}})
    # IQM of the 10 finals: scipy's trim_mean cuts 2 at each end, the middle 6 (150, 201, 205, 210, 220,
    # 230) average 202.7 (the 100-start-state means, 10 lower each, 192.7). Its bootstrap interval against
    # DQN's constant 190 contains 0 (a tie); 7 of 10 reach 200 against none; with constant sides (DQN, the 2x
    # runs, the stuck counts) every resample gives the same difference, so the interval is that point.
    assert rows == [
        "| LunarLander-v3 | SARSA IQM >= DQN IQM | 202.7 vs 190.0 (difference +12.7 [-56.3, +37.5]) | tie |",
        "| LunarLander-v3 | SARSA share of seeds with final eval >= 200 >= DQN's | 7/10 vs 0/10 "
        "(difference +0.70 [+0.40, +0.90]) | yes |",
        "| LunarLander-v3 | SARSA IQM >= DQN IQM, 100 start states per seed | 192.7 vs 180.0 "
        "(difference +12.7 [-56.3, +37.5]) | tie |",
        "| LunarLander-v3 | SARSA stuck share <= DQN's, 100 start states per seed | 0/1000 vs 10/1000 "
        "(per seed -1.0 [-1.0, -1.0]) | yes |",
        "| LunarLander-v3 | SARSA at 2x DQN's steps IQM >= DQN IQM | 260.0 vs 190.0 (difference +70.0 [+70.0, +70.0]) "
        "| yes (only 9 seeds) |",
        "| LunarLander-v3 | SARSA at 2x DQN's steps share of seeds with final eval >= 200 >= DQN's | 9/9 vs 0/10 "
        "(difference +1.00 [+1.00, +1.00]) | yes (only 9 seeds) |",
        "| LunarLander-v3 | SARSA at 2x DQN's steps IQM >= DQN IQM, 100 start states per seed | 255.0 vs 180.0 "
        "(difference +75.0 [+75.0, +75.0]) | yes (only 9 seeds) |",
        "| LunarLander-v3 | SARSA at 2x DQN's steps stuck share <= DQN's, 100 start states per seed "
        "| 0/900 vs 10/1000 (per seed -1.0 [-1.0, -1.0]) | yes (only 9 seeds) |",
    ]


def test_a_difference_whose_interval_contains_zero_is_a_tie() -> None:
    from benchmarks.compare import difference_interval, mean, verdict_of_interval

    assert difference_interval([5.0, 5.0], [3.0, 3.0, 3.0], mean) == (2.0, 2.0, 2.0)
    difference, low, high = difference_interval([0.0, 10.0], [4.0, 6.0], mean)
    assert difference == 0.0 and low < 0.0 < high
    assert verdict_of_interval(low, high) == "tie"
    assert verdict_of_interval(0.5, 2.0) == "yes" and verdict_of_interval(-2.0, -0.5) == "**no**"
    assert verdict_of_interval(-2.0, -0.5, higher_is_better=False) == "yes"


def test_the_targets_judge_the_row_that_trains_the_entry(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sb3_sarsa.hyperparameters
    from benchmarks import compare

    def run(seed: int, final: float) -> dict:
        return {"seed": seed, "final_eval_mean": final}

    results = {
        "Acrobot-v1": {
            "sarsa": [run(seed, -90.0) for seed in range(10)],
            "expected": [run(seed, -70.0) for seed in range(10)],
            "dqn": [run(seed, -75.0) for seed in range(10)],
        }
    }
    assert targets(results, {"Acrobot-v1": "expected"}) == [
        "| Acrobot-v1 | Expected SARSA (the entry) IQM >= -80 | -70.0 | yes |",
        "| Acrobot-v1 | Expected SARSA (the entry) IQM >= DQN IQM | -70.0 vs -75.0 (difference +5.0 [+5.0, +5.0]) | yes |",
    ]
    assert targets(results, {"Acrobot-v1": "sarsa"})[0] == "| Acrobot-v1 | SARSA IQM >= -80 | -90.0 | **no** |"
    # Unnamed: the row follows sarsa.yml's entry.
    config = sb3_sarsa.hyperparameters.load_config()
    assert compare.entry_algo("Acrobot-v1") == ("expected" if config["Acrobot-v1"].get("target") == "expected" else "sarsa")
    edited = {**config, "Acrobot-v1": {**config["Acrobot-v1"], "target": "expected"}}
    monkeypatch.setattr(sb3_sarsa.hyperparameters, "load_config", lambda: edited)
    assert compare.entry_algo("Acrobot-v1") == "expected"
    assert targets(results)[0].startswith("| Acrobot-v1 | Expected SARSA (the entry) IQM")
    assert compare.which_sarsa(["CartPole-v1", "Acrobot-v1"]).startswith(
        "On Acrobot-v1, `sarsa.yml`'s entry sets `target: expected`"
    )
    monkeypatch.setattr(sb3_sarsa.hyperparameters, "load_config", lambda: {**edited, "Acrobot-v1": config["default"]})
    assert compare.entry_algo("Acrobot-v1") == "sarsa"
    assert compare.which_sarsa(["CartPole-v1", "Acrobot-v1"]).startswith("Every `sarsa.yml` entry here sets `target: sarsa`")


def test_stale_benchmark_runs_are_named_refused_and_flagged(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from benchmarks import compare

    monkeypatch.setattr(compare, "RESULTS", tmp_path / "benchmarks" / "results")
    kwargs, budget = hyperparameters("MountainCar-v0", "sarsa")
    today = {key: repr(value) for key, value in kwargs.items()}
    runs: list[dict[str, Any]] = [
        {"env": "MountainCar-v0", "algo": "sarsa", "seed": 0, "budget": budget, "hyperparameters": today},
        {"env": "MountainCar-v0", "algo": "sarsa", "seed": 1, "budget": budget, "hyperparameters": {**today, "gamma": "0.9"}},
        {"env": "MountainCar-v0", "algo": "sarsa", "seed": 2, "budget": budget // 2, "hyperparameters": today},
    ]
    assert compare.stale_runs(runs) == [
        f"benchmarks/results/MountainCar-v0/sarsa_seed1.json (gamma: 0.9 -> {today['gamma']})",
        f"benchmarks/results/MountainCar-v0/sarsa_seed2.json (budget: {budget // 2} -> {budget})",
    ]
    # A key only one side has is named too.
    (extra,) = compare.stale_runs([{**runs[0], "hyperparameters": {**today, "made_up": "5"}}])
    assert extra.endswith("sarsa_seed0.json (made_up: 5 -> (unset))")
    (unrecorded,) = compare.stale_runs([{key: value for key, value in runs[0].items() if key != "hyperparameters"}])
    assert f"gamma: (unset) -> {today['gamma']}" in unrecorded
    for run in runs:
        compare.write_result(compare.result_path(run["env"], run["algo"], run["seed"]), run)
    # The scheduler neither reruns (overwrites) a stale run nor counts it as done: it stops and names them.
    with pytest.raises(
        SystemExit, match=r"move them to benchmarks/archive/.*\n  benchmarks/results/MountainCar-v0/sarsa_seed1"
    ):
        compare.schedule(["MountainCar-v0"], ["sarsa"], 3, 1, 5000, 20)
    assert json.loads(compare.result_path("MountainCar-v0", "sarsa", 1).read_text())["hyperparameters"]["gamma"] == "0.9"
    section = compare.stale_section(compare.stale_runs(runs))
    assert section[0].startswith("**Stale: 2 stored runs")
    assert compare.stale_section([]) == []


def test_run_processes_reports_each_run_and_failures(tmp_path, capsys) -> None:
    import sys

    from benchmarks.compare import run_processes, write_result

    write_result(tmp_path / "a" / "template.json", {"value": 7})  # creates the folder, no .tmp left behind
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == ["template.json"]
    import json

    import stable_baselines3

    stored = json.loads((tmp_path / "a" / "template.json").read_text())
    assert stored["value"] == 7 and f"stable_baselines3 {stable_baselines3.__version__}" in stored["versions"]
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    runs = [
        (
            "ok",
            [sys.executable, "-c", script, str(tmp_path / "a" / "template.json"), str(tmp_path / "ok.json")],
            tmp_path / "ok.json",
        ),
        ("bad", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "bad.json"),
    ]
    run_processes(runs, 2, lambda result: f"value {result['value']}")
    out = capsys.readouterr().out
    assert "  start ok" in out and "  start bad" in out
    assert "bad: FAILED (exit 3)" in out
    assert "ok: value 7, " in out
    assert out.count("] ") == 2 and "[2/2]" in out


def test_agreement_report_against_a_fresh_buffer(tmp_path, monkeypatch) -> None:
    from benchmarks.research import agreement

    # epsilon-greedy with eps 0.1 over 4 actions picks the greedy action with chance 0.9 + 0.1 / 4
    assert agreement.fresh_agreement(0.1, 4) == pytest.approx(0.925)
    assert agreement.fresh_agreement(0.0, 2) == 1.0
    monkeypatch.setattr(agreement, "RESULTS", tmp_path)
    result = {
        "env": "Acrobot-v1",
        "seed": 0,
        "budget": 20_000,
        "n_actions": 3,
        "buffer_size": 50_000,
        "n_steps": 1,
        "samples": [[10_000, None, 0.25], [20_000, 0.8125, 0.1]],
    }
    (tmp_path / "Acrobot-v1_seed0.json").write_text(json.dumps(result))
    assert "(no runs recorded)" in agreement.report("python -m benchmarks.research.agreement --report-only")
    for _ in range(2):  # the same invocation twice (a resumed run) is listed once
        record_command(tmp_path, "python -m benchmarks.research.agreement --envs Acrobot-v1")
    text = agreement.report("python -m benchmarks.research.agreement --report-only")
    assert text.count("`python -m benchmarks.research.agreement --envs Acrobot-v1`") == 1
    assert "this report by `python -m benchmarks.research.agreement --report-only`" in text
    assert "## Acrobot-v1 (seed 0, buffer 50000, n_steps 1)" in text
    assert "| 10000 | 0.250 | - | 0.833 |" in text  # no measurement yet: shown as "-"
    assert "| 20000 | 0.100 | 0.812 | 0.933 |" in text


def test_cliff_classifies_the_exact_paths_and_trains_with_the_zoo_entry() -> None:
    from benchmarks import cliff
    from sb3_sarsa.exact import greedy_path, transition_table
    from sb3_sarsa.hyperparameters import load_config

    table = transition_table(cliff.make_env())
    exact = cliff.exact_values()
    safe, reached = greedy_path(table, exact["epsilon-greedy"], cliff.START, 100)
    edge, _ = greedy_path(table, exact["greedy"], cliff.START, 100)
    assert cliff.classify_path(safe, reached) == "safe" and cliff.classify_path(edge, True) == "edge"
    assert cliff.classify_path([36, 24, 36, 24], False) == "no goal"
    kwargs, timesteps = cliff.cliff_kwargs("dqn")
    entry = load_config()["CliffWalking-v1"]
    assert "target" not in kwargs and "loss" not in kwargs and timesteps == entry["n_timesteps"]
    assert kwargs["buffer_size"] == entry["buffer_size"] and cliff.cliff_kwargs("sarsa-huber")[0]["loss"] == "huber"
    assert cliff.cliff_kwargs("expected")[0]["target"] == "expected"


def test_her_report_compares_mean_success_rates(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from benchmarks import her

    monkeypatch.setattr(her, "RESULTS", tmp_path)
    for algo, rates in (("sarsa", (1.0, 0.5)), ("dqn", (0.9, 0.7))):
        for seed, rate in enumerate(rates):
            (tmp_path / f"bits8_{algo}_seed{seed}.json").write_text(
                json.dumps({"n_bits": 8, "algo": algo, "seed": seed, "success_rate": rate})
            )
    text = her.report("python -m benchmarks.her")
    assert "| BitFlippingEnv(n_bits=8) | SARSA + HER | 2 | 0.75 | 1.00, 0.50 |" in text
    # Two seeds a side: SARSA minus DQN -0.05, an interval that contains 0, so a tie (not a "no").
    assert "| n_bits=8 | greedy success, 100 episodes | 2 vs 2 | 0.750 vs 0.800 | -0.050 [-0.400, +0.300] | tie |" in text


def test_q_gaps_and_progress_against_hand_computed_numbers() -> None:
    from benchmarks.research.stuck import progress, q_gaps, relative_gaps

    q = np.array([[-10.0, -10.5, -12.0], [-3.0, -3.0, -1.0], [2.0, 1.0, 0.0]])
    np.testing.assert_allclose(q_gaps(q), [0.5, 2.0, 1.0])
    np.testing.assert_allclose(relative_gaps(q), [0.05, 2.0, 0.5])
    # Acrobot hanging straight down: tip at -2; both links up: tip at +2 (goal: above 1).
    assert progress("Acrobot-v1", np.array([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])) == -2.0
    assert progress("Acrobot-v1", np.array([-1.0, 0.0, 1.0, 0.0, 0.0, 0.0])) == 2.0
    assert progress("MountainCar-v0", np.array([0.3, 0.01])) == pytest.approx(0.3)
    assert progress("LunarLander-v3", np.array([0.1, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])) == 0.25
    assert progress("CartPole-v1", np.zeros(4)) is None


def test_run_one_counts_how_lunarlander_training_episodes_end(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("Box2D")
    from benchmarks import compare

    assert compare.lunar_ending(100.0, terminated=True) == "rest"  # the body fell asleep
    assert compare.lunar_ending(-100.0, terminated=True) == "crash"
    assert compare.lunar_ending(-0.3, terminated=False) == "time limit"
    assert compare.lunar_ending(2.5, terminated=True) is None

    # 600 steps of a network that never trains (random actions throughout), a block every 200 steps
    monkeypatch.setattr(compare, "hyperparameters", lambda env_id, algo: ({"learning_starts": 10_000}, 600))
    monkeypatch.setattr(compare, "final_evaluation", lambda model, env_id, seed, wrapper=None: {})
    episodes: list[int] = []
    from sb3_sarsa import SARSA

    original = SARSA.learn

    def learn_and_count(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        model = original(self, *args, **kwargs)
        episodes.append(self._episode_num)
        return model

    monkeypatch.setattr(SARSA, "learn", learn_and_count)
    result = compare.run_one("LunarLander-v3", "sarsa", 0, 200, 1)
    assert [block["step"] for block in result["endings"]] == [200, 400, 600]
    counted = sum(n for block in result["endings"] for key, n in block.items() if key != "step")
    assert counted == episodes[0] > 0  # every episode that ended, once
    assert {key for block in result["endings"] for key in block} <= {"step", "rest", "crash", "time limit"}
    # other envs have no such record
    monkeypatch.setattr(compare, "hyperparameters", lambda env_id, algo: ({"learning_starts": 10_000}, 200))
    cartpole = compare.run_one("CartPole-v1", "sarsa", 0, 200, 1, overrides={"learning_rate": "lin_1e-3"})
    assert "endings" not in cartpole
    # a variant's learning rate may be a zoo schedule, read as the zoo reads it
    assert cartpole["hyperparameters"]["learning_rate"] == "lin_0.001"


def test_run_one_trains_and_evaluates_in_the_variants_env_wrapper(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from benchmarks import compare
    from sb3_sarsa import SARSA

    stack = [{"gymnasium.wrappers.FrameStackObservation": {"stack_size": 3, "padding_type": "zero"}}]
    stack.append("gymnasium.wrappers.FlattenObservation")  # type: ignore[arg-type]
    # the wrapped observation: 3 frames of CartPole's 4 numbers, oldest first, zeros before the first
    env = compare.make_env("CartPole-v1", stack)
    first, _ = env.reset(seed=0)
    assert first.shape == (12,) and not first[:8].any()
    second, *_ = env.step(0)
    np.testing.assert_array_equal(second[4:8], first[8:])
    assert compare.make_env("CartPole-v1").observation_space.shape == (4,)
    # the files' own wrappers: sarsa.yml's CliffWalking entry has one, dqn.yml's LunarLander entry none
    assert compare.env_wrapper_spec("CliffWalking-v1", "sarsa")[0] == {
        "gymnasium.wrappers.TimeLimit": {"max_episode_steps": 100}
    }
    assert compare.env_wrapper_spec("LunarLander-v3", "dqn") is None

    spaces: list[tuple[int, ...]] = []
    original = SARSA.learn

    def learn_and_look(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        spaces.append(self.env.observation_space.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SARSA, "learn", learn_and_look)
    monkeypatch.setattr(compare, "hyperparameters", lambda env_id, algo: ({"learning_starts": 10_000}, 200))
    saved = tmp_path / "model.zip"
    result = compare.run_one("CartPole-v1", "sarsa", 0, 100, 2, overrides={"env_wrapper": stack}, model_path=saved)
    assert spaces == [(12,)] and result["env_wrapper"] == stack
    assert len(result["curve"]) == 2 and len(result["final"]["episodes"]["returns"]) == compare.FINAL_EPISODES
    assert "env_wrapper" not in result["hyperparameters"]
    # the final evaluation of a wrapped model needs the wrapper: without it the shapes do not match
    with pytest.raises(ValueError, match="Unexpected observation shape"):
        compare.final_evaluation(SARSA.load(saved), "CartPole-v1", 0, episodes=1)
    # --reevaluate takes the wrapper from the record
    results, models = tmp_path / "results", tmp_path / "models"
    compare.write_result(results / "CartPole-v1" / "sarsa_seed0.json", result)
    (models / "CartPole-v1").mkdir(parents=True)
    saved.rename(models / "CartPole-v1" / "sarsa_seed0.zip")
    compare.reevaluate(results, models)
    again = json.loads((results / "CartPole-v1" / "sarsa_seed0.json").read_text())
    assert again["final"] == result["final"]
    # without a wrapper the run trains on the env made from its id, as before
    plain = compare.run_one("CartPole-v1", "sarsa", 0, 100, 1)
    assert spaces[-1] == (4,) and "env_wrapper" not in plain


def test_training_endings_of_the_last_fifth() -> None:
    from benchmarks.research.stuck import training_endings

    blocks = [
        {"step": 60_000, "rest": 9, "crash": 1},  # before the last fifth: not counted
        {"step": 85_000, "rest": 2, "crash": 3, "time limit": 1},
        {"step": 90_000},  # no episode ended in this block
        {"step": 100_000, "rest": 4},
    ]
    assert training_endings({"budget": 100_000, "endings": blocks}) == "6/10"
    assert training_endings({"budget": 100_000, "endings": blocks}, last=0.5) == "15/20"
    assert training_endings({"budget": 100_000}) == "-"


def test_final_evaluation_record_and_its_redo_from_the_kept_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.compare import final_evaluation, reevaluate

    model = SARSA("MlpPolicy", "MountainCar-v0", seed=0)
    record = final_evaluation(model, "MountainCar-v0", seed=3, episodes=2)
    # Start seeds of training seed 3; an untrained policy never gets up the hill in 200 steps.
    assert record["episodes"]["seeds"] == [23000, 23001] and record["stuck"] == 2 and record["mean"] == -200.0
    (tmp_path / "results" / "MountainCar-v0").mkdir(parents=True)
    (tmp_path / "models" / "MountainCar-v0").mkdir(parents=True)
    stored = {"env": "MountainCar-v0", "algo": "sarsa", "seed": 3, "final": None}
    (tmp_path / "results" / "MountainCar-v0" / "sarsa_seed3.json").write_text(json.dumps(stored))
    (tmp_path / "results" / "MountainCar-v0" / "dqn_seed3.json").write_text(json.dumps({**stored, "algo": "dqn"}))
    model.save(tmp_path / "models" / "MountainCar-v0" / "sarsa_seed3.zip")
    reevaluate(tmp_path / "results", tmp_path / "models")
    redone = json.loads((tmp_path / "results" / "MountainCar-v0" / "sarsa_seed3.json").read_text())
    assert redone["final"]["episodes"]["seeds"][:2] == [23000, 23001] and len(redone["final"]["episodes"]["seeds"]) == 100
    assert redone["final"]["stuck"] == 100
    # no kept model: the result is left as it was
    assert json.loads((tmp_path / "results" / "MountainCar-v0" / "dqn_seed3.json").read_text())["final"] is None


def test_search_report_export_and_restore(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import optuna

    from benchmarks import search
    from sb3_sarsa.zoo import AGREEMENT_ATTR

    monkeypatch.setattr(search, "SEARCH", tmp_path / "search")
    monkeypatch.setattr(search, "DOCS", tmp_path / "docs")
    (tmp_path / "docs").mkdir()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    server = search.journal_storage(tmp_path / "server.log")  # stands for the PostgreSQL server
    study = optuna.create_study(study_name="sarsa_LunarLander-v3", storage=server, direction="maximize")
    distributions = {
        "loss": optuna.distributions.CategoricalDistribution(["huber", "mse"]),
        "learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True),
    }
    for loss, rate, value, agreement in [
        ("mse", 1e-3, 210.0, 0.9),
        ("huber", 1e-4, -50.0, 0.5),
        ("mse", 3e-4, 120.0, 0.7),
        ("huber", 2e-3, 150.0, 0.8),
    ]:
        study.add_trial(
            optuna.trial.create_trial(
                params={"loss": loss, "learning_rate": rate},
                distributions=distributions,
                value=value,
                user_attrs={AGREEMENT_ATTR: agreement},
                intermediate_values={0: value - 30, 1: value - 20, 2: value - 10, 3: value},
            )
        )
    study.add_trial(
        optuna.trial.create_trial(
            params={"loss": "mse", "learning_rate": 1e-5},
            distributions=distributions,
            state=optuna.trial.TrialState.PRUNED,
            intermediate_values={0: -300.0},
        )
    )
    study.ask()  # a trial that a worker is running (as an `export` from a live server copies it)
    assert search.export("LunarLander-v3", server) == 6
    # A fresh server (another machine) gets the study back from the journal copy, once; no worker runs
    # there, so the running trial is marked interrupted (failed) there, and stays running on the old one.
    fresh = search.journal_storage(tmp_path / "fresh.log")
    assert search.restore("LunarLander-v3", fresh) and not search.restore("LunarLander-v3", fresh)
    restored = optuna.load_study(study_name="sarsa_LunarLander-v3", storage=fresh)
    assert [trial.value for trial in restored.trials] == [trial.value for trial in study.trials]
    assert restored.trials[5].state == optuna.trial.TrialState.FAIL and restored.trials[5].user_attrs == {"interrupted": True}
    assert study.trials[5].state == optuna.trial.TrialState.RUNNING
    assert "Trials: 6 (4 complete, 1 pruned, 0 failed, 1 interrupted, 0 running)." in search.report(
        "LunarLander-v3", restored, "test"
    )
    text = search.report("LunarLander-v3", search.load_study("LunarLander-v3", None), "test")
    assert search.report_path("LunarLander-v3").name == "SEARCH_LUNARLANDER.md"
    assert "Trials: 6 (4 complete, 1 pruned, 0 failed, 0 interrupted, 1 running)." in text
    # best first, with the mean of the last three evaluations: (190 + 200 + 210) / 3 = 200
    assert "| 0 | 210.0 | 200.0 | 0.900 | 0.001 | mse |" in text
    # agreement and return rank the same way in this study: Spearman 1.00
    assert "Spearman rank correlation over the 4 complete trials that recorded it: 1.00." in text
    assert "| loss |" in text and "| learning_rate |" in text
    assert (tmp_path / "docs" / "search_lunarlander_history.png").exists()
    assert (tmp_path / "docs" / "search_lunarlander_agreement.png").exists()


def test_rank_correlation_with_ties() -> None:
    from benchmarks.search import rank_correlation

    assert rank_correlation([1.0, 2.0, 3.0], [30.0, 20.0, 10.0]) == pytest.approx(-1.0)
    # ranks (0.5, 0.5, 2) against (0, 1, 2): Pearson of the ranks
    assert rank_correlation([5.0, 5.0, 9.0], [1.0, 2.0, 3.0]) == pytest.approx(np.corrcoef([0.5, 0.5, 2], [0, 1, 2])[0, 1])


def test_stuck_analysis_of_a_model_that_never_reaches_the_goal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from stable_baselines3 import DQN

    from benchmarks.research.stuck import analyse, analysis_section, load_model

    SARSA("MlpPolicy", "MountainCar-v0", seed=0).save(tmp_path / "sarsa.zip")
    DQN("MlpPolicy", "MountainCar-v0", seed=0).save(tmp_path / "dqn.zip")
    assert isinstance(load_model(tmp_path / "sarsa.zip"), SARSA) and isinstance(load_model(tmp_path / "dqn.zip"), DQN)
    # Untrained, neither climbs the hill in 200 steps: every episode is stuck, for every way of acting.
    result = analyse("MountainCar-v0", tmp_path / "sarsa.zip", tmp_path / "dqn.zip", [5, 6], loop=50)
    assert result["stuck_seeds"] == [5, 6] and result["start_seeds"] == [5, 6]
    # a model trained with a frame stack is refused by name, not replayed on observations of the wrong shape
    from benchmarks.compare import make_env
    from benchmarks.tune import FRAME_STACK_8

    SARSA("MlpPolicy", make_env("MountainCar-v0", FRAME_STACK_8)).save(tmp_path / "stacked.zip")
    with pytest.raises(ValueError, match=r"stacked.zip takes observations of shape \(16,\), but MountainCar-v0 gives \(2,\)"):
        analyse("MountainCar-v0", tmp_path / "stacked.zip", None, [5], loop=50)
    assert {way: found["stuck"] for way, found in result["outcomes"]["model"].items()} == dict.fromkeys(
        result["outcomes"]["model"], 2
    )
    assert result["in_loops"]["states"] == 100 and result["in_successful_episodes"] == {"states": 0}
    assert 0.0 <= result["in_loops"]["control"]["same_action"] <= 1.0
    # every 10th of the last 50 steps; the progress of MountainCar is the position
    assert [row["step_from_loop_start"] for row in result["trace"]] == [0, 10, 20, 30, 40]
    assert all(-1.2 <= row["progress"] <= 0.5 for row in result["trace"])
    text = "\n".join(analysis_section(result))
    assert "| greedy | -200.0 | 2/2 | -200.0 | 2/2 |" in text and "| successful episodes | 0 |" in text


def test_lunar_rest_finds_a_lander_that_landed_but_never_switches_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import gymnasium as gym
    from gymnasium.envs.box2d.lunar_lander import heuristic

    from benchmarks.research.stuck import longest_run, lunar_rest, rest_lines
    from sb3_sarsa.evaluation import run_episodes

    assert longest_run([0, 0, 1, 0, 0, 0, 2], 0) == 3 and longest_run([1, 2], 0) == 0

    class Twitch:
        """Gymnasium's heuristic lander, except that once down on both legs it fires a side engine every step."""

        def __init__(self, env: gym.Env) -> None:
            self.env = env.unwrapped

        def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[int, None]:
            if observation[6] > 0.5 and observation[7] > 0.5:
                return (1 if observation[2] >= 0 else 3), None
            return int(heuristic(self.env, observation)), None

    env = gym.make("LunarLander-v3")
    model = Twitch(env)
    played = run_episodes(model, env, [1, 2], record=True)
    assert played.truncated == [True, True]  # landed, but an engine keeps the body awake to the time limit
    rest = lunar_rest(model, "LunarLander-v3", played, loop=200)
    assert [row["both_legs_down"] for row in rest["stuck"]] == [True, True]
    assert [row["longest_noop_run"] for row in rest["stuck"]] == [0, 0]
    assert sum(rest["actions_in_loops"].values()) == 400 and set(rest["actions_in_loops"]) <= {"1", "3"}
    # No-op from step 800 on: the body falls asleep after 25 quiet steps (Box2D's half second at 50 frames
    # per second), and the episode ends there with +100.
    switched = [row["noop_from_loop_start"] for row in rest["stuck"]]
    assert [(run["terminated"], run["last_reward"], run["length"]) for run in switched] == [(True, 100.0, 825)] * 2
    # the last 20 of those 25 steps return the same observation: nothing in it says how near the +100 is;
    # and on it the twitching policy would fire again
    assert [run["still_steps"] for run in switched] == [20, 20]
    assert all(run["greedy_last"] in (1, 3) for run in switched)
    # k no-op from step 800, then the twitch again: nothing changes until the run is 25 steps long
    quiet = [row["quiet_runs"] for row in rest["stuck"]]
    assert quiet[0].keys() == {"1", "5", "10", "20", "24", "25", "30"}
    for runs in quiet:
        assert all(
            run["length"] == 1000 and not run["terminated"] and run["still_steps"] == 0
            for k, run in runs.items()
            if int(k) < 25
        )
        assert all(
            (run["terminated"], run["last_reward"], run["length"]) == (True, 100.0, 825)
            for k, run in runs.items()
            if int(k) >= 25
        )
    text = " ".join(rest_lines({"lunar_rest": rest, "loop_steps": 200}))
    assert "2 of the 2 stuck episodes are down on both legs" in text and "then only no-op: 2 of 2 end with +100" in text
    assert "k = 1: 0 of 2 end with +100" in text and "24: 0 of 2 end with +100" in text and "25: 2 of 2 end with +100" in text
    assert "In the 2 runs of k = 30 that end with +100, the observation stayed the same" in text
    assert "for the last 20 to 20 steps (median 20; 2 of 2 for 10 or more) before it" in text
    assert "greedy action is no-op in 0 of 2" in text
    assert rest_lines({"loop_steps": 200}) == []  # other envs' analyses have no such lines


def test_a_new_search_starts_from_the_entry(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import optuna

    from benchmarks import search
    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import convert_sarsa_params, entry_trial_params, sample_sarsa_params

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = search.journal_storage(tmp_path / "server.log")
    trials = search.enqueue_entry("LunarLander-v3", storage)
    assert [(t["loss"], t["target"]) for t in trials] == [
        ("huber", "sarsa"),
        ("mse", "sarsa"),
        ("mse", "expected"),
        ("huber", "expected"),
    ]
    assert search.enqueue_entry("LunarLander-v3", storage) == []  # a second call does not queue them twice
    study = optuna.load_study(study_name="sarsa_LunarLander-v3", storage=storage)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert [t.system_attrs["fixed_params"] for t in study.trials] == trials
    # The first trial is the entry as rl_zoo3 would train it (its buffer, 5,000, is one of the space's sizes).
    entry, _ = model_kwargs("LunarLander-v3")
    first = convert_sarsa_params(trials[0])
    assert first.pop("gamma") == pytest.approx(entry.pop("gamma"), abs=1e-12)
    del entry["learning_starts"]  # not searched: the zoo keeps the entry's
    assert first == {**entry, "n_steps": 1, "recent_eta": 1.0, "td_lambda": 0.0}
    # The conversions, on the entry before the search (dqn.yml's values): gradient_steps=-1 is one per
    # step collected, and a buffer between the space's sizes is rounded up (a buffer as large as the run
    # holds it all either way).
    before = {
        **entry,
        "learning_rate": 6.3e-4,
        "batch_size": 128,
        "buffer_size": 50_000,
        "gamma": 0.99,
        "target_update_interval": 250,
        "train_freq": 4,
        "gradient_steps": -1,
        "exploration_fraction": 0.12,
        "exploration_final_eps": 0.1,
    }
    assert convert_sarsa_params(entry_trial_params(before, "LunarLander-v3")) == {
        "learning_rate": 6.3e-4,
        "batch_size": 128,
        "train_freq": 4,
        "target_update_interval": 250,
        "gamma": 0.99,
        "gradient_steps": 4,
        "exploration_fraction": 0.12,
        "exploration_final_eps": 0.1,
        "policy_kwargs": {"net_arch": [256, 256]},
        "target": "sarsa",
        "loss": "huber",
        "n_steps": 1,
        "buffer_size": 100_000,
        "recent_eta": 1.0,
        "td_lambda": 0.0,
    }
    # Every value is inside the sampler's own space: its suggest calls accept them.
    for params in trials:
        assert sample_sarsa_params(optuna.trial.FixedTrial(params), 4, 1, {}) == convert_sarsa_params(params)
    # What the space cannot express is named, and a new study then starts without the entry.
    with pytest.raises(ValueError, match=r"train_freq=16 is not in the search space"):
        entry_trial_params({**before, "train_freq": 16}, "LunarLander-v3")
    with pytest.raises(ValueError, match=r"net_arch must be one of"):
        entry_trial_params({**before, "policy_kwargs": {"net_arch": [32, 32]}}, "LunarLander-v3")
    with pytest.raises(ValueError, match=r"learning_rate=.* constant rates and linear decays to 0"):
        entry_trial_params({**before, "learning_rate": lambda progress: 1e-3 * progress}, "LunarLander-v3")
    assert search.enqueue_entry("MountainCar-v0", storage) == []
    assert "sarsa.yml's entry not enqueued: the entry's train_freq=16" in capsys.readouterr().out
    # The report shows where the entry's trials stand.
    monkeypatch.setattr(search, "SEARCH", tmp_path / "search")
    monkeypatch.setattr(search, "DOCS", tmp_path / "docs")
    (tmp_path / "docs").mkdir()
    asked = study.ask()
    sample_sarsa_params(asked, 4, 1, {})  # as a worker does: the queued values come back
    assert asked.number == 0 and asked.params == trials[0]
    for step, value in enumerate([50.0, 80.0, 110.0, 140.0]):
        asked.report(value, step)
    study.tell(asked, 140.0)
    text = search.report("LunarLander-v3", study, "test")
    assert "| 0 | 0 | entry | huber | sarsa | complete | 140.0 | 110.0 |" in text
    assert "| 1 | 0 | loss=mse | mse | sarsa | waiting | - | - |" in text
    assert "| 3 | 0 | target=expected | huber | expected | waiting | - | - |" in text
    assert "| 0 (entry) | 140.0 | 110.0 |" in text
    second = study.ask()
    sample_sarsa_params(second, 4, 1, {})
    study.tell(second, 120.0)
    assert "| 1 (queued) | 120.0 |" in search.report("LunarLander-v3", study, "test")


def test_the_search_space_has_a_linear_learning_rate_decay(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    import optuna
    from rl_zoo3.utils import SimpleLinearSchedule
    from stable_baselines3.common.utils import LinearSchedule

    from benchmarks import search
    from sb3_sarsa.hyperparameters import LinearToZero, model_kwargs
    from sb3_sarsa.zoo import convert_sarsa_params, entry_trial_params, sample_sarsa_params

    entry, _ = model_kwargs("LunarLander-v3")
    constant = entry_trial_params(entry, "LunarLander-v3")
    assert constant["lr_schedule"] == "constant" and constant["learning_rate"] == entry["learning_rate"]
    # sarsa.yml's lin_<rate> (SB3's LinearSchedule to 0 over the run) and rl-zoo3's own schedule object
    for schedule in ("lin_6.3e-4", LinearSchedule(6.3e-4, 0.0, 1.0), SimpleLinearSchedule(6.3e-4)):
        params = entry_trial_params({**entry, "learning_rate": schedule}, "LunarLander-v3")
        assert (params["learning_rate"], params["lr_schedule"]) == (6.3e-4, "linear")
        assert convert_sarsa_params(params)["learning_rate"] == "lin_0.00063"  # as rl-zoo3's --trial-id reads it
        rate = search.trial_overrides("LunarLander-v3", 0, SimpleNamespace(trials=[SimpleNamespace(params=params)]))[
            "learning_rate"
        ]  # as a confirmation run trains it
        assert isinstance(rate, LinearToZero) and repr(rate) == "lin_0.00063"
        assert (rate(1.0), rate(0.5), rate(0.0)) == (6.3e-4, pytest.approx(3.15e-4), 0.0)
        assert sample_sarsa_params(optuna.trial.FixedTrial(params), 4, 1, {})["learning_rate"] == rate
        assert rate != LinearToZero(6.4e-4) and rate != LinearSchedule(6.3e-4, 0.0, 0.5)
    model = SARSA("MlpPolicy", "CartPole-v1", learning_rate=rate)  # a model saved with it loads with it
    model.save(tmp_path / "linear.zip")
    loaded = SARSA.load(tmp_path / "linear.zip")
    assert loaded.learning_rate == rate and loaded.lr_schedule(0.5) == pytest.approx(3.15e-4)
    with pytest.raises(ValueError, match=r"learning_rate=.* linear decays to 0"):
        entry_trial_params({**entry, "learning_rate": LinearSchedule(6.3e-4, 1e-5, 1.0)}, "LunarLander-v3")
    with pytest.raises(ValueError, match=r"lr_schedule 'cosine' is not one of"):
        convert_sarsa_params({**constant, "lr_schedule": "cosine"})
    # A trial sampled before the schedule was searched ran with a constant rate, and compares as one.
    before = {key: value for key, value in constant.items() if key != "lr_schedule"}
    assert convert_sarsa_params(before) == convert_sarsa_params(constant)
    assert search.same_params(before, constant) and search.same_params(constant, before)
    assert not search.same_params(before, {**constant, "lr_schedule": "linear"})
    # --variant learning_rate=lin_<rate> queues the entry with the decay
    variant = search.variant_params(
        entry, search.parse_variant(f"learning_rate=lin_{entry['learning_rate']}"), "LunarLander-v3"
    )
    assert variant == {**constant, "lr_schedule": "linear"}
    # The report shows the older trial with the rate it ran with.
    monkeypatch.setattr(search, "SEARCH", tmp_path / "search")
    monkeypatch.setattr(search, "DOCS", tmp_path / "docs")
    (tmp_path / "docs").mkdir()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    study.add_trial(completed_trial(before, [10.0, 20.0, 30.0]))
    study.add_trial(completed_trial(variant, [40.0, 50.0, 60.0]))
    lines = search.report("LunarLander-v3", study, "test").splitlines()
    column = next(line for line in lines if line.startswith("| trial | final eval")).split(" | ").index("lr_schedule")
    rows = sorted(line.split(" | ") for line in lines if line.startswith(("| 0", "| 1")))  # trials 0 and 1
    assert [row[column] for row in rows] == ["constant", "linear"]


def completed_trial(params: dict[str, Any], values: list[float]) -> Any:
    """:return: a complete Optuna trial with ``params`` that reported ``values`` (its value: the last)"""
    import optuna

    choices: dict[str, optuna.distributions.BaseDistribution] = {
        key: optuna.distributions.CategoricalDistribution([value]) for key, value in params.items()
    }
    return optuna.trial.create_trial(
        params=params, distributions=choices, value=values[-1], intermediate_values=dict(enumerate(values))
    )


def test_a_search_whose_winner_became_the_entry_queues_the_winners_variants(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import optuna

    from benchmarks import search
    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import entry_trial_params

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = search.journal_storage(tmp_path / "server.log")
    study = optuna.create_study(storage=storage, study_name="sarsa_LunarLander-v3", direction="maximize")
    entry = entry_trial_params(model_kwargs("LunarLander-v3")[0], "LunarLander-v3")
    # A sampled trial of another configuration, then the trial the entry was rounded from (0.3% off).
    other = {**entry, "train_freq": 1 if entry["train_freq"] != 1 else 4}
    winner = {**entry, "learning_rate": entry["learning_rate"] * 1.003}
    for params in (other, winner):
        study.add_trial(completed_trial(params, [100.0]))
    queued = search.enqueue_entry("LunarLander-v3", storage)
    assert [(t["loss"], t["target"]) for t in queued] == [("mse", "sarsa"), ("mse", "expected"), ("huber", "expected")]
    assert search.enqueue_entry("LunarLander-v3", storage) == []
    trials = optuna.load_study(study_name="sarsa_LunarLander-v3", storage=storage).trials
    assert [search.based_on(t.system_attrs["fixed_params"], trials) for t in trials[2:]] == [1, 1, 1]
    assert [t.user_attrs[search.BASE_ATTR] for t in trials[2:]] == [1, 1, 1]
    assert search.entry_trial("LunarLander-v3", study) == 1
    # Further changes to the entry: queued once, with what they change; outside the space, refused.
    variant = search.parse_variant("exploration_final_eps=0.01,gamma=0.99")
    assert variant == {"exploration_final_eps": 0.01, "gamma": 0.99}
    capsys.readouterr()
    (changed,) = search.enqueue_entry("LunarLander-v3", storage, (variant,))
    assert capsys.readouterr().out == f"queued sarsa.yml's entry, exploration_final_eps=0.01, gamma=0.99: {changed}\n"
    assert changed == {**entry, "exploration_final_eps": 0.01, "one_minus_gamma": pytest.approx(0.01)}
    assert search.enqueue_entry("LunarLander-v3", storage, (variant,)) == []
    last = optuna.load_study(study_name="sarsa_LunarLander-v3", storage=storage).trials[-1]
    assert last.user_attrs[search.CHANGE_ATTR] == "exploration_final_eps=0.01, gamma=0.99"
    assert last.user_attrs[search.BASE_ATTR] == 1  # the trial the entry was rounded from
    with pytest.raises(ValueError, match=r"train_freq=16 is not in the search space"):
        search.enqueue_entry("LunarLander-v3", storage, ({"train_freq": 16},))
    with pytest.raises(ValueError, match=r"exploraton_final_eps is not set by the search space's trials"):
        search.enqueue_entry("LunarLander-v3", storage, ({"exploraton_final_eps": 0.01},))  # a typo
    with pytest.raises(ValueError, match=r"buffer_size=3000 is not in the search space: a trial would have 5000"):
        search.enqueue_entry("LunarLander-v3", storage, ({"buffer_size": 3000},))
    with pytest.raises(ValueError, match=r"a variant is key=value"):
        search.parse_variant("exploration_final_eps")


def test_search_run_stopped_by_sigterm_stops_its_workers_and_exports(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import argparse
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    import optuna

    from benchmarks import search

    monkeypatch.setattr(search, "ROOT", tmp_path)
    monkeypatch.setattr(search, "SEARCH", tmp_path / "search")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = str(tmp_path / "server.log")  # a journal file stands for the PostgreSQL server
    study = optuna.create_study(study_name="sarsa_CartPole-v1", storage=search.optuna_storage(storage), direction="maximize")
    study.ask()  # trial 0: running before this run started (another run's, as far as this one knows)
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(command, **kwargs):  # type: ignore[no-untyped-def]
        started.append(real_popen(command, **kwargs))
        return started[-1]

    # Workers that start a trial and would run it for a minute, in place of rl-zoo3 (the log name comes after "-f").
    code = (
        "import time, optuna; from optuna.storages.journal import JournalFileBackend; "
        f"storage = optuna.storages.JournalStorage(JournalFileBackend({storage!r})); "
        "optuna.load_study(study_name='sarsa_CartPole-v1', storage=storage).ask(); time.sleep(60)"
    )
    worker = [sys.executable, "-c", code, "-f"]
    monkeypatch.setattr(search, "worker_command", lambda env_id, url, trials, budget, seed, args: [*worker, f"w{seed}"])
    monkeypatch.setattr(search.subprocess, "Popen", popen)
    args = argparse.Namespace(
        env="CartPole-v1", storage=storage, pg_dir=None, no_entry=True, n_timesteps=100, trials=1, workers=2, log_dir=tmp_path
    )

    def stop_once_both_workers_run_a_trial() -> None:
        deadline = time.monotonic() + 60
        while len(study.get_trials(states=(optuna.trial.TrialState.RUNNING,))) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Thread(target=stop_once_both_workers_run_a_trial, daemon=True)
    timer.start()
    with pytest.raises(SystemExit) as stopped:
        search.run(args)
    timer.join()
    assert stopped.value.code == 130
    assert len(started) == 2 and all(process.poll() is not None for process in started)  # no worker left running
    # The workers' trials are marked interrupted (failed); the one that was running before is not this run's.
    states = [(trial.state.name, trial.user_attrs) for trial in study.get_trials()]
    assert states == [("RUNNING", {}), ("FAIL", {"interrupted": True}), ("FAIL", {"interrupted": True})]
    assert search.journal_path("CartPole-v1").exists()  # the study was exported on the way out, after the marking
    exported = search.load_study("CartPole-v1", None)
    assert [trial.state.name for trial in exported.trials] == ["RUNNING", "FAIL", "FAIL"]
    assert signal.getsignal(signal.SIGTERM) is not search._raise_keyboard_interrupt  # the handler is restored


def test_the_mean_of_the_last_three_evaluations() -> None:
    from benchmarks.compare import last_three, mean_of_last_three
    from benchmarks.search import last_three as trial_last_three

    assert mean_of_last_three([100.0, 10.0, 20.0, 60.0]) == 30.0
    assert mean_of_last_three([10.0, 20.0]) == 15.0 and mean_of_last_three([]) is None
    run = {
        "env": "Acrobot-v1",
        "algo": "sarsa",
        "seed": 4,
        "curve": [(5000, -500.0), (10000, -90.0), (15000, -80.0), (20000, -70.0)],
    }
    assert last_three(run) == -80.0
    with pytest.raises(ValueError, match="Acrobot-v1 sarsa seed 4 has no evaluations"):
        last_three({**run, "curve": []})
    # A trial's reports, by step (not in the order they were stored).
    assert trial_last_three(SimpleNamespace(intermediate_values={3: 40.0, 0: 1000.0, 2: 30.0, 1: 20.0})) == 30.0
    assert trial_last_three(SimpleNamespace(intermediate_values={})) is None


def test_confirmation_takes_the_trials_with_the_best_last_three_evaluations() -> None:
    import optuna

    from benchmarks.search import confirm_candidates

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    distributions: dict[str, optuna.distributions.BaseDistribution] = {"x": optuna.distributions.FloatDistribution(0, 1)}
    # (evaluations): a lucky last evaluation, a steady one, a middling one, and a pruned trial
    for values, state in (
        ([0.0, -50.0, 240.0], optuna.trial.TrialState.COMPLETE),  # last three: 63.3
        ([150.0, 160.0, 170.0, 180.0], optuna.trial.TrialState.COMPLETE),  # 170.0
        ([100.0, 100.0, 100.0], optuna.trial.TrialState.COMPLETE),  # 100.0
        ([300.0], optuna.trial.TrialState.PRUNED),
    ):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.5},
                distributions=distributions,
                value=values[-1] if state == optuna.trial.TrialState.COMPLETE else None,
                intermediate_values=dict(enumerate(values)),
                state=state,
            )
        )
    assert confirm_candidates(study, 2) == [1, 2]
    assert confirm_candidates(study, 5) == [1, 2, 0]
    # a mean of exactly 0 is a mean, not a missing one: this trial ranks by 0.0, not by its final 90
    study.add_trial(
        optuna.trial.create_trial(
            params={"x": 0.5},
            distributions=distributions,
            value=90.0,
            intermediate_values={0: -90.0, 1: 0.0, 2: 90.0},
        )
    )
    assert confirm_candidates(study, 5) == [1, 2, 0, 4]


def study_with_the_entry_second() -> tuple[Any, dict[str, Any]]:
    """
    :return: a study of three complete trials, the second of them with the values of ``sarsa.yml``'s
        LunarLander-v3 entry and the lowest evaluations (0: 150-170, 1: 10-30, 2: 100-120), and the
        other trials' params
    """
    import optuna

    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import entry_trial_params

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    entry = entry_trial_params(model_kwargs("LunarLander-v3")[0], "LunarLander-v3")
    other = {**entry, "train_freq": 1 if entry["train_freq"] != 1 else 4}
    for params, values in ((other, [150.0, 160.0, 170.0]), (entry, [10.0, 20.0, 30.0]), (other, [100.0, 110.0, 120.0])):
        study.add_trial(completed_trial(params, values))
    return study, other


def test_confirmation_also_runs_the_entrys_trial() -> None:
    from benchmarks import search

    study, _ = study_with_the_entry_second()
    assert search.confirm_trials("LunarLander-v3", study, 1) == [0, 1]  # the best, then the entry
    assert search.confirm_trials("LunarLander-v3", study, 2) == [0, 2, 1]
    assert search.confirm_trials("LunarLander-v3", study, 3) == [0, 2, 1]  # already among them


def test_confirm_trials_adds_the_named_trials_whatever_their_state() -> None:
    import optuna

    from benchmarks import search

    study, other = study_with_the_entry_second()
    pruned = completed_trial({**other, "gamma_hint": 1}, [-50.0, -60.0])  # stopped by the median rule
    study.add_trial(
        optuna.trial.create_trial(
            params=pruned.params,
            distributions=pruned.distributions,
            intermediate_values=pruned.intermediate_values,
            state=optuna.trial.TrialState.PRUNED,
        )
    )
    study.enqueue_trial({"train_freq": 2})  # trial 4: queued, nothing sampled yet
    # Named trials come after the top ones, once each, and the entry's trial last.
    assert search.confirm_trials("LunarLander-v3", study, 1, (3, 2)) == [0, 3, 2, 1]
    assert search.confirm_trials("LunarLander-v3", study, 0, (3,)) == [3, 1]
    assert search.confirm_trials("LunarLander-v3", study, 2, (0, 1)) == [0, 2, 1]
    with pytest.raises(SystemExit, match=r"the study has no trial 7 \(its trials are 0-4\)"):
        search.confirm_trials("LunarLander-v3", study, 0, (7,))
    with pytest.raises(SystemExit, match=r"trial 4 has no sampled values to re-run \(state WAITING\)"):
        search.confirm_trials("LunarLander-v3", study, 0, (4,))
    # The report marks a pruned trial's search result, and compares rows of unequal seeds on the shared ones.
    assert search.searched_text(study.trials[3]) == "-55.0 (pruned)"
    assert search.searched_text(study.trials[0]) == "160.0"


def test_the_confirmation_table_compares_a_screen_on_the_seeds_it_shares(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import optuna

    from benchmarks import compare, search

    monkeypatch.setattr(search, "SEARCH", tmp_path / "benchmarks" / "search")
    monkeypatch.setattr(search, "stale_confirm_runs", lambda env_id, study, runs: [])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for values in ([150.0, 160.0, 170.0], [100.0, 110.0, 120.0]):
        study.add_trial(completed_trial({"x": 1}, values))
    # trial 0 on seeds 300-304, trial 1 screened on 300-302
    for trial, means, stuck in ((0, [100.0, 200.0, 300.0, 0.0, 0.0], [1, 2, 3, 50, 60]), (1, [10.0, 20.0, 60.0], [0, 0, 9])):
        for seed, (mean, n) in enumerate(zip(means, stuck, strict=True), start=300):
            compare.write_result(
                search.confirm_path("LunarLander-v3", trial, seed),
                {"seed": seed, "trial": trial, "final_eval_mean": mean, "final": {"mean": mean, "stuck": n}},
            )
    section = search.confirm_section("LunarLander-v3", study)
    assert any("on the seeds every row has (300-302)" in line for line in section)
    assert "| 0 | 160.0 | 5 | 100.0 | 100.0 | 116 | 200.0 | 100, 200, 300, 0, 0 | 1, 2, 3, 50, 60 |" in section
    assert "| 1 | 110.0 | 3 | 30.0 | 30.0 | 9 | 30.0 | 10, 20, 60 | 0, 0, 9 |" in section  # 3 seeds: IQM is the mean
    # with equal seeds the column is left out
    for seed in (303, 304):
        search.confirm_path("LunarLander-v3", 0, seed).unlink()
    section = search.confirm_section("LunarLander-v3", study)
    assert "| 0 | 160.0 | 3 | 200.0 | 200.0 | 6 | 100, 200, 300 | 1, 2, 3 |" in section
    assert not any("every row has" in line for line in section)


def test_stale_confirmation_runs_are_named_refused_and_flagged(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import optuna

    from benchmarks import compare, search
    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import entry_trial_params

    monkeypatch.setattr(compare, "RESULTS", tmp_path / "benchmarks" / "results")
    monkeypatch.setattr(search, "SEARCH", tmp_path / "benchmarks" / "search")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    entry = entry_trial_params(model_kwargs("LunarLander-v3")[0], "LunarLander-v3")
    study.add_trial(completed_trial({**entry, "train_freq": 1, "subsample_steps": 1}, [150.0, 160.0, 170.0]))
    monkeypatch.setattr(search, "load_study", lambda env_id, storage: study)
    # A confirmation run is the entry with the trial's values, as run_one records them.
    kwargs, budget = hyperparameters("LunarLander-v3", "sarsa")
    kwargs.update(search.trial_overrides("LunarLander-v3", 0, study))
    assert kwargs["train_freq"] == 1 and kwargs["gradient_steps"] == 1
    today = {key: repr(value) for key, value in kwargs.items()}
    runs: list[dict[str, Any]] = [
        {"env": "LunarLander-v3", "algo": "sarsa", "seed": 300, "trial": 0, "budget": budget, "hyperparameters": today},
        {  # the entry's learning_starts (outside the search space) was different when this one ran
            "env": "LunarLander-v3",
            "algo": "sarsa",
            "seed": 301,
            "trial": 0,
            "budget": budget,
            "hyperparameters": {**today, "learning_starts": "1000"},
        },
    ]
    stale = [f"benchmarks/search/LunarLander-v3/trial0_seed301.json (learning_starts: 1000 -> {today['learning_starts']})"]
    assert search.stale_confirm_runs("LunarLander-v3", study, runs) == stale
    for run in runs:
        compare.write_result(
            search.confirm_path("LunarLander-v3", 0, run["seed"]),
            {**run, "final_eval_mean": 1.0, "final": {"mean": 1.0, "stuck": 0}},
        )
    # confirm neither reruns (overwrites) it nor counts it as done; the report names it above the table.
    with pytest.raises(
        SystemExit, match=r"move them to benchmarks/archive/.*\n  benchmarks/search/LunarLander-v3/trial0_seed301"
    ):
        search.confirm("LunarLander-v3", 1, 2, 1)
    assert (
        json.loads(search.confirm_path("LunarLander-v3", 0, 301).read_text())["hyperparameters"]["learning_starts"] == "1000"
    )
    assert [run["seed"] for run in search.confirm_runs("LunarLander-v3")] == [300, 301]
    assert stale_section_lines(search, study) == compare.stale_section(stale)
    search.confirm_path("LunarLander-v3", 0, 301).unlink()
    assert stale_section_lines(search, study) == []
    # The row puts the trial's own search result (mean of its last three evaluations) beside the fresh seeds'.
    assert "| 0 | 160.0 | 1 | 1.0 | 1.0 | 0 | 1 | 0 |" in search.confirm_section("LunarLander-v3", study)


def stale_section_lines(search: Any, study: Any) -> list[str]:
    """:return: the lines of the confirmation section between its heading and its table"""
    section = search.confirm_section("LunarLander-v3", study)
    return section[
        2 : section.index(next(line for line in section if line.startswith("`python -m benchmarks.search confirm`")))
    ]


def test_the_search_report_names_the_trial_that_is_the_entry() -> None:
    from types import SimpleNamespace

    from benchmarks.search import entry_trial, same_params
    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import entry_trial_params

    assert same_params({"lr": 2.29e-4, "loss": "huber"}, {"lr": 2.2913e-4, "loss": "huber"})  # 3 digits
    assert not same_params({"lr": 2.31e-4, "loss": "huber"}, {"lr": 2.2913e-4, "loss": "huber"})  # 0.8% apart
    assert not same_params({"lr": 2.29e-4, "loss": "mse"}, {"lr": 2.29e-4, "loss": "huber"})
    assert not same_params({"lr": 2.29e-4}, {"lr": 2.29e-4, "loss": "huber"})
    entry = entry_trial_params(model_kwargs("LunarLander-v3")[0], "LunarLander-v3")
    unrounded = {key: value * 1.004 if isinstance(value, float) else value for key, value in entry.items()}
    other = {**entry, "loss": "mse" if entry["loss"] == "huber" else "huber"}
    trials = [SimpleNamespace(number=number, params=params) for number, params in enumerate([other, unrounded])]
    assert entry_trial("LunarLander-v3", SimpleNamespace(trials=trials)) == 1
    assert entry_trial("LunarLander-v3", SimpleNamespace(trials=trials[:1])) is None
    # The best-trials table labels the current entry, wherever it came from; an older queued entry is "queued".
    from benchmarks.search import queued_label

    assert queued_label(SimpleNamespace(number=1, system_attrs={}), 1) == " (entry)"  # a sampled winner
    assert queued_label(SimpleNamespace(number=0, system_attrs={"fixed_params": {}}), 1) == " (queued)"
    assert queued_label(SimpleNamespace(number=2, system_attrs={}), 1) == ""
    assert queued_label(SimpleNamespace(number=0, system_attrs={"fixed_params": {}}), None) == " (queued)"


def test_memory_growth_compares_dqn_on_sarsas_hyperparameters() -> None:
    from benchmarks.compare import hyperparameters
    from benchmarks.research.memory_growth import growth_per_10k, sarsa_only, variant_kwargs

    sarsa = variant_kwargs("LunarLander-v3", "sarsa")
    same = variant_kwargs("LunarLander-v3", "dqn-same")
    assert sarsa == hyperparameters("LunarLander-v3", "sarsa")[0] and "target" in sarsa and "loss" in sarsa
    assert sarsa_only() == {
        "target",
        "loss",
        "target_epsilon",
        "recent_eta",
        "recent_min_size",
        "exploration_zeta",
        "optimism",
        "td_lambda",
        "lambda_horizon",
    }
    assert same == {key: value for key, value in sarsa.items() if key not in {"target", "loss"}}
    assert variant_kwargs("LunarLander-v3", "dqn") == hyperparameters("LunarLander-v3", "dqn")[0]
    # From the first record at a third of the run (step 20,000 of 60,000) to the last: 30 MiB over 40,000 steps.
    trace = [
        {"step": step, "rss_mib": rss} for step, rss in ((5_000, 100.0), (10_000, 300.0), (20_000, 310.0), (60_000, 340.0))
    ]
    assert growth_per_10k(trace) == pytest.approx(7.5)


def test_soak_reads_current_and_peak_memory_from_proc() -> None:
    import pathlib

    if not pathlib.Path("/proc/self/status").exists():
        pytest.skip("no /proc/self/status (not Linux): the soak benchmark cannot read memory here")
    import mmap

    from benchmarks.soak import memory_mib

    before_current, before_peak = memory_mib()
    # 64 MiB of fresh anonymous pages, each touched: a numpy array could reuse memory the allocator already held
    # resident from earlier tests, and then the current figure would not move
    block = mmap.mmap(-1, 64 * 1024 * 1024)
    for offset in range(0, len(block), mmap.PAGESIZE):
        block[offset] = 1
    current, peak = memory_mib()
    assert 0 < before_current <= before_peak and current <= peak
    assert current - before_current > 50 and peak >= before_peak  # the block is resident
    block.close()
