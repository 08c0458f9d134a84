"""
Deep SARSA and Expected SARSA for Stable-Baselines3.

The public names are imported on first use (PEP 562): ``import sb3_sarsa`` (for its version,
say) does not import torch.
"""

__version__ = "0.3.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sb3_sarsa.buffers import DictSarsaReplayBuffer, SarsaReplayBuffer
    from sb3_sarsa.her import HerSarsaReplayBuffer
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
    "HerSarsaReplayBuffer": "sb3_sarsa.her",
}

__all__ = [
    "SARSA",
    "CnnPolicy",
    "DictSarsaReplayBuffer",
    "HerSarsaReplayBuffer",
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
