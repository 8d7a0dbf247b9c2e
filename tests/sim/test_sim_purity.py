"""Inside a world nothing reads wall-clock time, the global ``random``, ``os.urandom`` or ``uuid``; a
workflow that does is caught by the determinism check (7)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sim import run_world
from tests.helpers.sim_scenarios import fan_out_scenario, remote_scenario

ROOT = Path(__file__).resolve().parents[2]


def _forbidden(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real`` for trio's MockClock (it keeps a real-time base for rate > 0, which a world never
    uses), an AssertionError for any other caller."""

    def guarded(*args: object, **kwargs: object) -> Any:
        caller = sys._getframe(1).f_code.co_filename
        if caller.endswith(os.path.join("trio", "_core", "_mock_clock.py")):
            return real(*args, **kwargs)
        raise AssertionError(f"{name} was called inside a simulated world (by {caller})")

    return guarded


def test_a_world_reads_no_wall_clock_no_global_random_no_urandom_no_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in [(time, "time"), (time, "monotonic"), (time, "perf_counter"), (random, "random"),
                         (random, "randrange"), (random, "shuffle"), (os, "urandom"), (uuid, "uuid4"), (uuid, "uuid1")]:
        monkeypatch.setattr(module, name, _forbidden(f"{module.__name__}.{name}", getattr(module, name)))
    for scenario in (fan_out_scenario(4), remote_scenario(2)):
        result = run_world(scenario, seed=3, faults="all")
        assert result.ok, result.violations
        assert sum(result.fault_counts.values()) > 0


def test_the_determinism_check_catches_a_workflow_reading_random() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "sim", "run", "tests.helpers.sim_scenarios:random_scenario", "--seeds", "20",
         "--faults", "none", "--check-determinism"],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )
    assert out.returncode == 1
    violations = next(line for line in out.stdout.splitlines() if line.startswith("violations: "))
    assert "determinism" in violations
    clean = subprocess.run(
        [sys.executable, "-m", "sim", "run", "tests.helpers.sim_scenarios:fan_out_scenario", "--seeds", "20",
         "--faults", "crash", "--check-determinism"],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )
    assert clean.returncode == 0, clean.stdout
