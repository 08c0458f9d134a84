"""
Sutton & Barto's cliff (Example 6.6) with deep SARSA, Expected SARSA and SB3's DQN.

    python -m benchmarks.cliff                 # 10 seeds of every algorithm (about 25 minutes on 2 cores)
    python -m benchmarks.cliff --seeds 3 --algos sarsa dqn
    python -m benchmarks.cliff --report-only   # docs/research/CLIFF.md and its two plots from the stored results

``CliffWalking-v1`` (4 x 12 grid, -1 per step, -100 and back to the start for a step into the
cliff) with a time limit of ``TIME_LIMIT`` steps, whose truncation bootstraps as everywhere in SB3.
Every algorithm trains with the ``CliffWalking-v1`` entry of ``hyperparams/sarsa.yml`` and its own
defaults for the rest: SARSA's loss is MSE, DQN's is Huber. ``sarsa-huber`` is SARSA with DQN's loss, to show
what the loss alone changes; ``expected`` is Expected SARSA with ``target_epsilon`` at the entry's final
epsilon (see :func:`cliff_kwargs`).

Each run records the return of every training episode (the online return, exploration included,
as Sutton & Barto's Figure 6.4 plots it), the learned Q-values of every state at the end, and the
greedy path from the start. The report compares ``max_a Q(start)`` with the exact fixed points of
both backups, computed from the env's transition table (:mod:`sb3_sarsa.exact`).

Runs are interleaved (seed 0 of every algorithm, then seed 1, ...), at most ``--jobs`` at once,
each in its own process with one torch thread; each writes
``benchmarks/cliff/<algo>_seed<k>.json`` when it ends and is skipped when that file exists, so
the command resumes where it stopped.
"""

import argparse
import datetime
import functools
import json
import pathlib
from typing import Any

import numpy as np

from benchmarks.common import (
    DOCS,
    ROOT,
    command_line,
    difference_interval,
    discussion_section,
    median,
    pending_runs,
    produced_by,
    record_command,
    run_processes,
    verdict_of_interval,
    write_result,
    written_on,
)

RESULTS = ROOT / "benchmarks" / "cliff"
ENV_ID = "CliffWalking-v1"
TIME_LIMIT = 100
EPSILON = 0.1
GAMMA = 0.99
START = 36
#: The reward of a step into the cliff (and back to the start).
FALL_REWARD = -100.0
ALGOS = ("sarsa", "expected", "sarsa-huber", "dqn")
LABELS = {
    "sarsa": "SARSA (MSE, default)",
    "expected": "Expected SARSA (MSE, default loss, target_epsilon 0.1)",
    "sarsa-huber": "SARSA (Huber)",
    "dqn": "DQN (Huber, its default)",
}
#: The cliff's targets, for SARSA and Expected SARSA with the default loss.
SAFE_SEEDS_TARGET = 0.9
VALUE_ERROR_TARGET = 0.5
ONLINE_RETURN_TARGET = -30.0
LAST_EPISODES = 100
SMOOTHING = 50


def cliff_kwargs(algo: str, overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], int]:
    """
    Every algorithm trains with the ``CliffWalking-v1`` entry of ``hyperparams/sarsa.yml`` (what
    ``rl_zoo3 train --algo sarsa`` uses), its own defaults for the rest: DQN drops SARSA's
    ``target`` and ``loss``, ``sarsa-huber`` changes the loss, ``expected`` the target, whose
    ``target_epsilon`` is the entry's ``exploration_final_eps`` (the value of the epsilon-0.1 policy
    from the start, while the behaviour's epsilon still decays: ``benchmarks.research.cliff_discovery``).

    :param overrides: constructor arguments that replace the entry's (a diagnostic's variant)
    :return: the constructor arguments and the step budget
    """
    from sb3_sarsa.hyperparameters import model_kwargs

    kwargs, run = model_kwargs(ENV_ID)
    if algo == "expected":
        kwargs.update(target="expected", target_epsilon=kwargs["exploration_final_eps"])
    elif algo == "sarsa-huber":
        kwargs["loss"] = "huber"
    kwargs.update(overrides or {})
    if algo == "dqn":  # SARSA's arguments, the entry's and a variant's
        for key in ("target", "loss", "target_epsilon"):
            kwargs.pop(key, None)
    return kwargs, int(run["n_timesteps"])


def make_env() -> Any:
    import gymnasium as gym

    return gym.make(ENV_ID, max_episode_steps=TIME_LIMIT)


@functools.cache
def exact_values() -> dict[str, np.ndarray]:
    """:return: the exact Q-tables of the epsilon-greedy (SARSA) and greedy (Q-learning) backups"""
    from sb3_sarsa.exact import action_values, transition_table

    table = transition_table(make_env())
    return {"epsilon-greedy": action_values(table, GAMMA, EPSILON), "greedy": action_values(table, GAMMA)}


@functools.cache
def falling_pairs() -> np.ndarray:
    """:return: ``falls[s, a]`` (read-only), true where action ``a`` at ``s`` steps into the cliff"""
    from sb3_sarsa.exact import transition_table

    table = transition_table(make_env())
    falls = np.zeros((len(table), len(table[0])), dtype=bool)
    for state, actions in table.items():
        for action, outcomes in actions.items():
            falls[state, action] = any(reward <= FALL_REWARD for _, _, reward, _ in outcomes)
    falls.flags.writeable = False
    return falls


@functools.cache
def edge_states() -> frozenset[int]:
    """:return: the states from which one step can fall into the cliff (the start is one of them)"""
    return frozenset(int(state) for state in np.flatnonzero(falling_pairs().any(axis=1)))


def classify_path(path: list[int], reached_goal: bool) -> str:
    """
    :param path: the greedy path, from the start to the goal if ``reached_goal``
    :return: ``"safe"`` (goal reached, never next to the cliff between start and goal), ``"edge"``
        (goal reached along the cliff) or ``"no goal"``
    """
    if not reached_goal:
        return "no goal"
    return "edge" if set(path[1:-1]) & edge_states() else "safe"


def train_agent(algo: str, seed: int, overrides: dict[str, Any] | None = None) -> tuple[Any, Any, dict[str, Any], int]:
    """
    Train one agent on the cliff.

    :param overrides: see :func:`cliff_kwargs`
    :return: the model, its ``Monitor``-wrapped env, its constructor arguments and its step budget
    """
    import torch as th
    from stable_baselines3 import DQN
    from stable_baselines3.common.monitor import Monitor

    from sb3_sarsa import SARSA

    th.set_num_threads(1)
    env = Monitor(make_env())
    kwargs, timesteps = cliff_kwargs(algo, overrides)
    model_class: Any = DQN if algo == "dqn" else SARSA
    model = model_class("MlpPolicy", env, seed=seed, **kwargs)
    model.learn(timesteps)
    return model, env, kwargs, timesteps


def record(model: Any, env: Any, algo: str, seed: int, kwargs: dict[str, Any], timesteps: int) -> dict[str, Any]:
    """:return: the record of a trained agent: its values, greedy path and online returns"""
    import torch as th

    from sb3_sarsa.exact import greedy_path, transition_table

    with th.no_grad():
        q_values = model.q_net(th.arange(int(env.observation_space.n))).numpy()
    path, reached_goal = greedy_path(transition_table(env), q_values, START, TIME_LIMIT)
    returns = [float(value) for value in env.get_episode_rewards()]
    return {
        "algo": algo,
        "seed": seed,
        "timesteps": timesteps,
        "hyperparameters": {key: repr(value) for key, value in kwargs.items()},
        "q_values": q_values.tolist(),
        "q_start": float(q_values[START].max()),
        "greedy_path": path,
        "reached_goal": reached_goal,
        "path_kind": classify_path(path, reached_goal),
        "episode_returns": returns,
        "online_last": float(np.mean(returns[-LAST_EPISODES:])),
    }


def run_one(algo: str, seed: int) -> dict[str, Any]:
    """Train one agent on the cliff. :return: the run's record"""
    model, env, kwargs, timesteps = train_agent(algo, seed)
    return record(model, env, algo, seed, kwargs, timesteps)


def result_path(algo: str, seed: int) -> pathlib.Path:
    return RESULTS / f"{algo}_seed{seed}.json"


def schedule(algos: list[str], seeds: int, jobs: int) -> None:
    runs = pending_runs("benchmarks.cliff", [(algo, seed) for seed in range(seeds) for algo in algos], result_path)
    print(f"{len(runs)} runs to do, {jobs} at a time", flush=True)
    run_processes(
        runs,
        jobs,
        lambda result: (
            f"max Q(start) {result['q_start']:.2f}, greedy path {result['path_kind']} "
            f"({len(result['greedy_path']) - 1} steps), "
            f"online return (last {LAST_EPISODES}) {result['online_last']:.1f}"
        ),
    )


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def load_results() -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        results.setdefault(result["algo"], []).append(result)
    for runs in results.values():
        runs.sort(key=lambda run: run["seed"])
    return {algo: results[algo] for algo in ALGOS if algo in results}


def own_fixed_point(algo: str) -> str:
    """:return: the backup whose fixed point the algorithm's target estimates"""
    return "greedy" if algo == "dqn" else "epsilon-greedy"


def summary(algo: str, runs: list[dict[str, Any]], exact: dict[str, np.ndarray]) -> dict[str, Any]:
    q_start = np.array([run["q_start"] for run in runs])
    fixed_point = float(exact[own_fixed_point(algo)][START].max())
    kinds = [classify_path(run["greedy_path"], run["reached_goal"]) for run in runs]
    return {
        "seeds": len(runs),
        "q_median": float(np.median(q_start)),
        "q_min": float(q_start.min()),
        "q_max": float(q_start.max()),
        "error_median": float(np.median(np.abs(q_start - fixed_point))),
        "fixed_point": fixed_point,
        "safe": kinds.count("safe"),
        "edge": kinds.count("edge"),
        "no_goal": kinds.count("no goal"),
        "online_median": float(np.median([run["online_last"] for run in runs])),
        "online": [run["online_last"] for run in runs],
    }


def targets(summaries: dict[str, dict[str, Any]]) -> list[str]:
    """:return: one table row per cliff target that the stored results can judge"""
    rows = []
    dqn_online = summaries["dqn"]["online"] if "dqn" in summaries else None
    for algo in ("sarsa", "expected"):
        if algo not in summaries:
            continue
        found = summaries[algo]
        note = "" if found["seeds"] >= 10 else f" (only {found['seeds']} seeds)"
        safe_needed = int(np.ceil(SAFE_SEEDS_TARGET * found["seeds"]))
        checks = [
            (
                f"safe greedy path on >= {SAFE_SEEDS_TARGET:.0%} of seeds",
                f"{found['safe']}/{found['seeds']}",
                found["safe"] >= safe_needed,
            ),
            (
                f"median abs(max_a Q(start) - exact epsilon-greedy value) <= {VALUE_ERROR_TARGET}",
                f"{found['error_median']:.2f}",
                found["error_median"] <= VALUE_ERROR_TARGET,
            ),
            (
                f"median online return, last {LAST_EPISODES} episodes, >= {ONLINE_RETURN_TARGET:g}",
                f"{found['online_median']:.1f}",
                found["online_median"] >= ONLINE_RETURN_TARGET,
            ),
        ]
        verdicts = ["yes" if met else "**no**" for _, _, met in checks]
        if dqn_online is not None:
            difference, low, high = difference_interval(found["online"], dqn_online, median)
            checks.append(
                (
                    "median online return above DQN's (95% bootstrap interval of the difference)",
                    f"{found['online_median']:.1f} vs {median(dqn_online):.1f} ({difference:+.1f} [{low:+.1f}, {high:+.1f}])",
                    True,
                )
            )
            verdicts.append(verdict_of_interval(low, high))
        rows += [
            f"| {LABELS[algo]} | {target} | {measured} | {verdict}{note} |"
            for (target, measured, _), verdict in zip(checks, verdicts, strict=True)
        ]
    return rows


SUMMARY: list[str] = [
    "**Question.** On Sutton & Barto's cliff, does SARSA learn the epsilon-greedy values and the "
    "safe path, where DQN takes the edge?",
    "**Answer.** Yes. With the `CliffWalking-v1` entry and sb3-sarsa 0.3.0 (fading optimism, the default): safe path on",
    "9 of 10 seeds, `max_a Q(start)` within 0.43 (median) of the exact value; Expected SARSA safe on 10 of 10; DQN walks",
    "the edge on 10 of 10. (0.2.0, without optimism: SARSA safe on 9 of 10, error 0.31; SARSA with Huber lost the goal on 2.)",
    "**Command.** `python -m benchmarks.cliff --seeds 10 --jobs 2`.",
]


def report(command: str) -> str:
    results = load_results()
    exact = exact_values()
    summaries = {algo: summary(algo, runs, exact) for algo, runs in results.items()}
    from sb3_sarsa.exact import greedy_path, transition_table

    table = transition_table(make_env())
    exact_rows = []
    for name, q_values in exact.items():
        path, _ = greedy_path(table, q_values, START, TIME_LIMIT)
        kind = classify_path(path, True)
        exact_rows.append(f"| {name} | {q_values[START].max():.2f} | {len(path) - 1} steps, {kind} |")
    rows = [
        f"| {LABELS[algo]} | {found['seeds']} | {found['safe']} / {found['edge']} / {found['no_goal']} | "
        f"{found['q_median']:.2f} [{found['q_min']:.2f}, {found['q_max']:.2f}] | {own_fixed_point(algo)}: "
        f"{found['fixed_point']:.2f} | {found['error_median']:.2f} | {found['online_median']:.1f} |"
        for algo, found in summaries.items()
    ]
    from sb3_sarsa.hyperparameters import load_config

    entry = load_config()[ENV_ID]
    kwargs, timesteps = cliff_kwargs("sarsa")
    params = ", ".join(f"`{key}: {value}`" for key, value in entry.items() if key not in ("env_wrapper", "policy"))
    text = [
        "# The cliff: SARSA, Expected SARSA and DQN on Sutton & Barto's Example 6.6",
        "",
        *SUMMARY,
        "",
        f"Results produced by {produced_by(RESULTS)}; this report by `{command}` (see `benchmarks/cliff.py`),",
        f"{datetime.date.today().isoformat()}. The results of every run are in `benchmarks/cliff/`.",
        f"{written_on()}.",
        "",
        f"`{ENV_ID}`: a 4 x 12 grid, -1 per step, -100 and back to the start for a step into the cliff, the",
        f"episode ends at the goal. A time limit of {TIME_LIMIT} steps (`gym.make(..., max_episode_steps={TIME_LIMIT})`),",
        "whose truncation bootstraps. The observation is the cell index, one-hot encoded by SB3.",
        "",
        f"Every algorithm trains with the `{ENV_ID}` entry of `hyperparams/sarsa.yml` ({params}), the one",
        "`rl_zoo3 train --algo sarsa` uses; DQN without SARSA's `target` and `loss` (so with its Huber loss),",
        f"Expected SARSA with `target: expected` and `target_epsilon: {EPSILON}` (its target takes the value of the",
        f"epsilon-{EPSILON} policy from the start, while the behaviour's epsilon still decays; without it, see the",
        "discussion), `SARSA (Huber)` with `loss: huber`. `lin_1e-3`: the learning",
        "rate decays linearly from 1e-3 to 0. Epsilon decays from",
        f"{kwargs['exploration_initial_eps']} to {EPSILON} over the first {kwargs['exploration_fraction']:.0%} of training",
        f"(the first {kwargs['learning_starts']:,} steps are uniformly random) and stays at {EPSILON} for the remaining",
        f"{(1 - kwargs['exploration_fraction']) * timesteps:,.0f} steps.",
        "",
        "## Exact values",
        "",
        f"Computed from the env's transition table (`env.unwrapped.P`) by `sb3_sarsa.exact.action_values`, gamma {GAMMA}:",
        f"the fixed point of SARSA's and Expected SARSA's backup (epsilon-greedy in Q, epsilon {EPSILON}) and of",
        "Q-learning's (greedy). The path is the greedy path of those values from the start.",
        "",
        "| backup | max_a Q(start) | greedy path |",
        "|---|---|---|",
        *exact_rows,
        "",
        "## What each algorithm learned",
        "",
        "Greedy path from the start at the end of training: safe (reaches the goal, never on a cell next",
        "to the cliff), edge (reaches the goal along the cliff), no goal (loops until the time limit). Error:",
        "median over seeds of |learned max_a Q(start) - the exact value of the algorithm's own backup|.",
        f"Online return: mean return of the last {LAST_EPISODES} training episodes (epsilon {EPSILON}), median over seeds.",
        "",
        "| algorithm | seeds | greedy path safe / edge / no goal | max_a Q(start), median [min, max] | "
        "exact value of its backup | error | online return |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## Targets, as the stored results stand",
        "",
        "| algorithm | target | measured | met |",
        "|---|---|---|---|",
        *targets(summaries),
        "",
        "![online return per episode](cliff_returns.png)",
        "",
        f"Online return of each training episode, smoothed over {SMOOTHING} episodes: mean over seeds and a",
        "95% bootstrap band (Sutton & Barto, Figure 6.4).",
        "",
        "![greedy paths](cliff_paths.png)",
        "",
        "Greedy path of every seed from the start S to the goal G at the end of training (the cliff in grey).",
        "",
    ]
    text += discussion_section(RESULTS / "discussion.md")  # written by hand: what the numbers mean
    return "\n".join(text)


def plot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = load_results()
    if not results:
        return
    rng = np.random.default_rng(0)
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for index, (algo, runs) in enumerate(results.items()):
        length = min(len(run["episode_returns"]) for run in runs)
        returns = np.array([run["episode_returns"][:length] for run in runs])
        kernel = np.ones(SMOOTHING) / SMOOTHING
        smooth = np.array([np.convolve(row, kernel, mode="valid") for row in returns])
        episodes = np.arange(SMOOTHING, length + 1)
        mean = smooth.mean(axis=0)
        boot = smooth[rng.integers(len(smooth), size=(500, len(smooth)))].mean(axis=1)
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
        axis.plot(episodes, mean, label=f"{LABELS[algo]} (n={len(runs)})", color=f"C{index}")
        axis.fill_between(episodes, low, high, alpha=0.2, color=f"C{index}")
    axis.set_ylim(-150, 0)
    axis.set_xlabel("training episode")
    axis.set_ylabel(f"online return per episode (smoothed over {SMOOTHING})")
    fraction = cliff_kwargs("sarsa")[0]["exploration_fraction"]
    axis.set_title(f"{ENV_ID}, epsilon {EPSILON} after the first {fraction:.0%} of training")
    axis.legend(fontsize=8)
    figure.tight_layout()
    DOCS.mkdir(exist_ok=True)
    figure.savefig(DOCS / "cliff_returns.png", dpi=100)
    plt.close(figure)

    rows, columns = 4, 12
    figure, axes = plt.subplots(len(results), 1, figsize=(9, 3.2 * len(results)), squeeze=False)
    for index, (axis, (algo, runs)) in enumerate(zip(axes[:, 0], results.items())):
        for column in range(1, columns - 1):
            axis.add_patch(plt.Rectangle((column - 0.5, -0.5), 1, 1, color="0.75"))  # the bottom row
        axis.text(0, 0, "S", ha="center", va="center", fontsize=12, weight="bold")
        axis.text(columns - 1, 0, "G", ha="center", va="center", fontsize=12, weight="bold")
        for number, run in enumerate(runs):
            offset = (number - (len(runs) - 1) / 2) * 0.03
            cells = np.array([divmod(state, columns) for state in run["greedy_path"]])
            axis.plot(cells[:, 1] + offset, rows - 1 - cells[:, 0] + offset, color=f"C{index}", alpha=0.6, linewidth=1.5)
        kinds = summary(algo, runs, exact_values())
        axis.set_title(
            f"{LABELS[algo]}: {kinds['safe']} safe, {kinds['edge']} along the edge, {kinds['no_goal']} no goal "
            f"({len(runs)} seeds)",
            fontsize=10,
        )
        axis.set_xlim(-0.5, columns - 0.5)
        axis.set_ylim(-0.5, rows - 0.5)
        axis.set_xticks(np.arange(-0.5, columns, 1), labels=[])
        axis.set_yticks(np.arange(-0.5, rows, 1), labels=[])
        axis.grid(True, color="0.85")
        axis.set_aspect("equal")
    figure.tight_layout()
    figure.savefig(DOCS / "cliff_paths.png", dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cliff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (at most 2 on a 2-core machine)")
    parser.add_argument("--report-only", action="store_true", help="only write docs/research/CLIFF.md and the plots")
    parser.add_argument("--run", nargs=2, metavar=("ALGO", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        algo, seed = args.run[0], int(args.run[1])
        write_result(result_path(algo, seed), run_one(algo, seed))
        return
    command = command_line("benchmarks.cliff")
    if not args.report_only:
        record_command(RESULTS, command)
        schedule(args.algos, args.seeds, args.jobs)
    DOCS.mkdir(exist_ok=True)
    (DOCS / "CLIFF.md").write_text(report(command))
    plot()
    print(f"wrote {DOCS / 'CLIFF.md'}, {DOCS / 'cliff_returns.png'} and {DOCS / 'cliff_paths.png'}")


if __name__ == "__main__":
    main()
