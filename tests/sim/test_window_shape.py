"""The shapes of ``ctx.select`` under the simulator (issue 23, item 5): a sliding window of child
workflows that starts the next item when the first in-flight one finishes, and an approval raced
against a timer. The correct window passes 1,000 worlds of every fault and the plugin's default run;
its buggy twin, which takes the finished child from a source no record holds, is found naming the
promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable.core.codec import decode, decode_call
from sim import RunResult, run_world
from sim.scenario import Action
from tests.helpers import window_shapes as w

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def winners(result: RunResult) -> list[str]:
    """The winner each select of the root recorded, in the order they were made."""
    out = []
    for p in sorted(result.promises, key=lambda p: int(p.id.rsplit(".", 1)[1]) if p.id != result.root_id else -1):
        call = decode_call(p.param)
        if call.func == "durable.select" and p.tags.get("durable:parent") == result.root_id and p.value is not None:
            out.append(call.args[0][decode(p.value)])
    return out


def test_the_sliding_window_passes_1000_worlds_of_every_fault() -> None:
    orders = set()
    for seed in range(1000):
        result = run_world(w.window_scenario(), seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        orders.add(tuple(winners(result)))
    # faults changed which child finished first (a crashed child finishes late), and every order was
    # recorded and kept: the value is the same in all of them
    assert len(orders) >= 3, orders


def test_the_window_keeps_at_most_k_children_in_flight_and_the_invariant_can_tell() -> None:
    result = run_world(w.window_scenario(n=6, k=2), seed=0)
    assert result.ok and result.value == [i * 10 for i in range(6)]
    assert len(winners(result)) == 6
    assert w.at_most_k_in_flight(2)(result) == []
    broken = w.at_most_k_in_flight(1)(result)
    assert broken[0] == "batch.1 started with 1 children in flight (at most 1)" and len(broken) == 5, broken


def test_the_oracle_replays_a_local_child_workflows_rpc_on_its_tasks_target() -> None:
    """A local child workflow runs in its parent's task: an ``ctx.rpc`` in it without a target goes to that
    task's group, and the replay oracle must replay it so (it once compared it with target '')."""
    result = run_world(w.window_scenario(), seed=0)
    assert result.ok, [str(v) for v in result.violations]
    assert result.replayed == 7  # the root and its six local child workflows
    rpc = next(p for p in result.promises if p.id == "batch.0.0")
    assert rpc.tags["durable:target"] == "default" and rpc.tags["durable:scope"] == "global"


def test_the_buggy_twin_is_found_naming_the_root_and_the_progress_note_it_calls_differently() -> None:
    found = next(r for r in (run_world(w.window_scenario(buggy=True), seed=s, faults="all") for s in range(1000))
                 if not r.ok)
    first = found.violations[0]
    assert first.check == "nondeterminism" and first.id == "batch", str(first)
    assert "sliding_window_bug(" in first.message and "note_progress(" in first.message, first.message


def test_a_crash_between_the_winner_settling_and_its_record_lets_the_replay_choose_among_settled_ones() -> None:
    """One world per select of the fault-free run, each crashing its worker right before it writes the
    winner: the replay finds several candidates settled, chooses one, and the world is still correct."""
    clean = run_world(w.window_scenario(), seed=0)
    selects = [p.id for p in clean.promises if decode_call(p.param).func == "durable.select"]
    assert len(selects) == 6
    chose_among_several = 0
    for id in selects:
        result = run_world(w.window_scenario(), seed=0, plan=f"at(crash, before settle {id})")
        assert result.ok, (id, [str(v) for v in result.violations])
        assert result.fault_counts.get("crash", 0) == 1, (id, result.fault_counts)
        records = {p.id: p for p in result.promises}
        select = records[id]
        settled_before = [c for c in decode_call(select.param).args[0]
                          if records[c].settled_on is not None and records[c].settled_on <= select.settled_on]
        chose_among_several += len(settled_before) > 1
    assert chose_among_several >= 1


# -- approval or timeout -------------------------------------------------------------------------------------


def test_approval_or_timeout_under_every_fault() -> None:
    """An approver settles ``req.approval`` at 100 s (a script); the timer would fire at 300 s. Every
    world is correct, and its outcome is the approval exactly when the approver's settle was applied."""
    approve = [Action(at=100.0, kind="settle", target="req.approval", value="ann")]
    seen = {}
    for seed in range(300):
        result = run_world(w.approval_scenario(), seed=seed, faults="all", script=approve)
        assert result.ok, (seed, [str(v) for v in result.violations])
        settled = any(e.kind == "settle" and e.process == "director" and e.detail == "resolved"
                      for e in result.trace.events)
        assert result.value == ("approved by ann" if settled else "timed out"), (seed, result.value)
        seen[result.value] = seen.get(result.value, 0) + 1
    # the script's settle reaches the server as a request like any other, so a server crash can refuse it
    assert seen.get("approved by ann", 0) >= 20 and seen.get("timed out", 0) >= 20, seen


def test_approval_never_given_times_out_at_the_timer() -> None:
    for seed in range(50):
        result = run_world(w.approval_scenario(), seed=seed, faults="all")
        assert result.ok and result.value == "timed out", (seed, [str(v) for v in result.violations])
        assert result.virtual_time >= 300.0


# -- the plugin's default run ---------------------------------------------------------------------------------

WINDOW_TESTS = '''
import pytest
from tests.helpers.window_shapes import (
    approval_or_timeout, at_most_k_in_flight, note_progress, process_item, sliding_window, sliding_window_bug,
    transform, window_items,
)


@pytest.mark.durable
def test_window(durable_sim):
    run = durable_sim.run(sliding_window, window_items(4), 2, id="batch",
                          functions=[process_item, transform, note_progress])
    assert run.value == [i * 10 for i in range(4)]
    assert at_most_k_in_flight(2)(run) == []


@pytest.mark.durable
def test_window_bug(durable_sim):
    durable_sim.run(sliding_window_bug, window_items(4), 2, id="batch",
                    functions=[process_item, transform, note_progress])


@pytest.mark.durable
def test_approval_times_out(durable_sim):
    assert durable_sim.run(approval_or_timeout, 300.0, id="req").value == "timed out"
'''


def test_the_plugins_default_run_passes_the_window_and_fails_its_twin_naming_the_promise(
        pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(ROOT)
    pytester.makepyfile(test_window=WINDOW_TESTS)
    result = pytester.runpytest("-p", "pytest_durable", "--durable-seed=7", "-p", "no:cacheprovider",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "FAILED test_window.py::test_window_bug" in out
    # the report names the root promise, the child called differently, and the pin that brings it back
    assert "(9) nondeterminism: batch sliding_window_bug(" in out, out
    assert "the store recorded note_progress(" in out and "pin it: @pytest.mark.durable(aim=" in out, out


def test_a_local_leaf_raced_against_a_timer_under_every_fault() -> None:
    """A select over a local child (3 s) and a timer (5 s): the leaf wins in the quiet world; faults
    that slow it (a crash, a rejected attempt's retry) let the timer win; every world is correct."""
    assert run_world(w.local_or_timer_scenario(), seed=0).value == 30
    assert run_world(w.local_or_timer_scenario(seconds=1.0), seed=0).value == "late"
    seen: dict[object, int] = {}
    for seed in range(300):
        result = run_world(w.local_or_timer_scenario(), seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        seen[result.value] = seen.get(result.value, 0) + 1
    assert set(seen) == {30, "late"}, seen
