"""
SARSA + HER against DQN + HER on SB3's ``BitFlippingEnv``, with the same hyperparameters.

    python -m benchmarks.her                    # N = 8 and 15, 5 seeds, SARSA and DQN
    python -m benchmarks.her --bits 10 --seeds 20   # SB3's own test_performance_her setting
    python -m benchmarks.her --report-only      # only the table in docs/research/HER.md

Both algorithms get ``replay_buffer_class=HerReplayBuffer`` (SB3's class, as DQN code writes it;
SARSA swaps in its own ``HerSarsaReplayBuffer``) and ``HER_PARAMS``; SARSA keeps its own defaults
for the rest (its target and the MSE loss), DQN its own (Huber). Each run ends with 100 greedy
episodes on a separate env: the success rate is the share that reached the goal
(``info["is_success"]``). Runs are interleaved, at most ``--jobs`` at once, each in its own process;
results in ``benchmarks/her/``, skipped when present (the command resumes).
"""

import argparse
import datetime
import json
import pathlib
import time
from typing import Any

import numpy as np

from benchmarks.common import (
    DOCS,
    ROOT,
    command_line,
    pending_runs,
    produced_by,
    record_command,
    run_processes,
    write_result,
    written_on,
)

RESULTS = ROOT / "benchmarks" / "her"
BITS = (8, 10, 15)
ALGOS = ("sarsa", "dqn")
#: The same for both algorithms (only SARSA's target and loss differ, by their defaults).
HER_PARAMS: dict[str, Any] = dict(
    learning_rate=1e-3,
    buffer_size=100_000,
    learning_starts=1000,
    batch_size=128,
    gamma=0.95,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=500,
    exploration_fraction=0.1,
    exploration_final_eps=0.05,
    policy_kwargs=dict(net_arch=[256, 256]),
)
#: N = 10 is the setting of SB3's ``test_performance_her`` (tests/test_her.py, SB3 2.x): 2 envs, 5 sampled goals.
SB3_TEST_PARAMS: dict[str, Any] = dict(
    learning_rate=2e-3,
    buffer_size=100_000,
    learning_starts=100,
    batch_size=32,
    train_freq=1,
    gradient_steps=2,
    target_update_interval=100,
    exploration_final_eps=0.02,
)
PARAMS = {8: HER_PARAMS, 10: SB3_TEST_PARAMS, 15: HER_PARAMS}
N_ENVS = {8: 1, 10: 2, 15: 1}
N_SAMPLED_GOAL = {8: 4, 10: 5, 15: 4}
BUDGET = {8: 10_000, 10: 1_500, 15: 50_000}
#: SB3's test judges the training success (``ep_success_buffer``) over the last episodes.
TRAINING_EPISODES = 50
EVAL_EPISODES = 100


def run_one(n_bits: int, algo: str, seed: int) -> dict[str, Any]:
    import torch as th
    from stable_baselines3 import DQN, HerReplayBuffer
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.envs import BitFlippingEnv

    from sb3_sarsa import SARSA

    th.set_num_threads(1)
    model_class: Any = DQN if algo == "dqn" else SARSA
    model = model_class(
        "MultiInputPolicy",
        make_vec_env(lambda: BitFlippingEnv(n_bits=n_bits), N_ENVS[n_bits]),
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs=dict(n_sampled_goal=N_SAMPLED_GOAL[n_bits], goal_selection_strategy="future"),
        seed=seed,
        **PARAMS[n_bits],
    )
    start = time.perf_counter()
    model.learn(BUDGET[n_bits])
    seconds = time.perf_counter() - start
    training_success = float(np.mean(list(model.ep_success_buffer)[-TRAINING_EPISODES:]))
    env = BitFlippingEnv(n_bits=n_bits)
    env.reset(seed=10_000 + seed)
    successes = 0
    for _ in range(EVAL_EPISODES):
        obs: Any
        obs, _ = env.reset()
        done = False
        info: dict[str, Any] = {}
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        successes += bool(info.get("is_success", False))
    return {
        "n_bits": n_bits,
        "algo": algo,
        "seed": seed,
        "budget": BUDGET[n_bits],
        "n_envs": N_ENVS[n_bits],
        "n_sampled_goal": N_SAMPLED_GOAL[n_bits],
        "hyperparameters": {key: repr(value) for key, value in PARAMS[n_bits].items()},
        "success_rate": successes / EVAL_EPISODES,
        "training_success": training_success,
        "seconds": seconds,
    }


def result_path(n_bits: int, algo: str, seed: int) -> pathlib.Path:
    return RESULTS / f"bits{n_bits}_{algo}_seed{seed}.json"


def stored_runs() -> list[dict[str, Any]]:
    """:return: every stored result, sorted by seed"""
    return sorted((json.loads(path.read_text()) for path in RESULTS.glob("*.json")), key=lambda run: run["seed"])


def summary_rows(runs: list[dict[str, Any]]) -> list[tuple[int, str, list[float]]]:
    """:return: (N, algorithm, success rates by seed) for every run of ``runs`` (:func:`stored_runs`)"""
    found: dict[tuple[int, str], list[float]] = {}
    for result in runs:
        found.setdefault((result["n_bits"], result["algo"]), []).append(result["success_rate"])
    return [(n_bits, algo, found[(n_bits, algo)]) for n_bits, algo in sorted(found)]


def table(rows: list[tuple[int, str, list[float]]]) -> list[str]:
    """:return: the markdown table of :func:`summary_rows`: mean success rate and each seed's, per env and algorithm"""
    return [
        "| env | algorithm | seeds | mean success rate | per seed |",
        "|---|---|---|---|---|",
        *[
            f"| BitFlippingEnv(n_bits={n_bits}) | {'SARSA + HER' if algo == 'sarsa' else 'DQN + HER'} | {len(rates)} | "
            f"{np.mean(rates):.2f} | {', '.join(f'{rate:.2f}' for rate in rates)} |"
            for n_bits, algo, rates in rows
        ],
    ]


def per_seed(runs: list[dict[str, Any]], n_bits: int, algo: str, field: str) -> list[float]:
    """:return: ``field`` of every run of ``runs`` (:func:`stored_runs`) of the setting and algorithm, by seed"""
    return [run[field] for run in runs if run["n_bits"] == n_bits and run["algo"] == algo and field in run]


def verdicts(runs: list[dict[str, Any]]) -> list[str]:
    """:return: per setting and measure, SARSA minus DQN with its bootstrap interval, and the verdict"""
    from benchmarks.compare import difference_interval, mean, verdict_of_interval

    lines = []
    for n_bits in BITS:
        for field, label in (("success_rate", "greedy success, 100 episodes"), ("training_success", TRAINING_LABEL)):
            ours, theirs = per_seed(runs, n_bits, "sarsa", field), per_seed(runs, n_bits, "dqn", field)
            if not ours or not theirs:
                continue
            difference, low, high = difference_interval(ours, theirs, mean)
            lines.append(
                f"| n_bits={n_bits} | {label} | {len(ours)} vs {len(theirs)} | {mean(ours):.3f} vs {mean(theirs):.3f} | "
                f"{difference:+.3f} [{low:+.3f}, {high:+.3f}] | {verdict_of_interval(low, high)} |"
            )
    return lines


TRAINING_LABEL = f"training success, last {TRAINING_EPISODES} episodes (SB3's test)"
SUMMARY = [
    "**Question.** Does SARSA + HER learn as well as DQN + HER, on SB3's `test_performance_her` "
    "setting (N = 10) and on N = 8, 15?",
    "**Answer.** Yes since sb3-sarsa 0.3.0, where a relabelled row bootstraps from the current policy's action",
    "for its new goal: every difference below is a tie. With the stored `a'` (0.2.0, same seeds) its",
    "training success at N = 10 was 0.35 (`benchmarks/archive/her-stored-next-action/`).",
    "**Command.** `python -m benchmarks.her`.",
]


def report(command: str) -> str:
    runs = stored_runs()
    rows = summary_rows(runs)
    params = ", ".join(f"`{key}={value!r}`" for key, value in HER_PARAMS.items())
    sb3_params = ", ".join(f"`{key}={value!r}`" for key, value in SB3_TEST_PARAMS.items())
    return "\n".join(
        [
            "# HER: SARSA and DQN on BitFlippingEnv",
            "",
            *SUMMARY,
            "",
            f"Results produced by {produced_by(RESULTS)}; this report by `{command}` (see `benchmarks/her.py`),",
            f"{datetime.date.today().isoformat()}. {written_on()}.",
            "",
            "Both algorithms get `replay_buffer_class=HerReplayBuffer` and the same values. N = 8 and 15:",
            f'`n_sampled_goal=4`, `goal_selection_strategy="future"`, one env, {params}. N = 10 is SB3\'s',
            f"`test_performance_her` (`tests/test_her.py`): 2 envs, `n_sampled_goal=5`, {sb3_params}. Budget: "
            + ", ".join(f"{steps:,} steps for n_bits={n_bits}" for n_bits, steps in BUDGET.items())
            + f". Greedy success: share of {EVAL_EPISODES} greedy episodes that reached the goal, after training;"
            f" training success: share of the last {TRAINING_EPISODES} training episodes (SB3's test asks > 0.90 on seed 0).",
            "",
            *table(rows),
            "",
            "Target: SARSA + HER's mean success at least DQN + HER's in every setting. SARSA minus DQN, with a 95%",
            "bootstrap interval over seeds (`tie` where it contains 0, which meets the target):",
            "",
            "| env | measure | seeds | SARSA vs DQN | difference [95% interval] | met |",
            "|---|---|---|---|---|---|",
            *verdicts(runs),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.her", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", nargs="+", type=int, default=list(BITS), choices=BITS)
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--run", nargs=3, metavar=("BITS", "ALGO", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        n_bits, algo, seed = int(args.run[0]), args.run[1], int(args.run[2])
        write_result(result_path(n_bits, algo, seed), run_one(n_bits, algo, seed))
        return
    command = command_line("benchmarks.her")
    if not args.report_only:
        record_command(RESULTS, command)
        keys = [(n_bits, algo, seed) for n_bits in args.bits for seed in range(args.seeds) for algo in args.algos]
        runs = pending_runs("benchmarks.her", keys, result_path, label_prefix="bits ")
        run_processes(runs, args.jobs, lambda result: f"success rate {result['success_rate']:.2f}, {result['seconds']:.0f}s")
    DOCS.mkdir(exist_ok=True)
    (DOCS / "HER.md").write_text(report(command))
    print(f"wrote {DOCS / 'HER.md'}")


if __name__ == "__main__":
    main()
