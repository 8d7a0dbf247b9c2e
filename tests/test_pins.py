"""Readable pins (issue 10, item 3): for every bug of ``examples/``, crash search prints a
``@durable_example(plan="…")`` line, and pasting that line onto a test makes it fail, the same way
each time.

Each bug is searched as a user would: a ``@given(world=worlds("crash"))`` test in a pytest run of its
own (a fixed seed, no database), whose failure report carries ``durable: pin it: …``. The pin is then
pasted onto a plain test of the same example, which runs twice in fresh processes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.bench_search import EXAMPLES, example_bugs

SEARCH = '''
import sys
sys.path.insert(0, {examples!r})
from hypothesis import HealthCheck, given, seed, settings
from pytest_durable import profiles
from pytest_durable.strategies import worlds
import {module}

SCENARIO = {module}.buggy()


@seed(0)
@settings(max_examples=300, database=None, deadline=None, phases=profiles.PHASES, report_multiple_bugs=False,
          suppress_health_check=list(HealthCheck))
@given(world=worlds("crash"))
def test_search(world):
    result = world.run(SCENARIO)
    assert result.ok, [str(v) for v in result.violations]
'''

PINNED = '''
import sys
sys.path.insert(0, {examples!r})
from pytest_durable.strategies import durable_example
import {module}

SCENARIO = {module}.buggy()


{pin}
def test_pinned(world):
    result = world.run(SCENARIO)
    assert result.ok, [str(v) for v in result.violations]
'''

PIN = re.compile(r"durable: pin it: (@durable_example\(.*\))\s*$", re.M)


def pytest_run(folder: Path, test_file: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", test_file, "-p", "no:cacheprovider", "-q"],
                          cwd=folder, capture_output=True, text=True, timeout=600)


def without_timing(output: str) -> str:
    """The run's output less the seconds it took (``1 failed in 0.84s``)."""
    return re.sub(r" in [0-9.]+s( \([0-9:]+\))?", "", output)


@pytest.mark.parametrize("bug", example_bugs())
def test_crash_search_prints_a_plan_pin_that_fails_the_test_every_time(tmp_path: Path, bug: str) -> None:
    module = bug.split(".py:")[0]
    (tmp_path / "test_search.py").write_text(SEARCH.format(examples=str(EXAMPLES), module=module))
    searched = pytest_run(tmp_path, "test_search.py")
    assert searched.returncode == pytest.ExitCode.TESTS_FAILED, searched.stdout + searched.stderr
    pins = PIN.findall(searched.stdout)
    assert len(pins) == 1, searched.stdout
    pin = pins[0]
    assert re.fullmatch(r'@durable_example\(plan="[^"]+"\)', pin), pin  # the readable form, not choices=
    broken = sorted(set(re.findall(r"violation \((\d+)\) (\S+):", searched.stdout)))
    assert broken, searched.stdout

    (tmp_path / "test_pinned.py").write_text(PINNED.format(examples=str(EXAMPLES), module=module, pin=pin))
    first, second = pytest_run(tmp_path, "test_pinned.py"), pytest_run(tmp_path, "test_pinned.py")
    for run in (first, second):
        assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
        assert "1 failed" in run.stdout, run.stdout
        # the pinned world breaks the checks the searched one broke
        assert sorted(set(re.findall(r"\((\d+)\) (\S+):", run.stdout))) >= broken, run.stdout
    assert without_timing(first.stdout) == without_timing(second.stdout)
