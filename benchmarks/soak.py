"""
Soak run: many env steps with a small buffer; memory must stay flat.

    python -m benchmarks.soak [--steps 1000000] [--n-envs 8] [--buffer-size 10000]

Trains SARSA on CartPole-v1 and prints, every ``--report-every`` steps, the process's current
resident memory (VmRSS) and its peak so far (VmHWM), both from /proc/self/status (Linux). The
replay buffer is preallocated, so after warm-up any growth is a leak. Not run in CI.
"""

import argparse
import time

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.common import machine, proc_status_mib, versions
from sb3_sarsa import SARSA


def memory_mib() -> tuple[float, float]:
    """:return: (current, peak) resident memory of this process in MiB"""
    return proc_status_mib("VmRSS"), proc_status_mib("VmHWM")


class MemoryReport(BaseCallback):
    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self.next_report = every
        self.start = time.perf_counter()
        self.rows: list[tuple[int, float, float]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_report:
            self.next_report += self.every
            current, peak = memory_mib()
            self.rows.append((self.num_timesteps, current, peak))
            elapsed = time.perf_counter() - self.start
            print(
                f"step {self.num_timesteps:>9}  rss {current:7.1f} MiB  peak {peak:7.1f} MiB  "
                f"{self.num_timesteps / elapsed:6.0f} steps/s",
                flush=True,
            )
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--buffer-size", type=int, default=10_000)
    parser.add_argument("--report-every", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{machine()}. {versions()}", flush=True)
    env = make_vec_env("CartPole-v1", n_envs=args.n_envs, seed=args.seed)
    model = SARSA(
        "MlpPolicy",
        env,
        buffer_size=args.buffer_size,
        learning_starts=1000,
        batch_size=64,
        train_freq=4,
        target_update_interval=1000,
        n_steps=3,
        policy_kwargs=dict(net_arch=[64, 64]),
        seed=args.seed,
    )
    print(f"soak: {args.steps} steps, {args.n_envs} envs, buffer {args.buffer_size}", flush=True)
    report = MemoryReport(args.report_every)
    model.learn(args.steps, callback=report)
    first, last = report.rows[0], report.rows[-1]
    print(f"peak at {first[0]} steps: {first[2]:.1f} MiB; peak at {last[0]} steps: {last[2]:.1f} MiB")
    print(f"resident growth from {first[0]} to {last[0]} steps: {last[1] - first[1]:+.1f} MiB")


if __name__ == "__main__":
    main()
