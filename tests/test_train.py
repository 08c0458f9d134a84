"""`python -m sb3_sarsa.train` and the reading of `hyperparams/sarsa.yml` it relies on."""

import pathlib

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.monitor import Monitor

from sb3_sarsa import SARSA
from sb3_sarsa.hyperparameters import env_wrapper, load_config, model_kwargs
from sb3_sarsa.train import final_evaluation, main


def test_every_entry_states_its_loss_and_target() -> None:
    for env_id, entry in load_config().items():
        if env_id != "default":
            assert entry["loss"] in ("mse", "huber") and entry["target"] in ("sarsa", "expected"), env_id


def test_the_cliff_entry_gets_its_time_limit_from_the_zoo_env_wrapper() -> None:
    kwargs, run = model_kwargs("CliffWalking-v1")
    assert "env_wrapper" not in kwargs and kwargs["loss"] == "mse"
    wrapper = env_wrapper(run)
    assert wrapper is not None
    env = wrapper(gym.make("CliffWalking-v1"))
    # TimeLimit, then a Monitor outside it that sees the truncations.
    assert isinstance(env, Monitor) and isinstance(env.env, TimeLimit) and env.env.spec is not None
    assert env.env.spec.max_episode_steps == 100
    assert env_wrapper(model_kwargs("CartPole-v1")[1]) is None


def test_a_zoo_learning_rate_schedule_is_read_as_rl_zoo3_reads_it() -> None:
    from sb3_sarsa.hyperparameters import LinearToZero, parse_learning_rate

    rate = parse_learning_rate("lin_2e-2")
    assert isinstance(rate, LinearToZero) and (rate(1.0), rate(0.25), rate(0.0)) == (2e-2, pytest.approx(5e-3), 0.0)
    assert repr(rate) == "lin_0.02" and rate == LinearToZero(0.02) and parse_learning_rate(3e-4) == 3e-4
    with pytest.raises(ValueError, match=r"learning_rate: 'exp_2e-2' is not a number nor a 'lin_<value>' schedule"):
        parse_learning_rate("exp_2e-2")


def test_an_entry_only_rl_zoo3_can_apply_is_refused_by_name() -> None:
    config = {"default": {}, "PongNoFrameskip-v4": {"policy": "CnnPolicy", "frame_stack": 4}}
    with pytest.raises(ValueError, match=r"uses frame_stack: train it with `rl_zoo3 train --algo sarsa`"):
        model_kwargs("PongNoFrameskip-v4", config)


def test_train_applies_the_time_limit_to_training_and_evaluation(tmp_path: pathlib.Path) -> None:
    # Without the time limit, an untrained greedy policy that walks into a wall never ends its
    # evaluation episode: the evaluation would not return.
    save_path = tmp_path / "cliff"
    args = ["--env", "CliffWalking-v1", "--timesteps", "600", "--eval-freq", "300", "--eval-episodes", "2"]
    curve = main([*args, "--save-path", str(save_path), "--final-episodes", "3"])
    assert [step for step, _, _ in curve] == [300, 600]
    assert all(-100 * 100 <= mean <= -1 for _, mean, _ in curve)
    model = SARSA.load(save_path)
    assert model.loss == "mse" and model.exploration_final_eps == 0.1


class Walker:
    """A fixed policy for CliffWalking-v1: ``to_goal`` walks the edge to the goal, else it climbs into a wall."""

    def __init__(self, to_goal: bool) -> None:
        self.to_goal = to_goal

    def predict(self, observation, state=None, episode_start=None, deterministic=False):  # type: ignore[no-untyped-def]
        cell = int(np.asarray(observation).reshape(-1)[0])
        action = 0 if not self.to_goal or cell == 36 else (2 if cell == 35 else 1)
        return np.array([action]), state


def test_final_evaluation_counts_the_episodes_stuck_at_the_time_limit() -> None:
    env = Monitor(gym.make("CliffWalking-v1", max_episode_steps=20))
    assert final_evaluation(Walker(to_goal=False), env, 4).endswith(  # type: ignore[arg-type]
        "(start seeds 20000-20003): mean return -20.00 +/- 0.00, stuck at the time limit: 4/4"
    )
    assert final_evaluation(Walker(to_goal=True), env, 3, first_seed=7).endswith(  # type: ignore[arg-type]
        "(start seeds 7-9): mean return -13.00 +/- 0.00, stuck at the time limit: 0/3"
    )
    # The zoo entry's time limit comes from a wrapper, not from the env's spec: still counted.
    wrapper = env_wrapper(model_kwargs("CliffWalking-v1")[1])
    assert wrapper is not None
    wrapped = wrapper(gym.make("CliffWalking-v1"))
    assert final_evaluation(Walker(to_goal=False), wrapped, 2).endswith(  # type: ignore[arg-type]
        "mean return -100.00 +/- 0.00, stuck at the time limit: 2/2"
    )
    # CartPole-v1 has no goal: reaching its time limit is the best outcome, not being stuck.
    cartpole = Monitor(gym.make("CartPole-v1", max_episode_steps=5))
    assert "stuck" not in final_evaluation(Walker(to_goal=False), cartpole, 2)  # type: ignore[arg-type]
