"""Differential test: the same operation sequences against ``MemoryStore`` (the oracle) and each real
store, ``SqliteStore`` and ``PostgresStore`` (on the real server of ``tests/conftest.py``).

Hypothesis draws a sequence of store operations over small pools of ids, owners and targets (so creates
collide, timeouts tie, tasks are fought over, fences go stale), applies each to both stores under one
shared manual clock, and compares every answer and every error (type and message), and after each step
every record both as stored and as a sweep would leave it. A long poll (``dispatch(..., wait=)``,
``await_settled``) runs in virtual time, perhaps with one write made meanwhile, on each store in turn from
the same instant: both must answer the same thing at the same virtual time. Anything the reference store does, including
the order in which tied timeouts resume tasks and expired leases are re-dispatched, SQLite and
PostgreSQL must do too.
"""

from __future__ import annotations

import functools
import math
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_durable.core import (
    TAG_PARENT,
    TAG_TIMER,
    Fence,
    InspectableStore,
    ManualClock,
    MemoryStore,
    PromiseState,
    StoreError,
    TaskState,
    UsageError,
)
from pytest_durable.live import PostgresStore, SqliteStore
from tests.helpers.virtual_time import FollowingClock, write_at

IDS = ("a", "a.0", "a.1", "a.0.0", "b", "b.0")
TARGETS = ("g1", "g2")
OWNERS = ("w1", "w2")


def run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise AssertionError("store call suspended")


ids = st.sampled_from(IDS)
#: A reference to a promise or task: an id from the pool, or ("pick", n), the n-th existing one (in
#: creation order, resolved against the oracle's records when the step runs), so most operations find
#: something to work on.
promise_refs = ids | st.tuples(st.just("pick"), st.integers(0, 7))
task_refs = st.tuples(st.just("pick"), st.integers(0, 7)) | ids
times = st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0]) | st.floats(-2, 60, allow_nan=False)
any_state = st.sampled_from(list(PromiseState))
settle_states = st.sampled_from([PromiseState.RESOLVED, PromiseState.REJECTED, PromiseState.REJECTED_CANCELED])
values = st.none() | st.sampled_from(['"v"', "1", "null", '{"k":[1,"\\u00e9"]}'])
#: A fence names a task (mostly an acquired one: ("acquired", n)) and a version relative to its current
#: one (0 = current), or is absent.
fences = st.tuples(st.tuples(st.just("acquired"), st.integers(0, 3)) | task_refs, st.sampled_from([0, 0, 0, 0, -1, 1]))
optional_fences = st.none() | st.none() | fences
parents = st.none() | st.just("lineage") | st.just("lineage") | ids  # an id from the pool may form a cycle

_create = st.tuples(st.just("create"), ids, st.text(max_size=3), times, parents, st.booleans(),
                    st.none() | st.sampled_from(TARGETS), optional_fences)
_create_task = st.tuples(st.just("create"), ids, st.just("t"), st.sampled_from([5.0, 20.0, 50.0]),
                         st.just("lineage"), st.just(False), st.sampled_from(TARGETS), optional_fences)
operations = st.one_of(
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 10.0])),
    _create, _create_task, _create_task,
    st.tuples(st.just("settle"), promise_refs, any_state | settle_states, values, optional_fences),
    st.tuples(st.just("get"), promise_refs),
    st.tuples(st.just("branch"), promise_refs),
    st.tuples(st.just("get_task"), task_refs),
    st.tuples(st.just("dispatch"), st.sampled_from(TARGETS), st.sampled_from([0, 1, 2, 10])),
    st.tuples(st.just("acquire"), task_refs, st.sampled_from(OWNERS), st.sampled_from([1.0, 3.0, 10.0, 0.0, -1.0])),
    st.tuples(st.just("acquire"), task_refs, st.sampled_from(OWNERS), st.sampled_from([2.0, 4.0])),
    st.tuples(st.just("acquire"), task_refs, st.sampled_from(OWNERS), st.sampled_from([5.0, 20.0])),
    st.tuples(st.just("heartbeat"), fences),
    st.tuples(st.just("reclaim"), st.sampled_from(TARGETS), st.sampled_from(OWNERS), st.sampled_from([5.0, 20.0, 0.0])),
    st.tuples(st.just("release"), fences),
    st.tuples(st.just("fulfill"), fences, any_state | settle_states, values),
    st.tuples(st.just("suspend"), fences, st.lists(promise_refs, max_size=3)),
    st.tuples(st.just("suspend"), fences, st.lists(promise_refs, min_size=1, max_size=2)),
    st.tuples(st.just("sweep")),
    # Macros that make ties: several tasks acquired with one ttl (their leases expire together),
    # suspended on one promise (resumed by one settle), or each on a child of its own with one timeout.
    *[st.tuples(st.just("acquire_all"), st.sampled_from(TARGETS), st.sampled_from([2.0, 5.0]))] * 2,
    *[st.tuples(st.just("suspend_all"), st.lists(promise_refs, min_size=1, max_size=2))] * 2,
    *[st.tuples(st.just("suspend_each"), st.sampled_from([1.0, 5.0]), st.booleans())] * 2,
)
#: A long poll, perhaps with one operation made ``after`` seconds into it, and which comes first when the
#: poll wakes by time at that same instant, the write or the poll ("wakes"; ``write_at``):
#: ("long_poll", what, wait, write, after[, first]).
_writes = st.one_of(_create_task, st.tuples(st.just("settle"), promise_refs, settle_states, values, st.none()),
                    st.tuples(st.just("release"), fences))
long_polls = st.tuples(
    st.just("long_poll"),
    st.tuples(st.just("dispatch"), st.sampled_from(TARGETS), st.sampled_from([1, 10]))
    | st.tuples(st.just("await"), promise_refs),
    st.sampled_from([0.5, 3.0, 30.0]), st.none() | _writes, st.sampled_from([0.0, 0.25, 1.0, 2.0, 10.0]),
    st.sampled_from(["write", "wakes"]),
)


def resolve(ref: str | tuple[str, int], oracle: MemoryStore, *, task: bool) -> str:
    if isinstance(ref, str):
        return ref
    if ref[0] == "acquired":
        acquired = [t.id for t in oracle.tasks() if t.state is TaskState.ACQUIRED]
        if acquired:
            return acquired[ref[1] % len(acquired)]
    existing = [r.id for r in (oracle.tasks() if task else oracle.promises())]
    return existing[ref[1] % len(existing)] if existing else IDS[ref[1] % len(IDS)]


def fence_of(spec: tuple[Any, int] | None, oracle: MemoryStore) -> Fence | None:
    if spec is None:
        return None
    id = resolve(spec[0], oracle, task=True)
    task = next((t for t in oracle.tasks() if t.id == id), None)
    return Fence(id, (task.version if task is not None else 1) + spec[1])


def call_for(op: tuple[Any, ...], oracle: MemoryStore, clock: ManualClock) -> Callable[[InspectableStore], Any]:
    """The store call ``op`` stands for; references and fences are resolved against the oracle's records
    before either store runs it, so both get the same call."""
    kind = op[0]
    if kind == "create":
        _, id, param, offset, parent, timer, target, fence = op
        tags = {"k": id}
        if parent == "lineage":
            head, dot, _ = id.rpartition(".")
            if dot:
                tags[TAG_PARENT] = head
        elif parent is not None:
            tags[TAG_PARENT] = parent
        if timer:
            tags[TAG_TIMER] = "true"
        f = fence_of(fence, oracle)
        at = clock.now() + offset
        return lambda store: store.create_promise(id, param, at, tags, target=target, fence=f)
    if kind == "settle":
        _, ref, state, value, fence = op
        id = resolve(ref, oracle, task=False)
        f = fence_of(fence, oracle)
        return lambda store: store.settle_promise(id, state, value, fence=f)
    if kind in ("get", "branch"):
        id = resolve(op[1], oracle, task=False)
        return (lambda store: store.get_promise(id)) if kind == "get" else (lambda store: store.get_branch(id))
    if kind == "get_task":
        id = resolve(op[1], oracle, task=True)
        return lambda store: store.get_task(id)
    if kind == "dispatch":
        return lambda store: store.dispatch(op[1], op[2])
    if kind == "acquire":
        id = resolve(op[1], oracle, task=True)
        return lambda store: store.acquire_task(id, op[2], op[3])
    if kind == "reclaim":
        return lambda store: store.reclaim_tasks(op[1], op[2], op[3])
    if kind == "sweep":
        return lambda store: store.sweep()
    f = fence_of(op[1], oracle)
    assert f is not None
    if kind == "heartbeat":
        return lambda store: store.heartbeat_task(f)
    if kind == "release":
        return lambda store: store.release_task(f)
    if kind == "fulfill":
        return lambda store: store.fulfill_task(f, op[2], op[3])
    assert kind == "suspend"
    awaiting = [resolve(r, oracle, task=False) for r in op[2]]
    return lambda store: store.suspend_task(f, awaiting)


def outcome(make: Callable[[InspectableStore], Any], store: InspectableStore) -> tuple[str, Any]:
    try:
        return "ok", run_now(make(store))
    except (StoreError, UsageError) as exc:
        return "error", (type(exc).__name__, str(exc))


async def outcome_async(make: Callable[[InspectableStore], Any], store: InspectableStore) -> tuple[str, Any]:
    try:
        return "ok", await make(store)
    except (StoreError, UsageError) as exc:
        return "error", (type(exc).__name__, str(exc))


#: Every sequence starts with two root tasks and children, so leases and callbacks have work at once.
PRELUDE: list[tuple[Any, ...]] = [
    ("create", "a", "root", 50.0, None, False, "g1", None),
    ("create", "b", "root", 50.0, None, False, "g1", None),
    ("create", "a.0", "c", 10.0, "lineage", False, "g2", None),
]


#: The tables a ``PostgresStore`` fills; emptied between examples (the schema and its version stay).
PG_TABLES = "promises, tasks, pending, waiters, leases"


class Pair:
    """A ``MemoryStore`` and a real store sharing one clock: a ``SqliteStore`` on a fresh file, or, given
    ``dsn``, a ``PostgresStore`` on that database with its tables emptied first. (The real store is
    ``self.sqlite`` whichever it is, to keep the steps below short.)"""

    def __init__(self, dsn: str | None = None) -> None:
        self.clock = FollowingClock()
        self.memory = MemoryStore(self.clock)
        self.dir = tempfile.mkdtemp(prefix="durable-diff-")
        self.sqlite: SqliteStore | PostgresStore
        if dsn is None:
            self.sqlite = SqliteStore(Path(self.dir) / "store.db", self.clock, cross_process=False)
        else:
            self.sqlite = PostgresStore(dsn, self.clock, cross_process=False)
            self.sqlite.engine.connection.execute(f"TRUNCATE {PG_TABLES}")
        self.name = type(self.sqlite).__name__

    def close(self) -> None:
        self.sqlite.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def step(self, op: tuple[Any, ...]) -> tuple[str, Any]:
        if op[0] == "advance":
            self.clock.advance(op[1])
            return "ok", None
        if op[0] == "acquire_all":
            _, dispatched = self.step(("dispatch", op[1], 10))
            return "ok", [self.step(("acquire", t.id, "w2", op[2])) for t in dispatched]
        acquired = [t.id for t in self.memory.tasks() if t.state is TaskState.ACQUIRED]
        if op[0] == "suspend_all":
            return "ok", [self.step(("suspend", (id, 0), op[1])) for id in acquired]
        if op[0] == "suspend_each":
            out = []
            for id in acquired:
                self.step(("create", f"{id}.7", "c", op[1], "lineage", op[2], None, (id, 0)))
                out.append(self.step(("suspend", (id, 0), [f"{id}.7"])))
            return "ok", out
        if op[0] == "long_poll":
            return self.long_poll(op)
        make = call_for(op, self.memory, self.clock)  # resolved once, before either store changes
        expected = outcome(make, self.memory)
        got = outcome(make, self.sqlite)
        assert got == expected, f"{op}: {self.name} answered {got}, MemoryStore {expected}"
        assert repr(got) == repr(expected), op  # the same floats and tag order, not only equal ones
        self.same_records(op)
        return expected

    def long_poll(self, op: tuple[Any, ...]) -> tuple[str, Any]:
        """Each store in turn, from the same instant: the long poll's answer and when it came, and the answer
        to the write made meanwhile (if it came before the poll returned). The write is made at its instant
        by ``write_at``, in the order ``op`` names when the poll wakes by time then too, never in an order
        trio's scheduler picks (which could differ between the two runs)."""
        _, what, wait, write, after, *rest = op
        first = rest[0] if rest else "write"
        if what[0] == "dispatch":
            def poll(store: InspectableStore) -> Any:
                return store.dispatch(what[1], what[2], wait=wait)
        else:
            id = resolve(what[1], self.memory, task=False)

            def poll(store: InspectableStore) -> Any:
                return store.await_settled(id, wait=wait)
        made = call_for(write, self.memory, self.clock) if write is not None else None  # resolved once
        start = self.clock.time
        answers = []
        for store in (self.memory, self.sqlite):
            self.clock.time = start

            async def main(store: InspectableStore = store) -> tuple[Any, ...]:
                wrote: list[tuple[str, Any]] = []
                async with trio.open_nursery() as nursery:
                    if made is not None:
                        async def writer(made: Callable[[InspectableStore], Any] = made) -> None:
                            wrote.append(await outcome_async(made, store))
                        await nursery.start(functools.partial(write_at, after, writer, first=first))
                    answer = await outcome_async(poll, store)
                    nursery.cancel_scope.cancel()
                return answer, round(trio.current_time(), 9), wrote

            answers.append(self.clock.in_virtual_time(main))
        assert answers[1] == answers[0], f"{op}: {self.name} answered {answers[1]}, MemoryStore {answers[0]}"
        assert repr(answers[1]) == repr(answers[0]), op
        self.same_records(op)
        return answers[0][0]  # type: ignore[no-any-return]

    def same_records(self, op: tuple[Any, ...]) -> None:
        assert self.sqlite.snapshot() == self.memory.snapshot(), f"after {op} the stored records differ"
        assert self.sqlite.snapshot(apply_due=True) == self.memory.snapshot(apply_due=True), (
            f"after {op} the records a sweep would leave differ"
        )
        assert self.sqlite.promise_map() == self.memory.promise_map()
        for id in IDS:
            assert self.sqlite.promise(id) == self.memory.promise(id)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations | long_polls, min_size=10, max_size=80))
def test_sqlite_store_answers_every_operation_as_the_memory_store_does(ops: list[tuple[Any, ...]]) -> None:
    pair = Pair()
    try:
        for op in PRELUDE + ops:
            pair.step(op)
    finally:
        pair.close()


def test_postgres_store_answers_every_operation_as_the_memory_store_does(postgres_dsn: str) -> None:
    """As above over PostgreSQL, one database with its tables emptied between examples; fewer examples
    (each step is some dozens of round trips to the server)."""

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(operations | long_polls, min_size=10, max_size=80))
    def run(ops: list[tuple[Any, ...]]) -> None:
        pair = Pair(postgres_dsn)
        try:
            for op in PRELUDE + ops:
                pair.step(op)
        finally:
            pair.close()

    run()


@pytest.fixture(params=["sqlite", "postgres"])
def real(request: pytest.FixtureRequest) -> str | None:
    """Which real store a named sequence runs against: ``None`` for SQLite, else a PostgreSQL DSN."""
    return request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None


def test_a_contested_sequence_agrees_step_by_step(real: str | None) -> None:
    """A named sequence through leases, suspension, tied timeouts and a stale heartbeat's lease entry,
    so the comparison is known to reach the paths whose order is subtle."""
    pair = Pair(real)
    try:
        steps: list[tuple[Any, ...]] = [
            ("create", "a", "root", 100.0, None, False, "g1", None),
            ("create", "b", "root", 100.0, None, False, "g1", None),
            ("acquire", "a", "w1", 3.0),
            ("acquire", "b", "w2", 4.0),
            ("advance", 1.0),
            ("heartbeat", ("a", 0)),  # a's lease now ends at 4.0, after its stale entry at 3.0
            ("create", "a.0", "c", 5.0, "lineage", False, None, ("a", 0)),
            ("create", "a.1", "c", 5.0, "lineage", True, None, ("a", 0)),
            ("advance", 3.0),
            ("dispatch", "g1", 10),  # both leases expire at 4.0: a first (its stale entry pops first)
            ("acquire", "a", "w2", 10.0),
            ("suspend", ("a", 0), ["a.0", "a.1"]),
            ("acquire", "b", "w1", 10.0),
            ("suspend", ("b", 0), ["a.1"]),
            ("advance", 2.0),  # a.0 and a.1 time out together at 6.0 (a.1 is a timer: resolved)
            ("dispatch", "g1", 10),
            ("heartbeat", ("a", -1)),
            ("branch", "a"),
        ]
        answers = [pair.step(op) for op in steps]
    finally:
        pair.close()
    dispatched = answers[9][1]
    assert [t.id for t in dispatched] == ["a", "b"]
    redispatched = answers[15][1]
    assert [t.id for t in redispatched] == ["a", "b"]
    assert answers[16][0] == "error" and answers[16][1][0] == "Fenced"
    assert [p.id for p in answers[17][1]] == ["a", "a.0", "a.1"]


def run_pair(steps: list[tuple[Any, ...]], real: str | None) -> list[tuple[str, Any]]:
    pair = Pair(real)
    try:
        return [pair.step(op) for op in PRELUDE + steps][len(PRELUDE):]
    finally:
        pair.close()


def dispatched(answer: tuple[str, Any]) -> list[str]:
    assert answer[0] == "ok"
    return [t.id for t in answer[1]]


def test_leases_that_expire_together_are_dispatched_in_the_order_they_were_taken(real: str | None) -> None:
    answers = run_pair([("acquire_all", "g1", 2.0), ("advance", 2.0), ("dispatch", "g1", 10)], real)
    assert dispatched(answers[-1]) == ["a", "b"]


def test_one_settle_resumes_its_waiters_in_the_order_they_suspended(real: str | None) -> None:
    answers = run_pair([
        ("acquire", "a", "w1", 10.0), ("acquire", "b", "w2", 10.0),
        ("suspend", ("b", 0), ["a.0"]), ("suspend", ("a", 0), ["a.0"]),
        ("settle", "a.0", PromiseState.RESOLVED, "1", None), ("dispatch", "g1", 10),
    ], real)
    assert dispatched(answers[-1]) == ["b", "a"]  # b suspended first, though a was created first


def test_timeouts_that_fall_due_together_resume_tasks_in_creation_order(real: str | None) -> None:
    answers = run_pair([
        ("acquire", "a", "w1", 10.0), ("acquire", "b", "w2", 10.0),
        ("create", "b.7", "c", 1.0, "lineage", False, None, ("b", 0)),
        ("create", "a.7", "c", 1.0, "lineage", False, None, ("a", 0)),
        ("suspend", ("a", 0), ["a.7"]), ("suspend", ("b", 0), ["b.7"]),
        ("advance", 1.0), ("sweep",), ("dispatch", "g1", 10),
    ], real)
    assert dispatched(answers[-1]) == ["b", "a"]  # b's child b.7 was created first, though a suspended first


def test_a_cycle_of_parent_tags_ends_the_same_in_both_stores(real: str | None) -> None:
    pair = Pair(real)
    try:
        pair.step(("create", "a", "p", 10.0, "b", False, None, None))
        pair.step(("create", "b", "p", 10.0, "a", False, None, None))
        kind, branch = pair.step(("branch", "a"))
        assert kind == "ok" and [p.id for p in branch] == ["a", "b"]
    finally:
        pair.close()


@pytest.mark.parametrize("when", [math.inf, -math.inf, 1e300, 5e-324, 0.1 + 0.2, -0.0, 1 / 3])
def test_extreme_times_round_trip(when: float, real: str | None) -> None:
    pair = Pair(real)
    try:
        kind, record = pair.step(("create", "a", "p", when, None, False, "g1", None))
        assert kind == "ok" and pair.sqlite.promise("a") == record
    finally:
        pair.close()


def test_long_polls_woken_by_writes_and_by_time_agree(real: str | None) -> None:
    """Long polls the generated sequences rarely reach: an idle target woken by a release, by a new task,
    by a settle that resumes a suspended task, and by a lease that runs out; and one left empty."""
    answers = run_pair([
        ("acquire", "a", "w1", 10.0), ("acquire", "b", "w2", 4.0), ("acquire", "a.0", "w1", 50.0),
        ("long_poll", ("dispatch", "g1", 10), 30.0, ("release", (("acquired", 0), 0)), 1.0),
        ("acquire", "a", "w1", 10.0),
        ("long_poll", ("dispatch", "g1", 10), 30.0, None, 0.0),  # b's lease ends at 4.0
        ("acquire", "b", "w2", 20.0),
        ("suspend", ("b", 0), ["a.0"]),
        ("long_poll", ("dispatch", "g1", 10), 30.0, ("settle", "a.0", PromiseState.RESOLVED, "1", None), 2.0),
        ("long_poll", ("dispatch", "g2", 10), 30.0, ("create", "b.0", "t", 20.0, "lineage", False, "g2", None), 0.25),
        ("acquire", "b.0", "w1", 20.0),
        ("long_poll", ("dispatch", "g2", 10), 0.5, None, 0.0),
        ("long_poll", ("await", "a"), 3.0, None, 0.0),
    ], real)
    assert dispatched(answers[3]) == ["a"]
    assert dispatched(answers[5]) == ["b"]
    assert dispatched(answers[8]) == ["b"]
    assert dispatched(answers[9]) == ["b.0"]
    assert dispatched(answers[11]) == []
    assert answers[12][1].state is PromiseState.PENDING


@pytest.mark.parametrize("first", ["write", "wakes"])
def test_a_write_at_the_instant_a_long_poll_wakes_by_time_is_ordered_the_same_for_both_stores(
    first: str, real: str | None,
) -> None:
    """``b``'s lease ends at 2.0, when a new task ``a.1`` is created: made first, the poll's read finds both;
    made once the woken poll has read, the poll has returned with ``b`` alone and the write never comes.
    With a ``trio.sleep`` before the write, trio's scheduler chose, and the two stores could differ."""
    pair = Pair(real)
    try:
        for op in [*PRELUDE, ("acquire", "a", "w1", 10.0), ("acquire", "b", "w2", 2.0)]:
            pair.step(op)
        create = ("create", "a.1", "t", 20.0, "lineage", False, "g1", None)
        got = pair.step(("long_poll", ("dispatch", "g1", 10), 30.0, create, 2.0, first))
        assert dispatched(got) == (["a.1", "b"] if first == "write" else ["b"])
        assert (pair.memory.promise("a.1") is not None) == (first == "write")
    finally:
        pair.close()
