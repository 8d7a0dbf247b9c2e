"""``ctx.cancel(future)``: a workflow cancels a child it spawned, and everything under it.

The child's promise is the record: it is settled ``rejected_canceled`` with the workflow's fence (a
workflow that lost its task cancels nothing), a local child's trio task is stopped first (so its body
writes nothing more), and every pending promise below it is canceled too (``cancellation.py``). A child
that settled first (its body finished before the cancel reached it) keeps its outcome. A replay reads
the child as recorded: a canceled one raises ``Canceled`` when awaited and its body never runs again;
what a crash left pending below it is canceled by the replay's own ``ctx.cancel``, which sends nothing
for what is settled.
"""

from __future__ import annotations

from typing import Any

import trio

from ..core.errors import JoinError, UsageError
from ..core.records import PromiseRecord, PromiseState
from .cancellation import cancel_branch
from .frame import Frame
from .futures import DurableFuture, RemoteFuture


async def cancel_child(frame: Frame, future: DurableFuture[Any] | RemoteFuture[Any]) -> bool:
    """Cancel ``future``'s child and its subtree; True if the child is canceled (now or before), False
    if it had settled another way first."""
    if not isinstance(future, (DurableFuture, RemoteFuture)):
        raise UsageError(f"ctx.cancel: expected a future from .spawn(), ctx.timer or ctx.promise, got {future!r}")
    if future.owner is not frame:
        raise UsageError(f"ctx.cancel({future.id}) in {frame.id}: that child belongs to workflow {future.owner.id}; "
                         "cancel a child only in the workflow that spawned it")
    ex = frame.execution
    try:
        record = await _stopped(future)
        if record is None or not record.settled:
            record = await ex.store.settle_promise(future.id, PromiseState.REJECTED_CANCELED, None, fence=ex.fence)
            ex.branch[record.id] = record
            future.settled_as(record)
        if record.state is not PromiseState.REJECTED_CANCELED:
            return False
        await cancel_branch(ex.store, future.id, fence=ex.fence)
    except trio.Cancelled as exc:
        frame.note_signal(exc)
        raise
    return True


async def _stopped(future: DurableFuture[Any] | RemoteFuture[Any]) -> PromiseRecord | None:
    """The child's record as this run knows it, once a local child's task has stopped (it is aborted if
    it still runs); ``None`` for one whose task ended without a settled record."""
    if isinstance(future, RemoteFuture):
        return future.settled_record()
    if not future.done:
        future.abort()
        await future.wait_done()
    try:
        return future.settled_record()
    except JoinError:
        return None


__all__ = ["cancel_child"]
