"""
Why a greedy policy gets stuck: a saved model, the start states where it runs into the time limit,
and its Q-values along the loop, next to a control model's (SB3's DQN) at the very same states.

    python -m benchmarks.research.stuck analyse --env Acrobot-v1 \\
        --model benchmarks/models/tuning/Acrobot-v1/base_seed200.zip \\
        --control benchmarks/models/tuning/Acrobot-v1/dqn_seed200.zip --first-seed 220000
    python -m benchmarks.research.stuck report  # its README.md from its results and the tuning runs

``analyse`` runs one greedy episode from each of ``--episodes`` seeded start states (by default those
of the benchmark's final evaluation of the model's training seed; one stuck start state:
``--first-seed <its seed> --episodes 1``) and writes
``benchmarks/research/stuck/<name>.json`` with:

- the outcome of each way of acting: greedy, greedy with a random action with probability 0.01 and
  0.05, and ``predict(deterministic=False)`` (the model's own final epsilon);
- on the states the greedy policy visits in the last ``--loop`` steps of its stuck episodes and on
  the states of its successful episodes: the gap between the best and the second-best Q-value (in
  return units and relative to ``|max_a Q|``), and what the control does there (its greedy action,
  its gap);
- a trace of the first stuck episode's loop: the env's progress measure (Acrobot: height of the tip,
  goal at 1; MountainCar: position, goal at 0.5; LunarLander: height above the pad, which is at 0), the
  actions and the gaps;
- on LunarLander-v3 (:func:`lunar_rest`): whether each stuck lander is down on both legs at the time
  limit, the actions of the loops and their longest run of no-op (the episode ends with +100 only after
  25 quiet steps), and what happens when the same episode is replayed greedily up to the loop and then
  only takes no-op.
"""

import argparse
import json
import pathlib
import zipfile
from typing import Any

import numpy as np

from benchmarks.common import ROOT, command_line, discussion_section, record_command
from benchmarks.compare import FINAL_FIRST_SEED, lunar_ending
from sb3_sarsa.evaluation import Episodes, run_episodes

STUCK = ROOT / "benchmarks" / "research" / "stuck"
REPORT = STUCK / "README.md"
DISCUSSION = STUCK / "discussion.md"


def q_gaps(q_values: np.ndarray) -> np.ndarray:
    """:return: per row, the best Q-value minus the second best (0 on a tie)"""
    ordered = np.sort(q_values, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def relative_gaps(q_values: np.ndarray) -> np.ndarray:
    """:return: :func:`q_gaps` divided by ``|max_a Q|`` (how far from a tie, as a share of the value)"""
    return q_gaps(q_values) / np.maximum(np.abs(q_values.max(axis=1)), 1e-8)


def progress(env_id: str, observation: np.ndarray) -> float | None:
    """
    :return: how close a state is to the goal (Acrobot: tip height, goal >= 1; MountainCar: position, goal
        0.5; LunarLander: height above the pad in the observation's units, the pad at 0)
    """
    if env_id == "LunarLander-v3":
        return float(observation[1])
    if env_id == "Acrobot-v1":
        cos1, sin1, cos2, sin2 = observation[:4]
        return float(-cos1 - (cos1 * cos2 - sin1 * sin2))
    if env_id == "MountainCar-v0":
        return float(observation[0])
    return None


def load_model(path: pathlib.Path) -> Any:
    """:return: the SARSA or DQN model saved at ``path`` (a SARSA zip has a ``target`` entry)"""
    from stable_baselines3 import DQN

    from sb3_sarsa import SARSA

    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    return (SARSA if "target" in data else DQN).load(path, device="cpu")


def q_of(model: Any, observations: np.ndarray) -> np.ndarray:
    """:return: the online network's Q-values, one row per observation"""
    import torch as th

    with th.no_grad():
        tensor, _ = model.policy.obs_to_tensor(observations)
        return model.policy.q_net(tensor).cpu().numpy()


def describe(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    return {
        "median": float(np.median(values)),
        "p10": float(np.percentile(values, 10)),
        "p90": float(np.percentile(values, 90)),
    }


def gap_summary(model: Any, control: Any | None, observations: np.ndarray) -> dict[str, Any]:
    """The model's Q-gaps on ``observations`` and what the control does at the same states."""
    if len(observations) == 0:
        return {"states": 0}
    q = q_of(model, observations)
    summary: dict[str, Any] = {
        "states": len(observations),
        "gap": describe(q_gaps(q)),
        "relative_gap": describe(relative_gaps(q)),
        "max_q": describe(q.max(axis=1)),
        "share_relative_gap_below_0.01": float(np.mean(relative_gaps(q) < 0.01)),
    }
    if control is not None:
        q_control = q_of(control, observations)
        summary["control"] = {
            "gap": describe(q_gaps(q_control)),
            "relative_gap": describe(relative_gaps(q_control)),
            "max_q": describe(q_control.max(axis=1)),
            "share_relative_gap_below_0.01": float(np.mean(relative_gaps(q_control) < 0.01)),
            "same_action": float(np.mean(q_control.argmax(axis=1) == q.argmax(axis=1))),
        }
    return summary


def outcomes(model: Any, env_id: str, seeds: list[int], greedy: Episodes | None = None) -> dict[str, dict[str, float]]:
    """
    :param greedy: the greedy episodes from ``seeds``, if already played
    :return: mean return and episodes stuck of each way of acting, from the same start states
    """
    import gymnasium as gym

    ways: dict[str, dict[str, Any]] = {
        "greedy": {},
        "greedy, random action w.p. 0.01": {"epsilon": 0.01},
        "greedy, random action w.p. 0.05": {"epsilon": 0.05},
        f"predict(deterministic=False) (epsilon {model.exploration_rate:g})": {"deterministic": False},
    }
    found = {}
    for way, options in ways.items():
        episodes = greedy if greedy is not None and not options else run_episodes(model, gym.make(env_id), seeds, **options)
        found[way] = {"mean": episodes.mean, "stuck": episodes.stuck(env_id) or 0, "episodes": len(seeds)}
    return found


def analyse(
    env_id: str, model_file: pathlib.Path, control_file: pathlib.Path | None, seeds: list[int], loop: int
) -> dict[str, Any]:
    import gymnasium as gym

    model = load_model(model_file)
    control = load_model(control_file) if control_file is not None else None
    env = gym.make(env_id)
    for path, loaded in ((model_file, model), (control_file, control)):
        if loaded is not None and loaded.observation_space != env.observation_space:
            raise ValueError(
                f"{path} takes observations of shape {loaded.observation_space.shape}, but {env_id} gives "
                f"{env.observation_space.shape}: "
                "the analysis replays the env without wrappers, so it cannot analyse a model trained with an "
                "env_wrapper (such as a frame stack)."
            )
    stuck_states, done_states, stuck_seeds = [], [], []
    trace: list[dict[str, Any]] = []
    played = run_episodes(model, env, seeds, record=True)
    for seed, observations, actions, truncated in zip(played.seeds, played.observations, played.actions, played.truncated):
        if truncated:
            stuck_seeds.append(seed)
            stuck_states.append(observations[-loop:])
            if not trace:
                trace = loop_trace(env_id, model, control, observations[-loop:], actions[-loop:])
        else:
            done_states.append(observations)
    result: dict[str, Any] = {
        "env": env_id,
        "model": shown(model_file),
        "control": None if control_file is None else shown(control_file),
        "start_seeds": [seeds[0], seeds[-1]],
        "loop_steps": loop,
        "stuck_seeds": stuck_seeds,
        "outcomes": {"model": outcomes(model, env_id, seeds, greedy=played)},
        "in_loops": gap_summary(model, control, np.concatenate(stuck_states) if stuck_states else np.empty((0,))),
        "in_successful_episodes": gap_summary(model, control, np.concatenate(done_states) if done_states else np.empty((0,))),
        "trace": trace,
    }
    if control is not None:
        result["outcomes"]["control"] = outcomes(control, env_id, seeds)
    if env_id == "LunarLander-v3":
        result["lunar_rest"] = lunar_rest(model, env_id, played, loop)
    return result


#: LunarLander's no-op. The env ends an episode with +100 when the lander's body falls asleep, which Box2D
#: does after half a second (25 steps at the env's 50 frames per second) below its speed tolerances; firing
#: any engine wakes it.
LUNAR_NOOP = 0
#: Runs of no-op given to a landed stuck lander from its loop's first step, each followed by the greedy policy again
QUIET_RUNS = (1, 5, 10, 20, 24, 25, 30)
#: Two observations closer than this in every coordinate count as the same (``still_steps`` of :func:`then_only`)
STILL_TOLERANCE = 1e-4


def longest_run(actions: list[int], action: int) -> int:
    """:return: the length of the longest run of ``action`` in ``actions``"""
    best = run = 0
    for taken in actions:
        run = run + 1 if taken == action else 0
        best = max(best, run)
    return best


def then_only(model: Any, env: Any, seed: int, switch: int, action: int, steps: int | None = None) -> dict[str, Any]:
    """
    Replay one greedy episode from its start seed for ``switch`` steps, then take only ``action`` (the
    env's own randomness is seeded by the reset, so the first ``switch`` steps are the recorded ones).

    :param env: a single env with its time limit, as the episode was played in
    :param steps: take ``action`` for this many steps only, then act greedily again (``None``: to the end)
    :return: whether it then terminated, with which last reward, its length and its return; ``still_steps``,
        how many steps at the end returned an observation within :data:`STILL_TOLERANCE` of the one before
        (what the Q-network saw while the body fell asleep), and ``greedy_last``, the greedy action on the
        observation the last step was taken from
    """
    observation, _ = env.reset(seed=seed)
    total, length, reward, terminated, still = 0.0, 0, 0.0, False, 0
    while True:
        greedy, _ = model.predict(observation, deterministic=True)
        greedy = int(np.asarray(greedy).reshape(-1)[0])
        chosen = greedy if length < switch or (steps is not None and length >= switch + steps) else action
        previous = observation
        observation, step_reward, terminated, truncated, _ = env.step(chosen)
        still = still + 1 if np.max(np.abs(np.asarray(observation) - np.asarray(previous))) < STILL_TOLERANCE else 0
        reward = float(step_reward)
        total += reward
        length += 1
        if terminated or truncated:
            break
    return {
        "terminated": bool(terminated),
        "last_reward": reward,
        "length": length,
        "return": total,
        "still_steps": still,
        "greedy_last": greedy,
    }


def lunar_rest(model: Any, env_id: str, played: Episodes, loop: int) -> dict[str, Any]:
    """
    LunarLander-v3's stuck episodes: is the lander down on both legs at the time limit, how long are its
    runs of no-op in the loop (the episode ends with +100 only after 25 quiet steps), and does it end
    with +100 if, from the loop's first step on, it only takes no-op. A lander down on both legs is also
    replayed with each run of no-op of :data:`QUIET_RUNS` from the loop's first step, then greedily again
    (``quiet_runs``): what a run of quiet steps shorter than 25 is worth to the greedy policy.
    """
    import gymnasium as gym

    env = gym.make(env_id)
    stuck = [index for index, truncated in enumerate(played.truncated) if truncated]
    rows = []
    for index in stuck:
        last = played.observations[index][-1]
        actions = played.actions[index]
        switched = then_only(model, env, played.seeds[index], len(actions) - loop, LUNAR_NOOP)
        down = bool(last[6] > 0.5 and last[7] > 0.5)
        quiet = {
            str(steps): then_only(model, env, played.seeds[index], len(actions) - loop, LUNAR_NOOP, steps)
            for steps in (QUIET_RUNS if down else ())
        }
        rows.append(
            {
                "seed": played.seeds[index],
                "both_legs_down": down,
                "height": float(last[1]),
                "longest_noop_run": longest_run(actions[-loop:], LUNAR_NOOP),
                "greedy_return": played.returns[index],
                "noop_from_loop_start": switched,
                "quiet_runs": quiet,
            }
        )
    return {"stuck": rows, "actions_in_loops": action_counts([played.actions[index][-loop:] for index in stuck])}


def action_counts(loops: list[list[int]]) -> dict[str, int]:
    """:return: how often each action was taken in ``loops``, by action (as JSON keys)"""
    counts: dict[str, int] = {}
    for actions in loops:
        for action in actions:
            counts[str(action)] = counts.get(str(action), 0) + 1
    return dict(sorted(counts.items()))


def shown(path: pathlib.Path) -> str:
    """:return: ``path`` relative to the repository when it is inside it"""
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def loop_trace(
    env_id: str, model: Any, control: Any | None, observations: np.ndarray, actions: list[int]
) -> list[dict[str, Any]]:
    """:return: every 10th step of a loop: progress, the model's Q-values, action and gap; the control's action and gap"""
    q = q_of(model, observations)
    q_control = q_of(control, observations) if control is not None else None
    rows = []
    for step in range(0, len(observations), 10):
        row: dict[str, Any] = {
            "step_from_loop_start": step,
            "progress": progress(env_id, observations[step]),
            "q": [round(float(value), 3) for value in q[step]],
            "action": actions[step],
            "gap": float(q_gaps(q[step : step + 1])[0]),
        }
        if q_control is not None:
            row["control_action"] = int(q_control[step].argmax())
            row["control_gap"] = float(q_gaps(q_control[step : step + 1])[0])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def analysis_section(result: dict[str, Any]) -> list[str]:
    def gaps(summary: dict[str, Any], key: str = "gap") -> str:
        found = summary.get(key, {})
        return f"{found['median']:.4f} [{found['p10']:.4f}, {found['p90']:.4f}]" if found else "-"

    lines = [
        f"### {result['env']}: `{result['model']}`",
        "",
        f"Control: `{result['control']}`. Start seeds {result['start_seeds'][0]}-{result['start_seeds'][1]}; "
        f"greedy episodes stuck at the time limit: {len(result['stuck_seeds'])}.",
        "",
        "| acting | model: mean return | model: stuck | control: mean return | control: stuck |",
        "|---|---|---|---|---|",
    ]
    control = result["outcomes"].get("control", {})
    for (way, ours), theirs in zip(result["outcomes"]["model"].items(), control.values() or [None] * 4):
        cells = f"{theirs['mean']:.1f} | {theirs['stuck']}/{theirs['episodes']}" if theirs else "- | -"
        lines.append(f"| {way} | {ours['mean']:.1f} | {ours['stuck']}/{ours['episodes']} | {cells} |")
    lines += [
        "",
        f"Q-gaps (best minus second best; median [10th, 90th percentile]) on the states of the last "
        f"{result['loop_steps']} steps of the stuck episodes and on all states of the successful ones; "
        "the control's at the same states:",
        "",
        "| states | n | model gap | model gap / max Q | model share < 1% | control gap | control gap / max Q "
        "| control share < 1% | same greedy action |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, key in (("in loops", "in_loops"), ("successful episodes", "in_successful_episodes")):
        summary = result[key]
        if summary["states"] == 0:
            lines.append(f"| {name} | 0 | | | | | | | |")
            continue
        other = summary.get("control", {})
        lines.append(
            f"| {name} | {summary['states']} | {gaps(summary)} | {gaps(summary, 'relative_gap')} | "
            f"{summary['share_relative_gap_below_0.01']:.2f} | {gaps(other)} | {gaps(other, 'relative_gap')} | "
            f"{other.get('share_relative_gap_below_0.01', float('nan')):.2f} | {other.get('same_action', float('nan')):.2f} |"
        )
    lines += rest_lines(result)
    if result["trace"]:
        lines += [
            "",
            f"The first stuck episode's loop (start seed {result['stuck_seeds'][0]}), every 10th of its last "
            f"{result['loop_steps']} steps:",
            "",
            "| step | progress | model Q | model action | model gap | control action | control gap |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in result["trace"]:
            lines.append(
                f"| {row['step_from_loop_start']} | {row['progress']:.3f} | {row['q']} | {row['action']} | "
                f"{row['gap']:.4f} | {row.get('control_action', '-')} | {row.get('control_gap', float('nan')):.4f} |"
            )
    return [*lines, ""]


def rest_lines(result: dict[str, Any]) -> list[str]:
    """:return: the report's lines on LunarLander's stuck episodes (:func:`lunar_rest`), if the analysis has them"""
    rest = result.get("lunar_rest")
    if not rest or not rest["stuck"]:
        return []
    rows = rest["stuck"]
    switched = [row["noop_from_loop_start"] for row in rows]
    rested = [run for run in switched if came_to_rest(run)]
    runs = sorted(row["longest_noop_run"] for row in rows)
    loop = result["loop_steps"]
    return [
        "",
        f"At the time limit {sum(row['both_legs_down'] for row in rows)} of the {len(rows)} stuck episodes are down on "
        f"both legs (height {min(row['height'] for row in rows):.3f} to {max(row['height'] for row in rows):.3f}). "
        f"Actions in their last {loop} steps: "
        + ", ".join(f"{action}: {count}" for action, count in rest["actions_in_loops"].items())
        + f". Longest run of no-op in each loop: median {runs[len(runs) // 2]}, longest {runs[-1]}; the body falls "
        "asleep, and the episode ends with +100, after 25 quiet steps.",
        f"Replayed greedily up to the first of those {loop} steps, then only no-op: {len(rested)} of {len(rows)} end "
        f"with +100, mean return {np.mean([run['return'] for run in switched]):.1f} (greedy to the time limit: "
        f"{np.mean([row['greedy_return'] for row in rows]):.1f}).",
        *quiet_lines(rows),
    ]


def came_to_rest(run: dict[str, Any]) -> bool:
    """:return: whether a replay of :func:`then_only` ended at rest (:func:`benchmarks.compare.lunar_ending`)"""
    return lunar_ending(run["last_reward"], run["terminated"]) == "rest"


def quiet_lines(rows: list[dict[str, Any]]) -> list[str]:
    """:return: the report's line on the landed stuck landers given k no-op, then the greedy policy again"""
    landed = [row for row in rows if row.get("quiet_runs")]
    if not landed:
        return []
    parts = []
    for steps in landed[0]["quiet_runs"]:
        runs = [row["quiet_runs"][steps] for row in landed]
        rested = sum(came_to_rest(run) for run in runs)
        parts.append(
            f"{steps}: {rested} of {len(runs)} end with +100, mean return {np.mean([run['return'] for run in runs]):.1f}"
        )
    lines = [
        f"The {len(landed)} landed ones, replayed greedily up to the loop's first step, then k no-op, then greedily "
        f"again (greedy throughout: {np.mean([row['greedy_return'] for row in landed]):.1f}): k = " + "; ".join(parts) + ".",
    ]
    longest = max(landed[0]["quiet_runs"], key=int)
    at_rest = [row["quiet_runs"][longest] for row in landed if came_to_rest(row["quiet_runs"][longest])]
    if at_rest:
        still = [run["still_steps"] for run in at_rest]
        noop = sum(run["greedy_last"] == LUNAR_NOOP for run in at_rest)
        lines.append(
            f"In the {len(at_rest)} runs of k = {longest} that end with +100, the observation stayed the same (every "
            f"coordinate within {STILL_TOLERANCE:g} of the step before) for the last {min(still)} to {max(still)} steps "
            f"(median {np.median(still):g}; {sum(n >= 10 for n in still)} of {len(at_rest)} for 10 or more) before it. "
            f"On that last observation the greedy action is no-op in {noop} of {len(at_rest)}."
        )
    return lines


def training_endings(result: dict[str, Any], last: float = 0.2) -> str:
    """
    :param last: the share of the budget at its end to count (the last fifth: 20,000 of 100,000 steps)
    :return: ``"<ended at rest>/<ended>"`` over the training episodes that ended in that part of the run
        (``endings`` of :func:`benchmarks.compare.run_one`, LunarLander-v3 only), ``"-"`` for a run without
    """
    if "endings" not in result:
        return "-"
    blocks = [block for block in result["endings"] if block["step"] > (1 - last) * result["budget"]]
    ended = sum(n for block in blocks for key, n in block.items() if key != "step")
    return f"{sum(block.get('rest', 0) for block in blocks)}/{ended}"


def variants_section() -> list[str]:
    """:return: the tuning runs with a 100-episode final evaluation: stuck episodes per variant, per seed"""
    from benchmarks.compare import iqm
    from benchmarks.tune import TUNING, load_variants, overrides_text

    lines = []
    for env_dir in sorted(path for path in TUNING.glob("*") if path.is_dir()):
        runs = load_variants(env_dir, keep=lambda result: "final" in result)
        if not runs:
            continue
        endings = any("endings" in result for results in runs.values() for result in results)
        lines += [
            f"### {env_dir.name}",
            "",
            "| variant | overrides | seeds | stuck (sum over seeds) | stuck per seed | IQM of the 100-episode means "
            "| 100-episode mean per seed | next_action_agreement per seed |"
            + (" training episodes of the last fifth ended at rest, per seed |" if endings else ""),
            "|---|---|---|---|---|---|---|---|" + ("---|" if endings else ""),
        ]
        for variant, results in runs.items():
            stuck = [result["final"]["stuck"] for result in results]
            means = [result["final"]["mean"] for result in results]
            agreement = [result.get("next_action_agreement") for result in results]
            overrides = overrides_text(variant, results[0])
            seeds = f"{results[0]['seed']}-{results[-1]['seed']}"
            lines.append(
                f"| {variant} | {overrides} | {seeds} | {sum(stuck)}/{100 * len(results)} | "
                f"{', '.join(map(str, stuck))} | {iqm(means):.1f} | {', '.join(f'{mean:.0f}' for mean in means)} | "
                f"{', '.join('-' if value is None else f'{value:.2f}' for value in agreement)} |"
                + (f" {', '.join(training_endings(result) for result in results)} |" if endings else "")
            )
        lines.append("")
    return lines


def cliff_section() -> list[str]:
    """:return: the cliff benchmark's greedy paths read as stuck or not (``python -m benchmarks.cliff``)"""
    from benchmarks import cliff

    results = cliff.load_results()
    if not results:
        return []
    lines = [
        "### CliffWalking-v1",
        "",
        "`CliffWalking-v1` always starts in the same cell and its greedy policy is deterministic, so 100",
        "start states are 100 copies of one episode: a seed is stuck on all of them or on none. From",
        "`python -m benchmarks.cliff` (10 seeds, the `CliffWalking-v1` entry, 100-step time limit,",
        "[CLIFF.md](CLIFF.md)): a greedy path that never reaches the goal is stuck.",
        "",
        "| algorithm | seeds | stuck episodes (of 100 per seed) | stuck seeds |",
        "|---|---|---|---|",
    ]
    for algo, runs in results.items():
        stuck = [run["seed"] for run in runs if not run["reached_goal"]]
        lines.append(
            f"| {cliff.LABELS[algo]} | {len(runs)} | {100 * len(stuck)}/{100 * len(runs)} | "
            f"{', '.join(map(str, stuck)) or '-'} |"
        )
    return [*lines, ""]


SUMMARY: list[str] = [
    "**Question.** Why do some greedy policies run into the time limit (Acrobot-v1 swinging, "
    "LunarLander-v3 hovering or resting)?",
    "**Answer.** Acrobot: one constant torque held at the bottom, a failure DQN shares; ending "
    "training at epsilon 0.01 removed",
    "most of it. LunarLander: most stuck landers have landed but keep firing, since quiet steps pay "
    "nothing until 25 in a row.",
    "**Command.** `python -m benchmarks.research.stuck analyse --env Acrobot-v1 --model <model.zip>`, then "
    "`python -m benchmarks.research.stuck report`.",
]


def report() -> str:
    from benchmarks.compare import produced_by

    text = [
        "# Stuck greedy policies: measured, explained",
        "",
        *SUMMARY,
        "",
        f"Analyses by {produced_by(STUCK)}; training runs by `python -m benchmarks.tune` "
        "(`benchmarks/tuning/COMMANDS.txt`); this report by `python -m benchmarks.research.stuck report`.",
        "A run's final evaluation: 100 greedy episodes, each from its own seeded start state. Stuck: the",
        "episode ended at the time limit on an env with a goal.",
        "",
        "## Training variants",
        "",
        *variants_section(),
        *cliff_section(),
        "## Analyses",
        "",
    ]
    for path in sorted(STUCK.glob("*.json")):
        text += analysis_section(json.loads(path.read_text()))
    text += discussion_section(DISCUSSION, "What the evidence says")
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.stuck", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("analyse", help="analyse one saved model (and a control) on seeded start states")
    run.add_argument("--env", required=True)
    run.add_argument("--model", type=pathlib.Path, required=True)
    run.add_argument("--control", type=pathlib.Path, default=None)
    run.add_argument("--training-seed", type=int, default=None, help="start states of that seed's final evaluation")
    run.add_argument("--first-seed", type=int, default=None, help="first start seed (default: from --training-seed)")
    run.add_argument("--episodes", type=int, default=100)
    run.add_argument("--loop", type=int, default=200, help="steps at the end of a stuck episode taken as its loop")
    commands.add_parser("report", help="write benchmarks/research/stuck/README.md")
    args = parser.parse_args()
    if args.command == "analyse":
        if args.first_seed is None and args.training_seed is None:
            parser.error("give --training-seed (the benchmark's start states for that seed) or --first-seed")
        first = args.first_seed if args.first_seed is not None else FINAL_FIRST_SEED + 1000 * args.training_seed
        result = analyse(
            args.env,
            args.model.resolve(),
            args.control and args.control.resolve(),
            list(range(first, first + args.episodes)),
            args.loop,
        )
        STUCK.mkdir(parents=True, exist_ok=True)
        name = f"{args.env}_{args.model.stem}"
        (STUCK / f"{name}.json").write_text(json.dumps(result, indent=1))
        record_command(STUCK, command_line("benchmarks.research.stuck"))
        print("\n".join(analysis_section(result)))
    REPORT.write_text(report())
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
