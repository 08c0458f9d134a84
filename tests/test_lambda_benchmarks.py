"""The SARSA(lambda) benchmarks' variants, measures and verdicts (no training here)."""

from typing import Any

import pytest

from benchmarks import lambda_cost, lambda_learning
from benchmarks.compare import hyperparameters, with_overrides
from sb3_sarsa import SARSA


def test_episodes_until_the_smoothed_online_return_stays_above_the_level() -> None:
    level = lambda_learning.episodes_to_level
    # window 2: smoothed returns -100, -55, -10, -10: below -30 up to episode 2, so from episode 3 on
    assert level([-100, -10, -10, -10], window=2) == 3
    # a late fall: -10, -10, -55 (episode 3 below), -10: from episode 4 on
    assert level([-10, -10, -100, 80], window=2) == 4
    assert level([-10, -10], window=2) == 1  # never below
    assert level([-10, -10, -100], window=2) is None  # ends below
    assert level([]) is None
    # the window holds fewer episodes at the start: -40 alone is below, then (-40 - 10) / 2 = -25
    assert level([-40, -10, -20], window=50) == 2


@pytest.mark.parametrize("env_id", lambda_learning.ENVS)
def test_the_variants_differ_from_the_entry_only_in_the_return(env_id: str) -> None:
    from benchmarks import cliff
    from sb3_sarsa.hyperparameters import load_config

    entry = load_config()[env_id]
    runs = {}
    for variant in lambda_learning.VARIANTS:
        overrides = lambda_learning.overrides_of(env_id, variant)
        assert overrides["target"] == entry.get("target", "sarsa")  # Acrobot's entry is Expected SARSA
        if env_id == lambda_learning.CLIFF:
            runs[variant] = cliff.cliff_kwargs("sarsa", overrides)[0]
        else:
            runs[variant] = with_overrides(hyperparameters(env_id, "sarsa")[0], overrides)
        SARSA("MlpPolicy", "CartPole-v1" if env_id == lambda_learning.CLIFF else env_id, **runs[variant])
    return_keys = {"n_steps", "td_lambda"}

    def rest(kwargs: dict[str, Any]) -> dict[str, str]:
        return {key: repr(value) for key, value in kwargs.items() if key not in return_keys}

    assert rest(runs["one-step"]) == rest(runs["n3"]) == rest(runs["lambda"])
    assert runs["one-step"]["n_steps"] == runs["lambda"]["n_steps"] == 1 and runs["n3"]["n_steps"] == 3
    assert runs["lambda"]["td_lambda"] == lambda_learning.TD_LAMBDA
    assert runs["one-step"].get("td_lambda", 0.0) == runs["n3"].get("td_lambda", 0.0) == 0.0


def gym_run(variant: str, seed: int, step: int | None, final: float = 0.0) -> dict[str, Any]:
    return {
        "env": "MountainCar-v0",
        "variant": variant,
        "seed": seed,
        "budget": 120_000,
        "first_step_to_threshold": step,
        "final": {"mean": final},
        "steps_per_second": 100.0,
        "versions": "v",
    }


def cliff_run(seed: int, kind: str, error: float, returns: list[float]) -> dict[str, Any]:
    return {
        "env": lambda_learning.CLIFF,
        "variant": "lambda",
        "seed": seed,
        "path_kind": kind,
        "value_error": error,
        "episode_returns": returns,
        "online_last": returns[-1],
        "versions": "v",
    }


def test_lambda_is_judged_against_the_better_of_one_step_and_n_step() -> None:
    found = {
        "MountainCar-v0": {
            # one-step's median 60,000 is beaten by n3's 30,000: lambda must beat n3
            "one-step": [gym_run("one-step", seed, 60_000) for seed in range(4)],
            "n3": [gym_run("n3", seed, 30_000) for seed in range(4)],
            # a seed that never reaches the threshold counts as the budget + 1
            "lambda": [gym_run("lambda", seed, None if seed == 0 else 20_000) for seed in range(4)],
        }
    }
    assert lambda_learning.best_other(found["MountainCar-v0"], lambda_learning.steps_or_budget) == "n3"
    (row,) = lambda_learning.targets(found)
    assert "(`n_steps=3`) | 20000 vs 30000 (-10000 [" in row
    assert row.endswith("| tie (4 and 4 seeds) |")  # the seed that never got there keeps the interval across 0
    found["MountainCar-v0"]["lambda"] = [gym_run("lambda", seed, 20_000) for seed in range(4)]
    assert lambda_learning.targets(found)[0].endswith("| yes (4 and 4 seeds) |")
    table = "\n".join(lambda_learning.gym_table("MountainCar-v0", found["MountainCar-v0"]))
    assert "| lambda 0.8 | 0-3 | 20000 | 4/4 |" in table and "| one-step | 0-3 | 60000 | 4/4 |" in table


def test_the_report_names_the_seeds_and_the_command_of_an_env_with_more() -> None:
    assert lambda_learning.seed_span([gym_run("n3", seed, 1) for seed in (2, 0, 1)]) == "0-2"
    assert lambda_learning.seed_span([gym_run("n3", seed, 1) for seed in (0, 1, 5)]) == "0, 1, 5"
    assert lambda_learning.seed_span([gym_run("n3", 7, 1)]) == "7"
    ten = {"n3": [gym_run("n3", seed, 1) for seed in range(10)]}
    base = "`python -m benchmarks.lambda_learning --seeds 10 --jobs 2`"
    assert lambda_learning.commands_for({"MountainCar-v0": ten}) == base
    twenty = {"lambda": [gym_run("lambda", seed, 1) for seed in range(20)], **ten}
    assert lambda_learning.commands_for({"MountainCar-v0": ten, "LunarLander-v3": twenty}) == (
        f"{base}, then `python -m benchmarks.lambda_learning --envs LunarLander-v3 --variants lambda --seeds 20 --jobs 2`"
    )
    # every variant on 20 seeds, then two of them on 30: one command per seed count
    all_twenty = {variant: [gym_run(variant, seed, 1) for seed in range(20)] for variant in lambda_learning.VARIANTS}
    thirty = {**all_twenty, **{variant: [gym_run(variant, seed, 1) for seed in range(30)] for variant in ("n3", "lambda")}}
    assert lambda_learning.commands_for({"LunarLander-v3": thirty}) == (
        f"{base}, then `python -m benchmarks.lambda_learning --envs LunarLander-v3 --seeds 20 --jobs 2`, "
        "then `python -m benchmarks.lambda_learning --envs LunarLander-v3 --variants n3 lambda --seeds 30 --jobs 2`"
    )


def test_the_answer_names_what_has_not_run_yet() -> None:
    found: dict[str, dict[str, list[dict[str, Any]]]] = {
        "Acrobot-v1": {"one-step": [gym_run("one-step", 0, 20_000)], "n3": [gym_run("n3", 0, 20_000)]},
        "LunarLander-v3": {"lambda": [gym_run("lambda", 0, 20_000)]},
    }
    answer = lambda_learning.summary(found, [])[1]
    assert answer.endswith(
        "(not run yet: CliffWalking-v1, MountainCar-v0, LunarLander-v3 one-step and `n_steps=3`, Acrobot-v1 lambda 0.8)."
    )


def test_the_cliff_targets_read_the_value_error_and_the_paths() -> None:
    runs = [cliff_run(seed, "safe" if seed < 8 else "edge", 0.2 * seed, [-100.0] * 3 + [-20.0] * 60) for seed in range(10)]
    rows = lambda_learning.targets({lambda_learning.CLIFF: {"lambda": runs}})
    assert rows[0] == "| CliffWalking-v1: median value error <= 0.5 | 0.90 | **no** (10 seeds) |"
    assert rows[1] == "| CliffWalking-v1: safe path on >= 9 of 10 seeds | 8/10 | **no** |"
    table = "\n".join(lambda_learning.cliff_table({"lambda": runs}))
    assert "| lambda 0.8 | 0-9 | 24 | 0.90 | 3/10 | 8 / 2 / 0 | -20.0 |" in table


def test_the_cost_report_judges_the_default_horizon_against_the_target() -> None:
    measured = {
        "one-step": [1000.0, 2000.0, 1000],
        "n_steps=3": [1100.0, 1900.0, 1100],
        "lambda 0.8, horizon 8": [1200.0, 1800.0, 5000],
        lambda_cost.DEFAULT_KIND: [1300.0, 1700.0, 9000],
        "expected, lambda 0.8, horizon 16": [1500.0, 1600.0, 9000],
    }
    record = {
        "setting": "defaults",
        "command": "c",
        "rounds": 3,
        "date": "2026-01-01",
        "machine": "m",
        "versions": "v",
        "measured": measured,
    }
    slow = {**record, "setting": "mountaincar", "measured": {**measured, lambda_cost.DEFAULT_KIND: [3000.0, 900.0, 9000]}}
    text = lambda_cost.report([record, slow])
    defaults = "CartPole-v1 with SARSA's defaults (batch 32, 64 x 64 network)"
    assert f"{defaults}: 1.30x one-step's time per gradient step (met)" in text
    assert "0.85x its env steps per second, horizon 8 1.20x" in text
    assert "MountainCar-v0 with its sarsa.yml entry (batch 128, 256 x 256 network): 3.00x" in text and "(missed)" in text
    assert f"| {lambda_cost.DEFAULT_KIND} | 1300 | 1.30 | 1700 | 0.85 | 9,000 | 9.0 |" in text
    assert "(nothing measured)" in lambda_cost.report([])


def test_every_cost_setting_builds_its_kinds() -> None:
    for setting in lambda_cost.SETTINGS:
        for kind in lambda_cost.KINDS.values():
            kwargs = {**lambda_cost.setting_kwargs(setting), **kind}
            model = SARSA("MlpPolicy", lambda_cost.SETTINGS[setting][0], **kwargs)
            assert model.n_steps == kind["n_steps"] and model.td_lambda == kind.get("td_lambda", 0.0)
    assert lambda_cost.setting_kwargs("mountaincar")["batch_size"] == 128


def test_the_buffers_lambda_fixed_point_at_lambda_0_is_the_one_step_one() -> None:
    # benchmarks.research.lambda_cliff compares the two on a final buffer: at lambda 0 they must be the same table
    import numpy as np
    from gymnasium import make
    from stable_baselines3.common.monitor import Monitor

    from benchmarks.research.cliff_bias import buffer_fixed_point, buffer_transitions
    from benchmarks.research.lambda_cliff import buffer_lambda_fixed_point

    model = SARSA("MlpPolicy", Monitor(make("CliffWalking-v1", max_episode_steps=30)), learning_starts=50, seed=0)
    model.learn(400)
    unseen = np.full((48, 4), -5.0)
    samples = buffer_transitions(model)
    one_step = buffer_fixed_point(samples, 0.9, unseen)
    np.testing.assert_allclose(buffer_lambda_fixed_point(model.replay_buffer, 4, 0.0, 0.9, unseen), one_step, atol=1e-4)
    longer = buffer_lambda_fixed_point(model.replay_buffer, 4, 0.5, 0.9, unseen)
    assert np.isfinite(longer).all() and np.abs(longer - one_step).max() > 1e-3  # the sequences do enter


def test_an_env_without_a_step_target_is_compared_in_the_answer_only() -> None:
    acrobot = {
        variant: [{**gym_run(variant, seed, steps), "env": "Acrobot-v1"} for seed in range(4)]
        for variant, steps in (("one-step", 30_000), ("n3", 20_000), ("lambda", 10_000))
    }
    found = {"Acrobot-v1": acrobot}
    assert lambda_learning.targets(found) == []
    answer = lambda_learning.summary(found, [])[1]
    assert "On Acrobot-v1 (no target) a median 10000 steps against 20000 for `n_steps=3` (yes, [-10000, -10000])" in answer


def test_beside_the_targets_compares_the_share_at_threshold_and_the_final_score_with_the_target_rows_variant() -> None:
    found = {
        "MountainCar-v0": {
            "lambda": [gym_run("lambda", seed, 1_000, final=100.0) for seed in range(10)],
            "n3": [gym_run("n3", seed, 1_000 if seed < 5 else None, final=50.0) for seed in range(10)],
        }
    }
    share, final = lambda_learning.beside_targets(found)
    assert share.startswith("| MountainCar-v0 | share of seeds at threshold | `n_steps=3` | 1.00 vs 0.50 | +0.50 [")
    assert share.endswith("| lambda higher |")
    assert final == (
        "| MountainCar-v0 | final (100 starts) IQM | `n_steps=3` | 100.0 vs 50.0 | +50.00 [+50.00, +50.00] | lambda higher |"
    )
    found["MountainCar-v0"]["lambda"] = [gym_run("lambda", seed, 1_000, final=50.0) for seed in range(10)]
    assert lambda_learning.beside_targets(found)[1].endswith("| +0.00 [+0.00, +0.00] | tie |")
    assert lambda_learning.beside_targets({}) == []


def test_lambda_enters_an_entry_only_where_it_wins_on_the_choosing_and_on_the_fresh_seeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sb3_sarsa import hyperparameters

    # the last column reads the entry as sarsa.yml has it now
    monkeypatch.setattr(hyperparameters, "load_config", lambda: {"MountainCar-v0": {"n_steps": 3}})

    def runs(lambda_steps: int, n3_steps: int, seeds: range) -> dict[str, list[dict[str, Any]]]:
        return {
            "lambda": [gym_run("lambda", seed, lambda_steps + 100 * seed) for seed in seeds],
            "n3": [gym_run("n3", seed, n3_steps + 100 * seed) for seed in seeds],
        }

    choosing = lambda_learning.CHOOSING_SEEDS
    assert choosing == range(10)
    won = runs(20_000, 40_000, choosing)
    (row,) = lambda_learning.entry_checks({"MountainCar-v0": won})
    assert row.startswith("| MountainCar-v0 | `n_steps=3` | 20450 vs 40450 (-20000 [")
    assert row.endswith("]) | yes | none |  |  | not judged yet | `n_steps=3` |")
    # fresh seeds where lambda wins again: the entry should use lambda, and the answer says so
    fresh = runs(30_000, 50_000, range(10, 14))
    both = {variant: won[variant] + fresh[variant] for variant in won}
    (row,) = lambda_learning.entry_checks({"MountainCar-v0": both})
    assert "| yes | 10-13 and 10-13 | 31150 vs 51150 (-20000 [" in row and row.endswith("| lambda 0.8 | `n_steps=3` |")
    assert (
        "on MountainCar-v0's seeds 10-13, which chose nothing, lambda took a median 31150 steps against 51150 "
        "for `n_steps=3` (yes, " in lambda_learning.summary({"MountainCar-v0": both}, [])[1]
    )
    # the target row counts every seed; the choice counts only seeds 0-9 (here a tie on the fresh seeds)
    tied = runs(50_000, 50_000, range(10, 14))
    both = {variant: won[variant] + tied[variant] for variant in won}
    (row,) = lambda_learning.entry_checks({"MountainCar-v0": both})
    assert row.endswith("| tie | not lambda: no win on the fresh seeds | `n_steps=3` |")
    assert "its sarsa.yml entry should use its present return" in lambda_learning.summary({"MountainCar-v0": both}, [])[1]
    # a tie on the choosing seeds: the fresh seeds are shown, and cannot make lambda the entry's return
    first_tie = runs(40_000, 40_000, choosing)
    both = {variant: first_tie[variant] + fresh[variant] for variant in won}
    (row,) = lambda_learning.entry_checks({"MountainCar-v0": both})
    assert "| tie | 10-13 and 10-13 |" in row and "| yes | not lambda: no win on seeds 0-9 |" in row


def test_a_variant_keeps_only_its_own_return_when_the_entry_has_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    from sb3_sarsa import hyperparameters

    entry = {"MountainCar-v0": {"n_steps": 1, "td_lambda": 0.8, "target": "sarsa"}}
    monkeypatch.setattr(hyperparameters, "load_config", lambda: entry)
    assert lambda_learning.overrides_of("MountainCar-v0", "n3") == {"n_steps": 3, "td_lambda": 0.0, "target": "sarsa"}
    assert lambda_learning.overrides_of("MountainCar-v0", "one-step")["td_lambda"] == 0.0
    assert lambda_learning.overrides_of("MountainCar-v0", "lambda")["td_lambda"] == lambda_learning.TD_LAMBDA
    # the report's last column reads the entry's lambda
    runs = {variant: [gym_run(variant, seed, 20_000) for seed in range(3)] for variant in ("lambda", "n3")}
    assert lambda_learning.entry_checks({"MountainCar-v0": runs})[0].endswith("| `td_lambda=0.8` |")


def test_the_looks_at_a_step_target_are_read_from_the_recorded_commands() -> None:
    commands = [
        "python -m benchmarks.lambda_learning --envs CliffWalking-v1 MountainCar-v0 --seeds 10 --jobs 2",
        "python -m benchmarks.lambda_learning --envs LunarLander-v3 --seeds 10 --jobs 1",
        "python -m benchmarks.lambda_learning --envs LunarLander-v3 --variants lambda n3 --seeds 30 --jobs 2",
        "python -m benchmarks.lambda_learning --jobs 2",  # every env, the default 10 seeds: not a new look
        "python -m benchmarks.lambda_learning --envs MountainCar-v0 --variants lambda n3 --seeds 20 --jobs 2",
    ]
    assert lambda_learning.looks_of("LunarLander-v3", commands) == [10, 30]
    assert lambda_learning.looks_of("MountainCar-v0", commands) == [10, 20]
    assert lambda_learning.looks_of("Acrobot-v1", commands) == [10]
    assert lambda_learning.looks_of("Acrobot-v1", []) == []


def test_a_step_target_looked_at_often_is_widened_and_judged_on_its_last_looks_seeds_alone() -> None:
    from benchmarks.common import difference_interval, median

    def runs(lambda_steps: int, n3_steps: int, seeds: range) -> dict[str, list[dict[str, Any]]]:
        return {
            "lambda": [gym_run("lambda", seed, lambda_steps + 1_000 * (seed % 7)) for seed in seeds],
            "n3": [gym_run("n3", seed, n3_steps + 1_000 * (seed % 5)) for seed in seeds],
        }

    # seeds 0-29 a near tie, seeds 30-39 a clear win
    first, last = runs(30_000, 33_000, range(30)), runs(20_000, 60_000, range(30, 40))
    found = {"MountainCar-v0": {variant: first[variant] + last[variant] for variant in first}}
    commands = [f"python -m benchmarks.lambda_learning --envs MountainCar-v0 --seeds {seeds}" for seeds in (10, 20, 30, 40)]
    ((env_id, looks, comparison, level, low, high, fresh),) = lambda_learning.look_checks(found, commands)
    assert (env_id, looks, level) == ("MountainCar-v0", [10, 20, 30, 40], 1.0 - 0.05 / 4)
    assert (low, high) == difference_interval(comparison[1], comparison[2], median, level=level)[1:]
    assert low <= comparison[4] and comparison[5] <= high  # wider than the 95% interval
    assert fresh is not None and fresh[1] == "30-39"
    assert fresh[0][1] == lambda_learning.steps_or_budget(last["lambda"])  # the last look's seeds only
    (row,) = lambda_learning.looks_rows(lambda_learning.look_checks(found, commands))
    assert row.startswith("| MountainCar-v0 | `n_steps=3` | 10, 20, 30, 40 | ")
    assert "| 98.75%: [" in row and "| 30-39: 23000 vs 62000 (-39000 [" in row and row.endswith("yes |")
    # a caveat in the answer only where the 95% win does not survive the widening
    win: lambda_learning.StepComparison = ("n3", [1.0, 2.0], [3.0, 4.0], -2.0, -3.0, -1.0)
    caveats = lambda_learning.looks_caveats([("LunarLander-v3", [10, 20], win, 0.975, -3.5, 0.0, (win, "10-19"))])
    assert caveats == [
        "LunarLander-v3's target was looked at after 10, 20 seeds: widened for 2 looks (97.50%) its interval is "
        "[-4, +0], a tie; on seeds 10-19 alone, which no earlier look saw, a median 2 steps against 4 for "
        "`n_steps=3` (yes, [-3, -1])"
    ]
    assert lambda_learning.looks_caveats([("LunarLander-v3", [10, 20], win, 0.975, -3.5, -0.5, None)]) == []
    tie = ("n3", [1.0, 2.0], [3.0, 4.0], -2.0, -3.0, +1.0)
    assert lambda_learning.looks_caveats([("LunarLander-v3", [10, 20], tie, 0.975, -3.5, 2.0, None)]) == []
    single = lambda_learning.look_checks(found, commands[-1:])
    assert single[0][3] == 0.95 and single[0][6] is None and lambda_learning.looks_caveats(single) == []


def test_a_wider_level_gives_a_wider_bootstrap_interval_from_the_same_draws() -> None:
    from benchmarks.common import difference_interval, median

    ours, theirs = [1.0, 2.0, 3.0, 4.0, 9.0], [2.0, 3.0, 5.0, 8.0, 13.0]
    assert difference_interval(ours, theirs, median) == difference_interval(ours, theirs, median, level=0.95)
    _, low, high = difference_interval(ours, theirs, median)
    _, wide_low, wide_high = difference_interval(ours, theirs, median, level=0.99)
    assert wide_low <= low and high <= wide_high and (wide_low, wide_high) != (low, high)
