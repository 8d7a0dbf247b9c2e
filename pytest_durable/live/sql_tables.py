"""``Tables``: the store's records in SQL tables, read and changed row by row inside the current
transaction. Each method mirrors the ``MemoryStore`` internal of the same name (the lazy timeouts and
lease expiries included), so the engine's operations read as the reference store's do.

Order is explicit: every ordered structure of the reference store has a ``seq`` column, and a new
``seq`` is one more than the largest present, computed under the write lock (``next_seq``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from ..core.clock import Clock
from ..core.errors import Fenced, NotFound
from ..core.records import Fence, PromiseRecord, PromiseState, TaskRecord, TaskState
from ..core.store import TAG_TIMER
from ..core.wakeups import due_key, settled_key
from .sql_schema import P_COLS, T_COLS, Cursor, promise_from, task_from
from .sql_transactions import Transactions


class Tables:
    """The promises, tasks, pending queue, waiters and lease entries, over ``tx``'s connection;
    ``clock`` stamps the times written."""

    def __init__(self, tx: Transactions, clock: Clock) -> None:
        self._tx = tx
        self.clock = clock

    def _x(self, sql: str, *params: Any) -> Cursor:
        return self._tx.execute(sql, *params)

    def next_due(self, target: str | None = None, *, retries_after: float | None = None) -> float:
        """The clock time of the next timeout of a pending promise, the next live lease expiry and (given
        ``target``) the next retry time of a pending task of ``target`` (given ``retries_after``, of any
        pending task, later than that), whichever is first (``inf`` if none): one query, over the
        indexes. Stale lease entries (left by heartbeats) are skipped."""
        return self._next_due(target, retries_after, entries=False)[0]

    def poll_times(self, target: str) -> tuple[float, float]:
        """``next_due(target)``, and the clock time of the earliest lease entry of any kind (dead ones
        included: a pass of ``expire_leases`` then has something to delete), in one query (``inf``: none)."""
        found, entry = self._next_due(target, None, entries=True)
        return found, entry

    def _next_due(self, target: str | None, retries_after: float | None, *, entries: bool) -> tuple[float, float]:
        parts = ["(SELECT MIN(timeout_at) FROM promises WHERE state = ?)",
                 "(SELECT l.expires_at FROM leases l JOIN tasks t ON t.id = l.task_id "
                 "WHERE t.state = ? AND t.lease_expires_at = l.expires_at ORDER BY l.expires_at, l.seq LIMIT 1)"]
        params: list[object] = [PromiseState.PENDING.value, TaskState.ACQUIRED.value]
        if target is not None:
            parts.append("(SELECT MIN(t.retry_at) FROM pending p JOIN tasks t ON t.id = p.task_id WHERE p.target = ?)")
            params.append(target)
        if retries_after is not None:
            parts.append("(SELECT MIN(retry_at) FROM tasks WHERE state = ? AND retry_at > ?)")
            params += [TaskState.PENDING.value, retries_after]
        if entries:
            parts.append("(SELECT MIN(expires_at) FROM leases)")
        row = list(self._x(f"SELECT {', '.join(parts)}", *params).fetchone())
        entry = row.pop() if entries else None
        return (min((float(x) for x in row if x is not None), default=math.inf),
                math.inf if entry is None else float(entry))

    def next_seq(self, table: str) -> int:
        row = self._x(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
        return int(row[0])

    def all_promises(self) -> list[PromiseRecord]:
        return [promise_from(r) for r in self._x(f"SELECT {P_COLS} FROM promises ORDER BY seq").fetchall()]

    def all_tasks(self) -> list[TaskRecord]:
        return [task_from(r) for r in self._x(f"SELECT {T_COLS} FROM tasks ORDER BY seq").fetchall()]

    def load_promise(self, id: str) -> PromiseRecord | None:
        row = self._x(f"SELECT {P_COLS} FROM promises WHERE id = ?", id).fetchone()
        return None if row is None else promise_from(row)

    def load_task(self, id: str) -> TaskRecord | None:
        row = self._x(f"SELECT {T_COLS} FROM tasks WHERE id = ?", id).fetchone()
        return None if row is None else task_from(row)

    def apply_due(self) -> None:
        """Every due timeout (in order of timeout, then creation), then every due lease expiry."""
        now = self.clock.now()
        due = self._x(
            "SELECT id FROM promises WHERE state = ? AND timeout_at <= ? ORDER BY timeout_at, seq",
            PromiseState.PENDING.value, now,
        ).fetchall()
        for (pid,) in due:
            record = self.load_promise(pid)
            assert record is not None
            if not record.settled and record.timeout_at <= now:
                self.time_out(record, now)
        self.expire_leases()

    def push_lease(self, task: TaskRecord) -> None:
        assert task.lease_expires_at is not None
        self._x(  # next_seq and the insert in one statement
            "INSERT INTO leases (seq, expires_at, task_id) SELECT COALESCE(MAX(seq), 0) + 1, ?, ? FROM leases",
            task.lease_expires_at, task.id,
        )
        self._tx.note_time(task.lease_expires_at)

    def expire_leases(self) -> None:
        now = self.clock.now()
        self.drop_dead_leases(now)
        while True:
            row = self._x(
                "SELECT seq, task_id FROM leases WHERE expires_at <= ? ORDER BY expires_at, seq LIMIT 1", now
            ).fetchone()
            if row is None:
                return
            self._x("DELETE FROM leases WHERE seq = ?", row[0])
            self.task(row[1])  # applies the expiry if it is still due

    def drop_dead_leases(self, now: float) -> None:
        """Delete, in one statement, the lease entries due by ``now`` whose task does not hold a lease due
        by then (entries left by a heartbeat, or by a task that was fulfilled, suspended or released):
        taking such an entry off in turn would only look its task up and find nothing to do (its due
        timeouts are applied already), so their order does not matter. What is left is expired in order."""
        self._x(
            "DELETE FROM leases WHERE expires_at <= ? AND NOT EXISTS (SELECT 1 FROM tasks t "
            "WHERE t.id = leases.task_id AND t.state = ? AND t.lease_expires_at <= ?)",
            now, TaskState.ACQUIRED.value, now,
        )

    def promise_or_none(self, id: str) -> PromiseRecord | None:
        record = self.load_promise(id)
        if record is not None and not record.settled:
            now = self.clock.now()
            if record.timeout_at <= now:
                record = self.time_out(record, now)
        return record

    def promise(self, id: str) -> PromiseRecord:
        record = self.promise_or_none(id)
        if record is None:
            raise NotFound("promise", id)
        return record

    def timed_out(self, id: str) -> bool:
        """``promise(id)``, saying whether it applied a due timeout just now."""
        record = self.load_promise(id)
        if record is None:
            raise NotFound("promise", id)
        if record.settled:
            return False
        now = self.clock.now()
        if record.timeout_at > now:
            return False
        self.time_out(record, now)
        return True

    def task(self, id: str) -> TaskRecord:
        task = self.load_task(id)
        if task is None:
            raise NotFound("task", id)
        return self.current(task)

    def current(self, task: TaskRecord) -> TaskRecord:
        """``task`` as just loaded, with what is due applied to it (as ``task`` does); it is read again
        only if a timeout was applied on the way (nothing else here changes its row)."""
        id = task.id
        if self.timed_out(task.promise_id):  # a due timeout of its promise completes the task
            task = self.must_task(id)
        if task.state is TaskState.SUSPENDED:
            # a due timeout of an awaited promise resumes it; every one is looked at, as MemoryStore does
            applied = [self.timed_out(awaited) for awaited in task.callbacks]
            if any(applied):
                task = self.must_task(id)
        if task.state is TaskState.ACQUIRED:
            assert task.lease_expires_at is not None
            now = self.clock.now()
            if task.lease_expires_at <= now:  # the lease ran out: the next acquire is a takeover
                task = self.to_pending(task, now, lapsed=task.lease_owner)
        return task

    def must_task(self, id: str) -> TaskRecord:
        task = self.load_task(id)
        assert task is not None
        return task

    def put_task(self, task: TaskRecord) -> TaskRecord:
        self._x(
            "UPDATE tasks SET state = ?, version = ?, lease_owner = ?, lease_expires_at = ?, retry_at = ?, "
            "callbacks = ?, attempts = ?, error = ?, failures = ?, lapsed_owner = ? WHERE id = ?",
            task.state.value, task.version, task.lease_owner, task.lease_expires_at, task.retry_at,
            json.dumps(list(task.callbacks)), task.attempts, task.error, task.failures, task.lapsed_owner, task.id,
        )
        return task

    def add_pending(self, task_id: str, target: str) -> None:
        self._x(
            "INSERT INTO pending (seq, task_id, target) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            self.next_seq("pending"), task_id, target,
        )
        self._tx.note(due_key(target))

    def check_fence(self, fence: Fence | None) -> TaskRecord | None:
        if fence is None:
            return None
        loaded = self.load_task(fence.task_id)
        if loaded is None:
            raise Fenced(fence.task_id, fence.version, "no such task")
        task = self.current(loaded)
        if task.version != fence.version:
            raise Fenced(fence.task_id, fence.version, f"the task is at version {task.version}")
        if task.state is not TaskState.ACQUIRED:
            raise Fenced(fence.task_id, fence.version, f"the task is {task.state.value}, not acquired")
        return task

    def to_pending(
        self, task: TaskRecord, now: float, *, due: float | None = None, lapsed: str | None = None
    ) -> TaskRecord:
        self.drop_waiters(task)
        task = self.put_task(
            attrs.evolve(
                task, state=TaskState.PENDING, lease_owner=None, lease_expires_at=None,
                retry_at=now if due is None else due, callbacks=(), lapsed_owner=lapsed,
            )
        )
        self.add_pending(task.id, task.target)
        return task

    def drop_waiters(self, task: TaskRecord) -> None:
        for p in task.callbacks:
            self._x("DELETE FROM waiters WHERE promise_id = ? AND task_id = ?", p, task.id)

    def complete(self, task_id: str) -> None:
        task = self.must_task(task_id)
        if task.state is TaskState.FULFILLED:
            return
        self.drop_waiters(task)
        self._x("DELETE FROM pending WHERE task_id = ?", task_id)
        self.put_task(
            attrs.evolve(
                task, state=TaskState.FULFILLED, lease_owner=None, lease_expires_at=None,
                retry_at=None, callbacks=(), lapsed_owner=None,
            )
        )

    def time_out(self, record: PromiseRecord, now: float) -> PromiseRecord:
        if record.tags.get(TAG_TIMER) == "true":
            return self.settle(record, PromiseState.RESOLVED, "null", at=now)
        return self.settle(record, PromiseState.REJECTED_TIMEDOUT, None, at=now)

    def settle(
        self, record: PromiseRecord, state: PromiseState, value: str | None, *, at: float | None = None
    ) -> PromiseRecord:
        now = self.clock.now() if at is None else at
        settled = attrs.evolve(record, state=state, value=value, settled_on=now)
        self._x(
            "UPDATE promises SET state = ?, value = ?, settled_on = ? WHERE id = ?", state.value, value, now, record.id
        )
        self._tx.note(settled_key(record.id))
        if self.load_task(record.id) is not None:
            self.complete(record.id)
        waiting = [r[0] for r in self._x(
            "SELECT task_id FROM waiters WHERE promise_id = ? ORDER BY seq", record.id
        ).fetchall()]
        self._x("DELETE FROM waiters WHERE promise_id = ?", record.id)
        for task_id in waiting:
            task = self.must_task(task_id)
            if task.state is TaskState.SUSPENDED:
                self.to_pending(task, now)
        return settled
