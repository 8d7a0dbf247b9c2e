"""``ctx.select``: wait for the first of several children to settle, and record which one it was.

The winner is written once, in a local child promise ``durable.select`` whose param names the
candidates in order and whose value is the winner's position; a replay returns the recorded winner
even when by then several candidates have settled. A candidate wins only once its promise has settled
(resolved or rejected alike), so the recorded winner reads the same outcome on every replay; when
several are found settled at once (after a crash, or a late wake-up), the one that settled first wins.
When every candidate is a pending remote promise or a local child that suspended, the workflow suspends
with callbacks on all of them and runs again from the top when the first settles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

from ..core.codec import encode_call
from ..core.errors import UsageError
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_TIMER
from .frame import Frame
from .futures import DurableFuture, RemoteFuture
from .settlement import Suspended

#: What ``ctx.select`` takes: handles on children of the calling workflow.
Candidate = DurableFuture[Any] | RemoteFuture[Any]

#: How long one long poll for a remote candidate waits (seconds) before it asks again, while a local
#: candidate still runs; cancelled as soon as anything settles.
POLL_WAIT = 30.0


def check_candidates(frame: Frame, futures: Sequence[object]) -> None:
    """A ``UsageError`` naming the first of ``ctx.select(*futures)``'s arguments at fault, if any."""
    where = f"ctx.select in {frame.id}"
    if not futures:
        raise UsageError(f"{where}: select needs at least one future; pass the futures to wait for")
    seen: dict[str, int] = {}
    for i, f in enumerate(futures):
        if not isinstance(f, (DurableFuture, RemoteFuture)):
            raise UsageError(f"{where}: argument {i} is {_kind(f)}, not a future; {_instead(f)}")
        if f.owner is not frame:
            raise UsageError(
                f"{where}: argument {i} ({f.id}) belongs to workflow {f.owner.id}; select only futures this "
                "workflow made, and pass values (not futures) between workflows"
            )
        if f.id in seen:
            raise UsageError(
                f"{where}: future {f.id} is passed twice (arguments {seen[f.id]} and {i}); pass each future once"
            )
        seen[f.id] = i


async def select(frame: Frame, candidates: Sequence[Candidate]) -> int:
    """The position of the first candidate to settle: recorded once, replayed after that."""
    param = encode_call("durable.select", ([f.id for f in candidates],), {})
    record = await frame.create(frame.take_id(None), param, frame.deadline, scope="local")
    if not record.settled:
        record = await frame.resolve(record, await _first_settled(frame, candidates), what="ctx.select")
    index = frame.outcome(record)
    assert isinstance(index, int), f"{record.id}: a select records a position, not {index!r}"
    return index


async def _first_settled(frame: Frame, candidates: Sequence[Candidate]) -> int:
    """The position of the candidate that settled first, among those settled when one is found; waits
    while a local candidate runs; suspends the workflow when none can settle in this run."""
    while True:
        found = _settled(candidates)
        if found is not None:
            return found
        remote = [f for f in candidates if isinstance(f, RemoteFuture)]
        for f in remote:
            await _noting(frame, f.refresh())
        found = _settled(candidates)
        if found is not None:
            return found
        running = [f for f in candidates if isinstance(f, DurableFuture) and not f.done]
        if not running:
            for f in remote:
                frame.execution.awaiting[f.id] = None
            signal = Suspended()
            frame.note_signal(signal)
            raise signal
        await _noting(frame, _any_event(running, remote))


def _settled(candidates: Sequence[Candidate]) -> int | None:
    """The position of the candidate that settled first among those settled now (the first in order
    among equals), or None."""
    found: tuple[float, int] | None = None
    for i, f in enumerate(candidates):
        record = f.settled_record()
        if record is not None and (found is None or settled_at(record) < found[0]):
            found = (settled_at(record), i)
    return None if found is None else found[1]


def settled_at(record: PromiseRecord) -> float:
    """When ``record`` settled (store time). One its timeout settled (a timer, a timed-out promise)
    settled at its timeout, though a store applies timeouts lazily and stamps the later access."""
    if record.state is PromiseState.REJECTED_TIMEDOUT or record.tags.get(TAG_TIMER) == "true":
        return record.timeout_at if record.settled_on is None else min(record.settled_on, record.timeout_at)
    return record.settled_on if record.settled_on is not None else record.timeout_at


async def _any_event(running: list[DurableFuture[Any]], remote: list[RemoteFuture[Any]]) -> None:
    """Until one running local candidate ends or one remote candidate settles (a long poll each)."""
    async with trio.open_nursery() as nursery:
        async def local(f: DurableFuture[Any]) -> None:
            await f.wait_done()
            nursery.cancel_scope.cancel()

        async def polled(f: RemoteFuture[Any]) -> None:
            while await f.refresh(POLL_WAIT) is None:
                pass
            nursery.cancel_scope.cancel()

        for f in running:
            nursery.start_soon(local, f)
        for r in remote:
            nursery.start_soon(polled, r)


async def _noting(frame: Frame, waiting: Any) -> PromiseRecord | None:
    """``await waiting``, noting a cancellation that leaves it as the platform's signal."""
    try:
        result: PromiseRecord | None = await waiting
    except trio.Cancelled as exc:
        frame.note_signal(exc)
        raise
    return result


def _kind(value: object) -> str:
    return f"a {type(value).__name__}"


def _instead(value: object) -> str:
    """What to pass instead of ``value``."""
    name = type(value).__name__
    if name in ("RunBuilder", "RpcBuilder"):
        return "start the child first: f = await ctx.run(...).spawn() (or ctx.rpc), then ctx.select(f, ...)"
    if name == "coroutine":
        close = getattr(value, "close", None)
        if close is not None:
            close()  # never to be awaited: no "never awaited" warning on top of this error
        return "await it first: t = await ctx.timer(s) / p = await ctx.promise(...), then ctx.select(t, p)"
    if isinstance(value, (list, tuple)):
        return "pass the futures themselves: ctx.select(*futures)"
    return "pass futures from ctx.run(...).spawn(), ctx.rpc(...).spawn(), ctx.promise(...) or ctx.timer(...)"
