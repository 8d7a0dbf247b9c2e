"""A workflow that catches the platform's own suspension or crash signal and goes on is a platform error of
its own kind (14, ``swallowed-signal``), named, found by the default aimed sweep; its twins pass."""

from __future__ import annotations

import pytest

from pytest_durable.core.errors import SignalSwallowed
from sim import FaultConfig, run_world
from sim.aim import AimedSweep
from tests.helpers import signal_workflows as sw

CDR = FaultConfig.parse("crash,drop,reject")


def _failing(workflow: object) -> list[tuple[str, list[str]]]:
    sweep = AimedSweep(sw.scenario(workflow), CDR)
    return [(str(p), [v.check for v in r.violations]) for p in sweep.worlds() if not (r := sweep.run(p, run_world)).ok]


def test_a_caught_suspension_is_named_in_the_fault_free_world() -> None:
    result = run_world(sw.scenario(sw.greedy_rpc), faults="none")
    first = result.violations[0]
    assert first.check == "swallowed-signal" and first.id == "g" and first.number == 14
    assert "the body of g caught the platform's suspension signal" in first.message
    assert "catch Exception instead" in first.message


def test_a_caught_crash_is_named_by_the_aimed_sweep() -> None:
    failing = _failing(sw.greedy_local)
    assert failing and all(checks[0] == "swallowed-signal" for _, checks in failing), failing
    assert all("crash" in world for world, _ in failing)  # only a crash cancels a body here
    result = run_world(sw.scenario(sw.greedy_local), faults="none")
    assert result.ok  # the fault-free world cannot show it


def test_catching_what_is_yours_is_no_alarm() -> None:
    assert _failing(sw.careful_rpc) == []
    # its own move_on_after: timing decides which child it calls (the replay check's to judge), but the
    # cancellation it made and caught is no platform signal
    assert all("swallowed-signal" not in checks for _, checks in _failing(sw.impatient))


def test_a_live_worker_reports_it_and_does_not_settle_the_workflow() -> None:
    import trio

    from pytest_durable import Worker
    from pytest_durable.core import MemoryStore, TrioClock

    async def main() -> None:
        worker = Worker(MemoryStore(TrioClock()), poll_interval=0.1)
        worker.register(sw.greedy_rpc, sw.fetch)
        async with worker.running():
            handle = await worker.run("g", sw.greedy_rpc)
            with pytest.raises(SignalSwallowed, match="the body of g caught the platform's suspension signal"):
                with trio.fail_after(5):
                    await handle.result()
        assert worker.store.promise_map()["g"].settled is False  # type: ignore[attr-defined]

    trio.run(main)
