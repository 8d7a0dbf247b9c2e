"""A worker process: the SDK's ``Worker`` over a shared store, with a name of its own and a clean stop.

Each process start gets a new worker id (host, pid and a random token), so the store can tell a
restarted process from the one that died: the dead one's leases expire and its tasks are taken over;
its late writes are fenced by the task version. SIGTERM and SIGINT stop the process after cancelling
its bodies (their tasks' leases expire and another process takes them, as after a crash).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from ..core.clock import Clock
from ..core.store import Store
from ..sdk.function import DurableFunction
from ..sdk.slow_steps import SlowSteps, slow_step_message
from ..sdk.worker import Worker
from .scheduler import fire_schedules
from .sweeper import SWEEPER_TTL_FACTOR, sweep_when_holding


def worker_id() -> str:
    """``host:pid:token``: unique per process start, readable in ``tree`` and logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def describe_error(task: str, promise: str, error: BaseException) -> str:
    return f"durable worker: task {task}: {type(error).__name__} at {promise}: {error}"


async def serve(store: Store, functions: Sequence[DurableFunction[..., Any]], *, clock: Clock, group: str = "default",
                ttl: float = 30.0, poll_interval: float = 30.0, id: str | None = None,
                say: Callable[[str], None] = print, setup: Callable[[Worker], object] | None = None,
                slow_step: float = 1.0, task_status: trio.TaskStatus[Worker] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``functions`` for tasks of ``group`` from ``store`` until SIGTERM/SIGINT or cancellation;
    sweep due timeouts while this process holds the sweeper lease (``live.sweeper``). ``poll_interval``
    is the longest one long poll for due tasks waits (the store answers as soon as one is due, so it
    bounds only how long a change the store could not see keeps the worker waiting). ``setup`` is
    called with the worker first (set its dependencies there). A step of a body that runs longer than
    ``slow_step`` seconds without an await (0: not watched) is said once per function."""
    worker = Worker(store, group=group, id=id or worker_id(), ttl=ttl, poll_interval=poll_interval, clock=clock,
                    on_error=lambda task, promise, error: say(describe_error(task, promise, error)), sweeps=False)
    worker.register(*functions)
    if setup is not None:
        setup(worker)  # e.g. worker.set_dependency("bank", client)
    blocked: set[str] = set()

    def on_slow(function: str, seconds: float) -> None:  # once per function: a busy loop says it once
        if function not in blocked:
            blocked.add(function)
            say(f"durable worker {worker.id}: warning: {slow_step_message(function, seconds, slow_step)}")

    watch = SlowSteps(slow_step, on_slow) if slow_step > 0 else None
    if watch is not None:
        trio.lowlevel.add_instrument(watch)
    try:
        await _serve(worker, store, functions, clock, group, ttl, say, task_status)
    finally:
        if watch is not None:
            with contextlib.suppress(KeyError):  # trio drops an instrument that raised (a `say` that failed)
                trio.lowlevel.remove_instrument(watch)


async def _serve(worker: Worker, store: Store, functions: Sequence[DurableFunction[..., Any]], clock: Clock,
                 group: str, ttl: float, say: Callable[[str], None], task_status: trio.TaskStatus[Worker]) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.serve)
            nursery.start_soon(functools.partial(sweep_when_holding, store, clock, worker.id,
                                                     ttl=ttl * SWEEPER_TTL_FACTOR))
            nursery.start_soon(functools.partial(fire_schedules, store, clock, worker.id, ttl=ttl,
                                                 poll=worker.poll_interval))  # live.scheduler
            say(f"durable worker {worker.id} serving group {group!r}: {', '.join(f.name for f in functions)}")
            task_status.started(worker)
            async for signum in signals:
                say(f"durable worker {worker.id} stopping on {signal.Signals(signum).name}")
                nursery.cancel_scope.cancel()
                break


def flush_print(line: str) -> None:
    """Print a line at once (a worker's output goes to a pipe or a log, not a terminal)."""
    print(line, flush=True)
    sys.stdout.flush()


__all__ = ["describe_error", "serve", "worker_id"]
