"""The promise store contract (docs/architecture.md), checked against the reference ``MemoryStore``,
``SqliteStore`` (each SQLite machine or scenario on a fresh file) and ``PostgresStore`` (on the real
server of ``tests/conftest.py``: a fresh database per test, its tables emptied between examples).

A Hypothesis state machine drives random sequences of store operations over a small pool of ids
(so creates collide, children form branches and tasks are fought over), and after every operation
checks the contract against a small model; named example scenarios follow it.

The store's methods are ``async def`` but never suspend, so ``run_now`` drives one call to its end; a
long poll (``dispatch(..., wait=)``, ``await_settled``) is run in a trio run of its own on a ``MockClock``
(virtual time), which the store's clock follows for the length of the rule (``FollowingClock``).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import trio
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pytest_durable.core import (
    TAG_PARENT,
    TAG_TARGET,
    TAG_TIMER,
    Fence,
    Fenced,
    InspectableStore,
    ManualClock,
    MemoryStore,
    NotFound,
    PromiseRecord,
    PromiseState,
    SuspendResult,
    TaskRecord,
    TaskState,
    TaskStateError,
    UsageError,
    task_invariant_violations,
)
from pytest_durable.live import PostgresStore, SqliteStore
from pytest_durable.testing.pgserver import PgServer
from tests.helpers.virtual_time import FollowingClock, close, write_at


def note_event(value: str) -> None:
    """Hypothesis's ``event``, when a Hypothesis test runs: a rule replayed by a plain test (a pinned
    example) notes nothing."""
    if currently_in_test_context():
        event(value)


def run_now(coro):
    """Run a store call that never suspends to its end and return its value."""
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    else:
        coro.close()
        raise AssertionError("store call suspended")


PENDING = PromiseState.PENDING
RESOLVED = PromiseState.RESOLVED
REJECTED = PromiseState.REJECTED
CANCELED = PromiseState.REJECTED_CANCELED
TIMEDOUT = PromiseState.REJECTED_TIMEDOUT
SETTLE_STATES = (RESOLVED, REJECTED, CANCELED)

IDS = ("a", "a.0", "a.1", "a.0.0", "a.1.0")
UNKNOWN = "zz"  # never created
#: The parent each id names when it is created with a lineage tag; acyclic by construction.
PARENT = {"a": None, "a.0": "a", "a.1": "a", "a.0.0": "a.0", "a.1.0": "a.1"}
TARGETS = ("g1", "g2")
OWNERS = ("w1", "w2")
REDISPATCH = 5.0

ids = st.sampled_from(IDS)
ids_or_unknown = st.sampled_from((*IDS, UNKNOWN))
#: Mostly a state a settle accepts, sometimes pending or rejected_timedout (a usage error).
any_state = st.sampled_from(SETTLE_STATES) | st.sampled_from(list(PromiseState))
values = st.none() | st.sampled_from(['"v"', "1", '{"k":[1,2]}', "null"])
offsets = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0]) | st.floats(-3, 40, allow_nan=False)
#: How a write is fenced: "valid" picks a task whose lease is current; "current" is any task at
#: its current version (valid only if it is acquired with a live lease); "old"/"ahead" carry a
#: wrong version; "ghost" names a task that does not exist.
write_fences = st.sampled_from(["valid", "valid", "valid", "valid", "current", "old", "ahead", "ghost"])
optional_fences = st.sampled_from(["none", "valid", "valid", "current", "old", "ghost"])
picks = st.integers(0, 7)
lineages = st.sampled_from([True, True, False])
WRITES = st.sampled_from(["create", "settle", "heartbeat", "release", "fulfill", "suspend"])


def snapshot(store: InspectableStore) -> tuple[tuple[PromiseRecord, ...], tuple[TaskRecord, ...]]:
    found = store.snapshot()
    return found.promises, found.tasks


def effective(store: InspectableStore) -> tuple[tuple[PromiseRecord, ...], tuple[TaskRecord, ...]]:
    """The store's records with every due timeout and lease expiry applied, without changing the store.

    A refused write may still apply due timeouts lazily (the contract: "lazily on any access"), so
    "the store is unchanged" means its effective records are unchanged.
    """
    found = store.snapshot(apply_due=True)
    return found.promises, found.tasks


def by_id(records):
    return {r.id: r for r in records}


class StoreMachine(RuleBasedStateMachine):
    """The contract against ``MemoryStore``; subclasses run it against another store."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FollowingClock()
        self.store: InspectableStore = self.new_store(self.clock)
        self.first_settled: dict[str, tuple[PromiseState, str | None, float | None]] = {}
        self.params: dict[str, str] = {}  # the param each id was created with
        self.versions: dict[str, int] = {}  # task id -> current version
        self.ttls: dict[str, float] = {}  # task id -> ttl of its latest acquire

    def new_store(self, clock: ManualClock) -> InspectableStore:
        return MemoryStore(clock, redispatch_after=REDISPATCH)

    # -- helpers -----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.now()

    def call(self, coro):
        return run_now(coro)

    def fence_ok(self, fence: Fence | None) -> bool:
        """Whether ``fence`` is the proof of a live lease, judged from the raw records alone."""
        if fence is None:
            return True
        task = by_id(self.store.tasks()).get(fence.task_id)
        if task is None or task.version != fence.version or task.state is not TaskState.ACQUIRED:
            return False
        if task.lease_expires_at is None or task.lease_expires_at <= self.now:
            return False  # the lease has run out: a zombie
        promise = self.store.promise_map()[task.promise_id]
        return not promise.settled and promise.timeout_at > self.now

    def has_live_task(self) -> bool:
        return any(self.fence_ok(Fence(t.id, t.version)) for t in self.store.tasks())

    def make_fence(self, kind: str, pick: int) -> Fence | None:
        tasks = self.store.tasks()
        if kind == "none":
            return None
        if kind == "ghost" or not tasks:
            return Fence(UNKNOWN, 1)
        if kind == "valid":
            live = [t for t in tasks if self.fence_ok(Fence(t.id, t.version))]
            if live:
                t = live[pick % len(live)]
                return Fence(t.id, t.version)
        t = tasks[pick % len(tasks)]
        if kind == "old":
            return Fence(t.id, t.version - 1)
        if kind == "ahead":
            return Fence(t.id, t.version + 1)
        return Fence(t.id, t.version)

    def refused(self, exc_types, make_call):
        """Run a call that must raise one of ``exc_types`` and must not change the store."""
        raw_before = snapshot(self.store)
        eff_before = effective(self.store)
        with pytest.raises(exc_types):
            self.call(make_call())
        assert effective(self.store) == eff_before, "a refused call changed the store"
        if raw_before == eff_before:  # nothing was due, so not even a lazy timeout may apply
            assert snapshot(self.store) == raw_before, "a refused call changed the store"

    def eff_promises(self) -> dict[str, PromiseRecord]:
        return by_id(effective(self.store)[0])

    def eff_tasks(self) -> dict[str, TaskRecord]:
        return by_id(effective(self.store)[1])

    def check_accessed(self, record: PromiseRecord) -> None:
        """A promise returned by any access is not pending past its timeout, and is what is stored."""
        if record.timeout_at <= self.now:
            assert record.state is not PENDING, f"{record.id} is pending past its timeout"
        assert self.store.promise_map()[record.id] == record

    @initialize(
        roots=st.lists(st.tuples(ids, st.sampled_from(TARGETS), st.sampled_from([None, 5.0, 20.0])), max_size=3)
    )
    def start(self, roots):
        """Begin with a few tasks, some already acquired, so leases are fought over from step one."""
        for id, group, ttl in roots:
            if id in self.store.promise_map():
                continue
            self.do_create(id, "root", 100.0, group, False, False, "none", 0)
            if ttl is not None:
                self.call(self.store.acquire_task(id, "w1", ttl))
                self.versions[id] += 1
                self.ttls[id] = ttl

    # -- promises ----------------------------------------------------------------------------

    @rule(
        id=ids, param=st.text(max_size=4), offset=offsets, group=st.none() | st.sampled_from(TARGETS),
        lineage=lineages, timer=st.booleans(),
    )
    def create_promise(self, id, param, offset, group, lineage, timer):
        self.do_create(id, param, offset, group, lineage, timer, "none", 0)

    @rule(id=ids, param=st.text(max_size=4), group=st.sampled_from(TARGETS), lineage=lineages)
    def create_task(self, id, param, group, lineage):
        """A promise with a target and a long timeout, so tasks live long enough to be fought over."""
        self.do_create(id, param, 50.0, group, lineage, False, "none", 0)

    @rule(
        id=ids, param=st.text(max_size=4), offset=offsets, group=st.none() | st.sampled_from(TARGETS),
        lineage=lineages, fence_kind=write_fences, pick=picks,
    )
    def create_promise_fenced(self, id, param, offset, group, lineage, fence_kind, pick):
        """A child create made by a worker: it carries the fence of the task it runs."""
        self.do_create(id, param, offset, group, lineage, False, fence_kind, pick)

    def do_create(self, id, param, offset, target, lineage, timer, fence_kind, pick):
        tags = {"k": "v"}
        if lineage and PARENT[id] is not None:
            tags[TAG_PARENT] = PARENT[id]
        if timer:
            tags[TAG_TIMER] = "true"
        fence = self.make_fence(fence_kind, pick)
        timeout_at = self.now + offset

        def make_call():
            return self.store.create_promise(id, param, timeout_at, tags, target=target, fence=fence)

        if not self.fence_ok(fence):
            self.refused(Fenced, make_call)
            return
        eff_before = effective(self.store)
        existed = id in self.store.promise_map()
        record = self.call(make_call())
        self.check_accessed(record)
        if existed:
            # Idempotent: the existing record (due timeout applied), param ignored, nothing changed.
            assert record == by_id(eff_before[0])[id]
            assert record.param == self.params[id]
            assert effective(self.store) == eff_before
            return
        self.params[id] = param
        expected_tags = dict(tags)
        if target is not None:
            expected_tags[TAG_TARGET] = target
        assert (record.id, record.param, record.timeout_at, record.created_on) == (id, param, timeout_at, self.now)
        assert dict(record.tags) == expected_tags
        tasks = by_id(self.store.tasks())
        if timeout_at <= self.now:
            if timer:
                assert (record.state, record.value) == (RESOLVED, "null")
            else:
                assert (record.state, record.value) == (TIMEDOUT, None)
            assert record.settled_on == self.now
            assert id not in tasks
        else:
            assert (record.state, record.value, record.settled_on) == (PENDING, None, None)
            if target is None:
                assert id not in tasks
            else:
                task = tasks[id]
                assert (task.promise_id, task.target, task.state, task.version, task.retry_at) == (
                    id, target, TaskState.PENDING, 0, self.now,
                )
                self.versions[id] = 0
        # Nothing else changed.
        eff_after = effective(self.store)
        assert tuple(p for p in eff_after[0] if p.id != id) == eff_before[0]
        assert tuple(t for t in eff_after[1] if t.id != id) == eff_before[1]

    def pick_id(self, id: str, pick: int) -> str:
        """Mostly an id that exists (so operations find something), else ``id`` from the pool."""
        existing = list(self.store.promise_map())
        return existing[pick % len(existing)] if existing and pick < 6 else id

    @rule(id=ids_or_unknown, pick=picks, state=any_state, value=values)
    def settle_promise(self, id, pick, state, value):
        self.do_settle(self.pick_id(id, pick), state, value, None)

    @rule(id=ids_or_unknown, state=any_state, value=values, fence_kind=optional_fences, pick=picks)
    def settle_promise_fenced(self, id, state, value, fence_kind, pick):
        self.do_settle(self.pick_id(id, pick), state, value, self.make_fence(fence_kind, pick))

    @precondition(lambda self: any(t.state is TaskState.SUSPENDED for t in self.store.tasks()))
    @rule(pick=picks, state=st.sampled_from(SETTLE_STATES), value=values)
    def settle_awaited(self, pick, state, value):
        """Settle a promise a suspended task waits on: the task is resumed (pending again)."""
        awaited = sorted({c for t in self.store.tasks() if t.state is TaskState.SUSPENDED for c in t.callbacks})
        self.do_settle(awaited[pick % len(awaited)], state, value, None)

    def do_settle(self, id, state, value, fence):

        def make_call():
            return self.store.settle_promise(id, state, value, fence=fence)

        known = id in self.store.promise_map()
        if state not in SETTLE_STATES:
            self.refused(UsageError, make_call)
            return
        if not self.fence_ok(fence):
            self.refused((Fenced, NotFound) if not known else Fenced, make_call)
            return
        if not known:
            self.refused(NotFound, make_call)
            return
        eff_promises, eff_tasks = (by_id(x) for x in effective(self.store))
        before = eff_promises[id]
        record = self.call(make_call())
        self.check_accessed(record)
        if before.settled:
            assert record == before, "settling a settled promise changed it"
            assert effective(self.store) == (tuple(eff_promises.values()), tuple(eff_tasks.values()))
            return
        assert record == PromiseRecord(
            id=id, state=state, param=before.param, value=value, timeout_at=before.timeout_at,
            tags=before.tags, created_on=before.created_on, settled_on=self.now,
        )
        self.check_settled_effects(id, eff_tasks)

    def check_settled_effects(self, id: str, tasks_before: dict[str, TaskRecord]) -> None:
        """After ``id`` settled: its task is fulfilled, suspended tasks awaiting it are pending.

        Compared in effective records: a suspended task whose own promise is past its timeout is
        fulfilled, even if the store applies that timeout only when the task is next read.
        """
        tasks = self.eff_tasks()
        for tid, before in tasks_before.items():
            after = tasks[tid]
            if tid == id:
                assert after.state is TaskState.FULFILLED
            elif before.state is TaskState.SUSPENDED and id in before.callbacks:
                assert (after.state, after.retry_at, after.callbacks) == (TaskState.PENDING, self.now, ())
                assert after.version == before.version
            else:
                assert after == before, f"settling {id} changed unrelated task {tid}"

    @rule(id=ids_or_unknown, pick=picks)
    def get_promise(self, id, pick):
        id = self.pick_id(id, pick)
        if id not in self.store.promise_map():
            self.refused(NotFound, lambda: self.store.get_promise(id))
            return
        eff = self.eff_promises()
        record = self.call(self.store.get_promise(id))
        assert record == eff[id]
        self.check_accessed(record)

    @rule(id=ids_or_unknown, pick=picks)
    def get_branch(self, id, pick):
        id = self.pick_id(id, pick)
        if id not in self.store.promise_map():
            self.refused(NotFound, lambda: self.store.get_branch(id))
            return
        eff = self.eff_promises()
        order = list(eff)  # creation order
        expected = {id}
        grew = True
        while grew:
            children = {p.id for p in eff.values() if p.tags.get(TAG_PARENT) in expected}
            grew = not children <= expected
            expected |= children
        branch = self.call(self.store.get_branch(id))
        got = [r.id for r in branch]
        assert got[0] == id
        assert len(got) == len(set(got)), f"duplicates in branch {got}"
        assert set(got) == expected
        for r in branch:
            assert r == eff[r.id]
            self.check_accessed(r)
        # The descendants come in creation order (Store.get_branch), whatever their depth.
        assert got[1:] == sorted(got[1:], key=order.index), f"branch {got} is not in creation order"

    def resumable(self) -> list[TaskRecord]:
        """Suspended tasks (as stored) that await a promise already past its timeout."""
        promises = self.store.promise_map()
        return [
            t for t in self.store.tasks()
            if t.state is TaskState.SUSPENDED and any(promises[c].timeout_at <= self.now for c in t.callbacks)
        ]

    @precondition(lambda self: self.resumable())
    @rule(pick=picks, how=st.sampled_from(["get_task", "dispatch"]))
    def read_resumable(self, pick, how):
        self.read_resumable_task(pick, how)

    def read_resumable_task(self, pick, how):
        """An awaited promise's timeout resumes its suspended task as soon as the task is read or
        dispatch runs, not only at the next sweep."""
        t = self.resumable()[pick % len(self.resumable())]
        if how == "get_task":
            task = self.call(self.store.get_task(t.id))
        else:
            self.call(self.store.dispatch(t.target, 0))
            task = by_id(self.store.tasks())[t.id]
        if self.store.promise_map()[t.promise_id].settled:
            assert task.state is TaskState.FULFILLED
        else:
            assert (task.state, task.retry_at, task.callbacks) == (TaskState.PENDING, self.now, ())

    @rule(pick=picks)
    def get_task(self, pick):
        """Reading a task applies what is due for it: its promise's timeout, an awaited promise's
        timeout (which resumes it), a lease expiry."""
        tasks = self.store.tasks()
        suspended = [t for t in tasks if t.state is TaskState.SUSPENDED]
        if suspended and pick < 3:
            id = suspended[pick % len(suspended)].id
        else:
            id = UNKNOWN if pick == 7 or not tasks else tasks[pick % len(tasks)].id
        if id == UNKNOWN:
            self.refused(NotFound, lambda: self.store.get_task(id))
            return
        eff = self.eff_tasks()
        task = self.call(self.store.get_task(id))
        assert task == eff[id]
        assert by_id(self.store.tasks())[id] == task

    # -- time --------------------------------------------------------------------------------

    @rule(dt=st.sampled_from([0.0, 0.25, 0.5, 0.5, 1.0, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]))
    def advance(self, dt):
        self.clock.advance(dt)

    @precondition(lambda self: self.next_deadline() is not None)
    @rule(then_read=st.booleans(), pick=picks)
    def advance_to_next_deadline(self, then_read, pick):
        """Move the clock exactly onto the next timeout or lease expiry: the boundary is due.
        Then perhaps read a suspended task whose awaited promise this made due."""
        self.clock.time = self.next_deadline()
        if then_read and self.resumable():
            self.read_resumable_task(pick, "get_task")

    def next_deadline(self) -> float | None:
        times = [p.timeout_at for p in self.store.promises() if p.state is PENDING]
        times += [t.lease_expires_at for t in self.store.tasks() if t.state is TaskState.ACQUIRED]
        later = [x for x in times if x > self.now]
        return min(later) if later else None

    @rule()
    def sweep(self):
        raw_promises, raw_tasks = (by_id(x) for x in snapshot(self.store))
        self.call(self.store.sweep())
        now = self.now
        promises, tasks = by_id(self.store.promises()), by_id(self.store.tasks())
        for p in promises.values():
            assert not (p.state is PENDING and p.timeout_at <= now), f"{p.id} still pending after sweep"
        for t in tasks.values():
            assert not (t.state is TaskState.ACQUIRED and t.lease_expires_at <= now), f"{t.id} lease not expired"
        for pid, before in raw_promises.items():
            after = promises[pid]
            if before.state is PENDING and before.timeout_at <= now:
                want = (RESOLVED, "null") if before.tags.get(TAG_TIMER) == "true" else (TIMEDOUT, None)
                assert (after.state, after.value, after.settled_on) == (*want, now)
            else:
                assert after == before, f"sweep changed {pid}, which was not due"
        for tid, before in raw_tasks.items():
            after = tasks[tid]
            if promises[before.promise_id].settled:
                assert after.state is TaskState.FULFILLED
            elif before.state is TaskState.ACQUIRED and before.lease_expires_at <= now:
                assert (after.state, after.retry_at, after.lease_owner, after.version, after.lapsed_owner) == (
                    TaskState.PENDING, now, None, before.version, before.lease_owner,
                )
            elif before.state is TaskState.SUSPENDED and any(promises[c].settled for c in before.callbacks):
                assert (after.state, after.retry_at, after.callbacks, after.version) == (
                    TaskState.PENDING, now, (), before.version,
                )
            else:
                assert after == before, f"sweep changed task {tid}, which was not due"

    # -- long polls, in virtual time ---------------------------------------------------------

    def soonest_due(self, target: str, *, settled: str | None = None) -> tuple[float, set[float]]:
        """When a task of ``target`` falls due by time alone at the latest (``inf``: none does), and every
        instant at which something falls due (a dispatch can only find work at one of those). With
        ``settled``, as it stands once that promise is settled: its own task is fulfilled, so never due."""
        promises = self.eff_promises()
        soonest = math.inf
        instants = {p.timeout_at for p in promises.values() if p.state is PENDING}
        for t in self.eff_tasks().values():
            if t.promise_id == settled:
                continue
            own = promises[t.promise_id].timeout_at
            at = math.inf
            if t.state is TaskState.PENDING:
                at = t.retry_at
            elif t.state is TaskState.ACQUIRED:
                at = t.lease_expires_at
            elif t.state is TaskState.SUSPENDED:
                at = min(promises[c].timeout_at for c in t.callbacks)
            instants.add(at)
            if t.target == target and at < own:
                soonest = min(soonest, at)
        return soonest, instants

    def settle_resumes(self, id: str, target: str, at: float) -> bool:
        """Whether settling ``id`` at clock time ``at`` makes a task of ``target`` due: a task suspended on
        it whose own promise is still pending then. A task suspended on its own promise is fulfilled by
        that settle, not resumed; one whose promise timed out by then is fulfilled already; and if ``id``
        timed out by then, its timeout resumed its waiters at that instant, not the settle."""
        promises = self.eff_promises()
        if promises[id].timeout_at <= at:
            return False
        return any(t.target == target and t.state is TaskState.SUSPENDED and id in t.callbacks
                   and t.promise_id != id and promises[t.promise_id].timeout_at > at
                   for t in self.eff_tasks().values())

    @rule(group=st.sampled_from(TARGETS), limit=st.integers(1, 3), wait=st.sampled_from([0.5, 3.0, 30.0]),
          arrival=st.none() | st.tuples(st.sampled_from(["create", "settle_awaited"]),
                                        st.sampled_from([0.0, 0.25, 1.0, 2.0, 10.0])), pick=picks)
    def dispatch_waits(self, group, limit, wait, arrival, pick):
        """A long poll returns as soon as a task of its target is due (one created or resumed by a write
        meanwhile, or one whose retry time, lease or awaited timeout runs out) and at no other instant,
        or empty at its deadline, when nothing of its target is due."""
        start = self.now
        soonest, instants = self.soonest_due(group)
        soonest_after = soonest  # when a task of the target falls due by time once the write is made
        brings = False  # whether the write makes a task of the target due
        write = None
        if arrival is not None and arrival[1] < wait:
            kind, after = arrival
            free = [i for i in IDS if i not in self.store.promise_map()]
            awaited = sorted({c for t in self.store.tasks() if t.state is TaskState.SUSPENDED and t.target == group
                              for c in t.callbacks})
            if kind == "create" and free:
                id = free[pick % len(free)]
                write = (after, lambda: self.store.create_promise(id, "late", start + after + 50.0, target=group))
                brings = True  # a new task of the target, due at once
            elif kind == "settle_awaited" and awaited:
                id = awaited[pick % len(awaited)]
                write = (after, lambda: self.store.settle_promise(id, RESOLVED, '"late"'))
                brings = self.settle_resumes(id, group, start + after)
                if not brings:  # the poll waits on for what falls due by time, less the settled promise's task
                    soonest_after, _ = self.soonest_due(group, settled=id)
        wrote: list[float] = []

        async def main() -> tuple[list[TaskRecord], float]:
            began = trio.current_time()
            async with trio.open_nursery() as nursery:
                if write is not None:
                    async def writer() -> None:
                        await write[1]()
                        wrote.append(trio.current_time() - began)
                    await nursery.start(write_at, write[0], writer)  # first at its instant, whatever trio picks
                out = await self.store.dispatch(group, limit, wait=wait)
                nursery.cancel_scope.cancel()
            return out, trio.current_time() - began

        out, took = self.clock.in_virtual_time(main)
        if wrote and kind == "create":
            self.params[id], self.versions[id] = "late", 0
        assert took <= wait + 1e-6, (took, wait)
        if wrote:
            assert soonest >= start + wrote[0] - 1e-6, (
                f"{group}: a task was due at {soonest}, the poll still waited at the write, {start + wrote[0]}")
            soonest = soonest_after
        tasks = by_id(self.store.tasks())
        note_event("dispatch_waits: " + (
            "empty at the deadline" if not out else "woken by a write" if wrote and brings
            else "due at once" if took == 0 else "woken when a time ran out"))
        if not out:
            assert close(took, wait), f"an empty long poll returned after {took} s of {wait}"
            assert soonest >= start + wait - 1e-6, f"{group} had a task due at {soonest}, the poll ended empty"
            assert not [t for t in self.eff_tasks().values()
                        if t.target == group and t.state is TaskState.PENDING and t.retry_at <= self.now]
            return
        assert len(out) <= limit and len({t.id for t in out}) == len(out)
        for t in out:
            assert t == tasks[t.id] and t.target == group and t.state is TaskState.PENDING
            assert close(t.retry_at, self.now + REDISPATCH)
        if wrote and brings:
            assert close(took, wrote[0]), f"returned {took} s in, though work arrived at {wrote[0]} s"
        else:
            assert any(close(start + took, at) for at in instants | {start}), f"returned at {start + took}: why then?"
        if soonest - start < wait:
            assert start + took <= max(soonest, start) + 1e-6, f"{group}: due at {soonest}, returned at {start + took}"

    @rule(id=ids_or_unknown, pick=picks, wait=st.sampled_from([0.5, 3.0, 30.0]),
          settle_after=st.none() | st.sampled_from([0.0, 0.25, 2.0, 10.0]))
    def await_settled_waits(self, id, pick, wait, settle_after):
        """``await_settled`` answers as soon as the promise settles (by a write meanwhile or its own
        timeout), or as it stands at the deadline; an unknown id is ``NotFound`` at once."""
        id = self.pick_id(id, pick)
        if id not in self.store.promise_map():
            self.refused(NotFound, lambda: self.store.await_settled(id, wait=wait))
            return
        start = self.now
        before = self.eff_promises()[id]

        async def main() -> tuple[PromiseRecord, float]:
            began = trio.current_time()
            async with trio.open_nursery() as nursery:
                if settle_after is not None:
                    async def settler() -> None:
                        await self.store.settle_promise(id, RESOLVED, '"late"')
                    await nursery.start(write_at, settle_after, settler)
                record = await self.store.await_settled(id, wait=wait)
                nursery.cancel_scope.cancel()
            return record, trio.current_time() - began

        record, took = self.clock.in_virtual_time(main)
        note_event("await_settled_waits: " + (
            "settled before" if before.settled else "settled meanwhile" if record.settled
            else "pending at the deadline"))
        assert record == self.store.promise_map()[id]
        if before.settled:
            assert record == before and close(took, 0.0)
            return
        ends = [wait, before.timeout_at - start]
        if settle_after is not None and settle_after < wait:
            ends.append(settle_after)
        assert close(took, max(min(ends), 0.0)), (took, ends)
        assert record.settled == (took < wait - 1e-6 or before.timeout_at <= self.now), record

    # -- tasks -------------------------------------------------------------------------------

    @rule(group=st.sampled_from(TARGETS), limit=st.integers(0, 3))
    def dispatch(self, group, limit):
        target = group
        eff_tasks = self.eff_tasks()
        due = [
            t.id for t in eff_tasks.values()
            if t.target == target and t.state is TaskState.PENDING and t.retry_at <= self.now
        ]
        out = self.call(self.store.dispatch(target, limit))
        got = [t.id for t in out]
        assert len(got) == len(set(got)) == min(limit, len(due)), (got, due, limit)
        assert set(got) <= set(due)
        tasks = by_id(self.store.tasks())
        for t in out:
            assert t == tasks[t.id]
            assert t == TaskRecord(**{**_fields(eff_tasks[t.id]), "retry_at": self.now + REDISPATCH})
        eff_after = self.eff_tasks()
        for tid, before in eff_tasks.items():
            if tid not in got:
                assert eff_after[tid] == before, f"dispatch changed task {tid}, which it did not return"

    @rule(pick=picks, owner=st.sampled_from(OWNERS), ttl=st.sampled_from([1.0, 2.5, 5.0, 20.0, 20.0, 0.0]))
    def acquire_task(self, pick, owner, ttl):
        tasks = list(self.eff_tasks().values())
        pending = [t for t in tasks if t.state is TaskState.PENDING]
        if pending and pick < 5:
            id = pending[pick % len(pending)].id
        else:
            id = UNKNOWN if pick == 7 or not tasks else tasks[pick % len(tasks)].id
        def make_call():
            return self.store.acquire_task(id, owner, ttl)

        if id not in self.versions:
            self.refused((NotFound, UsageError), make_call)
            return
        if ttl <= 0:
            self.refused(UsageError, make_call)
            return
        before = self.eff_tasks()[id]
        if before.state is not TaskState.PENDING:
            self.refused(TaskStateError, make_call)
            return
        task = self.call(make_call())
        assert task == TaskRecord(
            id=id, promise_id=before.promise_id, target=before.target, state=TaskState.ACQUIRED,
            version=before.version + 1, lease_owner=owner, lease_expires_at=self.now + ttl, retry_at=None,
            callbacks=(), attempts=before.attempts + 1, lapsed_owner=before.lapsed_owner,
        )
        assert by_id(self.store.tasks())[id] == task
        self.versions[id] += 1
        self.ttls[id] = ttl

    @rule(group=st.sampled_from(TARGETS), owner=st.sampled_from(OWNERS), ttl=st.sampled_from([1.0, 5.0, 20.0, 0.0]))
    def reclaim_tasks(self, group, owner, ttl):
        """Every live lease ``owner`` holds on ``group`` is renewed at a higher version (a restarted worker
        under the same id); every other task, and every expired lease, is left as it was."""
        if ttl <= 0:
            self.refused(UsageError, lambda: self.store.reclaim_tasks(group, owner, ttl))
            return
        eff_before = self.eff_tasks()
        mine = [t for t in eff_before.values()
                if t.target == group and t.state is TaskState.ACQUIRED and t.lease_owner == owner]
        got = self.call(self.store.reclaim_tasks(group, owner, ttl))
        assert [t.id for t in got] == [t.id for t in mine]
        for before, task in zip(mine, got, strict=True):
            assert task == TaskRecord(**{**_fields(before), "version": before.version + 1,
                                         "lease_expires_at": self.now + ttl, "attempts": before.attempts + 1})
            assert by_id(self.store.tasks())[task.id] == task
            self.versions[task.id] += 1
            self.ttls[task.id] = ttl
        eff_after = self.eff_tasks()
        for tid, before in eff_before.items():
            if tid not in {t.id for t in got}:
                assert eff_after[tid] == before, f"reclaim_tasks changed task {tid}, which it did not return"

    @precondition(lambda self: self.has_live_task())
    @rule(fence_kind=write_fences, pick=picks)
    def heartbeat_task(self, fence_kind, pick):
        fence = self.make_fence(fence_kind, pick)
        if not self.fence_ok(fence):
            self.refused(Fenced, lambda: self.store.heartbeat_task(fence))
            return
        before = by_id(self.store.tasks())[fence.task_id]
        task = self.call(self.store.heartbeat_task(fence))
        assert task == TaskRecord(**{**_fields(before), "lease_expires_at": self.now + self.ttls[task.id]})
        assert by_id(self.store.tasks())[task.id] == task

    @precondition(lambda self: self.has_live_task())
    @rule(fence_kind=write_fences, pick=picks)
    def release_task(self, fence_kind, pick):
        fence = self.make_fence(fence_kind, pick)
        if not self.fence_ok(fence):
            self.refused(Fenced, lambda: self.store.release_task(fence))
            return
        before = by_id(self.store.tasks())[fence.task_id]
        task = self.call(self.store.release_task(fence))
        assert task == TaskRecord(
            **{**_fields(before), "state": TaskState.PENDING, "lease_owner": None, "lease_expires_at": None,
               "retry_at": self.now, "lapsed_owner": None}
        )
        assert by_id(self.store.tasks())[task.id] == task

    @precondition(lambda self: self.has_live_task())
    @rule(fence_kind=write_fences, pick=picks, state=any_state, value=values)
    def fulfill_task(self, fence_kind, pick, state, value):
        fence = self.make_fence(fence_kind, pick)

        def make_call():
            return self.store.fulfill_task(fence, state, value)

        if state not in SETTLE_STATES:
            self.refused(UsageError, make_call)
            return
        if not self.fence_ok(fence):
            self.refused(Fenced, make_call)
            return
        eff_tasks = self.eff_tasks()
        pid = eff_tasks[fence.task_id].promise_id
        before = self.eff_promises()[pid]
        assert before.state is PENDING  # the fence is live, so the task's promise is pending
        record = self.call(make_call())
        assert (record.id, record.state, record.value, record.settled_on) == (pid, state, value, self.now)
        self.check_accessed(record)
        self.check_settled_effects(pid, eff_tasks)

    @precondition(lambda self: self.has_live_task())
    @rule(
        fence_kind=write_fences, pick=picks,
        awaiting=st.lists(
            st.tuples(ids_or_unknown, picks, st.sampled_from(["any", "settled", "pending", "soonest"])),
            min_size=1, max_size=2,
        ),
    )
    def suspend_task(self, fence_kind, pick, awaiting):
        fence = self.make_fence(fence_kind, pick)
        eff = self.eff_promises()
        chosen = []
        for id, p, want in awaiting:
            fitting = [r.id for r in eff.values() if want == "any" or r.settled == (want == "settled")]
            if want == "soonest":  # the pending promise that times out first: suspended tasks then resume
                fitting = sorted((i for i in fitting if i != fence.task_id), key=lambda i: eff[i].timeout_at)[:1]
            chosen.append(fitting[p % len(fitting)] if fitting and p < 7 else self.pick_id(id, p))
        self.do_suspend(fence, chosen)

    @precondition(lambda self: self.has_live_task() and len(self.store.promise_map()) < len(IDS))
    @rule(pick=picks, offset=st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0]))
    def spawn_child_and_suspend(self, pick, offset):
        """The usual worker step: create a child (fenced) with a deadline, then suspend awaiting it."""
        live = [t for t in self.store.tasks() if self.fence_ok(Fence(t.id, t.version))]
        task = live[pick % len(live)]
        fence = Fence(task.id, task.version)
        free = [i for i in IDS if i not in self.store.promise_map()]
        child = free[pick % len(free)]
        record = self.call(self.store.create_promise(child, "child", self.now + offset, fence=fence))
        assert (record.state, record.timeout_at) == (PENDING, self.now + offset)
        self.do_suspend(fence, [child])

    @precondition(lambda self: self.has_live_task() and any(p.settled for p in self.store.promises()))
    @rule(pick=picks, other=st.none() | picks, settled_first=st.booleans())
    def suspend_on_settled(self, pick, other, settled_first):
        """Suspending on a promise that has already settled answers REDIRECT: run again at once."""
        live = [t for t in self.store.tasks() if self.fence_ok(Fence(t.id, t.version))]
        task = live[pick % len(live)]
        settled = [p.id for p in self.store.promises() if p.settled]
        awaiting = [settled[pick % len(settled)]]
        if other is not None:
            existing = list(self.store.promise_map())
            extra = existing[other % len(existing)]
            awaiting = [*awaiting, extra] if settled_first else [extra, *awaiting]
        self.do_suspend(Fence(task.id, task.version), awaiting)

    def do_suspend(self, fence: Fence, awaiting: list[str]) -> None:
        def make_call():
            return self.store.suspend_task(fence, awaiting)

        if not self.fence_ok(fence):
            self.refused(Fenced, make_call)
            return
        if any(a not in self.store.promise_map() for a in awaiting):
            self.refused(NotFound, make_call)
            return
        eff_before = effective(self.store)
        eff_promises = by_id(eff_before[0])
        before = by_id(eff_before[1])[fence.task_id]
        result = self.call(make_call())
        task = by_id(self.store.tasks())[fence.task_id]
        if any(eff_promises[a].settled for a in awaiting):
            assert result is SuspendResult.REDIRECT
            assert task == before and task.state is TaskState.ACQUIRED
            assert effective(self.store) == eff_before
        else:
            assert result is SuspendResult.SUSPENDED
            assert task == TaskRecord(
                **{**_fields(before), "state": TaskState.SUSPENDED, "lease_owner": None,
                   "lease_expires_at": None, "retry_at": None, "callbacks": tuple(dict.fromkeys(awaiting)),
                   "lapsed_owner": None}
            )

    @precondition(lambda self: any(v >= 1 for v in self.versions.values()))
    @rule(pick=picks, op=WRITES)
    def zombie_write(self, pick, op):
        """Any write with an older version of a task that has been acquired again is refused."""
        tids = sorted(t for t, v in self.versions.items() if v >= 1)
        tid = tids[pick % len(tids)]
        self.refused(Fenced, self.write_call(op, Fence(tid, self.versions[tid] - 1)))

    @precondition(lambda self: any(self.is_zombie(t) for t in self.store.tasks()))
    @rule(pick=picks, op=WRITES)
    def expired_lease_write(self, pick, op):
        """A write with the current version of a task whose lease has run out (not yet noticed by the
        store, which applies the expiry lazily) is refused: its holder is a zombie."""
        zombies = [t for t in self.store.tasks() if self.is_zombie(t)]
        t = zombies[pick % len(zombies)]
        self.refused(Fenced, self.write_call(op, Fence(t.id, t.version)))

    def is_zombie(self, t: TaskRecord) -> bool:
        return t.state is TaskState.ACQUIRED and not self.fence_ok(Fence(t.id, t.version))

    def write_call(self, op: str, fence: Fence):
        tid = fence.task_id
        calls = {
            "create": lambda: self.store.create_promise(f"{tid}.9", "p", self.now + 5, target="g1", fence=fence),
            "settle": lambda: self.store.settle_promise(tid, RESOLVED, "1", fence=fence),
            "heartbeat": lambda: self.store.heartbeat_task(fence),
            "release": lambda: self.store.release_task(fence),
            "fulfill": lambda: self.store.fulfill_task(fence, RESOLVED, "1"),
            "suspend": lambda: self.store.suspend_task(fence, [tid]),
        }
        return calls[op]

    # -- invariants, after every operation ---------------------------------------------------

    @invariant()
    def settled_promises_are_write_once(self):
        promises = by_id(self.store.promises())
        assert set(self.params) <= set(promises), "a promise disappeared"
        assert set(promises) <= set(self.params) | set(IDS), "a promise appeared from nowhere"
        for pid, first in self.first_settled.items():
            p = promises[pid]
            assert (p.state, p.value, p.settled_on) == first, f"settled promise {pid} changed"
        for pid, p in promises.items():
            if p.settled and pid not in self.first_settled:
                assert p.settled_on is not None and p.settled_on <= self.now
                self.first_settled[pid] = (p.state, p.value, p.settled_on)
            if p.state is PENDING:
                assert (p.value, p.settled_on) == (None, None)
            assert p.param == self.params.get(pid, p.param)
        self.params.update({pid: p.param for pid, p in promises.items() if pid not in self.params})

    @invariant()
    def task_versions_match_the_model(self):
        assert {t.id: t.version for t in self.store.tasks()} == self.versions

    @invariant()
    def task_invariants_hold(self):
        tasks, promises = self.store.tasks(), self.store.promise_map()
        assert task_invariant_violations(tasks, promises) == []
        for t in tasks:
            # (1) every task has a promise, and it is the promise that named the task's target.
            assert t.promise_id in promises, f"task {t.id} has no promise"
            p = promises[t.promise_id]
            assert p.tags.get(TAG_TARGET) == t.target
            # A settled promise's task is fulfilled, and a fulfilled task's promise is settled.
            assert p.settled == (t.state is TaskState.FULFILLED), (p, t)
            # (2) a pending task has a retry time.
            if t.state is TaskState.PENDING:
                assert t.retry_at is not None and t.lease_owner is None and t.lease_expires_at is None
            # (3) an acquired task has a lease.
            if t.state is TaskState.ACQUIRED:
                assert t.lease_owner in OWNERS and t.lease_expires_at is not None and t.retry_at is None
            # (4), (5), (6) a suspended task waits on pending promises only, and has no timeout.
            if t.state is TaskState.SUSPENDED:
                assert t.callbacks
                assert all(c in promises and not promises[c].settled for c in t.callbacks), t
                assert t.retry_at is None and t.lease_expires_at is None
            else:
                assert t.callbacks == ()
            # (7) a fulfilled task has no timeout.
            if t.state is TaskState.FULFILLED:
                assert t.retry_at is None and t.lease_expires_at is None and t.lease_owner is None
            # Only a lease that ran out names a lapsed owner; fulfilling and suspending clear it.
            assert t.lapsed_owner is None or (
                t.lapsed_owner in OWNERS and t.state in (TaskState.PENDING, TaskState.ACQUIRED)), t


def _fields(record) -> dict:
    return attrs.asdict(record, recurse=False)


StoreMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestStoreContract = StoreMachine.TestCase


class SqliteStoreMachine(StoreMachine):
    """The same machine against ``SqliteStore``, on a fresh file for every example."""

    def new_store(self, clock: ManualClock) -> InspectableStore:
        self.dir = tempfile.mkdtemp(prefix="durable-contract-")
        return SqliteStore(Path(self.dir) / "store.db", clock, redispatch_after=REDISPATCH, cross_process=False)

    def teardown(self) -> None:
        assert isinstance(self.store, SqliteStore)
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)


SqliteStoreMachine.TestCase.settings = StoreMachine.TestCase.settings
TestSqliteStoreContract = SqliteStoreMachine.TestCase

#: The tables a ``PostgresStore`` fills; emptied between examples (the schema and its version stay).
PG_TABLES = "promises, tasks, pending, waiters, leases"


class PostgresStoreMachine(StoreMachine):
    """The same machine against ``PostgresStore``; every example starts on empty tables of one database."""

    dsn = ""  # set by the test below, which gets a fresh database from the ``postgres_dsn`` fixture

    def new_store(self, clock: ManualClock) -> InspectableStore:
        store = PostgresStore(self.dsn, clock, redispatch_after=REDISPATCH, cross_process=False)
        store.engine.connection.execute(f"TRUNCATE {PG_TABLES}")
        return store

    def teardown(self) -> None:
        assert isinstance(self.store, PostgresStore)
        self.store.close()


def test_postgres_store_contract(postgres_dsn: str) -> None:
    """The contract machine over PostgreSQL, with fewer examples than for the embedded stores (each step
    is some hundred round trips to the server; 50 examples of 40 steps take about 15 s on one core)."""
    PostgresStoreMachine.dsn = postgres_dsn
    run_state_machine_as_test(PostgresStoreMachine, settings=settings(
        StoreMachine.TestCase.settings, max_examples=50,
    ))


# -- named scenarios, against every store -------------------------------------------------------


CURRENT_KIND: list[Callable[[ManualClock], InspectableStore]] = []


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Runs a named scenario once per store: ``make_store()`` makes a store of this kind (each SQL store
    on a fresh file or database of its own)."""
    opened: list[SqliteStore | PostgresStore] = []
    server: PgServer | None = request.getfixturevalue("pg_server") if request.param == "postgres" else None

    def make(clock: ManualClock) -> InspectableStore:
        store: SqliteStore | PostgresStore
        if request.param == "memory":
            return MemoryStore(clock)
        if server is not None:  # one process: long polls wait in virtual time, with no watch on other processes
            store = PostgresStore(server.create_database(f"{request.node.name}_{len(opened)}"[-60:]), clock,
                                  cross_process=False)
        else:
            store = SqliteStore(tmp_path / f"store{len(opened)}.db", clock, cross_process=False)
        opened.append(store)
        return store

    CURRENT_KIND.append(make)
    yield request.param
    CURRENT_KIND.pop()
    for store in opened:
        store.close()


def make_store() -> tuple[InspectableStore, FollowingClock]:
    clock = FollowingClock()
    return CURRENT_KIND[-1](clock), clock


def test_create_is_idempotent(store_kind):
    store, clock = make_store()
    first = run_now(store.create_promise("order-42", "p1", 10.0, {"k": "1"}, target="g1"))
    before = snapshot(store)
    clock.advance(1.0)
    again = run_now(store.create_promise("order-42", "p2", 99.0, {"k": "2"}, target="g2"))
    assert again == first
    assert again.param == "p1" and again.timeout_at == 10.0 and again.tags[TAG_TARGET] == "g1"
    assert snapshot(store) == before
    assert [t.target for t in store.tasks()] == ["g1"]


def test_settle_is_write_once(store_kind):
    store, clock = make_store()
    run_now(store.create_promise("p", "x", 10.0))
    clock.advance(1.0)
    first = run_now(store.settle_promise("p", RESOLVED, "1"))
    assert (first.state, first.value, first.settled_on) == (RESOLVED, "1", 1.0)
    clock.advance(1.0)
    assert run_now(store.settle_promise("p", REJECTED, '"boom"')) == first
    assert run_now(store.settle_promise("p", CANCELED, None)) == first
    clock.advance(20.0)  # past its timeout: a settled promise does not time out
    run_now(store.sweep())
    assert run_now(store.get_promise("p")) == first
    with pytest.raises(NotFound):
        run_now(store.settle_promise("nope", RESOLVED, "1"))
    for bad in (PENDING, TIMEDOUT):
        with pytest.raises(UsageError):
            run_now(store.settle_promise("p", bad, None))


def test_timer_promise_resolves_on_timeout(store_kind):
    store, clock = make_store()
    run_now(store.create_promise("t", "sleep", 5.0, {TAG_TIMER: "true"}))
    run_now(store.create_promise("d", "deadline", 5.0))
    clock.advance(4.0)
    assert run_now(store.get_promise("t")).state is PENDING
    clock.advance(1.0)  # exactly at timeout_at
    t = run_now(store.get_promise("t"))
    assert (t.state, t.value, t.settled_on) == (RESOLVED, "null", 5.0)
    run_now(store.sweep())
    d = store.promise_map()["d"]
    assert (d.state, d.value, d.settled_on) == (TIMEDOUT, None, 5.0)
    late = run_now(store.create_promise("t2", "sleep", 5.0, {TAG_TIMER: "true"}))
    assert (late.state, late.value, late.settled_on) == (RESOLVED, "null", 5.0)


def test_an_acquire_after_a_lease_ran_out_names_the_worker_it_took_over_from(store_kind):
    """A task whose lease lapsed keeps its last holder in ``lapsed_owner`` through the next acquire (that
    acquire is a takeover); a release, suspend or fulfill leaves it empty, so the acquire after is not."""
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    first = run_now(store.acquire_task("r", "w1", 2.0))
    assert first.lapsed_owner is None
    clock.advance(3.0)  # w1's lease runs out
    assert run_now(store.get_task("r")).lapsed_owner == "w1"
    taken = run_now(store.acquire_task("r", "w2", 2.0))
    assert (taken.lease_owner, taken.lapsed_owner) == ("w2", "w1")
    released = run_now(store.release_task(Fence("r", taken.version)))
    assert released.lapsed_owner is None
    again = run_now(store.acquire_task("r", "w3", 2.0))
    assert (again.lease_owner, again.lapsed_owner) == ("w3", None)
    clock.advance(3.0)
    run_now(store.sweep())  # a sweep applies the lapse too
    assert store.snapshot().tasks[0].lapsed_owner == "w3"
    run_now(store.create_promise("c", "child", 100.0))
    last = run_now(store.acquire_task("r", "w1", 2.0))
    assert last.lapsed_owner == "w3"
    assert run_now(store.suspend_task(Fence("r", last.version), ["c"])) is SuspendResult.SUSPENDED
    assert run_now(store.get_task("r")).lapsed_owner is None


def test_zombie_is_fenced_on_fulfill(store_kind):
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    old = run_now(store.acquire_task("r", "w1", 2.0))
    assert old.version == 1
    clock.advance(3.0)  # w1's lease expires; w1 does not know yet
    with pytest.raises(Fenced):
        run_now(store.heartbeat_task(Fence("r", old.version)))
    new = run_now(store.acquire_task("r", "w2", 2.0))
    assert (new.version, new.lease_owner) == (2, "w2")
    before = snapshot(store)
    with pytest.raises(Fenced):
        run_now(store.fulfill_task(Fence("r", old.version), RESOLVED, '"zombie"'))
    with pytest.raises(Fenced):
        run_now(store.create_promise("r.0", "child", 50.0, fence=Fence("r", old.version)))
    assert snapshot(store) == before
    done = run_now(store.fulfill_task(Fence("r", new.version), RESOLVED, '"ok"'))
    assert (done.state, done.value) == (RESOLVED, '"ok"')
    assert run_now(store.get_task("r")).state is TaskState.FULFILLED


def test_suspend_redirect(store_kind):
    store, _ = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    task = run_now(store.acquire_task("r", "w1", 10.0))
    fence = Fence("r", task.version)
    run_now(store.create_promise("r.0", "c0", 50.0, {TAG_PARENT: "r"}, target="g2", fence=fence))
    run_now(store.create_promise("r.1", "c1", 50.0, {TAG_PARENT: "r"}, target="g2", fence=fence))
    run_now(store.settle_promise("r.1", RESOLVED, "1"))
    before = snapshot(store)
    assert run_now(store.suspend_task(fence, ["r.0", "r.1"])) is SuspendResult.REDIRECT
    assert snapshot(store) == before
    assert run_now(store.get_task("r")) == task  # still acquired, same lease: run again at once


def test_resume_on_settle(store_kind):
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    task = run_now(store.acquire_task("r", "w1", 10.0))
    fence = Fence("r", task.version)
    run_now(store.create_promise("r.0", "c0", 50.0, {TAG_PARENT: "r"}, target="g2", fence=fence))
    assert run_now(store.suspend_task(fence, ["r.0"])) is SuspendResult.SUSPENDED
    parked = run_now(store.get_task("r"))
    assert (parked.state, parked.callbacks, parked.lease_expires_at) == (TaskState.SUSPENDED, ("r.0",), None)
    assert run_now(store.dispatch("g1", 10)) == []
    clock.advance(1.0)
    run_now(store.settle_promise("r.0", RESOLVED, "42"))
    resumed = run_now(store.get_task("r"))
    assert (resumed.state, resumed.retry_at, resumed.callbacks) == (TaskState.PENDING, 1.0, ())
    assert [t.id for t in run_now(store.dispatch("g1", 10))] == ["r"]
    again = run_now(store.acquire_task("r", "w2", 10.0))
    assert again.version == task.version + 1


def suspended_on_a_child_that_times_out_at_5():
    """A root task `r` suspended on its child `r.0`, whose timeout (5.0) has just passed."""
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    task = run_now(store.acquire_task("r", "w1", 100.0))
    fence = Fence("r", task.version)
    run_now(store.create_promise("r.0", "c0", 5.0, {TAG_PARENT: "r"}, fence=fence))
    assert run_now(store.suspend_task(fence, ["r.0"])) is SuspendResult.SUSPENDED
    clock.advance(5.0)
    return store


def test_resume_on_child_timeout(store_kind):
    store = suspended_on_a_child_that_times_out_at_5()
    run_now(store.sweep())
    assert store.promise_map()["r.0"].state is TIMEDOUT
    assert run_now(store.get_task("r")).state is TaskState.PENDING


def test_awaited_timeout_resumes_the_task_on_read(store_kind):
    """No sweep needed: reading the task (or dispatching) applies the awaited promise's timeout."""
    store = suspended_on_a_child_that_times_out_at_5()
    resumed = run_now(store.get_task("r"))
    assert (resumed.state, resumed.retry_at, resumed.callbacks) == (TaskState.PENDING, 5.0, ())
    assert store.promise_map()["r.0"].state is TIMEDOUT
    assert [t.id for t in run_now(store.dispatch("g1", 1))] == ["r"]


def test_own_promise_timeout_fulfills_task(store_kind):
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 5.0, target="g1"))
    task = run_now(store.acquire_task("r", "w1", 100.0))
    clock.advance(5.0)
    with pytest.raises(Fenced):
        run_now(store.heartbeat_task(Fence("r", task.version)))
    assert run_now(store.get_task("r")).state is TaskState.FULFILLED
    assert store.promise_map()["r"].state is TIMEDOUT


def test_get_branch_returns_descendants_in_creation_order(store_kind):
    store, _ = make_store()
    run_now(store.create_promise("r", "p", 100.0))
    run_now(store.create_promise("other", "p", 100.0))
    run_now(store.create_promise("r.0", "p", 100.0, {TAG_PARENT: "r"}))
    run_now(store.create_promise("other.0", "p", 100.0, {TAG_PARENT: "other"}))
    run_now(store.create_promise("r.1", "p", 100.0, {TAG_PARENT: "r"}))
    run_now(store.create_promise("r.2", "p", 100.0, {TAG_PARENT: "r"}))
    assert [p.id for p in run_now(store.get_branch("r"))] == ["r", "r.0", "r.1", "r.2"]
    assert [p.id for p in run_now(store.get_branch("r.1"))] == ["r.1"]
    with pytest.raises(NotFound):
        run_now(store.get_branch("nope"))


def test_get_branch_nested_is_in_creation_order(store_kind):
    """Depth does not reorder: a grandchild created before an uncle comes before it."""
    store, _ = make_store()
    for pid, parent in [("r", None), ("r.0", "r"), ("r.0.0", "r.0"), ("r.1", "r")]:
        run_now(store.create_promise(pid, "p", 100.0, {TAG_PARENT: parent} if parent else {}))
    assert [p.id for p in run_now(store.get_branch("r"))] == ["r", "r.0", "r.0.0", "r.1"]


def test_a_task_released_with_an_error_records_it_and_waits_longer_each_time(store_kind):
    """Issue 9, item 5: what stopped an execution goes into the store (every process reads it), and the
    task is due again only after ``failure_delay(failures)``: 5 s, then 10 s, … (not at once, to be
    handed from worker to worker in a loop). A plain release is due at once and keeps the record."""
    from pytest_durable.core.store import failure_delay

    store, clock = make_store()
    run_now(store.create_promise("r", "p", 10_000.0, target="g1"))
    first = run_now(store.acquire_task("r", "w1", 30.0))
    released = run_now(store.release_task(Fence("r", first.version), error="NondeterminismError at r: x"))
    assert (released.state, released.error, released.failures) == (TaskState.PENDING, "NondeterminismError at r: x", 1)
    assert released.retry_at == clock.now() + failure_delay(1) == 5.0
    assert run_now(store.dispatch("g1", 10)) == []  # not due yet
    clock.advance(5.0)
    assert [t.id for t in run_now(store.dispatch("g1", 10))] == ["r"]
    second = run_now(store.acquire_task("r", "w2", 30.0))
    assert (second.error, second.failures) == ("NondeterminismError at r: x", 1)  # still there for readers
    again = run_now(store.release_task(Fence("r", second.version), error="MissingDependency at r.1: bank"))
    assert (again.error, again.failures, again.retry_at) == ("MissingDependency at r.1: bank", 2, 5.0 + 10.0)
    assert run_now(store.get_task("r")) == again
    with pytest.raises(Fenced):  # a stale holder cannot record an error either
        run_now(store.release_task(Fence("r", second.version), error="late"))
    clock.advance(10.0)
    third = run_now(store.acquire_task("r", "w3", 30.0))
    plain = run_now(store.release_task(Fence("r", third.version)))
    assert (plain.retry_at, plain.failures) == (clock.now(), 2)
    assert task_invariant_violations(store.tasks(), store.promise_map()) == []
    assert [failure_delay(n) for n in (1, 2, 3, 10, 20)] == [5.0, 10.0, 20.0, 2560.0, 3600.0]


def test_a_version_1_sqlite_store_is_upgraded_in_place(tmp_path: Path) -> None:
    """A file written before tasks recorded errors opens, gains the columns, and keeps its records."""
    import sqlite3

    clock = ManualClock()
    store = SqliteStore(tmp_path / "old.db", clock)
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    store.close()
    with sqlite3.connect(tmp_path / "old.db") as db:  # what version 1 looked like
        db.execute("ALTER TABLE tasks DROP COLUMN error")
        db.execute("ALTER TABLE tasks DROP COLUMN failures")
        db.execute("ALTER TABLE tasks DROP COLUMN lapsed_owner")
        db.execute("UPDATE schema_version SET version = 1")
    reopened = SqliteStore(tmp_path / "old.db", clock)
    task = run_now(reopened.get_task("r"))
    assert (task.state, task.error, task.failures) == (TaskState.PENDING, None, 0)
    acquired = run_now(reopened.acquire_task("r", "w", 5.0))
    assert run_now(reopened.release_task(Fence("r", acquired.version), error="e")).failures == 1
    reopened.close()


def test_a_version_2_sqlite_store_is_upgraded_in_place(tmp_path: Path) -> None:
    """A file written before tasks recorded a lapsed lease opens as version 3, gains the column, keeps its
    records, and a lease that runs out after the upgrade is recorded."""
    import sqlite3

    clock = ManualClock()
    store = SqliteStore(tmp_path / "old.db", clock)
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    store.close()
    with sqlite3.connect(tmp_path / "old.db") as db:  # what version 2 looked like
        db.execute("ALTER TABLE tasks DROP COLUMN lapsed_owner")
        db.execute("UPDATE schema_version SET version = 2")
    reopened = SqliteStore(tmp_path / "old.db", clock)
    with sqlite3.connect(tmp_path / "old.db") as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    task = run_now(reopened.get_task("r"))
    assert (task.state, task.lapsed_owner) == (TaskState.PENDING, None)
    run_now(reopened.acquire_task("r", "w1", 5.0))
    clock.advance(6.0)
    assert run_now(reopened.acquire_task("r", "w2", 5.0)).lapsed_owner == "w1"
    reopened.close()


def test_a_long_poll_that_races_a_lease_expiry_hands_the_task_out_when_the_lease_ends(store_kind):
    """A waiter computed its wake from a lease that a heartbeat then moved: it must not hand the task out
    at the old expiry, and must at the new one, however a late heartbeat at that same instant is ordered
    with it (that heartbeat is refused either way)."""
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    held = run_now(store.acquire_task("r", "w1", 2.0))
    fence = Fence("r", held.version)
    refused: list[str] = []

    async def main() -> tuple[list[TaskRecord], float]:
        async with trio.open_nursery() as nursery:
            async def holder() -> None:
                await trio.sleep(1.5)
                await store.heartbeat_task(fence)  # the lease now ends at 3.5
                await trio.sleep(2.0)
                try:
                    await store.heartbeat_task(fence)  # at 3.5: too late
                except Fenced as exc:
                    refused.append(str(exc))
            nursery.start_soon(holder)
            out = await store.dispatch("g1", 10, wait=30.0)
            return out, trio.current_time()

    out, took = clock.in_virtual_time(main)
    assert [(t.id, t.state, t.version) for t in out] == [("r", TaskState.PENDING, held.version)]
    assert close(took, 3.5), took
    assert refused, "a heartbeat at the instant its lease ended was accepted"
    again = run_now(store.acquire_task("r", "w2", 2.0))
    assert again.version == held.version + 1


def test_a_settle_that_fulfils_a_task_suspended_on_its_own_promise_wakes_no_long_poll(store_kind):
    """Settling the promise a task awaits resumes the task, unless it is the task's own promise: then the
    task is fulfilled, nothing of its target became due, and a long poll sleeps on to the next instant
    something falls due (here another task's retry at 5.0)."""
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    held = run_now(store.acquire_task("r", "w1", 10.0))
    assert run_now(store.suspend_task(Fence("r", held.version), ["r"])) is SuspendResult.SUSPENDED
    run_now(store.create_promise("q", "p", 100.0, target="g1"))
    assert [t.id for t in run_now(store.dispatch("g1", 10))] == ["q"]  # q is due again at 5.0
    settled: list[float] = []

    async def main() -> tuple[list[TaskRecord], float]:
        async with trio.open_nursery() as nursery:
            async def settler() -> None:
                await trio.sleep(0.25)
                await store.settle_promise("r", RESOLVED, '"late"')
                settled.append(trio.current_time())
            nursery.start_soon(settler)
            out = await store.dispatch("g1", 10, wait=30.0)
            nursery.cancel_scope.cancel()
        return out, trio.current_time()

    out, took = clock.in_virtual_time(main)
    assert [round(t, 6) for t in settled] == [0.25]
    assert [t.id for t in out] == ["q"] and close(took, 5.0), (out, took)
    assert run_now(store.get_task("r")).state is TaskState.FULFILLED


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def machine(request: pytest.FixtureRequest) -> Iterator[type[StoreMachine]]:
    """The contract machine over each store, for a sequence of its rules replayed by a plain test."""
    if request.param == "postgres":
        PostgresStoreMachine.dsn = request.getfixturevalue("postgres_dsn")
        yield PostgresStoreMachine
    else:
        yield SqliteStoreMachine if request.param == "sqlite" else StoreMachine


def test_the_machine_knows_a_settle_of_a_self_awaited_promise_brings_no_work(machine):
    """A sequence the machine once judged wrongly (kept from the Hypothesis database): at 0.25 s it settles
    ``a.1``, which only the task ``a.1`` itself awaits, so no task becomes due and the poll rightly ends
    at 5.0, when ``a.0.0``'s retry falls due. Every store answers so; the model expected 0.25."""
    state = machine()
    try:
        state.start(roots=[("a.1.0", "g1", None), ("a.0", "g1", 5.0), ("a.1", "g1", 5.0)])
        state.create_promise_fenced(fence_kind="valid", group=None, id="a.0", lineage=True, offset=-1.0,
                                    param="B\u00c4\U000ba899\t", pick=0)
        state.acquire_task(owner="w1", pick=0, ttl=1.0)
        state.create_promise_fenced(fence_kind="valid", group="g1", id="a", lineage=True, offset=0.5, param="",
                                    pick=0)
        state.settle_promise(id="a", pick=0, state=RESOLVED, value=None)
        state.suspend_task(awaiting=[("a", 1, "pending")], fence_kind="valid", pick=1)
        state.get_task(pick=0)
        state.get_task(pick=0)
        state.fulfill_task(fence_kind="valid", pick=0, state=RESOLVED, value=None)
        state.acquire_task(owner="w1", pick=0, ttl=1.0)
        state.acquire_task(owner="w1", pick=0, ttl=1.0)
        state.release_task(fence_kind="ahead", pick=2)
        state.get_task(pick=5)
        state.fulfill_task(fence_kind="old", pick=3, state=REJECTED, value='"v"')
        state.heartbeat_task(fence_kind="valid", pick=3)
        state.release_task(fence_kind="valid", pick=3)
        state.dispatch_waits(arrival=None, group="g1", limit=2, pick=7, wait=3.0)
        state.get_task(pick=1)
        state.dispatch_waits(arrival=("create", 0.0), group="g1", limit=3, pick=4, wait=30.0)
        state.settle_promise_fenced(fence_kind="valid", id="a.1", pick=6, state=REJECTED, value='"v"')
        suspended = [(t.id, t.callbacks) for t in state.store.tasks() if t.state is TaskState.SUSPENDED]
        assert suspended == [("a.1", ("a.1",))]
        state.dispatch_waits(arrival=("settle_awaited", 0.25), group="g1", limit=2, pick=2, wait=30.0)
        assert state.now == 5.0
        assert [t.id for t in state.store.tasks() if t.state is TaskState.PENDING] == ["a.0.0"]
    finally:
        if machine is not StoreMachine:
            state.teardown()


def test_await_settled_answers_on_a_settle_on_a_timeout_and_at_its_deadline(store_kind):
    store, clock = make_store()
    run_now(store.create_promise("s", "p", 100.0))
    run_now(store.create_promise("t", "p", 4.0))
    run_now(store.create_promise("u", "p", 100.0))

    async def main() -> list[tuple[str, float]]:
        got: list[tuple[str, float]] = []

        async def waiter(id: str) -> None:
            record = await store.await_settled(id, wait=10.0)
            got.append((f"{id} {record.state.value}", trio.current_time()))

        async with trio.open_nursery() as nursery:
            for id in ("s", "t", "u"):
                nursery.start_soon(waiter, id)
            await trio.sleep(1.0)
            await store.settle_promise("s", RESOLVED, "1")
        return got

    got = clock.in_virtual_time(main)
    assert [g[0] for g in got] == ["s resolved", "t rejected_timedout", "u pending"]
    assert [round(g[1], 6) for g in got] == [1.0, 4.0, 10.0]


def test_settling_a_promise_from_outside_fences_the_worker_holding_its_task(store_kind):
    """What ``cancel`` relies on (``sdk/cancellation.py``): a settle with no fence (an operator's) of a
    promise whose task is acquired or suspended completes the task, so every later write of its holder
    is refused, and the task is never handed out again."""
    store, clock = make_store()
    run_now(store.create_promise("r", "p", 100.0, target="g1"))
    held = run_now(store.acquire_task("r", "w1", 30.0))
    run_now(store.create_promise("r.0", "child", 50.0, {TAG_PARENT: "r"}, fence=Fence("r", held.version)))
    run_now(store.create_promise("s", "p", 100.0, target="g1"))
    parked = run_now(store.acquire_task("s", "w1", 30.0))
    run_now(store.create_promise("s.0", "rpc", 50.0, {TAG_PARENT: "s"}, target="g1", fence=Fence("s", parked.version)))
    assert run_now(store.suspend_task(Fence("s", parked.version), ["s.0"])) is SuspendResult.SUSPENDED
    for id in ("r", "s"):
        canceled = run_now(store.settle_promise(id, PromiseState.REJECTED_CANCELED, None))
        assert canceled.state is PromiseState.REJECTED_CANCELED
        assert run_now(store.get_task(id)).state is TaskState.FULFILLED
    before = snapshot(store)
    fence = Fence("r", held.version)
    with pytest.raises(Fenced):
        run_now(store.create_promise("r.1", "child", 50.0, {TAG_PARENT: "r"}, fence=fence))
    with pytest.raises(Fenced):
        run_now(store.settle_promise("r.0", RESOLVED, '"late"', fence=fence))
    with pytest.raises(Fenced):
        run_now(store.heartbeat_task(fence))
    with pytest.raises(Fenced):
        run_now(store.fulfill_task(fence, RESOLVED, '"late"'))
    assert snapshot(store) == before
    run_now(store.settle_promise("s.0", RESOLVED, '"done"'))  # its callback is gone with the task
    clock.advance(60.0)
    assert [t.id for t in run_now(store.dispatch("g1", 10)) if t.id in ("r", "s")] == []
