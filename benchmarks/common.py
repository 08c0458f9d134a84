"""
What every benchmark and investigation of ``benchmarks/`` shares: where results and reports live, running
one process per run (resumable), recording the command and the package versions that made a result, and the
statistics of the reports (IQM, bootstrap intervals of a SARSA-minus-DQN difference, the verdict they give).

The tools (``compare``, ``cliff``, ``her``, ``robustness``, ``search``, ``tune``, the micro-benchmarks) and
the investigations of ``benchmarks/research/`` import from here; nothing here imports them.
"""

import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: The reports of the tools (investigations keep theirs beside their results, in ``benchmarks/research/``)
DOCS = ROOT / "docs" / "research"
#: The seed of every bootstrap of the reports, so that a report made twice from the same results is the same
BOOTSTRAP_SEED = 0


def proc_status_mib(field: str) -> float:
    """:return: a memory field of ``/proc/self/status`` (``VmHWM``: peak resident, ``VmRSS``: resident) in MiB"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_memory_mib() -> float:
    return proc_status_mib("VmHWM")


def write_result(path: pathlib.Path, result: dict[str, Any]) -> None:
    """
    Write one run's result; a killed run leaves no result file, so it is redone on resume. The
    record gets the ``versions`` of the packages that produced it and the ``machine`` it ran on (unless it
    has them already), so that a rerun that differs can be traced to an installation or a CPU.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"versions": versions(), "machine": machine(), **result}, indent=1))
    temporary.replace(path)


def command_line(module: str) -> str:
    """:return: this invocation as a user would type it, ``python -m <module> <arguments>``"""
    return (f"python -m {module} " + " ".join(sys.argv[1:])).strip()


def record_command(folder: pathlib.Path, command: str) -> None:
    """Append ``command`` to ``folder/COMMANDS.txt``, the history of the invocations that made its results."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "COMMANDS.txt", "a") as commands:
        commands.write(command + "\n")


def discussion_section(path: pathlib.Path, heading: str = "Discussion") -> list[str]:
    """:return: the report lines of a discussion written by hand (what the numbers mean), none if ``path`` is missing"""
    return [f"## {heading}", "", path.read_text().strip(), ""] if path.exists() else []


def produced_by(folder: pathlib.Path) -> str:
    """:return: the recorded commands of ``folder``, in the order they first ran, for a report's first line"""
    history = folder / "COMMANDS.txt"
    commands = history.read_text().splitlines() if history.exists() else []
    return ", then ".join(f"`{line}`" for line in dict.fromkeys(commands)) or "(no runs recorded)"


def pending_runs(
    module: str, keys: list[tuple[Any, ...]], result_path: Callable[..., pathlib.Path], label_prefix: str = ""
) -> list[tuple[str, list[str], pathlib.Path]]:
    """
    The runs of ``python -m <module> --run <key...>`` still to do: a key whose result file exists is skipped
    (so a benchmark resumes where it stopped).

    :param keys: the arguments of each run, in order, the seed last
    :param result_path: the result file of a run, from its key
    :param label_prefix: put before the progress label ``"<key...> seed <seed>"``
    :return: (label, command, result file) for :func:`run_processes`
    """
    return [
        (
            f"{label_prefix}{' '.join(map(str, key[:-1]))} seed {key[-1]}",
            [sys.executable, "-m", module, "--run", *map(str, key)],
            result_path(*key),
        )
        for key in keys
        if not result_path(*key).exists()
    ]


def run_processes(
    runs: list[tuple[str, list[str], pathlib.Path]], jobs: int, describe: Callable[[dict[str, Any]], str]
) -> None:
    """Run each command in its own process (one torch thread), at most ``jobs`` at once, with progress lines.

    :param runs: (label, command, result file the command writes), in the order to start them
    :param describe: what the progress line says of a finished run's result
    """
    todo = list(runs)
    total = len(todo)
    running: list[tuple[subprocess.Popen, str, pathlib.Path, float]] = []
    done = 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    while todo or running:
        while todo and len(running) < jobs:
            label, command, path = todo.pop(0)
            print(f"  start {label}", flush=True)
            running.append((subprocess.Popen(command, cwd=ROOT, env=env), label, path, time.perf_counter()))
        time.sleep(1.0)
        for entry in list(running):
            process, label, path, started = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            done += 1
            if process.returncode != 0:
                print(f"[{done}/{total}] {label}: FAILED (exit {process.returncode})", flush=True)
                continue
            result = json.loads(path.read_text())
            print(
                f"[{done}/{total}] {label}: {describe(result)}, {time.perf_counter() - started:.0f}s; "
                f"{len(todo) + len(running)} left",
                flush=True,
            )


def refuse_stale(stale: list[str], what: str = "runs") -> None:
    """
    :param stale: :func:`stale_runs`'s lines
    :param what: what the runs are, for the message
    :raises SystemExit: naming the stale runs and what to do, if there are any: a scheduler neither overwrites
        them nor counts them as done
    """
    if stale:
        raise SystemExit(
            f"these stored {what} were trained with other hyperparameters or budget than the current ones: move them to "
            "benchmarks/archive/<name>/ (with a README.md that says what they were), then run again:\n  " + "\n  ".join(stale)
        )


def stale_section(stale: list[str]) -> list[str]:
    """:return: the report's warning about stale runs (:func:`stale_runs`), nothing if there are none"""
    if not stale:
        return []
    return [
        f"**Stale: {len(stale)} stored runs were trained with other hyperparameters or budget than the current ones**",
        "(below with what differs); the tables count them. Archive them and rerun (`benchmarks/archive/`).",
        "",
        *[f"- `{line}`" for line in stale],
        "",
    ]


def iqm_with_ci(scores: list[float]) -> tuple[float, float, float]:
    import numpy as np
    from rliable import library as rly
    from rliable import metrics

    matrix = {"algo": np.asarray(scores, dtype=float).reshape(-1, 1)}
    # rliable 1.2's StratifiedBootstrap draws its resamples from NumPy's global generator (its
    # random_state argument does not reach them): seed that generator, then put it back as it was.
    state = np.random.get_state()
    np.random.seed(BOOTSTRAP_SEED)
    try:
        point, interval = rly.get_interval_estimates(
            matrix, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=2000, confidence_interval_size=0.95
        )
    finally:
        np.random.set_state(state)
    return float(point["algo"][0]), float(interval["algo"][0][0]), float(interval["algo"][1][0])


def difference_interval(
    ours: list[float], theirs: list[float], statistic: Callable[[Any], float], reps: int = 2000, level: float = 0.95
) -> tuple[float, float, float]:
    """
    The difference ``statistic(ours) - statistic(theirs)`` with a percentile-bootstrap interval (95% unless
    ``level`` says otherwise): each
    replicate resamples the seeds of each side with replacement, independently (the seeds of two algorithms
    are not paired), from a generator seeded with :data:`BOOTSTRAP_SEED`.

    :param ours: one score per seed of SARSA's runs
    :param theirs: one score per seed of DQN's runs
    :param statistic: the aggregate of one side's scores, such as :func:`iqm`
    :return: the difference, and the lower and upper bounds of its interval
    """
    import numpy as np

    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    generator = np.random.default_rng(BOOTSTRAP_SEED)
    draws = [
        statistic(a[generator.integers(len(a), size=len(a))]) - statistic(b[generator.integers(len(b), size=len(b))])
        for _ in range(reps)
    ]
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return float(statistic(a) - statistic(b)), float(low), float(high)


def verdict_of_interval(low: float, high: float, higher_is_better: bool = True) -> str:
    """
    :return: ``"yes"`` when the interval of SARSA minus DQN lies on SARSA's side of 0, ``"tie"`` when it
        contains 0 (the seeds cannot tell them apart), ``"**no**"`` when it lies on DQN's side
    """
    if low <= 0.0 <= high:
        return "tie"
    return "yes" if (low > 0.0) == higher_is_better else "**no**"


def iqm(scores: Any) -> float:
    """:return: the interquartile mean alone (rliable's point estimate, without the bootstrap)"""
    import numpy as np
    from rliable import metrics

    return float(metrics.aggregate_iqm(np.asarray(scores, dtype=float).reshape(-1, 1)))


def median(values: Any) -> float:
    import numpy as np

    return float(np.median(values))


def mean(values: Any) -> float:
    import numpy as np

    return float(np.mean(values))


def format_steps(steps: float) -> str:
    """:return: a step count as the reports print it; ``"never"`` for infinity (median over seeds that mostly missed)"""
    return "never" if steps == float("inf") else f"{steps:.0f}"


def mean_of_last_three(values: list[float]) -> float | None:
    """:return: the mean of the last three of ``values`` (all of them if fewer), ``None`` if there are none"""
    return sum(values[-3:]) / len(values[-3:]) if values else None


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {model}, {os.cpu_count()} cores"


def written_on() -> str:
    """
    :return: where and with what a report was written, for its header: a report written from stored results
        may come from another machine than its runs, whose own versions (and machine, for newer runs) their
        records hold
    """
    return f"Report written on {machine()} with {versions()}; each run's record holds what it was made with"


def versions() -> str:
    """
    :return: the Python version and the versions of the packages that make a result; sb3-sarsa's is the
        ``__version__`` of the code imported (an editable install's metadata keeps the version it was installed at)
    """
    import importlib.metadata

    import sb3_sarsa

    names = ("stable_baselines3", "rl_zoo3", "torch", "gymnasium", "numpy", "rliable")
    found = [f"sb3-sarsa {sb3_sarsa.__version__}"]
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return f"Python {platform.python_version()}; " + ", ".join(found)
