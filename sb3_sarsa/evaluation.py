"""
Episodes from seeded start states, with how each one ended.

SB3's ``evaluate_policy`` returns returns and lengths; whether an episode reached the goal or ran
into the time limit needs the ``terminated`` / ``truncated`` flags, which :func:`run_episodes` keeps.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

#: Envs with a goal: an episode that runs into their time limit did not get there (it is stuck).
#: CartPole-v1 is not one of them: there the time limit is the best outcome.
GOAL_ENVS = ("Acrobot-v1", "MountainCar-v0", "CliffWalking-v1", "LunarLander-v3")


@dataclass
class Episodes:
    """
    What happened in a batch of episodes, one entry per episode.

    :param seeds: the seed each episode's ``reset`` got (its start state)
    :param returns: undiscounted return
    :param lengths: steps
    :param truncated: ended by the time limit (``truncated`` without ``terminated``)
    :param observations: per episode, the observations acted on, stacked (only when recorded)
    :param actions: per episode, the actions executed (only when recorded)
    """

    seeds: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    observations: list[np.ndarray] = field(default_factory=list)
    actions: list[list[int]] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    def stuck(self, env_id: str) -> int | None:
        """:return: episodes that ended at the time limit, on an env with a goal (``None`` on other envs)"""
        return sum(self.truncated) if env_id in GOAL_ENVS else None

    def to_dict(self) -> dict[str, list[Any]]:
        return {"seeds": self.seeds, "returns": self.returns, "lengths": self.lengths, "truncated": self.truncated}


def run_episodes(
    model: Any,
    env: gym.Env,
    seeds: Iterable[int],
    deterministic: bool = True,
    epsilon: float = 0.0,
    rng_seed: int = 0,
    record: bool = False,
) -> Episodes:
    """
    One episode per seed: ``env.reset(seed=seed)``, then the model's actions until the episode ends.

    :param model: anything with SB3's ``predict(observation, deterministic=...)`` (discrete actions)
    :param env: a single (not vectorized) env with its time limit
    :param seeds: one seed per episode; distinct seeds give distinct start states
    :param deterministic: the model's greedy action (what ``rl_zoo3 enjoy`` runs) or its own stochastic one
    :param epsilon: with this probability, a uniformly random action instead of the model's
    :param rng_seed: seed of the generator that draws those random actions
    :param record: keep every episode's observations and actions (:attr:`Episodes.observations`, ``actions``)
    """
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise TypeError(f"run_episodes needs a Discrete action space, got {env.action_space}")
    n_actions = int(env.action_space.n)
    rng = np.random.default_rng(rng_seed)
    episodes = Episodes()
    for seed in seeds:
        observation, _ = env.reset(seed=seed)
        total, length = 0.0, 0
        observations, actions = [], []
        while True:
            action, _ = model.predict(observation, deterministic=deterministic)
            chosen = int(np.asarray(action).reshape(-1)[0])
            if epsilon > 0 and rng.random() < epsilon:
                chosen = int(rng.integers(n_actions))
            if record:
                observations.append(np.asarray(observation))
                actions.append(chosen)
            observation, reward, terminated, truncated, _ = env.step(chosen)
            total += float(reward)
            length += 1
            if terminated or truncated:
                break
        episodes.seeds.append(int(seed))
        episodes.returns.append(total)
        episodes.lengths.append(length)
        episodes.truncated.append(bool(truncated and not terminated))
        if record:
            episodes.observations.append(np.stack(observations))
            episodes.actions.append(actions)
    return episodes
