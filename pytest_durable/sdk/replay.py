"""A replay of one workflow over a record: what its body asks for and computes, no body of a child run.

The record (every promise of the workflow's history, by id) stands in for the store, read-only: each
child the body asks for is looked up there and noted, a settled one answers with its recorded outcome,
and the replay stops where it would have to write or run a body (a child the record never recorded, a
pending child). The simulator's replay oracle judges a finished world with it (``sim/checks/oracle.py``)
and the deploy check judges a production history against new code with it (``replay_check``): one
engine, so both read a record by the same rules. Each caller says how its ``trio.run`` is run: by
default on trio's ``MockClock``, time jumping whenever every task waits; the oracle adds its seeded
scheduling and its watchdog.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import trio
import trio.testing

from ..core.clock import TrioClock
from ..core.codec import decode_call
from ..core.errors import NondeterminismError, NotFound, UserBaseException
from ..core.records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord
from ..core.store import TAG_ORIGIN, TAG_PARENT, TAG_SCOPE, TAG_TARGET
from .engine import run_workflow
from .execution import Execution
from .function import DurableFunction, Registry
from .interrupts import afresh, interrupt_in
from .settlement import Suspended

#: States a workflow's own body settles it with; a timeout, a cancel or no settlement at all mean its body
#: may not have got to the end, so a replay may rightly ask for more than was recorded.
SETTLED_BY_BODY = (PromiseState.RESOLVED, PromiseState.REJECTED)

#: Runs a replay's ``trio.run`` of ``main`` (see ``on_mock_clock``).
Runner = Callable[[Callable[[], Awaitable[None]]], None]


def on_mock_clock(main: Callable[[], Awaitable[None]]) -> None:
    """The default runner: ``main`` under trio's ``MockClock``, so a timer or a deadline in the replayed
    body costs no real time and reads no real clock."""
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


class _Stop(BaseException):
    """Ends a replay that cannot go on without running a body or writing: no verdict on the rest. ``at``
    is the pending child it stopped at, if any."""

    def __init__(self, why: str, at: str | None = None) -> None:
        super().__init__(why)
        self.at = at


@attrs.frozen
class Replay:
    """What replaying workflow ``id`` over the record did: the children it asked for, in order; the
    first child it asked for that the record lacks (``stray``: id and param); the first recorded child
    it called differently; its outcome, or why it has none (``stopped``); the pending children it
    stopped at (``waiting``: one it would run, or those it awaits); the tags the stray child would have
    been created with (``stray_tags``); and what each ``ctx.patched`` it
    asked answered (``patches``: (patch id, answer), in the order asked)."""

    id: str
    asked: tuple[str, ...]
    stray: tuple[str, str] | None = None  # (id, param)
    mismatch: NondeterminismError | None = None
    outcome: tuple[PromiseState, str | None] | None = None
    stopped: str = ""
    waiting: tuple[str, ...] = ()
    stray_tags: tuple[tuple[str, str], ...] = ()  # the tags the stray child would be created with
    patches: tuple[tuple[str, bool], ...] = ()


class RecordStore:
    """The store as the record left it, read-only: a replay that would write stops instead."""

    def __init__(self, records: Mapping[str, PromiseRecord]) -> None:
        self.records = records
        self.asked: list[str] = []
        self.stray: tuple[str, str] | None = None
        self.stray_tags: tuple[tuple[str, str], ...] = ()

    async def create_promise(self, id: str, param: str, timeout_at: float, tags: Mapping[str, str] | None = None,
                             *, target: str | None = None, fence: Fence | None = None) -> PromiseRecord:
        record = self.records.get(id)
        if record is None:
            self.stray = (id, param)
            self.stray_tags = tuple((tags or {}).items())
            raise _Stop(f"asks for {id}, which the store never recorded")
        self.asked.append(id)
        return record

    async def settle_promise(self, id: str, state: PromiseState, value: str | None, *,
                             fence: Fence | None = None) -> PromiseRecord:
        raise _Stop(f"would settle {id}, which the record leaves pending", at=id)

    async def get_promise(self, id: str) -> PromiseRecord:
        record = self.records.get(id)
        if record is None:
            raise NotFound("promise", id)
        return record

    async def await_settled(self, id: str, *, wait: float) -> PromiseRecord:
        return await self.get_promise(id)

    async def get_branch(self, id: str) -> list[PromiseRecord]:
        """``id`` and its descendants in the record (``ctx.cancel`` reads the branch of what it canceled)."""
        found = [await self.get_promise(id)]
        parents = {id}
        grew = True
        while grew:  # a pass per generation, whatever order the record lists them in
            grew = False
            for record in self.records.values():
                if record.id not in parents and record.tags.get(TAG_PARENT) in parents:
                    parents.add(record.id)
                    found.append(record)
                    grew = True
        return found

    # A replay runs no task: these never come up, and stop the replay if they do.

    async def get_task(self, id: str) -> TaskRecord:
        raise _Stop(f"would read task {id}")

    async def dispatch(self, target: str, limit: int, *, wait: float = 0.0) -> list[TaskRecord]:
        raise _Stop("would dispatch tasks")

    async def acquire_task(self, id: str, owner: str, ttl: float) -> TaskRecord:
        raise _Stop(f"would acquire task {id}")

    async def reclaim_tasks(self, target: str, owner: str, ttl: float) -> list[TaskRecord]:
        raise _Stop(f"would reclaim the tasks of {owner}")

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        raise _Stop(f"would heartbeat task {fence.task_id}")

    async def release_task(self, fence: Fence, *, error: str | None = None) -> TaskRecord:
        raise _Stop(f"would release task {fence.task_id}")

    async def fulfill_task(self, fence: Fence, state: PromiseState, value: str | None) -> PromiseRecord:
        raise _Stop(f"would fulfill task {fence.task_id}")

    async def suspend_task(self, fence: Fence, awaiting: Sequence[str]) -> SuspendResult:
        raise _Stop(f"would suspend task {fence.task_id}")

    async def sweep(self) -> None:
        raise _Stop("would sweep")


def replay(record: PromiseRecord, records: Mapping[str, PromiseRecord], fn: DurableFunction[..., Any],
           registry: Registry, *, dependencies: Mapping[str, object] | None = None,
           run: Runner = on_mock_clock) -> Replay:
    """Replay workflow ``record`` (settled or not) over ``records``; bodies of children never run. The
    body reads ``dependencies`` as a worker's would; ``run`` runs the ``trio.run``. A Ctrl-C leaves as
    itself; anything else that ends the replay early is its ``stopped``."""
    store = RecordStore(records)
    patches: list[tuple[str, bool]] = []
    ex = Execution(  # an empty branch: every child is looked up through the record store, which notes it
        store=store, fence=Fence(record.id, 0), registry=registry, clock=TrioClock(), rng=lambda: 0.0,
        target=task_target(record, records), origin=record.tags.get(TAG_ORIGIN, record.id),
        branch={}, on_body=lambda id, _: _no_child_body(id, record.id), dependencies=dependencies or {},
        recorded=records,
        on_patch=lambda workflow, patch, answer: patches.append((patch, answer)) if workflow == record.id else None,
    )
    call = decode_call(record.param)
    pending = attrs.evolve(record, state=PromiseState.PENDING, value=None, settled_on=None)
    outcome: list[tuple[PromiseState, str | None]] = []

    async def main() -> None:
        depth = local_depth(record, records)
        outcome.append(await run_workflow(ex, fn, pending, tuple(call.args), dict(call.kwargs), depth))

    try:
        run(main)
    except BaseException as exc:
        interrupt = interrupt_in(exc)
        if interrupt is not None:  # the user's Ctrl-C, as itself (trio may hand it over inside a group)
            raise afresh(interrupt) from None
        asked = tuple(store.asked)
        said = tuple(patches)
        mismatch = _find(exc, NondeterminismError)
        if mismatch is not None:
            return Replay(record.id, asked, mismatch=mismatch, stopped="called a recorded child differently",
                          patches=said)
        if _find(exc, Suspended) is not None:
            return Replay(record.id, asked, stopped="awaits a child the record leaves pending",
                          waiting=tuple(ex.awaiting), patches=said)
        stop = _find(exc, _Stop)
        inner = _innermost(exc)
        why = str(stop) if stop is not None else f"raised {type(inner).__name__}: {inner}"
        waiting: tuple[str, ...] = (stop.at,) if stop is not None and stop.at is not None else ()
        if stop is not None and stop.at is not None and stop.at in records and _pending_local(records[stop.at]):
            # the first child whose body would run is the scheduler's pick among those started: name them
            # all, in the order the body asked for them, so the answer does not depend on that pick
            waiting = tuple(id for id in asked if id in records and _pending_local(records[id])) or waiting
        return Replay(record.id, asked, store.stray, stopped=why, waiting=waiting, patches=said,
                      stray_tags=store.stray_tags)
    return Replay(record.id, tuple(store.asked), outcome=outcome[0], patches=tuple(patches))


def _pending_local(record: PromiseRecord) -> bool:
    return not record.settled and record.tags.get(TAG_SCOPE) == "local"


def call_of(record: PromiseRecord) -> str | None:
    """The function a promise's param calls, read without decoding its arguments (most promises of a
    big record are leaves, which are never replayed), or ``None`` for a param that is not a call."""
    try:
        func = json.loads(record.param)["func"]
    except Exception:  # a foreign param (an external promise's) is no workflow of ours
        return None
    return func if isinstance(func, str) else None


def local_depth(record: PromiseRecord, records: Mapping[str, PromiseRecord]) -> int:
    """How many local workflows ``record`` ran inside (its chain of ``ctx.run`` parents): a replay
    must meet the SDK's nesting limit where the recorded run met it."""
    depth = 0
    while record.tags.get(TAG_SCOPE) == "local" and record.tags.get(TAG_PARENT) in records:
        record = records[record.tags[TAG_PARENT]]
        depth += 1
    return depth


def task_target(record: PromiseRecord, records: Mapping[str, PromiseRecord]) -> str:
    """The target of the task ``record``'s body ran in: its own, or for a local child workflow (which
    runs in its parent's task and has none) the nearest ``ctx.rpc`` ancestor's, which an ``ctx.rpc``
    without a target inherits."""
    while record.tags.get(TAG_SCOPE) == "local" and record.tags.get(TAG_PARENT) in records:
        record = records[record.tags[TAG_PARENT]]
    return record.tags.get(TAG_TARGET, "")


def _no_child_body(id: str, workflow: str) -> None:
    if id != workflow:
        raise _Stop(f"child {id} is pending in the record, so a replay would run its body", at=id)


def _innermost(exc: BaseException) -> BaseException:
    """The first exception inside the groups trio wrapped ``exc`` in."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _find(exc: BaseException, kind: type[BaseException]) -> Any:
    """``exc`` or the first of ``kind`` inside it: in a group, or as the cause of the ``UserBaseException``
    a leaf's attempt makes of a ``BaseException`` (the replay's own stop, raised where a body would start)."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, UserBaseException) and exc.__cause__ is not None:
        return _find(exc.__cause__, kind)
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


__all__ = ["SETTLED_BY_BODY", "RecordStore", "Replay", "Runner", "call_of", "local_depth", "on_mock_clock", "replay",
           "task_target"]
