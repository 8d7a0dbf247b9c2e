"""Crashes in the middle of a body: a trio instrument that offers a crash at each await of a body's own.

A request's crash points are ``before``/``during``/``after`` it (``sim.world.network``); between two
requests a body may still make effects (a leaf calling a payment API), and a crash between two of
those is what shows a missing idempotency key. So every suspension of a task running a body, outside
a request, is an opportunity of its own, named ``"await {promise id}"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Protocol

import trio

from pytest_durable.sdk import current_promise

from ..trace import PROCESS
from .injector import Injector

#: Set in a task while it waits on a request (or carries a duplicate): its awaits there are the
#: request's crash points (before/during/after), not a body's own.
in_request: ContextVar[bool] = ContextVar("sim_in_request", default=False)


class Crashable(Protocol):
    """A simulated process as a crash sees it: its name, whether it runs, which incarnation, and a kill."""

    @property
    def name(self) -> str: ...

    @property
    def alive(self) -> bool: ...

    @property
    def incarnation(self) -> int: ...

    def kill(self, why: str, **data: str) -> None: ...


class AwaitCrashes(trio.abc.Instrument):
    """Crash opportunities in the middle of a body: each time a task running a body (workflow or
    leaf) of a live process incarnation suspends at an await of its own (not inside a request,
    whose crash points are ``before``/``during``/``after``), the injector draws a crash named
    ``"await {promise id}"``; if it fires the process is killed there, so the task is cancelled at
    that await and the code after it never runs in this incarnation (a crash between two effects).
    A task whose await is already satisfied (it was rescheduled in the same step) is cancelled at its
    next checkpoint instead, as a crash a moment later would.
    """

    def __init__(self, injector: Injector, processes: Iterable[Crashable]) -> None:
        self.injector = injector
        self.processes = {p.name: p for p in processes}

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        context = task.context
        promise = context.get(current_promise, None)
        if promise is None or context.get(in_request, False):
            return
        name, _, incarnation = context.get(PROCESS, "").rpartition("#")
        process = self.processes.get(name)
        if process is None or not process.alive or str(process.incarnation) != incarnation:
            return
        where = f"await {promise}"
        if self.injector.planned_await_crash(name, promise) or self.injector.fire("crash", where):
            process.kill(where, when="await", about=promise)
