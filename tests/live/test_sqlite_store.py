"""``SqliteStore`` beyond the contract: its own versioned schema, records that outlive the process,
several processes on one file, the wall clock by default, and its sync engine usable from a thread.
(The contract itself: ``test_store_contract.py`` and ``test_store_differential.py``.)"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from pytest_durable.core import (
    Fence,
    ManualClock,
    PromiseState,
    TaskState,
    TaskStateError,
    WallClock,
    task_invariant_violations,
)
from pytest_durable.live import SCHEMA_VERSION, SchemaError, SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def run_now(coro):
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise AssertionError("store call suspended")


def test_records_outlive_the_store_object_and_its_process(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    clock = ManualClock(10.0)
    with SqliteStore(path, clock) as store:
        run_now(store.create_promise("job", "p", 100.0, {"k": "v"}, target="g"))
        task = run_now(store.acquire_task("job", "w1", 30.0))
        run_now(store.create_promise("job.0", "c", 50.0, {"durable:parent": "job"}, fence=Fence("job", task.version)))
        before = store.snapshot()
    script = (
        "import sys; from pytest_durable.live import SqliteStore; from pytest_durable.core import ManualClock\n"
        "s = SqliteStore(sys.argv[1], ManualClock(20.0))\n"
        "print([(p.id, p.state.value) for p in s.promises()], [(t.id, t.state.value, t.version) for t in s.tasks()])"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.strip()
    assert out == "[('job', 'pending'), ('job.0', 'pending')] [('job', 'acquired', 1)]"
    with SqliteStore(path, ManualClock(45.0)) as again:
        assert again.snapshot() == before
        # The lease (taken at 10 for 30 s) has run out at 45: the reopened store applies it.
        assert run_now(again.get_task("job")).state is TaskState.PENDING


def test_the_schema_is_versioned_and_a_newer_one_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(SchemaError) as info:
        SqliteStore(path)
    assert str(info.value) == (
        f"SqliteStore({str(path)!r}): the store's schema is version {SCHEMA_VERSION + 1} (written by a newer "
        f"pytest-durable: upgrade this one); this pytest-durable reads version {SCHEMA_VERSION} only"
    )


def test_a_database_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.db"
    with sqlite3.connect(theirs) as db:
        db.execute("CREATE TABLE promises (x)")
    db.close()
    with pytest.raises(SchemaError, match=r"has tables named promises but no schema_version table, so it is not a "
                                          r"pytest-durable store"):
        SqliteStore(theirs)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SchemaError, match=r"junk\.db'\): not a SQLite database this store can use"):
        SqliteStore(junk)


def test_the_default_clock_is_the_wall_clock(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "app.db") as store:
        assert isinstance(store.clock, WallClock)
        before = time.time()
        record = run_now(store.create_promise("job", "p", before + 60))
        assert before <= record.created_on <= time.time()  # epoch seconds, not trio's per-run offset


def test_the_sync_engine_runs_in_a_worker_thread(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "app.db", ManualClock()) as store:
        async def main() -> None:
            await trio.to_thread.run_sync(lambda: store.engine.create_promise("job", "p", 10.0, target="g"))
            tasks = await trio.to_thread.run_sync(store.engine.dispatch, "g", 5)
            assert [t.id for t in tasks] == ["job"]

        trio.run(main)
        assert [p.id for p in store.promises()] == ["job"]


WORKER = """
import os, sys, time
from pytest_durable.core import Fence, PromiseState, StoreError
from pytest_durable.live import SqliteStore

path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = SqliteStore(path, busy_timeout=60.0)
engine = store.engine
open(path + ".ready-" + name, "w").close()
while not os.path.exists(path + ".go"):  # start together, so the processes really contend
    time.sleep(0.01)
for i in range(n):
    engine.create_promise(f"job-{i}", "p", 1e12, target="g")  # every process creates every job: one wins
done = []
while True:
    tasks = engine.dispatch("g", 1)
    if not tasks and all(p.settled for p in store.promises()):
        break
    for t in tasks:
        try:
            task = engine.acquire_task(t.id, name, 60.0)
        except StoreError:
            continue  # another process took it first
        engine.fulfill_task(Fence(t.id, task.version), PromiseState.RESOLVED, '"' + name + '"')
        done.append(t.id)
print(" ".join(done))
"""


def test_several_processes_share_one_file_and_each_task_is_done_once(tmp_path: Path) -> None:
    """Three processes create the same 60 jobs and compete for their tasks on one file at once: every job
    is created once, acquired once, fulfilled once by the process that acquired it."""
    path = tmp_path / "shared.db"
    SqliteStore(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), f"w{i}", "60"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for i in range(3)]
    while not all(Path(f"{path}.ready-w{i}").exists() for i in range(3)) and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    Path(f"{path}.go").touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    done = {f"w{i}": out.split() for i, (out, _) in enumerate(outputs)}
    all_done = [job for jobs in done.values() for job in jobs]
    assert sorted(all_done) == sorted(f"job-{i}" for i in range(60))  # each exactly once
    with SqliteStore(path) as store:
        promises = store.promise_map()
        assert len(promises) == 60
        for name, jobs in done.items():
            for job in jobs:
                assert json.loads(promises[job].value or "") == name  # settled by the process that ran it
                assert promises[job].state is PromiseState.RESOLVED
        tasks = store.tasks()
        assert {(t.state, t.version, t.attempts) for t in tasks} == {(TaskState.FULFILLED, 1, 1)}
        assert task_invariant_violations(tasks, promises) == []
        with pytest.raises(TaskStateError):
            run_now(store.acquire_task("job-0", "late", 5.0))
