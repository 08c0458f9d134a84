"""
Atomic writes and checks of saved files.

A save writes a temporary file in the target's folder and renames it over the target only once
it is complete and flushed to disk: a process killed mid-save leaves the previous file intact
(and at worst a stray ``.<name>.*.tmp`` file beside it). The file gets the mode a plain ``open``
would give it, as SB3's own saves: the umask's for a new file, the old file's when it replaces one.
"""

import io
import json
import os
import pathlib
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar, cast

import torch as th
from stable_baselines3.common.buffers import BaseBuffer
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.dqn import DQN

SARSA_FORMAT_KEY = "sarsa_format_version"


def resolve_save_path(path: str | pathlib.Path, suffix: str) -> pathlib.Path:
    """The file SB3 would write for ``path``: ``.suffix`` is added when the name has none."""
    path = pathlib.Path(path)
    return path if path.suffix else path.with_name(f"{path.name}.{suffix}")


@contextmanager
def atomic_open(path: pathlib.Path) -> Iterator[io.BufferedWriter]:
    """
    Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    :param path: the final file
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _create_temporary(path: pathlib.Path) -> tuple[int, str]:
    """
    Create ``.<name>.<random>.tmp`` beside ``path`` with the mode a plain ``open(path, "wb")`` gives:
    ``0o666`` less the umask (applied by the kernel), or the mode of the file it will replace.

    :return: its descriptor and name
    """
    while True:
        name = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        break
    try:
        os.chmod(fd, os.stat(path).st_mode & 0o7777)
    except FileNotFoundError:
        pass
    except (OSError, NotImplementedError):  # no fchmod here: the umask's mode stays
        pass
    return fd, name


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def find_saved_file(path: str | pathlib.Path, suffix: str) -> pathlib.Path:
    """
    The file SB3 would read for ``path`` (``path`` itself, else ``path.suffix``).

    :raises FileNotFoundError: naming both candidates
    """
    path = pathlib.Path(path)
    if path.is_file():
        return path
    with_suffix = pathlib.Path(f"{path}.{suffix}")
    if with_suffix.is_file():
        return with_suffix
    raise FileNotFoundError(f"No saved file at {str(path)!r} (nor {str(with_suffix)!r}).")


def check_sarsa_zip(path: pathlib.Path, format_version: int) -> None:
    """
    Check that ``path`` is a complete SB3 zip file written by sb3-sarsa in a format we read.

    :param path: the zip file
    :param format_version: the newest format this version of sb3-sarsa reads
    :raises ValueError: naming what is wrong with the file
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()
            names = set(archive.namelist())
            if bad_member is not None:
                raise ValueError(f"{path} is corrupted: member {bad_member!r} fails its CRC check.")
            missing = {"data", "policy.pth"} - names
            if missing:
                raise ValueError(
                    f"{path} is not a complete SB3 model file (truncated or corrupted?): {', '.join(sorted(missing))} missing."
                )
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError, zipfile.LargeZipFile) as error:
        raise ValueError(f"{path} is not a readable SB3 model file (truncated or corrupted?): {error}") from error
    if SARSA_FORMAT_KEY not in data:
        saved_by = data.get("policy_class", {}).get("__module__", "an unknown module")
        raise ValueError(
            f"{path} was not saved by sb3-sarsa (its policy comes from {saved_by}): "
            "load it with the algorithm that saved it, e.g. stable_baselines3.DQN.load."
        )
    version = data[SARSA_FORMAT_KEY]
    if not isinstance(version, int) or version > format_version:
        raise ValueError(
            f"{path} was saved by a newer sb3-sarsa (file format {version}, this version reads up to "
            f"{format_version}): upgrade sb3-sarsa to load it."
        )


def replay_buffer_problem(buffer: Any, model: DQN) -> str | None:
    """
    :param buffer: a replay buffer just loaded into ``model``
    :return: why it cannot serve ``model`` (no next actions, other spaces, another number of envs), or ``None``
    """
    from sb3_sarsa.buffers import NextActionStorage

    if not isinstance(buffer, NextActionStorage):
        return f"it is a {type(buffer).__name__}, which stores no next actions (saved by another algorithm?)"
    buffer = cast(BaseBuffer, buffer)
    if buffer.observation_space != model.observation_space or buffer.action_space != model.action_space:
        return f"its spaces ({buffer.observation_space}, {buffer.action_space}) differ from the model's"
    if buffer.n_envs != model.n_envs:
        return f"it was filled by {buffer.n_envs} envs and the model has {model.n_envs}"
    return None


SelfSaving = TypeVar("SelfSaving", bound="AtomicSaving")


class AtomicSaving(DQN):
    """
    The saving half of :class:`sb3_sarsa.SARSA`: SB3's zip and pickle files, written atomically
    (:func:`atomic_open`), checked when read (:func:`check_sarsa_zip`, :func:`replay_buffer_problem`).
    """

    #: Version of what :meth:`save` writes; :meth:`load` refuses files from a newer version.
    SAVE_FORMAT_VERSION: ClassVar[int] = 1

    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
    ) -> None:
        """
        Save the model in SB3's zip format; a path is written atomically.

        The file is complete or absent: it is written to a temporary file in the same folder,
        then renamed over ``path``, so a process killed mid-save leaves the previous file intact.

        :param path: path to the file (``.zip`` is added when it has no suffix) or a file object
        :param exclude: name of parameters that should be excluded in addition to the default ones
        :param include: name of parameters that might be excluded but should be included anyway
        """
        setattr(self, SARSA_FORMAT_KEY, self.SAVE_FORMAT_VERSION)
        if isinstance(path, io.BufferedIOBase):
            super().save(path, exclude, include)
            return
        with atomic_open(resolve_save_path(path, "zip")) as file:
            super().save(file, exclude, include)  # type: ignore[arg-type]

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfSaving],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfSaving:
        """
        Load a model saved by :meth:`save`; see :meth:`stable_baselines3.common.base_class.BaseAlgorithm.load`.

        :raises FileNotFoundError: if there is no such file
        :raises ValueError: if the file is truncated or corrupted, was saved by another algorithm
            or a newer sb3-sarsa, or ``env`` has other spaces than the saved model
        """
        if not isinstance(path, io.BufferedIOBase):
            path = find_saved_file(path, "zip")
            check_sarsa_zip(path, cls.SAVE_FORMAT_VERSION)
        return super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)

    def save_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """
        Save the replay buffer (next actions included) as a pickle file; a path is written atomically.

        :param path: path to the file (``.pkl`` is added when it has no suffix) or a file object
        """
        if isinstance(path, io.BufferedIOBase):
            super().save_replay_buffer(path)
            return
        with atomic_open(resolve_save_path(path, "pkl")) as file:
            super().save_replay_buffer(file)  # type: ignore[arg-type]

    def load_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase, truncate_last_traj: bool = True) -> None:
        """
        Load a replay buffer saved by :meth:`save_replay_buffer`.

        :raises FileNotFoundError: if there is no such file
        :raises ValueError: if the buffer has no next actions or does not fit this model;
            the current buffer is then kept
        """
        if not isinstance(path, io.BufferedIOBase):
            path = find_saved_file(path, "pkl")
        current = self.replay_buffer
        super().load_replay_buffer(path, truncate_last_traj)
        problem = replay_buffer_problem(self.replay_buffer, self)
        if problem is not None:
            self.replay_buffer = current
            raise ValueError(f"Cannot load the replay buffer {path}: {problem}.")
