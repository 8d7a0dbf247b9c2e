"""The store contract (docs/architecture.md, "The store contract") in SQL, shared by the SQLite and PostgreSQL stores.

``SqlEngine`` is a line-by-line port of the reference ``MemoryStore`` onto tables, so that it gives
the same answer and the same error to every sequence of operations (the differential test checks
this). Its methods are synchronous: the simulator applies a request in one step, and a live worker
can run them in a thread. ``SqlStore`` puts the async ``Store`` face and the ``Inspect`` protocol on
top of an engine. The parts: ``sql_schema`` (the dialect seam, the tables), ``sql_transactions`` (one
transaction per operation), ``sql_tables`` (the row-level internals), ``sql_store`` (``SqlStore``).

Decisions, each for a reason:

* **One transaction per operation, one writer at a time.** An operation reads and writes several rows
  and may apply due timeouts and lease expiries first, as the reference store does; running each one
  alone (SQLite ``BEGIN IMMEDIATE``; a dialect may take a lock instead) makes it atomic and puts every
  operation in one order, so no row locking per statement is needed. A read that is one query runs
  alone (``Transactions.single``), and a long poll that expects nothing looks before it locks (``poll``).
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
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple

import attrs

from ..core.clock import Clock
from ..core.errors import TaskStateError, UsageError
from ..core.inspection import StoreSnapshot
from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord, TaskState
from ..core.store import TAG_PARENT, TAG_TARGET, check_reclaim, failure_delay
from .sql_listing import Listed, ListQuery, list_page
from .sql_schema import T_COLS, Connection, Dialect, create_or_check_schema
from .sql_tables import Tables
from .sql_transactions import Transactions

_SETTLE_STATES = (PromiseState.RESOLVED, PromiseState.REJECTED, PromiseState.REJECTED_CANCELED)


class Polled(NamedTuple):
    """A long poll's read (``SqlEngine.poll``): the tasks dispatched; when there are none, the clock time
    by which it must read again even if nobody writes (``next_due``: a timeout, live lease expiry or retry
    of a task of its target), and when a read would next have a lease entry to delete (``next_entry``:
    a read before both changes nothing); ``inf`` when tasks were found, or nothing is due."""

    tasks: list[TaskRecord]
    next_due: float
    next_entry: float


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
        self._tx = Transactions(connection, dialect, where)
        #: The row-level internals the operations are written in (public for a test that plants a bug).
        self.tables = Tables(self._tx, clock)
        self._x = self._tx.execute

    @property
    def die_before_commit(self) -> bool:
        """Set by the simulator to make the next write transaction die before it commits (``Torn``)."""
        return self._tx.die_before_commit

    @die_before_commit.setter
    def die_before_commit(self, value: bool) -> None:
        self._tx.die_before_commit = value

    def transaction(self) -> AbstractContextManager[None]:
        """One operation's write transaction (see ``Transactions.write``)."""
        return self._tx.write()

    def ensure_schema(self) -> None:
        """Create the tables on first use; refuse a database of another version, or not ours."""
        with self._tx.setup():
            create_or_check_schema(self._x, self.dialect, self.where)

    def close(self) -> None:
        self._tx.close()

    @property
    def transactions(self) -> Transactions:
        """The connection's transactions: what they noted for waiters (``take_changes``), its lock."""
        return self._tx

    # -- inspection ------------------------------------------------------------------------------------

    def promises(self) -> list[PromiseRecord]:
        with self._tx.read():
            return self.tables.all_promises()

    def tasks(self) -> list[TaskRecord]:
        with self._tx.read():
            return self.tables.all_tasks()

    def promise(self, id: str) -> PromiseRecord | None:
        with self._tx.single():
            return self.tables.load_promise(id)

    def promise_count(self) -> int:
        with self._tx.single():
            return int(self._x("SELECT COUNT(*) FROM promises").fetchone()[0])

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        if not apply_due:
            with self._tx.read():
                return StoreSnapshot(tuple(self.tables.all_promises()), tuple(self.tables.all_tasks()))
        with self._tx.rolled_back():  # what a sweep would do, without doing it
            self.tables.apply_due()
            return StoreSnapshot(tuple(self.tables.all_promises()), tuple(self.tables.all_tasks()))

    def listing(self, query: ListQuery) -> tuple[list[Listed], bool]:
        """A page of promises for ``ls`` and whether more follow (``live.sql_listing``), as any access now
        finds them: due timeouts and lease expiries are applied first, in the same transaction."""
        with self.transaction():
            self.tables.apply_due()
            return list_page(self._x, query)

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
            self.tables.check_fence(fence)
            existing = self.tables.promise_or_none(id)
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
            seq = self.tables.next_seq("promises")
            self._x(
                "INSERT INTO promises (seq, id, state, param, value, timeout_at, tags, created_on, settled_on, parent) "
                "VALUES (?, ?, ?, ?, NULL, ?, ?, ?, NULL, ?)",
                seq, id, record.state.value, param, timeout_at, json.dumps(all_tags), now, all_tags.get(TAG_PARENT),
            )
            if timeout_at <= now:
                return self.tables.time_out(record, now)
            self._tx.note_time(timeout_at)
            if target is not None:
                self._x(
                    f"INSERT INTO tasks (seq, {T_COLS}, ttl) "
                    "VALUES (?, ?, ?, ?, ?, 0, NULL, NULL, ?, '[]', 0, NULL, 0, NULL, NULL)",
                    seq, id, id, target, TaskState.PENDING.value, now,
                )
                self.tables.add_pending(id, target)
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
            self.tables.check_fence(fence)
            record = self.tables.promise(id)
            if record.settled:
                return record
            return self.tables.settle(record, state, value)

    def get_promise(self, id: str) -> PromiseRecord:
        with self.transaction():
            return self.tables.promise(id)

    def get_branch(self, id: str) -> list[PromiseRecord]:
        with self.transaction():
            root = self.tables.promise(id)
            rows = self._x(
                "WITH RECURSIVE branch(id) AS (SELECT ? UNION SELECT p.id FROM promises p JOIN branch b "
                "ON p.parent = b.id) SELECT p.id FROM promises p JOIN branch b ON p.id = b.id WHERE p.id <> ? "
                "ORDER BY p.seq",
                id, id,
            ).fetchall()
            return [root, *(self.tables.promise(r[0]) for r in rows)]

    # -- tasks -----------------------------------------------------------------------------------------

    def get_task(self, id: str) -> TaskRecord:
        with self.transaction():
            return self.tables.task(id)

    def dispatch(self, target: str, limit: int) -> list[TaskRecord]:
        return self._dispatch(target, limit, next_due=False).tasks

    def poll(self, target: str, limit: int, *, look_first: bool = True) -> Polled:
        """``dispatch`` for a long poll: the tasks, and when it found none, the clock time it must read
        again by even if nobody writes (``Polled``). When nothing is due for it (no timeout, lease expiry
        or retry of a task of ``target``; no lease entry to delete) a write transaction would change
        nothing and find nothing, so with ``look_first`` it reads that in one statement and takes no write
        lock: an idle worker's poll costs its database one query. Without, it goes straight to the
        dispatch transaction (a poll that expects a task: one less round trip)."""
        if not look_first:
            return self._dispatch(target, limit, next_due=True)
        with self._tx.single():
            now = self.clock.now()
            due, entry = self.tables.poll_times(target)
        if due > now and entry > now:
            return Polled([], due, entry)
        if due > now:  # only dead lease entries to delete: no need to look through the queue
            with self.transaction():
                self.tables.drop_dead_leases(self.clock.now())
                return Polled([], *self.tables.poll_times(target))
        return self._dispatch(target, limit, next_due=True)

    def count_due(self, target: str) -> int:
        """How many tasks of ``target`` are due now: pending ones whose retry time has come, and held ones
        whose lease ran out (the next read puts them back). One statement over the queue and the lease
        index, outside any transaction and changing nothing, so a metrics scrape may ask it often."""
        with self._tx.single():
            now = self.clock.now()
            row = self._x(
                "SELECT (SELECT COUNT(*) FROM pending p JOIN tasks t ON t.id = p.task_id "
                "WHERE p.target = ? AND t.state = ? AND t.retry_at <= ?) + "
                "(SELECT COUNT(*) FROM leases l JOIN tasks t ON t.id = l.task_id "
                "WHERE l.expires_at <= ? AND t.state = ? AND t.lease_expires_at = l.expires_at AND t.target = ?)",
                target, TaskState.PENDING.value, now, now, TaskState.ACQUIRED.value, target,
            ).fetchone()
            return int(row[0])

    def next_due(self) -> float:
        """As ``MemoryStore.next_due``: the next timeout of a pending promise, live lease expiry, or retry
        time of any pending task later than now (``inf`` if none): when a sweep, or a poll, may find more."""
        with self._tx.single():
            return self.tables.next_due(retries_after=self.clock.now())

    def _dispatch(self, target: str, limit: int, *, next_due: bool) -> Polled:
        with self.transaction():
            self.tables.apply_due()
            now = self.clock.now()
            out: list[TaskRecord] = []
            rows = self._x("SELECT task_id FROM pending WHERE target = ? ORDER BY seq", target).fetchall()
            ids = [r[0] for r in rows]
            for task_id in ids:
                if len(out) >= limit:
                    break
                task = self.tables.task(task_id)
                if task.state is not TaskState.PENDING or task.retry_at is None or task.retry_at > now:
                    continue
                task = self.tables.put_task(attrs.evolve(task, retry_at=now + self.redispatch_after))
                out.append(task)
            if out or not next_due:
                return Polled(out, math.inf, math.inf)
            return Polled(out, *self.tables.poll_times(target))

    def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        if ttl <= 0:
            raise UsageError(f"acquire_task({id!r}): ttl must be > 0 seconds, got {ttl}")
        with self.transaction():
            task = self.tables.task(id)
            if task.state is not TaskState.PENDING:
                raise TaskStateError(f"task {id!r} is {task.state.value}, only a pending task can be acquired")
            now = self.clock.now()
            self._x("DELETE FROM pending WHERE task_id = ?", id)
            task = self.tables.put_task(
                attrs.evolve(
                    task, state=TaskState.ACQUIRED, version=task.version + 1, lease_owner=owner,
                    lease_expires_at=now + ttl, retry_at=None, attempts=task.attempts + 1,
                )
            )
            self._x("UPDATE tasks SET ttl = ? WHERE id = ?", ttl, id)
            self.tables.push_lease(task)
            return task

    def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        check_reclaim(owner, ttl)
        with self.transaction():
            now = self.clock.now()
            rows = self._x(
                "SELECT id FROM tasks WHERE target = ? AND state = ? AND lease_owner = ? ORDER BY seq",
                target, TaskState.ACQUIRED.value, owner,
            ).fetchall()
            out: list[TaskRecord] = []
            for (task_id,) in rows:
                task = self.tables.task(task_id)  # an expired lease, or a due timeout, applies first
                if task.state is not TaskState.ACQUIRED:
                    continue
                task = self.tables.put_task(attrs.evolve(
                    task, version=task.version + 1, lease_expires_at=now + ttl, attempts=task.attempts + 1))
                self._x("UPDATE tasks SET ttl = ? WHERE id = ?", ttl, task_id)
                self.tables.push_lease(task)
                out.append(task)
            return out

    def heartbeat_task(self, fence: Fence) -> TaskRecord:
        with self.transaction():
            task = self.tables.check_fence(fence)
            assert task is not None
            ttl = float(self._x("SELECT ttl FROM tasks WHERE id = ?", task.id).fetchone()[0])
            task = self.tables.put_task(attrs.evolve(task, lease_expires_at=self.clock.now() + ttl))
            self.tables.push_lease(task)
            return task

    def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        with self.transaction():
            task = self.tables.check_fence(fence)
            assert task is not None
            now = self.clock.now()
            if error is None:
                return self.tables.to_pending(task, now)
            failures = task.failures + 1
            task = attrs.evolve(task, error=error, failures=failures)
            return self.tables.to_pending(task, now, due=now + failure_delay(failures))

    def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        if state not in _SETTLE_STATES:
            raise UsageError(
                f"fulfill_task({fence.task_id!r}): state must be resolved, rejected or "
                f"rejected_canceled, got {state.value}"
            )
        with self.transaction():
            task = self.tables.check_fence(fence)
            assert task is not None
            record = self.tables.promise(task.promise_id)
            if record.settled:
                self.tables.complete(task.id)
                return record
            return self.tables.settle(record, state, value)

    def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        with self.transaction():
            task = self.tables.check_fence(fence)
            assert task is not None
            if not awaiting:
                raise UsageError(f"suspend_task({fence.task_id!r}): awaiting must name at least one promise")
            records = [self.tables.promise(p) for p in awaiting]
            if any(r.settled for r in records):
                return SuspendResult.REDIRECT
            callbacks = tuple(dict.fromkeys(awaiting))
            self.tables.put_task(
                attrs.evolve(
                    task, state=TaskState.SUSPENDED, lease_owner=None, lease_expires_at=None,
                    retry_at=None, callbacks=callbacks, lapsed_owner=None,
                )
            )
            for p in callbacks:
                self._x(
                    "INSERT INTO waiters (seq, promise_id, task_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    self.tables.next_seq("waiters"), p, task.id,
                )
            return SuspendResult.SUSPENDED

    def sweep(self) -> None:
        with self.transaction():
            self.tables.apply_due()
