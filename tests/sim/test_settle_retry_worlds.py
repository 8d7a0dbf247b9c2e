"""Issue 23, items 6 and 7, in simulated worlds: ``ctx.resolve``/``ctx.reject`` answer a promise another
workflow waits for, as recorded steps whose outcome no crash changes; ``ctx.uuid()`` is drawn from the
world's decisions (same seed, same UUID) and recorded once; a leaf reads its root's id; and retry policies
bounded by total time and per attempt run on virtual time under every fault."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from pytest_durable.core.codec import decode, decode_call, decode_error
from sim import run_world
from tests.helpers import settle_workflows as w


@pytest.mark.parametrize("decline", [False, True])
def test_an_approver_answers_the_waiting_workflow_in_300_worlds_of_every_fault(decline: bool) -> None:
    for seed in range(300):
        result = run_world(w.approver_scenario(decline), seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])


def promises(result: object) -> dict[str, object]:
    return {p.id: p for p in result.promises}  # type: ignore[attr-defined]


def test_the_settle_step_is_recorded_and_its_target_settled_once() -> None:
    result = run_world(w.answers_itself_scenario(), seed=3)
    assert result.ok and result.value[:2] == (True, "yes")
    records = promises(result)
    step = records["approve.1"]
    assert decode_call(step.param).func == "durable.resolve"  # type: ignore[attr-defined]
    assert decode_call(step.param).args == ("approve.self", '"yes"')  # type: ignore[attr-defined]
    assert decode(step.value) is True  # type: ignore[attr-defined]
    assert decode(records["approve.self"].value) == "yes"  # type: ignore[attr-defined]


@pytest.mark.parametrize("point", [
    "at(crash, after settle approve.self)",  # the target settled, the step not yet recorded: sent again
    "at(crash, before settle approve.1)",
    "at(crash, after settle approve.1)",  # the step recorded: read back, never sent again
    "at(crash, after settle approve.2)",  # the UUID recorded: the replay reads the same one
])
def test_a_crash_around_the_settle_step_changes_nothing(point: str) -> None:
    quiet = run_world(w.answers_itself_scenario(), seed=5)
    result = run_world(w.answers_itself_scenario(), seed=5, plan=point, faults="crash")
    assert result.ok, [str(v) for v in result.violations]
    assert any(e.kind == "crash" for e in result.trace), "the planned crash did not happen"
    assert result.value[:2] == (True, "yes")
    records = promises(result)
    assert decode(records["approve.2"].value) == result.value[2]  # type: ignore[attr-defined]
    settles = [e for e in result.trace if e.kind == "settled" and e.id == "approve.self"]
    assert len(settles) == 1  # write-once: a settle sent again found it settled and changed nothing
    assert quiet.value[:2] == result.value[:2]


def test_ctx_uuid_is_drawn_from_the_worlds_seed() -> None:
    first = run_world(w.answers_itself_scenario(), seed=11).value[2]
    again = run_world(w.answers_itself_scenario(), seed=11).value[2]
    other = run_world(w.answers_itself_scenario(), seed=12).value[2]
    assert first == again != other
    assert UUID(first).version == 4


def test_an_unknown_promise_rejects_the_step_as_a_lookup_error() -> None:
    result = run_world(w.approver_scenario(), seed=0)
    records = promises(result)
    steps = sorted((r for r in records.values() if r.param.startswith('{"func":"durable.resolve"')),  # type: ignore[attr-defined]
                   key=lambda r: r.id)
    assert len(steps) >= 2 and decode(steps[-1].value) is True  # the last one found the waiter's promise
    for early in steps[:-1]:  # earlier ones came before the waiter made it: LookupError, caught, retried
        assert decode_error(early.value) == (  # type: ignore[attr-defined]
            "LookupError", "ctx.resolve('approve.approval') in approve: no promise with id 'approve.approval' exists")
        assert json.loads(early.value)["cls"] == "builtins:LookupError"  # type: ignore[attr-defined]


def test_retry_bounds_run_on_virtual_time_in_the_quiet_world() -> None:
    result = run_world(w.retry_bounds_scenario(), seed=0)
    assert result.ok and result.value == ("up", "answered")
    records = promises(result)
    # flaky_until_late failed at ~0 s and ~2 s, both recorded, and was up at ~4 s, inside max_duration=7
    assert [decode_error(records[f"polls.0.{i}"].value)[0] for i in range(2)] == ["ConnectionError"] * 2  # type: ignore[attr-defined]
    assert "polls.0.2" not in records
    # hangs_first's first attempt was cancelled after attempt_timeout=2 and recorded as a failed attempt
    assert decode_error(records["polls.1.0"].value) == (  # type: ignore[attr-defined]
        "AttemptTimedOut", "attempt 1 of polls.1 (hangs_first) ran longer than its attempt_timeout of 2 s and was "
        "cancelled")


def test_retry_bounds_pass_300_worlds_of_every_fault() -> None:
    seen = set()
    for seed in range(300):
        result = run_world(w.retry_bounds_scenario(), seed=seed, faults="all")
        assert result.ok, (seed, [str(v) for v in result.violations])
        seen.add(result.value)
    assert ("up", "answered") in seen
