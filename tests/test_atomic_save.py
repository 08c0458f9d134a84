"""A process killed in the middle of a save leaves the previous checkpoint intact (see tests/kill_saver.py)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent


@pytest.mark.parametrize("kind", ["model", "buffer"])
def test_killed_saves_leave_a_loadable_file(tmp_path: pathlib.Path, kind: str) -> None:
    rounds = 30
    result = subprocess.run(
        [sys.executable, "-m", "tests.kill_saver", kind, str(tmp_path), "--rounds", str(rounds), "--seed", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    failures = [entry for entry in summary["log"] if not entry["ok"]]
    assert summary["survived"] == rounds, failures
    # The test is only worth something if kills really landed inside saves (a temporary file was left).
    assert summary["interrupted"] >= rounds // 3, summary
