"""``MemoryStore``: the reference implementation of the store contract, and the oracle for others.

Everything happens in memory, so one call is one atomic step; only a long poll (``dispatch`` or
``await_settled`` with a ``wait``) awaits, between such steps, on trio. Time comes from an injected
clock; due timeouts and lease expiries are applied lazily on every access to the record and for all
records by ``sweep()``.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio

from .clock import Clock, ManualClock
from .errors import Fenced, NotFound, TaskStateError, UsageError
from .inspection import StoreSnapshot
from .records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord, TaskState
from .store import TAG_PARENT, TAG_TARGET, TAG_TIMER, check_reclaim, failure_delay
from .wakeups import SCHEDULE, Wakeups, due_key, settled_key

_SETTLE_STATES = (PromiseState.RESOLVED, PromiseState.REJECTED, PromiseState.REJECTED_CANCELED)



class MemoryStore:
    """In-memory promises and tasks implementing ``Store`` exactly (docs/architecture.md, "The store contract").

    ``redispatch_after`` is how long a dispatched task waits before it is offered again if no
    worker acquired it. A long poll waits on ``wakeups``, which every write that may answer one
    notifies; it also wakes when the next timeout, lease expiry or retry time is due, so a store nobody
    sweeps still resumes a sleeping workflow on time.
    """

    def __init__(self, clock: Clock | None = None, *, redispatch_after: float = 5.0) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.redispatch_after = redispatch_after
        self._promises: dict[str, PromiseRecord] = {}
        self._children: dict[str, list[str]] = {}
        self._order: dict[str, int] = {}  # promise id -> creation index
        self._tasks: dict[str, TaskRecord] = {}
        self._ttl: dict[str, float] = {}
        self._pending: dict[str, dict[str, None]] = {}  # target -> pending task ids, ordered
        self._waiters: dict[str, dict[str, None]] = {}  # promise id -> suspended task ids
        self._timeouts: list[tuple[float, int, str]] = []  # (timeout_at, seq, promise id)
        self._leases: list[tuple[float, int, str, int]] = []  # (expires_at, seq, task id, version)
        self._retries: list[tuple[float, int, str]] = []  # (retry_at, seq, task id) of pending tasks
        self._seq = 0
        #: Ids written since ``take_changes`` was last called (tasks, promises); None until it is first called.
        self._changes: tuple[dict[str, None], dict[str, None]] | None = None
        #: Where long polls wait; notified by the writes that may answer them.
        self.wakeups = Wakeups()

    # -- inspection (``core.inspection.Inspect``: synchronous; for tests, checks and renderers) -----

    def promises(self) -> list[PromiseRecord]:
        """Every promise record, in creation order, as stored (due timeouts not yet applied)."""
        return list(self._promises.values())

    def tasks(self) -> list[TaskRecord]:
        """Every task record, in creation order."""
        return list(self._tasks.values())

    def promise(self, id: str) -> PromiseRecord | None:
        """The stored record of ``id`` (a due timeout not applied), or ``None``."""
        return self._promises.get(id)

    def promise_count(self) -> int:
        """How many promises the store holds."""
        return len(self._promises)

    def promise_map(self) -> Mapping[str, PromiseRecord]:
        """A snapshot of promises by id."""
        return dict(self._promises)

    def take_changes(self) -> tuple[list[TaskRecord], list[str]]:
        """The tasks (in creation order) and the ids of the promises written since the last call, so a
        check made after every request can look at those alone instead of every record (a big fan-out
        of tasks made that check's cost grow with the square of its size). The first call returns them all.
        Writes are logged where this class makes them (``create_promise``, ``_settle``, ``_put_task``): a
        subclass that assigns ``_tasks`` or ``_promises`` itself should go through those to be seen."""
        if self._changes is None:
            self._changes = ({}, {})
            return list(self._tasks.values()), list(self._promises)
        tasks, promises = self._changes
        self._changes = ({}, {})
        return [self._tasks[id] for id in sorted(tasks, key=self._order.__getitem__)], list(promises)

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot:
        """Every record now; with ``apply_due``, as a sweep would leave them (computed on a copy)."""
        store = self
        if apply_due:
            wakeups, self.wakeups = self.wakeups, Wakeups()  # its waiters are trio tasks: never copied
            try:
                store = copy.deepcopy(self)
            finally:
                self.wakeups = wakeups
            store._apply_due()
        return StoreSnapshot(tuple(store._promises.values()), tuple(store._tasks.values()))

    # -- promises ------------------------------------------------------------------------------------

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
        self._promises[id] = record
        self._order[id] = len(self._order)
        if self._changes is not None:
            self._changes[1][id] = None
        parent = all_tags.get(TAG_PARENT)
        if parent is not None:
            self._children.setdefault(parent, []).append(id)
        if timeout_at <= now:
            return self._time_out(record, now)
        self._push_timeout(record)
        if target is not None:
            self._tasks[id] = TaskRecord(
                id=id, promise_id=id, target=target, state=TaskState.PENDING, retry_at=now
            )
            if self._changes is not None:
                self._changes[0][id] = None
            self._pending.setdefault(target, {})[id] = None
            self.wakeups.notify(due_key(target), one=True)
        return record

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        if state not in _SETTLE_STATES:
            raise UsageError(
                f"settle_promise({id!r}): state must be resolved, rejected or rejected_canceled, "
                f"got {state.value}; timeouts are the store's to apply"
            )
        self._check_fence(fence)
        record = self._promise(id)
        if record.settled:
            return record
        return self._settle(record, state, value)

    async def get_promise(self, id: str) -> PromiseRecord:
        return self._promise(id)

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        record = self._promise(id)
        if record.settled or not wait > 0:
            return record
        deadline = trio.current_time() + wait
        while True:
            record = self._promise(id)
            now = trio.current_time()
            if record.settled or now >= deadline:
                return record
            # its own timeout settles it too, whether or not anybody sweeps
            wake = min(deadline, now + max(record.timeout_at - self.clock.now(), 0.0))
            await self.wakeups.wait(settled_key(id), wake)

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        root = self._promise(id)
        found = [id]
        seen = {id}  # parent tags that form a cycle must not loop forever
        i = 0
        while i < len(found):
            for child in self._children.get(found[i], ()):
                if child not in seen:
                    seen.add(child)
                    found.append(child)
            i += 1
        found[1:] = sorted(found[1:], key=self._order.__getitem__)
        return [root, *(self._promise(d) for d in found[1:])]

    # -- tasks ---------------------------------------------------------------------------------------

    async def get_task(self, id: str) -> TaskRecord:
        return self._task(id)

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        out = self._dispatch_now(target, limit)
        if out or not wait > 0:
            return out
        deadline = trio.current_time() + wait
        while True:
            now = trio.current_time()
            if now >= deadline:
                return out
            wake = min(deadline, now + max(self.next_due() - self.clock.now(), 0.0))
            await self.wakeups.wait(due_key(target), wake, schedule=True)
            out = self._dispatch_now(target, limit)
            if out:
                return out

    def _dispatch_now(self, target: str, limit: int) -> list[TaskRecord]:
        """Up to ``limit`` due tasks of ``target``, each made not due again for a while."""
        self._apply_due()  # a due timeout may resume a task, and an expired lease frees one
        now = self.clock.now()
        out: list[TaskRecord] = []
        for task_id in list(self._pending.get(target, {})):
            if len(out) >= limit:
                break
            task = self._task(task_id)
            if task.state is not TaskState.PENDING or task.retry_at is None or task.retry_at > now:
                continue
            task = self._put_task(attrs.evolve(task, retry_at=now + self.redispatch_after))
            self._push_retry(task)
            out.append(task)
        return out

    def next_due(self) -> float:
        """The clock time, later than now, at which time alone next changes what the store answers: a
        pending promise's timeout, an acquired task's lease expiry, a pending task's retry time (``inf``
        if none). A long poll, or a sweeper, sleeps until then. Stale entries are dropped here."""
        timeouts, leases, retries = self._timeouts, self._leases, self._retries
        while timeouts and self._promises[timeouts[0][2]].settled:
            heapq.heappop(timeouts)
        while leases:
            expires_at, _, task_id, version = leases[0]
            task = self._tasks[task_id]
            if task.state is TaskState.ACQUIRED and task.version == version and task.lease_expires_at == expires_at:
                break
            heapq.heappop(leases)
        now = self.clock.now()
        while retries:
            retry_at, _, task_id = retries[0]
            task = self._tasks[task_id]
            if retry_at > now and task.state is TaskState.PENDING and task.retry_at == retry_at:
                break
            heapq.heappop(retries)  # due already (a poll takes it, no alarm needed) or no longer pending
        return min(timeouts[0][0] if timeouts else math.inf, leases[0][0] if leases else math.inf,
                   retries[0][0] if retries else math.inf)

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        if ttl <= 0:
            raise UsageError(f"acquire_task({id!r}): ttl must be > 0 seconds, got {ttl}")
        task = self._task(id)
        if task.state is not TaskState.PENDING:
            raise TaskStateError(f"task {id!r} is {task.state.value}, only a pending task can be acquired")
        now = self.clock.now()
        self._pending.get(task.target, {}).pop(id, None)
        task = self._put_task(
            attrs.evolve(
                task, state=TaskState.ACQUIRED, version=task.version + 1, lease_owner=owner,
                lease_expires_at=now + ttl, retry_at=None, attempts=task.attempts + 1,
            )
        )
        self._ttl[id] = ttl
        self._push_lease(task)
        return task

    async def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        check_reclaim(owner, ttl)
        now = self.clock.now()
        out: list[TaskRecord] = []
        for task_id, task in list(self._tasks.items()):  # creation order
            if task.target != target or task.state is not TaskState.ACQUIRED or task.lease_owner != owner:
                continue
            task = self._task(task_id)  # an expired lease, or a due timeout of its promise, applies first
            if task.state is not TaskState.ACQUIRED:
                continue
            task = self._put_task(
                attrs.evolve(task, version=task.version + 1, lease_expires_at=now + ttl, attempts=task.attempts + 1)
            )
            self._ttl[task_id] = ttl
            self._push_lease(task)
            out.append(task)
        return out

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        task = self._check_fence(fence)
        assert task is not None
        task = self._put_task(attrs.evolve(task, lease_expires_at=self.clock.now() + self._ttl[task.id]))
        self._push_lease(task)
        return task

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        task = self._check_fence(fence)
        assert task is not None
        now = self.clock.now()
        if error is None:
            return self._to_pending(task, now)
        failures = task.failures + 1
        task = attrs.evolve(task, error=error, failures=failures)
        return self._to_pending(task, now, due=now + failure_delay(failures))

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        if state not in _SETTLE_STATES:
            raise UsageError(
                f"fulfill_task({fence.task_id!r}): state must be resolved, rejected or "
                f"rejected_canceled, got {state.value}"
            )
        task = self._check_fence(fence)
        assert task is not None
        record = self._promise(task.promise_id)
        if record.settled:
            self._complete(task.id)
            return record
        return self._settle(record, state, value)

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
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
                retry_at=None, callbacks=callbacks, lapsed_owner=None,
            )
        )
        for p in callbacks:
            self._waiters.setdefault(p, {})[task.id] = None
        return SuspendResult.SUSPENDED

    async def sweep(self) -> None:
        self._apply_due()

    # -- internals -----------------------------------------------------------------------------------

    def _apply_due(self) -> None:
        """Every due timeout and lease expiry, in time order of the timeouts."""
        now = self.clock.now()
        while self._timeouts and self._timeouts[0][0] <= now:
            _, _, pid = heapq.heappop(self._timeouts)
            record = self._promises[pid]
            if not record.settled and record.timeout_at <= now:
                self._time_out(record, now)
        self._expire_leases()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _push_timeout(self, record: PromiseRecord) -> None:
        self._earlier(self._timeouts, record.timeout_at)
        heapq.heappush(self._timeouts, (record.timeout_at, self._next_seq(), record.id))

    def _push_lease(self, task: TaskRecord) -> None:
        assert task.lease_expires_at is not None
        self._earlier(self._leases, task.lease_expires_at)
        heapq.heappush(self._leases, (task.lease_expires_at, self._next_seq(), task.id, task.version))

    def _push_retry(self, task: TaskRecord) -> None:
        assert task.retry_at is not None
        self._earlier(self._retries, task.retry_at)
        heapq.heappush(self._retries, (task.retry_at, self._next_seq(), task.id))

    def _earlier(self, heap: list[Any], at: float) -> None:
        """An instant ``at`` goes on ``heap``: if it comes before the heap's first, a long poll sleeping until
        the store's next due instant may have to wake sooner (a timer made while a worker waits), so
        ``SCHEDULE`` is notified and such a poll looks again."""
        if not heap or at < heap[0][0]:
            self.wakeups.notify(SCHEDULE)

    def _expire_leases(self) -> None:
        now = self.clock.now()
        while self._leases and self._leases[0][0] <= now:
            _, _, task_id, _ = heapq.heappop(self._leases)
            self._task(task_id)  # applies the expiry if it is still due

    def _promise_or_none(self, id: str) -> PromiseRecord | None:
        record = self._promises.get(id)
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
        task = self._tasks.get(id)
        if task is None:
            raise NotFound("task", id)
        self._promise(task.promise_id)  # a due timeout of its promise completes the task
        task = self._tasks[id]
        if task.state is TaskState.SUSPENDED:
            for awaited in task.callbacks:  # a due timeout of an awaited promise resumes it
                self._promise(awaited)
            task = self._tasks[id]
        if task.state is TaskState.ACQUIRED:
            assert task.lease_expires_at is not None
            now = self.clock.now()
            if task.lease_expires_at <= now:  # the lease ran out: the next acquire is a takeover
                task = self._to_pending(task, now, lapsed=task.lease_owner)
        return task

    def _put_task(self, task: TaskRecord) -> TaskRecord:
        self._tasks[task.id] = task
        if self._changes is not None:
            self._changes[0][task.id] = None
        return task

    def _check_fence(self, fence: Fence | None) -> TaskRecord | None:
        if fence is None:
            return None
        task = self._tasks.get(fence.task_id)
        if task is None:
            raise Fenced(fence.task_id, fence.version, "no such task")
        task = self._task(fence.task_id)
        if task.version != fence.version:
            raise Fenced(fence.task_id, fence.version, f"the task is at version {task.version}")
        if task.state is not TaskState.ACQUIRED:
            raise Fenced(fence.task_id, fence.version, f"the task is {task.state.value}, not acquired")
        return task

    def _to_pending(
        self, task: TaskRecord, now: float, *, due: float | None = None, lapsed: str | None = None
    ) -> TaskRecord:
        self._drop_waiters(task)
        task = self._put_task(
            attrs.evolve(
                task, state=TaskState.PENDING, lease_owner=None, lease_expires_at=None,
                retry_at=now if due is None else due, callbacks=(), lapsed_owner=lapsed,
            )
        )
        self._pending.setdefault(task.target, {})[task.id] = None
        if due is not None:
            self._push_retry(task)
        self.wakeups.notify(due_key(task.target), one=True)
        return task

    def _drop_waiters(self, task: TaskRecord) -> None:
        for p in task.callbacks:
            waiting = self._waiters.get(p)
            if waiting is not None:
                waiting.pop(task.id, None)
                if not waiting:
                    del self._waiters[p]

    def _complete(self, task_id: str) -> None:
        task = self._tasks[task_id]
        if task.state is TaskState.FULFILLED:
            return
        self._drop_waiters(task)
        self._pending.get(task.target, {}).pop(task_id, None)
        self._put_task(
            attrs.evolve(
                task, state=TaskState.FULFILLED, lease_owner=None, lease_expires_at=None,
                retry_at=None, callbacks=(), lapsed_owner=None,
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
        self._promises[record.id] = settled
        if self._changes is not None:
            self._changes[1][record.id] = None
        self.wakeups.notify(settled_key(record.id))
        if record.id in self._tasks:
            self._complete(record.id)
        for task_id in list(self._waiters.pop(record.id, {})):
            task = self._tasks[task_id]
            if task.state is TaskState.SUSPENDED:
                self._to_pending(task, now)
        return settled
