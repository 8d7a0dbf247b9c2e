"""``Execution``: the state of one attempt at one task, shared by every body the attempt runs."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from ..core.clock import Clock
from ..core.records import Fence, PromiseRecord
from ..core.store import Store
from .drain import Drain
from .function import DurableFunction, Registry
from .settlement import Settlement

#: Called with (promise id, function) whenever a body starts; see ``Executor``.
BodyHook = Callable[[str, DurableFunction[..., Any]], None]


@attrs.frozen
class WorkflowEnd:
    """How one run of a workflow body ended with a settlement: the children it asked for, the settled
    records it read (as they were handed to it) and what it settles its promise with. The simulator
    compares them with the world's final record: where they agree, a fresh replay over that record could
    only repeat this run (``sim.checks.replay_scope``)."""

    id: str
    asked: frozenset[str]
    read: Mapping[str, PromiseRecord]
    settlement: Settlement


#: Called with each ``WorkflowEnd`` of an execution; see ``Executor``.
EndHook = Callable[[WorkflowEnd], None]

#: Called with (workflow id, patch id, answer) when a run of a workflow body first asks ``ctx.patched``:
#: a replay notes which executions take a patch's old path (``sdk/replay.py``).
PatchHook = Callable[[str, str, bool], None]


@attrs.define(eq=False)
class Execution:
    """The state of one attempt at one task: the store, the fence, the preloaded branch, and the
    worker's dependencies its bodies read (``pytest_durable.dependency``)."""

    store: Store
    fence: Fence
    registry: Registry
    clock: Clock
    rng: Callable[[], float]
    target: str
    origin: str
    branch: dict[str, PromiseRecord]
    awaiting: dict[str, None] = attrs.field(factory=dict)
    on_body: BodyHook | None = None
    on_end: EndHook | None = None
    dependencies: Mapping[str, object] = attrs.field(factory=dict)
    #: Every record of the execution's history, where ``branch`` does not preload them: a replay over a
    #: record (the simulator's oracle, the deploy check) looks each child up through its store, so that
    #: the lookups are noted, and ``ctx.patched`` reads the history here. ``None``: the branch is it.
    recorded: Mapping[str, PromiseRecord] | None = None
    on_patch: PatchHook | None = None
    #: The worker's stop, as its bodies see it (``sdk/drain.py``); ``None``: a run that never stops (a replay).
    drain: Drain | None = None

    @property
    def history(self) -> Mapping[str, PromiseRecord]:
        """The records this execution found in the store: ``recorded`` if given, else the branch."""
        return self.branch if self.recorded is None else self.recorded

    async def refresh(self, id: str) -> PromiseRecord:
        record = await self.store.get_promise(id)
        self.branch[id] = record
        return record

    def trio_deadline(self, timeout_at: float) -> float:
        """``timeout_at`` (store time) on trio's clock, which may differ from the store's."""
        if math.isinf(timeout_at):
            return timeout_at
        return trio.current_time() + (timeout_at - self.clock.now())
