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

    async def refresh(self, id: str) -> PromiseRecord:
        record = await self.store.get_promise(id)
        self.branch[id] = record
        return record

    def trio_deadline(self, timeout_at: float) -> float:
        """``timeout_at`` (store time) on trio's clock, which may differ from the store's."""
        if math.isinf(timeout_at):
            return timeout_at
        return trio.current_time() + (timeout_at - self.clock.now())
