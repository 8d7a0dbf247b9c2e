"""A live worker logs a body step that blocks its event loop (a CPU loop) once, naming the function."""

from __future__ import annotations

import trio

from pytest_durable import Context, MemoryStore, function
from pytest_durable.core.clock import TrioClock
from pytest_durable.live.process import serve


@function
async def crunch(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i % 7
    return total


@function
async def crunches(ctx: Context, n: int) -> int:
    return sum([await ctx.run(crunch, 3_000_000) for _ in range(n)])


def test_a_live_worker_says_a_long_step_once_naming_the_function() -> None:
    said: list[str] = []

    async def main() -> int:
        store = MemoryStore(TrioClock())
        async with trio.open_nursery() as nursery:
            worker = await nursery.start(lambda task_status: serve(
                store, [crunches, crunch], clock=TrioClock(), say=said.append, slow_step=0.02, id="w1",
                task_status=task_status))
            handle = await worker.run("job", crunches, 3)
            value: int = await handle.result()
            nursery.cancel_scope.cancel()
        return value

    assert trio.run(main) == 3 * sum(i % 7 for i in range(3_000_000))
    warned = [line for line in said if "warning:" in line]
    assert len(warned) == 1, said
    assert warned[0].startswith("durable worker w1: warning: durable: one step of crunch ran ")
    assert "without an await (over 0.02 s)" in warned[0]
