"""Wakeups: how a store's long polls learn, inside one process, that what they wait for may have come.

A store notifies a key when a write may have answered a waiter (a task of target ``t`` became due:
``("due", t)``; promise ``id`` settled: ``("settled", id)``); a waiter sleeps on its key until then or
until a deadline, and looks again. A notify is a hint, never a result: the waiter always re-reads the
store, so a spurious wake costs one read and a missed one only the wait until the deadline. Stores
shared by processes add their engine's own signal on top (PostgreSQL ``LISTEN``, SQLite's
``data_version``); this is the part every store shares.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

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
    """One ``trio.lowlevel.ParkingLot`` per key somebody waits on, unparked by ``notify``.

    A store notifies on every write that may answer a waiter, so a key nobody waits on costs one
    dictionary look-up. Call it from the trio thread (trio's parking lots are not thread-safe)."""

    def __init__(self) -> None:
        self._lots: dict[Hashable, trio.lowlevel.ParkingLot] = {}
        self._watchers: dict[Hashable, Callable[[], None]] = {}

    def notify(self, key: Hashable, *, one: bool = False) -> None:
        """Wake every waiter on ``key`` (the first only, with ``one``: a task that became due needs one
        worker, not a herd), and call its watcher."""
        lot = self._lots.get(key)
        if lot:
            if one:
                lot.unpark()
            else:
                lot.unpark_all()
        watcher = self._watchers.get(key)
        if watcher is not None:
            watcher()

    def notify_all(self) -> None:
        """Wake every waiter (another process changed the store, and it is not known how)."""
        for lot in self._lots.values():
            lot.unpark_all()

    def watch(self, key: Hashable, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` on every notify of ``key`` (``None`` stops): for a waiter that is not a task,
        such as the simulator's sweeper, which trio's run loop runs at the next due instant."""
        if callback is None:
            self._watchers.pop(key, None)
        else:
            self._watchers[key] = callback

    def waiting(self) -> bool:
        """Whether anybody waits on any key."""
        return any(self._lots.values())

    async def wait(self, key: Hashable, deadline: float) -> bool:
        """Sleep until ``key`` is notified (True) or until trio time ``deadline`` (False)."""
        lot = self._lots.get(key)
        if lot is None:
            lot = self._lots[key] = trio.lowlevel.ParkingLot()
        with trio.move_on_at(deadline):
            await lot.park()
            return True
        return False


__all__ = ["SCHEDULE", "Wakeups", "due_key", "settled_key"]
