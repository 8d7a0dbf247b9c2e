"""Helpers for tests that run workflows under trio's MockClock and crash a worker mid-run.

A "crash" cancels everything the worker runs and throws it away; a new worker over the same store
then picks the work up once the dead worker's lease expires, as the store contract says it must.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing

from pytest_durable import DurableFunction, MemoryStore, Worker
from pytest_durable.core import TrioClock


def run_world(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``main`` in a trio run whose clock jumps whenever every task is blocked."""
    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def new_store() -> MemoryStore:
    return MemoryStore(TrioClock())


def new_worker(store: MemoryStore, fns: list[DurableFunction[..., Any]], bodies: list[str] | None = None,
               **kwargs: Any) -> Worker:
    """A worker over ``store`` with ``fns`` registered; every body start is appended to ``bodies``."""
    def on_body(id: str, fn: DurableFunction[..., Any]) -> None:
        if bodies is not None:
            bodies.append(id)

    worker = Worker(store, on_body=on_body, **kwargs)
    worker.register(*fns)
    return worker


async def run_then_crash(worker: Worker, id: str, fn: DurableFunction[..., Any], *args: Any,
                         at: float) -> None:
    """Start root ``id`` on ``worker`` and crash the worker ``at`` seconds later."""
    with trio.move_on_after(at):
        async with worker.running():
            await worker.run(id, fn, *args)
            await trio.sleep_forever()


async def recover(worker: Worker, id: str) -> Any:
    """Serve with ``worker`` until root ``id`` settles; return its value (or raise its error)."""
    async with worker.running():
        return await worker.handle(id).result()


async def run_to_end(worker: Worker, id: str, fn: DurableFunction[..., Any], *args: Any) -> Any:
    async with worker.running():
        handle = await worker.run(id, fn, *args)
        return await handle.result()
