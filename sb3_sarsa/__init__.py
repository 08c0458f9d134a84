"""Deep SARSA and Expected SARSA for Stable-Baselines3."""

from sb3_sarsa.buffers import DictSarsaReplayBuffer, SarsaReplayBuffer
from sb3_sarsa.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SarsaPolicy
from sb3_sarsa.sarsa import SARSA
from sb3_sarsa.version import __version__

__all__ = [
    "SARSA",
    "CnnPolicy",
    "DictSarsaReplayBuffer",
    "MlpPolicy",
    "MultiInputPolicy",
    "SarsaPolicy",
    "SarsaReplayBuffer",
    "__version__",
]
