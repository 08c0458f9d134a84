"""
Q-network forwards per env step while acting: SARSA against SB3's DQN.

    python -m benchmarks.forwards [--steps 20000] [--n-envs 4] [--time-limit 10]

Both act on CartPole-v1 with a short time limit (so that truncations happen often), with
epsilon annealed from 1 to 0.05 over the run and no training (``gradient_steps=0``), and count
the calls of the online Q-network and the observation rows it sees. SARSA draws every env's next
action in one batched forward per vector step, with the terminal observations of truncated envs
as extra rows of the same forward, and skips the forward when every env explores.
"""

import argparse

import gymnasium as gym
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.common import machine, versions
from sb3_sarsa import SARSA


def count(model_class: type, steps: int, n_envs: int, time_limit: int) -> dict[str, float]:
    env = make_vec_env(lambda: gym.wrappers.TimeLimit(gym.make("CartPole-v1").unwrapped, time_limit), n_envs=n_envs, seed=0)
    model = model_class(
        "MlpPolicy", env, learning_starts=0, gradient_steps=0, exploration_fraction=1.0, exploration_final_eps=0.05, seed=0
    )
    calls = {"forwards": 0, "rows": 0}
    forward = model.q_net.forward

    def counting_forward(obs):  # type: ignore[no-untyped-def]
        calls["forwards"] += 1
        calls["rows"] += obs.shape[0]
        return forward(obs)

    model.q_net.forward = counting_forward
    truncations = {"n": 0}

    def on_step(local_vars, _globals) -> bool:  # type: ignore[no-untyped-def]
        truncations["n"] += sum(info.get("TimeLimit.truncated", False) for info in local_vars["infos"])
        return True

    model.learn(steps, callback=on_step)
    vector_steps = model.num_timesteps // n_envs
    return {
        "vector steps": vector_steps,
        "truncations": truncations["n"],
        "forwards per vector step": calls["forwards"] / vector_steps,
        "rows per env step": calls["rows"] / model.num_timesteps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--time-limit", type=int, default=10)
    args = parser.parse_args()
    print(f"{machine()}. {versions()}", flush=True)
    for name, model_class in (("SARSA", SARSA), ("DQN", DQN)):
        result = count(model_class, args.steps, args.n_envs, args.time_limit)
        print(
            f"{name:5}: "
            + ", ".join(
                f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}" for key, value in result.items()
            )
        )


if __name__ == "__main__":
    main()
