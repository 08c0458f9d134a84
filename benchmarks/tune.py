"""
Tuning runs for ``hyperparams/sarsa.yml``: variants of an env's entry, on seeds the benchmark does not use.

    python -m benchmarks.tune --env MountainCar-v0 --seeds 3                # every variant of the env
    python -m benchmarks.tune --env MountainCar-v0 --variants base n3 --seeds 5
    python -m benchmarks.tune --report-only                                 # docs/research/TUNING.md only

A variant is a set of constructor arguments that replace those of the env's ``sarsa.yml`` entry
(``VARIANTS`` below; ``base`` is the entry as it is). Each run is a ``benchmarks.compare`` run
(same step budget, same evaluation every 5,000 steps with 20 deterministic episodes), on seeds
100, 101, ... so that the variant chosen here is then judged by the benchmark on seeds it was not
chosen on (0-9). Runs are interleaved (seed 100 of every variant, then seed 101, ...), at most
``--jobs`` at once; each writes ``benchmarks/tuning/<env>/<variant>_seed<k>.json`` and is skipped
when that file exists. ``docs/research/TUNING.md`` lists every variant that has results.
"""

import argparse
import json
import pathlib
from typing import Any

from benchmarks.common import ROOT, command_line, format_steps, iqm, pending_runs, record_command, run_processes, write_result
from benchmarks.compare import BUDGET_FACTORS, MODELS, THRESHOLDS, median_steps_to_threshold, run_one

TUNING = ROOT / "benchmarks" / "tuning"
REPORT = ROOT / "docs" / "research" / "TUNING.md"
FIRST_SEED = 100
#: A variant of every env: SB3's DQN with rl-zoo3's dqn.yml, the control on the same seeds
DQN_CONTROL = "dqn"
#: The last 8 observations, zeros before the first, flattened oldest first (an ``env_wrapper`` in rl-zoo3's format)
FRAME_STACK_8: list[Any] = [
    {"gymnasium.wrappers.FrameStackObservation": {"stack_size": 8, "padding_type": "zero"}},
    "gymnasium.wrappers.FlattenObservation",
]
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "CartPole-v1": {
        "base": {},
        "ef08": {"exploration_fraction": 0.08},
        "n3": {"n_steps": 3},
        # the tutorial's loss, whose fixed point is the mean of the sampled targets
        "n3-mse": {"n_steps": 3, "loss": "mse"},
    },
    "Acrobot-v1": {
        "base": {},
        "eps01": {"exploration_final_eps": 0.01},
        "n3": {"n_steps": 3},
        "mse": {"loss": "mse"},
        # the target that does not use the stored a' (are stale replayed a' the cause?)
        "expected": {"target": "expected"},
        "mse-eps01": {"loss": "mse", "exploration_final_eps": 0.01},
    },
    # The entry has td_lambda 0.8 since these ran (one-step then): the n-step variants set it back to 0
    "MountainCar-v0": {
        "base": {},
        "mse": {"loss": "mse"},
        "eps01": {"exploration_final_eps": 0.01},
        "n3": {"n_steps": 3, "td_lambda": 0.0},
        "n3-eps01": {"n_steps": 3, "td_lambda": 0.0, "exploration_final_eps": 0.01},
        "n3-mse": {"n_steps": 3, "td_lambda": 0.0, "loss": "mse"},
    },
    "LunarLander-v3": {
        "base": {},
        "eps01": {"exploration_final_eps": 0.01},
        "n3": {"n_steps": 3},
        # a smaller buffer holds next actions chosen by more recent policies
        "buf10k": {"buffer_size": 10_000},
        "mse": {"loss": "mse"},
        # the stuck landers of the entry are down on both legs and never keep still for the 25 steps that end
        # the episode with +100 (benchmarks/research/stuck/README.md); at 0.01 the exploring policy rarely breaks such a rest
        "eps01-2x": {"exploration_final_eps": 0.01},
        "eps05-2x": {"exploration_final_eps": 0.05},
        # the entry chosen from the search's trial 16, as it is (`base` is the older entry of seeds 100-101)
        "t16": {},
        "t16-2x": {},
        "t16-eps01": {"exploration_final_eps": 0.01},  # `eps01` of seeds 100-101 changed the older entry
        # the entry's 200,000-step evaluations still swing by 100 or more late in training (sarsa-2x seed 3: 258, 188
        # and 44 at 160,000, 180,000 and 200,000 steps):
        # four times DQN's steps, with the constant rate and with a rate that falls linearly to 0 from twice the
        # entry's (the step sizes of SARSA's convergence proof must shrink: Singh et al. 2000, Machine Learning 38);
        # lin-2x is that rate at twice DQN's steps
        "t16-4x": {},
        "lin-4x": {"learning_rate": "lin_4.58e-4"},
        "lin-2x": {"learning_rate": "lin_4.58e-4"},
        # On the pad a greedy policy that fires a side engine never rests: one no-op changes nothing while the next
        # step fires again, so SARSA sees no-op worth only the fuel it saves. An exploration that repeats no-op
        # for 25 steps lets the body fall asleep (+100) and puts runs of no-op into the buffer: epsilon-z-greedy
        # (Dabney et al. 2021) with the paper's mu = 2
        "ez2": {"exploration_zeta": 2.0},
        # at mu = 2 an exploration lasts 4.4 to 5.2 steps on average when 300 to 1,000 steps of the episode are left,
        # so epsilon 0.116 explores on about a third of the steps; 0.03 explores on about the entry's share (0.116)
        "ez2-eps03": {"exploration_zeta": 2.0, "exploration_final_eps": 0.03},
        # On the stuck landers' pad states the greedy step ties no-op and a side engine within 0.08 while a no-op
        # is worth the 0.025 of fuel it saves (benchmarks/research/stuck/discussion.md): a gap smaller than the network's
        # error. A dueling head learns the advantages apart from the state value, which Wang et al. (2016) found
        # helps where actions' values differ little
        "duel": {"policy_kwargs": {"net_arch": [256, 256], "dueling": True}},
        # The body falls asleep (+100) after 25 quiet steps, but the observation shows no timer: for 10 or more of them
        # it did not change in 58 of 61 replays (benchmarks/research/stuck/discussion.md), so Q(pad, no-op) averages
        # over how long the lander has kept still. The last 8 observations, as a zoo env_wrapper (rl-zoo3's
        # frame_stack: 8 gives the same observations), show how long up to 8 steps
        "fs8": {"env_wrapper": FRAME_STACK_8},
        "fs8-2x": {"env_wrapper": FRAME_STACK_8},
        # A diagnostic, not a SARSA candidate: Expected SARSA's target for a nearly greedy policy (epsilon 0.01) while
        # the behaviour explores at the entry's epsilon. If it lands better, the entry's shortfall is the price of
        # its own exploration that SARSA's values include (on the pad and near the ground a random action costs more)
        "exp-te01": {"target": "expected", "target_epsilon": 0.01},
    },
}
#: Variants trained by another ``benchmarks.compare`` algorithm than ``sarsa`` (the entry at DQN's budget):
#: ``sarsa-2x`` and ``sarsa-4x`` are the entry at twice and four times DQN's steps.
VARIANT_ALGOS: dict[str, dict[str, str]] = {
    "LunarLander-v3": {
        "eps01-2x": "sarsa-2x",
        "eps05-2x": "sarsa-2x",
        "t16-2x": "sarsa-2x",
        "t16-4x": "sarsa-4x",
        "lin-4x": "sarsa-4x",
        "lin-2x": "sarsa-2x",
        "fs8-2x": "sarsa-2x",
    },
}


def result_path(env_id: str, variant: str, seed: int) -> pathlib.Path:
    return TUNING / env_id / f"{variant}_seed{seed}.json"


def model_path(env_id: str, variant: str, seed: int) -> pathlib.Path:
    return MODELS / "tuning" / env_id / f"{variant}_seed{seed}.zip"


def schedule(env_id: str, variants: list[str], seeds: int, jobs: int, first_seed: int = FIRST_SEED) -> None:
    keys = [(env_id, variant, seed) for seed in range(first_seed, first_seed + seeds) for variant in variants]
    runs = pending_runs("benchmarks.tune", keys, result_path)
    print(f"{env_id}: {len(runs)} runs to do, {jobs} at a time", flush=True)
    run_processes(
        runs,
        jobs,
        lambda result: f"final eval {result['final_eval_mean']:.1f}, threshold at {result['first_step_to_threshold']}",
    )


def load_variants(env_dir: pathlib.Path, keep: Any = None) -> dict[str, list[dict[str, Any]]]:
    """
    :param keep: a test a result must pass to be kept (default: every result)
    :return: the tuning results of one env's folder, by variant (in file order), each list sorted by seed
    """
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(env_dir.glob("*.json")):
        result = json.loads(path.read_text())
        if keep is None or keep(result):
            runs.setdefault(result["variant"], []).append(result)
    for results in runs.values():
        results.sort(key=lambda result: result["seed"])
    return runs


def variant_algo(env_id: str, variant: str) -> str:
    """:return: the ``benchmarks.compare`` algorithm that trains a variant (which sets its step budget)"""
    if variant == DQN_CONTROL:
        return "dqn"
    return VARIANT_ALGOS.get(env_id, {}).get(variant, "sarsa")


def wrapper_text(wrapper: list[Any]) -> str:
    """:return: an ``env_wrapper`` entry as the reports print it: ``Class(key=value), Class``, outermost last"""
    parts = []
    for item in wrapper:
        name, kwargs = next(iter(item.items())) if isinstance(item, dict) else (item, {})
        arguments = ", ".join(f"{key}={value}" for key, value in kwargs.items())
        parts.append(f"{name.rsplit('.', 1)[-1]}({arguments})" if arguments else name.rsplit(".", 1)[-1])
    return ", ".join(parts)


def overrides_text(variant: str, result: dict[str, Any]) -> str:
    """:return: what a variant changes, as the reports print it"""
    if variant == DQN_CONTROL:
        return "SB3's DQN, rl-zoo3's `dqn.yml`"
    changes = [
        f"`{key}={wrapper_text(value) if key == 'env_wrapper' else value}`" for key, value in result["overrides"].items()
    ]
    if result.get("algo", "sarsa") in BUDGET_FACTORS:
        changes.append(f"{BUDGET_FACTORS[result['algo']]}x DQN's steps ({result['budget']:,})")
    return ", ".join(changes) or "-"


SUMMARY: list[str] = [
    "**Question.** Which changes to a `sarsa.yml` entry help, on seeds the benchmark does not use (100 and up)?",
    "**Answer.** Per env in the tables below: n-step returns on CartPole-v1 and MountainCar-v0 and a final epsilon of 0.01 on",
    "Acrobot-v1 won; on LunarLander-v3 no variant reached 200 (dueling, epsilon-z-greedy and frame stacks did not help).",
    "**Command.** `python -m benchmarks.tune --env <id> --variants <names> --seeds 3` (commands in "
    "`benchmarks/tuning/COMMANDS.txt`).",
]


def report() -> str:
    lines = [
        "# Tuning runs for `hyperparams/sarsa.yml`",
        "",
        *SUMMARY,
        "",
        "Written by `python -m benchmarks.tune` (commands in `benchmarks/tuning/COMMANDS.txt`). Each variant",
        "replaces some constructor arguments of the env's `sarsa.yml` entry *as it was when the run",
        "was made* (the `base` row is that entry); seeds 100 and up, which the benchmark",
        "(`docs/research/BENCHMARKS.md`, seeds 0-9) does not use. Same budget (unless *overrides* names another) and",
        "evaluation as the benchmark: final = mean return of 20 deterministic episodes after the last",
        "5,000-step block. Median steps to threshold: a seed that never reached it counts as infinity",
        "(`never` when half or more did not).",
        "",
    ]
    for env_dir in sorted(path for path in TUNING.glob("*") if path.is_dir()):
        runs = load_variants(env_dir)
        env_id = env_dir.name
        lines += [
            f"## {env_id} (threshold {THRESHOLDS[env_id]:g})",
            "",
            "| variant | overrides | seeds | IQM final | mean final | final per seed | at threshold | "
            "median steps to threshold |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for variant, results in runs.items():
            finals = [result["final_eval_mean"] for result in results]
            reached = sum(result["first_step_to_threshold"] is not None for result in results)
            at_end = sum(final >= THRESHOLDS[env_id] for final in finals)
            lines.append(
                f"| {variant} | {overrides_text(variant, results[0])} | {len(results)} | {iqm(finals):.1f} | "
                f"{sum(finals) / len(finals):.1f} | "
                f"{', '.join(f'{final:.0f}' for final in finals)} | {reached} reached, {at_end} at the end | "
                f"{format_steps(median_steps_to_threshold(results))} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", choices=sorted(VARIANTS))
    parser.add_argument("--variants", nargs="+", help="default: every variant of the env")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=FIRST_SEED, help="seeds --first-seed, --first-seed + 1, ...")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (at most 2 on a 2-core machine)")
    parser.add_argument("--report-only", action="store_true", help="only write docs/research/TUNING.md")
    parser.add_argument("--run", nargs=3, metavar=("ENV", "VARIANT", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        env_id, variant, seed = args.run[0], args.run[1], int(args.run[2])
        overrides = {} if variant == DQN_CONTROL else VARIANTS[env_id][variant]
        algo = variant_algo(env_id, variant)
        result = run_one(env_id, algo, seed, 5000, 20, overrides=overrides, model_path=model_path(env_id, variant, seed))
        result.update(variant=variant, overrides=overrides)
        write_result(result_path(env_id, variant, seed), result)
        return
    if not args.report_only:
        if args.env is None:
            parser.error("--env is required unless --report-only")
        variants = args.variants or list(VARIANTS[args.env])
        known = [*VARIANTS[args.env], DQN_CONTROL]
        unknown = sorted(set(variants) - set(known))
        if unknown:
            parser.error(f"unknown variants for {args.env}: {unknown}; known: {sorted(known)}")
        record_command(TUNING, command_line("benchmarks.tune"))
        schedule(args.env, variants, args.seeds, args.jobs, args.first_seed)
    REPORT.write_text(report())
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
