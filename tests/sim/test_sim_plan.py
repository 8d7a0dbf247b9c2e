"""Explicit fault points: every crash point the design names, each exercised once, the world still
converging to the fault-free result; and the plan's text form."""

from __future__ import annotations

import pytest

from pytest_durable import UsageError
from sim import CrashAt, DropAt, FaultPlan, run_world
from tests.helpers.sim_scenarios import fan_out_scenario, remote_scenario


def _run(plan: str, scenario_fn=fan_out_scenario, seed: int = 1):  # type: ignore[no-untyped-def]
    scenario = scenario_fn(3, workers=1) if scenario_fn is fan_out_scenario else scenario_fn(3)
    return run_world(scenario, seed=seed, plan=plan)


@pytest.mark.parametrize(
    ("plan", "where"),
    [
        ("crash(w1, before_create, job.1)", "before create job.1"),
        ("crash(w1, after_create, job.1)", "after create job.1"),
        ("crash(w1, before_settle, job.1)", "before settle job.1"),  # the leaf body ran, its settle not sent
        ("crash(w1, after_settle, job.1)", "after settle job.1"),
        ("crash(w1, during_fulfill, job)", "during fulfill job"),
    ],
)
def test_each_crash_point_fires_once_and_the_world_converges(plan: str, where: str) -> None:
    result = _run(plan)
    crashes = result.trace.of_kind("crash")
    assert [(e.process, e.incarnation, e.detail) for e in crashes] == [("w1", 1, where)]
    assert result.fault_counts == {"crash": 1}
    assert result.ok, result.violations
    assert result.value == [0, 2, 4]
    starts = [e.incarnation for e in result.trace.of_kind("start") if e.process == "w1"]
    # It restarts as a new incarnation, unless the crash came after the root was already settled.
    assert starts == ([1] if "fulfill" in plan else [1, 2])


def test_a_crash_after_the_leaf_body_ran_but_before_its_settle_runs_the_leaf_again() -> None:
    result = _run("crash(w1, before_settle, job.1)", seed=0)
    bodies = [e.id for e in result.trace.of_kind("body")]
    assert bodies.count("job.1") == 2  # a leaf is at-least-once
    assert bodies.count("job.0") == 1 or bodies.count("job.2") == 1


def test_a_crash_after_the_settle_does_not_run_the_leaf_again() -> None:
    result = _run("crash(w1, after_settle, job.1)")
    assert [e.id for e in result.trace.of_kind("body")].count("job.1") == 1


def test_a_crash_during_suspend_converges() -> None:
    result = run_world(remote_scenario(2, workers=1), seed=2, plan="crash(w1, during_suspend, pipe)")
    assert [e.detail for e in result.trace.of_kind("crash")] == ["during suspend pipe"]
    # The suspend was applied before the crash: the task waited on its child, then resumed.
    assert any(e.kind == "apply" and e.detail == "suspend -> suspended" for e in result.trace)
    assert result.ok, result.violations
    assert result.value == 2


def test_a_planned_dropped_response_is_retried() -> None:
    result = _run("drop(response, settle, 2)")
    drops = result.trace.of_kind("drop")
    assert [e.detail for e in drops] == ["settle response"]
    assert result.ok and result.value == [0, 2, 4]


def test_plan_text_round_trips() -> None:
    text = "crash(w1, after_create, job.1); drop(response, settle, 3)"
    plan = FaultPlan.parse(text)
    assert plan.points == (CrashAt("w1", "after", "create", "job.1"), DropAt("response", "settle", 3))
    assert str(plan) == text
    assert FaultPlan.parse(str(plan)) == plan


@pytest.mark.parametrize(
    "bad",
    ["crash(w1, sideways_create, job.1)", "crash(w1, after_teleport, x)", "drop(both, settle, 1)",
     "drop(request, settle, 0)", "explode()"],
)
def test_an_unreadable_plan_is_one_clear_error(bad: str) -> None:
    with pytest.raises(UsageError, match="fault plan: cannot read"):
        FaultPlan.parse(bad)
