"""
Kill a process in the middle of ``save`` / ``save_replay_buffer``, many times, and load the survivor.

    python -m tests.kill_saver {model,buffer} FOLDER --rounds 30 --seed 0

Run by ``tests/test_atomic_save.py``. Torch is imported once; each round forks a writer that saves
in a loop (each save holds a new counter value and is acknowledged on a pipe once ``save``
returned), waits for the first acknowledgement, sleeps a random time and SIGKILLs it. Then the
file is loaded: it must load, and hold the last acknowledged counter or the one after it (a
save that finished but was not yet acknowledged). Prints one JSON summary line.
"""

import argparse
import json
import os
import pathlib
import random
import signal
import time

import torch as th

from sb3_sarsa import SARSA

th.set_num_threads(1)  # no intra-op threads: safe to fork


def make_model() -> SARSA:
    return SARSA("MlpPolicy", "CartPole-v1", buffer_size=30_000, policy_kwargs=dict(net_arch=[256, 256]), seed=0)


def write(model: SARSA, kind: str, path: pathlib.Path, counter: int) -> None:
    if kind == "model":
        model.num_timesteps = counter
        model.save(path)
    else:
        model.replay_buffer.pos = counter
        model.save_replay_buffer(path)


def read(model: SARSA, kind: str, path: pathlib.Path) -> int:
    if kind == "model":
        return SARSA.load(path).num_timesteps
    model.load_replay_buffer(path)
    return model.replay_buffer.pos


def writer(model: SARSA, kind: str, path: pathlib.Path, start: int, ack: int) -> None:
    counter = start
    while True:
        write(model, kind, path, counter)
        os.write(ack, counter.to_bytes(8, "little"))
        counter += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("model", "buffer"))
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    model = make_model()
    path = args.folder / ("model.zip" if args.kind == "model" else "buffer.pkl")
    write(model, args.kind, path, 1)
    expected, survived, interrupted, rounds = 1, 0, 0, []
    for _ in range(args.rounds):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: never returns
            os.close(read_end)
            try:
                writer(model, args.kind, path, expected + 1, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        acknowledged = int.from_bytes(os.read(read_end, 8), "little")  # the first save is complete
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        while chunk := os.read(read_end, 8):
            acknowledged = int.from_bytes(chunk, "little")
        os.close(read_end)
        leftovers = sorted(p.name for p in args.folder.glob(f".{path.name}.*.tmp"))
        interrupted += bool(leftovers)
        for name in leftovers:
            (args.folder / name).unlink()
        loaded = read(model, args.kind, path)
        ok = loaded in (acknowledged, acknowledged + 1)
        survived += ok
        rounds.append({"acknowledged": acknowledged, "loaded": loaded, "interrupted": bool(leftovers), "ok": ok})
        expected = loaded
    print(
        json.dumps({"kind": args.kind, "rounds": args.rounds, "survived": survived, "interrupted": interrupted, "log": rounds})
    )


if __name__ == "__main__":
    main()
