"""Long polls over a store other processes share, in real time (issue 21, item 1): a wait wakes when
another process (or another connection of this one) writes what it waits for, SQLite by its change
checks and PostgreSQL by ``LISTEN/NOTIFY``, and ends empty at its deadline otherwise. Real servers and
processes; the only times asserted are generous liveness bounds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from pytest_durable.core import PromiseState
from pytest_durable.core.clock import WallClock
from pytest_durable.live import PostgresStore, SqliteStore
from pytest_durable.live.threaded import Threaded

ROOT = Path(__file__).resolve().parents[2]
#: Far longer than any wake should take: a poll that lasts this long missed the change.
LIVENESS = 20.0


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, where): a SQLite file or a PostgreSQL DSN that several stores open."""
    if request.param == "postgres":
        yield "postgres", request.getfixturevalue("postgres_dsn")
    else:
        yield "sqlite", str(tmp_path / "shared.db")


def open_threaded(kind: str, where: str) -> Threaded:
    if kind == "postgres":
        import psycopg

        return Threaded(PostgresStore(where), transient=(psycopg.OperationalError,))
    import sqlite3

    return Threaded(SqliteStore(where), transient=(sqlite3.OperationalError,))


def write_later(kind: str, where: str, delay: float, call: str) -> subprocess.Popen[bytes]:
    """Another process that opens the store and, ``delay`` seconds later, runs ``call`` on it (``s``)."""
    code = textwrap.dedent(f"""
        import time, trio
        from pytest_durable.core import PromiseState
        from pytest_durable.core.clock import WallClock
        from pytest_durable.live import PostgresStore, SqliteStore
        s = {"PostgresStore" if kind == "postgres" else "SqliteStore"}({where!r})
        time.sleep({delay})
        async def main():
            await {call}
        trio.run(main)
        s.close()
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


def test_a_long_poll_wakes_when_another_process_makes_a_task_due(opener: tuple[str, str]) -> None:
    kind, where = opener
    store = open_threaded(kind, where)

    async def main() -> tuple[list[str], float]:
        writer = write_later(kind, where, 0.5,
                             "s.create_promise('job', 'p', WallClock().now() + 600, None, target='g')")
        began = trio.current_time()
        try:
            got = await store.dispatch("g", 10, wait=LIVENESS * 3)
        finally:
            assert writer.wait(timeout=60) == 0
        return [t.id for t in got], trio.current_time() - began

    try:
        ids, took = trio.run(main)
    finally:
        store.close()
    assert ids == ["job"]
    assert took < LIVENESS, f"woke {took:.1f} s after another process's write"


def test_await_settled_wakes_when_another_process_settles(opener: tuple[str, str]) -> None:
    kind, where = opener
    store = open_threaded(kind, where)

    async def main() -> tuple[PromiseState, float]:
        await store.create_promise("approval", "p", WallClock().now() + 600)
        writer = write_later(kind, where, 0.5, "s.settle_promise('approval', PromiseState.RESOLVED, '\"yes\"')")
        began = trio.current_time()
        try:
            record = await store.await_settled("approval", wait=LIVENESS * 3)
        finally:
            assert writer.wait(timeout=60) == 0
        return record.state, trio.current_time() - began

    try:
        state, took = trio.run(main)
    finally:
        store.close()
    assert state is PromiseState.RESOLVED
    assert took < LIVENESS, f"woke {took:.1f} s after another process's settle"


def test_another_connection_of_this_process_wakes_a_long_poll_and_a_quiet_one_ends_empty(
        opener: tuple[str, str]) -> None:
    """Two stores on one database in one process share no memory: only the watch carries the change."""
    kind, where = opener
    waiter, writer = open_threaded(kind, where), open_threaded(kind, where)

    async def main() -> tuple[list[str], float, list[str], float]:
        async with trio.open_nursery() as nursery:
            async def write() -> None:
                await trio.sleep(0.3)
                await writer.create_promise("late", "p", WallClock().now() + 600, None, target="g")
            nursery.start_soon(write)
            began = trio.current_time()
            woke = await waiter.dispatch("g", 10, wait=LIVENESS * 3)
            took = trio.current_time() - began
        began = trio.current_time()
        quiet = await waiter.dispatch("other", 10, wait=0.3)
        return [t.id for t in woke], took, [t.id for t in quiet], trio.current_time() - began

    try:
        woke, took, quiet, quiet_took = trio.run(main)
    finally:
        waiter.close()
        writer.close()
    assert woke == ["late"] and took < LIVENESS
    assert quiet == [] and quiet_took >= 0.3
