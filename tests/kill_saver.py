"""
Kill a process in the middle of ``save`` / ``save_replay_buffer``, many times, and load the survivor.

    python -m tests.kill_saver {model,buffer,dqn-model} FOLDER --rounds 30 --seed 0

Run by ``tests/test_atomic_save.py``. Torch is imported once; each round forks a writer that saves a
new counter value over the file, with a limit on the size of any file it writes
(``RLIMIT_FSIZE``) drawn below the size of a whole save and ``SIGXFSZ`` at its default action: the
kernel kills the writer on the write that crosses the limit. So every kill lands inside a save,
however fast or loaded the CPU. Then the file is loaded: it must load and hold the previous counter.
``dqn-model`` is the control: SB3's ``DQN.save`` writes in place, so the same kills must leave a file
that does not load. Prints one JSON summary line.
"""

import argparse
import json
import os
import pathlib
import random
import resource
import signal
from typing import Any

import torch as th
from stable_baselines3 import DQN

from sb3_sarsa import SARSA

th.set_num_threads(1)  # no intra-op threads: safe to fork


def make_model(kind: str) -> Any:
    model_class: Any = DQN if kind == "dqn-model" else SARSA
    return model_class("MlpPolicy", "CartPole-v1", buffer_size=30_000, policy_kwargs=dict(net_arch=[256, 256]), seed=0)


def file_name(kind: str) -> str:
    return "buffer.pkl" if kind == "buffer" else "model.zip"


def write(model: Any, kind: str, path: pathlib.Path, counter: int) -> None:
    if kind == "buffer":
        model.replay_buffer.pos = counter
        model.save_replay_buffer(path)
    else:
        model.num_timesteps = counter
        model.save(path)


def read(model: Any, kind: str, path: pathlib.Path) -> int | None:
    """:return: the counter in the file, ``None`` if it does not load"""
    try:
        if kind == "buffer":
            model.load_replay_buffer(path)
            return int(model.replay_buffer.pos)
        return int(type(model).load(path).num_timesteps)
    except Exception as error:  # any failure to load counts
        print(f"does not load: {type(error).__name__}: {error}", flush=True)
        return None


def killed_writer(model: Any, kind: str, path: pathlib.Path, counter: int, limit: int) -> None:
    """Save ``counter`` with files limited to ``limit`` bytes: the kernel kills this process mid-save."""
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it (writes would raise instead)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    write(model, kind, path, counter)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("model", "buffer", "dqn-model"))
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    model = make_model(args.kind)
    path = args.folder / file_name(args.kind)
    write(model, args.kind, path, 1)
    size = path.stat().st_size
    expected, survived, killed, rounds = 1, 0, 0, []
    for _ in range(args.rounds):
        limit = rng.randrange(1, size)
        pid = os.fork()
        if pid == 0:  # the writer: killed by the kernel, or exit 1 if its save ended
            try:
                killed_writer(model, args.kind, path, expected + 1, limit)
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        was_killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXFSZ
        killed += was_killed
        for leftover in args.folder.glob(f".{path.name}.*.tmp"):
            leftover.unlink()
        loaded = read(model, args.kind, path)
        ok = loaded == expected
        survived += ok
        rounds.append({"limit": limit, "killed": was_killed, "loaded": loaded, "ok": ok})
        if loaded is None:  # the control's file is gone: start the next round from a whole one
            write(model, args.kind, path, expected)
    print(
        json.dumps(
            {"kind": args.kind, "rounds": args.rounds, "size": size, "survived": survived, "killed": killed, "log": rounds}
        )
    )


if __name__ == "__main__":
    main()
