"""What an idle worker costs its database (issue 21: "on PostgreSQL at most one store query per second per
idle worker"), statement by statement, on real SQLite files and a real PostgreSQL server: a long poll with
nothing due reads with one query and takes no write lock, ends at its deadline without reading again, and
the lease entries a heartbeat leaves behind are still deleted once due. Every statement the store's own
connection runs is recorded by a pass-through wrapper around that connection."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from pytest_durable.core import Fence, TaskState
from pytest_durable.live import PostgresStore, SqliteStore
from pytest_durable.live.sql_schema import Connection, Cursor
from pytest_durable.live.sql_store import SqlStore
from tests.helpers.virtual_time import FollowingClock


def run_now(coro: Any) -> Any:
    """The value of a store call that never suspends (``SqlStore``'s calls, outside a long poll's wait)."""
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise AssertionError("store call suspended")


class Recording:
    """The store's connection, recording the statements it runs (``log``) and running every one."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.log: list[str] = []

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        self.log.append(" ".join(sql.split()))
        return self.connection.execute(sql, parameters)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A real store on a clock that follows trio's virtual time while a poll waits (``in_virtual_time``)."""
    clock = FollowingClock(1000.0)
    opened: SqlStore
    if request.param == "postgres":
        opened = PostgresStore(request.getfixturevalue("postgres_dsn"), clock, cross_process=False)
    else:
        opened = SqliteStore(tmp_path / "idle.db", clock, cross_process=False)
    with opened:
        yield opened


def recording(store: SqlStore) -> Recording:
    tx = store.engine.transactions
    wrapper = Recording(tx.connection)
    tx.connection = wrapper
    return wrapper


def clock_of(store: SqlStore) -> FollowingClock:
    assert isinstance(store.clock, FollowingClock)
    return store.clock


def test_a_long_poll_with_nothing_due_costs_one_query_and_no_transaction(store: SqlStore) -> None:
    """Another target's lease due in a minute, a promise timing out in an hour: a 30 s poll of a target
    with nothing pending reads once (one SELECT, no BEGIN, no lock) and answers empty at its deadline,
    without a second read there."""
    run_now(store.create_promise("held", "p", 4600.0, None, target="other"))
    run_now(store.acquire_task("held", "w", 60.0))
    run_now(store.create_promise("timer", "p", 4600.0, None))
    log = recording(store)

    async def poll() -> tuple[list[Any], float]:
        found = await store.dispatch("g", 10, wait=30.0)
        return found, trio.current_time()

    found, at = clock_of(store).in_virtual_time(poll)
    assert found == [] and at == 30.0
    assert len(log.log) == 1 and log.log[0].startswith("SELECT"), log.log


def test_a_long_poll_still_takes_a_task_as_soon_as_it_falls_due(store: SqlStore) -> None:
    """The one-query read tells when to look again; then the poll dispatches the task in the real
    transaction (straight away: woken by the instant the task falls due, it expects to find it),
    stamping the redispatch time MemoryStore would."""
    run_now(store.create_promise("job", "p", 4600.0, None, target="g"))
    assert [t.id for t in run_now(store.dispatch("g", 10))] == ["job"]  # offered again 5 s later
    log = recording(store)

    async def poll() -> tuple[list[Any], float]:
        found = await store.dispatch("g", 10, wait=30.0)
        return found, trio.current_time()

    found, at = clock_of(store).in_virtual_time(poll)
    assert [t.id for t in found] == ["job"] and found[0].retry_at == 1010.0 and at == 5.0
    # the one-query read at 0 s; at 5 s the dispatch transaction
    assert log.log[0].startswith("SELECT") and log.log[1].startswith("BEGIN"), log.log


def test_a_dead_lease_entry_is_deleted_once_due_by_a_transaction_that_only_deletes(store: SqlStore) -> None:
    """A heartbeat leaves the lease's old entry behind; once it is due, the next poll deletes it (so an
    idle worker's heartbeats do not pile up entries), and writes nothing else."""
    clock = clock_of(store)
    run_now(store.create_promise("job", "p", 1e9, None, target="g"))
    fence = Fence("job", run_now(store.acquire_task("job", "w", 60.0)).version)
    clock.advance(30.0)
    run_now(store.heartbeat_task(fence))  # leased until 1090; the entry for 1060 is left behind
    clock.advance(40.0)  # 1070: the old entry is due, the lease is not
    log = recording(store)
    assert run_now(store.dispatch("g", 10, wait=0.0)) == []  # wait=0: a plain dispatch, as before
    assert clock.in_virtual_time(lambda: store.dispatch("g", 10, wait=1.0)) == []
    writes = [s for s in log.log if s.startswith(("DELETE", "UPDATE", "INSERT"))]
    assert writes and all(s.startswith("DELETE FROM leases") for s in writes), log.log
    with store.engine.transactions.single():
        left = store.engine.transactions.execute("SELECT expires_at FROM leases").fetchall()
    assert [float(r[0]) for r in left] == [1090.0]
    assert store.engine.tasks()[0].state is TaskState.ACQUIRED  # the live lease is untouched
