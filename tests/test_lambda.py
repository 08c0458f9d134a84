"""
SARSA(lambda): the lambda-return by hand, the sampled sequences against the trajectory that was really
executed (two interleaved envs, terminations and truncations), the limits lambda = 0 and lambda = 1, and
the refusals.
"""

from typing import Any, cast

import numpy as np
import pytest
import torch as th

from sb3_sarsa import SARSA
from sb3_sarsa.buffers import SarsaReplayBuffer
from sb3_sarsa.lambda_return import bootstrap_values, lambda_targets
from sb3_sarsa.targets import lambda_returns, sarsa_target, sequence_mask
from tests.helpers import Recorder, recorded_vec_env

GAMMA = 0.9


def test_lambda_returns_by_hand() -> None:
    # Row 0: 3 steps, no episode end. Row 1: terminated at its 2nd step. Row 2: 1 step (a truncation or
    # the newest step: it bootstraps). Values past a row's length (1000) must not count.
    rewards = th.tensor([[1.0, 2.0, 3.0, 1000.0], [1.0, 2.0, 1000.0, 1000.0], [5.0, 1000.0, 1000.0, 1000.0]])
    values = th.tensor([[10.0, 20.0, 30.0, 1000.0], [10.0, 20.0, 1000.0, 1000.0], [7.0, 1000.0, 1000.0, 1000.0]])
    terminations = th.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    lengths = th.tensor([3, 2, 1])
    returns = lambda_returns(rewards, values, terminations, lengths, GAMMA, 0.5)
    # row 0: G2 = 3 + 0.9 * 30 = 30; G1 = 2 + 0.9 * (10 + 15) = 24.5; G0 = 1 + 0.9 * (5 + 12.25) = 16.525
    # row 1: G1 = 2 (terminated); G0 = 1 + 0.9 * (5 + 1) = 6.4.  row 2: G0 = 5 + 0.9 * 7 = 11.3
    assert returns.shape == (3, 1)
    assert returns.reshape(-1).tolist() == pytest.approx([16.525, 6.4, 11.3])


def test_lambda_zero_is_the_one_step_target_and_lambda_one_the_discounted_return() -> None:
    generator = th.Generator().manual_seed(0)
    rewards = th.randn(5, 6, generator=generator)
    values = th.randn(5, 6, generator=generator)
    terminations = th.zeros(5, 6)
    terminations[1, 0] = 1.0
    lengths = th.tensor([6, 1, 3, 4, 2])
    one_step = sarsa_target(rewards[:, :1], terminations[:, :1], GAMMA, values.unsqueeze(-1)[:, 0], th.zeros(5, 1))
    assert th.allclose(lambda_returns(rewards, values, terminations, lengths, GAMMA, 0.0), one_step)
    # lambda = 1: the discounted rewards of the sequence, then the value at its last step
    expected = [
        sum(GAMMA**j * rewards[i, j].item() for j in range(int(n))) + GAMMA ** int(n) * values[i, int(n) - 1].item()
        for i, n in enumerate(lengths)
    ]
    expected[1] = rewards[1, 0].item()  # terminated at once
    assert lambda_returns(rewards, values, terminations, lengths, GAMMA, 1.0).reshape(-1).tolist() == pytest.approx(expected)


def fake_q(observations: th.Tensor) -> th.Tensor:
    """A "target network" whose values name their state (CounterEnv's ``[env, episode, t]``) and action."""
    state = observations[:, 0] * 10_000 + observations[:, 1] * 100 + observations[:, 2]
    return th.stack([state + 0.25 * action for action in range(3)], dim=1) / 1000.0


def reference_return(steps: list[Any], next_actions: list[int], i: int, horizon: int, td_lambda: float) -> float:
    """The lambda-return of step ``i`` of one env's recorded steps, by the forward definition."""
    step = steps[i]
    value = fake_q(th.as_tensor(np.asarray(step.next_obs), dtype=th.float32).reshape(1, -1))[0, next_actions[i]].item()
    carry = 0.0 if step.terminated else 1.0
    if horizon == 1 or step.terminated or step.truncated or i == len(steps) - 1:
        return step.reward + GAMMA * carry * value
    later = reference_return(steps, next_actions, i + 1, horizon - 1, td_lambda)
    return step.reward + GAMMA * carry * ((1.0 - td_lambda) * value + td_lambda * later)


def collected(n_envs: int, total: int) -> tuple[SARSA, list[Recorder]]:
    """A SARSA that only collected (no update yet) and the recorder of each env."""
    env, recorders = recorded_vec_env(n_envs, time_limit=5)
    model = SARSA("MlpPolicy", env, td_lambda=0.5, learning_starts=10_000, buffer_size=1000, seed=3)
    model.learn(total)
    return model, recorders


def executed_next_actions(model: SARSA, env_index: int, steps: list[Any]) -> list[int]:
    """``a'`` of each recorded step: the action executed next, or (at an episode end or the newest step) the one stored."""
    buffer = cast(SarsaReplayBuffer, model.replay_buffer)
    found = []
    for i, step in enumerate(steps):
        if i + 1 < len(steps) and not (step.terminated or step.truncated):
            found.append(steps[i + 1].action)
        else:
            (position,) = np.flatnonzero((buffer.observations[: buffer.pos, env_index] == step.obs).all(axis=1))
            found.append(int(buffer.next_actions[position, env_index, 0]))
    return found


@pytest.mark.parametrize("td_lambda, horizon", [(0.7, 3), (0.0, 3), (1.0, 20)])
def test_sampled_sequences_give_the_lambda_return_of_the_executed_trajectory(td_lambda: float, horizon: int) -> None:
    model, recorders = collected(n_envs=2, total=60)  # 30 steps per env: 5-step limit, episodes of 1-5 steps
    steps = [recorder.steps for recorder in recorders]
    assert any(s.truncated for s in steps[0] + steps[1]) and any(s.terminated for s in steps[0] + steps[1])
    next_actions = [executed_next_actions(model, e, steps[e]) for e in range(2)]
    index = {(e, *map(int, s.obs)): i for e in range(2) for i, s in enumerate(steps[e])}

    samples = cast(SarsaReplayBuffer, model.replay_buffer).sample_sequences(400, horizon)
    targets = lambda_targets(samples, fake_q, GAMMA, td_lambda).reshape(-1)
    seen = set()
    for row, obs in enumerate(samples.observations.numpy().astype(int)):
        env_index = int(obs[0])
        i = index[(env_index, *obs)]
        assert samples.actions[row, 0].item() == steps[env_index][i].action
        expected = reference_return(steps[env_index], next_actions[env_index], i, horizon, td_lambda)
        assert targets[row].item() == pytest.approx(expected, rel=1e-5), (env_index, i)
        seen.add((env_index, i))
    assert len(seen) > 40  # most steps of both envs were checked
    if td_lambda == 1.0:  # a whole terminated episode within the horizon: its discounted return
        first = next(i for i, s in enumerate(steps[0]) if s.obs[2] == 0 and any(t.terminated for t in steps[0][i : i + 5]))
        end = next(j for j in range(first, len(steps[0])) if steps[0][j].terminated or steps[0][j].truncated)
        if steps[0][end].terminated:
            discounted = sum(GAMMA ** (j - first) * steps[0][j].reward for j in range(first, end + 1))
            assert reference_return(steps[0], next_actions[0], first, horizon, 1.0) == pytest.approx(discounted)


def test_sequence_mask_keeps_the_steps_of_each_sequence() -> None:
    assert sequence_mask(th.tensor([3, 1, 4]), 4).tolist() == [
        [True, True, True, False],
        [True, False, False, False],
        [True, True, True, True],
    ]


def test_given_bootstrap_values_take_the_place_of_the_target_network() -> None:
    model, _ = collected(n_envs=2, total=60)
    samples = cast(SarsaReplayBuffer, model.replay_buffer).sample_sequences(50, 3)
    values = bootstrap_values(samples, fake_q)
    assert values.shape == (50, 3)
    computed = lambda_targets(samples, fake_q, GAMMA, 0.7)
    assert th.equal(lambda_targets(samples, None, GAMMA, 0.7, next_values=values), computed)
    # The given values are the ones used: one more at every step adds sum_j w_j * gamma * (1 - term_j) * u_j.
    raised = lambda_targets(samples, fake_q, GAMMA, 0.7, next_values=values + 1.0)
    zeros = th.zeros_like(samples.rewards)
    shift = lambda_returns(zeros, th.ones_like(values), samples.terminations, samples.lengths, GAMMA, 0.7)
    assert th.allclose(raised - computed, shift, atol=1e-3) and bool((shift > 0.5).any())
    with pytest.raises(ValueError, match=r"target network \(target_q_values\) or the bootstrap values"):
        lambda_targets(samples, None, GAMMA, 0.7)


def test_the_default_is_the_one_step_target_and_the_values_are_saved(tmp_path: Any) -> None:
    model = SARSA("MlpPolicy", "CartPole-v1")
    assert (model.td_lambda, model.lambda_horizon) == (0.0, 16)
    model = SARSA("MlpPolicy", "CartPole-v1", td_lambda=0.8, lambda_horizon=5, learning_starts=50, seed=0)
    model.learn(120)
    model.save(tmp_path / "model")
    loaded = SARSA.load(tmp_path / "model")
    assert (loaded.td_lambda, loaded.lambda_horizon) == (0.8, 5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(td_lambda=-0.1), "td_lambda must be in [0, 1]"),
        (dict(td_lambda=0.5, n_steps=3), "cannot be combined"),
        (dict(td_lambda=0.5, lambda_horizon=0), "lambda_horizon must be >= 1"),
        (dict(td_lambda=0.5, recent_eta=0.5), "recent_eta=0.5"),
    ],
)
def test_bad_lambda_settings_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SARSA("MlpPolicy", "CartPole-v1", **kwargs)


def test_lambda_is_refused_with_her_and_dict_observations() -> None:
    from stable_baselines3.common.envs import BitFlippingEnv
    from stable_baselines3.her.her_replay_buffer import HerReplayBuffer

    env = BitFlippingEnv(n_bits=4, continuous=False)
    with pytest.raises(ValueError, match="HerSarsaReplayBuffer"):
        SARSA("MultiInputPolicy", env, td_lambda=0.5, replay_buffer_class=HerReplayBuffer)
    with pytest.raises(ValueError, match="DictSarsaReplayBuffer"):
        SARSA("MultiInputPolicy", env, td_lambda=0.5)


def test_the_zoo_search_samples_lambda_only_where_sarsa_accepts_it() -> None:
    import optuna

    from sb3_sarsa.zoo import sample_sarsa_params

    base = {
        "one_minus_gamma": 0.01,
        "batch_size_pow": 6,
        "learning_rate": 1e-3,
        "train_freq": 4,
        "exploration_final_eps": 0.05,
        "exploration_fraction": 0.1,
        "target_update_interval": 1000,
        "net_arch": "small",
        "target": "sarsa",
        "loss": "mse",
        "buffer_size": 20_000,
        "lr_schedule": "constant",
        "subsample_steps": 1,
        "td_lambda": 0.8,
    }
    sampled = sample_sarsa_params(optuna.trial.FixedTrial({**base, "n_steps": 1, "recent_eta": 1.0}), 2, 1, {})
    assert sampled["td_lambda"] == 0.8
    SARSA("MlpPolicy", "CartPole-v1", **sampled)  # a sampled trial is a valid model
    for other in ({"n_steps": 3, "recent_eta": 1.0}, {"n_steps": 1, "recent_eta": 0.99}):
        sampled = sample_sarsa_params(optuna.trial.FixedTrial({**base, **other}), 2, 1, {})
        assert "td_lambda" not in sampled
        SARSA("MlpPolicy", "CartPole-v1", **sampled)


def test_lambda_reports_the_next_action_agreement() -> None:
    # train/next_action_agreement is measured on the first step of the sampled sequences, as on one-step batches
    # (the zoo's search records it for every trial)
    model = SARSA("MlpPolicy", "CartPole-v1", td_lambda=0.5, learning_starts=100, seed=0)
    model.learn(600)
    assert model._agreement is not None and 0.0 <= model._agreement <= 1.0
