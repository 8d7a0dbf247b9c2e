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

#: The key a store notifies when what is due next in time may have moved earlier (a new timeout, a lease
#: or a retry time): a sweeper sleeping until the next due instant looks again.
SCHEDULE = ("schedule",)


def due_key(target: str) -> tuple[str, str]:
    """The key a long poll of ``dispatch(target, ...)`` waits on."""
    return ("due", target)


def settled_key(id: str) -> tuple[str, str]:
    """The key ``await_settled(id, ...)`` waits on."""
    return ("settled", id)


class Wakeups:
    """One ``trio.Event`` per key somebody waits on; set (and forgotten) by ``notify``.

    Only keys with a waiter hold an event, so a store notifying on every write pays one dictionary
    look-up when nobody waits. Call it from the trio thread (a ``trio.Event`` is not thread-safe)."""

    def __init__(self) -> None:
        self._events: dict[Hashable, trio.Event] = {}
        self._armed: dict[Hashable, list[trio.Event]] = {}  # events of ``armed`` blocks, by key

    def notify(self, key: Hashable) -> None:
        """Wake every waiter on ``key``."""
        event = self._events.pop(key, None)
        if event is not None:
            event.set()
        for armed in self._armed.get(key, ()):
            armed.set()

    def notify_all(self) -> None:
        """Wake every waiter (another process changed the store, and it is not known how)."""
        events, self._events = self._events, {}
        for event in events.values():
            event.set()
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
        return bool(self._events) or bool(self._armed)

    async def wait(self, key: Hashable, deadline: float) -> bool:
        """Sleep until ``key`` is notified (True) or until trio time ``deadline`` (False)."""
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = trio.Event()
        with trio.move_on_at(deadline):
            await event.wait()
            return True
        return False


__all__ = ["SCHEDULE", "Wakeups", "due_key", "settled_key"]
