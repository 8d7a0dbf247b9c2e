"""Wakeups: how a store's long polls learn, inside one process, that what they wait for may have come.

A store notifies a key when a write may have answered a waiter (a task of target ``t`` became due:
``("due", t)``; promise ``id`` settled: ``("settled", id)``); a waiter sleeps on its key until then or
until a deadline, and looks again. A notify is a hint, never a result: the waiter always re-reads the
store, so a spurious wake costs one read and a missed one only the wait until the deadline. Stores
shared by processes add their engine's own signal on top (PostgreSQL ``LISTEN``, SQLite's
``data_version``); this is the part every store shares.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager

import trio

#: The key a store notifies when it made an earlier due instant (a new timeout, lease or retry time): a
#: waiter sleeping until the next due instant looks again.
SCHEDULE = ("schedule",)


def due_key(target: str) -> tuple[str, str]:
    """The key a long poll of ``dispatch(target, ...)`` waits on."""
    return ("due", target)


def settled_key(id: str) -> tuple[str, str]:
    """The key ``await_settled(id, ...)`` waits on."""
    return ("settled", id)


class Wakeups:
    """One ``trio.lowlevel.ParkingLot`` per key somebody waits on, unparked by ``notify``.

    A store notifies on every write that may answer a waiter, so a key nobody waits on costs one
    dictionary look-up. Call it from the trio thread (trio's parking lots are not thread-safe)."""

    def __init__(self) -> None:
        self._lots: dict[Hashable, trio.lowlevel.ParkingLot] = {}
        self._armed: dict[Hashable, list[trio.Event]] = {}  # events of ``armed`` blocks, by key
        self._schedule: set[trio.CancelScope] = set()  # waits that end early at a notify of ``SCHEDULE``

    def notify(self, key: Hashable, *, one: bool = False) -> None:
        """Wake every waiter on ``key`` (the first only, with ``one``: a task that became due needs one
        worker, not a herd), and every ``armed`` block of it (a read in flight looks again)."""
        lot = self._lots.get(key)
        if lot:
            if one:
                lot.unpark()
            else:
                lot.unpark_all()
        for armed in self._armed.get(key, ()):
            armed.set()
        if key == SCHEDULE:
            for scope in self._schedule:
                scope.cancel()

    def notify_all(self) -> None:
        """Wake every waiter (another process changed the store, and it is not known how)."""
        for lot in self._lots.values():
            lot.unpark_all()
        for armed in self._armed.values():
            for event in armed:
                event.set()

    @contextmanager
    def armed(self, keys: tuple[Hashable, ...]) -> Iterator[trio.Event]:
        """An event set by the first notify of any of ``keys`` from now until the block ends.

        Armed *before* a read that runs off the trio thread, it keeps a notify that comes while the read
        runs (which a ``wait`` begun after the read would miss); the block removes it, so a waiter that
        returns early leaves nothing behind."""
        event = trio.Event()
        for key in keys:
            self._armed.setdefault(key, []).append(event)
        try:
            yield event
        finally:
            for key in keys:
                events = self._armed[key]
                events.remove(event)
                if not events:
                    del self._armed[key]

    def waiting(self) -> bool:
        """Whether anybody waits on any key."""
        return any(self._lots.values()) or bool(self._armed)

    async def wait(self, key: Hashable, deadline: float, *, schedule: bool = False) -> bool:
        """Sleep until ``key`` is notified (True) or until trio time ``deadline`` (False). With ``schedule``,
        also until ``SCHEDULE`` is notified (False): a waiter whose ``deadline`` is the store's next due
        instant looks again when an earlier one was made (a new timer while a worker waits)."""
        lot = self._lots.get(key)
        if lot is None:
            lot = self._lots[key] = trio.lowlevel.ParkingLot()
        with trio.move_on_at(deadline) as scope:
            if schedule:
                self._schedule.add(scope)
            try:
                await lot.park()
                return True
            finally:
                self._schedule.discard(scope)
        return False


__all__ = ["SCHEDULE", "Wakeups", "due_key", "settled_key"]
