"""``python -m sim run`` on scenario files whose scenarios have actors and detached children
(``tests/helpers/shape_workflows.py``): the sweep passes the correct ones and names the promise at fault
in the buggy twins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHAPES = "tests/helpers/shape_workflows.py"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def test_sim_run_sweeps_a_scenario_file_with_an_actor() -> None:
    out = sim("run", f"{SHAPES}:approval", "--seeds", "100", "--faults", "all")
    assert out.returncode == 0, out.stdout + out.stderr
    worlds = next(line for line in out.stdout.splitlines() if line.startswith("worlds run: "))
    assert worlds.endswith("; failing: 0") and int(worlds.split()[2].rstrip(";")) > 100
    outcomes = next(line for line in out.stdout.splitlines() if line.startswith("root outcomes: "))
    assert "resolved" in outcomes


def test_sim_run_finds_the_buggy_approval_and_names_its_promise() -> None:
    out = sim("run", f"{SHAPES}:approval_buggy", "--seeds", "20", "--faults", "all")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAILED (8) user: order 7 shipped but its approval approval-7 is rejected_timedout" in out.stdout
    assert "reproduce: " in out.stdout


def test_sim_run_shows_a_detached_child_in_the_tree_of_one_world() -> None:
    out = sim("run", f"{SHAPES}:checkout_scenario", "--seed", "3", "--trace", "tree")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "checkout-7.1  dispatch('7')  (detached)  resolved" in out.stdout
