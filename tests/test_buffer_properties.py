"""
Property-based tests of the SARSA replay buffers (hypothesis).

A simulated vectorized run drives the buffer exactly as :class:`sb3_sarsa.SARSA` does: random
episode lengths, terminations and truncations in each of 1 to 8 envs, a capacity small enough to
wrap around, 1- to 4-step returns, flat and dict observations, and SB3's memory-optimized layout
(``optimize_memory_usage=True`` with ``handle_timeout_termination=False``, flat observations only:
``s'`` is the next stored observation, and a truncation ends the target like a termination). Every observation carries a unique
id, so each sampled row can be traced back to the transition that was really executed, and
checked: ``s``, ``a``, the (n-step) reward, ``s'``, ``a'`` (the action executed next in that env,
or the one drawn at the terminal observation of a truncation), ``done`` and the discount; and
no window runs past an episode end or past the newest transition.
"""

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

from sb3_sarsa.buffers import DictSarsaReplayBuffer, SarsaReplayBuffer

N_ACTIONS = 5
GAMMA = 0.5  # a power of two: discounted sums of small integers are exact in float32


@dataclass
class Executed:
    obs: int  # unique id of s
    action: int
    reward: float
    next_obs: int  # unique id of s'
    next_action: int  # a' stored with the transition
    terminated: bool
    truncated: bool


class Run:
    """A vectorized run: what the envs really did, and the buffer it filled."""

    def __init__(
        self, n_envs: int, capacity: int, n_steps: int, dict_obs: bool, seed: int, optimize_memory_usage: bool = False
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_envs = n_envs
        self.dict_obs = dict_obs
        box = spaces.Box(0.0, 1e7, shape=(2,), dtype=np.float32)
        buffer_class = DictSarsaReplayBuffer if dict_obs else SarsaReplayBuffer
        obs_space: Any = spaces.Dict({"x": box}) if dict_obs else box  # the class above decides which it must be
        self.buffer = buffer_class(
            capacity * n_envs,
            obs_space,
            spaces.Discrete(N_ACTIONS),
            "cpu",
            n_envs=n_envs,
            n_steps=n_steps,
            gamma=GAMMA,
            optimize_memory_usage=optimize_memory_usage,
            handle_timeout_termination=not optimize_memory_usage,
        )
        self.next_id = 0
        self.current = [self.new_obs() for _ in range(n_envs)]
        self.committed = self.rng.integers(N_ACTIONS, size=n_envs)  # drawn at the reset observations
        self.executed: list[list[Executed]] = [[] for _ in range(n_envs)]

    def new_obs(self) -> int:
        self.next_id += 1
        return self.next_id

    def as_obs(self, ids: list[int]) -> np.ndarray | dict[str, np.ndarray]:
        array = np.array([[env, uid] for env, uid in enumerate(ids)], dtype=np.float32)
        return {"x": array} if self.dict_obs else array

    def step(self, step: int, p_end: float) -> None:
        obs, actions = list(self.current), self.committed.copy()
        ends = self.rng.random(self.n_envs) < p_end
        truncated = ends & (self.rng.random(self.n_envs) < 0.5)
        terminated = ends & ~truncated
        rewards = np.array([100.0 * step + env for env in range(self.n_envs)], dtype=np.float32)
        next_obs = [self.new_obs() for _ in range(self.n_envs)]  # s' (the terminal observation at an end)
        self.current = [self.new_obs() if ends[env] else next_obs[env] for env in range(self.n_envs)]
        self.committed = self.rng.integers(N_ACTIONS, size=self.n_envs)  # executed at the next step
        stored = self.committed.copy()
        stored[truncated] = self.rng.integers(N_ACTIONS, size=int(truncated.sum()))  # drawn at s'
        infos = [{"TimeLimit.truncated": bool(truncated[env])} for env in range(self.n_envs)]
        self.buffer.add(
            self.as_obs(obs),  # type: ignore[arg-type]
            self.as_obs(next_obs),  # type: ignore[arg-type]
            actions.reshape(-1, 1),
            rewards,
            ends.astype(np.float32),
            infos,
            next_action=stored,
        )
        for env in range(self.n_envs):
            self.executed[env].append(
                Executed(
                    obs[env],
                    int(actions[env]),
                    float(rewards[env]),
                    next_obs[env],
                    int(stored[env]),
                    bool(terminated[env]),
                    bool(truncated[env]),
                )
            )


def ids(observations: th.Tensor | dict[str, th.Tensor]) -> np.ndarray:
    array = observations["x"] if isinstance(observations, dict) else observations
    return array.numpy().astype(np.int64)


@settings(max_examples=150, deadline=None)
@given(
    n_envs=st.integers(1, 8),
    capacity=st.integers(2, 24),
    n_steps=st.integers(1, 4),
    n_vector_steps=st.integers(1, 60),
    p_end=st.sampled_from([0.0, 0.1, 0.3, 0.7, 1.0]),
    dict_obs=st.booleans(),
    optimize=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_sample_is_a_really_executed_transition(
    n_envs: int, capacity: int, n_steps: int, n_vector_steps: int, p_end: float, dict_obs: bool, optimize: bool, seed: int
) -> None:
    optimize = optimize and not dict_obs  # SB3's DictReplayBuffer has no memory-optimized layout
    run = Run(n_envs, capacity, n_steps, dict_obs, seed, optimize_memory_usage=optimize)
    for step in range(n_vector_steps):
        run.step(step, p_end)
    where = {t.obs: (env, j) for env, steps in enumerate(run.executed) for j, t in enumerate(steps)}
    # Memory-optimized: once full, the oldest row holds the newest s' and is not sampled.
    in_buffer = min(capacity - 1, n_vector_steps) if optimize and n_vector_steps >= capacity else min(capacity, n_vector_steps)

    np.random.seed(seed % 2**31)
    for _ in range(3):
        sample = run.buffer.sample(32)
        obs, next_obs = ids(sample.observations), ids(sample.next_observations)
        for row in range(32):
            env, j = where[int(obs[row, 1])]
            assert obs[row, 0] == env
            steps = run.executed[env]
            assert j >= len(steps) - in_buffer, "sampled a transition that was overwritten"
            window = [steps[j]]
            while (
                len(window) < n_steps and not (window[-1].terminated or window[-1].truncated) and j + len(window) < len(steps)
            ):
                window.append(steps[j + len(window)])
            last = window[-1]
            assert int(sample.actions[row, 0]) == steps[j].action
            if optimize and (last.terminated or last.truncated):
                # s' there was overwritten by the next reset observation: the target masks it out.
                assert float(sample.dones[row, 0]) == 1.0
            else:
                assert (next_obs[row, 0], next_obs[row, 1]) == (env, last.next_obs)
                assert int(sample.next_actions[row, 0]) == last.next_action
                assert float(sample.dones[row, 0]) == float(last.terminated)  # a truncation keeps the bootstrap
            expected_return = sum(GAMMA**i * t.reward for i, t in enumerate(window))
            assert float(sample.rewards[row, 0]) == expected_return
            if n_steps == 1:
                assert sample.discounts is None
            else:
                assert sample.discounts is not None and float(sample.discounts[row, 0]) == GAMMA ** len(window)
            # The window's transitions follow each other within one episode.
            for earlier, later in itertools.pairwise(window):
                assert earlier.next_obs == later.obs and not (earlier.terminated or earlier.truncated)


def test_a_prime_is_the_next_executed_action_within_an_episode() -> None:
    """The simulation itself: a' of a non-final transition is the action executed next."""
    run = Run(n_envs=3, capacity=50, n_steps=1, dict_obs=False, seed=1)
    for step in range(40):
        run.step(step, 0.2)
    checked = 0
    for steps in run.executed:
        for now, after in itertools.pairwise(steps):
            if not (now.terminated or now.truncated):
                assert now.next_action == after.action and now.next_obs == after.obs
                checked += 1
    assert checked > 50
