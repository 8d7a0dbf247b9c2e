"""One test per safety mechanism of the worker, the executor and the store (issue 8, item 19), each of
which fails when that mechanism is removed, and the heartbeat interval (item 16).

Worker A reaches the store over a ``Wire`` that loses, delays or refuses its messages; worker B takes
the task over once A's lease is gone. Bodies record their effects with the worker that ran them, so a
test sees exactly when a zombie would have gone on making effects. All under trio's MockClock.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import pytest
import trio

from pytest_durable import (
    Context,
    Fenced,
    MemoryStore,
    Never,
    PromiseState,
    StoreUnavailable,
    TaskState,
    Worker,
    function,
)
from pytest_durable.core import Fence, ManualClock
from tests.helpers.worlds import new_store, run_to_end, run_world

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("WHO", default="?")
EFFECTS: list[tuple[float, str]] = []  # (virtual time, worker) of every effect a body made
BODIES: list[tuple[float, str, str]] = []  # (virtual time, worker, promise id) of every body start


class Wire:
    """The store as one worker reaches it. From ``cut_at`` on, requests of the ops in ``lose`` never
    arrive (the caller waits for ever); ops in ``in_flight`` arrive that many seconds after they are
    sent, even if the sender stopped waiting; answers of ops in ``slow_answer`` come back that many
    seconds after the store applied them; the first ``refuse[op]`` requests of an op fail at once with
    ``StoreUnavailable``; ``before_suspend`` runs just before a suspend reaches the store."""

    def __init__(
        self, store: MemoryStore, nursery: trio.Nursery, *, cut_at: float = math.inf, lose: tuple[str, ...] = (),
        in_flight: dict[str, float] | None = None, slow_answer: dict[str, float] | None = None,
        refuse: dict[str, int] | None = None, before_suspend: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.nursery = nursery
        self.cut_at = cut_at
        self.lose = lose
        self.in_flight = in_flight or {}
        self.slow_answer = slow_answer or {}
        self.refuse = dict(refuse or {})
        self.before_suspend = before_suspend
        self.sent: list[tuple[float, str]] = []
        self.answers: list[tuple[float, str, str]] = []  # (time applied, op, "ok" or the error's type)

    def __getattr__(self, op: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.store, op)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._call(op, method, args, kwargs)

        return call

    async def _call(self, op: str, method: Callable[..., Awaitable[Any]], args: Any, kwargs: Any) -> Any:
        self.sent.append((trio.current_time(), op))
        if op in self.lose and trio.current_time() >= self.cut_at:
            await trio.sleep_forever()
        if self.refuse.get(op, 0) > 0:
            self.refuse[op] -= 1
            self.answers.append((trio.current_time(), op, "StoreUnavailable"))
            raise StoreUnavailable(f"{op}: refused by the wire")
        if op == "suspend_task" and self.before_suspend is not None:
            await self.before_suspend(list(args[1]))
        answer: list[outcome.Outcome[Any]] = []
        arrived = trio.Event()

        async def deliver() -> None:
            await trio.sleep(self.in_flight.get(op, 0.0))
            answer.append(await outcome.acapture(method, *args, **kwargs))
            result = answer[0]
            self.answers.append((trio.current_time(), op,
                                 type(result.error).__name__ if isinstance(result, outcome.Error) else "ok"))
            arrived.set()

        if op in self.in_flight:
            self.nursery.start_soon(deliver)  # on the wire: the sender cannot call it back
            await arrived.wait()
        else:
            await deliver()
        await trio.sleep(self.slow_answer.get(op, 0.0))
        return answer[0].unwrap()


async def _serve_as(who: str, worker: Worker, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    WHO.set(who)  # the worker's tasks inherit it, so bodies know who runs them
    await worker.serve(task_status=task_status)


def _worker(store: Any, who: str, ttl: float = 10.0) -> Worker:
    def on_body(id: str, fn: Any) -> None:
        BODIES.append((trio.current_time(), who, id))

    worker = Worker(store, id=who, ttl=ttl, on_body=on_body)
    worker.register(ticks, runs_ticks, waits_for_promise, spawns_and_returns, spawns_then_waits, slow)
    return worker


@function(retry=Never())
async def ticks(n: int) -> str:
    """An effect every second (at .5 s), n of them; returns who ran it."""
    await trio.sleep(0.5)
    for i in range(n):
        EFFECTS.append((trio.current_time(), WHO.get()))
        if i < n - 1:
            await trio.sleep(1.0)
    return WHO.get()


@function
async def runs_ticks(ctx: Context, n: int) -> str:
    return await ctx.run(ticks, n)


def _takeover(n: int, ttl: float = 10.0, revoke_at: float | None = None, **wire: Any) -> tuple[object, Wire]:
    """Root ``job`` (``runs_ticks(n)``) started by A over a Wire, B serving from 1 s on; B's result."""
    EFFECTS.clear()
    BODIES.clear()
    store = new_store()

    async def main() -> tuple[object, Wire]:
        async with trio.open_nursery() as nursery:
            a_wire = Wire(store, nursery, **wire)
            a = _worker(a_wire, "A", ttl)
            await nursery.start(_serve_as, "A", a)
            await a.run("job", runs_ticks, n)
            await trio.sleep(1.0)
            b = _worker(store, "B", ttl)
            await nursery.start(_serve_as, "B", b)
            if revoke_at is not None:
                await trio.sleep_until(revoke_at)
                await store.release_task(Fence("job", 1))  # the store takes A's lease back
            result = await b.handle("job").result()
            nursery.cancel_scope.cancel()
        return result, a_wire

    result: tuple[object, Wire] = run_world(main)
    return result


def _effects(who: str) -> list[float]:
    return [t for t, w in EFFECTS if w == who]


# -- self-fencing (sdk/worker.py _heartbeat) -----------------------------------------------------------


def test_a_worker_that_cannot_renew_its_lease_stops_its_body_when_the_lease_ends() -> None:
    """A's messages stop arriving at 0.1 s: its lease (10 s) runs out, B takes over. A must stop
    making effects by 10 s, before B starts; without self-fencing it goes on to 19.5 s beside B."""
    result, _ = _takeover(20, cut_at=0.1, lose=("heartbeat_task", "dispatch"))
    assert result == "B"
    a, b = _effects("A"), _effects("B")
    assert a == pytest.approx([0.5 + i for i in range(10)])  # 0.5 … 9.5: within its lease
    assert b and max(a) < 10.0 <= min(b)


def test_a_worker_told_its_lease_is_gone_stops_its_body_at_once() -> None:
    """The store takes A's lease back at 4 s and B acquires the task; A's next heartbeat (at 6.67 s)
    is answered Fenced, and A must make no effect after that answer."""
    result, wire = _takeover(20, revoke_at=4.0, cut_at=0.1, lose=("dispatch",))
    assert result == "B"
    fenced = [t for t, op, how in wire.answers if op == "heartbeat_task" and how == "Fenced"]
    assert fenced and fenced[0] == pytest.approx(20 / 3)
    assert max(_effects("A")) < fenced[0]
    assert len(_effects("B")) == 20


# -- the lease counted from when the acquire / heartbeat was sent -------------------------------------


def test_the_lease_is_counted_from_when_the_acquire_was_sent() -> None:
    """A's acquire is applied at 0 s but its answer arrives at 4 s; then A's messages are lost. The store
    counts the lease from 0 s, so A must stop by 10 s, not 14 s (when B is already running)."""
    result, _ = _takeover(20, cut_at=0.1, lose=("heartbeat_task", "dispatch"), slow_answer={"acquire_task": 4.0})
    assert result == "B"
    a, b = _effects("A"), _effects("B")
    assert a == pytest.approx([4.5 + i for i in range(6)])
    assert max(a) < 10.0 <= min(b)


def test_the_lease_is_counted_from_when_the_heartbeat_was_sent() -> None:
    """A's first heartbeat (sent at 3.33 s) is applied at once and answered at 7.33 s; every later one
    is lost. The store's lease ends at 13.33 s; A must stop by then, not at 17.33 s."""
    result, _ = _takeover(25, cut_at=4.0, lose=("heartbeat_task", "dispatch"), slow_answer={"heartbeat_task": 4.0})
    assert result == "B"
    a, b = _effects("A"), _effects("B")
    assert max(a) < 10 / 3 + 10 <= min(b)
    assert len(a) == 13  # 0.5 … 12.5


# -- fencing by task version (MemoryStore._check_fence) ------------------------------------------------


def test_a_zombies_write_that_arrives_after_another_worker_acquired_the_task_is_refused() -> None:
    """A's leaf ends at 9.5 s and A sends its settle, which the network holds for 3 s; A's lease ends at
    10 s and B acquires the task (version 2). When A's settle arrives (12.5 s) it carries version 1 and
    must be refused: the leaf's value is B's, not the zombie's."""
    result, wire = _takeover(10, cut_at=0.1, lose=("heartbeat_task", "dispatch"), in_flight={"settle_promise": 3.0})
    assert result == "B"
    late = [(t, how) for t, op, how in wire.answers if op == "settle_promise"]
    assert late == [(pytest.approx(12.5), "Fenced")]
    assert [w for _, w, id in BODIES if id == "job.0"] == ["A", "B"]


# -- REDIRECT (executor) --------------------------------------------------------------------------------


@function
async def waits_for_promise(ctx: Context) -> object:
    p = await ctx.promise(timeout=1000)
    return await p


def test_a_suspend_answered_redirect_runs_the_workflow_again_at_once() -> None:
    """The awaited promise is settled just before A's suspend reaches the store, which answers
    REDIRECT: A must run the workflow again at once, within its lease, not leave the task acquired
    until the lease runs out (10 s) for someone to pick it up again."""
    BODIES.clear()
    store = new_store()

    async def settle_first(awaiting: list[str]) -> None:
        for id in awaiting:
            await store.settle_promise(id, PromiseState.RESOLVED, '"approved"')

    async def main() -> tuple[object, float]:
        async with trio.open_nursery() as nursery:
            a = _worker(Wire(store, nursery, before_suspend=settle_first), "A")
            await nursery.start(_serve_as, "A", a)
            handle = await a.run("job", waits_for_promise)
            result = await handle.result()
            nursery.cancel_scope.cancel()
        return result, trio.current_time()

    result, done_at = run_world(main)
    assert result == "approved"
    assert done_at < 1.0
    assert [id for _, _, id in BODIES] == ["job", "job"]
    task = store.tasks()[0]
    assert (task.state, task.attempts) == (TaskState.FULFILLED, 1)


# -- the executor joins spawned local children before returning or suspending ------------------------


@function
async def slow(seconds: float) -> float:
    await trio.sleep(seconds)
    EFFECTS.append((trio.current_time(), "slow"))
    return seconds


@function
async def spawns_and_returns(ctx: Context) -> str:
    await ctx.run(slow, 5.0).spawn()  # never awaited: the workflow returns first
    return "returned"


@function
async def spawns_then_waits(ctx: Context) -> object:
    child = await ctx.run(slow, 5.0).spawn()
    approval = await (await ctx.promise(timeout=1000))  # suspends while the child still runs
    return (await child, approval)


def test_a_workflow_that_returns_is_settled_only_after_its_spawned_children() -> None:
    EFFECTS.clear()
    store = new_store()
    result = run_world(lambda: run_to_end(_worker(store, "A"), "job", spawns_and_returns))
    assert result == "returned"
    records = store.promise_map()
    assert records["job.0"].state is PromiseState.RESOLVED
    assert records["job.0"].settled_on == pytest.approx(5.0)
    assert records["job"].settled_on is not None and records["job"].settled_on >= records["job.0"].settled_on


def test_a_workflow_suspends_only_after_its_spawned_children_settled() -> None:
    EFFECTS.clear()
    BODIES.clear()
    store = new_store()

    async def main() -> object:
        worker = _worker(store, "A")
        async with worker.running():
            handle = await worker.run("job", spawns_then_waits)
            await trio.sleep(20)
            assert (await store.get_task("job")).state is TaskState.SUSPENDED
            await worker.resolve("job.1", "yes")
            return await handle.result()

    assert run_world(main) == (5.0, "yes")
    assert [id for _, _, id in BODIES].count("job.0") == 1  # joined, not dropped and run again
    assert len(EFFECTS) == 1
    assert store.promise_map()["job.0"].settled_on == pytest.approx(5.0)


# -- lazy timeouts and lease expiries on access (MemoryStore) ------------------------------------------


def test_a_settle_after_the_deadline_finds_the_promise_timed_out_without_a_sweep() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)

    async def main() -> None:
        await store.create_promise("p", '{"func":"f","args":[],"kwargs":{}}', 10.0)
        clock.advance(11)  # no sweep in between
        late = await store.settle_promise("p", PromiseState.RESOLVED, '"late"')
        assert (late.state, late.value) == (PromiseState.REJECTED_TIMEDOUT, None)
        assert (await store.get_promise("p")).state is PromiseState.REJECTED_TIMEDOUT

    trio.run(main)


def test_an_expired_lease_frees_the_task_on_access_without_a_sweep() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)

    async def main() -> None:
        await store.create_promise("job", '{"func":"f","args":[],"kwargs":{}}', 1000.0, target="g")
        first = await store.acquire_task("job", "A", ttl=10)
        clock.advance(10)  # no sweep in between
        second = await store.acquire_task("job", "B", ttl=10)
        assert (second.lease_owner, second.version) == ("B", first.version + 1)
        with pytest.raises(Fenced):
            await store.heartbeat_task(Fence("job", first.version))

    trio.run(main)


# -- the heartbeat interval (item 16): ttl/3 -----------------------------------------------------------


def test_heartbeats_are_sent_every_third_of_the_ttl() -> None:
    result, wire = _takeover_free(ttl=30.0, seconds=95.0)
    assert result == 95.0
    beats = [t for t, op in wire.sent if op == "heartbeat_task"]
    assert beats == pytest.approx([10.0 * k for k in range(1, 10)])


def test_a_refused_heartbeat_gets_a_second_chance_before_the_lease_ends() -> None:
    """The first heartbeat (10 s) is refused; the next (20 s) renews the lease, so the task is never
    lost and its leaf runs once. Every ttl/2, the second try would come at the lease's end (30 s)."""
    BODIES.clear()
    result, wire = _takeover_free(ttl=30.0, seconds=50.0, refuse={"heartbeat_task": 1})
    assert result == 50.0
    assert [how for _, op, how in wire.answers if op == "heartbeat_task"][:2] == ["StoreUnavailable", "ok"]
    assert [id for _, _, id in BODIES] == ["job", "job.0"]
    assert wire.store.tasks()[0].attempts == 1


@function
async def runs_slow(ctx: Context, seconds: float) -> float:
    return await ctx.run(slow, seconds)


def _takeover_free(ttl: float, seconds: float, **wire: Any) -> tuple[object, Wire]:
    """Root ``job`` (``runs_slow(seconds)``) on A alone, over a Wire."""
    store = new_store()

    async def main() -> tuple[object, Wire]:
        async with trio.open_nursery() as nursery:
            a_wire = Wire(store, nursery, **wire)
            a = _worker(a_wire, "A", ttl)
            a.register(runs_slow)
            await nursery.start(_serve_as, "A", a)
            handle = await a.run("job", runs_slow, seconds)
            result = await handle.result()
            nursery.cancel_scope.cancel()
        return result, a_wire

    result: tuple[object, Wire] = run_world(main)
    return result

