"""
Read the recommended hyperparameters shipped in ``hyperparams/sarsa.yml`` (rl-zoo3's format).

Only what :class:`sb3_sarsa.SARSA` itself takes is handled here: ``policy_kwargs`` strings such
as ``"dict(net_arch=[256, 256])"`` and ``lin_<value>`` learning-rate schedules. Entries that need rl-zoo3's
env machinery (``frame_stack``, ``normalize``, ...) are for ``rl_zoo3 train``; ``env_wrapper`` is
applied with rl-zoo3's own parser (:func:`env_wrapper`).
"""

import importlib.resources
import pathlib
from collections.abc import Callable
from importlib.resources.abc import Traversable
from typing import Any

import gymnasium as gym
import yaml
from stable_baselines3.common.utils import LinearSchedule
from torch import nn

#: Keys of a zoo entry that describe the run rather than the model (``env_wrapper``: see :func:`env_wrapper`).
RUN_KEYS = ("n_timesteps", "policy", "n_envs", "env_wrapper")
#: Keys of a zoo entry that only rl-zoo3 can apply.
ZOO_ONLY_KEYS = ("frame_stack", "normalize", "callback", "vec_env_wrapper", "eval_env_wrapper")


def config_path() -> Traversable:
    """
    :return: ``sarsa.yml``: installed as ``sb3_sarsa/hyperparams/sarsa.yml``, or the top-level
        ``hyperparams/sarsa.yml`` of a source checkout that is imported without being installed
    """
    try:
        return importlib.resources.files("sb3_sarsa.hyperparams").joinpath("sarsa.yml")
    except ModuleNotFoundError:
        return pathlib.Path(__file__).resolve().parent.parent / "hyperparams" / "sarsa.yml"


def load_config() -> dict[str, dict[str, Any]]:
    """
    :return: the parsed ``sarsa.yml``, keyed by env id (and ``default``)
    """
    return yaml.safe_load(config_path().read_text())


class LinearToZero(LinearSchedule):
    """
    rl-zoo3's ``lin_<rate>`` learning rate: ``rate`` at the start of training, down to 0 at the end, linearly.
    Unlike SB3's :class:`~stable_baselines3.common.utils.LinearSchedule` it equals another schedule with the same
    values and shows as it is written (``lin_<rate>``), so that records of runs compare (``repr``).

    :param rate: the learning rate at the start
    """

    def __init__(self, rate: float) -> None:
        super().__init__(float(rate), 0.0, 1.0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearSchedule) and (self.start, self.end, self.end_fraction) == (
            other.start,
            other.end,
            other.end_fraction,
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and its values can change

    def __repr__(self) -> str:
        return f"lin_{self.start!r}"


def parse_learning_rate(value: Any) -> Any:
    """
    :param value: a ``learning_rate`` as a zoo entry gives it: a number, or ``lin_<initial>`` (from ``initial`` at
        the start down to 0 at the end)
    :return: the number, or the schedule (:class:`LinearToZero`)
    :raises ValueError: if a string is not ``lin_<number>``
    """
    if not isinstance(value, str):
        return value
    kind, _, initial = value.partition("_")
    if kind != "lin":
        raise ValueError(f"learning_rate: {value!r} is not a number nor a 'lin_<value>' schedule.")
    return LinearToZero(float(initial))


def model_kwargs(env_id: str, config: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    SARSA's constructor arguments for one env, as rl-zoo3 would build them.

    :param env_id: a Gymnasium env id; ``default`` is used when the file has no entry for it
    :param config: the parsed file, :func:`load_config` if ``None``
    :return: ``(kwargs for SARSA(...), run settings: n_timesteps, policy, n_envs)``
    :raises ValueError: if the entry needs rl-zoo3 or a value cannot be parsed
    """
    config = load_config() if config is None else config
    entry = dict(config.get(env_id, config["default"]))
    zoo_only = sorted(key for key in entry if key in ZOO_ONLY_KEYS)
    if zoo_only:
        raise ValueError(f"The {env_id} entry uses {', '.join(zoo_only)}: train it with `rl_zoo3 train --algo sarsa`.")
    run = {key: entry.pop(key) for key in RUN_KEYS if key in entry}
    if isinstance(entry.get("policy_kwargs"), str):
        # rl-zoo3 evaluates this string too; only dict() and torch.nn names are made available.
        entry["policy_kwargs"] = eval(entry["policy_kwargs"], {"__builtins__": {}, "dict": dict, "nn": nn})
    if "learning_rate" in entry:
        entry["learning_rate"] = parse_learning_rate(entry["learning_rate"])
    if isinstance(entry.get("train_freq"), list):
        entry["train_freq"] = tuple(entry["train_freq"])
    return entry, run


def env_wrapper(run: dict[str, Any]) -> Callable[[gym.Env], gym.Env] | None:
    """
    The wrapper(s) of an entry's ``env_wrapper``, as ``rl_zoo3 train`` applies them (for instance
    ``gymnasium.wrappers.TimeLimit`` with ``max_episode_steps`` for an env without a time limit).

    :param run: the run settings returned by :func:`model_kwargs`
    :return: a callable that wraps an env, or ``None`` if the entry has no ``env_wrapper``
    """
    from rl_zoo3.utils import get_wrapper_class

    return get_wrapper_class(run)
