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

import attrs
import pytest
from hypothesis import HealthCheck, given, seed, settings

from pytest_durable.testing import profiles
from pytest_durable.testing.strategies import World, pinned_world, worlds
from sim import CrashAt, FaultPlan, RunResult, Scenario, run_world
from sim.bench.crash_search import EXAMPLES, example_bugs
from sim.scenario import load_scenario
from sim.search import plan_of, same_failure

SEARCH = '''
import sys
sys.path.insert(0, {examples!r})
from hypothesis import HealthCheck, given, seed, settings
from pytest_durable.testing import profiles
from pytest_durable.testing.strategies import worlds
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
from pytest_durable.testing.strategies import durable_example
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
    # one pin, though pytest may print it twice: with CI set in the environment its short test summary
    # repeats the whole failure message (notes included) instead of cutting it to the terminal's width
    pins = set(PIN.findall(searched.stdout))
    assert len(pins) == 1, searched.stdout
    (pin,) = pins
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


# -- the plan points the pins need, and the check before printing ---------------------------------------


def example(target: str) -> Scenario:
    return load_scenario(f"{EXAMPLES}/{target}")


def test_a_crash_point_can_name_the_nth_such_request() -> None:
    plan = FaultPlan.parse("crash(w2, before_heartbeat, remind, 3); crash(w2, after_settle, job.1)")
    assert plan.points == (CrashAt("w2", "before", "heartbeat", "remind", 3), CrashAt("w2", "after", "settle", "job.1"))
    assert str(plan) == "crash(w2, before_heartbeat, remind, 3); crash(w2, after_settle, job.1)"  # N=1 unsaid
    # The lease keeper beats for the body that waits out the invoice: the same request, again and again.
    result = run_world(example("reminder_bug.py:buggy"), seed=0, faults="none",
                       plan="crash(w2, before_heartbeat, remind, 3)")
    assert result.unfired == ()
    asked = 0
    for event in result.trace:
        if event.process == "w2" and event.kind == "send" and event.get("op") == "heartbeat":
            asked += 1
        if event.kind == "crash":
            break
    assert (event.kind, event.process, event.incarnation, event.detail) == ("crash", "w2", 1, "before heartbeat remind")
    assert asked == 3
    assert str(plan_of(result)[0]) == "crash(w2, before_heartbeat, remind, 3)"  # read back as it was written


def test_a_crash_point_at_an_await_cuts_a_body_between_its_effects() -> None:
    assert FaultPlan.parse("crash(w1, await, pay.0)").points == (CrashAt("w1", "await", "", "pay.0"),)
    buggy = pinned_world(plan="crash(w1, await, pay.0)").run(example("transfer_bug.py:buggy"))
    crashes = [(e.process, e.get("when"), e.get("about")) for e in buggy.trace.of_kind("crash")]
    assert crashes == [("w1", "await", "pay.0")] and buggy.unfired == ()
    assert [v.check for v in buggy.violations] == ["user"]
    assert "debit:tx-7 x2 but credit:tx-7 x1" in buggy.violations[0].message
    assert str(plan_of(buggy)[0]) == "crash(w1, await, pay.0)" and plan_of(buggy)[1] == ()
    fixed = pinned_world(plan="crash(w1, await, pay.0)").run(example("transfer_bug.py:fixed"))
    assert fixed.fault_counts == {"crash": 1} and fixed.ok, fixed.violations


def test_the_same_failure_is_the_same_broken_checks_not_the_same_trace() -> None:
    plan = "crash(w1, before_settle, checkout.1)"  # w1 runs checkout in the worlds of seeds 3 and 13
    seed_a, seed_b = 3, 13
    first = run_world(example("retry_bug.py:buggy"), seed=seed_a, plan=plan)
    other = run_world(example("retry_bug.py:buggy"), seed=seed_b, plan=plan)
    assert first.unfired == other.unfired == ()
    assert first.trace_hash != other.trace_hash and first.violations and other.violations
    assert same_failure(first, other)
    fixed = run_world(example("side_effect_bug.py:fixed"), seed=seed_a, plan=plan)
    assert fixed.unfired == () and not fixed.violations
    assert not same_failure(first, fixed)
    # A world that broke no check failed (if at all) in the test's own assertions: only its trace will do.
    fixed_elsewhere = run_world(example("side_effect_bug.py:fixed"), seed=seed_b, plan=plan)
    assert fixed.trace_hash != fixed_elsewhere.trace_hash and not same_failure(fixed, fixed_elsewhere)
    assert same_failure(fixed, run_world(example("side_effect_bug.py:fixed"), seed=seed_a, plan=plan))


def crash_and_reject(result: RunResult) -> list[str]:
    """A failure that needs a fault no plan point says (a rejected leaf attempt) beside a crash."""
    counts = result.fault_counts
    return ["a crash and a rejected attempt"] if counts.get("crash") and counts.get("reject") else []


def test_a_plan_that_does_not_reproduce_the_failure_is_not_printed() -> None:
    """The plan of this failure holds its crash but not its rejected attempt: run alone it passes, so
    the pin is the choices= form, which replays the failure."""
    checkout = example("side_effect_bug.py:fixed")
    scenario = attrs.evolve(checkout, invariants=(crash_and_reject,))
    ran: list[World] = []

    @seed(0)
    @settings(max_examples=300, database=None, deadline=None, phases=profiles.PHASES, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck))
    @given(world=worlds("crash,reject"))
    def search(world: World) -> None:
        ran.append(world)
        assert world.run(scenario).ok

    with pytest.raises(AssertionError):
        search()
    found = ran[-1].result
    assert found is not None and found.violations
    plan, others = plan_of(found)
    assert plan.points and any(o.startswith("reject(") for o in others), (plan, others)
    assert pinned_world(plan=str(plan)).run(scenario).ok  # the plan alone: no failure
    pin = ran[-1].pinned()
    match = re.fullmatch(r'@durable_example\((.*)\)', pin)
    assert match is not None and "choices=" in pin, pin
    again = pinned_world(**dict(re.findall(r'(\w+)="([^"]*)"', match[1]))).run(scenario)
    assert again.trace_hash == found.trace_hash and same_failure(found, again)
