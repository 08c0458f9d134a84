"""
Does default SARSA learn the cliff with a user's own settings? A grid of generic settings, DQN beside it.

    python -m benchmarks.robustness run --workers 2            # the grid, 5 seeds per cell (about 40 minutes on 2 cores)
    python -m benchmarks.robustness run --storage postgresql+psycopg://optuna@127.0.0.1:5432/optuna
    python -m benchmarks.robustness report          # docs/research/ROBUSTNESS.md and docs/research/robustness_grid.png

Every run trains with the constructor's defaults (SARSA's or SB3's DQN's) except :data:`FIXED` and
the three axes of :data:`AXES`: epsilon (``0.1`` from the first step, as Sutton & Barto's Example 6.6,
or ``1->0.1`` over the first 10% of the steps), batch size and a constant learning rate. A variant
(:data:`VARIANTS`) adds constructor arguments to SARSA's, to judge a remedy on the same grid.

The queue is an Optuna study per variant (``robustness_<variant>``), one enqueued trial per cell and
seed, in the storage the search uses: by default the journal file ``benchmarks/robustness/grid.journal``
(committed: the results live there), or a PostgreSQL URL (``benchmarks.pg_server``) shared by the
workers of several machines; ``export`` then copies it into the journal file. A worker takes the next
waiting trial; a trial left running by a killed worker of this machine is failed and enqueued again
when a worker starts, so ``run`` resumes where it stopped. Each trial keeps its run's record in its
user attribute ``record``: the learned values, the greedy path, the online returns, and every
:data:`TRACE_EVERY` steps ``max_a Q`` of every state (which values fall, and when).
"""

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
from typing import Any

import numpy as np

from benchmarks.common import (
    DOCS,
    ROOT,
    command_line,
    discussion_section,
    machine,
    produced_by,
    record_command,
    versions,
    written_on,
)

RESULTS = ROOT / "benchmarks" / "robustness"
JOURNAL = RESULTS / "grid.journal"
REPORT = DOCS / "ROBUSTNESS.md"
HEATMAP = DOCS / "robustness_grid.png"
TIMESTEPS = 60_000
#: Settings shared by every run (the named values of the grid come on top); the rest is each constructor's default.
FIXED: dict[str, Any] = {"buffer_size": 5_000, "learning_starts": 1_000, "train_freq": 1, "target_update_interval": 500}
#: The grid: epsilon schedule x batch size x learning rate.
EPSILONS: dict[str, dict[str, Any]] = {
    "0.1": {"exploration_initial_eps": 0.1, "exploration_final_eps": 0.1},
    "1->0.1": {"exploration_initial_eps": 1.0, "exploration_final_eps": 0.1, "exploration_fraction": 0.1},
}
AXES: dict[str, tuple[Any, ...]] = {"epsilon": tuple(EPSILONS), "batch_size": (32, 128), "learning_rate": (3e-4, 1e-3)}
#: Seeds no other report uses.
SEEDS = (600, 601, 602, 603, 604)
#: The algorithm of each variant and what it adds to the constructor's defaults.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    # SARSA's default until sb3-sarsa 0.2.0: no optimism (the runs of the "sarsa" study were made with 0.2.0).
    "sarsa": ("sarsa", {"optimism": None}),
    # SARSA's default since 0.3.0 on a Discrete observation space (optimism="auto"), chosen on seeds 700-702.
    "sarsa-optimism": ("sarsa", {"optimism": (100.0, 10.0)}),
    "dqn": ("dqn", {}),
    "sarsa-huber": ("sarsa", {"loss": "huber"}),
    # Candidates against the edge (see the report's edge table): no clipping of the batch's gradient norm, and
    # Expected SARSA, whose target carries the fall's weight in every sample; both with the default optimism.
    "sarsa-noclip": ("sarsa", {"optimism": (100.0, 10.0), "max_grad_norm": float("inf")}),
    "expected": ("sarsa", {"optimism": (100.0, 10.0), "target": "expected"}),
    # Clipping levels between the default 10 and none, screened on seeds 700-702 by
    # ``python -m benchmarks.research.clipping --screen`` before any grid run.
    "sarsa-clip100": ("sarsa", {"optimism": (100.0, 10.0), "max_grad_norm": 100.0}),
    "sarsa-clip300": ("sarsa", {"optimism": (100.0, 10.0), "max_grad_norm": 300.0}),
}
#: Variants beside the default and 0.2.0's whose targets the report also gives, when they have runs
OTHER_VARIANTS = ("expected", "sarsa-noclip", "sarsa-huber", "sarsa-clip100", "sarsa-clip300")
TRACE_EVERY = 3_000
LAST_EPISODES = 100
#: Targets of the grid, for default SARSA.
GOAL_TARGET = 0.95
SAFE_TARGET = 0.90
VALUE_ERROR_LIMIT = 1.0
VALUE_ERROR_SHARE = 0.90
HOST_ATTR, PID_ATTR, RECORD_ATTR = "host", "pid", "record"


def study_name(variant: str) -> str:
    return f"robustness_{variant}"


def cells() -> list[dict[str, Any]]:
    """:return: every cell of the grid, as ``{axis: value}``"""
    return [dict(zip(AXES, values)) for values in itertools.product(*AXES.values())]


def cell_label(cell: dict[str, Any]) -> str:
    return f"eps {cell['epsilon']}, batch {cell['batch_size']}, lr {cell['learning_rate']:g}"


def constructor_kwargs(variant: str, cell: dict[str, Any]) -> dict[str, Any]:
    """:return: the constructor arguments of a run: :data:`FIXED`, the cell's values and the variant's"""
    _, extra = VARIANTS[variant]
    return {
        **FIXED,
        **EPSILONS[cell["epsilon"]],
        "batch_size": cell["batch_size"],
        "learning_rate": cell["learning_rate"],
        **extra,
    }


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------
def exact_path_states() -> dict[str, list[int]]:
    """:return: per fixed point, the states of its own greedy path from the start (the goal left out)"""
    from benchmarks.cliff import START, TIME_LIMIT, exact_values, make_env
    from sb3_sarsa.exact import greedy_path, transition_table

    table = transition_table(make_env())
    paths = {}
    for name, q_values in exact_values().items():
        path, reached = greedy_path(table, q_values, START, TIME_LIMIT)
        assert reached, f"the exact {name} policy does not reach the goal"
        paths[name] = path[:-1]
    return paths


def value_error(max_q: np.ndarray, fixed_point: str) -> float:
    """
    :param max_q: ``max_a Q(s)`` of every state
    :param fixed_point: ``"epsilon-greedy"`` (SARSA's) or ``"greedy"`` (DQN's)
    :return: the mean of ``|max_a Q(s) - exact|`` over the states of the exact policy's path from the start
    """
    from benchmarks.cliff import exact_values

    states = exact_path_states()[fixed_point]
    exact = exact_values()[fixed_point].max(axis=1)
    return float(np.mean(np.abs(np.asarray(max_q)[states] - exact[states])))


def make_model(variant: str, cell: dict[str, Any], seed: int) -> tuple[Any, Any, dict[str, Any]]:
    """
    Build one grid run's model (one torch thread) on a monitored cliff.

    :return: the model, its env and the constructor arguments it was given (:func:`constructor_kwargs`)
    """
    import torch as th
    from stable_baselines3 import DQN
    from stable_baselines3.common.monitor import Monitor

    from benchmarks.cliff import make_env
    from sb3_sarsa import SARSA

    th.set_num_threads(1)
    algo, _ = VARIANTS[variant]
    env = Monitor(make_env())
    kwargs = constructor_kwargs(variant, cell)
    return (DQN if algo == "dqn" else SARSA)("MlpPolicy", env, seed=seed, **kwargs), env, kwargs


def q_table(model: Any) -> np.ndarray:
    """:return: the online network's Q-values of every state of the model's ``Discrete`` observation space"""
    import torch as th

    with th.no_grad():
        return model.q_net(th.arange(int(model.observation_space.n))).numpy()


def run_one(variant: str, cell: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train one agent on the cliff. :return: its record"""
    from stable_baselines3.common.callbacks import BaseCallback

    from benchmarks.cliff import START, TIME_LIMIT, classify_path
    from sb3_sarsa.exact import greedy_path, transition_table

    algo, _ = VARIANTS[variant]
    model, env, kwargs = make_model(variant, cell, seed)

    trace: list[dict[str, Any]] = []

    class Trace(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % TRACE_EVERY == 0:
                values = q_table(model)
                _, reached = greedy_path(transition_table(env), values, START, TIME_LIMIT)
                trace.append(
                    {"step": self.num_timesteps, "max_q": np.round(values.max(axis=1), 3).tolist(), "reached_goal": reached}
                )
            return True

    model.learn(TIMESTEPS, callback=Trace())
    values = q_table(model)
    path, reached = greedy_path(transition_table(env), values, START, TIME_LIMIT)
    fixed_point = "greedy" if algo == "dqn" else "epsilon-greedy"
    returns = [float(value) for value in env.get_episode_rewards()]
    return {
        "variant": variant,
        "algo": algo,
        "cell": cell,
        "seed": seed,
        "timesteps": TIMESTEPS,
        "hyperparameters": {key: repr(value) for key, value in kwargs.items()},
        "q_values": np.round(values, 4).tolist(),
        "q_start": float(values[START].max()),
        "greedy_path": path,
        "reached_goal": reached,
        "path_kind": classify_path(path, reached),
        "fixed_point": fixed_point,
        "value_error": value_error(values.max(axis=1), fixed_point),
        "online_last": float(np.mean(returns[-LAST_EPISODES:])),
        "episodes": len(returns),
        "trace": trace,
        "versions": versions(),
        "machine": machine(),
    }


# --------------------------------------------------------------------------------------------
# The queue: an Optuna study of enqueued trials
# --------------------------------------------------------------------------------------------
def storage_of(spec: str | None) -> Any:
    from benchmarks.search import journal_storage, optuna_storage

    if spec is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        return journal_storage(JOURNAL)
    return optuna_storage(spec)


def trial_params(cell: dict[str, Any], seed: int) -> dict[str, Any]:
    return {**cell, "seed": seed}


def suggest(trial: Any) -> tuple[dict[str, Any], int]:
    """:return: the cell and seed of a trial (its enqueued values)"""
    cell = {axis: trial.suggest_categorical(axis, list(values)) for axis, values in AXES.items()}
    return cell, int(trial.suggest_categorical("seed", list(SEEDS)))


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(study: Any, seeds: tuple[int, ...]) -> tuple[int, int]:
    """
    Fail the trials that a killed worker of this machine left running, then enqueue every cell and seed
    that has neither a complete, a waiting nor a live running trial.

    :return: how many trials were failed and how many enqueued
    """
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # A trial without a host was killed before its objective began (a worker sets both first).
        owner = trial.user_attrs.get(HOST_ATTR)
        if owner is None or (owner == host and not pid_alive(int(trial.user_attrs[PID_ATTR]))):
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            failed += 1
    taken = {
        json.dumps(trial.params, sort_keys=True)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    } | {
        json.dumps(trial.system_attrs.get("fixed_params", {}), sort_keys=True)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    }
    enqueued = 0
    for seed in seeds:
        for cell in cells():
            params = trial_params(cell, seed)
            if json.dumps(params, sort_keys=True) not in taken:
                study.enqueue_trial(params)
                enqueued += 1
    return failed, enqueued


def work(variant: str, storage_spec: str | None) -> None:
    """One worker: run the study's waiting trials until none is left."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name(variant), storage=storage_of(storage_spec))

    def objective(trial: Any) -> float:
        trial.set_user_attr(HOST_ATTR, socket.gethostname())
        trial.set_user_attr(PID_ATTR, os.getpid())
        cell, seed = suggest(trial)
        record = run_one(variant, cell, seed)
        trial.set_user_attr(RECORD_ATTR, record)
        print(f"{variant} {cell_label(cell)} seed {seed}: {describe(record)}", flush=True)
        return record["online_last"]

    while study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        before = {trial.number for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))}
        trial = study.ask()
        if trial.number not in before:  # another worker took the last waiting trial: this one is not a cell
            study.tell(trial, state=TrialState.FAIL)
            break
        try:
            value = objective(trial)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        study.tell(trial, value)


def describe(record: dict[str, Any]) -> str:
    return (
        f"goal {'yes' if record['reached_goal'] else 'NO'}, path {record['path_kind']}, "
        f"max Q(start) {record['q_start']:.2f}, value error {record['value_error']:.2f}, "
        f"online return {record['online_last']:.1f}"
    )


def run(args: argparse.Namespace) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_of(args.storage)
    for variant in args.variants:
        study = optuna.create_study(study_name=study_name(variant), storage=storage, load_if_exists=True, direction="maximize")
        failed, enqueued = prepare(study, tuple(args.seeds))
        print(f"{study_name(variant)}: {failed} interrupted trials failed, {enqueued} trials enqueued", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    # Workers take the variants in turn, so both are running from the start.
    workers = []
    for index in range(args.workers):
        order = args.variants[index % len(args.variants) :] + args.variants[: index % len(args.variants)]
        command = [sys.executable, "-m", "benchmarks.robustness", "work", *order]
        if args.storage:
            command += ["--storage", args.storage]
        workers.append(subprocess.Popen(command, cwd=ROOT, env=env))
    codes = [worker.wait() for worker in workers]
    if any(codes):
        raise SystemExit(f"workers ended with exit codes {codes}")


def export(storage_spec: str, variants: list[str]) -> None:
    """Copy the studies from ``storage_spec`` into the journal file (replacing their copies there)."""
    import optuna

    from benchmarks.search import journal_storage

    temporary = JOURNAL.with_suffix(".journal.tmp")
    temporary.unlink(missing_ok=True)
    target = journal_storage(temporary)
    names = {summary.study_name for summary in optuna.get_all_study_summaries(storage_spec)}
    if JOURNAL.exists():  # keep the journal's other studies
        for summary in optuna.get_all_study_summaries(journal_storage(JOURNAL)):
            if summary.study_name not in {study_name(variant) for variant in variants}:
                optuna.copy_study(from_study_name=summary.study_name, from_storage=journal_storage(JOURNAL), to_storage=target)
    for variant in variants:
        if study_name(variant) in names:
            optuna.copy_study(from_study_name=study_name(variant), from_storage=storage_spec, to_storage=target)
    temporary.replace(JOURNAL)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def load_records(storage_spec: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """:return: per variant, the records of its complete trials"""
    import optuna
    from optuna.trial import TrialState

    storage = storage_of(storage_spec)
    found: dict[str, list[dict[str, Any]]] = {}
    names = {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    for variant in VARIANTS:
        if study_name(variant) not in names:
            continue
        study = optuna.load_study(study_name=study_name(variant), storage=storage)
        records = [trial.user_attrs[RECORD_ATTR] for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        unique = {(json.dumps(record["cell"], sort_keys=True), record["seed"]): record for record in records}
        found[variant] = sorted(unique.values(), key=lambda r: ([r["cell"][axis] for axis in AXES], r["seed"]))
    return found


def cell_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(records),
        "goal": sum(record["reached_goal"] for record in records),
        "safe": sum(record["path_kind"] == "safe" for record in records),
        "value_ok": sum(record["value_error"] <= VALUE_ERROR_LIMIT for record in records),
        "value_error_median": float(np.median([record["value_error"] for record in records])) if records else float("nan"),
        "q_start_median": float(np.median([record["q_start"] for record in records])) if records else float("nan"),
        "online_median": float(np.median([record["online_last"] for record in records])) if records else float("nan"),
    }


def by_cell(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {cell_label(cell): [] for cell in cells()}
    for record in records:
        grouped[cell_label(record["cell"])].append(record)
    return grouped


#: SARSA's default since sb3-sarsa 0.3.0 on the cliff, which the targets judge; "sarsa" is 0.2.0's default.
DEFAULT_VARIANT = "sarsa-optimism"
LABELS = {
    "sarsa-optimism": "SARSA, default since 0.3.0 (fading optimism)",
    "sarsa": "SARSA without optimism (0.2.0's default)",
    "dqn": "SB3's DQN",
    "sarsa-huber": "SARSA, Huber loss",
    "sarsa-noclip": "SARSA (default) without gradient clipping",
    "expected": "Expected SARSA (default otherwise)",
    "sarsa-clip100": "SARSA (default) with gradient clipping at 100",
    "sarsa-clip300": "SARSA (default) with gradient clipping at 300",
}


def goal_difference(sarsa: list[dict[str, Any]], dqn: list[dict[str, Any]]) -> tuple[str, float, float, float]:
    """:return: both goal counts (``"4/5 vs 5/5"``) and SARSA's goal rate minus DQN's, with its 95% bootstrap interval"""
    from benchmarks.compare import difference_interval, mean

    ours = [float(record["reached_goal"]) for record in sarsa]
    theirs = [float(record["reached_goal"]) for record in dqn]
    return (f"{int(sum(ours))}/{len(ours)} vs {int(sum(theirs))}/{len(theirs)}", *difference_interval(ours, theirs, mean))


def targets(found: dict[str, list[dict[str, Any]]], variant: str = DEFAULT_VARIANT) -> list[str]:
    """:return: the targets table's rows for one SARSA variant (by default the package's default)"""
    from benchmarks.compare import verdict_of_interval

    sarsa = found.get(variant, [])
    if not sarsa:
        return []
    total = cell_summary(sarsa)
    runs = total["runs"]
    rows = [
        ("finds the goal on >= 95% of runs", f"{total['goal']}/{runs}", total["goal"] >= GOAL_TARGET * runs),
        ("takes the safe path on >= 90% of runs", f"{total['safe']}/{runs}", total["safe"] >= SAFE_TARGET * runs),
        (
            f"value error <= {VALUE_ERROR_LIMIT:g} on >= 90% of runs",
            f"{total['value_ok']}/{runs}",
            total["value_ok"] >= VALUE_ERROR_SHARE * runs,
        ),
    ]
    if "dqn" in found:
        dqn_cells = by_cell(found["dqn"])
        worse = []
        for label, records in by_cell(sarsa).items():
            if not records or not dqn_cells[label]:
                continue
            counts, difference, low, high = goal_difference(records, dqn_cells[label])
            if difference < 0.0:
                worse.append((label, counts, difference, low, high))
        verdicts = [verdict_of_interval(low, high) for *_, low, high in worse]
        rows.append(
            (
                "in every cell, goal found at least as often as DQN (95% bootstrap interval of the difference where fewer)",
                "every cell"
                if not worse
                else f"fewer in {len(worse)} of {len(cells())}: "
                + "; ".join(
                    f"{label}: {counts} ({d:+.2f} [{low:+.2f}, {high:+.2f}])" for label, counts, d, low, high in worse
                ),
                "yes" if not worse else "**no**" if "**no**" in verdicts else "tie",
            )
        )
        counts, difference, low, high = goal_difference(sarsa, found["dqn"])
        rows.append(
            (
                "over the grid, goal found at least as often as DQN (95% bootstrap interval of the difference)",
                f"{counts} ({difference:+.3f} [{low:+.3f}, {high:+.3f}])",
                verdict_of_interval(low, high),
            )
        )
    return [
        f"| {target} | {measured} | {met if isinstance(met, str) else 'yes' if met else '**no**'} |"
        for target, measured, met in rows
    ]


def summary(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """:return: the report's opening: question, answer (from the records) and command"""

    def counts(variant: str) -> str:
        total = cell_summary(found.get(variant, []))
        runs = total["runs"]
        return f"goal {total['goal']}/{runs}, safe path {total['safe']}/{runs}, value error <= 1 on {total['value_ok']}/{runs}"

    answer = f"**Answer.** {LABELS[DEFAULT_VARIANT]}: {counts(DEFAULT_VARIANT)}"
    if "sarsa" in found:
        answer += f"; without optimism: {counts('sarsa')}"
    for variant in OTHER_VARIANTS:
        if variant in found:
            answer += f"; {LABELS[variant]}: {counts(variant)}"
    if "dqn" in found:
        answer += f"; DQN: goal {cell_summary(found['dqn'])['goal']}/{len(found['dqn'])}"
    return [
        "**Question.** With settings of a user's own (not the tuned entry), does default SARSA find the cliff's goal, "
        "take the safe path and learn the on-policy values, at least as often as SB3's DQN finds the goal?",
        answer + ".",
        "**Command.** `python -m benchmarks.robustness run --workers 2 --variants sarsa-optimism sarsa dqn expected`, "
        "then `report`.",
    ]


def exact_line() -> str:
    from benchmarks.cliff import START, exact_values

    exact = exact_values()
    return (
        f"Exact `max_a Q(start)`: {exact['epsilon-greedy'][START].max():.2f} for the epsilon-0.1-greedy policy "
        f"(SARSA's fixed point), {exact['greedy'][START].max():.2f} for the greedy one (DQN's)."
    )


def cell_table(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| cell | algorithm | runs | goal found | safe path | value error <= 1 | median value error "
        "| median max Q(start) | median online return |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in cells():
        label = cell_label(cell)
        for variant, records in found.items():
            summary = cell_summary(by_cell(records)[label])
            if not summary["runs"]:
                continue
            lines.append(
                f"| {label} | {variant} | {summary['runs']} | {summary['goal']} | {summary['safe']} | {summary['value_ok']} "
                f"| {summary['value_error_median']:.2f} | {summary['q_start_median']:.2f} | {summary['online_median']:.1f} |"
            )
    return lines


#: The columns of the grid's top three rows (never next to the cliff) far from and near the goal.
FAR_COLUMNS, NEAR_COLUMNS = range(0, 4), range(8, 12)
TRACE_STEPS = (3_000, 15_000, 30_000, 45_000, 60_000)


def region_states(columns: range) -> list[int]:
    return [row * 12 + column for row in range(3) for column in columns]


def falling_values(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """:return: the report lines on which values fall, and when, in SARSA's runs that never found the goal"""
    from benchmarks.cliff import exact_values

    sarsa = found.get("sarsa", [])
    lost = [record for record in sarsa if not record["reached_goal"]]
    if not lost:
        return []
    exact = exact_values()["epsilon-greedy"].max(axis=1)
    lines = [
        "## Which values fall, and when",
        "",
        "SARSA's runs without optimism (0.2.0's default) whose greedy path never reached the goal "
        f"({len(lost)} of {len(sarsa)}): the mean of `max_a Q(s)` over the 12 cells of the top three rows far from the "
        "goal (columns 0-3) and near it "
        "(columns 8-11), along training, against the exact epsilon-0.1-greedy values; and the first traced step "
        f"(every {TRACE_STEPS[0]:,}) at which the greedy path reached the goal, in the runs that found it.",
        "",
        "| run | cells | " + " | ".join(f"{step:,} steps" for step in TRACE_STEPS) + " | exact |",
        "|---|---|" + "---|" * (len(TRACE_STEPS) + 1),
    ]
    for record in lost:
        by_step = {point["step"]: np.asarray(point["max_q"]) for point in record["trace"]}
        for name, columns in (("far", FAR_COLUMNS), ("near", NEAR_COLUMNS)):
            states = region_states(columns)
            values = " | ".join(f"{by_step[step][states].mean():.1f}" if step in by_step else "-" for step in TRACE_STEPS)
            lines.append(
                f"| {cell_label(record['cell'])}, seed {record['seed']} | {name} | {values} | {exact[states].mean():.1f} |"
            )
    found_at = [
        next(point["step"] for point in record["trace"] if point["reached_goal"])
        for record in sarsa
        if record["reached_goal"] and any(point["reached_goal"] for point in record["trace"])
    ]
    if found_at:
        errors = [record["value_error"] for record in sarsa if record["reached_goal"]]
        lines += [
            "",
            f"In the {len(found_at)} runs that found the goal, the greedy path first reached it at a median of "
            f"{np.median(found_at):,.0f} steps (from {min(found_at):,} to {max(found_at):,}); their value error "
            f"was at most {VALUE_ERROR_LIMIT:g} on {sum(error <= VALUE_ERROR_LIMIT for error in errors)} of "
            f"{len(errors)} (median {np.median(errors):.2f}).",
        ]
    return [*lines, ""]


#: The cliff's edge row (row 2, columns 1-9: one step down falls) and the cell where a path chooses it or the safe row
EDGE_ROW = tuple(24 + column for column in range(1, 10))
ENTRY, UP, RIGHT = 24, 0, 1


def edge_values(found: dict[str, list[dict[str, Any]]], epsilon: float = 0.1) -> list[str]:
    """
    :return: the report lines on why a run that found the goal walks the edge: per variant of SARSA and path
        kind, what its values say against what its own epsilon-greedy policy is worth
        (:func:`sb3_sarsa.exact.policy_action_values`)
    """
    from benchmarks.cliff import GAMMA, START, exact_values, make_env
    from sb3_sarsa.exact import _arrays, next_state_values, policy_action_values, transition_table

    table = transition_table(make_env())
    exact = exact_values()["epsilon-greedy"]
    rewards, continues = _arrays(table)
    rows = []
    for variant in ("sarsa-optimism", "sarsa", *OTHER_VARIANTS):
        for kind in ("safe", "edge"):
            runs = [record for record in found.get(variant, []) if record["path_kind"] == kind]
            if not runs:
                continue
            measures = []
            for record in runs:
                q_values = np.asarray(record["q_values"])
                worth = policy_action_values(table, GAMMA, q_values, epsilon)
                # the network's own one-step backup under its epsilon-greedy policy (for the Bellman residual)
                backup = rewards + GAMMA * continues @ next_state_values(q_values, epsilon)
                edge = list(EDGE_ROW)
                measures.append(
                    (
                        q_values[START].max(),
                        worth[START].max(),
                        float(np.mean(q_values[edge, RIGHT] - worth[edge, RIGHT])),
                        float(np.mean(q_values[edge, RIGHT] - backup[edge, RIGHT])),
                        q_values[ENTRY, RIGHT] - q_values[ENTRY, UP],
                    )
                )
            medians = np.round(np.median(np.array(measures), axis=0), 2) + 0.0  # no "-0.00"
            rows.append(
                f"| {LABELS[variant]} | {kind} | {len(runs)} | {medians[0]:.2f} | {medians[1]:.2f} | {medians[2]:+.2f} "
                f"| {medians[3]:+.2f} | {medians[4]:+.2f} |"
            )
    if not rows:
        return []
    return [
        "## Why a greedy path that finds the goal walks the edge",
        "",
        "Per variant and kind of greedy path (runs that found the goal), medians over runs: `max_a Q(start)` as the "
        "network believes it, and what its own epsilon-0.1-greedy policy is worth from the start "
        "(`sb3_sarsa.exact.policy_action_values`); on the edge row (row 2, columns 1-9), the mean of "
        "`Q(s, right)` minus what that policy is worth there, and minus the network's own one-step backup "
        "(`r + gamma * sum_a' pi(a'|s') Q(s', a')`, `pi` its epsilon-greedy policy): the Bellman residual; and at "
        f"the cell above the start, `Q(right) - Q(up)`: right enters the edge row, up the safe one "
        f"(exact {exact[ENTRY, RIGHT] - exact[ENTRY, UP]:+.2f}). The exact epsilon-greedy value of the start is "
        f"{exact[START].max():.2f}; the edge path followed with epsilon 0.1 is worth "
        f"{policy_action_values(table, GAMMA, exact_values()['greedy'], epsilon)[START].max():.2f}.",
        "",
        "| variant | greedy path | runs | Q(start) believed | its policy's worth | edge row: Q - worth "
        "| edge row: Bellman residual | Q(right) - Q(up) above the start |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def report(command: str, storage_spec: str | None = None) -> str:
    found = load_records(storage_spec)
    lines = [
        "# Robustness: default SARSA on the cliff with generic settings",
        "",
        *summary(found),
        "",
        f"Produced by {produced_by(RESULTS)}, then `{command}`. Variants: "
        + "; ".join(f"`{name}` {LABELS[name]}" for name in found if name in LABELS)
        + ". The `sarsa` and `dqn` runs were made with sb3-sarsa 0.2.0 (DQN's code is SB3's, unchanged).",
        "",
        f"**Setting.** `CliffWalking-v1`, time limit 100 steps, {TIMESTEPS:,} steps a run, every constructor "
        "argument at its default (SARSA's: MSE loss; DQN's: Huber) except "
        f"{', '.join(f'`{k}={v}`' for k, v in FIXED.items())} "
        "and the grid: epsilon `0.1` from the first step or `1->0.1` over the first 10% of the steps, "
        "batch 32 or 128, constant learning rate 3e-4 or 1e-3. Seeds "
        f"{SEEDS[0]}-{SEEDS[-1]}, used by no other report. Goal found: the greedy path from the start reaches the goal "
        "within 100 steps. Safe path: it never passes a cell next to the cliff. Value error: the mean of "
        "`|max_a Q(s) - exact|` over the states of the exact policy's own path from the start (SARSA against the "
        "epsilon-greedy fixed point, DQN against the greedy one). Online return: the mean of the last 100 "
        "training episodes, exploration included.",
        "",
        exact_line(),
        "",
        f"## Targets ({LABELS[DEFAULT_VARIANT]})",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *targets(found),
        "",
        'The two rows against DQN read as every "SARSA >= DQN" row of the reports does: a difference whose 95% '
        "bootstrap interval contains 0 is a tie. The per-cell row gives the interval of each cell where SARSA found "
        'the goal less often; with 5 seeds a cell, only a cell with 2 or fewer against DQN\'s 5 reads "no".',
        "",
        f"The same targets for {LABELS['sarsa']}:",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *targets(found, "sarsa"),
        "",
        *[
            line
            for variant in OTHER_VARIANTS
            if variant in found
            for line in (
                f"And for {LABELS[variant]}:",
                "",
                "| target | measured | met |",
                "|---|---|---|",
                *targets(found, variant),
                "",
            )
        ],
        f"![goal, safe path and value error per cell]({HEATMAP.name})",
        "",
        "## Per cell",
        "",
        *cell_table(found),
        "",
        *falling_values(found),
        *edge_values(found),
        *discussion_section(RESULTS / "discussion.md"),
        f"{written_on()}.",
        "",
    ]
    return "\n".join(lines)


def plot(storage_spec: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = load_records(storage_spec)
    variants = list(found)
    metrics = (("goal", "goal found"), ("safe", "safe path"), ("value_ok", "value error <= 1"))
    labels = [cell_label(cell) for cell in cells()]
    figure, axes = plt.subplots(1, len(variants), figsize=(4.2 * len(variants) + 2.5, 4.5), squeeze=False)
    for axis, variant in zip(axes[0], variants):
        grouped = by_cell(found[variant])
        shares = np.full((len(labels), len(metrics)), np.nan)
        for row, label in enumerate(labels):
            summary = cell_summary(grouped[label])
            if summary["runs"]:
                shares[row] = [summary[key] / summary["runs"] for key, _ in metrics]
        axis.imshow(shares, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        for row, column in itertools.product(range(len(labels)), range(len(metrics))):
            if not np.isnan(shares[row, column]):
                axis.text(column, row, f"{shares[row, column]:.0%}", ha="center", va="center", fontsize=9)
        axis.set_xticks(range(len(metrics)), [name for _, name in metrics], rotation=20)
        axis.set_yticks(range(len(labels)), labels if axis is axes[0][0] else [])
        axis.set_title(variant)
    figure.suptitle(f"CliffWalking-v1, {TIMESTEPS:,} steps: share of seeds per cell")
    figure.tight_layout()
    figure.savefig(HEATMAP, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="enqueue the grid's trials and run workers until none is left")
    run_parser.add_argument("--variants", nargs="+", default=["sarsa", "dqn"], choices=list(VARIANTS))
    run_parser.add_argument("--workers", type=int, default=2)
    run_parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), choices=list(SEEDS))
    run_parser.add_argument("--storage", help="an Optuna storage URL (default: the journal file in benchmarks/robustness)")
    work_parser = commands.add_parser("work", help="one worker (run starts them)")
    work_parser.add_argument("variants", nargs="+", choices=list(VARIANTS))
    work_parser.add_argument("--storage")
    export_parser = commands.add_parser("export", help="copy the studies from --storage into the journal file")
    export_parser.add_argument("--storage", required=True)
    export_parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    report_parser = commands.add_parser("report", help="write docs/research/ROBUSTNESS.md and its heatmap")
    report_parser.add_argument("--storage")
    args = parser.parse_args()
    if args.command == "run":
        record_command(RESULTS, command_line("benchmarks.robustness"))
        run(args)
    elif args.command == "work":
        for variant in args.variants:
            work(variant, args.storage)
    elif args.command == "export":
        export(args.storage, args.variants)
    else:
        plot(args.storage)
        REPORT.write_text(report(command_line("benchmarks.robustness"), args.storage))
        print(f"wrote {REPORT.relative_to(ROOT)} and {HEATMAP.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
