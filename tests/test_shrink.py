"""What crash search hands back once it has shrunk a failure (issue 11 item 5, issue 12 items 7 and 9):
a short pin that replays it, a readable failing example, and shrink time kept short."""

from __future__ import annotations

import re
import uuid
import warnings
from pathlib import Path

import pytest

from pytest_durable.strategies import pinned_world
from sim import run_world
from sim.faults import UnfiredPlanWarning
from sim.search import choices_text, plan_of, same_failure
from tests.shrink_workflows import checkout_scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def test_a_plan_that_reproduces_the_violations_is_the_pin_though_the_trace_differs() -> None:
    """A world with a fresh uuid in its parameter and a busy schedule: its plan alone gives the same
    broken checks but another trace, and the pin is that plan, not every choice of the world."""
    scenario = checkout_scenario(str(uuid.uuid4()))
    found = next(r for r in (run_world(scenario, seed=s, faults="crash") for s in range(200)) if r.violations)
    world = pinned_world(faults="crash", choices=choices_text(found.decisions))
    result = world.run(scenario)
    assert result.trace_hash == found.trace_hash  # the world itself, replayed from its choices
    plan, others = plan_of(result)
    assert plan.points and not others
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnfiredPlanWarning)
        alone = pinned_world(plan=str(plan)).run(scenario)
    assert alone.trace_hash != result.trace_hash and same_failure(result, alone)  # the case at hand
    pin = world.pinned()
    assert pin == f'@durable_example(plan="{plan}")', pin
    assert len(pin) < 120 and "choices=" not in pin
    # The pin holds on the next run of the test, whose order has another fresh id.
    again = pinned_world(**dict(re.findall(r'(\w+)="([^"]*)"', pin))).run(checkout_scenario(str(uuid.uuid4())))
    assert same_failure(result, again)


def test_hypothesis_prints_the_failing_world_as_its_faults(pytester: pytest.Pytester) -> None:
    """Hypothesis prints a failing example's arguments before it runs it again: the drawn world shows
    the faults those choices gave (a plan), not the fault rates it was drawn with."""
    pytester.makepyfile(test_found=f'''
        from hypothesis import given, settings
        from pytest_durable import profiles
        from pytest_durable.strategies import worlds
        from sim.target import load_scenario

        BUGGY = load_scenario({str(ROOT / "examples" / "retry_bug.py")!r} + ":buggy")

        @settings(max_examples=300, database=None, deadline=None, derandomize=True, phases=profiles.PHASES)
        @given(world=worlds("crash"))
        def test_checkout(world):
            assert world.run(BUGGY).ok
    ''')
    found = pytester.runpytest("-p", "no:cacheprovider")
    found.assert_outcomes(failed=1)
    found.stdout.fnmatch_lines([
        "*Failing test case: test_checkout(",
        '*    world=World(plan="crash(w1, before_settle, checkout.1)"),',
        '*durable: pin it: @durable_example(plan="crash(w1, before_settle, checkout.1)")',
    ])
    assert "World(faults=" not in found.stdout.str()
