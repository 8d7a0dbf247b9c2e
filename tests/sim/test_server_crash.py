"""Crash consistency of a real store (issue 9, item 3): a ``server_restart`` fault is now the server
process dying in the middle of its next request's transaction. Over SQLite the transaction runs and is
rolled back and the file is reopened, so only what was committed is left; over the reference store the
request is simply not applied. Both must give the same world."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from pytest_durable.core import TrioClock
from pytest_durable.core.records import PromiseState
from pytest_durable.live import SqliteStore, Torn
from sim import run_world
from sim.scenario import load_scenario
from sim.world import world_store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "fan_out_fan_in.py") + ":scenario"


def test_a_torn_transaction_leaves_nothing_and_a_reopened_file_keeps_what_was_committed(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "s.db", TrioClock())
        await store.create_promise("kept", "{}", 1e9)
        store.engine.die_before_commit = True
        try:
            await store.settle_promise("kept", PromiseState.RESOLVED, '"x"')
        except Torn:
            pass
        else:
            raise AssertionError("the transaction did not die")
        assert store.engine.die_before_commit is False  # once only
        store.reopen()
        record = await store.get_promise("kept")
        assert record.state is PromiseState.PENDING  # the settle died before it committed
        await store.settle_promise("kept", PromiseState.RESOLVED, '"y"')
        store.reopen()
        assert (await store.get_promise("kept")).value == '"y"'  # a committed settle survives a reopen
        store.close()

    trio.run(main, clock=trio.testing.MockClock())


def test_server_crashes_happen_over_sqlite_and_the_world_traces_as_over_memory() -> None:
    """Torn requests happen under the default rate of ``all`` and every check holds; the SQLite world
    (rolled back, reopened) traces exactly as the reference world (not applied)."""
    scenario = load_scenario(EXAMPLE)
    torn = 0
    for seed in range(60):
        over = {}
        for kind in ("memory", "sqlite"):
            with world_store(kind) as store:
                over[kind] = run_world(scenario, seed=seed, faults="server_restart=0.2,crash,drop", store=store)
        assert over["memory"].ok and over["sqlite"].ok, (seed, over["sqlite"].violations)
        assert over["sqlite"].trace_hash == over["memory"].trace_hash, seed
        torn += len(over["sqlite"].trace.of_kind("torn"))
    assert torn > 10, torn


def test_a_torn_request_is_lost_to_its_sender_who_retries() -> None:
    scenario = load_scenario(EXAMPLE)
    for seed in range(60):
        with world_store("sqlite") as store:
            result = run_world(scenario, seed=seed, faults="server_restart=0.3", store=store)
        events = list(result.trace)
        for event in result.trace.of_kind("torn"):
            op = event.get("op")
            later = [e for e in events[event.seq + 1:] if e.process == event.process and e.id == event.id]
            assert later and later[0].kind != "receive", (seed, event)  # no answer came back for it
            assert any(e.kind == "send" and e.get("op") == op for e in later), (seed, event)  # it was sent again
        assert result.ok, (seed, result.violations)
