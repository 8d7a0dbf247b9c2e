"""Alarms: work the run loop does itself at a virtual instant, with no task step of its own.

A message that arrives at the server, or a sweep due at an instant, needs no task to wake for it: the
server applies the message at that instant and the sender only wakes for the answer. Trio's run loop
already visits every deadline in its heap when the clock reaches it (that is how a cancel scope's
deadline fires), so an alarm is one such entry, and the run loop calls it in the same pass that
wakes the sleepers of that instant, before any of them runs. This halves the task steps of a request
(two wakes of the sender become one) and makes a sweeper cost nothing while nothing is due.

Alarms due at one instant share one heap entry and run in the order they were set, so their order
is the world's, never the memory addresses trio breaks ties by. A callback must not raise (it runs
inside trio's run loop): it hands any outcome to the task that waits for it.

Uses the same trio internals as ``virtual_time`` (``internals_present``, pinned by a test); a trio
without them cannot run a world (a system task per alarm would change every world's schedule), and
says so when the first world starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import trio
from trio._core import _run as _trio_run

from .virtual_time import internals_present

_PRESENT = internals_present()


def _require_internals() -> None:
    if not _PRESENT:
        raise RuntimeError(
            f"sim: trio {trio.__version__} lacks the run-loop internals the simulator's alarms use (its deadline "
            "heap); use a trio release that has them (tests/sim/test_world_throughput.py pins what they are)")


class Alarm:
    """One callback at one instant; ``cancel()`` before it rings and it never does."""

    __slots__ = ("callback", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None] | None) -> None:
        self.deadline = deadline
        self.callback = callback

    def cancel(self) -> None:
        self.callback = None


class _Ring:
    """The heap entry of one instant: trio's run loop calls ``_cancel`` when the clock reaches it."""

    __slots__ = ("_registered_deadline", "alarms", "deadlines", "owner")

    def __init__(self, deadline: float, owner: Alarms, deadlines: Any) -> None:
        self._registered_deadline = deadline
        self.alarms: list[Alarm] = []
        self.owner = owner
        self.deadlines = deadlines

    def _cancel(self, reason: object = None) -> None:
        deadline = self._registered_deadline
        if deadline == math.inf:
            return
        self.deadlines.remove(deadline, self)
        self._registered_deadline = math.inf
        self.owner._ring(deadline, self)


class Alarms:
    """The alarms of one ``trio.run``: ``at(deadline, callback)`` runs ``callback()`` from the run loop
    when virtual time reaches ``deadline`` (at once, in order, if it already has)."""

    def __init__(self) -> None:
        _require_internals()
        self._rings: dict[float, _Ring] = {}

    def at(self, deadline: float, callback: Callable[[], None]) -> Alarm:
        alarm = Alarm(deadline, callback)
        ring = self._rings.get(deadline)
        if ring is None:
            deadlines = _trio_run.GLOBAL_RUN_CONTEXT.runner.deadlines
            ring = self._rings[deadline] = _Ring(deadline, self, deadlines)
            deadlines.add(deadline, ring)  # type: ignore[arg-type]
        ring.alarms.append(alarm)
        return alarm

    def close(self) -> None:
        """Forget every alarm not yet rung: the world is over, and trio must not jump its clock to them
        while the run winds down."""
        for ring in self._rings.values():
            if ring._registered_deadline != math.inf:
                ring.deadlines.remove(ring._registered_deadline, ring)
                ring._registered_deadline = math.inf
        self._rings.clear()

    def _ring(self, deadline: float, ring: _Ring) -> None:
        del self._rings[deadline]
        for alarm in ring.alarms:  # an alarm set while these ring, for this instant, gets a ring of its own
            callback = alarm.callback
            if callback is not None:
                alarm.callback = None
                callback()


__all__ = ["Alarm", "Alarms"]
