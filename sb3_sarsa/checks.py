"""Checks of user input that raise an error naming the problem before any work is done."""

import inspect
import math
import warnings
from collections.abc import Mapping
from typing import Any

from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from sb3_sarsa.policies import SarsaPolicy

#: Observation spaces that SB3's networks and buffers handle (Dict: of these, not nested).
SUPPORTED_OBSERVATION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)

# Policy arguments that the algorithm passes itself.
_SET_BY_ALGORITHM = {"self", "observation_space", "action_space", "lr_schedule"}


#: Options that no measurement supports (``docs/research/TUNING.md``, ``benchmarks/research/stuck/README.md``):
#: removed in 0.4.0.
ZETA_DEPRECATION = (
    "exploration_zeta is deprecated and will be removed in sb3-sarsa 0.4.0: on LunarLander-v3 it never learned to land "
    "on two tuning seeds, and no sarsa.yml entry uses it."
)
DUELING_DEPRECATION = (
    "policy_kwargs['dueling'] is deprecated and will be removed in sb3-sarsa 0.4.0: on LunarLander-v3 it did not beat "
    "the entry on three tuning seeds, and no sarsa.yml entry uses it."
)


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """
    :raises ValueError: if SARSA cannot act in these spaces
    """
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(
            f"SARSA needs a Discrete action space (one Q-value per action), got {action_space}. "
            "For Box actions use SAC or TD3; a MultiDiscrete or MultiBinary space needs a wrapper "
            "that flattens it into one Discrete space."
        )
    if int(action_space.start) != 0:
        raise ValueError(
            f"SARSA needs a Discrete action space that starts at 0, got {action_space}: "
            "the Q-network's outputs are indexed 0..n-1. Wrap the env to shift its actions."
        )
    inner = observation_space.spaces.values() if isinstance(observation_space, spaces.Dict) else [observation_space]
    for space in inner:
        if not isinstance(space, SUPPORTED_OBSERVATION_SPACES):
            names = ", ".join(cls.__name__ for cls in SUPPORTED_OBSERVATION_SPACES)
            raise ValueError(
                f"SARSA cannot handle the observation space {observation_space}: "
                f"supported are {names} and a Dict of these (not nested)."
            )


def _check_range(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    if not (low < value <= high if low_open else low <= value <= high):
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{name} must be in {interval}, got {value}.")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")


def check_parameters(
    *,
    learning_rate: Any,
    learning_starts: int,
    buffer_size: int,
    batch_size: int,
    tau: float,
    gamma: float,
    train_freq: int | tuple[int, str],
    gradient_steps: int,
    n_steps: int,
    target_update_interval: int,
    exploration_fraction: float,
    exploration_initial_eps: float,
    exploration_final_eps: float,
    max_grad_norm: float,
) -> None:
    """
    Refuse only what SB3's DQN refuses or what cannot work; every value DQN accepts keeps its meaning
    (``tau=0``: a frozen target network; ``target_update_interval=0``: as 1; ``exploration_fraction > 1``:
    epsilon does not reach its final value within the run; a ``batch_size`` larger than the buffer
    samples with replacement; ``learning_rate=0`` or ``max_grad_norm=0``: no update).

    :raises ValueError: naming the first parameter that is out of range, and why
    """
    if not callable(learning_rate):
        _check_range("learning_rate", learning_rate, 0.0, float("inf"))
    _check_int("learning_starts", learning_starts, 0)
    _check_int("buffer_size", buffer_size, 1)
    _check_int("batch_size", batch_size, 1)
    _check_range("tau", tau, 0.0, 1.0)
    _check_range("gamma", gamma, 0.0, 1.0)
    frequency = train_freq[0] if isinstance(train_freq, tuple) else train_freq
    _check_int("train_freq", frequency, 1)
    if isinstance(train_freq, tuple) and (len(train_freq) != 2 or train_freq[1] not in ("step", "episode")):
        raise ValueError(f"train_freq must be an int or a tuple (n, 'step' | 'episode'), got {train_freq!r}.")
    _check_int("gradient_steps", gradient_steps, -1)  # -1: as many as env steps
    _check_int("n_steps", n_steps, 1)  # the number of rewards in a return
    _check_int("target_update_interval", target_update_interval, 0)
    _check_range("exploration_fraction", exploration_fraction, 0.0, float("inf"))
    # Probabilities of a random action:
    _check_range("exploration_initial_eps", exploration_initial_eps, 0.0, 1.0)
    _check_range("exploration_final_eps", exploration_final_eps, 0.0, 1.0)
    # A negative norm would turn the gradient around.
    _check_range("max_grad_norm", max_grad_norm, 0.0, float("inf"))


def _accepted_policy_kwargs(policy_class: type[BasePolicy]) -> set[str]:
    """Keyword names of the policy's constructor, following ``**kwargs`` up its base classes."""
    names: set[str] = set()
    for cls in policy_class.__mro__:
        if "__init__" not in vars(cls):
            continue
        parameters = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
        names.update(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names - _SET_BY_ALGORITHM


def check_policy_kwargs(policy_class: type[BasePolicy], policy_kwargs: dict[str, Any] | None) -> None:
    """
    :raises TypeError: if the policy is not a SARSA policy
    :raises ValueError: naming an unknown policy keyword, or a ``softplus_head`` or ``dueling`` that is not a bool
    """
    if not (isinstance(policy_class, type) and issubclass(policy_class, SarsaPolicy)):
        raise TypeError(
            f"SARSA needs a SarsaPolicy (MlpPolicy, CnnPolicy, MultiInputPolicy or a subclass), got {policy_class!r}."
        )
    accepted = _accepted_policy_kwargs(policy_class)
    unknown = sorted(set(policy_kwargs or {}) - accepted)
    if unknown:
        raise ValueError(
            f"Unknown policy keyword(s) {', '.join(unknown)} for {policy_class.__name__}: "
            f"valid keywords are {', '.join(sorted(accepted))}."
        )
    for flag in ("softplus_head", "dueling"):
        value = (policy_kwargs or {}).get(flag, False)
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}.")
    if (policy_kwargs or {}).get("dueling", False):
        warnings.warn(DUELING_DEPRECATION, FutureWarning, stacklevel=3)


def check_recency(recent_eta: float, recent_min_size: int) -> tuple[float, int]:
    """
    :return: the two Emphasizing-Recent-Experience parameters, checked
    :raises ValueError: for an ``recent_eta`` outside (0, 1] or a ``recent_min_size`` below 1
    """
    if isinstance(recent_eta, bool) or not isinstance(recent_eta, (int, float)) or not 0.0 < recent_eta <= 1.0:
        raise ValueError(f"recent_eta must be in (0, 1] (1: uniform replay), got {recent_eta!r}.")
    _check_int("recent_min_size", recent_min_size, 1)
    return float(recent_eta), int(recent_min_size)


def check_lambda(td_lambda: float, lambda_horizon: int, n_steps: int) -> tuple[float, int]:
    """
    :return: ``td_lambda`` and ``lambda_horizon``, checked
    :raises ValueError: for a ``td_lambda`` outside [0, 1], a ``lambda_horizon`` below 1, or ``td_lambda > 0``
        with ``n_steps > 1`` (the lambda-return already mixes the n-step returns of every n up to the horizon)
    """
    if isinstance(td_lambda, bool) or not isinstance(td_lambda, (int, float)) or not 0.0 <= td_lambda <= 1.0:
        raise ValueError(f"td_lambda must be in [0, 1] (0: the one-step target), got {td_lambda!r}.")
    _check_int("lambda_horizon", lambda_horizon, 1)
    if td_lambda > 0.0 and n_steps > 1:
        raise ValueError(
            f"td_lambda={td_lambda} and n_steps={n_steps} cannot be combined: the lambda-return mixes the n-step "
            "returns up to lambda_horizon steps; set n_steps=1 (or td_lambda=0)."
        )
    return float(td_lambda), int(lambda_horizon)


def check_target_epsilon(target_epsilon: float | None, target: str) -> float | None:
    """
    :return: ``target_epsilon``, checked
    :raises ValueError: for a value outside [0, 1], or a value with a target other than ``"expected"``
        (SARSA's target uses the stored next action, drawn with the behaviour's epsilon)
    """
    if target_epsilon is None:
        return None
    if isinstance(target_epsilon, bool) or not isinstance(target_epsilon, (int, float)) or not 0.0 <= target_epsilon <= 1.0:
        raise ValueError(f"target_epsilon must be None (the behaviour's epsilon) or in [0, 1], got {target_epsilon!r}.")
    if target != "expected":
        raise ValueError(
            f"target_epsilon applies to target='expected' only (got target={target!r}): SARSA's target uses the "
            "next action stored with each transition, drawn with the behaviour's epsilon."
        )
    return float(target_epsilon)


def check_exploration_zeta(exploration_zeta: float | None, target: str) -> float | None:
    """
    :return: ``exploration_zeta``, checked
    :raises ValueError: for a value that is not a number above 1 (a zeta distribution's exponent must be), or a
        value with a target other than ``"sarsa"`` (Expected SARSA's target takes the expectation under one-step
        epsilon-greedy, which is not the policy that acts when explorations last several steps)
    """
    if exploration_zeta is None:
        return None
    if (
        isinstance(exploration_zeta, bool)
        or not isinstance(exploration_zeta, (int, float))
        or not math.isfinite(exploration_zeta)
        or exploration_zeta <= 1.0
    ):
        raise ValueError(
            f"exploration_zeta must be None (one-step epsilon-greedy) or a number above 1 (the exponent of the zeta "
            f"distribution of exploration durations), got {exploration_zeta!r}."
        )
    if target != "sarsa":
        raise ValueError(
            f"exploration_zeta applies to target='sarsa' only (got target={target!r}): the expected target averages "
            "over one-step epsilon-greedy, not over explorations that last several steps."
        )
    warnings.warn(ZETA_DEPRECATION, FutureWarning, stacklevel=3)
    return float(exploration_zeta)


def policy_class_of(aliases: Mapping[str, type[BasePolicy]], policy: str | type[BasePolicy]) -> type[BasePolicy]:
    """
    :param aliases: the algorithm's ``policy_aliases``
    :param policy: a policy name or class
    :return: the policy class
    :raises ValueError: for an unknown name, listing the valid ones
    """
    if isinstance(policy, str):
        if policy not in aliases:
            raise ValueError(f"Unknown policy {policy!r}: valid policies are {', '.join(aliases)}.")
        return aliases[policy]
    return policy
