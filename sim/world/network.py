"""The network between processes and the server, seen from a caller: a ``Store`` whose every call
is a message exchange with drawn latency, drops, duplicates, partitions and refusals.

A caller times out and retries with backoff, as a real client does; a process that crashes mid-
request simply stops (its trio tasks are cancelled), so nothing a dead incarnation sends after its
crash arrives. A duplicate of a message is already on the wire, though: it may land later, after
the state changed, and even after its sender crashed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

import trio

from pytest_durable.core.errors import StoreUnavailable
from pytest_durable.core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord

from ..faults import Injector, in_request
from ..kernel import virtual_time
from ..kernel.decisions import Decisions
from ..scenario import SimConfig
from ..trace import Trace
from .server import ServerDied, SimServer

#: A late duplicate lands ``SimConfig.delay * 2 ** (k - 1)`` seconds after the original, k drawn in
#: [0, DUPLICATE_DELAYS); k = 0 re-applies it at once.
DUPLICATE_DELAYS = 5


class _Lost(Exception):
    """One attempt got no usable answer (dropped, partitioned, server down, refused)."""


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
        #: The world's own nursery, for what outlives the task that starts it (a late duplicate).
        self.nursery: trio.Nursery | None = None

    def latency(self, where: str = "") -> float:
        """How long one message takes: a drawn step of the configured range, plus an injected delay."""
        config = self.config
        latency = config.min_latency + config.latency_step * self.decisions.choose("latency", config.latency_steps)
        if self.injector.fire("delay", where):
            latency += config.delay * self.injector.amount("delay")
        return latency

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
        result: list[TaskRecord] = await self._call("dispatch", target, "dispatch", (target, limit), {})
        return result

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        result: PromiseRecord = await self._call("get", id, "get_promise", (id,), {})
        return result

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        result: TaskRecord = await self._call("acquire", id, "acquire_task", (id, owner, ttl), {})
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
        config = self.network.config
        token = in_request.set(True)
        try:
            for attempt in range(config.max_attempts):
                if attempt:
                    await virtual_time.sleep(min(config.backoff * 2 ** (attempt - 1), config.backoff_cap))
                try:
                    return await self._attempt(op, id, method, args, kwargs)
                except _Lost:
                    continue
        finally:
            in_request.reset(token)
        self._trace("unavailable", id, f"{op}: no answer after {config.max_attempts} attempts")
        raise StoreUnavailable(f"{op} {id}: no answer from the server after {config.max_attempts} attempts")

    def _trace(self, kind: str, id: str = "", detail: str = "", **data: str) -> None:
        self.network.trace.add(trio.current_time(), self.name, self.incarnation, kind, id, detail, **data)

    async def _crash(self, when: str, op: str, id: str) -> None:
        if self.crash is not None:
            await self.crash(f"{when} {op} {id}", when=when, op=op, about=id)

    async def _attempt(self, op: str, id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        network = self.network
        injector = network.injector
        server = network.server
        deadline = trio.current_time() + network.config.request_timeout
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
        await virtual_time.sleep(network.latency(where))
        if not server.up:
            self._trace("drop", id, f"{op} request (server down)", op=op, side="request", cause="server down")
            await virtual_time.sleep_until(max(deadline, trio.current_time()))
            raise _Lost
        if injector.fire("store_error", where):
            self._trace("refused", id, f"{op} (injected store error)")
            raise _Lost
        try:
            ok, result = server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
        except ServerDied:
            await virtual_time.sleep_until(max(deadline, trio.current_time()))
            raise _Lost from None
        if injector.fire("duplicate", where):
            self._duplicate(op, id, method, args, kwargs)
        if crash == "during":
            await self._crash("during", op, id)
        if drop == "response" or network.partitioned(self.name):
            self._trace("drop", id, f"{op} response" + (" (partition)" if drop != "response" else ""), op=op,
                        side="response", cause="fault" if drop == "response" else "partition")
            await virtual_time.sleep_until(max(deadline, trio.current_time()))
            raise _Lost
        await virtual_time.sleep(network.latency(where))
        if crash == "after":
            await self._crash("after", op, id)
        self._trace("receive", id, op)
        if ok:
            return result
        raise result

    def _duplicate(self, op: str, id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """The network delivers this request twice: the copy is applied now (drawn delay 0) or lands
        later, after whatever happens meanwhile (a stale acquire after a release, a stale settle
        after a re-run)."""
        network = self.network
        k = network.decisions.choose("duplicate_delay", DUPLICATE_DELAYS)
        if k == 0:
            self._trace("duplicate", id, op)
            with contextlib.suppress(ServerDied):  # the copy died with the server: nothing of it is left
                network.server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
            return
        after = network.config.delay * 2 ** (k - 1)
        self._trace("duplicate", id, f"{op}, lands in {after:g} s")
        assert network.nursery is not None
        network.nursery.start_soon(self._land, after, op, id, method, args, kwargs, name=f"duplicate {op} {id}")

    async def _land(self, after: float, op: str, id: str, method: str, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> None:
        """Apply a late duplicate ``after`` seconds on. The copy is already on the wire, so it lands even
        when its sender crashed meanwhile (a dead incarnation's message, as in production); only a
        server that is down then loses it."""
        in_request.set(True)  # a carrier of a message, not a body (no await crash here)
        await virtual_time.sleep(after)
        if not self.network.server.up:
            self._trace("lost", id, f"{op} duplicate (server down)")
            return
        self._trace("deliver", id, f"{op} duplicate, sent {after:g} s ago")
        with contextlib.suppress(ServerDied):  # the copy died with the server: nothing of it is left
            self.network.server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
