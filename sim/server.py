"""The simulated server: a store (the reference one by default) behind a request/response interface.

Its state is durable: a server restart (a fault kind) makes it unreachable for a while and loses
nothing. It observes every answer it gives, so checks (1) and (6) see each step as it happens.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import trio

from pytest_durable.core.errors import StoreError, UsageError
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.invariants import task_invariant_breaks
from pytest_durable.core.records import PromiseRecord, TaskRecord
from pytest_durable.live import Torn

from . import virtual_time

if TYPE_CHECKING:
    from .world import World


def run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends (every call of a store the simulator runs) to its result in one step."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("a store call suspended; the simulated server applies each request in one step")


class SimServer:
    """Applies requests to the store atomically, one at a time, and watches what it answers.

    Any store implementing ``Store`` and ``Inspect`` will do (``MemoryStore``, ``SqliteStore``), as long as
    its async methods never suspend: a request is applied in one step of the world."""

    def __init__(self, world: World, store: InspectableStore) -> None:
        self.world = world
        self.store = store
        self.down_until = -math.inf
        #: Set by a server restart: the server dies during its next request, then is down this long.
        self.dying: float | None = None
        self.first_settled: dict[str, PromiseRecord] = {}
        self._task_violations: set[str] = set()
        #: For a store that logs its writes: each task's creation rank and last seen record, and the
        #: tasks that named each promise (a superset: a task that names one no longer is looked at too).
        self._rank: dict[str, int] = {}
        self._seen: dict[str, TaskRecord] = {}
        self._naming: dict[str, set[str]] = {}

    @property
    def up(self) -> bool:
        return trio.current_time() >= self.down_until

    def apply(
        self,
        process: str,
        incarnation: int,
        op: str,
        id: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[bool, Any]:
        """Apply one request; (True, result) or (False, the store's error). A server that is dying
        dies during this request instead (``ServerDied``)."""
        if self.dying is not None:
            self._die(process, incarnation, op, id, method, args, kwargs)
        try:
            result = run_now(getattr(self.store, method)(*args, **kwargs))
        except (StoreError, UsageError) as exc:
            self.world.trace.add(
                trio.current_time(), process, incarnation, "apply", id, f"{op} -> {type(exc).__name__}"
            )
            self._check_tasks()
            return False, exc
        detail = f"{op} -> {_summary(result)}"
        if method == "create_promise":
            detail += f" param {digest(args[1])}"
        self.world.trace.add(trio.current_time(), process, incarnation, "apply", id, detail)
        self.observe(result, process, incarnation)
        self._check_tasks()
        return True, result

    def _die(self, process: str, incarnation: int, op: str, id: str, method: str, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        """The server process dies in the middle of this request's transaction: a real store runs it
        and rolls it back, then reopens its file (only what was committed is left); the reference
        store simply does not apply it. Either way nothing of it remains and no answer goes back."""
        down, self.dying = self.dying or 0.0, None
        engine = getattr(self.store, "engine", None)
        if engine is not None:
            engine.die_before_commit = True
            try:
                run_now(getattr(self.store, method)(*args, **kwargs))
            except Torn:
                pass
            except (StoreError, UsageError):  # refused before any transaction: nothing was written
                pass
            engine.die_before_commit = False
            reopen = getattr(self.store, "reopen", None)
            if reopen is not None:
                reopen()
        self.world.trace.add(trio.current_time(), process, incarnation, "torn", id,
                             f"{op}: the server died before it committed", op=op)
        self.down_until = trio.current_time() + down
        self._check_tasks()
        raise ServerDied(op, id)

    def observe(self, result: object, process: str = "server", incarnation: int = 0) -> None:
        """Check (1) on every promise record the server hands out: once settled, never changed."""
        records = result if isinstance(result, list) else [result]
        for record in records:
            if not isinstance(record, PromiseRecord) or not record.settled:
                continue
            first = self.first_settled.get(record.id)
            if first is None:
                self.first_settled[record.id] = record
                self.world.trace.add(
                    trio.current_time(), process, incarnation, "settled", record.id,
                    f"{record.state.value} {digest(record.value)}", state=record.state.value,
                )
            elif (first.state, first.value, first.settled_on) != (record.state, record.value, record.settled_on):
                self.world.violation(
                    "settled-once",
                    f"promise {record.id} changed after it settled: {first.state.value} {first.value!r} at "
                    f"{first.settled_on} became {record.state.value} {record.value!r} at {record.settled_on}",
                    record.id,
                )

    def final_scan_at(self, time: float) -> None:
        """Check (1) once more over every record, for changes no answer showed (outside the run)."""
        for record in self.store.promises():
            first = self.first_settled.get(record.id)
            if first is not None and (first.state, first.value, first.settled_on) != (
                record.state,
                record.value,
                record.settled_on,
            ):
                self.world.trace.add(time, "checks", 0, "violation", record.id, "settled-once")
                from .result import Violation

                self.world.violations.append(
                    Violation(
                        "settled-once",
                        f"promise {record.id} changed after it settled: {first.state.value} became "
                        f"{record.state.value} {record.value!r}",
                        record.id,
                    )
                )

    def _check_tasks(self) -> None:
        """Check (6): the seven task invariants after every step. A store that logs what each request
        wrote (``MemoryStore.take_changes``) has only the tasks written, and those naming a promise
        written, looked at: nothing else can have begun to break an invariant since the last step, so
        the same breaks are found at the same step, at a cost that does not grow with the world. Other
        stores have every task looked at, with only the promises the tasks name (not a copy of all)."""
        take = getattr(self.store, "take_changes", None)
        tasks = self.store.tasks() if take is None else self._changed_tasks(*take())
        if not tasks:
            return
        needed = {id for t in tasks for id in (t.promise_id, *t.callbacks)}
        promises = {id: record for id in needed if (record := self.store.promise(id)) is not None}
        for task_id, line in task_invariant_breaks(tasks, promises):
            if line not in self._task_violations:
                self._task_violations.add(line)
                self.world.violation("task-invariants", line, task_id)

    def _changed_tasks(self, written: list[TaskRecord], promise_ids: list[str]) -> list[TaskRecord]:
        """The tasks written, and the last seen record of each task naming a written promise (its own
        or a callback), in the order the tasks were created."""
        for task in written:
            self._rank.setdefault(task.id, len(self._rank))
            self._seen[task.id] = task
            for id in (task.promise_id, *task.callbacks):
                self._naming.setdefault(id, set()).add(task.id)
        ids = {task.id for task in written}
        for id in promise_ids:
            ids.update(self._naming.get(id, ()))
        return [self._seen[id] for id in sorted(ids, key=self._rank.__getitem__)]

    async def sweeper(self, interval: float) -> None:
        """Apply due timeouts and lease expiries on virtual time, while up."""
        while True:
            await virtual_time.sleep(interval)
            if self.up:
                run_now(self.store.sweep())
                self._check_tasks()


class ServerDied(Exception):
    """The server died while applying a request: the sender gets no answer."""


def digest(text: str | None) -> str:
    """A short, stable fingerprint of a param or value, so the trace hash covers what was written."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:8]


def _summary(result: object) -> str:
    if isinstance(result, PromiseRecord):
        return result.state.value
    if isinstance(result, list):
        return f"{len(result)} records"
    if hasattr(result, "state") and hasattr(result, "version"):
        return f"{result.state.value} v{result.version}"
    if hasattr(result, "value"):
        return str(result.value)
    return type(result).__name__
