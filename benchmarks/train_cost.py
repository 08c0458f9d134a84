"""
Cost of one ``train()`` call, SARSA against SB3's DQN, with SB3's DQN defaults (one gradient
update of batch 32 per call, the configuration where per-call overhead weighs most).

    python -m benchmarks.train_cost [--calls 200] [--rounds 15]

Three models on CartPole-v1 with 3,000 steps of random experience and no training yet: DQN,
SARSA, and SARSA measuring ``train/next_action_agreement`` on every call
(``AGREEMENT_INTERVAL = 1``, what SARSA did before the interval existed). Each round times
``--calls`` calls of each model, rotating their order; the medians over rounds and their ratio
to DQN are printed. One torch thread.
"""

import argparse
import statistics
import time

import torch as th
from stable_baselines3 import DQN

from benchmarks.common import machine, versions
from sb3_sarsa import SARSA

KINDS = ("dqn", "sarsa", "sarsa-agreement-every-call")


def make(kind: str) -> DQN:
    model = (DQN if kind == "dqn" else SARSA)("MlpPolicy", "CartPole-v1", learning_starts=5000, seed=0)
    if kind == "sarsa-agreement-every-call":
        model.AGREEMENT_INTERVAL = 1  # type: ignore[attr-defined]
    model.learn(3000)  # fills the buffer; learning_starts keeps it from training
    return model


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"{machine()}. {versions()}", flush=True)
    th.set_num_threads(1)
    models = {kind: make(kind) for kind in KINDS}
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_ in range(args.rounds):
        shift = round_ % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:
            start = time.perf_counter()
            for _ in range(args.calls):
                models[kind].train(gradient_steps=1, batch_size=32)
            times[kind].append((time.perf_counter() - start) / args.calls * 1e6)
    baseline = statistics.median(times["dqn"])
    for kind in KINDS:
        median = statistics.median(times[kind])
        print(f"{kind:28s} {median:8.1f} us per train() call, {median / baseline:.3f} x DQN")


if __name__ == "__main__":
    main()
