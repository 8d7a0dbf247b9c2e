"""``ls`` (issue 25, item 6): roots a page at a time, filtered, each row with its times, attempts and owner, over
SQLite and PostgreSQL; the workers' bookkeeping never listed; the roots found over the parent index."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from pytest_durable.core.clock import ManualClock
from pytest_durable.core.codec import encode, encode_call, encode_error
from pytest_durable.core.records import PromiseState
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.live.cli import main
from pytest_durable.live.postgres_store import PostgresStore
from pytest_durable.live.presence import PRESENCE, announce
from pytest_durable.live.sql_listing import ListQuery, list_page
from pytest_durable.live.sql_store import SqlStore
from pytest_durable.live.sqlite_store import SqliteStore
from pytest_durable.live.sweeper import sweep_when_holding
from pytest_durable.testing.pgserver import PgServer

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC: the store's clock here, so every time printed is known
LATER = 4_000_000_000.0  # a deadline no test reaches
_databases = itertools.count()


async def fill(store: SqlStore, clock: ManualClock) -> None:
    """Seven orders of two children each (order-2 held by a worker, order-1 resolved, order-3 rejected), a
    promise made by hand, and the workers' bookkeeping: the sweeper and a presence lease."""
    for i in range(1, 8):
        await store.create_promise(f"order-{i}", encode_call("checkout", [f"order-{i}"], {}), LATER, target="default")
        for n in range(2):
            await store.create_promise(f"order-{i}.{n}", encode_call("charge", [i, n], {}), LATER,
                                       {TAG_PARENT: f"order-{i}"})
        clock.advance(60)
    await store.create_promise("approval-1", "{}", LATER)
    await store.acquire_task("order-2", "host-a:412:9f3c2e", LATER - T0)
    clock.advance(5)
    await store.settle_promise("order-1", PromiseState.RESOLVED, encode(["done"], what="value"))
    await store.settle_promise("order-3", PromiseState.REJECTED, encode_error(ValueError("no stock")))
    with trio.move_on_after(0.5):  # the workers' own records: made as a worker process makes them
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sweep_when_holding, store, clock, "host-a:412:9f3c2e")
            await nursery.start(announce, store, clock, "default", "host-a:412:9f3c2e")
            await trio.sleep_forever()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A filled store (``fill``), by URL, as the CLI opens it."""
    clock = ManualClock(T0)
    store: SqlStore
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        store = SqliteStore(tmp_path / "app.db", clock)
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        name = f"ls_{next(_databases)}_{tmp_path.name[-8:]}".replace("-", "_").lower()
        server.create_database(name)
        url = server.url_for(name)
        store = PostgresStore(url, clock)
    try:
        trio.run(fill, store, clock)
    finally:
        store.close()
    return url


def ls(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["--store", url, "ls", *args])
    out = capsys.readouterr()
    assert out.err == "", out.err
    return code, out.out.splitlines()


def test_ls_pages_through_the_roots_with_their_times_attempts_and_owner(store_url: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, first = ls(store_url, capsys, "--limit", "3")
    assert code == 0
    assert first == [
        "ID       STATE     FUNCTION  CREATED (UTC)        SETTLED (UTC)        ATTEMPTS  OWNER",
        "order-1  resolved  checkout  2027-01-15 08:00:00  2027-01-15 08:07:05  0         -",
        "order-2  pending   checkout  2027-01-15 08:01:00  -                    1         host-a:412:9f3c2e",
        "order-3  rejected  checkout  2027-01-15 08:02:00  2027-01-15 08:07:05  0         -",
        "3 roots; next page: python -m pytest_durable ls --limit 3 --after order-3",
    ]
    pages = [first]
    while "next page: " in pages[-1][-1]:  # follow each page's last line, as written
        command = shlex.split(pages[-1][-1].split("next page: python -m pytest_durable ", 1)[1])
        code, page = ls(store_url, capsys, *command[1:])
        assert code == 0
        pages.append(page)
    ids = [line.split()[0] for page in pages for line in page[1:-1]]
    assert ids == [f"order-{i}" for i in range(1, 8)] + ["approval-1"]  # roots, in creation order; no bookkeeping
    assert pages[-1] == [  # each page's columns are as wide as its own rows need
        "ID          STATE    FUNCTION  CREATED (UTC)        SETTLED (UTC)  ATTEMPTS  OWNER",
        "order-7     pending  checkout  2027-01-15 08:06:00  -              0         -",
        "approval-1  pending  -         2027-01-15 08:07:00  -              -         -",
        "2 roots; no more",
    ]


def test_ls_filters_by_state_function_and_prefix_and_all_shows_children(store_url: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def ids(*args: str) -> list[str]:
        code, lines = ls(store_url, capsys, *args)
        assert code == 0
        return [line.split()[0] for line in lines[1:-1]]

    assert ids("--state", "pending") == [f"order-{i}" for i in range(2, 8) if i != 3] + ["approval-1"]
    assert ids("--state", "rejected") == ["order-3"]
    assert ids("--function", "checkout", "--prefix", "order-6") == ["order-6"]
    assert ids("--function", "charge") == []  # children: not roots
    assert ids("--all", "--function", "charge", "--prefix", "order-1") == ["order-1.0", "order-1.1"]
    everything = ids("--all", "--limit", "100")
    assert len(everything) == 7 * 3 + 1 and not any(i.startswith(("durable:", PRESENCE)) for i in everything)
    code, lines = ls(store_url, capsys, "--all", "--state", "pending", "--limit", "2")
    assert [line.split()[0] for line in lines[1:-1]] == ["order-1.0", "order-1.1"]  # order-1 itself is resolved
    assert lines[-1] == ("2 promises; next page: python -m pytest_durable ls --all --state pending --limit 2 "
                         "--after order-1.1")
    code, lines = ls(store_url, capsys, "--state", "rejected_canceled")
    assert (code, lines) == (0, ["0 roots; no more"])


def test_ls_refuses_a_cursor_that_names_no_promise_in_one_line(store_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", store_url, "ls", "--after", "order-99"]) == 2
    assert capsys.readouterr().err == ("error: ls --after order-99: no promise with that id; give the last id of the "
                                       "page before, as its last line says\n")
    with pytest.raises(SystemExit) as exited:
        main(["--store", store_url, "ls", "--limit", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == ("error: ls: argument --limit: '0' is not a whole number of rows >= 1, e.g. "
                                       "--limit 100 (see python -m pytest_durable ls --help)\n")


def test_the_roots_query_runs_over_the_parent_index(tmp_path: Path) -> None:
    """SQLite's plan for a page of roots searches ``promises_by_parent``; it does not scan the promises."""
    store = SqliteStore(tmp_path / "app.db", ManualClock(T0))
    trio.run(fill, store, ManualClock(T0))
    connection = store.engine.connection
    plans: list[str] = []

    def explain(sql: str, *params: Any) -> Any:
        if "FROM promises p" in sql:
            plans.extend(row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
        return connection.execute(sql, params)

    query: Callable[..., Any] = explain
    page, more = list_page(query, ListQuery(state=PromiseState.PENDING, function="checkout", limit=2))
    assert [p.id for p in page] == ["order-2", "order-4"] and more
    assert any("USING INDEX promises_by_parent (parent=?" in plan for plan in plans), plans
    assert not any(plan.startswith("SCAN p") for plan in plans), plans
    store.close()
