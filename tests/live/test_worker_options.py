"""The ``worker`` command's life options: a bad ``--id``, ``--concurrency`` or ``--grace`` is one line
naming the option and what to give instead (exit 2), never a traceback or a worker that starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--concurrency", "0", "error: worker --concurrency: '0' is not a number of tasks; give a whole number >= 1"),
    ("--concurrency", "many", "error: worker --concurrency: 'many' is not a number of tasks; give a whole number >= 1"),
    ("--grace", "-1", "error: worker --grace: '-1' is not a number of seconds; give one >= 0, e.g. 5"),
    ("--grace", "nan", "error: worker --grace: 'nan' is not a number of seconds; give one >= 0, e.g. 5"),
    ("--id", "web 1", "error: worker --id: 'web 1' is not a worker id; give a name without spaces, e.g. myhost:1"),
    ("--id", "", "error: worker --id: '' is not a worker id; give a name without spaces, e.g. myhost:1"),
])
def test_a_bad_life_option_is_one_line(tmp_path: Path, option: str, value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_durable", "--store", f"sqlite:///{tmp_path / 'app.db'}", "worker",
         "examples.deploy.orders_v1", option, value], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message + "\n")
