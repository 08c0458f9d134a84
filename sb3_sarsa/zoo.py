"""
rl-zoo3 integration: registration, the Optuna sampler and converter, and a fallback CLI.

After ``pip install sb3-sarsa`` the start-up hook (:mod:`sb3_sarsa._zoo_hook`) calls
:func:`on_zoo_module_loaded` as rl-zoo3's modules are imported, so that

    rl_zoo3 train --algo sarsa --env CartPole-v1

works as written. Without the hook (``SB3_SARSA_ZOO_HOOK=0``, or an environment where ``.pth``
files are not processed), the zoo's documented route works too:

    python -m sb3_sarsa.zoo train --algo sarsa --env CartPole-v1
    sb3-sarsa-zoo enjoy --algo sarsa --env CartPole-v1 -f logs/

Both call :func:`register`.
"""

import functools
import inspect
import runpy
import sys
from types import ModuleType
from typing import Any

#: The name of the algorithm in rl-zoo3 (``--algo sarsa``).
ALGO = "sarsa"
#: Envs whose rewards are never negative: the sampler may try ``softplus_head=True`` there.
NON_NEGATIVE_REWARD_ENVS = frozenset({"CartPole-v0", "CartPole-v1"})
#: Parameters of the search space that are SARSA's own (the rest are DQN's, as rl-zoo3 samples them).
SARSA_SEARCH_KEYS = (
    "target",
    "loss",
    "n_steps",
    "softplus_head",
    "buffer_size",
    "recent_eta",
    "lr_schedule",
    "td_lambda",
)
#: SARSA(lambda)'s lambdas the sampler tries, where a trial has ``n_steps=1`` and uniform replay (0: one-step).
TD_LAMBDAS = (0.0, 0.5, 0.8, 0.95)
#: Replay buffer sizes the sampler tries: small buffers hold next actions drawn by recent policies.
BUFFER_SIZES = (5_000, 20_000, 100_000, 1_000_000)
#: Emphasis on recent experience the sampler tries (``recent_eta``; 1.0: uniform replay). The last update of a
#: ``train()`` call then samples from the newest 37%, 1.8% and 0.004% of the buffer (``eta ** 1000``), or
#: ``recent_min_size`` transitions if that is more.
RECENT_ETAS = (1.0, 0.999, 0.996, 0.99)
#: Learning-rate schedules the sampler tries: ``constant``, or ``linear`` from the sampled rate down to 0 at the
#: end of training (rl-zoo3's ``lin_<rate>``), which lets the last updates settle the policy that is evaluated.
#: Trials sampled before the schedule was searched are ``constant``.
LR_SCHEDULES = ("constant", "linear")
#: Parameters added to the search space after studies had begun, with the value that trials sampled before
#: had in effect: such a trial lacks the parameter but ran with that value (see :func:`with_added_params`).
ADDED_PARAMS: dict[str, Any] = {"lr_schedule": "constant", "td_lambda": 0.0}
#: rl-zoo3's names of the network sizes the sampler tries, and the layers they stand for.
NET_ARCHS = {"small": [64, 64], "medium": [256, 256], "big": [400, 300]}
#: Optuna user attribute of a SARSA trial: its last ``train/next_action_agreement``.
AGREEMENT_ATTR = "next_action_agreement"

# The env of the last ExperimentManager created for SARSA: the sampler's search space depends on it.
_context: dict[str, str | None] = {"env_id": None}


def sample_sarsa_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    Optuna sampler for SARSA, registered as ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER["sarsa"]``.

    DQN's search space as rl-zoo3 defines it, plus SARSA's ``target``, ``loss`` and ``n_steps``,
    ``buffer_size`` (:data:`BUFFER_SIZES`: how old the replayed next actions may be),
    ``recent_eta`` (:data:`RECENT_ETAS`: Emphasizing Recent Experience, :mod:`sb3_sarsa.recency`),
    ``lr_schedule`` (:data:`LR_SCHEDULES`), ``td_lambda`` (:data:`TD_LAMBDAS`, in trials with ``n_steps=1`` and
    uniform replay), and ``softplus_head`` on envs whose rewards are never negative.
    Each trial records its last ``train/next_action_agreement`` as the user attribute :data:`AGREEMENT_ATTR`.

    :param trial: the Optuna trial
    :param n_actions: number of actions (unused, part of rl-zoo3's sampler signature)
    :param n_envs: number of envs (unused, part of rl-zoo3's sampler signature)
    :param additional_args: rl-zoo3's extra arguments (unused)
    :return: SARSA's constructor arguments
    """
    params: dict[str, Any] = {
        "one_minus_gamma": trial.suggest_float("one_minus_gamma", 0.0001, 0.03, log=True),
        "batch_size_pow": trial.suggest_int("batch_size_pow", 5, 8),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 0.003, log=True),
        "train_freq": trial.suggest_int("train_freq", 1, 10),
        "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.0, 0.2),
        "exploration_fraction": trial.suggest_float("exploration_fraction", 0.0, 0.5),
        "target_update_interval": trial.suggest_int("target_update_interval", 1, 20000, log=True),
        "net_arch": trial.suggest_categorical("net_arch", list(NET_ARCHS)),
        "target": trial.suggest_categorical("target", ["sarsa", "expected"]),
        "loss": trial.suggest_categorical("loss", ["huber", "mse"]),
        "n_steps": trial.suggest_categorical("n_steps", [1, 3, 5]),
        "buffer_size": trial.suggest_categorical("buffer_size", list(BUFFER_SIZES)),
        "recent_eta": trial.suggest_categorical("recent_eta", list(RECENT_ETAS)),
        "lr_schedule": trial.suggest_categorical("lr_schedule", list(LR_SCHEDULES)),
    }
    if params["n_steps"] == 1 and params["recent_eta"] == 1.0:  # what td_lambda > 0 accepts
        params["td_lambda"] = trial.suggest_categorical("td_lambda", list(TD_LAMBDAS))
    params["subsample_steps"] = trial.suggest_int("subsample_steps", 1, min(params["train_freq"], 8))
    if _context["env_id"] in NON_NEGATIVE_REWARD_ENVS:
        params["softplus_head"] = trial.suggest_categorical("softplus_head", [False, True])
    # -optimize gives these to the model as they are (rl-zoo3 turns ``lin_<rate>`` into a schedule only when
    # it reads hyperparameters, as for --trial-id).
    return model_params(params)


def model_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    :param sampled_params: a trial's ``params``
    :return: :func:`convert_sarsa_params`, with a ``lin_<rate>`` learning rate made its schedule
        (:func:`sb3_sarsa.hyperparameters.parse_learning_rate`): what a model built outside rl-zoo3's
        hyperparameter reading takes
    """
    from sb3_sarsa.hyperparameters import parse_learning_rate

    hyperparams = convert_sarsa_params(sampled_params)
    return {**hyperparams, "learning_rate": parse_learning_rate(hyperparams["learning_rate"])}


def with_added_params(params: dict[str, Any]) -> dict[str, Any]:
    """
    :param params: a trial's parameters
    :return: them with the values of :data:`ADDED_PARAMS` that the trial predates, so that trials of before and
        after a parameter was added compare as the runs they were
    """
    return {**ADDED_PARAMS, **params}


def convert_sarsa_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Turn sampled values into SARSA's constructor arguments as a ``sarsa.yml`` entry writes them, registered
    as ``rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER["sarsa"]`` (used by ``--trial-id``, whose
    hyperparameters rl-zoo3 then preprocesses): a linear ``lr_schedule`` is ``learning_rate: "lin_<rate>"``
    (:func:`sb3_sarsa.hyperparameters.parse_learning_rate` makes the schedule).

    :param sampled_params: a trial's ``params``
    :return: SARSA's constructor arguments
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    params = dict(sampled_params)
    sarsa_params = {key: params.pop(key) for key in SARSA_SEARCH_KEYS if key in params}
    hyperparams = convert_offpolicy_params(params)
    if "softplus_head" in sarsa_params:
        hyperparams["policy_kwargs"]["softplus_head"] = sarsa_params.pop("softplus_head")
    schedule = sarsa_params.pop("lr_schedule", ADDED_PARAMS["lr_schedule"])
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule {schedule!r} is not one of {LR_SCHEDULES}")
    if schedule == "linear":
        hyperparams["learning_rate"] = f"lin_{hyperparams['learning_rate']!r}"
    hyperparams.update(sarsa_params)
    return hyperparams


def entry_trial_params(kwargs: dict[str, Any], env_id: str) -> dict[str, Any]:
    """
    The inverse of :func:`convert_sarsa_params`: a ``sarsa.yml`` entry as the sampled parameters
    of a trial, so that a search can start from it (``optuna.Study.enqueue_trial``).

    The replay buffer is rounded up to the next size of :data:`BUFFER_SIZES` (a buffer at least as
    large as the run holds the whole run either way); every other value must be in the space as it is.

    :param kwargs: SARSA's constructor arguments, as :func:`sb3_sarsa.hyperparameters.model_kwargs` reads them
    :param env_id: the env of the study (``softplus_head`` is searched only where rewards are never negative)
    :return: the trial's parameters, by the sampler's names
    :raises ValueError: naming the first value the search space cannot express
    """

    from sb3_sarsa import SARSA

    defaults = {name: parameter.default for name, parameter in inspect.signature(SARSA.__init__).parameters.items()}
    kwargs = {**{key: value for key, value in defaults.items() if value is not inspect.Parameter.empty}, **kwargs}

    def fail(key: str, why: str) -> ValueError:
        return ValueError(f"the entry's {key}={kwargs.get(key)!r} is not in the search space: {why}")

    learning_rate, lr_schedule = learning_rate_params(kwargs["learning_rate"])
    if learning_rate is None:
        raise fail("learning_rate", "the space has constant rates and linear decays to 0 ('lin_<rate>') only")
    batch_size = int(kwargs["batch_size"])
    if batch_size.bit_length() - 1 not in range(5, 9) or batch_size & (batch_size - 1):
        raise fail("batch_size", "a power of 2 from 32 to 256")
    train_freq = kwargs["train_freq"]
    if not isinstance(train_freq, int) or not 1 <= train_freq <= 10:
        raise fail("train_freq", "a number of steps from 1 to 10")
    gradient_steps = kwargs["gradient_steps"]
    gradient_steps = train_freq if gradient_steps == -1 else gradient_steps
    subsample = train_freq // gradient_steps if gradient_steps else 0
    if not 1 <= subsample <= min(train_freq, 8) or max(train_freq // subsample, 1) != gradient_steps:
        raise fail("gradient_steps", f"train_freq // gradient_steps must be a whole number from 1 to {min(train_freq, 8)}")
    policy_kwargs = dict(kwargs.get("policy_kwargs") or {})
    net_arch = list(policy_kwargs.pop("net_arch", [64, 64]))
    arch = [name for name, layers in NET_ARCHS.items() if layers == net_arch]
    if not arch:
        raise fail("policy_kwargs", f"net_arch must be one of {list(NET_ARCHS.values())}")
    softplus_head = policy_kwargs.pop("softplus_head", None)
    if policy_kwargs:
        raise fail("policy_kwargs", f"{sorted(policy_kwargs)} are not searched")
    buffer_size = int(kwargs["buffer_size"])
    n_steps = kwargs["n_steps"]
    if n_steps not in (1, 3, 5):
        raise fail("n_steps", "1, 3 or 5")
    recent_eta = kwargs["recent_eta"]
    if recent_eta not in RECENT_ETAS:
        raise fail("recent_eta", f"one of {RECENT_ETAS}")
    params: dict[str, Any] = {
        "one_minus_gamma": round(1.0 - float(kwargs["gamma"]), 12),
        "batch_size_pow": batch_size.bit_length() - 1,
        "learning_rate": learning_rate,
        "train_freq": train_freq,
        "exploration_final_eps": float(kwargs["exploration_final_eps"]),
        "exploration_fraction": float(kwargs["exploration_fraction"]),
        "target_update_interval": int(kwargs["target_update_interval"]),
        "net_arch": arch[0],
        "target": kwargs["target"],
        "loss": kwargs["loss"],
        "n_steps": n_steps,
        "buffer_size": next((size for size in BUFFER_SIZES if size >= buffer_size), BUFFER_SIZES[-1]),
        "recent_eta": recent_eta,
        "lr_schedule": lr_schedule,
        "subsample_steps": subsample,
    }
    if kwargs["lambda_horizon"] != defaults["lambda_horizon"]:
        raise fail("lambda_horizon", f"{defaults['lambda_horizon']}, the default (not searched)")
    if n_steps == 1 and recent_eta == 1.0:
        if kwargs["td_lambda"] not in TD_LAMBDAS:
            raise fail("td_lambda", f"one of {TD_LAMBDAS}")
        params["td_lambda"] = kwargs["td_lambda"]
    elif kwargs["td_lambda"] != 0.0:
        raise fail("td_lambda", "searched only with n_steps=1 and recent_eta=1.0")
    if env_id in NON_NEGATIVE_REWARD_ENVS:
        params["softplus_head"] = bool(softplus_head)
    return params


def learning_rate_params(learning_rate: Any) -> tuple[float | None, str]:
    """
    :param learning_rate: a constructor's ``learning_rate``: a number, ``lin_<rate>``, or a schedule object
    :return: the rate and the :data:`LR_SCHEDULES` name of a rate the search space can express, else ``(None, "")``
    """
    from rl_zoo3.utils import SimpleLinearSchedule
    from stable_baselines3.common.utils import LinearSchedule

    from sb3_sarsa.hyperparameters import parse_learning_rate

    if isinstance(learning_rate, str):
        try:
            learning_rate = parse_learning_rate(learning_rate)
        except ValueError:
            return None, ""
    if isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool):
        return float(learning_rate), "constant"
    if isinstance(learning_rate, LinearSchedule) and learning_rate.end == 0.0 and learning_rate.end_fraction == 1.0:
        return float(learning_rate.start), "linear"
    if isinstance(learning_rate, SimpleLinearSchedule):  # rl-zoo3's lin_<rate>
        return float(learning_rate.initial_value), "linear"
    return None, ""


def _default_config_for_sarsa(init: Any) -> Any:
    """Wrap ``ExperimentManager.__init__``: ``--algo sarsa`` without ``--conf-file`` reads our sarsa.yml."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self.algo == ALGO:
            from sb3_sarsa.hyperparameters import config_path

            _context["env_id"] = self.env_name.gym_id
            if signature.bind(self, *args, **kwargs).arguments.get("config") is None:
                self.config = str(config_path())

    __init__._sb3_sarsa_wrapped = True  # type: ignore[attr-defined]
    return __init__


def _record_agreement(on_step: Any) -> Any:
    """Wrap ``TrialEvalCallback._on_step``: a SARSA trial also records its ``train/next_action_agreement``."""

    @functools.wraps(on_step)
    def _on_step(self: Any) -> bool:
        result = on_step(self)
        agreement = getattr(self.model, "_agreement", None)
        if agreement is not None:
            self.trial.set_user_attr(AGREEMENT_ATTR, agreement)
        return result

    _on_step._sb3_sarsa_wrapped = True  # type: ignore[attr-defined]
    return _on_step


def on_zoo_module_loaded(module: ModuleType) -> None:
    """
    Register SARSA in one rl-zoo3 module that has just been imported (idempotent).

    :param module: ``rl_zoo3.utils`` (``ALGOS``), ``rl_zoo3.hyperparams_opt`` (sampler and
        converter) or ``rl_zoo3.exp_manager`` (default config file; each trial's agreement,
        recorded by ``TrialEvalCallback``); others are ignored
    """
    if module.__name__ == "rl_zoo3.utils":
        from sb3_sarsa.sarsa import SARSA

        module.ALGOS[ALGO] = SARSA
    elif module.__name__ == "rl_zoo3.hyperparams_opt":
        module.HYPERPARAMS_SAMPLER[ALGO] = sample_sarsa_params
        module.HYPERPARAMS_CONVERTER[ALGO] = convert_sarsa_params
    elif module.__name__ == "rl_zoo3.exp_manager":
        manager = module.ExperimentManager
        if not getattr(manager.__init__, "_sb3_sarsa_wrapped", False):
            manager.__init__ = _default_config_for_sarsa(manager.__init__)
        callback = module.TrialEvalCallback  # imported by exp_manager from rl_zoo3.callbacks
        if not getattr(callback._on_step, "_sb3_sarsa_wrapped", False):
            callback._on_step = _record_agreement(callback._on_step)


def register() -> None:
    """Register SARSA with rl-zoo3 by hand (what the start-up hook does on import)."""
    import rl_zoo3.exp_manager
    import rl_zoo3.hyperparams_opt
    import rl_zoo3.utils

    for module in (rl_zoo3.utils, rl_zoo3.hyperparams_opt, rl_zoo3.exp_manager):
        on_zoo_module_loaded(module)


USAGE = """usage: python -m sb3_sarsa.zoo {train,enjoy,record_video,plot_train,plot_from_file,all_plots} [zoo arguments]

Runs rl-zoo3's command with SARSA registered, for when the start-up hook is off. Example:
    python -m sb3_sarsa.zoo train --algo sarsa --env CartPole-v1
"""


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sb3_sarsa.zoo`` and of the ``sb3-sarsa-zoo`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = ("train", "enjoy", "record_video", "plot_train", "plot_from_file", "all_plots")
    if not argv or argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    register()
    command, rest = argv[0], argv[1:]
    if command == "record_video":
        sys.argv = ["python -m rl_zoo3.record_video", *rest]
        runpy.run_module("rl_zoo3.record_video", run_name="__main__", alter_sys=True)
        return
    from rl_zoo3.cli import main as zoo_main

    sys.argv = ["rl_zoo3", command, *rest]
    zoo_main()


if __name__ == "__main__":
    main()
