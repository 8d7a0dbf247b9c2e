"""Canceling a promise and everything under it: what ``Worker.cancel``, ``ctx.cancel`` and the CLI's
``cancel`` share.

A canceled promise is settled ``rejected_canceled``, and so is every pending promise below it
(children, grandchildren, timers, promises awaited from outside), so nothing under it waits for a
deadline. The store contract does the stopping: settling a promise that has a task completes the task,
so the worker holding it is fenced at its next write (a local child's body in flight stops at its next
durable boundary, and a leaf at its next heartbeat). A worker may have created a child between a read
and the settle that fenced it, so the branch is read again until a read finds nothing pending.
"""

from __future__ import annotations

import attrs

from ..core.records import Fence, PromiseRecord, PromiseState
from ..core.store import TAG_SCOPE, TAG_TARGET, TAG_TIMER, Store


def kind_of(record: PromiseRecord) -> str:
    """``timer`` (``ctx.sleep``/``ctx.timer``), ``awaited promise`` (``ctx.promise``), else ``child``."""
    tags = record.tags
    if tags.get(TAG_TIMER) == "true":
        return "timer"
    if tags.get(TAG_SCOPE) == "global" and TAG_TARGET not in tags:
        return "awaited promise"
    return "child"


@attrs.frozen
class CancelReport:
    """What one cancel of ``id`` did: ``record`` is ``id``'s record after it (canceled, or settled before
    by anyone), ``canceled`` the promises this cancel settled ``rejected_canceled``, in creation order."""

    id: str
    record: PromiseRecord
    #: ``id`` itself was settled by someone else (before this cancel, or while it ran).
    was_settled: bool
    canceled: tuple[PromiseRecord, ...]

    def counts(self) -> dict[str, int]:
        """How many promises below ``id`` this cancel settled, by kind (``child``, ``timer``, ``awaited
        promise``)."""
        out = {"child": 0, "timer": 0, "awaited promise": 0}
        for record in self.canceled:
            if record.id != self.id:
                out[kind_of(record)] += 1
        return out

    def line(self) -> str:
        """One line: ``order-7 canceled: 31 promises (the root, 28 children, 1 timer, 1 awaited promise)``,
        or, for a promise settled before, its state and what was still pending below it."""
        counts = self.counts()
        parts = [] if self.was_settled else ["the root"]
        for kind, n in counts.items():
            if n:
                parts.append(f"{n} {kind if n == 1 else ('children' if kind == 'child' else kind + 's')}")
        n = len(self.canceled)
        what = f"{n} promise{'' if n == 1 else 's'}" + (f" ({', '.join(parts)})" if parts else "")
        if self.was_settled:
            return f"{self.id} was already {self.record.state.value}; canceled {what} still pending below it"
        return f"{self.id} canceled: {what}"


async def cancel_branch(store: Store, id: str, *, fence: Fence | None = None) -> CancelReport:
    """Settle ``id`` and every pending promise below it ``rejected_canceled``, reading the branch again
    until nothing under ``id`` is pending. With ``fence`` each settle is a write of that task (a workflow
    canceling its own child), so a worker that lost the task cancels nothing."""
    before = await store.get_promise(id)
    canceled: dict[str, PromiseRecord] = {}
    record = before
    while True:
        pending = [r for r in await store.get_branch(id) if not r.settled]
        if not pending:
            break
        for r in pending:  # creation order: a parent (whose task fences its worker) before its children
            settled = await store.settle_promise(r.id, PromiseState.REJECTED_CANCELED, None, fence=fence)
            if settled.state is PromiseState.REJECTED_CANCELED:
                canceled.setdefault(r.id, settled)
            if r.id == id:
                record = settled
    if id not in canceled and not before.settled:  # it settled another way while this ran
        record = await store.get_promise(id)
    return CancelReport(id, record, id not in canceled, tuple(canceled.values()))


__all__ = ["CancelReport", "cancel_branch", "kind_of"]
