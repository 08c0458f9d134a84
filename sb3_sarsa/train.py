"""
Train SARSA on one env and print its learning curve.

    python -m sb3_sarsa.train --env CartPole-v1

Uses the recommended hyperparameters of ``hyperparams/sarsa.yml`` (``--defaults`` for
SARSA's constructor defaults instead), evaluates the greedy policy every ``--eval-freq``
steps on a separate env, prints one line per evaluation, saves the model, and ends with
``--final-episodes`` (100) greedy episodes from distinct start states: the mean return and, on envs
with a goal (Acrobot, MountainCar, CliffWalking, LunarLander), how many episodes got stuck at the
time limit.
"""

import argparse
import time
from typing import Any, cast

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from sb3_sarsa.evaluation import run_episodes
from sb3_sarsa.hyperparameters import env_wrapper, model_kwargs
from sb3_sarsa.sarsa import SARSA


class CurveCallback(BaseCallback):
    """
    Evaluate the greedy policy every ``eval_freq`` env steps (all envs counted), print and keep it.

    :param eval_env: the env to evaluate on (not the training env)
    :param eval_freq: env steps between evaluations
    :param n_eval_episodes: episodes per evaluation
    """

    def __init__(self, eval_env: gym.Env, eval_freq: int, n_eval_episodes: int) -> None:
        super().__init__()
        self.eval_env = eval_env
        self.eval_freq = eval_freq
        self.n_eval_episodes = n_eval_episodes
        self.next_eval = eval_freq
        self.curve: list[tuple[int, float, float]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.eval_freq
            result = evaluate_policy(self.model, self.eval_env, self.n_eval_episodes, deterministic=True)
            mean, std = cast(tuple[float, float], result)
            self.curve.append((self.num_timesteps, mean, std))
            print(f"step {self.num_timesteps:>8}  eval mean return {mean:9.2f} +/- {std:.2f}", flush=True)
        return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sb3_sarsa.train", description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id (default: CartPole-v1)")
    parser.add_argument("--timesteps", type=int, default=None, help="env steps (default: the file's n_timesteps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", choices=("sarsa", "expected"), default=None, help="override the TD target")
    parser.add_argument("--defaults", action="store_true", help="use SARSA's constructor defaults, not sarsa.yml")
    parser.add_argument("--eval-freq", type=int, default=5000, help="evaluate every this many env steps")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--final-episodes", type=int, default=100, help="greedy episodes of the final evaluation (0: none)")
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
    wrapper = env_wrapper(run)
    env: Any = args.env
    if run.get("n_envs", 1) > 1 or wrapper is not None:
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env(args.env, n_envs=run.get("n_envs", 1), seed=args.seed, wrapper_class=wrapper)
    model = SARSA(run.get("policy", "MlpPolicy"), env, seed=args.seed, verbose=args.verbose, **kwargs)
    eval_env = Monitor(wrapper(gym.make(args.env)) if wrapper is not None else gym.make(args.env))
    eval_env.reset(seed=args.seed + 10_000)
    callback = CurveCallback(eval_env, args.eval_freq, args.eval_episodes)
    print(f"SARSA on {args.env}, {timesteps} steps, seed {args.seed}: {kwargs or 'constructor defaults'}", flush=True)
    start = time.perf_counter()
    model.learn(timesteps, callback=callback, progress_bar=args.progress_bar)
    elapsed = time.perf_counter() - start
    save_path = args.save_path or f"sarsa_{args.env}"
    model.save(save_path)
    print(f"trained in {elapsed:.0f}s ({timesteps / elapsed:.0f} steps/s), saved to {save_path}.zip", flush=True)
    if args.final_episodes > 0:
        print(final_evaluation(model, eval_env, args.final_episodes), flush=True)
    return callback.curve


def final_evaluation(model: SARSA, eval_env: gym.Env, episodes: int, first_seed: int = 20_000) -> str:
    """
    Greedy episodes from as many start states: episode ``i`` starts from ``eval_env.reset(seed=first_seed + i)``.

    :return: a line with the mean return and, for envs with a goal, the episodes stuck at the time limit
    """
    found = run_episodes(model, eval_env, range(first_seed, first_seed + episodes))
    line = (
        f"final evaluation, {episodes} greedy episodes (start seeds {first_seed}-{first_seed + episodes - 1}): "
        f"mean return {found.mean:.2f} +/- {np.std(found.returns):.2f}"
    )
    spec = eval_env.unwrapped.spec
    stuck = None if spec is None else found.stuck(spec.id)
    if stuck is not None:
        line += f", stuck at the time limit: {stuck}/{episodes}"
    return line


if __name__ == "__main__":
    main()
