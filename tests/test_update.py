"""One gradient update, checked against the networks: which network gives what to the target."""

import copy
from typing import Any

import pytest
import torch as th

import sb3_sarsa.batch_targets
from sb3_sarsa import SARSA


@pytest.mark.parametrize("target", ["sarsa", "expected"])
def test_the_target_takes_values_from_the_target_network_and_the_greedy_action_from_the_online_one(
    monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    model = SARSA(
        "MlpPolicy",
        "CartPole-v1",
        target=target,
        learning_starts=0,
        gradient_steps=0,
        seed=0,
        policy_kwargs=dict(net_arch=[8]),
    )
    model.learn(64)
    with th.no_grad():  # the online network moves away from the target network
        for parameter in model.q_net.parameters():
            parameter.add_(0.5 * th.randn_like(parameter))
    online, target_net = copy.deepcopy(model.q_net), copy.deepcopy(model.q_net_target)
    batches: list[Any] = []
    sample = model.replay_buffer.sample

    def spy_sample(*args: Any, **kwargs: Any) -> Any:
        batches.append(sample(*args, **kwargs))
        return batches[-1]

    calls: list[dict[str, th.Tensor]] = []
    expected_target = sb3_sarsa.batch_targets.expected_sarsa_target

    def spy_target(rewards, dones, discounts, next_q_values, policy_q_values, epsilon):  # type: ignore[no-untyped-def]
        calls.append({"next_q_values": next_q_values, "policy_q_values": policy_q_values})
        return expected_target(rewards, dones, discounts, next_q_values, policy_q_values, epsilon)

    monkeypatch.setattr(model.replay_buffer, "sample", spy_sample)
    monkeypatch.setattr(sb3_sarsa.batch_targets, "expected_sarsa_target", spy_target)
    model.train(gradient_steps=1, batch_size=16)
    next_observations = batches[0].next_observations
    with th.no_grad():
        online_q, target_q = online(next_observations), target_net(next_observations)
    assert not th.equal(online_q.argmax(dim=1), target_q.argmax(dim=1))  # else the test could not tell them apart
    if target == "expected":
        (call,) = calls
        assert th.equal(call["next_q_values"], target_q)
        assert th.equal(call["policy_q_values"], online_q)
    else:
        assert not calls
