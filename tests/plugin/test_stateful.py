"""``DurableMachine`` and the scripted actions under it: crash, restart, drop and settle at chosen
times, worlds stopped part-way, and a state machine that finds the checkout bug and passes the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from pytest_durable import Context, function
from pytest_durable.testing.stateful import DurableMachine, machine_for
from sim import PinnedDecisions, Scenario, run_world
from sim.scenario import Action, load_scenario

ROOT = Path(__file__).resolve().parents[2]
BUGGY = load_scenario(str(ROOT / "examples" / "side_effect_bug.py") + ":buggy")
FIXED = load_scenario(str(ROOT / "examples" / "side_effect_bug.py") + ":fixed")
# One failure reported: a double charge seen part-way and again at teardown is one bug, not two.
MACHINE = settings(max_examples=200, stateful_step_count=10, derandomize=True, database=None, deadline=None,
                   phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                   report_multiple_bugs=False)


@function
async def add_one(n: int) -> int:
    return n + 1


@function
async def approve(ctx: Context, n: int) -> int:
    approval = await ctx.promise(timeout=100.0)
    granted = await approval
    return int(await ctx.run(add_one, n + granted))


APPROVE = Scenario(approve, (1,), functions=(add_one,), root_id="approve", expected=43)


def straight(script: list[Action], stop_at: float | None = None, scenario: Scenario = APPROVE) -> object:
    return run_world(scenario, decisions=PinnedDecisions({}), script=script, stop_at=stop_at)


def test_a_settle_from_outside_lets_the_workflow_finish() -> None:
    waiting = straight([], stop_at=5.0)
    assert waiting.root is None and waiting.ok  # part-way: no liveness or value check yet
    assert [p.id for p in waiting.promises if not p.settled] == ["approve", "approve.0"]
    done = straight([Action(5.0, "settle", "approve.0", 41)])
    assert done.ok and done.root is not None and done.value == 43
    assert [(e.id, e.detail) for e in done.trace.of_kind("settle") if e.process == "director"] == [
        ("approve.0", "resolved")]


def test_a_scripted_crash_and_restart_happen_when_asked() -> None:
    crashed = straight([Action(2.0, "crash", "w1"), Action(2.0, "crash", "w2"), Action(3.0, "settle", "approve.0", 41)])
    assert [(e.time, e.process, e.detail) for e in crashed.trace.of_kind("crash")] == [
        (2.0, "w1", "scripted"), (2.0, "w2", "scripted")]
    assert crashed.ok and crashed.fault_counts == {"crash": 2}
    restarted = straight([Action(2.0, "crash", "w1"), Action(2.5, "restart", "w1")], stop_at=4.0)
    starts = [(e.time, e.incarnation) for e in restarted.trace.of_kind("start") if e.process == "w1"]
    assert starts == [(0.0, 1), (2.5, 2)]


def test_a_scripted_drop_loses_the_next_message() -> None:
    dropped = straight([Action(0.0, "drop", "request"), Action(3.0, "settle", "approve.0", 41)])
    drops = dropped.trace.of_kind("drop")
    assert len(drops) == 1 and drops[0].detail.endswith("request")  # the next message, whoever sends it
    assert dropped.ok and dropped.fault_counts.get("drop") == 1


def test_a_crash_at_the_next_request_hits_whoever_sends_it() -> None:
    # the crash loses the task's lease; it runs again once the lease expires, then the approval comes
    result = straight([Action(0.0, "crash_next", "before create"), Action(30.0, "settle", "approve.0", 41)])
    crashes = result.trace.of_kind("crash")
    assert len(crashes) == 1 and crashes[0].detail == "before create approve.0" and crashes[0].process.startswith("w")
    assert result.ok and result.value == 43


def test_a_bad_script_names_what_is_wrong() -> None:
    kinds = "crash, crash_next, restart, drop, settle"
    with pytest.raises(ValueError, match=f"Action: kind must be one of {kinds}, got 'explode'"):
        Action(1.0, "explode", "w1")
    with pytest.raises(Exception, match=r"script: crash\(w9\) at 1 s: no process 'w9'; processes are w1, w2"):
        straight([Action(1.0, "crash", "w9")])
    with pytest.raises(Exception, match=r"script: crash_next\(soon settle\) at 1 s: write the target as 'WHEN OP'"):
        straight([Action(1.0, "crash_next", "soon settle")])


def test_the_machine_finds_the_checkout_bug() -> None:
    with pytest.raises(AssertionError, match="charge:order-42' was recorded 2 times"):
        run_state_machine_as_test(machine_for(BUGGY), settings=MACHINE)


def test_the_machine_finds_a_leaf_charging_without_an_idempotency_key() -> None:
    retry_bug = load_scenario(str(ROOT / "examples" / "retry_bug.py") + ":buggy")
    with pytest.raises(AssertionError, match="charge:order-42' was recorded 2 times"):
        run_state_machine_as_test(machine_for(retry_bug), settings=MACHINE)


def test_the_machine_passes_the_fixed_checkout() -> None:
    run_state_machine_as_test(machine_for(FIXED), settings=settings(MACHINE, max_examples=100))


def test_a_machine_without_a_scenario_says_so() -> None:
    class Empty(DurableMachine):
        pass

    with pytest.raises(TypeError, match="Empty: set the class attribute scenario"):
        Empty()


def test_a_machine_keeps_the_worlds_it_ran_for_the_same_steps_and_scenario() -> None:
    """Hypothesis tries the same step prefixes again and again; the same scenario object, seed, actions
    and stop time give back the world already run, and anything else runs its own."""
    Approve = machine_for(APPROVE, "Approve")
    first, again = Approve(), Approve()
    for machine in (first, again):
        machine.start_workflow(seed=None)
        machine.script.append(Action(0.0, "settle", "approve.0", 41))
        machine.advance_time(1.0)
    assert first.world is not None and again.world is first.world
    assert first.world.ok

    other = machine_for(Scenario(approve, (1,), functions=(add_one,), root_id="approve", expected=43), "Other")()
    other.start_workflow(seed=None)
    other.script.append(Action(0.0, "settle", "approve.0", 41))
    other.advance_time(1.0)
    assert other.world is not first.world and other.world is not None
    assert other.world.trace_hash == first.world.trace_hash

    unhashable = Approve()
    unhashable.start_workflow(seed=None)
    unhashable.script.append(Action(0.0, "settle", "approve.0", [41]))  # a list cannot be a key: run, keep nothing
    unhashable.advance_time(1.0)
    assert unhashable.world is not None and unhashable.world is not unhashable._run(1.0)
