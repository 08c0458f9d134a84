"""
Replay-buffer memory for image observations, with and without ``optimize_memory_usage``.

    python -m benchmarks.buffer_memory

A 1e5-transition buffer of Atari-sized observations (4 stacked 84 x 84 uint8 frames, as rl-zoo3's
DQN Atari entry trains on), one env. It adds up the bytes of every array the buffer allocates
(NumPy allocates them lazily, so this is what a full buffer occupies), for SARSA's buffer and
SB3's, then fills SARSA's memory-optimized buffer and reads the process's resident memory.
"""

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from benchmarks.common import machine, proc_status_mib, versions
from sb3_sarsa.buffers import SarsaReplayBuffer

TRANSITIONS = 100_000
OBSERVATION_SPACE = spaces.Box(0, 255, shape=(4, 84, 84), dtype=np.uint8)
ACTION_SPACE = spaces.Discrete(6)


def buffer_bytes(buffer: ReplayBuffer) -> int:
    """:return: the bytes of every NumPy array the buffer holds"""
    return sum(value.nbytes for value in vars(buffer).values() if isinstance(value, np.ndarray))


def main() -> None:
    print(f"{machine()}. {versions()}", flush=True)
    rows = []
    for buffer_class in (SarsaReplayBuffer, ReplayBuffer):
        for optimize in (False, True):
            buffer = buffer_class(
                TRANSITIONS,
                OBSERVATION_SPACE,
                ACTION_SPACE,
                device="cpu",
                optimize_memory_usage=optimize,
                handle_timeout_termination=not optimize,
            )
            rows.append((buffer_class.__name__, optimize, buffer_bytes(buffer)))
            del buffer
    print(f"{TRANSITIONS:,} transitions of {OBSERVATION_SPACE.shape} uint8 observations, one env:")
    print("| buffer | optimize_memory_usage | bytes | GiB |")
    print("|---|---|---|---|")
    for name, optimize, size in rows:
        print(f"| {name} | {optimize} | {size:,} | {size / 2**30:.2f} |")
    before = proc_status_mib("VmRSS")
    buffer = SarsaReplayBuffer(
        TRANSITIONS,
        OBSERVATION_SPACE,
        ACTION_SPACE,
        device="cpu",
        optimize_memory_usage=True,
        handle_timeout_termination=False,
    )
    buffer.observations.fill(1)
    for array in (buffer.actions, buffer.next_actions, buffer.rewards, buffer.dones, buffer.timeouts):
        array.fill(1)
    print(
        f"SarsaReplayBuffer, optimize_memory_usage=True, filled: resident memory +{proc_status_mib('VmRSS') - before:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
