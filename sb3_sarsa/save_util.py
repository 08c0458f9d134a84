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
from collections.abc import Iterator
from contextlib import contextmanager

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
