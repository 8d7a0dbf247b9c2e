"""A timer made while a worker waits in its long poll wakes it at the timer's instant, not at the end of
the poll (DESIGN §3: a waiter wakes by itself at the next timeout; a new, earlier one is news too). Run on
trio's virtual clock, so the figures are instants of the store's clock, not timings."""

from __future__ import annotations

import trio
import trio.testing

from pytest_durable import Context, Worker, function


@function
async def naps(ctx: Context, seconds: float) -> str:
    await ctx.sleep(seconds)
    return "up"


def test_a_sleep_ends_at_its_instant_while_the_worker_polls_for_much_longer() -> None:
    async def main() -> float:
        worker = Worker(poll_interval=30.0)
        worker.register(naps)
        async with worker.running():
            start = trio.current_time()
            handle = await worker.run("nap-1", naps, 0.2)
            assert await handle.result() == "up"
            return trio.current_time() - start

    elapsed = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert 0.2 <= elapsed < 1.0, elapsed  # before: the whole poll, 30 s
