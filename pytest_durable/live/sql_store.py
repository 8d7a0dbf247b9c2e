"""The store contract of DESIGN §3 in SQL, shared by the SQLite and PostgreSQL stores.

``SqlEngine`` is a line-by-line port of the reference ``MemoryStore`` onto tables, so that it gives
the same answer and the same error to every sequence of operations (the differential test checks
this). Its methods are synchronous: the simulator applies a request in one step, and a live worker
can run them in a thread. ``SqlStore`` puts the async ``Store`` face and the ``Inspect`` protocol on
top of an engine.

Decisions, each for a reason:

* **One transaction per operation, one writer at a time.** An operation reads and writes several rows
  and may apply due timeouts and lease expiries first, as the reference store does; running each one
  alone (SQLite ``BEGIN IMMEDIATE``; a dialect may take a lock instead) makes it atomic and puts every
  operation in one order, so no row locking per statement is needed.
* **A refused operation still commits.** The reference store applies due timeouts and lease expiries
  lazily on access, even on the way to refusing a write (``Fenced``, ``NotFound``, ...); those effects
  are committed before the error is raised, so both stores agree. Any other error rolls back.
* **Time is stamped by the injected ``Clock``,** never by the database: the simulator passes its
  virtual clock, production a ``WallClock`` (epoch seconds, the same in every process and after a
  restart). All arithmetic on times happens in Python, so stored floats are bit-for-bit the reference's.
* **Order is explicit.** Every ordered structure of the reference store has a ``seq`` column: promises
  and tasks in creation order, pending tasks in the order they became pending (dispatch order),
  waiters in the order they were registered (resume order), lease entries in push order (expiry order,
  including the stale entries a heartbeat leaves behind, as the reference's heap keeps them). A new
  ``seq`` is one more than the largest present, computed under the write lock.
* **The schema is the store's own,** created on first open and versioned in ``schema_version``; a file
  with another version, or tables that are not ours, is refused with ``SchemaError`` naming the file.

The dialect seam (``Dialect``) holds what differs between databases: parameter placeholders, column
types, how a write transaction starts (and what it locks), and how to ask whether a table exists.
Upserts use ``INSERT ... ON CONFLICT DO NOTHING``, which both SQLite and PostgreSQL accept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol

import attrs

from ..core.clock import Clock
from ..core.errors import Fenced, NotFound, StoreError, TaskStateError, UsageError
from ..core.inspection import StoreSnapshot
from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord, TaskState
from ..core.store import TAG_PARENT, TAG_TARGET, TAG_TIMER, failure_delay

#: The version of the tables below; a store upgrades a version-1 database (adding the tasks' error and
#: failures) and refuses any other version.
SCHEMA_VERSION = 2

_SETTLE_STATES = (PromiseState.RESOLVED, PromiseState.REJECTED, PromiseState.REJECTED_CANCELED)

_TABLES = (
    "CREATE TABLE schema_version (version {int} NOT NULL)",
    "CREATE TABLE promises (seq {int} PRIMARY KEY, id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, "
    "param TEXT NOT NULL, value TEXT, timeout_at {real} NOT NULL, tags TEXT NOT NULL, created_on {real} NOT NULL, "
    "settled_on {real}, parent TEXT)",
    "CREATE INDEX promises_by_parent ON promises (parent, seq)",
    "CREATE INDEX promises_by_timeout ON promises (state, timeout_at, seq)",
    "CREATE TABLE tasks (seq {int} PRIMARY KEY, id TEXT NOT NULL UNIQUE, promise_id TEXT NOT NULL, "
    "target TEXT NOT NULL, state TEXT NOT NULL, version {int} NOT NULL, lease_owner TEXT, lease_expires_at {real}, "
    "retry_at {real}, callbacks TEXT NOT NULL, attempts {int} NOT NULL, ttl {real}, error TEXT, "
    "failures {int} NOT NULL DEFAULT 0)",
    "CREATE TABLE pending (seq {int} PRIMARY KEY, task_id TEXT NOT NULL UNIQUE, target TEXT NOT NULL)",
    "CREATE INDEX pending_by_target ON pending (target, seq)",
    "CREATE TABLE waiters (seq {int} PRIMARY KEY, promise_id TEXT NOT NULL, task_id TEXT NOT NULL, "
    "UNIQUE (promise_id, task_id))",
    "CREATE INDEX waiters_by_task ON waiters (task_id)",
    "CREATE TABLE leases (seq {int} PRIMARY KEY, expires_at {real} NOT NULL, task_id TEXT NOT NULL)",
    "CREATE INDEX leases_by_time ON leases (expires_at, seq)",
)
_OUR_TABLES = ("schema_version", "promises", "tasks", "pending", "waiters", "leases")

_P_COLS = "id, state, param, value, timeout_at, tags, created_on, settled_on"
_T_COLS = ("id, promise_id, target, state, version, lease_owner, lease_expires_at, retry_at, callbacks, attempts, "
           "error, failures")


class SchemaError(StoreError):
    """The database holds a schema this store cannot use: another version, or tables that are not ours."""


class Torn(BaseException):
    """The process died in the middle of a transaction: nothing of it was committed. Only the
    simulator's server crash raises it; a BaseException so no ``except Exception`` takes it."""


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the engine uses, in autocommit mode (it sends BEGIN itself)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def close(self) -> None: ...


@attrs.frozen
class Dialect:
    """What differs between SQL databases, and nothing else."""

    name: str
    #: The parameter placeholder; the engine writes ``?`` and replaces it with this.
    placeholder: str
    #: Statements that start a write transaction and make it the only writer until it ends.
    begin_write: tuple[str, ...]
    #: The statement that starts a read-only transaction seeing one consistent snapshot.
    begin_read: str
    #: A query with one parameter (a table name) that returns a row when the table exists.
    table_exists: str
    integer: str = "INTEGER"
    real: str = "REAL"

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


def _promise_from(row: Sequence[Any]) -> PromiseRecord:
    id, state, param, value, timeout_at, tags, created_on, settled_on = row
    return PromiseRecord(
        id=id, state=PromiseState(state), param=param, value=value, timeout_at=float(timeout_at),
        tags=json.loads(tags), created_on=float(created_on),
        settled_on=None if settled_on is None else float(settled_on),
    )


def _task_from(row: Sequence[Any]) -> TaskRecord:
    id, promise_id, target, state, version, owner, expires, retry_at, callbacks, attempts, error, failures = row
    return TaskRecord(
        id=id, promise_id=promise_id, target=target, state=TaskState(state), version=int(version),
        lease_owner=owner, lease_expires_at=None if expires is None else float(expires),
        retry_at=None if retry_at is None else float(retry_at), callbacks=tuple(json.loads(callbacks)),
        attempts=int(attempts), error=error, failures=int(failures),
    )


class SqlEngine:
    """The store contract over one database connection, synchronously (see the module docstring).

    ``where`` names the database in errors (a file path, a DSN without its password).
    """

    def __init__(
        self, connection: Connection, dialect: Dialect, clock: Clock, *, redispatch_after: float, where: str
    ) -> None:
        self.connection = connection
        self.dialect = dialect
        self.clock = clock
        self.redispatch_after = redispatch_after
        self.where = where
        self._lock = threading.Lock()  # one operation at a time on this connection (threads)
        #: Set by the simulator to make the next write transaction die before it commits.
        self.die_before_commit = False

    # -- plumbing ------------------------------------------------------------------------------------

    def _x(self, sql: str, *params: Any) -> Cursor:
        return self.connection.execute(self.dialect.sql(sql), params)

    def _begin_write(self) -> None:
        """Start a write transaction; if a later statement of it fails (e.g. PostgreSQL's lock times out),
        end the half-begun transaction, so the connection is clean for the next operation."""
        first, *rest = self.dialect.begin_write
        self._x(first)
        try:
            for statement in rest:
                self._x(statement)
        except BaseException:
            with suppress(Exception):  # the statement's own error is the one to report
                self._x("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One operation: the only writer until it ends; committed even if it refuses (see above).
        With ``die_before_commit`` set (the simulator's server crash), the operation runs to its end
        and is then rolled back instead of committed, once, and ``Torn`` is raised."""
        with self._lock:
            self._begin_write()
            try:
                yield
            except (StoreError, UsageError):
                self._end_or_die()  # the due timeouts and expiries applied on the way stay applied
                raise
            except BaseException:
                self._x("ROLLBACK")
                raise
            self._end_or_die()

    def _end_or_die(self) -> None:
        if self.die_before_commit:
            self.die_before_commit = False
            self._x("ROLLBACK")
            raise Torn(f"{self.where}: the server died before the transaction committed")
        self._x("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            self._x(self.dialect.begin_read)
            try:
                yield
            finally:
                self._x("COMMIT")

    def ensure_schema(self) -> None:
        """Create the tables on first use; refuse a database of another version, or not ours."""
        with self._lock:
            self._begin_write()
            try:
                self._ensure_schema()
            except BaseException:
                self._x("ROLLBACK")
                raise
            self._x("COMMIT")

    def _ensure_schema(self) -> None:
        present = [t for t in _OUR_TABLES if self._x(self.dialect.table_exists, t).fetchone() is not None]
        if not present:
            for statement in _TABLES:
                self._x(statement.format(int=self.dialect.integer, real=self.dialect.real))
            self._x("INSERT INTO schema_version (version) VALUES (?)", SCHEMA_VERSION)
            return
        if "schema_version" not in present:
            raise SchemaError(
                f"{self.where}: has tables named {', '.join(present)} but no schema_version table, so it is not a "
                "pytest-durable store; give the store a file or database of its own"
            )
        rows = self._x("SELECT version FROM schema_version").fetchall()
        versions = sorted(int(r[0]) for r in rows)
        if versions == [1]:  # version 2 records on each task the error that stopped it (error, failures)
            self._x("ALTER TABLE tasks ADD COLUMN error TEXT")
            self._x(f"ALTER TABLE tasks ADD COLUMN failures {self.dialect.integer} NOT NULL DEFAULT 0")
            self._x("UPDATE schema_version SET version = ?", SCHEMA_VERSION)
            versions = [SCHEMA_VERSION]
        if versions != [SCHEMA_VERSION]:
            found = ", ".join(map(str, versions)) or "none"
            newer = ""
            if versions and versions[-1] > SCHEMA_VERSION:
                newer = " (written by a newer pytest-durable: upgrade this one)"
            raise SchemaError(
                f"{self.where}: the store's schema is version {found}{newer}; this pytest-durable reads version "
                f"{SCHEMA_VERSION} only"
            )

    def close(self) -> None:
        with self._lock:
            self.connection.close()

    def _next_seq(self, table: str) -> int:
        row = self._x(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
        return int(row[0])

    # -- inspection ------------------------------------------------------------------------------------

    def _all_promises(self) -> list[PromiseRecord]:
        return [_promise_from(r) for r in self._x(f"SELECT {_P_COLS} FROM promises ORDER BY seq").fetchall()]

    def _all_tasks(self) -> list[TaskRecord]:
        return [_task_from(r) for r in self._x(f"SELECT {_T_COLS} FROM tasks ORDER BY seq").fetchall()]

    def promises(self) -> list[PromiseRecord]:
        with self._reading():
            return self._all_promises()

    def tasks(self) -> list[TaskRecord]:
        with self._reading():
            return self._all_tasks()

    def promise(self, id: str) -> PromiseRecord | None:
        with self._reading():
            return self._load_promise(id)

    def promise_count(self) -> int:
        with self._reading():
            return int(self._x("SELECT COUNT(*) FROM promises").fetchone()[0])

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        if not apply_due:
            with self._reading():
                return StoreSnapshot(tuple(self._all_promises()), tuple(self._all_tasks()))
        with self._lock:
            self._begin_write()
            try:
                self._apply_due()
                return StoreSnapshot(tuple(self._all_promises()), tuple(self._all_tasks()))
            finally:
                self._x("ROLLBACK")  # what a sweep would do, without doing it

    # -- promises --------------------------------------------------------------------------------------

    def create_promise(
        self,
        id: str,
        param: str,
        timeout_at: float,
        tags: Mapping[str, str] | None = None,
        *,
        target: str | None = None,
        fence: Fence | None = None,
    ) -> PromiseRecord:
        with self.transaction():
            self._check_fence(fence)
            existing = self._promise_or_none(id)
            if existing is not None:
                return existing
            now = self.clock.now()
            all_tags = dict(tags or {})
            if target is not None:
                all_tags[TAG_TARGET] = target
            record = PromiseRecord(
                id=id, state=PromiseState.PENDING, param=param, value=None,
                timeout_at=timeout_at, tags=all_tags, created_on=now,
            )
            seq = self._next_seq("promises")
            self._x(
                "INSERT INTO promises (seq, id, state, param, value, timeout_at, tags, created_on, settled_on, parent) "
                "VALUES (?, ?, ?, ?, NULL, ?, ?, ?, NULL, ?)",
                seq, id, record.state.value, param, timeout_at, json.dumps(all_tags), now, all_tags.get(TAG_PARENT),
            )
            if timeout_at <= now:
                return self._time_out(record, now)
            if target is not None:
                self._x(
                    f"INSERT INTO tasks (seq, {_T_COLS}, ttl) "
                    "VALUES (?, ?, ?, ?, ?, 0, NULL, NULL, ?, '[]', 0, NULL, 0, NULL)",
                    seq, id, id, target, TaskState.PENDING.value, now,
                )
                self._add_pending(id, target)
            return record

    def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        if state not in _SETTLE_STATES:
            raise UsageError(
                f"settle_promise({id!r}): state must be resolved, rejected or rejected_canceled, "
                f"got {state.value}; timeouts are the store's to apply"
            )
        with self.transaction():
            self._check_fence(fence)
            record = self._promise(id)
            if record.settled:
                return record
            return self._settle(record, state, value)

    def get_promise(self, id: str) -> PromiseRecord:
        with self.transaction():
            return self._promise(id)

    def get_branch(self, id: str) -> list[PromiseRecord]:
        with self.transaction():
            root = self._promise(id)
            rows = self._x(
                "WITH RECURSIVE branch(id) AS (SELECT ? UNION SELECT p.id FROM promises p JOIN branch b "
                "ON p.parent = b.id) SELECT p.id FROM promises p JOIN branch b ON p.id = b.id WHERE p.id <> ? "
                "ORDER BY p.seq",
                id, id,
            ).fetchall()
            return [root, *(self._promise(r[0]) for r in rows)]

    # -- tasks -----------------------------------------------------------------------------------------

    def get_task(self, id: str) -> TaskRecord:
        with self.transaction():
            return self._task(id)

    def dispatch(self, target: str, limit: int) -> list[TaskRecord]:
        with self.transaction():
            self._apply_due()
            now = self.clock.now()
            out: list[TaskRecord] = []
            rows = self._x("SELECT task_id FROM pending WHERE target = ? ORDER BY seq", target).fetchall()
            ids = [r[0] for r in rows]
            for task_id in ids:
                if len(out) >= limit:
                    break
                task = self._task(task_id)
                if task.state is not TaskState.PENDING or task.retry_at is None or task.retry_at > now:
                    continue
                task = self._put_task(attrs.evolve(task, retry_at=now + self.redispatch_after))
                out.append(task)
            return out

    def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        if ttl <= 0:
            raise UsageError(f"acquire_task({id!r}): ttl must be > 0 seconds, got {ttl}")
        with self.transaction():
            task = self._task(id)
            if task.state is not TaskState.PENDING:
                raise TaskStateError(f"task {id!r} is {task.state.value}, only a pending task can be acquired")
            now = self.clock.now()
            self._x("DELETE FROM pending WHERE task_id = ?", id)
            task = self._put_task(
                attrs.evolve(
                    task, state=TaskState.ACQUIRED, version=task.version + 1, lease_owner=owner,
                    lease_expires_at=now + ttl, retry_at=None, attempts=task.attempts + 1,
                )
            )
            self._x("UPDATE tasks SET ttl = ? WHERE id = ?", ttl, id)
            self._push_lease(task)
            return task

    def heartbeat_task(self, fence: Fence) -> TaskRecord:
        with self.transaction():
            task = self._check_fence(fence)
            assert task is not None
            ttl = float(self._x("SELECT ttl FROM tasks WHERE id = ?", task.id).fetchone()[0])
            task = self._put_task(attrs.evolve(task, lease_expires_at=self.clock.now() + ttl))
            self._push_lease(task)
            return task

    def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        with self.transaction():
            task = self._check_fence(fence)
            assert task is not None
            now = self.clock.now()
            if error is None:
                return self._to_pending(task, now)
            failures = task.failures + 1
            task = attrs.evolve(task, error=error, failures=failures)
            return self._to_pending(task, now, due=now + failure_delay(failures))

    def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        if state not in _SETTLE_STATES:
            raise UsageError(
                f"fulfill_task({fence.task_id!r}): state must be resolved, rejected or "
                f"rejected_canceled, got {state.value}"
            )
        with self.transaction():
            task = self._check_fence(fence)
            assert task is not None
            record = self._promise(task.promise_id)
            if record.settled:
                self._complete(task.id)
                return record
            return self._settle(record, state, value)

    def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        with self.transaction():
            task = self._check_fence(fence)
            assert task is not None
            if not awaiting:
                raise UsageError(f"suspend_task({fence.task_id!r}): awaiting must name at least one promise")
            records = [self._promise(p) for p in awaiting]
            if any(r.settled for r in records):
                return SuspendResult.REDIRECT
            callbacks = tuple(dict.fromkeys(awaiting))
            self._put_task(
                attrs.evolve(
                    task, state=TaskState.SUSPENDED, lease_owner=None, lease_expires_at=None,
                    retry_at=None, callbacks=callbacks,
                )
            )
            for p in callbacks:
                self._x(
                    "INSERT INTO waiters (seq, promise_id, task_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    self._next_seq("waiters"), p, task.id,
                )
            return SuspendResult.SUSPENDED

    def sweep(self) -> None:
        with self.transaction():
            self._apply_due()

    # -- internals (each mirrors the MemoryStore method of the same name) -------------------------------

    def _load_promise(self, id: str) -> PromiseRecord | None:
        row = self._x(f"SELECT {_P_COLS} FROM promises WHERE id = ?", id).fetchone()
        return None if row is None else _promise_from(row)

    def _load_task(self, id: str) -> TaskRecord | None:
        row = self._x(f"SELECT {_T_COLS} FROM tasks WHERE id = ?", id).fetchone()
        return None if row is None else _task_from(row)

    def _apply_due(self) -> None:
        """Every due timeout (in order of timeout, then creation), then every due lease expiry."""
        now = self.clock.now()
        due = self._x(
            "SELECT id FROM promises WHERE state = ? AND timeout_at <= ? ORDER BY timeout_at, seq",
            PromiseState.PENDING.value, now,
        ).fetchall()
        for (pid,) in due:
            record = self._load_promise(pid)
            assert record is not None
            if not record.settled and record.timeout_at <= now:
                self._time_out(record, now)
        self._expire_leases()

    def _push_lease(self, task: TaskRecord) -> None:
        assert task.lease_expires_at is not None
        self._x(
            "INSERT INTO leases (seq, expires_at, task_id) VALUES (?, ?, ?)",
            self._next_seq("leases"), task.lease_expires_at, task.id,
        )

    def _expire_leases(self) -> None:
        now = self.clock.now()
        while True:
            row = self._x(
                "SELECT seq, task_id FROM leases WHERE expires_at <= ? ORDER BY expires_at, seq LIMIT 1", now
            ).fetchone()
            if row is None:
                return
            self._x("DELETE FROM leases WHERE seq = ?", row[0])
            self._task(row[1])  # applies the expiry if it is still due

    def _promise_or_none(self, id: str) -> PromiseRecord | None:
        record = self._load_promise(id)
        if record is not None and not record.settled:
            now = self.clock.now()
            if record.timeout_at <= now:
                record = self._time_out(record, now)
        return record

    def _promise(self, id: str) -> PromiseRecord:
        record = self._promise_or_none(id)
        if record is None:
            raise NotFound("promise", id)
        return record

    def _task(self, id: str) -> TaskRecord:
        task = self._load_task(id)
        if task is None:
            raise NotFound("task", id)
        self._promise(task.promise_id)  # a due timeout of its promise completes the task
        task = self._must_task(id)
        if task.state is TaskState.SUSPENDED:
            for awaited in task.callbacks:  # a due timeout of an awaited promise resumes it
                self._promise(awaited)
            task = self._must_task(id)
        if task.state is TaskState.ACQUIRED:
            assert task.lease_expires_at is not None
            now = self.clock.now()
            if task.lease_expires_at <= now:
                task = self._to_pending(task, now)
        return task

    def _must_task(self, id: str) -> TaskRecord:
        task = self._load_task(id)
        assert task is not None
        return task

    def _put_task(self, task: TaskRecord) -> TaskRecord:
        self._x(
            "UPDATE tasks SET state = ?, version = ?, lease_owner = ?, lease_expires_at = ?, retry_at = ?, "
            "callbacks = ?, attempts = ?, error = ?, failures = ? WHERE id = ?",
            task.state.value, task.version, task.lease_owner, task.lease_expires_at, task.retry_at,
            json.dumps(list(task.callbacks)), task.attempts, task.error, task.failures, task.id,
        )
        return task

    def _add_pending(self, task_id: str, target: str) -> None:
        self._x(
            "INSERT INTO pending (seq, task_id, target) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            self._next_seq("pending"), task_id, target,
        )

    def _check_fence(self, fence: Fence | None) -> TaskRecord | None:
        if fence is None:
            return None
        if self._load_task(fence.task_id) is None:
            raise Fenced(fence.task_id, fence.version, "no such task")
        task = self._task(fence.task_id)
        if task.version != fence.version:
            raise Fenced(fence.task_id, fence.version, f"the task is at version {task.version}")
        if task.state is not TaskState.ACQUIRED:
            raise Fenced(fence.task_id, fence.version, f"the task is {task.state.value}, not acquired")
        return task

    def _to_pending(self, task: TaskRecord, now: float, *, due: float | None = None) -> TaskRecord:
        self._drop_waiters(task)
        task = self._put_task(
            attrs.evolve(
                task, state=TaskState.PENDING, lease_owner=None, lease_expires_at=None,
                retry_at=now if due is None else due, callbacks=(),
            )
        )
        self._add_pending(task.id, task.target)
        return task

    def _drop_waiters(self, task: TaskRecord) -> None:
        for p in task.callbacks:
            self._x("DELETE FROM waiters WHERE promise_id = ? AND task_id = ?", p, task.id)

    def _complete(self, task_id: str) -> None:
        task = self._must_task(task_id)
        if task.state is TaskState.FULFILLED:
            return
        self._drop_waiters(task)
        self._x("DELETE FROM pending WHERE task_id = ?", task_id)
        self._put_task(
            attrs.evolve(
                task, state=TaskState.FULFILLED, lease_owner=None, lease_expires_at=None,
                retry_at=None, callbacks=(),
            )
        )

    def _time_out(self, record: PromiseRecord, now: float) -> PromiseRecord:
        if record.tags.get(TAG_TIMER) == "true":
            return self._settle(record, PromiseState.RESOLVED, "null", at=now)
        return self._settle(record, PromiseState.REJECTED_TIMEDOUT, None, at=now)

    def _settle(
        self, record: PromiseRecord, state: PromiseState, value: str | None, *, at: float | None = None
    ) -> PromiseRecord:
        now = self.clock.now() if at is None else at
        settled = attrs.evolve(record, state=state, value=value, settled_on=now)
        self._x(
            "UPDATE promises SET state = ?, value = ?, settled_on = ? WHERE id = ?", state.value, value, now, record.id
        )
        if self._load_task(record.id) is not None:
            self._complete(record.id)
        waiting = [r[0] for r in self._x(
            "SELECT task_id FROM waiters WHERE promise_id = ? ORDER BY seq", record.id
        ).fetchall()]
        self._x("DELETE FROM waiters WHERE promise_id = ?", record.id)
        for task_id in waiting:
            task = self._must_task(task_id)
            if task.state is TaskState.SUSPENDED:
                self._to_pending(task, now)
        return settled


class SqlStore:
    """The async ``Store`` and the sync ``Inspect`` protocol over an ``SqlEngine``.

    The async methods never suspend (each runs its transaction to the end before returning), so the
    simulator applies a request in one step; a live worker may instead run ``engine``'s sync methods
    in a thread.
    """

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        self.engine.close()

    # -- Inspect ---------------------------------------------------------------------------------------

    def promises(self) -> list[PromiseRecord]:
        """Every promise record, in creation order, as stored (due timeouts not yet applied)."""
        return self.engine.promises()

    def tasks(self) -> list[TaskRecord]:
        """Every task record, in creation order."""
        return self.engine.tasks()

    def promise(self, id: str) -> PromiseRecord | None:
        """The stored record of ``id`` (a due timeout not applied), or ``None``."""
        return self.engine.promise(id)

    def promise_count(self) -> int:
        """How many promises the store holds."""
        return self.engine.promise_count()

    def promise_map(self) -> Mapping[str, PromiseRecord]:
        """A snapshot of promises by id."""
        return {r.id: r for r in self.engine.promises()}

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        """Every record now; with ``apply_due``, as a sweep would leave them (rolled back, not applied)."""
        return self.engine.snapshot(apply_due=apply_due)

    # -- Store -----------------------------------------------------------------------------------------

    async def create_promise(
        self,
        id: str,
        param: str,
        timeout_at: float,
        tags: Mapping[str, str] | None = None,
        *,
        target: str | None = None,
        fence: Fence | None = None,
    ) -> PromiseRecord:
        return self.engine.create_promise(id, param, timeout_at, tags, target=target, fence=fence)

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        return self.engine.settle_promise(id, state, value, fence=fence)

    async def get_promise(self, id: str) -> PromiseRecord:
        return self.engine.get_promise(id)

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        return self.engine.get_branch(id)

    async def get_task(self, id: str) -> TaskRecord:
        return self.engine.get_task(id)

    async def dispatch(self, target: str, limit: int) -> list[TaskRecord]:
        return self.engine.dispatch(target, limit)

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        return self.engine.acquire_task(id, owner, ttl)

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        return self.engine.heartbeat_task(fence)

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        return self.engine.release_task(fence, error=error)

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        return self.engine.fulfill_task(fence, state, value)

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        return self.engine.suspend_task(fence, awaiting)

    async def sweep(self) -> None:
        self.engine.sweep()
