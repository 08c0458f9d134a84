"""A process killed in the middle of a save leaves the previous file intact (see tests/kill_saver.py)."""

import json
import os
import pathlib
import stat
import subprocess
import sys
from collections.abc import Iterator

import pytest
from stable_baselines3 import DQN

from sb3_sarsa import SARSA

ROOT = pathlib.Path(__file__).parent.parent
ROUNDS = 12


def kill_saves(kind: str, folder: pathlib.Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.kill_saver", kind, str(folder), "--rounds", str(ROUNDS), "--seed", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("kind", ["model", "buffer"])
def test_killed_saves_leave_a_loadable_file(tmp_path: pathlib.Path, kind: str) -> None:
    summary = kill_saves(kind, tmp_path)
    # The kernel killed every writer inside its save (a file-size limit below the save's size) ...
    assert summary["killed"] == ROUNDS, summary
    # ... and every time the previous file was still there, whole.
    assert summary["survived"] == ROUNDS, [entry for entry in summary["log"] if not entry["ok"]]


def test_the_same_kills_break_a_save_in_place(tmp_path: pathlib.Path) -> None:
    """The control: SB3's DQN.save writes in place, and the same kills leave files that do not load."""
    summary = kill_saves("dqn-model", tmp_path)
    assert summary["killed"] == ROUNDS, summary
    assert summary["survived"] == 0, summary


@pytest.fixture
def restore_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("restore_umask")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=oct)
def test_saved_files_take_the_mode_of_the_umask_as_dqn_does(tmp_path: pathlib.Path, umask: int) -> None:
    os.umask(umask)
    model = SARSA("MlpPolicy", "CartPole-v1", buffer_size=100, seed=0)
    model.save(tmp_path / "sarsa.zip")
    model.save_replay_buffer(tmp_path / "sarsa_buffer.pkl")
    dqn = DQN("MlpPolicy", "CartPole-v1", buffer_size=100, seed=0)
    dqn.save(tmp_path / "dqn.zip")
    dqn.save_replay_buffer(tmp_path / "dqn_buffer.pkl")

    def mode(name: str) -> int:
        return stat.S_IMODE((tmp_path / name).stat().st_mode)

    assert mode("dqn.zip") == 0o666 & ~umask
    assert mode("sarsa.zip") == mode("dqn.zip")
    assert mode("sarsa_buffer.pkl") == mode("dqn_buffer.pkl") == 0o666 & ~umask
    # Over an existing file, the file keeps its mode, as with a plain open (DQN's save).
    for name in ("sarsa.zip", "dqn.zip"):
        (tmp_path / name).chmod(0o640)
    model.save(tmp_path / "sarsa.zip")
    dqn.save(tmp_path / "dqn.zip")
    assert mode("sarsa.zip") == mode("dqn.zip") == 0o640
