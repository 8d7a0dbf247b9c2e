"""The network between processes and the server, seen from a caller: a ``Store`` whose every call
is a message exchange with drawn latency, drops, duplicates, partitions and refusals.

A caller times out and retries with backoff, as a real client does; a process that crashes mid-
request simply stops (its trio tasks are cancelled), so nothing a dead incarnation sends after its
crash arrives. A duplicate of a message is already on the wire, though: it may land later, after
the state changed, and even after its sender crashed.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import trio

from pytest_durable.core.errors import StoreUnavailable
from pytest_durable.core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord

from ..faults import Injector, in_request
from ..kernel import virtual_time
from ..kernel.alarms import Alarm
from ..kernel.decisions import Decisions
from ..scenario import SimConfig
from ..trace import Trace
from .server import ServerDied, SimServer

#: A late duplicate lands ``SimConfig.delay * 2 ** (k - 1)`` seconds after the original, k drawn in
#: [0, DUPLICATE_DELAYS); k = 0 re-applies it at once.
DUPLICATE_DELAYS = 5


class _Lost(Exception):
    """One attempt got no usable answer (dropped, partitioned, server down, refused)."""


#: What a sender learns instead of an answer: nothing (it gives up at its deadline), or that its process
#: crashed while the server applied its request.
_LOST = object()
_CRASH = object()


class _Exchange:
    """One request on the wire: the server applies it by an alarm at its arrival instant, and its sender
    sleeps (one task step in all) until the answer, or the lack of one, reaches it. A sender that
    crashes first cancels it: nothing a dead incarnation sent after its crash is applied."""

    __slots__ = ("alarm", "args", "crash", "deadline", "drop", "id", "kwargs", "method", "op", "outcome",
                 "store", "task", "wake")

    def __init__(self, store: SimStore, op: str, id: str, method: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any], crash: str | None, drop: str | None, deadline: float) -> None:
        self.store = store
        self.op, self.id, self.method, self.args, self.kwargs = op, id, method, args, kwargs
        self.crash, self.drop, self.deadline = crash, drop, deadline
        self.outcome: object = _LOST
        self.task: trio.lowlevel.Task | None = None
        self.alarm: Alarm | None = None
        self.wake: Callable[[], None] | None = None

    async def run(self, arrival: float) -> object:
        self.task = trio.lowlevel.current_task()
        self.alarm = self.store.network.alarms.at(arrival, self._arrived)

        def abort(_: object) -> trio.lowlevel.Abort:  # the sender crashed: the message never lands
            if self.alarm is not None:
                self.alarm.cancel()
            if self.wake is not None:
                self.wake()
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)
        if self.task._cancel_status.effectively_cancelled:  # crashed in the instant the answer came
            raise trio.Cancelled._create(source="deadline")
        return self.outcome

    def _arrived(self) -> None:
        self.alarm = None
        try:
            at, self.outcome = self.store._arrive(self)
        except BaseException as exc:  # never into trio's run loop: the sender raises it
            at, self.outcome = trio.current_time(), (False, exc)
        assert self.task is not None
        self.wake = virtual_time.wake_at(at, self.task)


class _Poll:
    """A long poll (``Parked`` for the server): parked there until it has news or ``expires``; its sender
    sleeps (no task step) until the answer reaches it. A sender that crashes first takes it back."""

    __slots__ = ("args", "at", "crash", "deadline", "expires", "expiry", "id", "incarnation", "looked", "method",
                 "op", "outcome", "parked", "process", "store", "task", "wake")

    def __init__(self, store: SimStore, op: str, id: str, method: str, args: tuple[Any, ...], expires: float,
                 deadline: float) -> None:
        self.store = store
        self.process, self.incarnation = store.name, store.incarnation
        self.op, self.id, self.method, self.args = op, id, method, args
        self.expires, self.deadline = expires, deadline
        self.expiry: Alarm | None = None
        self.looked: tuple[int, float] | None = None
        self.crash: str | None = None
        self.outcome: object = _LOST
        self.task: trio.lowlevel.Task | None = None
        self.wake: Callable[[], None] | None = None
        self.at: float | None = None  # when the sender learns its answer, once the server gave one
        self.parked = False

    async def run(self) -> object:
        self.task = trio.lowlevel.current_task()
        self.store.network.server.park(self)
        if self.at is None:  # parked: it sleeps until the server answers (or dies)

            def abort(_: object) -> trio.lowlevel.Abort:  # the sender crashed: the poll goes with it
                self.store.network.server.unpark(self)
                if self.wake is not None:
                    self.wake()
                return trio.lowlevel.Abort.SUCCEEDED

            self.parked = True
            await trio.lowlevel.wait_task_rescheduled(abort)
            if self.task._cancel_status.effectively_cancelled:  # crashed in the instant the answer came
                raise trio.Cancelled._create(source="deadline")
        elif self.at > trio.current_time():  # answered on arrival: the answer still takes its way back
            await virtual_time.sleep_until(self.at)
        return self.outcome

    def answer(self, ok: bool, result: Any, news: bool) -> None:
        try:
            self.at, self.outcome = self.store._answered(self, ok, result, news)
        except BaseException as exc:  # never into trio's run loop: the sender raises it
            self.at, self.outcome = trio.current_time(), (False, exc, True)
        if self.parked:
            assert self.task is not None
            self.wake = virtual_time.wake_at(self.at, self.task)

    def lost(self) -> None:
        assert self.task is not None
        self.outcome = _LOST
        self.at = max(self.deadline, trio.current_time())
        self.wake = virtual_time.wake_at(self.at, self.task)


class Crash(Protocol):
    """Crash the calling process here (``where``, and structured fields for the trace)."""

    def __call__(self, where: str, **data: str) -> Awaitable[None]: ...


class Network:
    """The wire between every process and the server: message latency (with injected delays), the
    partitions in force, and the world's nursery, where a late duplicate outlives its sender."""

    def __init__(self, config: SimConfig, decisions: Decisions, injector: Injector, trace: Trace,
                 server: SimServer) -> None:
        self.config = config
        self.decisions = decisions
        self.injector = injector
        self.trace = trace
        self.server = server
        self._partitions: dict[str, float] = {}
        #: The world's own nursery, for what outlives the task that starts it.
        self.nursery: trio.Nursery | None = None
        #: Work the run loop does at an instant with no task of its own: arrivals, late duplicates.
        self.alarms = server.alarms
        #: Late duplicates still on the wire, and when the last of them lands: a world does not end
        #: before they land (what a stale copy does after the root settled is a bug production can show).
        self.in_flight = 0
        self.last_landing = -math.inf

    def latency(self, where: str = "") -> float:
        """How long one message takes: a drawn step of the configured range, plus an injected delay."""
        config = self.config
        latency = config.min_latency + config.latency_step * self.decisions.choose("latency", config.latency_steps)
        if self.injector.fire("delay", where):
            latency += config.delay * self.injector.amount("delay")
        return latency

    async def landed(self) -> None:
        """Return once no late duplicate is on the wire (each lands by an alarm; more may be sent meanwhile)."""
        while self.in_flight:
            await virtual_time.sleep_until(max(self.last_landing, trio.current_time()))

    def partition(self, name: str, until: float) -> None:
        """Cut process ``name`` off the server until virtual time ``until``."""
        self._partitions[name] = until

    def partitioned(self, name: str) -> bool:
        return trio.current_time() < self._partitions.get(name, -math.inf)

    def store_for(self, name: str, incarnation: int, crash: Crash | None = None) -> SimStore:
        """The store as process ``name`` (incarnation ``incarnation``) sees it; ``crash`` crashes that
        process at a request's crash points (the client has none)."""
        return SimStore(self, name, incarnation, crash)


class SimStore:
    """The store as one process (or the client) sees it across the simulated network."""

    def __init__(self, network: Network, name: str, incarnation: int, crash: Crash | None = None) -> None:
        self.network = network
        self.name = name
        self.incarnation = incarnation
        self.crash = crash

    # -- the Store protocol ----------------------------------------------------------------------------

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
        result: PromiseRecord = await self._call(
            "create",
            id,
            "create_promise",
            (id, param, timeout_at, dict(tags or {})),
            {"target": target, "fence": fence},
        )
        return result

    async def settle_promise(
        self, id: str, state: PromiseState, value: str | None, *, fence: Fence | None = None
    ) -> PromiseRecord:
        result: PromiseRecord = await self._call("settle", id, "settle_promise", (id, state, value), {"fence": fence})
        return result

    async def get_promise(self, id: str) -> PromiseRecord:
        result: PromiseRecord = await self._call("get", id, "get_promise", (id,), {})
        return result

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        result: list[PromiseRecord] = await self._call("branch", id, "get_branch", (id,), {})
        return result

    async def get_task(self, id: str) -> TaskRecord:
        result: TaskRecord = await self._call("get", id, "get_task", (id,), {})
        return result

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        if wait > 0:
            polled: list[TaskRecord] = await self._poll("dispatch", target, "dispatch", (target, limit), wait)
            return polled
        result: list[TaskRecord] = await self._call("dispatch", target, "dispatch", (target, limit), {})
        return result

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        if wait > 0:
            polled: PromiseRecord = await self._poll("get", id, "get_promise", (id,), wait)
            return polled
        result: PromiseRecord = await self._call("get", id, "get_promise", (id,), {})
        return result

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        result: TaskRecord = await self._call("acquire", id, "acquire_task", (id, owner, ttl), {})
        return result

    async def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        result: list[TaskRecord] = await self._call("reclaim", owner, "reclaim_tasks", (target, owner, ttl), {})
        return result

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        result: TaskRecord = await self._call("heartbeat", fence.task_id, "heartbeat_task", (fence,), {})
        return result

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        result: TaskRecord = await self._call("release", fence.task_id, "release_task", (fence,), {"error": error})
        return result

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        result: PromiseRecord = await self._call("fulfill", fence.task_id, "fulfill_task", (fence, state, value), {})
        return result

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        result: SuspendResult = await self._call("suspend", fence.task_id, "suspend_task", (fence, list(awaiting)), {})
        return result

    async def sweep(self) -> None:
        await self._call("sweep", "", "sweep", (), {})

    # -- messages ----------------------------------------------------------------------------------------

    async def _call(self, op: str, id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return await self._retried(op, id, functools.partial(self._attempt, op, id, method, args, kwargs))

    async def _poll(self, op: str, id: str, method: str, args: tuple[Any, ...], wait: float) -> Any:
        """A long poll: parked at the server until it has news (due tasks, a settled promise) or ``wait``
        runs out. Waiting is not a fault point and leaves no trace: only an answer with news is a
        message like any other (traced, its response may be dropped, its receiver may crash)."""
        return await self._retried(op, id, functools.partial(self._poll_attempt, op, id, method, args, wait))

    async def _retried(self, op: str, id: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        """``attempt`` again, with backoff, until one gets an answer; ``StoreUnavailable`` after
        ``max_attempts``, as a real client gives up."""
        config = self.network.config
        token = in_request.set(True)
        try:
            for n in range(config.max_attempts):
                if n:
                    await virtual_time.sleep(min(config.backoff * 2 ** (n - 1), config.backoff_cap))
                try:
                    return await attempt()
                except _Lost:
                    continue
        finally:
            in_request.reset(token)
        self._trace("unavailable", id, f"{op}: no answer after {config.max_attempts} attempts")
        raise StoreUnavailable(f"{op} {id}: no answer from the server after {config.max_attempts} attempts")

    async def _poll_attempt(self, op: str, id: str, method: str, args: tuple[Any, ...], wait: float) -> Any:
        network = self.network
        now = trio.current_time()
        deadline = now + wait + network.config.request_timeout
        if network.partitioned(self.name) or not network.server.up:
            await virtual_time.sleep_until(deadline)
            raise _Lost
        poll = _Poll(self, op, id, method, args, now + wait, deadline)
        outcome = await poll.run()
        if outcome is _CRASH:
            await self._crash("during", op, id)
        if outcome is _LOST:
            raise _Lost
        assert isinstance(outcome, tuple)
        ok: bool = outcome[0]
        answer: Any = outcome[1]
        if outcome[2]:  # news: received like any answer
            if poll.crash == "after":
                await self._crash("after", op, id)
            self._trace("receive", id, op)
        if ok:
            return answer
        raise answer

    def _answered(self, poll: _Poll, ok: bool, result: Any, news: bool) -> tuple[float, object]:
        """A long poll's answer leaves the server (run where the server answers it, not by the sender): an
        answer with news has the fault points of a response; an empty one is as idle as the wait, takes no
        time of its own and draws nothing. (When the sender learns it, what it learns.)"""
        network = self.network
        now = trio.current_time()
        if not news:
            if network.partitioned(self.name):
                return max(poll.deadline, now), _LOST
            return now, (ok, result, False)
        injector = network.injector
        op, id = poll.op, poll.id
        where = f"{op} {id}"
        nth = injector.request_number(op)
        crash = None
        if self.crash is not None:
            crash = injector.planned_crash(self.name, op, id) or injector.random_crash(where)
        drop = injector.answer_dropped(op, nth, where)
        if crash in ("before", "during"):  # the read was applied while it waited: both mean "before the answer"
            return now, _CRASH
        if drop or network.partitioned(self.name):
            self._trace("drop", id, f"{op} response" + ("" if drop else " (partition)"), op=op,
                        side="response", cause="fault" if drop else "partition")
            return max(poll.deadline, now), _LOST
        poll.crash = crash
        return now + network.latency(where), (ok, result, True)

    def _trace(self, kind: str, id: str = "", detail: str = "", **data: str) -> None:
        self.network.trace.add(trio.current_time(), self.name, self.incarnation, kind, id, detail, **data)

    async def _crash(self, when: str, op: str, id: str) -> None:
        if self.crash is not None:
            await self.crash(f"{when} {op} {id}", when=when, op=op, about=id)

    async def _attempt(self, op: str, id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        network = self.network
        injector = network.injector
        sent = trio.current_time()
        deadline = sent + network.config.request_timeout
        nth = injector.request_number(op)
        where = f"{op} {id}"
        crash = None
        if self.crash is not None:
            crash = injector.planned_crash(self.name, op, id) or injector.random_crash(where)
        drop = injector.planned_drop(op, nth) or injector.random_drop(where)
        self._trace("send", id, op, op=op)

        if crash == "before":
            await self._crash("before", op, id)
        if drop == "request" or network.partitioned(self.name):
            self._trace("drop", id, f"{op} request" + (" (partition)" if drop != "request" else ""), op=op,
                        side="request", cause="fault" if drop == "request" else "partition")
            await virtual_time.sleep_until(deadline)
            raise _Lost
        exchange = _Exchange(self, op, id, method, args, kwargs, crash, drop, deadline)
        outcome = await exchange.run(sent + network.latency(where))
        if outcome is _CRASH:
            await self._crash("during", op, id)
        if outcome is _LOST:
            raise _Lost
        if crash == "after":
            await self._crash("after", op, id)
        self._trace("receive", id, op)
        assert isinstance(outcome, tuple)
        ok: bool = outcome[0]
        answer: Any = outcome[1]
        if ok:
            return answer
        raise answer

    def _arrive(self, exchange: _Exchange) -> tuple[float, object]:
        """What happens to a request when it reaches the server (run by an alarm at that instant, not by
        the sender): (when the sender learns it, what it learns)."""
        network = self.network
        injector = network.injector
        server = network.server
        op, id = exchange.op, exchange.id
        where = f"{op} {id}"
        now = trio.current_time()
        if not server.up:
            self._trace("drop", id, f"{op} request (server down)", op=op, side="request", cause="server down")
            return max(exchange.deadline, now), _LOST
        if injector.fire("store_error", where):
            self._trace("refused", id, f"{op} (injected store error)")
            return now, _LOST
        try:
            ok, result = server.apply(self.name, self.incarnation, op, id, exchange.method, exchange.args,
                                      exchange.kwargs)
        except ServerDied:
            return max(exchange.deadline, now), _LOST
        if injector.fire("duplicate", where):
            self._duplicate(op, id, exchange.method, exchange.args, exchange.kwargs)
        if exchange.crash == "during":
            return now, _CRASH
        drop = exchange.drop
        if drop == "response" or network.partitioned(self.name):
            self._trace("drop", id, f"{op} response" + (" (partition)" if drop != "response" else ""), op=op,
                        side="response", cause="fault" if drop == "response" else "partition")
            return max(exchange.deadline, now), _LOST
        return now + network.latency(where), (ok, result)

    def _duplicate(self, op: str, id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """The network delivers this request twice: the copy is applied now (drawn delay 0) or lands
        later, after whatever happens meanwhile (a stale acquire after a release, a stale settle
        after a re-run)."""
        network = self.network
        k = network.injector.duplicate_delay(DUPLICATE_DELAYS)
        if k == 0:
            self._trace("duplicate", id, op)
            with contextlib.suppress(ServerDied):  # the copy died with the server: nothing of it is left
                network.server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
            return
        after = network.config.delay * 2 ** (k - 1)
        self._trace("duplicate", id, f"{op}, lands in {after:g} s")
        lands = trio.current_time() + after
        network.in_flight += 1
        network.last_landing = max(network.last_landing, lands)
        network.alarms.at(lands, functools.partial(self._land, after, op, id, method, args, kwargs))

    def _land(self, after: float, op: str, id: str, method: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> None:
        """Apply a late duplicate, ``after`` seconds after it was sent (by an alarm: no task waits for it).
        The copy is already on the wire, so it lands even when its sender crashed meanwhile (a dead
        incarnation's message, as in production); only a server that is down then loses it."""
        self.network.in_flight -= 1
        if not self.network.server.up:
            self._trace("lost", id, f"{op} duplicate (server down)")
            return
        self._trace("deliver", id, f"{op} duplicate, sent {after:g} s ago")
        with contextlib.suppress(ServerDied):  # the copy died with the server: nothing of it is left
            self.network.server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
