"""A worker process: the SDK's ``Worker`` over a shared store, with a name of its own and a clean stop.

Each process start gets a new worker id (host, pid and a random token) unless it is given a stable one
(``worker --id``): then it first takes back, with new leases and higher versions, the tasks its previous
run held, so a restart does not wait out their leases (a zombie of that run is fenced by the version).
SIGTERM or SIGINT stops it cleanly (``Worker.stop``): no new work, a grace period for running leaves to
record their results, then every task still held is released for another worker at once; a second
signal stops it at once (its tasks then wait out their leases, as after a crash).
"""

from __future__ import annotations

import contextlib
import functools
import logging
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
from ..sdk.task_events import TaskEvent, TaskHook
from ..sdk.worker import Worker
from .presence import announce
from .scheduler import fire_schedules
from .sweeper import SWEEPER_TTL_FACTOR, sweep_when_holding
from .worker_log import WorkerLog

#: Says one of the worker's own lines: (event, line, logging level).
Tell = Callable[[str, str, int], None]


def worker_id() -> str:
    """``host:pid:token``: unique per process start, readable in ``tree`` and logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


#: Seconds a stopping worker gives its running leaves to record their results (``worker --grace``): within
#: the 10 s that ``docker stop`` (and many supervisors) allow before SIGKILL, with time left to release.
DEFAULT_GRACE = 5.0


def default_concurrency() -> int:
    """Tasks a worker runs at once by default: 4 per CPU this process may use. A task is one root or rpc
    execution; its bodies mostly await I/O, so a few share a core well, while a cap keeps one worker
    from taking every due task of a fleet."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 4 * max(cpus, 1)


def count(n: int, what: str) -> str:
    """``1 task``, ``3 tasks``."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def describe_error(task: str, promise: str, error: BaseException) -> str:
    return f"durable worker: task {task}: {type(error).__name__} at {promise}: {error}"


async def serve(store: Store, functions: Sequence[DurableFunction[..., Any]], *, clock: Clock, group: str = "default",
                ttl: float = 30.0, poll_interval: float = 30.0, id: str | None = None,
                say: Callable[[str], None] | None = print, setup: Callable[[Worker], object] | None = None,
                slow_step: float = 1.0, concurrency: int | None = None, grace: float = DEFAULT_GRACE,
                on_task: TaskHook | None = None,
                task_status: trio.TaskStatus[Worker] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``functions`` for tasks of ``group`` from ``store`` until SIGTERM/SIGINT or cancellation;
    sweep due timeouts while this process holds the sweeper lease (``live.sweeper``). ``poll_interval``
    is the longest one long poll for due tasks waits (the store answers as soon as one is due, so it
    bounds only how long a change the store could not see keeps the worker waiting). ``setup`` is
    called with the worker first (set its dependencies there). A step of a body that runs longer than
    ``slow_step`` seconds without an await (0: not watched) is said once per function. ``id``: a stable
    identity, whose previous run's tasks it takes back first; ``concurrency``: the most tasks it runs at
    once (default: ``default_concurrency()``); ``grace``: what a SIGTERM gives running leaves. ``say`` is
    where the worker's lines go; ``None``: the ``logging`` module (``live.worker_log``), which also logs one
    line per root start, finish and failure and per takeover. ``on_task`` is told each task event."""
    wid = id or worker_id()
    logged = WorkerLog(wid) if say is None else None
    hooks = [h for h in (logged, on_task) if h is not None]

    def tell(event: str, line: str, level: int = logging.INFO) -> None:
        if logged is not None:
            logged.say(event, line, level=level)
        elif say is not None:
            say(line)

    def told(event: TaskEvent) -> None:
        for hook in hooks:
            hook(event)

    def said_error(task: str, promise: str, error: BaseException) -> None:
        tell("failed", describe_error(task, promise, error), logging.ERROR)

    worker = Worker(store, group=group, id=wid, ttl=ttl, poll_interval=poll_interval, clock=clock,
                    on_error=None if logged is not None else said_error, sweeps=False,  # logged: a Failed event
                    on_task=told if hooks else None,
                    concurrency=concurrency if concurrency is not None else default_concurrency(),
                    reclaim=id is not None)
    worker.register(*functions)
    if setup is not None:
        setup(worker)  # e.g. worker.set_dependency("bank", client)
    blocked: set[str] = set()

    def on_slow(function: str, seconds: float) -> None:  # once per function: a busy loop says it once
        if function not in blocked:
            blocked.add(function)
            tell("slow_step", f"durable worker {worker.id}: warning: {slow_step_message(function, seconds, slow_step)}",
                 logging.WARNING)

    watch = SlowSteps(slow_step, on_slow) if slow_step > 0 else None
    if watch is not None:
        trio.lowlevel.add_instrument(watch)
    try:
        await _serve(worker, store, functions, clock, group, ttl, grace, tell, task_status)
    finally:
        if watch is not None:
            with contextlib.suppress(KeyError):  # trio drops an instrument that raised (a `say` that failed)
                trio.lowlevel.remove_instrument(watch)


async def _serve(worker: Worker, store: Store, functions: Sequence[DurableFunction[..., Any]], clock: Clock,
                 group: str, ttl: float, grace: float, tell: Tell, task_status: trio.TaskStatus[Worker]) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(announce, store, clock, group, worker.id)  # live.presence: "serves group"
            await nursery.start(worker.serve)
            # said before the tasks it takes say anything (their first lines wait for the store's answer)
            if worker.reclaimed:
                tell("reclaimed", f"durable worker {worker.id} took back {count(worker.reclaimed, 'task')} "
                     "its previous run held", logging.INFO)
            tell("serving", f"durable worker {worker.id} serving group {group!r}: "
                 f"{', '.join(f.name for f in functions)} ({count(worker.concurrency or 0, 'task')} at a time)",
                 logging.INFO)
            nursery.start_soon(functools.partial(sweep_when_holding, store, clock, worker.id,
                                                     ttl=ttl * SWEEPER_TTL_FACTOR))
            nursery.start_soon(functools.partial(fire_schedules, store, clock, worker.id, ttl=ttl,
                                                 poll=worker.poll_interval))  # live.scheduler
            task_status.started(worker)
            stopping = False
            async for signum in signals:
                name = signal.Signals(signum).name
                if stopping:  # a second signal: stop at once; the leases still held run out
                    tell("stopping", f"durable worker {worker.id} stopping at once on a second signal ({name})",
                         logging.WARNING)
                    nursery.cancel_scope.cancel()
                    break
                stopping = True
                tell("stopping", f"durable worker {worker.id} stopping on {name}: "
                     f"{count(worker.running_tasks, 'task')} running, grace {grace:g} s", logging.INFO)
                nursery.start_soon(_stop, worker, grace, tell, nursery.cancel_scope)


async def _stop(worker: Worker, grace: float, tell: Tell, serving: trio.CancelScope) -> None:
    """Stop ``worker`` cleanly, say what it released, and end the process's serving."""
    report = await worker.stop(grace)
    finished = f" ({report.finished} of {report.running} finished within the grace)" if report.running else ""
    tell("stopped", f"durable worker {worker.id} released {count(report.released, 'task')}{finished}", logging.INFO)
    serving.cancel()


def flush_print(line: str) -> None:
    """Print a line at once (a worker's output goes to a pipe or a log, not a terminal)."""
    print(line, flush=True)
    sys.stdout.flush()


__all__ = ["DEFAULT_GRACE", "default_concurrency", "describe_error", "serve", "worker_id"]
