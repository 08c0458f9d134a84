"""
Start-up hook that registers SARSA with rl-zoo3, run by ``sb3_sarsa_zoo.pth``.

Installed as the top-level module ``_sb3_sarsa_zoo_hook`` (a copy of this file, see setup.py),
so that interpreter start-up imports neither torch nor the ``sb3_sarsa`` package.

rl-zoo3 has no plugin mechanism: ``--algo`` choices come from ``rl_zoo3.utils.ALGOS``, read
when its CLI parses arguments. This module only puts a finder on ``sys.meta_path``; it imports
nothing else. When ``rl_zoo3.utils``, ``rl_zoo3.hyperparams_opt`` or ``rl_zoo3.exp_manager`` is
imported, the finder lets the normal loader execute it, then calls
:func:`sb3_sarsa.zoo.on_zoo_module_loaded`, which registers SARSA in that module's dicts.

Set ``SB3_SARSA_ZOO_HOOK=0`` to turn the hook off; ``python -m sb3_sarsa.zoo`` still works.
A failure inside the hook is a warning, never an error of rl-zoo3.
"""

import os
import sys

# Only modules that are loaded at start-up anyway: importing typing here would cost milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

#: Environment variable: ``0``, ``false``, ``no`` or ``off`` turn the hook off.
ENV_VAR = "SB3_SARSA_ZOO_HOOK"
#: The rl-zoo3 modules whose dicts SARSA is registered in.
ZOO_MODULES = frozenset({"rl_zoo3.utils", "rl_zoo3.hyperparams_opt", "rl_zoo3.exp_manager"})


def enabled() -> bool:
    """:return: whether :data:`ENV_VAR` leaves the hook on"""
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def _warn(error: BaseException) -> None:
    import warnings

    warnings.warn(
        f"sb3-sarsa could not register SARSA with rl_zoo3 ({error!r}); rl_zoo3 works without it. "
        f"Use `python -m sb3_sarsa.zoo train ...` instead, or set {ENV_VAR}=0 to silence this.",
        RuntimeWarning,
        stacklevel=2,
    )


class _RegisteringLoader:
    """Wraps a module's loader: executes the module, then registers SARSA in it."""

    def __init__(self, loader: "Loader") -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        return self._loader.create_module(spec)

    def exec_module(self, module: "ModuleType") -> None:
        self._loader.exec_module(module)
        try:
            from sb3_sarsa.zoo import on_zoo_module_loaded

            on_zoo_module_loaded(module)
        except Exception as error:  # a broken hook must not break rl_zoo3
            _warn(error)


class ZooFinder:
    """Meta-path finder that hands the rl-zoo3 modules of :data:`ZOO_MODULES` a registering loader."""

    def find_spec(
        self, fullname: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if fullname not in ZOO_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RegisteringLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None


def install() -> None:
    """Put :class:`ZooFinder` first on ``sys.meta_path`` (once), unless turned off."""
    try:
        if not enabled() or any(isinstance(finder, ZooFinder) for finder in sys.meta_path):
            return
        sys.meta_path.insert(0, ZooFinder())
        already = [sys.modules[name] for name in sorted(ZOO_MODULES) if name in sys.modules]
        if already:  # rl_zoo3 was imported before the hook (not at start-up): register now
            from sb3_sarsa.zoo import on_zoo_module_loaded

            for module in already:
                on_zoo_module_loaded(module)
    except Exception as error:
        _warn(error)
