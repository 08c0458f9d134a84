"""
SARSA(lambda) against one-step and 3-step SARSA with the same other values, on the textbook's showcase and beyond.

    python -m benchmarks.lambda_learning                                  # every env, 10 seeds (hours)
    python -m benchmarks.lambda_learning --envs CliffWalking-v1 MountainCar-v0 --seeds 10
    python -m benchmarks.lambda_learning --report-only                    # docs/research/LAMBDA.md only

Every env trains its ``hyperparams/sarsa.yml`` entry in three variants that differ only in the return:
``one-step`` (``n_steps=1``), ``n3`` (``n_steps=3``) and ``lambda`` (``n_steps=1``, ``td_lambda`` 0.8, the
default ``lambda_horizon``). Lambda 0.8 was fixed before any run (a middle value of the zoo search's
grid; Sutton & Barto's figure 12.10 finds Mountain Car's best lambda between 0.8 and 0.95 for tabular
Sarsa(lambda)); nothing here was tuned on these seeds.

- MountainCar-v0, LunarLander-v3, Acrobot-v1: a ``benchmarks.compare`` run (DQN's step budget, 20 greedy
  episodes every 5,000 steps, a final greedy evaluation on 100 start states); steps to threshold is the first
  evaluation at the env's threshold (``benchmarks.compare.THRESHOLDS``).
- CliffWalking-v1: a ``benchmarks.cliff`` run (the entry's 100,000 steps); the episodes until the online
  return (exploration included), averaged over the last 50 episodes, first stays at or above -30 to the end;
  the value error (the mean of ``|max_a Q(s) - exact|`` over the exact epsilon-greedy policy's path,
  ``benchmarks.robustness.value_error``) and the greedy path's kind.

Seeds 0 to ``--seeds`` - 1 (10 unless given; the report's tables name the seeds each variant has). Runs are
interleaved (seed 0 of every env and variant, then seed 1, ...), at most ``--jobs`` at once, each in its own
process with one torch thread; each writes ``benchmarks/lambda/<env>/<variant>_seed<k>.json`` when it ends and
is skipped when that file exists, so the command resumes where it stopped. The report
(``docs/research/LAMBDA.md``) aggregates whatever results exist.
"""

import argparse
import datetime
import itertools
import json
import pathlib
from typing import Any

import numpy as np

from benchmarks.common import (
    DOCS,
    ROOT,
    command_line,
    difference_interval,
    format_steps,
    iqm,
    mean,
    median,
    pending_runs,
    produced_by,
    record_command,
    run_processes,
    verdict_of_interval,
    versions,
    write_result,
)
from benchmarks.compare import steps_or_budget

RESULTS = ROOT / "benchmarks" / "lambda"
REPORT = DOCS / "LAMBDA.md"
CLIFF = "CliffWalking-v1"
ENVS = (CLIFF, "MountainCar-v0", "LunarLander-v3", "Acrobot-v1")
TD_LAMBDA = 0.8
VARIANTS: dict[str, dict[str, Any]] = {
    "one-step": {"n_steps": 1},
    "n3": {"n_steps": 3},
    "lambda": {"n_steps": 1, "td_lambda": TD_LAMBDA},
}
LABELS = {"one-step": "one-step", "n3": "`n_steps=3`", "lambda": f"lambda {TD_LAMBDA}"}
#: The envs whose target asks SARSA(lambda) for fewer median steps to threshold than the best other variant
STEP_TARGET_ENVS = ("MountainCar-v0", "LunarLander-v3")
#: seeds per env and variant unless ``--seeds`` says otherwise
DEFAULT_SEEDS = 10
#: The cliff: the online return that the smoothed return must stay at or above, and the smoothing window
ONLINE_LEVEL = -30.0
SMOOTHING = 50
CLIFF_VALUE_ERROR_TARGET = 0.5
CLIFF_SAFE_TARGET = 9
#: The seeds that choose where lambda could enter a ``sarsa.yml`` entry; the seeds after them judge that choice
CHOOSING_SEEDS = range(DEFAULT_SEEDS)


# --------------------------------------------------------------------------------------------
# One run (in its own process)
# --------------------------------------------------------------------------------------------
def overrides_of(env_id: str, variant: str) -> dict[str, Any]:
    """
    :return: the constructor arguments that replace the entry's in a run of ``variant`` (the entry's target kept;
        a variant without lambda sets ``td_lambda`` 0 where the entry has one)
    """
    from sb3_sarsa.hyperparameters import load_config

    entry = load_config()[env_id]
    overrides = {**VARIANTS[variant], "target": entry.get("target", "sarsa")}
    if "td_lambda" in entry:
        overrides.setdefault("td_lambda", 0.0)
    return overrides


def run_one(env_id: str, variant: str, seed: int, eval_freq: int = 5000, eval_episodes: int = 20) -> dict[str, Any]:
    """Train one variant of ``env_id``'s entry. :return: the run's record (with ``variant``)"""
    overrides = overrides_of(env_id, variant)
    if env_id == CLIFF:
        from benchmarks import cliff, robustness

        model, env, kwargs, timesteps = cliff.train_agent("sarsa", seed, overrides)
        result = cliff.record(model, env, "sarsa", seed, kwargs, timesteps)
        result["value_error"] = robustness.value_error(np.asarray(result["q_values"]).max(axis=1), "epsilon-greedy")
    else:
        from benchmarks import compare

        result = compare.run_one(env_id, "sarsa", seed, eval_freq, eval_episodes, overrides=overrides)
    return {**result, "env": env_id, "variant": variant, "versions": versions()}


def result_path(env_id: str, variant: str, seed: int) -> pathlib.Path:
    return RESULTS / env_id / f"{variant}_seed{seed}.json"


def schedule(envs: list[str], variants: list[str], seeds: int, jobs: int) -> None:
    keys = [(env_id, variant, seed) for seed in range(seeds) for env_id in envs for variant in variants]
    runs = pending_runs("benchmarks.lambda_learning", keys, result_path)
    print(f"{len(runs)} runs to do ({len(keys) - len(runs)} already done), {jobs} at a time", flush=True)
    run_processes(runs, jobs, describe)


def describe(result: dict[str, Any]) -> str:
    if result["env"] == CLIFF:
        return (
            f"value error {result['value_error']:.2f}, path {result['path_kind']}, "
            f"online to -30 at episode {episodes_to_level(result['episode_returns'])}"
        )
    return f"final {result['final']['mean']:.1f}, threshold at {result['first_step_to_threshold']}"


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def episodes_to_level(returns: list[float], level: float = ONLINE_LEVEL, window: int = SMOOTHING) -> int | None:
    """
    :param returns: the online return of every training episode, in order
    :return: the first episode (counted from 1) from which the mean return of the last ``window`` episodes
        (fewer at the start) stays at or above ``level`` to the end of training; ``None`` if it ends below
    """
    if not returns:
        return None
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    ends = np.arange(1, len(returns) + 1)
    smoothed = (cumulative[ends] - cumulative[np.maximum(ends - window, 0)]) / np.minimum(ends, window)
    below = np.flatnonzero(smoothed < level)
    if len(below) == 0:
        return 1
    return None if below[-1] == len(returns) - 1 else int(below[-1]) + 2


def load_results() -> dict[str, dict[str, list[dict[str, Any]]]]:
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted(RESULTS.glob("*/*.json")):
        result = json.loads(path.read_text())
        found.setdefault(result["env"], {}).setdefault(result["variant"], []).append(result)
    for variants in found.values():
        for runs in variants.values():
            runs.sort(key=lambda run: run["seed"])
    return found


def seed_span(runs: list[dict[str, Any]]) -> str:
    """:return: the seeds of ``runs``, as ``0-19`` when they run without a gap, else listed"""
    seeds = sorted(run["seed"] for run in runs)
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    return ", ".join(str(seed) for seed in seeds)


def commands_for(found: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """
    :return: the command that makes the stored results, then one per env and seed count above the default, naming
        the variants run on that many seeds unless all were
    """
    commands = [f"`python -m benchmarks.lambda_learning --seeds {DEFAULT_SEEDS} --jobs 2`"]
    for env_id in ENVS:
        variants = found.get(env_id, {})
        for count in sorted({len(runs) for runs in variants.values() if len(runs) > DEFAULT_SEEDS}):
            names = [variant for variant in VARIANTS if len(variants.get(variant, [])) >= count]
            named = "" if len(names) == len(VARIANTS) else f" --variants {' '.join(names)}"
            commands.append(f"`python -m benchmarks.lambda_learning --envs {env_id}{named} --seeds {count} --jobs 2`")
    return ", then ".join(commands)


def episodes_or_all(runs: list[dict[str, Any]]) -> list[float]:
    """:return: per cliff run, :func:`episodes_to_level`, or its number of episodes + 1 if it ends below the level"""
    found = [episodes_to_level(run["episode_returns"]) for run in runs]
    return [len(run["episode_returns"]) + 1 if value is None else value for value, run in zip(found, runs, strict=True)]


def gym_table(env_id: str, variants: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| variant | seeds | median steps to threshold | seeds at threshold | final (100 starts) IQM | final median "
        "| median steps/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        runs = variants.get(variant, [])
        if not runs:
            continue
        steps = steps_or_budget(runs)
        budget = runs[0]["budget"]
        finals = [run["final"]["mean"] for run in runs]
        lines.append(
            f"| {LABELS[variant]} | {seed_span(runs)} | {format_steps(median(steps)) if median(steps) <= budget else 'never'} "
            f"| {sum(step <= budget for step in steps)}/{len(runs)} | {iqm(finals):.1f} | {median(finals):.1f} "
            f"| {median([run['steps_per_second'] for run in runs]):.0f} |"
        )
    return lines


def cliff_table(variants: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| variant | seeds | median episodes until the online return stays >= -30 | median value error "
        "| value error <= 0.5 | safe / edge / no goal | median online return, last 100 episodes |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        runs = variants.get(variant, [])
        if not runs:
            continue
        episodes = episodes_or_all(runs)
        kinds = [run["path_kind"] for run in runs]
        errors = [run["value_error"] for run in runs]
        never = sum(episodes_to_level(run["episode_returns"]) is None for run in runs)
        lines.append(
            f"| {LABELS[variant]} | {seed_span(runs)} | {median(episodes):.0f}{f' ({never} never)' if never else ''} "
            f"| {median(errors):.2f} | {sum(error <= CLIFF_VALUE_ERROR_TARGET for error in errors)}/{len(runs)} "
            f"| {kinds.count('safe')} / {kinds.count('edge')} / {kinds.count('no goal')} "
            f"| {median([run['online_last'] for run in runs]):.1f} |"
        )
    return lines


def best_other(variants: dict[str, list[dict[str, Any]]], score: Any) -> str | None:
    """:return: the one-step or n3 variant with the lower median of ``score`` (the one lambda must beat)"""
    others = [variant for variant in ("one-step", "n3") if variants.get(variant)]
    return min(others, key=lambda variant: median(score(variants[variant]))) if others else None


def step_comparisons(
    found: dict[str, dict[str, list[dict[str, Any]]]],
    envs: tuple[str, ...] = STEP_TARGET_ENVS,
) -> list[tuple[str, str, list[float], list[float], float, float, float]]:
    """
    :param envs: the envs to compare on (those with a target, unless given)
    :return: per env of ``envs`` with lambda and another variant run: the env, the better other variant, lambda's
        and its steps to threshold per seed, and the difference of medians with its interval
    """
    comparisons = []
    for env_id in envs:
        variants = found.get(env_id, {})
        best = best_other(variants, steps_or_budget)
        if best is None or not variants.get("lambda"):
            continue
        ours, theirs = steps_or_budget(variants["lambda"]), steps_or_budget(variants[best])
        comparisons.append((env_id, best, ours, theirs, *difference_interval(ours, theirs, median)))
    return comparisons


def targets(found: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """:return: the target table's rows that the stored results can judge"""
    rows = []
    for env_id, best, ours, theirs, difference, low, high in step_comparisons(found):
        rows.append(
            f"| {env_id}: fewer median steps to threshold than the best of one-step and n-step ({LABELS[best]}) "
            f"| {format_steps(median(ours))} vs {format_steps(median(theirs))} ({difference:+.0f} [{low:+.0f}, {high:+.0f}]) "
            f"| {verdict_of_interval(low, high, higher_is_better=False)} ({len(ours)} and {len(theirs)} seeds) |"
        )
    cliff = found.get(CLIFF, {}).get("lambda", [])
    if cliff:
        error = median([run["value_error"] for run in cliff])
        safe = sum(run["path_kind"] == "safe" for run in cliff)
        rows += [
            f"| {CLIFF}: median value error <= {CLIFF_VALUE_ERROR_TARGET} | {error:.2f} "
            f"| {'yes' if error <= CLIFF_VALUE_ERROR_TARGET else '**no**'} ({len(cliff)} seeds) |",
            f"| {CLIFF}: safe path on >= {CLIFF_SAFE_TARGET} of 10 seeds | {safe}/{len(cliff)} "
            f"| {'yes' if safe >= CLIFF_SAFE_TARGET * len(cliff) / 10 else '**no**'} |",
        ]
    return rows


def runs_on(variants: dict[str, list[dict[str, Any]]], seeds: range) -> dict[str, list[dict[str, Any]]]:
    """:return: each variant's runs on ``seeds`` (variants with none left out)"""
    kept = {variant: [run for run in runs if run["seed"] in seeds] for variant, runs in variants.items()}
    return {variant: runs for variant, runs in kept.items() if runs}


def fresh_seeds(variants: dict[str, list[dict[str, Any]]]) -> range:
    """:return: the seeds after :data:`CHOOSING_SEEDS` up to the last seed any variant has"""
    last = max((run["seed"] for runs in variants.values() for run in runs), default=-1)
    return range(CHOOSING_SEEDS.stop, max(last + 1, CHOOSING_SEEDS.stop))


#: lambda against another variant on steps to threshold: the other, lambda's and its steps per seed, the difference
#: of medians with its interval
StepComparison = tuple[str, list[float], list[float], float, float, float]


def lambda_against(variants: dict[str, list[dict[str, Any]]], other: str) -> StepComparison | None:
    """:return: lambda against ``other`` on steps to threshold in ``variants`` (``None`` if either has no runs)"""
    if not variants.get("lambda") or not variants.get(other):
        return None
    ours, theirs = steps_or_budget(variants["lambda"]), steps_or_budget(variants[other])
    return (other, ours, theirs, *difference_interval(ours, theirs, median))


def entry_judgements(
    found: dict[str, dict[str, list[dict[str, Any]]]],
) -> list[tuple[str, StepComparison, StepComparison | None, dict[str, list[dict[str, Any]]]]]:
    """
    :return: per gym env with lambda and another variant run on :data:`CHOOSING_SEEDS`: the env, lambda against
        the better other variant there (by median steps to threshold), lambda against that same variant on the
        seeds after them (``None`` if either has none there), and the runs on those fresh seeds
    """
    judgements = []
    for env_id in ENVS:
        if env_id == CLIFF or env_id not in found:
            continue
        comparison = step_comparisons({env_id: runs_on(found[env_id], CHOOSING_SEEDS)}, (env_id,))
        if not comparison:
            continue
        best = comparison[0][1]
        fresh = runs_on(found[env_id], fresh_seeds(found[env_id]))
        judgements.append((env_id, comparison[0][1:], lambda_against(fresh, best), fresh))
    return judgements


def steps_cell(comparison: StepComparison) -> str:
    _, ours, theirs, difference, low, high = comparison
    return f"{format_steps(median(ours))} vs {format_steps(median(theirs))} ({difference:+.0f} [{low:+.0f}, {high:+.0f}])"


def step_verdict(comparison: StepComparison) -> str:
    """:return: ``"yes"`` where lambda needs fewer steps (the interval lies below 0), else ``"tie"`` or ``"**no**"``"""
    return verdict_of_interval(*comparison[-2:], higher_is_better=False)


def entry_verdict(chosen: StepComparison, judged: StepComparison | None) -> str:
    """:return: what the entry's return should be by the two comparisons: lambda only where both are wins"""
    if step_verdict(chosen) != "yes":
        return f"not lambda: no win on seeds {seed_span_of(CHOOSING_SEEDS)}"
    if judged is None:
        return "not judged yet"
    if step_verdict(judged) != "yes":
        return "not lambda: no win on the fresh seeds"
    return LABELS["lambda"]


def medians_against(comparison: Any) -> str:
    """:return: a :data:`StepComparison` in words: both medians, the verdict and the interval"""
    best, ours, theirs, _, low, high = comparison
    return (
        f"a median {format_steps(median(ours))} steps against {format_steps(median(theirs))} for {LABELS[best]} "
        f"({verdict_of_interval(low, high, higher_is_better=False).replace('**', '')}, [{low:+.0f}, {high:+.0f}])"
    )


def seed_span_of(seeds: range) -> str:
    return f"{seeds.start}-{seeds.stop - 1}"


def entry_checks(found: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """:return: the rows of the report's table of where lambda enters ``sarsa.yml`` (:func:`entry_judgements`)"""
    from sb3_sarsa.hyperparameters import load_config

    config = load_config()
    rows = []
    for env_id, chosen, judged, fresh in entry_judgements(found):
        cells = [steps_cell(chosen), step_verdict(chosen)]
        if judged is None:
            cells += ["none", "", ""]
        else:
            seeds = f"{seed_span(fresh['lambda'])} and {seed_span(fresh[judged[0]])}"
            cells += [seeds, steps_cell(judged), step_verdict(judged)]
        entry = config.get(env_id, {})
        now = f"td_lambda={entry['td_lambda']}" if entry.get("td_lambda") else f"n_steps={entry.get('n_steps', 1)}"
        rows.append(f"| {env_id} | {LABELS[chosen[0]]} | {' | '.join(cells)} | {entry_verdict(chosen, judged)} | `{now}` |")
    return rows


def looks_of(env_id: str, commands: list[str]) -> list[int]:
    """
    :param commands: the recorded run commands (``COMMANDS.txt``), oldest first
    :return: the seed counts at which runs of ``env_id`` were made, in order: each is a look at its targets
        (a command without ``--envs`` runs every env)
    """
    looks: list[int] = []
    for command in commands:
        words = command.split()
        envs = words[words.index("--envs") + 1 :] if "--envs" in words else list(ENVS)
        envs = list(itertools.takewhile(lambda word: not word.startswith("--"), envs))
        seeds = int(words[words.index("--seeds") + 1]) if "--seeds" in words else DEFAULT_SEEDS
        if env_id in envs and seeds not in looks:
            looks.append(seeds)
    return looks


#: a step target's looks: the env, its seed counts, the target row's comparison, the widened interval's level and
#: bounds, and the comparison on the last look's seeds alone with their span (``None`` with a single look)
LookCheck = tuple[str, list[int], StepComparison, float, float, float, tuple[StepComparison, str] | None]


def recorded_commands() -> list[str]:
    history = RESULTS / "COMMANDS.txt"
    return history.read_text().splitlines() if history.exists() else []


def look_checks(found: dict[str, dict[str, list[dict[str, Any]]]], commands: list[str]) -> list[LookCheck]:
    """
    :return: per env with a step target: the seed counts it was looked at, its comparison (the target row's,
        95%), the interval widened for that many looks (Bonferroni: ``1 - 0.05 / looks``), and the comparison on
        the seeds of the last look alone (made after every earlier look)
    """
    checks: list[LookCheck] = []
    for env_id, best, ours, theirs, difference, low, high in step_comparisons(found):
        comparison: StepComparison = (best, ours, theirs, difference, low, high)
        looks = looks_of(env_id, commands)
        level = 1.0 - 0.05 / max(len(looks), 1)
        _, wide_low, wide_high = difference_interval(ours, theirs, median, level=level)
        fresh = runs_on(found[env_id], range(looks[-2], looks[-1])) if len(looks) > 1 else {}
        judged = lambda_against(fresh, best)
        last = None if judged is None else (judged, seed_span(fresh["lambda"]))
        checks.append((env_id, looks, comparison, level, wide_low, wide_high, last))
    return checks


def looks_rows(checks: list[LookCheck]) -> list[str]:
    """:return: the rows of the report's table of looks (:func:`look_checks`)"""
    rows = []
    for env_id, looks, comparison, level, low, high, last in checks:
        cells = [
            env_id,
            LABELS[comparison[0]],
            ", ".join(map(str, looks)),
            f"{comparison[3]:+.0f} [{comparison[4]:+.0f}, {comparison[5]:+.0f}] {step_verdict(comparison)}",
            f"{100 * level:.2f}%: [{low:+.0f}, {high:+.0f}] {verdict_of_interval(low, high, higher_is_better=False)}",
            "" if last is None else f"{last[1]}: {steps_cell(last[0])} {step_verdict(last[0])}",
        ]
        rows.append(f"| {' | '.join(cells)} |")
    return rows


def looks_caveats(checks: list[LookCheck]) -> list[str]:
    """:return: for the answer, each step target that is a win at 95% but not once widened for its looks"""
    caveats = []
    for env_id, looks, comparison, level, low, high, last in checks:
        if step_verdict(comparison) != "yes" or verdict_of_interval(low, high, higher_is_better=False) == "yes":
            continue
        caveat = (
            f"{env_id}'s target was looked at after {', '.join(map(str, looks))} seeds: widened for {len(looks)} looks "
            f"({100 * level:.2f}%) its interval is [{low:+.0f}, {high:+.0f}], a tie"
        )
        if last is not None:
            caveat += f"; on seeds {last[1]} alone, which no earlier look saw, {medians_against(last[0])}"
        caveats.append(caveat)
    return caveats


def beside_targets(found: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    """
    :return: per env with a step target, lambda against the variant its target row names (the better other by
        median steps), on two measures that are not targets: the share of seeds that reach the threshold within
        the budget and the final IQM on 100 start states, each as lambda minus the other with its interval
    """
    rows = []
    for env_id, best, ours, theirs, *_ in step_comparisons(found):
        variants = found[env_id]
        budget = variants["lambda"][0]["budget"]
        reached = [[float(step <= budget) for step in steps] for steps in (ours, theirs)]
        finals = [[run["final"]["mean"] for run in variants[variant]] for variant in ("lambda", best)]
        for measure, (mine, other), statistic, shown in (
            ("share of seeds at threshold", reached, mean, "{:.2f}"),
            ("final (100 starts) IQM", finals, iqm, "{:.1f}"),
        ):
            difference, low, high = difference_interval(mine, other, statistic)
            verdict = "tie" if low <= 0.0 <= high else ("lambda higher" if low > 0.0 else "lambda lower")
            rows.append(
                f"| {env_id} | {measure} | {LABELS[best]} | {shown.format(statistic(mine))} vs "
                f"{shown.format(statistic(other))} | {difference:+.2f} [{low:+.2f}, {high:+.2f}] | {verdict} |"
            )
    return rows


def summary(found: dict[str, dict[str, list[dict[str, Any]]]], checks: list[LookCheck]) -> list[str]:
    """
    :param checks: the looks at each step target (:func:`look_checks`), for their caveats
    :return: the report's opening: question, answer (from the records) and command
    """
    parts = [
        f"on {env_id} lambda reached the threshold after {medians_against(comparison)}"
        for env_id, *comparison in step_comparisons(found)
    ]
    untargeted = tuple(env_id for env_id in ENVS if env_id not in STEP_TARGET_ENVS and env_id != CLIFF)
    parts += [
        f"on {env_id} (no target) {medians_against(comparison)}" for env_id, *comparison in step_comparisons(found, untargeted)
    ]
    parts += [
        f"on {env_id}'s seeds {seed_span(fresh['lambda'])}, which chose nothing, lambda took {medians_against(judged)}: "
        f"its sarsa.yml entry should use "
        f"{'lambda' if entry_verdict(chosen, judged) == LABELS['lambda'] else 'its present return'}"
        for env_id, chosen, judged, fresh in entry_judgements(found)
        if judged is not None and step_verdict(chosen) == "yes"
    ]
    parts += looks_caveats(checks)
    cliff = found.get(CLIFF, {}).get("lambda", [])
    if cliff:
        parts.append(
            f"on the cliff its median value error is {median([run['value_error'] for run in cliff]):.2f} and its greedy "
            f"path safe on {sum(run['path_kind'] == 'safe' for run in cliff)} of {len(cliff)} seeds"
        )
    missing = []
    for env_id in ENVS:
        absent = [LABELS[variant] for variant in VARIANTS if not found.get(env_id, {}).get(variant)]
        if len(absent) == len(VARIANTS):
            missing.append(env_id)
        elif absent:
            missing.append(f"{env_id} {' and '.join(absent)}")
    answer = "; ".join(parts) if parts else "nothing measured yet"
    if missing:
        answer += f" (not run yet: {', '.join(missing)})"
    return [
        "**Question.** Does SARSA(lambda) learn faster than one-step and n-step SARSA with the same other values?",
        f"**Answer.** {answer[0].upper()}{answer[1:]}.",
        f"**Command.** {commands_for(found)}.",
    ]


def report(command: str) -> str:
    found = load_results()
    checks = look_checks(found, recorded_commands())
    lines = [
        "# SARSA(lambda) against one-step and n-step SARSA",
        "",
        *summary(found, checks),
        "",
        f"Written by `{command}`, {datetime.date.today().isoformat()}. {produced_by(RESULTS)}",
        "",
        f"Each env's `hyperparams/sarsa.yml` entry in three variants: `n_steps=1`, `n_steps=3`, and `n_steps=1` with "
        f"`td_lambda={TD_LAMBDA}` (the default `lambda_horizon`); lambda fixed before any run. "
        "The seeds column names each variant's seeds. "
        "Intervals: 95% bootstrap of the difference of medians, lambda minus the better other variant; "
        "an interval that contains 0 is a tie. Steps per second come from runs that shared a 2-core machine with "
        "one or two others: a rough measure; `python -m benchmarks.lambda_cost` measures the cost in one run. "
        "The lambda runs of the cliff, MountainCar-v0 and LunarLander-v3 seeds 0-2 were made before SARSA(lambda) "
        "kept its bootstrap values (`sb3_sarsa.bootstrap_cache`; the same targets up to float rounding): their "
        "steps per second are those of a target network run on every step of every sequence.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *targets(found),
        "",
        "## How often the step targets were looked at",
        "",
        "Each `--seeds` count of the recorded commands is a look at the step targets: with several looks, a 95% "
        "interval that excludes 0 at one of them is likelier by chance than 5%. Beside the target row's interval: "
        "the interval widened for the number of looks (Bonferroni), and the seeds of the last look alone, which no "
        "earlier look saw.",
        "",
        "| env | against | looks (seeds per variant) | all seeds, 95% | all seeds, widened for the looks "
        "| the last look's seeds alone, 95% |",
        "|---|---|---|---|---|---|",
        *looks_rows(checks),
        "",
        "## Beside the step targets",
        "",
        "Not targets: lambda against the same variant as in the target rows, on the share of seeds that reach the "
        "threshold within the budget and on the final score; lambda minus the other, with the same kind of interval.",
        "",
        "| env | measure | against | lambda vs other | difference [95% interval] | reads |",
        "|---|---|---|---|---|---|",
        *beside_targets(found),
        "",
        "## Where lambda enters sarsa.yml",
        "",
        f"An entry uses lambda only where lambda won on seeds that chose nothing. Seeds {seed_span_of(CHOOSING_SEEDS)} "
        "choose: lambda against the better of one-step and n-step there, by median steps to threshold. The seeds "
        "after them judge: lambda against that same variant. Both with the interval above; lambda wins where the "
        'interval lies below 0 ("yes").',
        "",
        f"| env | against | seeds {seed_span_of(CHOOSING_SEEDS)}: lambda vs other | reads | fresh seeds (lambda and other) "
        "| fresh seeds: lambda vs other | reads | the entry's return by these | `sarsa.yml` now |",
        "|---|---|---|---|---|---|---|---|---|",
        *entry_checks(found),
        "",
    ]
    for env_id in ENVS:
        if env_id not in found:
            continue
        lines += [f"## {env_id}", ""]
        lines += cliff_table(found[env_id]) if env_id == CLIFF else gym_table(env_id, found[env_id])
        versions_seen = sorted({run.get("versions", "?") for runs in found[env_id].values() for run in runs})
        lines += ["", f"Versions: {'; '.join(versions_seen)}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lambda_learning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (at most 2 on a 2-core machine)")
    parser.add_argument("--report-only", action="store_true", help="only write docs/research/LAMBDA.md")
    parser.add_argument("--run", nargs=3, metavar=("ENV", "VARIANT", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        env_id, variant, seed = args.run[0], args.run[1], int(args.run[2])
        write_result(result_path(env_id, variant, seed), run_one(env_id, variant, seed))
        return
    command = command_line("benchmarks.lambda_learning")
    if not args.report_only:
        record_command(RESULTS, command)
        schedule(args.envs, args.variants, args.seeds, args.jobs)
    REPORT.write_text(report(command))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
