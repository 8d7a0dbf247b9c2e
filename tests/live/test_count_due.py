"""``SqlEngine.count_due``, what a worker's ``durable_tasks_due`` metric reads at each scrape: the tasks of
a group due now (pending ones whose time has come, held ones whose lease ran out), on SQLite and
PostgreSQL, compared with what a dispatch then hands out."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable.core.clock import ManualClock
from pytest_durable.core.records import Fence
from pytest_durable.live import PostgresStore, SqliteStore


def run_now(coro):  # type: ignore[no-untyped-def]
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    raise AssertionError("store call suspended")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_due_count_is_what_a_dispatch_would_find_and_changes_nothing(kind: str, tmp_path: Path,
                                                                        request: pytest.FixtureRequest) -> None:
    clock = ManualClock()
    if kind == "sqlite":
        store: SqliteStore | PostgresStore = SqliteStore(tmp_path / "s.db", clock, cross_process=False)
    else:
        store = PostgresStore(request.getfixturevalue("postgres_dsn"), clock, cross_process=False)
    try:
        for id in ("a", "b", "c", "d"):
            run_now(store.create_promise(id, "p", 1000.0, target="g"))
        run_now(store.create_promise("other", "p", 1000.0, target="h"))
        assert (store.engine.count_due("g"), store.engine.count_due("h"), store.engine.count_due("none")) == (4, 1, 0)
        held = run_now(store.acquire_task("a", "w1", 5.0))
        run_now(store.acquire_task("b", "w1", 50.0))
        failed = run_now(store.acquire_task("c", "w1", 50.0))
        run_now(store.release_task(Fence("c", failed.version), error="boom"))  # due again in 5 s
        assert store.engine.count_due("g") == 1  # d
        clock.advance(6.0)  # a's lease ran out (not yet applied), c's retry time came
        before = store.snapshot()
        assert store.engine.count_due("g") == 3
        assert store.snapshot() == before
        assert sorted(t.id for t in run_now(store.dispatch("g", 10))) == ["a", "c", "d"]
        assert run_now(store.get_task("a")).lapsed_owner == held.lease_owner
    finally:
        store.close()
