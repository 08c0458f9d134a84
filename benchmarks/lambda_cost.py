"""
Cost of SARSA(lambda) against one-step SARSA and ``n_steps=3``, in the same run: time per gradient step
and steps per second of ``learn``.

    python -m benchmarks.lambda_cost [--rounds 9]

Every model trains on CartPole-v1 with SARSA's defaults but ``learning_starts=1000`` (batch 32, one
gradient step every 4 env steps), one torch thread. Time per gradient step: ``--calls`` calls of
``train(gradient_steps=1)`` on a buffer filled with 3,000 steps; steps per second: ``learn`` of 4,000 more
steps (collection, updates and all); memory: the bytes of the tensors of one sampled batch (the buffer is
the same for every kind). Each round runs every kind once, in a rotating order; the report gives the medians
over rounds and their ratio to one-step SARSA. Writes ``docs/research/LAMBDA_COST.md``.
"""

import argparse
import datetime
import statistics
import time
from typing import Any

import torch as th

from benchmarks.common import DOCS, command_line, machine, versions
from sb3_sarsa import SARSA

KINDS: dict[str, dict[str, Any]] = {
    "one-step": {},
    "n_steps=3": {"n_steps": 3},
    "lambda 0.8, horizon 8": {"td_lambda": 0.8, "lambda_horizon": 8},
    "lambda 0.8, horizon 16 (default horizon)": {"td_lambda": 0.8},
    "expected, lambda 0.8, horizon 16": {"td_lambda": 0.8, "target": "expected"},
}
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


def make(kwargs: dict[str, Any]) -> SARSA:
    model = SARSA("MlpPolicy", "CartPole-v1", learning_starts=1000, seed=0, **kwargs)
    model.learn(3000)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lambda_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args()
    th.set_num_threads(1)
    models = {kind: make(kwargs) for kind, kwargs in KINDS.items()}
    step_us: dict[str, list[float]] = {kind: [] for kind in KINDS}
    per_second: dict[str, list[float]] = {kind: [] for kind in KINDS}
    names = list(KINDS)
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for kind in names[shift:] + names[:shift]:
            model = models[kind]
            start = time.perf_counter()
            for _ in range(args.calls):
                model.train(gradient_steps=1, batch_size=model.batch_size)
            step_us[kind].append((time.perf_counter() - start) / args.calls * 1e6)
            start = time.perf_counter()
            model.learn(args.steps, reset_num_timesteps=False)
            per_second[kind].append(args.steps / (time.perf_counter() - start))
    measured = {
        kind: (statistics.median(step_us[kind]), statistics.median(per_second[kind]), batch_bytes(models[kind]))
        for kind in names
    }
    text = report(measured, args.rounds, datetime.date.today().isoformat())
    REPORT.write_text(text)
    print(text)


def report(measured: dict[str, tuple[float, float, int]], rounds: int, date: str) -> str:
    """
    :param measured: per kind, the median time per gradient step (us), the median env steps per second and the
        bytes of a batch
    :return: the report's text
    """
    base_step, base_speed, base_bytes = measured["one-step"]
    ratio = {kind: (step / base_step, speed / base_speed) for kind, (step, speed, _) in measured.items()}
    step_ratio, speed_ratio = ratio[DEFAULT_KIND]
    met = "met" if step_ratio <= STEP_TARGET else "missed"
    lines = [
        "# Cost of SARSA(lambda)",
        "",
        "**Question.** What does SARSA(lambda) cost per gradient step and per env step, against one-step SARSA "
        "and `n_steps=3`?",
        f"**Answer.** At the default horizon (16), {step_ratio:.2f}x one-step's time per gradient step (target: at most "
        f"{STEP_TARGET}x, {met}) and {speed_ratio:.2f}x its env steps per second; horizon 8: "
        f"{ratio['lambda 0.8, horizon 8'][0]:.2f}x; `n_steps=3`: {ratio['n_steps=3'][0]:.2f}x (CartPole-v1, batch 32).",
        "**Command.** `python -m benchmarks.lambda_cost`.",
        "",
        f"Written by `{command_line('benchmarks.lambda_cost')}`, {date}, {rounds} rounds. Machine: {machine()}. {versions()}.",
        "",
        "| kind | time per gradient step (us) | x one-step | env steps per second | x one-step | batch bytes | x one-step |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, (step, speed, size) in measured.items():
        lines.append(
            f"| {kind} | {step:.0f} | {step / base_step:.2f} | {speed:.0f} | {speed / base_speed:.2f} "
            f"| {size:,} | {size / base_bytes:.1f} |"
        )
    lines += [
        "",
        "Memory: the replay buffer is the same for every kind (the sequences are read from the stored transitions);",
        "a batch of SARSA(lambda) holds `lambda_horizon` next observations, rewards, next actions and terminations",
        "per row, and the target network runs on all of them (with `target='expected'`, the online network too).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
