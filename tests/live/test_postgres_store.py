"""``PostgresStore`` beyond the contract: its own versioned schema, errors that name the database but never
its password, records that outlive the connection and the process, several processes contending on one
database, any string stored, a lost connection reopened, and ``open_store`` on a ``postgresql://`` URL.
(The contract itself: ``test_store_contract.py`` and ``test_store_differential.py``.) Every test runs
against the real server of ``tests/conftest.py``, on a fresh database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import trio

from pytest_durable.core import (
    Fence,
    ManualClock,
    MemoryStore,
    PromiseState,
    StoreUnavailable,
    TaskState,
    TaskStateError,
    WallClock,
    task_invariant_violations,
)
from pytest_durable.live import SCHEMA_VERSION, PostgresStore, SchemaError, open_store
from pytest_durable.live.postgres_store import WRITE_LOCK, escape_text, redact, unescape_text
from pytest_durable.live.threaded import Threaded
from pytest_durable.testing.pgserver import PgServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-Secret"  # the test server trusts the socket, so any password is accepted and ignored


def run_now(coro):
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise AssertionError("store call suspended")


def url_of(server: PgServer, dbname: str, *, password: str = SECRET) -> str:
    return f"postgresql://{server.user}:{password}@/{dbname}?host={server.socket_dir}&port={server.port}"


def test_the_schema_is_versioned_and_a_newer_one_is_refused_naming_the_database_not_the_password(
    pg_server: PgServer, postgres_dsn: str
) -> None:
    dbname = postgres_dsn.rsplit("dbname=", 1)[1].strip("'")
    url = url_of(pg_server, dbname)
    PostgresStore(url).close()
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        types = dict(db.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'promises'").fetchall())
        assert (types["seq"], types["timeout_at"], types["param"]) == ("bigint", "double precision", "text")
        db.execute("UPDATE schema_version SET version = %s", [SCHEMA_VERSION + 1])
    with pytest.raises(SchemaError) as info:
        PostgresStore(url)
    without_password = f"postgresql://{pg_server.user}@/{dbname}?host={pg_server.socket_dir}&port={pg_server.port}"
    assert str(info.value) == (
        f"PostgresStore({without_password!r}): the store's schema is version {SCHEMA_VERSION + 1} (written by a "
        f"newer pytest-durable: upgrade this one); this pytest-durable reads version {SCHEMA_VERSION} only"
    )
    assert SECRET not in str(info.value)


def test_a_database_that_is_not_a_store_is_refused(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        db.execute("CREATE TABLE tasks (x int)")
    with pytest.raises(SchemaError, match=r"has tables named tasks but no schema_version table, so it is not a "
                                          r"pytest-durable store"):
        PostgresStore(postgres_dsn + f" password='{SECRET}'")


def test_connection_errors_name_the_database_without_the_password(pg_server: PgServer) -> None:
    with pytest.raises(StoreUnavailable) as info:
        PostgresStore(url_of(pg_server, "no_such_db"))
    message = str(info.value)
    assert message.startswith(f"PostgresStore('postgresql://{pg_server.user}@/no_such_db?host=")
    assert 'database "no_such_db" does not exist' in message
    assert SECRET not in message
    with pytest.raises(SchemaError) as bad:
        PostgresStore(f"password={SECRET} hots=typo")
    assert str(bad.value) == (
        "PostgresStore('hots=typo'): not a connection string this store can use: invalid connection option \"hots\""
    )


@pytest.mark.parametrize("dsn, shown", [
    ("postgresql://app:pw@db.example/prod", "postgresql://app@db.example/prod"),
    ("postgres://app:pw@db/prod?sslmode=require&password=pw", "postgres://app@db/prod?sslmode=require"),
    ("postgresql://db/prod?password=pw&sslmode=require", "postgresql://db/prod?sslmode=require"),
    ("host=db password='p w\\'x' dbname=prod", "host=db dbname=prod"),
    ("password=pw host=db", "host=db"),
    ("postgresql://app@db/prod", "postgresql://app@db/prod"),
])
def test_redact_removes_the_password_whatever_the_form(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown


def test_records_outlive_the_connection_and_its_process(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn, ManualClock(10.0)) as store:
        run_now(store.create_promise("job", "p", 100.0, {"k": "v"}, target="g"))
        task = run_now(store.acquire_task("job", "w1", 30.0))
        run_now(store.create_promise("job.0", "c", 50.0, {"durable:parent": "job"}, fence=Fence("job", task.version)))
        before = store.snapshot()
    script = (
        "import sys; from pytest_durable.live import PostgresStore; from pytest_durable.core import ManualClock\n"
        "s = PostgresStore(sys.argv[1], ManualClock(20.0))\n"
        "print([(p.id, p.state.value) for p in s.promises()], [(t.id, t.state.value, t.version) for t in s.tasks()])"
    )
    out = subprocess.run([sys.executable, "-c", script, postgres_dsn], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.strip()
    assert out == "[('job', 'pending'), ('job.0', 'pending')] [('job', 'acquired', 1)]"
    with PostgresStore(postgres_dsn, ManualClock(45.0)) as again:
        assert again.snapshot() == before
        # The lease (taken at 10 for 30 s) has run out at 45: the reopened store applies it.
        assert run_now(again.get_task("job")).state is TaskState.PENDING


def test_any_string_is_stored_as_the_memory_store_keeps_it(postgres_dsn: str) -> None:
    """PostgreSQL text cannot hold NUL; the store escapes it, so ids, params, values and targets with NUL
    (and the escape character itself) come back exactly, and stay distinct from look-alikes."""
    for text in ["", "a", "\x00", "\x01", "\x01\x02", "\x00\x01\x00", "a\x01\x01b", "\x02", "é\x00🙂"]:
        assert unescape_text(escape_text(text)) == text
        assert "\x00" not in escape_text(text)
    clock = ManualClock()
    memory = MemoryStore(clock)
    with PostgresStore(postgres_dsn, clock) as store:
        ids = ["\x00", "\x01\x02", "\x01", "x\x00y", "x\x01\x02y", "plain"]
        for i, id in enumerate(ids):
            for s in (memory, store):
                run_now(s.create_promise(id, f"p\x00{i}\x01", 10.0, {"k\x00": "v\x01"}, target=f"g\x00{i % 2}"))
        for s in (memory, store):
            run_now(s.settle_promise("\x01", PromiseState.RESOLVED, '"\x00"'))
        assert store.snapshot() == memory.snapshot()
        assert run_now(store.dispatch("g\x000", 10)) == run_now(memory.dispatch("g\x000", 10))
        assert len({p.id for p in store.promises()}) == len(ids)


def test_the_default_clock_is_the_wall_clock(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn) as store:
        assert isinstance(store.clock, WallClock)
        before = time.time()
        record = run_now(store.create_promise("job", "p", before + 60))
        assert before <= record.created_on <= time.time()  # epoch seconds, not trio's per-run offset


def test_every_write_takes_the_one_write_lock(postgres_dsn: str) -> None:
    """While another session holds the store's advisory lock, a write waits for it (here: until its
    ``lock_timeout``, then a driver error that ``Threaded`` reports as ``StoreUnavailable``); reads do not."""
    with PostgresStore(postgres_dsn, ManualClock(), lock_timeout=0.2) as store, \
            psycopg.connect(postgres_dsn, autocommit=True) as other:
        run_now(store.create_promise("job", "p", 100.0, target="g"))
        other.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK])
        with pytest.raises(psycopg.errors.LockNotAvailable):
            run_now(store.create_promise("job2", "p", 100.0))
        threaded = Threaded(store, transient=(psycopg.OperationalError,))
        with pytest.raises(StoreUnavailable, match=r"LockNotAvailable: canceling statement due to lock timeout"):
            trio.run(threaded.get_task, "job")
        assert [p.id for p in store.promises()] == ["job"]  # reads take no lock
        other.execute("SELECT pg_advisory_unlock(%s)", [WRITE_LOCK])
        run_now(store.create_promise("job2", "p", 100.0))
        assert [p.id for p in store.promises()] == ["job", "job2"]


def test_a_lost_connection_is_reopened_at_the_next_operation(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn, ManualClock()) as store, psycopg.connect(postgres_dsn, autocommit=True) as admin:
        threaded = Threaded(store, transient=(psycopg.OperationalError,))
        trio.run(lambda: threaded.create_promise("job", "p", 100.0, target="g"))
        pid = store.engine.connection.conn.info.backend_pid  # type: ignore[attr-defined]
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(StoreUnavailable):  # the operation in flight when the server dropped the session
            trio.run(threaded.get_promise, "job")
        record = trio.run(threaded.get_promise, "job")  # the next one reconnects
        assert record.id == "job" and store.engine.connection.conn.info.backend_pid != pid  # type: ignore[attr-defined]


def test_a_lost_connection_is_reopened_at_a_one_statement_read_too(postgres_dsn: str) -> None:
    """A read of one statement runs outside any transaction (no ``BEGIN``), and is the start of an
    operation all the same: the one after a lost session reconnects, and none reconnects mid-transaction."""
    with PostgresStore(postgres_dsn, ManualClock()) as store, psycopg.connect(postgres_dsn, autocommit=True) as admin:
        run_now(store.create_promise("job", "p", 100.0, target="g"))
        pid = store.engine.connection.conn.info.backend_pid  # type: ignore[attr-defined]
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg.OperationalError):  # the read in flight when the server dropped the session
            store.next_due()
        assert store.next_due() == 100.0  # the next one reconnects
        assert store.engine.connection.conn.info.backend_pid != pid  # type: ignore[attr-defined]
        assert store.promise("job") is not None and run_now(store.get_task("job")).state is TaskState.PENDING


WORKER = """
import sys
from pytest_durable.core import Fence, PromiseState, StoreError
from pytest_durable.live import PostgresStore

dsn, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = PostgresStore(dsn)
engine = store.engine
print("ready", flush=True)
sys.stdin.readline()  # start together, so the processes really contend
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


def test_several_processes_share_one_database_and_each_task_is_done_once(postgres_dsn: str) -> None:
    """Three processes create the same 60 jobs and compete for their tasks on one database at once: every
    job is created once, acquired once, fulfilled once by the process that acquired it."""
    PostgresStore(postgres_dsn).close()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, postgres_dsn, f"w{i}", "60", "go"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT) for i in range(3)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.communicate()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    done = {f"w{i}": out.split() for i, (out, _) in enumerate(outputs)}
    all_done = [job for jobs in done.values() for job in jobs]
    assert sorted(all_done) == sorted(f"job-{i}" for i in range(60))  # each exactly once
    with PostgresStore(postgres_dsn) as store:
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


def test_open_store_takes_a_postgresql_url_and_runs_each_operation_in_a_thread(pg_server: PgServer,
                                                                                postgres_dsn: str) -> None:
    dbname = postgres_dsn.rsplit("dbname=", 1)[1].strip("'")
    for scheme in ("postgresql", "postgres"):
        store = open_store(url_of(pg_server, dbname).replace("postgresql", scheme, 1))
        try:
            assert isinstance(store, Threaded) and isinstance(store.store, PostgresStore)
            assert store.transient == (psycopg.OperationalError,)
            assert isinstance(store.clock, WallClock)

            async def work(store: Threaded, id: str) -> list[str]:
                await store.create_promise(id, "p", time.time() + 60, target="g")
                return [t.id for t in await store.dispatch("g", 10)]

            assert f"job-{scheme}" in trio.run(work, store, f"job-{scheme}")
        finally:
            store.close()
    with PostgresStore(postgres_dsn) as direct:
        assert [p.id for p in direct.promises()] == ["job-postgresql", "job-postgres"]
    with pytest.raises(StoreUnavailable) as info:
        open_store(url_of(pg_server, "missing_db"))
    assert SECRET not in str(info.value) and "missing_db" in str(info.value)


def test_importing_the_live_runtime_does_not_import_psycopg() -> None:
    script = "import sys, pytest_durable.live; print(sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
