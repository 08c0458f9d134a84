"""
What the rl-zoo3 start-up hook adds to every interpreter start (``python -c pass``).

    python -m benchmarks.hook_cost [--runs 200]

Needs sb3-sarsa installed (regular or editable). Two measurements:

1. wall time of ``python -c pass`` with our ``.pth``/``.start`` files in site-packages and with
   them moved aside (they are put back at the end, also on error or Ctrl-C), alternating A/B
   ``--runs`` times each; the difference of the medians is the cost;
2. ``python -X importtime -c pass``: the cumulative import time CPython reports for the
   installed hook module ``_sb3_sarsa_zoo_hook``,
   median of ``--runs // 4`` runs.
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import sysconfig
import time

from benchmarks.common import machine, versions

PURELIB = pathlib.Path(sysconfig.get_paths()["purelib"])
STARTUP_FILES = ("_sb3_sarsa_zoo_hook.py", "sb3_sarsa_zoo.pth", "sb3_sarsa_zoo.start")


def startup_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def with_and_without_hook(runs: int) -> tuple[list[float], list[float]]:
    files = [PURELIB / name for name in STARTUP_FILES]
    aside = [path.with_name(path.name + ".aside") for path in files]
    with_hook, without_hook = [], []
    try:
        for _ in range(runs):
            with_hook.append(startup_seconds())
            for path, moved in zip(files, aside):
                path.rename(moved)
            try:
                without_hook.append(startup_seconds())
            finally:
                for path, moved in zip(files, aside):
                    moved.rename(path)
    finally:
        for path, moved in zip(files, aside):
            if moved.exists():
                moved.rename(path)
    return with_hook, without_hook


def importtime_microseconds() -> int:
    command = [sys.executable, "-X", "importtime", "-c", "pass"]
    stderr = subprocess.run(command, check=True, capture_output=True, text=True).stderr
    for line in stderr.splitlines():
        if line.rstrip().endswith(" _sb3_sarsa_zoo_hook"):
            return int(line.split("|")[1])
    raise RuntimeError("_sb3_sarsa_zoo_hook was not imported at start-up: is the hook installed and on?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(f"{machine()}. {versions()}", flush=True)
    if not (PURELIB / "sb3_sarsa_zoo.pth").exists():
        raise SystemExit(f"sb3_sarsa_zoo.pth is not in {PURELIB}: install sb3-sarsa first.")
    with_hook, without_hook = with_and_without_hook(args.runs)
    importtime = [importtime_microseconds() for _ in range(max(args.runs // 4, 1))]
    median_with, median_without = statistics.median(with_hook), statistics.median(without_hook)
    print(f"python {sys.version.split()[0]}, {args.runs} alternating runs of `python -c pass` each")
    print(f"with the hook:    median {median_with * 1e3:.2f} ms")
    print(f"without the hook: median {median_without * 1e3:.2f} ms")
    print(f"difference:       {(median_with - median_without) * 1e3:+.2f} ms")
    print(f"-X importtime of _sb3_sarsa_zoo_hook: median {statistics.median(importtime)} us")


if __name__ == "__main__":
    main()
