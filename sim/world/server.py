"""The simulated server: a store (the reference one by default) behind a request/response interface.

Its state is durable: a server restart (a fault kind) makes it unreachable for a while and loses
nothing. Every answer it gives and every step it takes is shown to its observers (the checks that
watch a world step by step: settled-once and the task invariants).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

import trio

from pytest_durable.core.errors import StoreError, UsageError
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.records import PromiseRecord
from pytest_durable.core.wakeups import SCHEDULE
from pytest_durable.live import Torn

from ..kernel import virtual_time
from ..kernel.alarms import Alarm, Alarms
from ..trace import Trace, digest


class Observer(Protocol):
    """What watches the server: each answer it gives (with who asked), and each step after it is applied.
    A watcher that needs only one of the two leaves the other ``None``."""

    @property
    def answered(self) -> Callable[[object, str, int], None] | None: ...

    @property
    def stepped(self) -> Callable[[], None] | None: ...


def run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends (every call of a store the simulator runs) to its result in one step."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("a store call suspended; the simulated server applies each request in one step")


class SimServer:
    """Applies requests to the store atomically, one at a time, and shows its observers what it answers.

    Any store implementing ``Store`` and ``Inspect`` will do (``MemoryStore``, ``SqliteStore``), as long as
    its async methods never suspend: a request is applied in one step of the world."""

    def __init__(self, store: InspectableStore, trace: Trace, observers: Sequence[Observer] = ()) -> None:
        self.store = store
        self.trace = trace
        #: The observers' callbacks, gathered once: a request calls only those that want it.
        self._on_answer = tuple(o.answered for o in observers if o.answered is not None)
        self._on_step = tuple(o.stepped for o in observers if o.stepped is not None)
        self.down_until = -math.inf
        #: Set by a server restart: the server dies during its next request, then is down this long.
        self.dying: float | None = None
        #: The cancel scopes of long polls parked in the store, dropped if the server dies.
        self._parked: set[trio.CancelScope] = set()
        #: Work the run loop does at an instant with no task of its own (arrivals, sweeps).
        self.alarms = Alarms()
        self._sweep_alarm: Alarm | None = None

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
            self.trace.add(trio.current_time(), process, incarnation, "apply", id, f"{op} -> {type(exc).__name__}")
            self._stepped()
            return False, exc
        detail = f"{op} -> {_summary(result)}"
        if method == "create_promise":
            detail += f" param {digest(args[1])}"
        self.trace.add(trio.current_time(), process, incarnation, "apply", id, detail)
        for answered in self._on_answer:
            answered(result, process, incarnation)
        self._stepped()
        return True, result

    async def long_poll(self, process: str, incarnation: int, op: str, id: str, method: str,
                        args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any, bool]:
        """Park a long poll in the store until it answers: (ok, result, news). Only an answer with news
        (due tasks, a settled promise, an error) is traced and shown to observers; the server dying
        meanwhile drops every parked poll (``ServerDied``)."""
        with trio.CancelScope() as scope:
            self._parked.add(scope)
            try:
                result = await getattr(self.store, method)(*args, **kwargs)
            except (StoreError, UsageError) as exc:
                self.trace.add(trio.current_time(), process, incarnation, "apply", id, f"{op} -> {type(exc).__name__}")
                self._stepped()
                return False, exc, True
            finally:
                self._parked.discard(scope)
        if scope.cancelled_caught:
            raise ServerDied(op, id)
        if not _news(result):
            self._stepped()  # a re-check may have applied a due timeout or lease expiry
            return True, result, False
        self.trace.add(trio.current_time(), process, incarnation, "apply", id, f"{op} -> {_summary(result)}")
        for answered in self._on_answer:
            answered(result, process, incarnation)
        self._stepped()
        return True, result, True

    def _stepped(self) -> None:
        for stepped in self._on_step:
            stepped()

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
        self.trace.add(trio.current_time(), process, incarnation, "torn", id,
                       f"{op}: the server died before it committed", op=op)
        for parked in self._parked:  # the connections of parked long polls die with it
            parked.cancel()
        self.down_until = trio.current_time() + down
        self._stepped()
        raise ServerDied(op, id)

    async def sweeper(self, interval: float) -> None:
        """Apply due timeouts and lease expiries on virtual time, while up. Over a store that can tell its
        next due instant (``next_due``, and a ``SCHEDULE`` notice when an earlier one is made) this is an
        alarm at that instant, no task at all; over another store, a task that sweeps every ``interval``."""
        wakeups = getattr(self.store, "wakeups", None)
        if getattr(self.store, "next_due", None) is not None and wakeups is not None:
            self.store.swept = True  # type: ignore[attr-defined]
            wakeups.watch(SCHEDULE, self._arm)
            self._arm()
            return
        while True:
            await virtual_time.sleep(interval)
            if self.up:
                run_now(self.store.sweep())
                self._stepped()

    def _arm(self) -> None:
        """Set the sweep alarm to the store's next due instant, if that is earlier than the one set."""
        due: float = self.store.next_due()  # type: ignore[attr-defined]
        alarm = self._sweep_alarm
        if due == math.inf or (alarm is not None and alarm.callback is not None and alarm.deadline <= due):
            return
        if alarm is not None:
            alarm.cancel()
        self._sweep_alarm = self.alarms.at(due, self._sweep)

    def _sweep(self) -> None:
        self._sweep_alarm = None
        if not self.up:
            self._sweep_alarm = self.alarms.at(self.down_until, self._sweep)
            return
        run_now(self.store.sweep())
        self._stepped()
        self._arm()


class ServerDied(Exception):
    """The server died while applying a request: the sender gets no answer."""


def _news(result: object) -> bool:
    """Whether a long poll's answer carries news: tasks to take, or a promise that settled."""
    if isinstance(result, list):
        return bool(result)
    return not isinstance(result, PromiseRecord) or result.settled


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
