"""Small envs and wrappers that let tests compare the replay buffer with what really happened."""

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv


class CounterEnv(gym.Env):
    """
    Observation ``[env_id, episode, t]``: every observation of a run is unique.

    An episode terminates after a length drawn at reset from 1..``max_length``; put a
    :class:`TimeLimit` around it to get truncations too. The reward encodes step and action.
    """

    def __init__(self, env_id: int = 0, n_actions: int = 3, max_length: int = 12, dict_obs: bool = False) -> None:
        self.env_id = env_id
        self.max_length = max_length
        self.dict_obs = dict_obs
        box = spaces.Box(low=0.0, high=1e6, shape=(3,), dtype=np.float32)
        self.observation_space = spaces.Dict({"state": box, "parity": spaces.Discrete(2)}) if dict_obs else box
        self.action_space = spaces.Discrete(n_actions)
        self.episode = -1
        self.t = 0
        self.length = 0

    def _obs(self) -> Any:
        state = np.array([self.env_id, self.episode, self.t], dtype=np.float32)
        return {"state": state, "parity": self.t % 2} if self.dict_obs else state

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        self.length = int(self.np_random.integers(1, self.max_length + 1))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        reward = float(100 * self.t + int(action))
        return self._obs(), reward, self.t >= self.length, False, {}


@dataclass
class Step:
    obs: Any
    action: int
    reward: float
    next_obs: Any
    terminated: bool
    truncated: bool


class Recorder(gym.Wrapper):
    """Records every step the env really executed, outside the time limit."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.steps: list[Step] = []
        self._obs: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self._obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps.append(Step(self._obs, int(action), float(reward), obs, terminated, truncated))
        self._obs = obs
        return obs, float(reward), terminated, truncated, info


def recorded_vec_env(
    n_envs: int, time_limit: int = 8, seed: int = 0, dict_obs: bool = False
) -> tuple[DummyVecEnv, list[Recorder]]:
    """A DummyVecEnv of CounterEnvs and the recorder of each."""
    recorders = [Recorder(TimeLimit(CounterEnv(i, dict_obs=dict_obs), time_limit)) for i in range(n_envs)]
    vec_env = DummyVecEnv([lambda r=r: Monitor(r) for r in recorders])  # type: ignore[misc]
    vec_env.seed(seed)
    return vec_env, recorders


def obs_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return all(np.array_equal(np.asarray(a[k]).ravel(), np.asarray(b[k]).ravel()) for k in a)
    return bool(np.array_equal(np.asarray(a).ravel(), np.asarray(b).ravel()))


def stored_obs(array: Any, pos: int, env: int) -> Any:
    if isinstance(array, dict):
        return {key: value[pos, env] for key, value in array.items()}
    return array[pos, env]


class SmallCliff(gym.Env):
    """
    Sutton & Barto's cliff on a smaller grid, with ``CliffWalking-v1``'s rules and transition table ``P``.

    Start at the bottom-left, goal at the bottom-right, the cells between them are the cliff:
    -1 per step, -100 and back to the start for a step into the cliff, the episode ends at the goal.
    Actions: 0 up, 1 right, 2 down, 3 left. The observation is the cell index.
    """

    def __init__(self, rows: int = 3, columns: int = 6) -> None:
        self.rows, self.columns = rows, columns
        self.observation_space = spaces.Discrete(rows * columns)
        self.action_space = spaces.Discrete(4)
        self.start, self.goal = (rows - 1) * columns, rows * columns - 1
        moves = ((-1, 0), (0, 1), (1, 0), (0, -1))
        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for state in range(rows * columns):
            row, column = divmod(state, columns)
            self.P[state] = {}
            for action, (d_row, d_column) in enumerate(moves):
                new_row = min(max(row + d_row, 0), rows - 1)
                new_column = min(max(column + d_column, 0), columns - 1)
                target = new_row * columns + new_column
                if new_row == rows - 1 and 0 < new_column < columns - 1:  # the cliff
                    self.P[state][action] = [(1.0, self.start, -100.0, False)]
                else:
                    self.P[state][action] = [(1.0, target, -1.0, target == self.goal)]
        self.state = self.start

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.state = self.start
        return self.state, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict]:
        _, self.state, reward, terminated = self.P[self.state][int(action)][0]
        return self.state, reward, terminated, False, {}
