"""
Train SARSA on one env and print its learning curve.

    python -m sb3_sarsa.train --env CartPole-v1

Uses the recommended hyperparameters of ``hyperparams/sarsa.yml`` (``--defaults`` for
SARSA's constructor defaults instead), evaluates the greedy policy every ``--eval-freq``
steps on a separate env, prints one line per evaluation and saves the model.
"""

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.monitor import Monitor

from sb3_sarsa.hyperparameters import model_kwargs
from sb3_sarsa.sarsa import SARSA


class PrintingEvalCallback(EvalCallback):
    """:class:`EvalCallback` that prints one line per evaluation and keeps the curve."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.curve: list[tuple[int, float, float]] = []

    def _on_step(self) -> bool:
        keep_going = super()._on_step()
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self.curve.append((self.num_timesteps, self.last_mean_reward, float(np.std(self.evaluations_results[-1]))))
            print(f"step {self.num_timesteps:>8}  eval mean return {self.last_mean_reward:9.2f}", flush=True)
        return keep_going


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sb3_sarsa.train", description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id (default: CartPole-v1)")
    parser.add_argument("--timesteps", type=int, default=None, help="env steps (default: the file's n_timesteps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", choices=("sarsa", "expected"), default=None, help="override the TD target")
    parser.add_argument("--defaults", action="store_true", help="use SARSA's constructor defaults, not sarsa.yml")
    parser.add_argument("--eval-freq", type=int, default=5000, help="evaluate every this many env steps")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--save-path", default=None, help="where to save the model (default: sarsa_<env>.zip)")
    parser.add_argument("--progress-bar", action="store_true")
    parser.add_argument("--verbose", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[tuple[int, float, float]]:
    """
    :return: the eval curve, ``(step, mean return, std)`` per evaluation
    """
    args = parse_args(argv)
    kwargs, run = ({}, {}) if args.defaults else model_kwargs(args.env)
    if args.target is not None:
        kwargs["target"] = args.target
    timesteps = args.timesteps if args.timesteps is not None else int(run.get("n_timesteps", 50_000))
    env: Any = args.env
    if run.get("n_envs", 1) > 1:
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env(args.env, n_envs=run["n_envs"], seed=args.seed)
    model = SARSA(run.get("policy", "MlpPolicy"), env, seed=args.seed, verbose=args.verbose, **kwargs)
    eval_env = Monitor(gym.make(args.env))
    eval_env.reset(seed=args.seed + 10_000)
    callback = PrintingEvalCallback(
        eval_env, eval_freq=max(args.eval_freq // model.n_envs, 1), n_eval_episodes=args.eval_episodes, verbose=0
    )
    print(f"SARSA on {args.env}, {timesteps} steps, seed {args.seed}: {kwargs or 'constructor defaults'}", flush=True)
    start = time.perf_counter()
    model.learn(timesteps, callback=callback, progress_bar=args.progress_bar)
    elapsed = time.perf_counter() - start
    save_path = args.save_path or f"sarsa_{args.env}"
    model.save(save_path)
    print(f"trained in {elapsed:.0f}s ({timesteps / elapsed:.0f} steps/s), saved to {save_path}.zip", flush=True)
    return callback.curve


if __name__ == "__main__":
    main()
