"""A worker process outlives every task it runs: a platform error from one task, even one raised while
self-fencing is cancelling that task, releases the task and the worker goes on serving (found by the
live kill -9 test: a worker whose event loop was held up lost its lease while children were settling,
and the ``Fenced`` answer of a child's settle, grouped with the cancellation, stopped the whole
process)."""

from __future__ import annotations

import trio
import trio.testing

from pytest_durable import Context, Fenced, MemoryStore, Worker, function
from pytest_durable.core.clock import TrioClock
from pytest_durable.core.records import Fence, PromiseRecord, PromiseState, TaskRecord


class LostLease(MemoryStore):
    """The store once the worker's lease is gone: heartbeats and the children's settles are refused."""

    def __init__(self) -> None:
        super().__init__(TrioClock())
        self.lost = False
        self.refused: list[str] = []

    async def heartbeat_task(self, fence: Fence) -> TaskRecord:
        self.lost = True
        raise Fenced(fence.task_id, fence.version, "the lease expired")

    async def settle_promise(self, id: str, state: PromiseState, value: str | None, *,
                             fence: Fence | None = None) -> PromiseRecord:
        if self.lost and fence is not None:
            self.refused.append(id)
            raise Fenced(fence.task_id, fence.version, "the lease expired")
        return await super().settle_promise(id, state, value, fence=fence)


@function
async def stubborn(n: int) -> int:
    """A body that finishes its work even when cancelled (a shielded section), then settles."""
    with trio.CancelScope(shield=True):
        await trio.sleep(20)
    return n


@function
async def fan(ctx: Context, n: int) -> int:
    futures = [await ctx.run(stubborn, i).spawn() for i in range(n)]
    return sum([await f for f in futures])


def test_a_child_refused_while_self_fencing_cancels_releases_the_task_and_the_worker_serves_on() -> None:
    store = LostLease()
    served: list[str] = []

    async def main() -> None:
        worker = Worker(store, ttl=30.0, poll_interval=1.0, clock=TrioClock())
        worker.register(fan, stubborn)
        async with worker.running():
            await worker.run("job", fan, 3)
            await trio.sleep(60)  # the first heartbeat (t=10) is refused; the children settle at t=20
            served.append("still serving")
            assert worker.errors == [] or all(isinstance(e, Fenced) for _, e in worker.errors)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert store.refused, "no child settle was refused: the test did not reach the case"
    assert served == ["still serving"]


