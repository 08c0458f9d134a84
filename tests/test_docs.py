"""
The documentation cannot go stale: every code block of the guide pages, the algorithm page and the
API pages is run here, with small budgets.

Python blocks of a page run in order, in one fresh interpreter, in a temporary folder. Shell blocks run
with ``bash``, except ``pip install`` lines (they would install from the network), whose extras and
torch pin are checked against ``setup.py`` and ``.ci/run`` instead, and ``python -m benchmarks.*`` lines
(hours of training), whose commands are checked to exist; ``python -m pytest`` is this suite.
Budgets shrink by :data:`SMALL_BUDGETS`.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from sb3_sarsa._zoo_hook import ENV_VAR

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([DOCS / "index.md", *DOCS.glob("guide/*.md"), *DOCS.glob("modules/*.md"), *DOCS.glob("api/*.md")])
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: (pattern, replacement): the budgets of the pages, made small enough for a test.
SMALL_BUDGETS = [
    (r"total_timesteps=[\d_]+", "total_timesteps=300"),
    (r"\.learn\([\d_]+", ".learn(300"),
    (r"n_eval_episodes=\d+", "n_eval_episodes=2"),
    (r"range\(1_000\)", "range(50)"),
    (r"(?<= )-n \d+", "-n 300"),
    (r"--timesteps \d+", "--timesteps 300 --final-episodes 2 --eval-freq 0"),
    (r"--n-trials \d+", "--n-trials 1"),
]
BIN = pathlib.Path(sys.executable).parent


def blocks(page: pathlib.Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8")) if lang == language]


def small(code: str) -> str:
    for pattern, replacement in SMALL_BUDGETS:
        code = re.sub(pattern, replacement, code)
    return code


def environment() -> dict[str, str]:
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, ENV_VAR: "1", "PYTHONWARNINGS": "ignore::DeprecationWarning", "MPLBACKEND": "Agg"}


def check(result: subprocess.CompletedProcess, what: str) -> None:
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_every_page_is_found_and_has_code() -> None:
    names = {str(page.relative_to(DOCS)) for page in PAGES}
    assert {"guide/quickstart.md", "guide/saving.md", "guide/zoo.md", "modules/sarsa.md"} <= names
    assert sum(len(blocks(page, "python")) for page in PAGES) >= 6


def test_small_budgets_change_the_budgets() -> None:
    assert small("model.learn(total_timesteps=50_000)") == "model.learn(total_timesteps=300)"
    assert small("rl_zoo3 train --algo sarsa -n 50000 -f logs/") == "rl_zoo3 train --algo sarsa -n 300 -f logs/"


@pytest.mark.parametrize(
    "page", [page for page in PAGES if blocks(page, "python")] + [ROOT / "README.md"], ids=lambda page: page.stem
)
def test_python_blocks_run(page: pathlib.Path, tmp_path: pathlib.Path) -> None:
    code = "\n\n".join(small(block) for block in blocks(page, "python"))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=600
    )
    check(result, f"the Python blocks of {page.relative_to(ROOT)}")


def shell_lines(page: pathlib.Path) -> list[str]:
    """The shell blocks of a page, each as one script (continuation lines joined)."""
    return [small(block) for block in blocks(page, "bash")]


@pytest.mark.parametrize("page", [page for page in PAGES if blocks(page, "bash")], ids=lambda page: page.stem)
def test_shell_blocks_run(page: pathlib.Path, tmp_path: pathlib.Path) -> None:
    setup_text = (ROOT / "setup.py").read_text(encoding="utf-8")
    torch_pin = re.search(r"pip install (torch==[\d.]+)", (ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert torch_pin is not None
    for script in shell_lines(page):
        runnable = []
        for line in script.splitlines():
            if "pip install" in line:
                for extra in re.findall(r'"\.\[([\w,]+)\]"', line):
                    for name in extra.split(","):
                        assert f'"{name}":' in setup_text, f"{page.name}: extra {name!r} is not in setup.py"
                for pin in re.findall(r"torch==[\d.]+", line):
                    assert pin == torch_pin.group(1), f"{page.name}: {pin} but .ci/run installs {torch_pin.group(1)}"
                rest = line.split("&&")[2:] if line.count("&&") >= 2 else []
                runnable += [part.strip() for part in rest]
            elif line.startswith("python -m pytest"):
                assert (ROOT / line.split()[3]).is_dir(), f"{page.name}: {line}: no such folder"
            elif line.startswith("python -m benchmarks."):
                module = line.split()[2]
                result = subprocess.run(
                    [sys.executable, "-m", module, "--help"], cwd=ROOT, env=environment(), capture_output=True, text=True
                )
                check(result, f"{module} --help (named by {page.name})")
            else:
                runnable.append(line)
        if any(line.strip() for line in runnable):
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", "\n".join(runnable)],
                cwd=tmp_path,
                env=environment(),
                capture_output=True,
                text=True,
                timeout=900,
            )
            check(result, f"a shell block of {page.relative_to(ROOT)}")
