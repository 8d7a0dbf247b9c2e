"""The simulated server: a store (the reference one by default) behind a request/response interface.

Its state is durable: a server restart (a fault kind) makes it unreachable for a while and loses
nothing. Every answer it gives and every step it takes is shown to its observers (the checks that
watch a world step by step: settled-once and the task invariants).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Coroutine, Hashable, Sequence
from typing import Any, Protocol

import trio

from pytest_durable.core.errors import StoreError, UsageError
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import PromiseRecord
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.core.wakeups import Wakeups, due_key, settled_key
from pytest_durable.live import Torn

from ..kernel.alarms import Alarm, Alarms
from ..kernel.decisions import Decisions
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


class _Notices(Wakeups):
    """A ``MemoryStore``'s wakeups that also count the notifies of each key (nobody in a world waits on them:
    the server parks long polls itself). ``MemoryStore`` notifies ``due_key(target)`` whenever a task of
    ``target`` becomes pending (created, resumed, released, its lease expired) and ``settled_key(id)``
    whenever ``id`` settles, timed out included; at one instant nothing else makes a dispatch of that target
    or a read of that promise answer news."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[Hashable, int] = {}

    def notify(self, key: Hashable, *, one: bool = False) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        super().notify(key, one=one)


class SimServer:
    """Applies requests to the store atomically, one at a time, and shows its observers what it answers.

    Any store implementing ``Store`` and ``Inspect`` will do (``MemoryStore``, ``SqliteStore``), as long as
    its async methods never suspend: a request is applied in one step of the world."""

    def __init__(self, store: InspectableStore, trace: Trace, observers: Sequence[Observer] = (),
                 decisions: Decisions | None = None) -> None:
        self.store = store
        self.trace = trace
        #: Creates applied (idempotent repeats included) and each created promise's depth below its root;
        #: past ``create_limit`` creates, or a promise deeper than ``depth_limit``, ``over_limit`` is
        #: called (``World`` sets all three: the promise cap).
        self.creates = 0
        self.depths: dict[str, int] = {}
        self.deepest = 0
        self.create_limit = math.inf
        self.depth_limit = math.inf
        self.over_limit: Callable[[], None] | None = None
        #: The observers' callbacks, gathered once: a request calls only those that want it.
        self._on_answer = tuple(o.answered for o in observers if o.answered is not None)
        self._on_step = tuple(o.stepped for o in observers if o.stepped is not None)
        self.down_until = -math.inf
        #: Set by a server restart: the server dies during its next request, then is down this long.
        self.dying: float | None = None
        #: Long polls waiting for news, in the order they are answered (a dict as an ordered set).
        self._parked: dict[Parked, None] = {}
        #: Draws where a poll queues among others waiting for the same read (which worker gets a task).
        self.decisions = decisions
        #: Work the run loop does at an instant with no task of its own (arrivals, sweeps).
        self.alarms = Alarms()
        self._sweep_alarm: Alarm | None = None
        #: Over a ``MemoryStore``: its notifies, counted per key, so a parked poll is looked at again only
        #: when its key was notified or time reached a due instant since its last look (``_may_have_news``).
        self._notices: _Notices | None = None
        #: The promises the world's end (and a deploy's ``after``) waits for, each with the event that
        #: tells it the promise settled.
        self._watched: list[tuple[str, trio.Event]] = []
        if type(store) is MemoryStore and self.skip_unnotified:
            self._notices = store.wakeups = _Notices()

    #: Whether a parked poll nothing was notified for is left alone after a change (a test turns it off
    #: to show it changes no world).
    skip_unnotified = True

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
            self._changed()
            return False, exc
        detail = f"{op} -> {_summary(result)}"
        if method == "create_promise":
            detail += f" param {digest(args[1])}"
            self.creates += 1
            parent = result.tags.get(TAG_PARENT)
            depth = self.depths[result.id] = self.depths.get(parent, -1) + 1 if parent is not None else 0
            self.deepest = max(self.deepest, depth)
            if (self.creates > self.create_limit or depth > self.depth_limit) and self.over_limit is not None:
                self.over_limit()
        self.trace.add(trio.current_time(), process, incarnation, "apply", id, detail)
        for answered in self._on_answer:
            answered(result, process, incarnation)
        self._stepped()
        self._changed()
        return True, result

    def _changed(self) -> None:
        """After a request or a sweep: parked polls may have news, and something may be due sooner."""
        if self._parked:
            self._lower_horizons()
            self._recheck()
        self._arm()

    # -- long polls ------------------------------------------------------------------------------------

    def park(self, poll: Parked) -> None:
        """A long poll arrives: answered at once if the store has news for it, else parked until an applied
        request, a sweep or the passing of time gives it some, or its wait runs out. A parked poll costs
        no task step: the server looks again after each change, in the order the polls arrived."""
        if self._answer_if_news(poll):
            return
        self._queue(poll)
        poll.expiry = self.alarms.at(poll.expires, functools.partial(self._expire, poll))

    def _queue(self, poll: Parked) -> None:
        """Park ``poll`` behind the others, or (drawn, when others wait for the same read) ahead of some of
        them: which of several idle workers gets the next task is the network's choice, not seniority.
        The draw is 0 for "last", so shrinking leans to arrival order."""
        same = [p for p in self._parked if p.method == poll.method and p.args == poll.args]
        ahead = 0 if not same or self.decisions is None else self.decisions.choose("poll_order", len(same) + 1)
        if not ahead:
            self._parked[poll] = None
            return
        before = same[len(same) - ahead]
        parked, self._parked = self._parked, {}
        for p in parked:
            if p is before:
                self._parked[poll] = None
            self._parked[p] = None

    def unpark(self, poll: Parked) -> None:
        """Its sender crashed: forget it."""
        if self._parked.pop(poll, False) is None and poll.expiry is not None:
            poll.expiry.cancel()

    def _recheck(self) -> None:
        for poll in list(self._parked):
            if self._may_have_news(poll) and self._answer_if_news(poll):
                del self._parked[poll]
                if poll.expiry is not None:
                    poll.expiry.cancel()

    def _expire(self, poll: Parked) -> None:
        if self._parked.pop(poll, False) is None:
            ok, result = self._look(poll)
            poll.answer(ok, result, not ok or _news(result))

    def _may_have_news(self, poll: Parked) -> bool:
        """Whether looking at a parked poll again can find news. The server used to look at every parked
        poll after every change: a dispatch or a read for each, nearly always empty, as a moment before.
        Since its last empty look, a dispatch of ``target`` can find news only once ``due_key(target)`` was
        notified (a task became pending: ``_Notices``) or time reached a due instant of the store (a retry
        time, a timeout, a lease expiry: its ``next_due``), and a read of promise ``id`` likewise with
        ``settled_key(id)``. The earliest due instant since the last look is the poll's horizon
        (``_lower_horizons``). A poll before its horizon with no notify is not looked at: that look would
        have answered nothing, changed nothing (nothing was due to apply) and traced nothing, so every
        world is the same."""
        notices, looked = self._notices, poll.looked
        if notices is None or looked is None:
            return True
        key = _key(poll)
        return key is None or notices.counts.get(key, 0) != looked[0] or not trio.current_time() < looked[1]

    def _lower_horizons(self) -> None:
        """The store changed (a request, a sweep, a look with news): what it holds may come due sooner than
        the horizon of a parked poll. Called at the instant of the change, before time moves on, so no due
        instant a change adds is passed unseen."""
        if self._notices is None:
            return
        due = self.store.next_due()
        for poll in self._parked:
            looked = poll.looked
            if looked is not None and due < looked[1]:
                poll.looked = (looked[0], due)

    def _answer_if_news(self, poll: Parked) -> bool:
        notices = self._notices
        if notices is not None:
            key = _key(poll)
            count = notices.counts.get(key, 0) if key is not None else 0
        ok, result = self._look(poll)
        if notices is not None:
            poll.looked = (count, self.store.next_due())
        if ok and not _news(result):
            return False
        poll.answer(ok, result, True)
        return True

    def _look(self, poll: Parked) -> tuple[bool, Any]:
        """Apply a poll's read (without its wait); traced and shown to the observers only when it has news
        (due tasks, a settled promise, an error)."""
        try:
            result = run_now(getattr(self.store, poll.method)(*poll.args))
        except (StoreError, UsageError) as exc:
            self.trace.add(trio.current_time(), poll.process, poll.incarnation, "apply", poll.id,
                           f"{poll.op} -> {type(exc).__name__}")
            self._stepped()
            return False, exc
        if _news(result):
            self.trace.add(trio.current_time(), poll.process, poll.incarnation, "apply", poll.id,
                           f"{poll.op} -> {_summary(result)}")
            for answered in self._on_answer:
                answered(result, poll.process, poll.incarnation)
            self._stepped()
            self._lower_horizons()
        return True, result

    def _drop_parked(self) -> None:
        """The server died: the connections of parked polls die with it."""
        parked, self._parked = self._parked, {}
        for poll in parked:
            if poll.expiry is not None:
                poll.expiry.cancel()
            poll.lost()

    def _stepped(self) -> None:
        for stepped in self._on_step:
            stepped()
        if self._watched:
            self._look_at_watched()

    async def until_settled(self, id: str) -> None:
        """Return once promise ``id`` is settled: looked at after each step the server takes (a request, a
        read with news, a sweep), so the wait costs no poll and no task step until then."""
        record = self.store.promise(id)
        if record is not None and record.settled:
            return
        watch = (id, trio.Event())
        self._watched.append(watch)
        try:
            await watch[1].wait()
        finally:
            self._watched.remove(watch)

    def _look_at_watched(self) -> None:
        for id, event in self._watched:
            record = self.store.promise(id)
            if record is not None and record.settled:
                event.set()

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
        self._drop_parked()
        self.down_until = trio.current_time() + down
        self._stepped()
        raise ServerDied(op, id)

    def start_sweeping(self) -> None:
        """Apply due timeouts, lease expiries and retry times at the store's next due instant, by an alarm
        (no task): after each sweep and each request the server looks at ``next_due`` again."""
        self._arm()

    def _arm(self) -> None:
        """Set the sweep alarm to the store's next due instant, if that is earlier than the one set."""
        due = self.store.next_due()
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
        self._changed()


class Parked(Protocol):
    """A long poll as the server holds it: who sent it, the read it repeats, until when it waits, and how
    to give its sender the answer (``answer``) or nothing (``lost``, the server died)."""

    process: str
    incarnation: int
    op: str
    id: str
    method: str
    args: tuple[Any, ...]
    expires: float
    expiry: Alarm | None
    #: How often its key had been notified at the server's last look at its read (``_Notices``), and its
    #: horizon: the earliest instant since then at which time alone may change what the read answers.
    looked: tuple[int, float] | None

    def answer(self, ok: bool, result: Any, news: bool) -> None: ...

    def lost(self) -> None: ...


class ServerDied(Exception):
    """The server died while applying a request: the sender gets no answer."""


def _key(poll: Parked) -> Hashable | None:
    """The wakeup key a poll's read waits on: a dispatch's target is due, or a read's promise settled."""
    if poll.method == "dispatch":
        return due_key(poll.args[0])
    if poll.method == "get_promise":
        return settled_key(poll.args[0])
    return None


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
