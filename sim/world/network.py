"""The network between processes and the server, seen from a caller: a ``Store`` whose every call
is a message exchange with drawn latency, drops, duplicates, partitions and refusals.

A caller times out and retries with backoff, as a real client does; a process that crashes mid-
request simply stops (its trio tasks are cancelled), so nothing a dead incarnation sends after its
crash arrives. A duplicate of a message is already on the wire, though: it may land later, after
the state changed, and even after its sender crashed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import trio

from pytest_durable.core.errors import StoreUnavailable
from pytest_durable.core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord

from ..kernel import virtual_time
from .server import ServerDied

if TYPE_CHECKING:
    from .sim_process import SimProcess
    from .world import World


#: Set in a task while it waits on a request (or carries a duplicate): its awaits there are the
#: request's crash points (before/during/after), not a body's own (``injector.AwaitCrashes``).
in_request: ContextVar[bool] = ContextVar("sim_in_request", default=False)

#: A late duplicate lands ``SimConfig.delay * 2 ** (k - 1)`` seconds after the original, k drawn in
#: [0, DUPLICATE_DELAYS); k = 0 re-applies it at once.
DUPLICATE_DELAYS = 5


class _Lost(Exception):
    """One attempt got no usable answer (dropped, partitioned, server down, refused)."""


class SimStore:
    """The store as one process (or the client) sees it across the simulated network."""

    def __init__(self, world: World, name: str, incarnation: int, process: SimProcess | None = None) -> None:
        self.world = world
        self.name = name
        self.incarnation = incarnation
        self.process = process

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

    async def dispatch(self, target: str, limit: int) -> list[TaskRecord]:
        result: list[TaskRecord] = await self._call("dispatch", target, "dispatch", (target, limit), {})
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
        config = self.world.config
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
        self.world.trace.add(trio.current_time(), self.name, self.incarnation, kind, id, detail, **data)

    async def _crash(self, when: str, op: str, id: str) -> None:
        if self.process is not None:
            await self.process.crash_now(f"{when} {op} {id}", when=when, op=op, about=id)

    async def _attempt(self, op: str, id: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        world = self.world
        injector = world.injector
        server = world.server
        deadline = trio.current_time() + world.config.request_timeout
        nth = injector.request_number(op)
        where = f"{op} {id}"
        crash = None
        if self.process is not None:
            crash = injector.planned_crash(self.name, op, id) or injector.random_crash(where)
        drop = injector.planned_drop(op, nth) or injector.random_drop(where)
        self._trace("send", id, op, op=op)

        if crash == "before":
            await self._crash("before", op, id)
        if drop == "request" or world.partitioned(self.name):
            self._trace("drop", id, f"{op} request" + (" (partition)" if drop != "request" else ""), op=op,
                        side="request", cause="fault" if drop == "request" else "partition")
            await virtual_time.sleep_until(deadline)
            raise _Lost
        await virtual_time.sleep(world.latency(where))
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
        if drop == "response" or world.partitioned(self.name):
            self._trace("drop", id, f"{op} response" + (" (partition)" if drop != "response" else ""), op=op,
                        side="response", cause="fault" if drop == "response" else "partition")
            await virtual_time.sleep_until(max(deadline, trio.current_time()))
            raise _Lost
        await virtual_time.sleep(world.latency(where))
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
        world = self.world
        k = world.decisions.choose("duplicate_delay", DUPLICATE_DELAYS)
        if k == 0:
            self._trace("duplicate", id, op)
            with contextlib.suppress(ServerDied):  # the copy died with the server: nothing of it is left
                world.server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
            return
        after = world.config.delay * 2 ** (k - 1)
        self._trace("duplicate", id, f"{op}, lands in {after:g} s")
        assert world.nursery is not None
        world.nursery.start_soon(self._land, after, op, id, method, args, kwargs, name=f"duplicate {op} {id}")

    async def _land(self, after: float, op: str, id: str, method: str, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> None:
        """Apply a late duplicate ``after`` seconds on. The copy is already on the wire, so it lands even
        when its sender crashed meanwhile (a dead incarnation's message, as in production); only a
        server that is down then loses it."""
        in_request.set(True)  # a carrier of a message, not a body (no await crash here)
        await virtual_time.sleep(after)
        if not self.world.server.up:
            self._trace("lost", id, f"{op} duplicate (server down)")
            return
        self._trace("deliver", id, f"{op} duplicate, sent {after:g} s ago")
        with contextlib.suppress(ServerDied):  # the copy died with the server: nothing of it is left
            self.world.server.apply(self.name, self.incarnation, op, id, method, args, kwargs)
