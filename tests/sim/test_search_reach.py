"""Crash search reaches late faults (issue 12 item 5): a bug that needs a crash at the tenth heartbeat
of a long wait or later is found, shrunk to that one crash and pinned as a plan naming the occurrence,
while its correct twin passes the same search."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings

from pytest_durable.testing import profiles
from pytest_durable.testing.strategies import World, pinned_world, worlds
from sim import Scenario
from sim.faults import CrashAt
from sim.search import plan_of
from tests.helpers.reach_workflows import buggy, fixed

SEARCH = settings(max_examples=300, derandomize=True, database=None, deadline=None, phases=profiles.PHASES,
                  report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])


def search(scenario: Scenario, max_examples: int = 300) -> tuple[World | None, int]:
    """The shrunk failing world of a search over ``scenario`` (or None) and the worlds run."""
    ran: list[World] = []

    @settings(SEARCH, max_examples=max_examples)
    @given(world=worlds("crash"))
    def check(world: World) -> None:
        ran.append(world)
        assert world.run(scenario).ok

    try:
        check()
    except AssertionError:
        return ran[-1], len(ran)
    return None, len(ran)


def test_a_bug_that_needs_a_late_crash_is_found_and_pinned_with_its_occurrence() -> None:
    shrunk, _ = search(buggy())
    assert shrunk is not None and shrunk.result is not None
    plan, others = plan_of(shrunk.result)
    assert others == () and len(plan.points) == 1, (plan, others)
    (crash,) = plan.points
    # A late one: the process running the export crashes at its tenth request of a kind or later (a
    # heartbeat of the wait, or a poll for work of the other worker's: whichever the world runs it on).
    assert isinstance(crash, CrashAt) and crash.nth >= 10, crash
    pin = shrunk.pinned()
    assert pin == f'@durable_example(plan="{plan}")' and pin.endswith(f", {crash.nth})\")"), pin
    again = pinned_world(**dict(re.findall(r'(\w+)="([^"]*)"', pin))).run(buggy())
    assert not again.ok and again.unfired == ()
    assert [v.check for v in again.violations] == ["user"] and "report:n1 sent at" in again.violations[0].message


def test_the_correct_twin_with_a_durable_due_time_passes_the_same_search() -> None:
    shrunk, ran = search(fixed(), max_examples=150)
    assert shrunk is None and ran >= 150


def test_an_early_heartbeat_crash_does_not_break_the_buggy_export() -> None:
    """The bug is late by nature: a crash at the ninth heartbeat (or earlier) leaves it on time."""
    for n in (1, 5, 9):
        result = pinned_world(plan=f"crash(w1, after_heartbeat, export, {n})").run(buggy())
        assert result.ok and result.unfired == (), (n, result.violations)
    assert not pinned_world(plan="crash(w1, after_heartbeat, export, 10)").run(buggy()).ok
