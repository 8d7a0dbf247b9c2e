"""Wakeups: how a store's long polls learn, inside one process, that what they wait for may have come.

A store notifies a key when a write may have answered a waiter (a task of target ``t`` became due:
``("due", t)``; promise ``id`` settled: ``("settled", id)``); a waiter sleeps on its key until then or
until a deadline, and looks again. A notify is a hint, never a result: the waiter always re-reads the
store, so a spurious wake costs one read and a missed one only the wait until the deadline. Stores
shared by processes add their engine's own signal on top (PostgreSQL ``LISTEN``, SQLite's
``data_version``); this is the part every store shares.
"""

from __future__ import annotations

from collections.abc import Hashable

import trio


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

    def notify(self, key: Hashable, *, one: bool = False) -> None:
        """Wake every waiter on ``key`` (the first only, with ``one``: a task that became due needs one
        worker, not a herd)."""
        lot = self._lots.get(key)
        if lot:
            if one:
                lot.unpark()
            else:
                lot.unpark_all()

    def notify_all(self) -> None:
        """Wake every waiter (another process changed the store, and it is not known how)."""
        for lot in self._lots.values():
            lot.unpark_all()

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


__all__ = ["Wakeups", "due_key", "settled_key"]
