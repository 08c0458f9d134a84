"""
The hyperparameter search of ``sarsa.yml``: rl-zoo3's own ``-optimize``, several workers, one Optuna
study on a PostgreSQL server, resumable across days and machines.

    python -m benchmarks.search run --env LunarLander-v3 --trials 10      # 2 workers x 10 trials each
    python -m benchmarks.search report --env LunarLander-v3               # docs/research/SEARCH_LUNARLANDER.md
    python -m benchmarks.search confirm --env LunarLander-v3 --top 3 --seeds 10

``run`` starts (or reuses) the throw-away server of ``benchmarks.pg_server`` in ``--pg-dir``, then
``--workers`` processes of ``rl_zoo3 train --algo sarsa -optimize`` (TPE sampler, median pruner, SARSA's
search space of ``sb3_sarsa.zoo``) that add trials to the study ``sarsa_<env>``; a trial trains for
``-n`` steps (default: dqn.yml's budget for the env) and is evaluated ``--n-evaluations`` times. When the
workers end, the study is copied to ``benchmarks/search/<env>.journal`` (Optuna's journal format, in
git): a later ``run`` on a server without the study (another machine, a new folder) starts from that
copy, so stopping and starting again loses only the trials that were running (they are marked failed,
with the user attribute ``interrupted``: :func:`fail_interrupted`). ``export`` makes the
copy at any time. Each ``run`` first queues ``sarsa.yml``'s entry and its variants that the study does
not have yet (:func:`enqueue_entry`), and ``--variant key=value`` the entry with other changes (say
``--variant exploration_final_eps=0.01``); ``run --workers 0`` only queues, for workers already running.
A server whose folder holds a ``postmaster.pid`` but that does not run (killed with its machine) is
started again.

``report`` writes ``docs/research/SEARCH_<ENV>.md`` and its plots from the study (the server's if it runs, else
the journal copy): trials by state, the best ones with their parameters, the mean of each one's last
three evaluations beside its final one, parameter importances, and how ``train/next_action_agreement``
(recorded by every trial) relates to the final return.

``confirm`` re-runs the configurations of the ``--top`` completed trials with the best mean of the last
three evaluations, of the trials ``--trials`` names (whatever their state or rank), and of the trial that
``sarsa.yml``'s entry is, on ``--seeds`` fresh seeds (300, 301, ...: seeds neither the benchmark, the
tuning runs nor the search used) with the benchmark's budget and evaluation (``benchmarks.compare.run_one``),
resumable, and adds the table to the report. One search seed does not rank LunarLander configurations,
so a screen goes in two stages:

    python -m benchmarks.search confirm --env LunarLander-v3 --top 0 --trials 31 33 51 28 --seeds 3
    python -m benchmarks.search confirm --env LunarLander-v3 --top 0 --trials 31 --seeds 10
"""

import argparse
import contextlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
from typing import Any

from benchmarks.common import (
    DOCS,
    ROOT,
    command_line,
    iqm,
    mean_of_last_three,
    pending_runs,
    record_command,
    refuse_stale,
    run_processes,
    stale_section,
    write_result,
)
from benchmarks.compare import MODELS, hyperparameters, run_one, stale_runs

SEARCH = ROOT / "benchmarks" / "search"
INTERRUPTED_ATTR = "interrupted"  # a failed trial's user attribute: its worker was stopped (:func:`fail_interrupted`)
CONFIRM_FIRST_SEED = 300


def study_name(env_id: str) -> str:
    return f"sarsa_{env_id}"


def journal_path(env_id: str) -> pathlib.Path:
    return SEARCH / f"{env_id}.journal"


def report_path(env_id: str) -> pathlib.Path:
    return DOCS / f"SEARCH_{re.sub(r'-v[0-9]+$', '', env_id).upper()}.md"


def journal_storage(path: pathlib.Path) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def optuna_storage(spec: str) -> Any:
    """:return: what Optuna's API takes for ``spec``: a journal file (``*.log``, as rl-zoo3 reads it) or a URL"""
    return journal_storage(pathlib.Path(spec)) if spec.endswith(".log") else spec


def has_study(storage: Any, name: str) -> bool:
    import optuna

    return any(summary.study_name == name for summary in optuna.get_all_study_summaries(storage))


def restore(env_id: str, storage: Any) -> bool:
    """Copy the journal copy of the study into ``storage`` if the study is not there yet; its running
    trials are marked interrupted there (:func:`fail_interrupted`).

    :return: whether a copy was made
    """
    import optuna

    name = study_name(env_id)
    if has_study(storage, name) or not journal_path(env_id).exists():
        return False
    optuna.copy_study(from_study_name=name, from_storage=journal_storage(journal_path(env_id)), to_storage=storage)
    fail_interrupted(env_id, storage)  # no worker runs on a server that did not have the study
    return True


def fail_interrupted(env_id: str, storage: Any, first: int = 0) -> list[int]:
    """
    Mark the study's running trials numbered ``first`` and up as failed, with the user attribute
    :data:`INTERRUPTED_ATTR`. For when no worker can still be running them: the workers of this run have
    stopped (trials from ``first``, the study's size when the run started: a second ``run`` on the same
    server at the same time would lose its running trials), or the study was just copied into a server
    from its journal copy (every trial). Else a stopped trial would stay "running" in the study for good.

    :return: the numbers of the trials marked
    """
    import optuna

    storage = optuna.storages.get_storage(storage)
    study_id = storage.get_study_id_from_name(study_name(env_id))
    marked = []
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.number >= first:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
            storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
            marked.append(trial.number)
    return marked


def export(env_id: str, storage: Any) -> int:
    """Copy the study from ``storage`` to ``benchmarks/search/<env>.journal`` (replacing the last copy).

    :return: the number of trials copied
    """
    import optuna

    name = study_name(env_id)
    SEARCH.mkdir(parents=True, exist_ok=True)
    temporary = journal_path(env_id).with_suffix(".journal.tmp")
    temporary.unlink(missing_ok=True)
    optuna.copy_study(from_study_name=name, from_storage=storage, to_storage=journal_storage(temporary))
    temporary.replace(journal_path(env_id))
    return len(optuna.load_study(study_name=name, storage=storage).trials)


def server_url(pg_dir: pathlib.Path) -> str:
    """:return: the URL of the server of ``pg_dir``, started if it is not running"""
    from benchmarks import pg_server

    port_file = pg_dir / "port"
    if port_file.exists() and pg_server.running(pg_dir):
        return pg_server.url(int(port_file.read_text()))
    return pg_server.start(pg_dir)


def dqn_budget(env_id: str) -> int:
    from benchmarks.compare import hyperparameters

    return hyperparameters(env_id, "dqn")[1]


def worker_command(env_id: str, url: str, trials: int, budget: int, seed: int, args: argparse.Namespace) -> list[str]:
    """:return: one ``rl_zoo3 train -optimize`` worker, adding ``trials`` trials to the shared study"""
    beside = pathlib.Path(sys.executable).parent / "rl_zoo3"  # this environment's, before any other on PATH
    rl_zoo3 = str(beside) if beside.exists() else shutil.which("rl_zoo3") or "rl_zoo3"
    return [
        rl_zoo3, "train", "--algo", "sarsa", "--env", env_id, "-optimize",
        "--n-trials", str(trials), "--n-jobs", "1", "-n", str(budget),
        "--sampler", "tpe", "--pruner", "median", "--n-startup-trials", str(args.startup_trials),
        "--n-evaluations", str(args.n_evaluations), "--eval-episodes", str(args.eval_episodes),
        "--storage", url, "--study-name", study_name(env_id), "--seed", str(seed),
        "--no-optim-plots", "-f", str(args.log_dir / env_id / f"worker_seed{seed}"),
    ]  # fmt: skip


#: What the entry's trials change in the env's ``sarsa.yml`` entry (the entry itself first).
ENTRY_TRIALS: tuple[dict[str, Any], ...] = (
    {},
    {"loss": "mse"},
    {"loss": "mse", "target": "expected"},
    {"target": "expected"},
)
#: The parameters that :data:`ENTRY_TRIALS` change.
VARIED = ("loss", "target")


#: The user attribute of a queued trial that says what it changes in the entry.
CHANGE_ATTR = "entry_change"
#: The user attribute of a queued trial: the number of the study's trial that the entry was when queued.
BASE_ATTR = "entry_trial"


def parse_variant(text: str) -> dict[str, Any]:
    """
    :param text: ``key=value[,key=value...]``, SARSA's constructor arguments (values read as YAML)
    :return: the changes to the entry
    :raises ValueError: if a part has no ``=``
    """
    import yaml

    changes = {}
    for part in text.split(","):
        key, equals, value = part.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"a variant is key=value[,key=value...], got {text!r}")
        changes[key.strip()] = yaml.safe_load(value)
    return changes


def change_text(change: dict[str, Any]) -> str:
    """:return: a change to the entry as the report shows it (``entry`` for none)"""
    return ", ".join(f"{key}={value}" for key, value in change.items()) or "entry"


def variant_params(kwargs: dict[str, Any], change: dict[str, Any], env_id: str) -> dict[str, Any]:
    """
    :param kwargs: the entry's constructor arguments
    :param change: the constructor arguments to change
    :return: the trial's parameters of the entry with ``change``
    :raises ValueError: if a trial of the search space cannot have a changed value as given (an argument
        the space does not set, or a value it would round)
    """
    import math

    from sb3_sarsa.zoo import convert_sarsa_params, entry_trial_params, learning_rate_params

    params = entry_trial_params({**kwargs, **change}, env_id)
    converted = convert_sarsa_params(params)
    for key, value in change.items():
        if key not in converted:
            raise ValueError(f"{key} is not set by the search space's trials (they set {', '.join(sorted(converted))})")
        got = converted[key]
        if key == "learning_rate":  # a number or a schedule (``lin_<rate>``): the same rate and schedule
            (got_rate, got_schedule), (rate, schedule) = learning_rate_params(got), learning_rate_params(value)
            same = got_schedule == schedule and math.isclose(got_rate or 0.0, rate or 0.0, rel_tol=1e-9)
        else:
            same = math.isclose(got, value, rel_tol=1e-9) if isinstance(value, float) else got == value
        if not same:
            raise ValueError(f"{key}={value!r} is not in the search space: a trial would have {got!r}")
    return params


def enqueue_entry(env_id: str, storage: Any, variants: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    """
    Create the study if needed and put ``sarsa.yml``'s entry for the env (and the variants of
    :data:`ENTRY_TRIALS`, then ``variants``) first in its queue, so that the search measures what users
    get now the way it measures every trial. A configuration the study already has (run or queued;
    floats within :func:`same_params`'s bound, so an entry rounded from a trial is that trial) is not
    queued again: after a search's winner becomes the entry, the next run queues the winner's variants
    only. An entry the search space cannot express is not enqueued (the reason is printed). Each queued
    trial is printed with its change and records that change (user attribute :data:`CHANGE_ATTR`) and
    the entry's trial (:data:`BASE_ATTR`).

    :param variants: further changes to the entry (SARSA's constructor arguments)
    :return: the parameters of the trials queued now
    :raises ValueError: if one of ``variants`` is outside the search space
    """
    import optuna

    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import entry_trial_params

    kwargs, _ = model_kwargs(env_id)
    try:
        trials = [(change, entry_trial_params({**kwargs, **change}, env_id)) for change in ENTRY_TRIALS]
    except ValueError as error:
        print(f"sarsa.yml's entry not enqueued: {error}", flush=True)
        return []
    trials += [(change, variant_params(kwargs, change, env_id)) for change in variants]
    study = optuna.create_study(storage=storage, study_name=study_name(env_id), direction="maximize", load_if_exists=True)
    known = [trial_params(trial) for trial in study.trials]
    # The entry's trial: the study's own if it has one, else the one queued first below.
    base = next((number for number, other in enumerate(known) if same_params(trials[0][1], other)), len(known))
    queued = []
    for change, params in trials:
        if not any(same_params(params, other) for other in known):
            text = change_text(change)
            study.enqueue_trial(params, user_attrs={CHANGE_ATTR: text, BASE_ATTR: base})
            print(f"queued sarsa.yml's entry{', ' + text if change else ''}: {params}", flush=True)
            known.append(params)
            queued.append(params)
    return queued


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> None:
    import optuna

    url = args.storage or server_url(args.pg_dir)
    storage = optuna_storage(url)
    if restore(args.env, storage):
        print(f"restored the study from {journal_path(args.env).relative_to(ROOT)}", flush=True)
    name = study_name(args.env)
    existing = len(optuna.load_study(study_name=name, storage=storage).trials) if has_study(storage, name) else 0
    if not args.no_entry:
        try:
            enqueue_entry(args.env, storage, tuple(args.variant))
        except ValueError as error:
            raise SystemExit(f"--variant: {error}") from None
    budget = args.n_timesteps or dqn_budget(args.env)
    # Each worker gets a seed no earlier worker of this study had: 1000 + trials so far + its index.
    commands = [worker_command(args.env, url, args.trials, budget, 1000 + existing + k, args) for k in range(args.workers)]
    print(f"study {name} at {url}: {existing} trials so far", flush=True)
    print(f"{args.workers} workers x {args.trials} trials, {budget} steps each", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    logs = []
    for command in commands:
        log = args.log_dir / args.env / f"{pathlib.Path(command[command.index('-f') + 1]).name}.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        logs.append(log)
        print("  " + " ".join(command[1:]), flush=True)
    processes: list[subprocess.Popen[bytes]] = []
    # SIGTERM (``kill``, a scheduler's stop) ends the run as Ctrl-C does: workers stopped, study exported.
    previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with contextlib.ExitStack() as files:
            outputs = [files.enter_context(open(log, "w")) for log in logs]
            for command, output in zip(commands, outputs):
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT))
            codes = [process.wait() for process in processes]
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        marked = fail_interrupted(args.env, storage, existing) if has_study(storage, name) else []
        print(f"stopped: trials {marked} that the workers were running are marked failed, interrupted", flush=True)
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if has_study(storage, name):
            print(f"exported {export(args.env, storage)} trials to {journal_path(args.env).relative_to(ROOT)}", flush=True)
    failed = [str(log) for code, log in zip(codes, logs) if code != 0]
    if failed:
        raise SystemExit(f"workers failed, see {', '.join(failed)}")


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def rank_correlation(x: list[float], y: list[float]) -> float:
    """:return: Spearman's rank correlation (ties get their average rank)"""
    import numpy as np

    def ranks(values: list[float]) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        order = array.argsort()
        ranked = np.empty(len(array))
        ranked[order] = np.arange(len(array), dtype=float)
        for value in np.unique(array):  # average rank of ties
            ranked[array == value] = ranked[array == value].mean()
        return ranked

    if len(x) < 2:
        return float("nan")
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def last_three(trial: Any) -> float | None:
    """:return: the mean of a trial's last three reported evaluations (rl-zoo3 reports each one)"""
    return mean_of_last_three([trial.intermediate_values[step] for step in sorted(trial.intermediate_values)])


def load_study(env_id: str, storage: str | None) -> Any:
    import optuna

    source = optuna_storage(storage) if storage is not None else journal_storage(journal_path(env_id))
    return optuna.load_study(study_name=study_name(env_id), storage=source)


#: The opening of each env's report: question, answer, command (written by hand from the tables).
SUMMARIES: dict[str, list[str]] = {
    "LunarLander-v3": [
        "**Question.** Which SARSA hyperparameters learn LunarLander-v3 best, judged on fresh seeds "
        "rather than in the search?",
        "**Answer.** Trial 16 (Huber, SARSA's target), now the `sarsa.yml` entry: IQM 166.2 of 100-episode means over",
        "10 fresh seeds (300-309), the best confirmed; no trial reached 200 at DQN's 100,000 steps.",
        "**Command.** `python -m benchmarks.search run --env LunarLander-v3`, then `confirm` and `report`.",
    ],
    "Acrobot-v1": [
        "**Question.** Which SARSA hyperparameters learn Acrobot-v1 best, judged on fresh seeds rather than in the search?",
        "**Answer.** Expected SARSA with the search's values, now the `sarsa.yml` entry: on 10 fresh seeds it beat the same",
        "values with SARSA's sampled target (IQM -73.9 against -90.6 of 100-episode means).",
        "**Command.** `python -m benchmarks.search run --env Acrobot-v1`, then `confirm --top 3 --seeds 10` and `report`.",
    ],
}


def report(env_id: str, study: Any, source: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    from sb3_sarsa.zoo import ADDED_PARAMS, AGREEMENT_ATTR, with_added_params

    trials = study.trials
    states = [trial.state.name for trial in trials]
    interrupted = sum(bool(trial.user_attrs.get(INTERRUPTED_ATTR)) for trial in trials)
    complete = sorted((t for t in trials if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: -t.value)
    current = entry_trial(env_id, study)
    stem = report_path(env_id).stem.lower()
    lines = [
        f"# Hyperparameter search: SARSA on {env_id}",
        "",
        *SUMMARIES.get(env_id, []),
        "",
        f"Study `{study_name(env_id)}` ({source}), written by `python -m benchmarks.search report --env {env_id}`;",
        f"trials added by {produced_by_search(env_id)}. Each trial: rl-zoo3's `-optimize` objective (the",
        "mean return of the last evaluation; median pruner on the intermediate ones), SARSA's search space",
        "(`sb3_sarsa.zoo.sample_sarsa_params`).",
        "",
        f"Trials: {len(trials)} ({states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned, "
        f"{states.count('FAIL') - interrupted} failed, {interrupted} interrupted, {states.count('RUNNING')} running).",
        "",
    ]
    entry = [trial for trial in trials if is_entry(trial)]
    if entry:
        lines += [
            "## The trials of `sarsa.yml`'s entry",
            "",
            "Each `run` first queues the env's entry as it is, then with `loss=mse`, with `loss=mse` and",
            "`target=expected`, and with `target=expected` (`benchmarks.search.ENTRY_TRIALS`; a replay buffer",
            "rounded up to the space's next size), unless the study already has that configuration: every",
            "sampled configuration is compared with what users got under the same protocol. When a trial's values",
            "became the entry, its variants follow; *based on* names the trial that was the entry when they were",
            "queued (for trials queued before that was recorded: the trial whose values other than the loss and",
            "the target they share). `run --variant key=value` queues further changes to the entry; *change*",
            "says what each queued trial changed (`-`: queued before the change was recorded).",
            "",
            "| trial | based on | change | loss | target | state | final eval | mean of last 3 evals |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for trial in entry:
            fixed = trial.system_attrs["fixed_params"]
            three = last_three(trial)
            final = "-" if trial.value is None else f"{trial.value:.1f}"
            lines.append(
                f"| {trial.number} | {trial.user_attrs.get(BASE_ATTR, based_on(fixed, trials))} | "
                f"{trial.user_attrs.get(CHANGE_ATTR, '-')} | "
                f"{fixed['loss']} | {fixed['target']} | "
                f"{trial.state.name.lower()} | {final} | {'-' if three is None else f'{three:.1f}'} |"
            )
        lines.append("")
    if complete:
        keys = sorted({key for trial in complete for key in trial.params})
        lines += [
            "## Best complete trials",
            "",
            "(entry): the trial whose values `sarsa.yml`'s entry has now; (queued): another queued trial."
            + "".join(
                f" A trial from before `{key}` was searched shows the value it ran with, {value}."
                for key, value in ADDED_PARAMS.items()
                if key in keys
            ),
            "",
            "| trial | final eval | mean of last 3 evals | next_action_agreement | " + " | ".join(keys) + " |",
            "|---|---|---|---|" + "---|" * len(keys),
        ]
        for trial in complete[:10]:
            agreement = trial.user_attrs.get(AGREEMENT_ATTR)
            three = last_three(trial)
            cells = [shown_value(with_added_params(trial.params).get(key, "-")) for key in keys]
            name = f"{trial.number}{queued_label(trial, current)}"
            lines.append(
                f"| {name} | {trial.value:.1f} | {'-' if three is None else f'{three:.1f}'} | "
                f"{'-' if agreement is None else f'{agreement:.3f}'} | " + " | ".join(cells) + " |"
            )
        lines.append("")
        paired = [(t.user_attrs[AGREEMENT_ATTR], t.value) for t in complete if t.user_attrs.get(AGREEMENT_ATTR) is not None]
        if len(paired) >= 3:
            rho = rank_correlation([a for a, _ in paired], [v for _, v in paired])
            lines += [
                "## `train/next_action_agreement` and the final return",
                "",
                f"Spearman rank correlation over the {len(paired)} complete trials that recorded it: {rho:.2f}.",
                f"![agreement against return]({stem}_agreement.png)",
                "",
            ]
            figure, axis = plt.subplots(figsize=(5, 4))
            axis.scatter([a for a, _ in paired], [v for _, v in paired], s=12)
            axis.set_xlabel("last train/next_action_agreement")
            axis.set_ylabel("final eval mean return")
            axis.set_title(f"{env_id}: {len(paired)} complete trials")
            figure.tight_layout()
            figure.savefig(DOCS / f"{stem}_agreement.png", dpi=100)
            plt.close(figure)
        if len(complete) >= 2:
            importances = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            )
            lines += [
                "## Parameter importances (fANOVA, Optuna, seed 0)",
                "",
                "| parameter | importance |",
                "|---|---|",
                *[f"| {key} | {value:.3f} |" for key, value in importances.items()],
                "",
                f"![optimization history]({stem}_history.png)",
                "",
            ]
            optuna.visualization.matplotlib.plot_optimization_history(study)
            history = plt.gcf()
            history.tight_layout()
            history.savefig(DOCS / f"{stem}_history.png", dpi=100)
            plt.close(history)
    lines += confirm_section(env_id, study)
    found = entry_trial(env_id, study)
    lines += [
        f"`hyperparams/sarsa.yml`'s {env_id} entry: "
        + ("none of the trials (not from this study)." if found is None else f"trial {found}'s values, rounded."),
        "",
    ]
    return "\n".join(lines)


def same_params(ours: dict[str, Any], theirs: dict[str, Any], rel: float = 5e-3) -> bool:
    """
    :return: whether two trials' parameters agree, floats to within ``rel`` (3 significant digits round by < 0.5%);
        a parameter that the search space gained later counts with the value it had in effect
        (:func:`sb3_sarsa.zoo.with_added_params`)
    """
    from sb3_sarsa.zoo import with_added_params

    ours, theirs = with_added_params(ours), with_added_params(theirs)
    if ours.keys() != theirs.keys():
        return False
    return all(
        abs(value - theirs[key]) <= rel * abs(theirs[key]) if isinstance(value, float) else value == theirs[key]
        for key, value in ours.items()
    )


def based_on(params: dict[str, Any], trials: list[Any]) -> int:
    """:return: the first trial whose parameters other than :data:`VARIED` are ``params``'s"""

    def rest(values: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in values.items() if key not in VARIED}

    return next(trial.number for trial in trials if same_params(rest(params), rest(trial_params(trial))))


def entry_trial(env_id: str, study: Any) -> int | None:
    """:return: the first trial whose parameters are ``sarsa.yml``'s entry (rounded values allowed), if any"""
    from sb3_sarsa.hyperparameters import model_kwargs
    from sb3_sarsa.zoo import entry_trial_params

    try:
        params = entry_trial_params(model_kwargs(env_id)[0], env_id)
    except (KeyError, ValueError):  # no entry, or one the space cannot express
        return None
    return next((trial.number for trial in study.trials if same_params(params, trial.params)), None)


def queued_label(trial: Any, entry: int | None) -> str:
    """
    :param entry: the number of the trial whose values are ``sarsa.yml``'s entry now (:func:`entry_trial`)
    :return: ``" (entry)"`` for that trial, ``" (queued)"`` for any other queued trial (an earlier entry or
        a variant), ``""`` for a sampled trial
    """
    if trial.number == entry:
        return " (entry)"
    return " (queued)" if is_entry(trial) else ""


def trial_params(trial: Any) -> dict[str, Any]:
    """:return: a trial's parameters; for a queued trial not yet started, the ones it was queued with"""
    return trial.params or trial.system_attrs.get("fixed_params", {})


def is_entry(trial: Any) -> bool:
    """:return: whether the trial was enqueued with fixed parameters (the entry's, see :func:`enqueue_entry`)"""
    return "fixed_params" in trial.system_attrs


def shown_value(value: Any) -> str:
    """:return: a parameter value as the report prints it (floats to 4 significant digits)"""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def produced_by_search(env_id: str) -> str:
    from benchmarks.compare import produced_by

    return produced_by(SEARCH / env_id)


# --------------------------------------------------------------------------------------------
# Confirmation on fresh seeds
# --------------------------------------------------------------------------------------------
def confirm_path(env_id: str, trial: int, seed: int) -> pathlib.Path:
    return SEARCH / env_id / f"trial{trial}_seed{seed}.json"


def trial_overrides(env_id: str, trial: int, study: Any = None) -> dict[str, Any]:
    """
    :param study: the study (default: :func:`load_study` of the journal copy)
    :return: SARSA's constructor arguments of a trial, as ``rl_zoo3 --trial-id`` rebuilds them (``lin_<rate>``
        made a schedule)
    """
    from sb3_sarsa.zoo import model_params

    study = load_study(env_id, None) if study is None else study
    return model_params(study.trials[trial].params)


def confirm_runs(env_id: str) -> list[dict[str, Any]]:
    """:return: the stored confirmation runs of ``env_id`` (``benchmarks/search/<env>/trial*_seed*.json``)"""
    return [json.loads(path.read_text()) for path in sorted((SEARCH / env_id).glob("trial*_seed*.json"))]


def stale_confirm_runs(env_id: str, study: Any, runs: list[dict[str, Any]]) -> list[str]:
    """
    The confirmation runs that a run started now would not repeat: a run is ``sarsa.yml``'s entry with
    a trial's values, so a change to the entry outside the search space (``learning_starts``, the
    budget, ...) leaves older runs of the same trial and seed behind (:func:`benchmarks.compare.stale_runs`).

    :return: one line per stale run, naming its file and what differs
    """
    entry, budget = hyperparameters(env_id, "sarsa")
    overrides: dict[int, dict[str, Any]] = {}

    def today(run: dict[str, Any]) -> tuple[dict[str, Any], int]:
        if run["trial"] not in overrides:
            overrides[run["trial"]] = trial_overrides(env_id, run["trial"], study)
        return {**entry, **overrides[run["trial"]]}, budget

    return stale_runs(runs, today, lambda run: confirm_path(env_id, run["trial"], run["seed"]))


def confirm_candidates(study: Any, top: int) -> list[int]:
    """
    :return: the numbers of the ``top`` completed trials with the best mean of their last three
        evaluations (:func:`last_three`; the final evaluation alone swings by 100 on LunarLander), the
        final evaluation breaking ties
    """
    import optuna

    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]

    def steady(trial: Any) -> float:
        three = last_three(trial)
        return trial.value if three is None else three

    complete.sort(key=lambda trial: (-steady(trial), -trial.value))
    return [trial.number for trial in complete[:top]]


def confirm_trials(env_id: str, study: Any, top: int, named: tuple[int, ...] = ()) -> list[int]:
    """
    :param named: trials to confirm besides the ``top`` ones, whatever their state or rank (``confirm
        --trials``: a hypothesis variant that the pruner stopped, a screen of more candidates on a few seeds)
    :return: :func:`confirm_candidates`, then the ``named`` trials not among them, then the trial that
        ``sarsa.yml``'s entry is (:func:`entry_trial`) if it is complete and not among them: a winner
        replaces the entry only if it beats it on the same fresh seeds
    :raises SystemExit: if a named trial does not exist or has no sampled values yet (a queued trial)
    """
    import optuna

    trials = confirm_candidates(study, top)
    for number in named:
        if not 0 <= number < len(study.trials):
            raise SystemExit(f"confirm --trials: the study has no trial {number} (its trials are 0-{len(study.trials) - 1})")
        if not study.trials[number].params:
            state = study.trials[number].state.name
            raise SystemExit(f"confirm --trials: trial {number} has no sampled values to re-run (state {state})")
        if number not in trials:
            trials.append(number)
    entry = entry_trial(env_id, study)
    if entry is not None and entry not in trials and study.trials[entry].state == optuna.trial.TrialState.COMPLETE:
        trials.append(entry)
    return trials


def confirm(env_id: str, top: int, seeds: int, jobs: int, named: tuple[int, ...] = ()) -> None:
    """
    Run the confirmation runs of :func:`confirm_trials` on seeds ``CONFIRM_FIRST_SEED`` and up that are not done.
    Runs are resumable, so a screen in two stages is two calls: ``--trials`` of several candidates with
    ``--seeds 3``, then the best of them with ``--seeds 10`` (seeds 300-302 are not run again).

    :raises SystemExit: if a stored run of those trials is stale (:func:`stale_confirm_runs`): it is neither
        overwritten nor counted as done
    """
    study = load_study(env_id, None)
    trials = confirm_trials(env_id, study, top, named)
    refuse_stale(
        stale_confirm_runs(env_id, study, [run for run in confirm_runs(env_id) if run["trial"] in trials]),
        "confirmation runs",
    )
    print(f"trials {trials} (the best means of the last three evaluations, those named, and the entry's)", flush=True)
    keys = [(env_id, trial, seed) for seed in range(CONFIRM_FIRST_SEED, CONFIRM_FIRST_SEED + seeds) for trial in trials]
    runs = pending_runs("benchmarks.search", keys, confirm_path, label_prefix="trial ")
    print(f"{len(runs)} runs to do, {jobs} at a time", flush=True)
    run_processes(
        runs,
        jobs,
        lambda result: f"final eval {result['final_eval_mean']:.1f}, 100 start states {result['final']['mean']:.1f}",
    )


def seed_range(seeds: list[int]) -> str:
    """:return: ``"300-302"`` for consecutive seeds, else the seeds listed"""
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    return ", ".join(map(str, seeds))


def searched_text(trial: Any) -> str:
    """:return: the confirmation table's *in the search* cell: :func:`last_three`, marked when the trial was pruned"""
    import optuna

    three = last_three(trial)
    if three is None:
        return "-"
    return f"{three:.1f} (pruned)" if trial.state == optuna.trial.TrialState.PRUNED else f"{three:.1f}"


def confirm_section(env_id: str, study: Any) -> list[str]:
    """:return: the report's table of the confirmation runs, after a warning naming any stale ones"""
    stored = confirm_runs(env_id)
    runs: dict[int, list[dict[str, Any]]] = {}
    for result in stored:
        runs.setdefault(result["trial"], []).append(result)
    if not runs:
        return []
    lines = [
        "## The best trials on fresh seeds",
        "",
        *stale_section(stale_confirm_runs(env_id, study, stored)),
        f"`python -m benchmarks.search confirm`: seeds {CONFIRM_FIRST_SEED} and up, the benchmark's budget and",
        "evaluation; the final evaluation plays 100 seeded start states.",
        "",
        "*In the search*: the trial's own mean of its last three evaluations (one seed, 10 episodes each), by",
        "which `confirm --top` ranks the trials (it also runs the entry's trial, whatever its rank, and the",
        "trials `--trials` names; a pruned trial's is that of its last three evaluations before it was stopped).",
    ]
    shared = sorted(set.intersection(*({result["seed"] for result in results} for results in runs.values())))
    # rows of unequal seeds are also compared on the seeds they all have
    with_shared = bool(shared) and any(len(results) != len(shared) for results in runs.values())
    if with_shared:
        lines += [
            "",
            f"*Shared seeds*: the mean of the 100-episode means on the seeds every row has ({seed_range(shared)}),",
            "so that a trial screened on a few seeds is compared with the others on the same ones.",
        ]
    lines += [
        "",
        "| trial | in the search | seeds | IQM of 100-episode means | IQM final eval | stuck (sum) "
        f"|{' shared seeds |' if with_shared else ''} 100-episode mean per seed | stuck per seed |",
        f"|---|---|---|---|---|---|{'---|' if with_shared else ''}---|---|",
    ]
    for trial, results in sorted(runs.items()):
        results.sort(key=lambda result: result["seed"])
        means = [result["final"]["mean"] for result in results]
        stuck = [result["final"]["stuck"] for result in results]
        searched = searched_text(study.trials[trial]) if trial < len(study.trials) else "-"
        on_shared = [result["final"]["mean"] for result in results if result["seed"] in shared]
        lines.append(
            f"| {trial} | {searched} | {len(results)} | {iqm(means):.1f} | "
            f"{iqm([r['final_eval_mean'] for r in results]):.1f} | "
            f"{'-' if None in stuck else sum(stuck)} |"
            f"{f' {sum(on_shared) / len(on_shared):.1f} |' if with_shared else ''}"
            f" {', '.join(f'{mean:.0f}' for mean in means)} | {', '.join('-' if n is None else str(n) for n in stuck)} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("run", help="add trials to the study with several rl-zoo3 workers")
    start.add_argument("--env", required=True)
    start.add_argument("--trials", type=int, default=10, help="trials per worker")
    start.add_argument("--workers", type=int, default=2)
    start.add_argument("--pg-dir", type=pathlib.Path, default=pathlib.Path("/tmp/sb3_sarsa_pg"), help="the server's folder")
    start.add_argument("--storage", default=None, help="an Optuna storage URL instead of the server of --pg-dir")
    start.add_argument("-n", "--n-timesteps", type=int, default=None, help="steps per trial (default: dqn.yml's)")
    start.add_argument("--n-evaluations", type=int, default=10)
    start.add_argument("--eval-episodes", type=int, default=10)
    start.add_argument("--startup-trials", type=int, default=10, help="random trials before TPE")
    start.add_argument("--log-dir", type=pathlib.Path, default=ROOT / "logs" / "search")
    start.add_argument("--no-entry", action="store_true", help="do not queue sarsa.yml's entry, its variants, nor --variant")
    start.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="also queue the entry with these constructor arguments changed (repeatable)",
    )
    for name, text in (("report", "write docs/research/SEARCH_<ENV>.md"), ("export", "copy the study to benchmarks/search/")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--env", required=True)
        sub.add_argument("--storage", default=None, help="default: the journal copy in benchmarks/search/")
    check = commands.add_parser("confirm", help="re-run the best trials on fresh seeds")
    check.add_argument("--env", required=True)
    check.add_argument("--top", type=int, default=3, help="the trials with the best mean of their last three evaluations")
    check.add_argument("--trials", type=int, nargs="+", default=[], metavar="N", help="also these trials, whatever their rank")
    check.add_argument("--seeds", type=int, default=10)
    check.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--run", nargs=3, metavar=("ENV", "TRIAL", "SEED"), help=argparse.SUPPRESS)
    if "--run" in sys.argv:  # one confirmation run, in its own process
        env_id, trial, seed = sys.argv[sys.argv.index("--run") + 1 : sys.argv.index("--run") + 4]
        overrides = trial_overrides(env_id, int(trial))
        saved = MODELS / "search" / env_id / f"trial{trial}_seed{seed}.zip"
        result = run_one(env_id, "sarsa", int(seed), 5000, 20, overrides=overrides, model_path=saved)
        result.update(trial=int(trial), overrides={key: repr(value) for key, value in overrides.items()})
        write_result(confirm_path(env_id, int(trial), int(seed)), result)
        return
    args = parser.parse_args()
    if args.command == "run":
        record_command(SEARCH / args.env, command_line("benchmarks.search"))
        run(args)
    elif args.command == "export":
        if args.storage is None:
            parser.error("export needs --storage (the server's URL)")
        print(f"exported {export(args.env, optuna_storage(args.storage))} trials")
    elif args.command == "confirm":
        record_command(SEARCH / args.env, command_line("benchmarks.search"))
        confirm(args.env, args.top, args.seeds, args.jobs, tuple(args.trials))
    if args.command in ("report", "confirm", "run") and (args.command == "report" or journal_path(args.env).exists()):
        storage = getattr(args, "storage", None) if args.command == "report" else None
        study = load_study(args.env, storage)
        source = "the server" if storage else f"`{journal_path(args.env).relative_to(ROOT)}`"
        report_path(args.env).write_text(report(args.env, study, source))
        print(f"wrote {report_path(args.env)}")


if __name__ == "__main__":
    main()
