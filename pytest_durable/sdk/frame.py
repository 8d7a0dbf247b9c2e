"""``Frame``: one run of one workflow body, and the replay rules its children follow.

Every child call takes the next child id, looks the child up in the preloaded branch and either
replays its recorded outcome or creates it; a body that ends must have asked for every child an
earlier run recorded. The user API (``Context``, the builders, the futures) works through a frame's
public methods; the engine (``engine.run_workflow``) makes one per workflow body and hands it the
function that runs a local child, so this module sits below both and imports neither.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from ..core.codec import describe_call, encode, encode_call
from ..core.errors import NondeterminismError
from ..core.ids import child_id, patch_marker_id
from ..core.misuse import UnawaitedCallWarning, warn_once
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_DETACHED, TAG_ORIGIN, TAG_PARENT, TAG_PATCH, TAG_SCOPE, TAG_TARGET, TAG_TIMER
from .execution import Execution, WorkflowEnd
from .function import DurableFunction
from .options import Options
from .settlement import Settlement, Suspended, result_of

#: Runs a local child in an execution: replays it if settled, else runs its body and settles it
#: (``engine.run_child``, handed to each frame by the engine).
RunChild = Callable[
    [Execution, DurableFunction[..., Any], PromiseRecord, tuple[Any, ...], dict[str, Any], Options],
    Awaitable[PromiseRecord],
]


class Spawned:
    """How a spawned local child's trio task ended (its settled record, suspended, or dropped), and
    the scope that aborts it; its ``DurableFuture`` reads it."""

    def __init__(self) -> None:
        self.record: PromiseRecord | None = None
        self.suspended = False
        self.done = trio.Event()
        self.scope = trio.CancelScope()

    def finish(self, record: PromiseRecord | None, *, suspended: bool = False) -> None:
        self.record = record
        self.suspended = suspended
        self.done.set()


class Frame:
    """One run of one workflow body: its promise ``id`` and ``deadline``, the ``nursery`` its spawned
    children run in, how many local workflows it is nested in (``depth``, within its task) and the
    child ids it has asked for."""

    def __init__(
        self, execution: Execution, id: str, deadline: float, nursery: trio.Nursery, depth: int, run_child: RunChild
    ) -> None:
        self.execution = execution
        self.id = id
        self.deadline = deadline
        self.nursery = nursery
        self.depth = depth
        self._run_child = run_child
        self._next = 0
        self._asked: set[str] = set()
        self._read: dict[str, PromiseRecord] = {}
        #: The platform signal that passed one of this body's awaits on its way out ("" until one did).
        self.signal = ""
        #: The builders this body made and has not started yet, by identity: (the builder, its call).
        self._unstarted: dict[int, tuple[object, str]] = {}
        #: What each ``ctx.patched(id)`` answered in this run: the first answer holds for the whole run.
        self._patches: dict[str, bool] = {}

    def built(self, builder: object, call: str) -> None:
        """``builder`` (``call``, e.g. ``ctx.run(charge, ...)``) was made: until it starts, it is noted."""
        self._unstarted[id(builder)] = (builder, call)

    def handled(self, builder: object) -> None:
        """``builder`` started, or handed its call on to a copy (``.options``)."""
        self._unstarted.pop(id(builder), None)

    def warn_unstarted(self, workflow: str) -> None:
        """A body that returned with a durable call built and never started: one warning per call and
        workflow in this process (deterministic: noted by the builders, read when the body returns)."""
        for _, call in self._unstarted.values():
            beside = "" if call.startswith("ctx.detach") else f", or `await {call}.spawn()` to run it beside the body"
            warn_once(UnawaitedCallWarning, f"{workflow} {call}",
                      f"durable: {call} in workflow {workflow} was built but never awaited, so it never ran; "
                      f"write `await {call}`{beside}")

    def note_signal(self, exc: BaseException) -> None:
        """A suspension or a cancellation left one of this body's awaits: a body that then ends any other
        way than by it caught it (``swallowed``)."""
        if not self.signal:
            self.signal = "suspension" if isinstance(exc, Suspended) else "cancellation"

    def swallowed(self) -> str:
        """The signal this body caught and did not let through, or "": a suspension always; a cancellation
        only while the task is still cancelled from outside the body (its own ``trio.move_on_after`` may
        catch the one it made)."""
        if self.signal == "cancellation" and trio.current_effective_deadline() != -math.inf:
            return ""
        return self.signal

    def outcome(self, record: PromiseRecord) -> object:
        """The value of settled child ``record`` as this body reads it (or its error, raised); what a body
        read is part of its ``end``."""
        self._read[record.id] = record
        return result_of(record)

    def end(self, settlement: Settlement) -> WorkflowEnd:
        """This run of the body, ended with ``settlement``."""
        return WorkflowEnd(self.id, frozenset(self._asked), self._read, settlement)

    def take_id(self, explicit: str | None) -> str:
        """The id of the next child: ``explicit`` if given, else derived from this workflow's id."""
        n = self._next
        self._next += 1
        id = explicit if explicit is not None else child_id(self.id, n)
        self._asked.add(id)
        return id

    def child_deadline(self, timeout: float | None) -> float:
        """A child's deadline (store time): ``timeout`` seconds from now, never past this workflow's."""
        if timeout is None:
            return self.deadline
        return min(self.execution.clock.now() + timeout, self.deadline)

    async def create(
        self, id: str, param: str, timeout_at: float, *, scope: str, target: str | None = None,
        timer: bool = False, detached: bool = False, patch: str | None = None,
    ) -> PromiseRecord:
        """Look child ``id`` up in the branch, or create it; check it is the same call as recorded."""
        ex = self.execution
        record = ex.branch.get(id)
        if record is None:
            tags = {TAG_PARENT: self.id, TAG_ORIGIN: ex.origin, TAG_SCOPE: scope}
            if timer:
                tags[TAG_TIMER] = "true"
            if detached:
                tags[TAG_DETACHED] = "true"
            if patch is not None:
                tags[TAG_PATCH] = patch
            try:
                record = await ex.store.create_promise(id, param, timeout_at, tags, target=target, fence=ex.fence)
            except trio.Cancelled as exc:
                self.note_signal(exc)
                raise
            ex.branch[id] = record
        if record.param != param:
            raise NondeterminismError(id, describe_call(record.param), describe_call(param), self.id)
        had = record.tags
        recorded_how = how_called(had.get(TAG_SCOPE), had.get(TAG_TARGET), had.get(TAG_TIMER), had.get(TAG_DETACHED))
        new_how = how_called(scope, target, "true" if timer else None, "true" if detached else None)
        if recorded_how != new_how and TAG_SCOPE in record.tags:
            call = describe_call(param)
            raise NondeterminismError(
                id, f"{recorded_how[0]}({call}){recorded_how[1]}", f"{new_how[0]}({call}){new_how[1]}", self.id
            )
        return record

    async def recorded(self, func: str, draw: Callable[[], object]) -> object:
        """``draw()``, made once in a child ``func`` promise and replayed from it after that."""
        param = encode_call(func, (), {})
        record = await self.create(self.take_id(None), param, self.deadline, scope="local")
        if not record.settled:
            record = await self.resolve(record, draw(), what=func)
        return self.outcome(record)

    async def resolve(self, record: PromiseRecord, value: object, *, what: str) -> PromiseRecord:
        """Resolve this workflow's own pending child ``record`` with ``value``, fenced. Settling is
        write-once, so the record returned (what the store holds) is the one to read, not ``value``."""
        ex = self.execution
        try:
            record = await ex.store.settle_promise(
                record.id, PromiseState.RESOLVED, encode(value, what=what), fence=ex.fence
            )
        except trio.Cancelled as exc:
            self.note_signal(exc)
            raise
        ex.branch[record.id] = record
        return record


    async def patched(self, patch: str) -> bool:
        """Whether this execution takes patch ``patch``'s new path (``ctx.patched``).

        True when its marker is recorded, or when nothing the body did before says otherwise; then the
        marker is recorded, under an id of its own (``ids.patch_marker_id``), not a numbered child, so
        executions with and without the patch number their children alike. False when the execution
        was recorded without the patch: its workflow has settled without the marker, or an earlier run
        recorded children this run has not asked for yet (it went past this point on the old path).
        The first answer holds for the rest of the run: a ``False`` never turns into a marker."""
        known = self._patches.get(patch)
        if known is not None:
            return known
        history = self.execution.history
        id = patch_marker_id(self.id, patch)
        if id not in history and self._recorded_without_patches(history):
            self._patches[patch] = False
            if self.execution.on_patch is not None:
                self.execution.on_patch(self.id, patch, False)
            return False
        param = encode_call("durable.patched", (patch,), {})
        record = await self.create(id, param, self.deadline, scope="local", patch=patch)
        self._asked.add(id)
        if not record.settled:
            record = await self.resolve(record, True, what=f"ctx.patched({patch!r})")
        self._patches[patch] = True
        if self.execution.on_patch is not None:
            self.execution.on_patch(self.id, patch, True)
        return True

    def _recorded_without_patches(self, history: Mapping[str, PromiseRecord]) -> bool:
        """An earlier run of this workflow went past this point: it settled, or recorded a child (other
        than a patch marker) this run has not asked for yet."""
        own = history.get(self.id)
        if own is not None and own.settled:
            return True
        return any(
            r.tags.get(TAG_PARENT) == self.id and r.id not in self._asked and TAG_PATCH not in r.tags
            for r in history.values()
        )

    async def recorded_step(self, param: str, act: Callable[[], Awaitable[Settlement]]) -> object:
        """A durable step of this workflow: a child ``param`` whose settlement ``act()`` makes once; after
        that (a replay, a crash after the step's record was written) the record is read and ``act`` is not
        called again. A crash between ``act`` and the record calls it again: it must be idempotent."""
        record = await self.create(self.take_id(None), param, self.deadline, scope="local")
        if not record.settled:
            ex = self.execution
            try:
                state, value = await act()
                record = await ex.store.settle_promise(record.id, state, value, fence=ex.fence)
            except trio.Cancelled as exc:
                self.note_signal(exc)
                raise
            ex.branch[record.id] = record
        return self.outcome(record)

    def check_all_asked(self) -> None:
        """A workflow that ends must have asked for every child an earlier execution recorded: one that
        makes fewer calls leaves those promises orphaned (a pending one forever). A patch marker is no call:
        once a patch is retired (its ``ctx.patched`` call removed), nothing asks for its markers."""
        ex = self.execution
        skipped = [r for r in ex.branch.values()
                   if r.tags.get(TAG_PARENT) == self.id and r.id not in self._asked and TAG_PATCH not in r.tags]
        if skipped:
            first = skipped[0]
            raise NondeterminismError(
                first.id, describe_call(first.param),
                f"nothing (it ended after {len(self._asked)} call(s); {len(skipped)} recorded child(ren) of "
                f"{self.id} were never asked for)",
            )

    async def run_child(
        self, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...], kwargs: dict[str, Any],
        options: Options,
    ) -> PromiseRecord:
        """Local child ``record``, replayed if settled, else run here and settled."""
        return await self._run_child(self.execution, fn, record, args, kwargs, options)

    def spawn_child(
        self, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...], kwargs: dict[str, Any],
        options: Options,
    ) -> Spawned:
        """Local child ``record`` on its own trio task in this workflow's nursery (none if it is settled)."""
        spawned = Spawned()
        if record.settled:
            spawned.finish(record)
        else:
            self.nursery.start_soon(
                self._spawned, spawned, fn, record, args, kwargs, options, name=f"durable child {record.id}",
            )
        return spawned

    async def _spawned(
        self, spawned: Spawned, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
        kwargs: dict[str, Any], options: Options,
    ) -> None:
        """The body of a spawned child's trio task; a child that ends here unsettled was dropped."""
        with spawned.scope:
            try:
                settled = await self._run_child(self.execution, fn, record, args, kwargs, options)
            except Suspended:
                spawned.finish(None, suspended=True)
            else:
                spawned.finish(settled)
            return
        spawned.finish(None)  # only reached when abort() cancelled this child's own scope


def how_called(
    scope: str | None, target: str | None, timer: str | None, detached: str | None = None
) -> tuple[str, str]:
    """How a child was called, from its tags: ("ctx.run", "ctx.rpc" or "ctx.detach", " on target 'g'" or "")."""
    if scope == "local":
        return ("ctx.run", "")
    if timer == "true":
        return ("ctx.sleep", "")
    return ("ctx.detach" if detached == "true" else "ctx.rpc", f" on target {target!r}" if target is not None else "")
