"""
Cost of SARSA(lambda) against one-step SARSA and ``n_steps=3``, in the same run: time per gradient step,
steps per second of ``learn`` and the bytes of a batch, in two settings.

    python -m benchmarks.lambda_cost [--settings defaults mountaincar] [--rounds 9]
    python -m benchmarks.lambda_cost --report-only

``defaults``: CartPole-v1 with SARSA's defaults (batch 32, a 64 x 64 network, one gradient step every 4 env
steps); ``mountaincar``: MountainCar-v0 with its ``hyperparams/sarsa.yml`` entry (batch 128, a 256 x 256
network, 8 gradient steps every 16 env steps); each with ``learning_starts=1000`` and one torch thread, every
kind with the setting's other values. After 3,000 steps, each round runs every kind's ``learn`` for ``--steps`` more
steps, in a rotating order: steps per second of the whole ``learn`` (collection, updates and all), and time per
gradient step, the time spent in ``train`` over the gradient steps it made (so the target network is updated and
new steps arrive at the setting's pace: what SARSA(lambda)'s kept bootstrap values save is measured as it occurs
in training, :mod:`sb3_sarsa.bootstrap_cache`); memory: the bytes of the tensors of one sampled batch (the buffer
is the same for every kind); and the share of SARSA(lambda)'s bootstrap values that the target network computed
rather than kept, over the whole run. The medians over rounds are stored in
``benchmarks/lambda/cost_<setting>.json`` and the report (``docs/research/LAMBDA_COST.md``) gives them and
their ratio to one-step SARSA, for every stored setting.
"""

import argparse
import datetime
import json
import statistics
import time
from typing import Any

import torch as th

from benchmarks.common import DOCS, ROOT, command_line, machine, versions, write_result
from sb3_sarsa import SARSA

KINDS: dict[str, dict[str, Any]] = {
    "one-step": {"n_steps": 1, "td_lambda": 0.0},  # td_lambda: the setting's entry may have one
    "n_steps=3": {"n_steps": 3, "td_lambda": 0.0},
    "lambda 0.8, horizon 8": {"n_steps": 1, "td_lambda": 0.8, "lambda_horizon": 8},
    "lambda 0.8, horizon 16 (default horizon)": {"n_steps": 1, "td_lambda": 0.8},
    "expected, lambda 0.8, horizon 16": {"n_steps": 1, "td_lambda": 0.8, "target": "expected"},
}
#: The settings: their env and the values every kind shares (``"entry"``: the env's sarsa.yml entry)
SETTINGS: dict[str, tuple[str, str]] = {
    "defaults": ("CartPole-v1", "SARSA's defaults (batch 32, 64 x 64 network)"),
    "mountaincar": ("MountainCar-v0", "its sarsa.yml entry (batch 128, 256 x 256 network)"),
}
RESULTS = ROOT / "benchmarks" / "lambda"
REPORT = DOCS / "LAMBDA_COST.md"
DEFAULT_KIND = "lambda 0.8, horizon 16 (default horizon)"
#: The most a gradient step of SARSA(lambda) at the default horizon may cost, as a multiple of one-step's
STEP_TARGET = 1.3


def batch_bytes(model: SARSA) -> int:
    """:return: the bytes of the tensors of one batch as ``train`` samples it"""
    buffer = model.replay_buffer
    assert buffer is not None
    if model.td_lambda > 0:
        batch: Any = buffer.sample_sequences(model.batch_size, model.lambda_horizon)  # type: ignore[union-attr]
    else:
        batch = buffer.sample(model.batch_size)
    return sum(t.nbytes for t in batch if isinstance(t, th.Tensor))


def setting_kwargs(setting: str) -> dict[str, Any]:
    """:return: the constructor arguments every kind of ``setting`` shares"""
    from sb3_sarsa.hyperparameters import model_kwargs

    env_id = SETTINGS[setting][0]
    base = {} if setting == "defaults" else model_kwargs(env_id)[0]
    return {**base, "learning_starts": 1000, "seed": 0}


def make(setting: str, kind: dict[str, Any]) -> SARSA:
    model = SARSA("MlpPolicy", SETTINGS[setting][0], **{**setting_kwargs(setting), **kind})
    model.learn(3000)
    return model


def cost_path(setting: str) -> Any:
    return RESULTS / f"cost_{setting}.json"


class TrainTimer:
    """Times every ``train`` call of a model (wrapped in place) and counts its gradient steps."""

    def __init__(self, model: SARSA) -> None:
        self.seconds = 0.0
        self.gradient_steps = 0
        train = model.train

        def timed(gradient_steps: int, batch_size: int = 100) -> None:
            start = time.perf_counter()
            train(gradient_steps, batch_size)
            self.seconds += time.perf_counter() - start
            self.gradient_steps += gradient_steps

        model.train = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.seconds, self.gradient_steps = 0.0, 0


def computed_share(model: SARSA) -> float | None:
    """:return: the share of SARSA(lambda)'s bootstrap values the target network computed (the rest were kept),
    ``None`` without the cache"""
    cache = model._bootstrap_cache
    return None if cache is None or cache.looked_up == 0 else cache.computed / cache.looked_up


def measure(setting: str, rounds: int, steps: int) -> dict[str, Any]:
    """:return: the setting's record: per kind, the medians over rounds (time per gradient step in us, env steps
    per second), the bytes of a batch and the share of bootstrap values computed in the last round"""
    models = {kind: make(setting, kwargs) for kind, kwargs in KINDS.items()}
    timers = {kind: TrainTimer(model) for kind, model in models.items()}
    step_us: dict[str, list[float]] = {kind: [] for kind in KINDS}
    per_second: dict[str, list[float]] = {kind: [] for kind in KINDS}
    names = list(KINDS)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for kind in names[shift:] + names[:shift]:
            model, timer = models[kind], timers[kind]
            timer.reset()
            start = time.perf_counter()
            model.learn(steps, reset_num_timesteps=False)
            per_second[kind].append(steps / (time.perf_counter() - start))
            step_us[kind].append(timer.seconds / timer.gradient_steps * 1e6)
    return {
        "setting": setting,
        "command": command_line("benchmarks.lambda_cost"),
        "rounds": rounds,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "versions": versions(),
        "measured": {
            kind: [
                statistics.median(step_us[kind]),
                statistics.median(per_second[kind]),
                batch_bytes(models[kind]),
                computed_share(models[kind]),
            ]
            for kind in names
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lambda_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    th.set_num_threads(1)
    if not args.report_only:
        for setting in args.settings:
            write_result(cost_path(setting), measure(setting, args.rounds, args.steps))
    records = [json.loads(cost_path(setting).read_text()) for setting in SETTINGS if cost_path(setting).exists()]
    text = report(records)
    REPORT.write_text(text)
    print(text)


def ratios(measured: dict[str, list[float]], kind: str) -> tuple[float, float]:
    """:return: ``kind``'s time per gradient step and env steps per second, as multiples of one-step's"""
    return measured[kind][0] / measured["one-step"][0], measured[kind][1] / measured["one-step"][1]


def report(records: list[dict[str, Any]]) -> str:
    """
    :param records: :func:`measure`'s records, one per setting
    :return: the report's text
    """
    answers = []
    for record in records:
        step_ratio, speed_ratio = ratios(record["measured"], DEFAULT_KIND)
        env_id, what = SETTINGS[record["setting"]]
        answers.append(
            f"{env_id} with {what}: {step_ratio:.2f}x one-step's time per gradient step "
            f"({'met' if step_ratio <= STEP_TARGET else 'missed'}), {speed_ratio:.2f}x its env steps per second, "
            f"horizon 8 {ratios(record['measured'], 'lambda 0.8, horizon 8')[0]:.2f}x"
        )
    lines = [
        "# Cost of SARSA(lambda)",
        "",
        "**Question.** What does SARSA(lambda) cost per gradient step and per env step, against one-step SARSA "
        "and `n_steps=3`?",
        f"**Answer.** At the default horizon (16; target: at most {STEP_TARGET}x one-step's time per gradient step): "
        + ("; ".join(answers) if answers else "(nothing measured)")
        + ". SARSA's target keeps the bootstrap value of every stored step between target-network updates "
        "(`sb3_sarsa.bootstrap_cache`), so the target network runs only on the few steps it has not valued since "
        "the last update (the last column); Expected SARSA's bootstrap also depends on the online network, which "
        "changes at every step, so with `target='expected'` the target network's rows `Q_target(s', .)` are kept and "
        "the online network runs on every step of every sequence.",
        "**Command.** `python -m benchmarks.lambda_cost`.",
        "",
    ]
    for record in records:
        env_id, what = SETTINGS[record["setting"]]
        measured = record["measured"]
        base = measured["one-step"]
        lines += [
            f"## {env_id}, {what}",
            "",
            f"Measured by `{record['command']}`, {record['date']}, "
            f"{record['rounds']} rounds. Machine: {record['machine']}. {record['versions']}.",
            "",
            "| kind | time per gradient step (us) | x one-step | env steps per second | x one-step | batch bytes "
            "| x one-step | bootstrap values computed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for kind, (step, speed, size, *share) in measured.items():
            computed = "-" if not share or share[0] is None else f"{share[0]:.1%}"
            lines.append(
                f"| {kind} | {step:.0f} | {step / base[0]:.2f} | {speed:.0f} | {speed / base[1]:.2f} "
                f"| {size:,.0f} | {size / base[2]:.1f} | {computed} |"
            )
        lines.append("")
    lines += [
        "Memory: the replay buffer is the same for every kind (the sequences are read from the stored transitions);",
        "a batch of SARSA(lambda) holds `lambda_horizon` next observations, rewards, next actions and terminations",
        "per row (the batch bytes count them all; with SARSA's target, only the next observations of steps whose",
        "value is not kept are read); the kept bootstrap values take 5 bytes per stored step and env.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
