"""
Deep SARSA and Expected SARSA for Stable-Baselines3.

The public names are imported on first use (PEP 562), so that ``import sb3_sarsa._zoo_hook``,
which runs at every interpreter start, does not import torch.
It imports nothing at all: every module imported at start-up costs about 0.1 ms.
"""

__version__ = "0.1.0"

# typing and importlib are not imported at start-up; importing them here would cost milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from sb3_sarsa.buffers import DictSarsaReplayBuffer, SarsaReplayBuffer
    from sb3_sarsa.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SarsaPolicy
    from sb3_sarsa.sarsa import SARSA

_EXPORTS = {
    "SARSA": "sb3_sarsa.sarsa",
    "CnnPolicy": "sb3_sarsa.policies",
    "MlpPolicy": "sb3_sarsa.policies",
    "MultiInputPolicy": "sb3_sarsa.policies",
    "SarsaPolicy": "sb3_sarsa.policies",
    "DictSarsaReplayBuffer": "sb3_sarsa.buffers",
    "SarsaReplayBuffer": "sb3_sarsa.buffers",
}

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


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sb3_sarsa' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
