"""How stale are the replayed next actions? ``train/next_action_agreement`` along a SARSA run.

``python -m benchmarks.research.agreement [--envs ...] [--seed K]`` trains SARSA with each env's
``hyperparams/sarsa.yml`` entry and DQN's step budget (the benchmark's SARSA configuration, no
evaluation) and samples, every ``--every`` steps, the last logged ``train/next_action_agreement``
(share of replayed non-terminal ``a'`` equal to the current greedy action at ``s'``) and the
exploration rate. With a buffer of fresh transitions the agreement is about ``1 - eps + eps / n``
(``n`` actions); below that, the stored ``a'`` come from older policies that acted differently.
Results: ``benchmarks/research/agreement/<env>_seed<K>.json`` (invocations in its ``COMMANDS.txt``); table:
``benchmarks/research/agreement/README.md``.
"""

import argparse
import json
import pathlib
import sys
from typing import Any

from benchmarks.common import ROOT, command_line, produced_by, record_command, run_processes, write_result
from benchmarks.compare import ENVS, hyperparameters

RESULTS = ROOT / "benchmarks" / "research" / "agreement"
REPORT = RESULTS / "README.md"


def result_path(env_id: str, seed: int) -> pathlib.Path:
    return RESULTS / f"{env_id}_seed{seed}.json"


def run_one(env_id: str, seed: int, every: int) -> dict[str, Any]:
    """Train SARSA once and sample its logged next-action agreement every ``every`` steps."""
    import torch as th
    from stable_baselines3.common.callbacks import BaseCallback

    from sb3_sarsa import SARSA

    th.set_num_threads(1)
    kwargs, budget = hyperparameters(env_id, "sarsa")

    class Sample(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.latest: float | None = None
            self.samples: list[tuple[int, float | None, float]] = []

        def _on_step(self) -> bool:
            # the logger forgets its values when it writes them, so keep the last one seen
            value = self.logger.name_to_value.get("train/next_action_agreement")
            if value is not None:
                self.latest = float(value)
            if self.num_timesteps % every == 0:
                self.samples.append((self.num_timesteps, self.latest, float(model.exploration_rate)))
            return True

    model = SARSA("MlpPolicy", env_id, seed=seed, **kwargs)
    callback = Sample()
    model.learn(budget, callback=callback)
    return {
        "env": env_id,
        "seed": seed,
        "budget": budget,
        "n_actions": int(model.action_space.n),  # type: ignore[attr-defined]
        "buffer_size": model.buffer_size,
        "n_steps": model.n_steps,
        "samples": callback.samples,
    }


def fresh_agreement(epsilon: float, n_actions: int) -> float:
    """:return: the chance that an epsilon-greedy action equals the greedy one"""
    return 1.0 - epsilon + epsilon / n_actions


SUMMARY: list[str] = [
    "**Question.** How stale are the next actions `a'` that SARSA replays, measured as agreement with the current greedy"
    " action?",
    "**Answer.** Staler than a fresh buffer would be: on Acrobot-v1 and LunarLander-v3 agreement starts near 0.4 against",
    "0.93 for fresh transitions and rises to about 0.6-0.8 by the end; on CartPole-v1 it wanders "
    "between 0.47 and 0.76 (fresh 0.98).",
    "**Command.** `python -m benchmarks.research.agreement --envs LunarLander-v3 Acrobot-v1 MountainCar-v0 CartPole-v1`.",
]


def report(command: str) -> str:
    lines = [
        "# Agreement of replayed next actions with the current greedy action",
        "",
        *SUMMARY,
        "",
        f"Results produced by {produced_by(RESULTS)}; this report by `{command}` (see",
        "`benchmarks/research/agreement.py`). SARSA with each env's `sarsa.yml` entry and DQN's step budget; one seed.",
        "`agreement` is the last logged `train/next_action_agreement` before that step (share of replayed",
        "non-terminal `a'` equal to the online network's greedy action at `s'`, measured on one batch every",
        "100 updates); `fresh` is what a buffer of transitions from",
        "the current epsilon-greedy policy would give, `1 - eps + eps / n_actions`.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        lines += [
            f"## {result['env']} (seed {result['seed']}, buffer {result['buffer_size']}, n_steps {result['n_steps']})",
            "",
            "| step | exploration rate | agreement | fresh |",
            "|---|---|---|---|",
        ]
        for step, agreement, epsilon in result["samples"]:
            shown = "-" if agreement is None else f"{agreement:.3f}"
            lines.append(f"| {step} | {epsilon:.3f} | {shown} | {fresh_agreement(epsilon, result['n_actions']):.3f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.research.agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=10_000, help="steps between samples")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (at most 2 on a 2-core machine)")
    parser.add_argument("--report-only", action="store_true", help="only write benchmarks/research/agreement/README.md")
    parser.add_argument("--run", nargs=3, metavar=("ENV", "SEED", "EVERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        env_id, seed, every = args.run[0], int(args.run[1]), int(args.run[2])
        write_result(result_path(env_id, seed), run_one(env_id, seed, every))
        return
    command = command_line("benchmarks.research.agreement")
    if not args.report_only:
        record_command(RESULTS, command)
        runs = [
            (
                f"{env_id} seed {args.seed}",
                [sys.executable, "-m", "benchmarks.research.agreement", "--run", env_id, str(args.seed), str(args.every)],
                result_path(env_id, args.seed),
            )
            for env_id in args.envs
            if not result_path(env_id, args.seed).exists()
        ]
        run_processes(runs, args.jobs, lambda result: f"last agreement {result['samples'][-1][1]}")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(report(command))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
