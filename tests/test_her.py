"""
Hindsight Experience Replay: DQN's HER code runs with SARSA unchanged, and every sampled row,
real or relabelled, carries the next action that was stored with its transition.
"""

import pathlib
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import DQN, HerReplayBuffer
from stable_baselines3.common.envs import BitFlippingEnv
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from sb3_sarsa import SARSA, HerSarsaReplayBuffer

N_BITS = 8


def bits(value: int) -> np.ndarray:
    return np.array([(value >> i) & 1 for i in range(N_BITS)], dtype=np.int8)


def number(row: np.ndarray) -> int:
    return int(sum(int(bit) << i for i, bit in enumerate(row)))


def test_real_and_relabelled_samples_carry_the_stored_next_action() -> None:
    env = DummyVecEnv([lambda: BitFlippingEnv(n_bits=N_BITS)])
    assert isinstance(env.observation_space, spaces.Dict)
    buffer = HerSarsaReplayBuffer(
        200, env.observation_space, env.action_space, env, device="cpu", n_sampled_goal=4, goal_selection_strategy="future"
    )
    goal = bits(255)
    # Transition t: observation and achieved goal encode t; action t % 8; next action (3t + 1) % 8.
    for t in range(60):
        obs = {"observation": bits(t)[None], "achieved_goal": bits(t)[None], "desired_goal": goal[None]}
        next_obs = {"observation": bits(t + 1)[None], "achieved_goal": bits(t + 1)[None], "desired_goal": goal[None]}
        done = np.array([t % 6 == 5])
        buffer.add(obs, next_obs, np.array([[t % 8]]), np.array([-1.0]), done, [{}], next_action=np.array([(3 * t + 1) % 8]))
    np.random.seed(0)
    sample = buffer.sample(100)
    n_virtual = int(buffer.her_ratio * 100)
    relabelled = 0
    for row in range(100):
        t = number(sample.observations["observation"][row].numpy())
        assert number(sample.next_observations["observation"][row].numpy()) == t + 1
        assert int(sample.actions[row, 0]) == t % 8
        assert int(sample.next_actions[row, 0]) == (3 * t + 1) % 8
        desired = number(sample.observations["desired_goal"][row].numpy())
        assert sample.relabelled is not None
        assert bool(sample.relabelled[row, 0]) == (row >= 100 - n_virtual)
        if row < 100 - n_virtual:
            assert desired == 255  # a real transition keeps its goal
        else:
            # "future": an achieved goal of the same episode, from this step on.
            episode_end = t - t % 6 + 6
            assert t + 1 <= desired <= episode_end
            relabelled += desired != 255
            reward = 0.0 if desired == t + 1 else -1.0  # BitFlippingEnv's reward for the new goal
            assert float(sample.rewards[row, 0]) == reward
    assert relabelled == n_virtual


def her_kwargs(**overrides: Any) -> dict[str, Any]:
    return dict(
        replay_buffer_class=HerReplayBuffer,  # SB3's class, as DQN code writes it
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future", **overrides},
        learning_starts=2 * N_BITS,
        buffer_size=2000,
        batch_size=32,
        policy_kwargs=dict(net_arch=[32]),
        seed=0,
    )


@pytest.mark.parametrize("target", ["sarsa", "expected"])
@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_dqn_her_code_runs_with_sarsa(target: str, strategy: str) -> None:
    model = SARSA(
        "MultiInputPolicy",
        BitFlippingEnv(n_bits=N_BITS),
        target=target,
        **her_kwargs(goal_selection_strategy=strategy, copy_info_dict=strategy == "episode"),
    )
    assert type(model.replay_buffer) is HerSarsaReplayBuffer
    model.learn(300)
    assert model._n_updates > 0 and model.replay_buffer.goal_selection_strategy.name.lower() == strategy


def test_her_with_several_envs_in_subprocesses_save_and_load(tmp_path: pathlib.Path) -> None:
    env = SubprocVecEnv([lambda: BitFlippingEnv(n_bits=N_BITS)] * 2)
    try:
        model = SARSA("MultiInputPolicy", env, **her_kwargs())
        model.learn(200)
        model.save(tmp_path / "model")
        model.save_replay_buffer(tmp_path / "buffer")
        loaded = SARSA.load(tmp_path / "model", env=env)
        loaded.load_replay_buffer(tmp_path / "buffer")
        buffer = loaded.replay_buffer
        assert isinstance(buffer, HerSarsaReplayBuffer) and buffer.env is env
        np.testing.assert_array_equal(buffer.next_actions, model.replay_buffer.next_actions)
        loaded.learn(100, reset_num_timesteps=False)
        assert loaded.num_timesteps >= model.num_timesteps + 100 and loaded._n_updates > model._n_updates
    finally:
        env.close()


def test_her_with_n_step_returns_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="HerReplayBuffer needs n_steps=1, got 3"):
        SARSA("MultiInputPolicy", BitFlippingEnv(n_bits=N_BITS), n_steps=3, **her_kwargs())


def test_a_her_subclass_without_next_actions_is_refused() -> None:
    class MyHer(HerReplayBuffer):
        pass

    with pytest.raises(TypeError, match=r"must store next actions .*HerSarsaReplayBuffer.*got MyHer"):
        SARSA("MultiInputPolicy", BitFlippingEnv(n_bits=N_BITS), **{**her_kwargs(), "replay_buffer_class": MyHer})


def test_dqn_buffer_of_her_is_refused_on_load(tmp_path: pathlib.Path) -> None:
    dqn = DQN("MultiInputPolicy", BitFlippingEnv(n_bits=N_BITS), **her_kwargs())
    dqn.learn(50)
    dqn.save_replay_buffer(tmp_path / "dqn_buffer")
    model = SARSA("MultiInputPolicy", BitFlippingEnv(n_bits=N_BITS), **her_kwargs())
    kept = model.replay_buffer
    with pytest.raises(ValueError, match="stores no next actions"):
        model.load_replay_buffer(tmp_path / "dqn_buffer")
    assert model.replay_buffer is kept


def test_relabelled_rows_of_several_envs_carry_their_own_envs_next_action() -> None:
    env = DummyVecEnv([lambda: BitFlippingEnv(n_bits=N_BITS)] * 2)
    assert isinstance(env.observation_space, spaces.Dict)
    buffer = HerSarsaReplayBuffer(200, env.observation_space, env.action_space, env, device="cpu", n_envs=2, n_sampled_goal=4)
    goal = np.stack([bits(255)] * 2)
    # Env e's transition t: observation t + 64 e; next action (3t + 1 + 4e) % 8, so the envs' differ.
    for t in range(60):
        obs_bits = np.stack([bits(t + 64 * e) for e in range(2)])
        next_bits = np.stack([bits(t + 1 + 64 * e) for e in range(2)])
        obs = {"observation": obs_bits, "achieved_goal": obs_bits, "desired_goal": goal}
        next_obs = {"observation": next_bits, "achieved_goal": next_bits, "desired_goal": goal}
        done = np.array([t % 6 == 5, t % 4 == 3])
        next_action = np.array([(3 * t + 1 + 4 * e) % 8 for e in range(2)])
        buffer.add(obs, next_obs, np.array([[t % 8]] * 2), np.array([-1.0, -1.0]), done, [{}, {}], next_action=next_action)
    np.random.seed(0)
    sample = buffer.sample(200)
    n_virtual = int(buffer.her_ratio * 200)
    seen_envs = set()
    for row in range(200 - n_virtual, 200):  # the relabelled rows
        value = number(sample.observations["observation"][row].numpy())
        t, e = value % 64, value // 64
        seen_envs.add(e)
        assert int(sample.next_actions[row, 0]) == (3 * t + 1 + 4 * e) % 8
    assert seen_envs == {0, 1}


def test_relabelled_rows_bootstrap_from_the_policys_action_for_their_new_goal() -> None:
    """
    Train's SARSA target: a real row bootstraps from its stored ``a'``; a relabelled row from the action
    that the current epsilon-greedy policy takes for its new goal at ``s'`` (epsilon 0 here: the online
    network's greedy action), whatever action was stored.
    """
    import torch as th

    from sb3_sarsa import targets

    model = SARSA("MultiInputPolicy", BitFlippingEnv(n_bits=N_BITS), **her_kwargs())
    model.learn(200)
    model.exploration_rate = 0.0
    seen: dict[str, Any] = {}
    original = targets.sarsa_target

    def spy(rewards: Any, dones: Any, discounts: Any, next_q_values: Any, next_actions: Any) -> Any:
        seen["next_actions"] = next_actions.clone()
        return original(rewards, dones, discounts, next_q_values, next_actions)

    assert isinstance(model.replay_buffer, HerSarsaReplayBuffer)
    sample = model.replay_buffer.sample(32)
    model.replay_buffer.sample = lambda *args, **kwargs: sample  # type: ignore[method-assign,assignment]
    import sb3_sarsa.batch_targets as sarsa_module

    patch = pytest.MonkeyPatch()
    patch.setattr(sarsa_module, "sarsa_target", spy)
    try:
        model.train(gradient_steps=1, batch_size=32)
    finally:
        patch.undo()
    assert sample.relabelled is not None
    relabelled = sample.relabelled.reshape(-1)
    assert relabelled.any() and not relabelled.all()
    with th.no_grad():
        greedy = model.q_net(sample.next_observations).argmax(dim=1)
    used = seen["next_actions"].reshape(-1)
    assert th.equal(used[relabelled], greedy[relabelled])
    assert th.equal(used[~relabelled], sample.next_actions.reshape(-1)[~relabelled])
    # The greedy actions differ from the stored ones on some relabelled rows, so the check can fail.
    assert not th.equal(greedy[relabelled], sample.next_actions.reshape(-1)[relabelled])
