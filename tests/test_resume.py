"""
Resuming training after save and load.

What SB3 makes impossible: a bit-identical continuation after ``load``. ``BaseAlgorithm.load``
leaves ``_last_obs`` unset, so the next ``learn`` resets the env (the episode in progress is cut
and the committed next action is drawn again), and no random-generator state (NumPy's global
generator, torch's, Python's) is saved. What holds, and is tested here:

- everything a save stores comes back identical: networks, optimizer moments, replay buffer
  (next actions included), counters, exploration rate; from the same random state, the same
  gradient steps give bit-identical parameters;
- without save and load, ``learn(N)`` then ``learn(M, reset_num_timesteps=False)`` gives the
  same parameters as ``learn(N + M)`` when the schedules do not depend on the total budget
  (constant epsilon and learning rate) and N is a multiple of ``train_freq``.
"""

import pathlib
import random
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.logger import configure

from sb3_sarsa import SARSA

PARAMS: dict[str, Any] = dict(
    learning_starts=100,
    buffer_size=1000,
    batch_size=16,
    train_freq=4,
    target_update_interval=50,
    exploration_initial_eps=0.2,
    exploration_final_eps=0.2,
    seed=0,
    policy_kwargs=dict(net_arch=[32]),
)


def parameters(model: SARSA) -> list[th.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def optimizer_tensors(model: SARSA) -> list[th.Tensor]:
    state = model.policy.optimizer.state_dict()["state"]
    return [value for key in sorted(state) for value in state[key].values() if isinstance(value, th.Tensor)]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    th.manual_seed(seed)


def test_save_and_load_restore_the_whole_training_state(tmp_path: pathlib.Path) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1", **PARAMS).learn(400)
    model.save(tmp_path / "model")
    model.save_replay_buffer(tmp_path / "buffer")
    loaded = SARSA.load(tmp_path / "model", env=model.get_env())
    loaded.load_replay_buffer(tmp_path / "buffer")

    for mine, theirs in zip(parameters(model), parameters(loaded)):
        assert th.equal(mine, theirs)
    for mine, theirs in zip(optimizer_tensors(model), optimizer_tensors(loaded)):
        assert th.equal(mine, theirs)
    assert len(optimizer_tensors(model)) > 0
    for name in ("observations", "next_observations", "actions", "next_actions", "rewards", "dones", "timeouts"):
        np.testing.assert_array_equal(getattr(model.replay_buffer, name), getattr(loaded.replay_buffer, name))
    assert (loaded.replay_buffer.pos, loaded.replay_buffer.full) == (model.replay_buffer.pos, model.replay_buffer.full)
    for name in ("num_timesteps", "_n_updates", "_n_calls", "exploration_rate", "target", "loss", "gamma"):
        assert getattr(loaded, name) == getattr(model, name), name

    for algorithm in (model, loaded):
        algorithm.set_logger(configure(None, []))  # load() leaves no logger until learn()
        seed_everything(7)
        algorithm.train(gradient_steps=20, batch_size=16)
    for mine, theirs in zip(parameters(model), parameters(loaded)):
        assert th.equal(mine, theirs)


def test_learning_in_two_calls_equals_one_call() -> None:
    whole = SARSA("MlpPolicy", "CartPole-v1", **PARAMS).learn(600)
    parts = SARSA("MlpPolicy", "CartPole-v1", **PARAMS).learn(400)
    parts.learn(200, reset_num_timesteps=False)
    assert parts.num_timesteps == whole.num_timesteps == 600
    assert parts._n_updates == whole._n_updates
    for mine, theirs in zip(parameters(whole), parameters(parts)):
        assert th.equal(mine, theirs)
    np.testing.assert_array_equal(whole.replay_buffer.next_actions, parts.replay_buffer.next_actions)
