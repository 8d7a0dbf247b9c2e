"""Virtual time as the simulator's own parts wait on it: a clock read without the real clock, and
sleeps without a cancel scope each.

A world's own tasks (the network's messages, the server's sweeper, the client's polling, the fault
ticks) sleep a couple of hundred times per world. ``trio.sleep_until`` wraps each sleep in a cancel
scope whose deadline wakes the task by raising and catching ``Cancelled``: most of a step's cost. Here
a sleep puts one entry in trio's own heap of deadlines, and when the clock reaches it the task is
simply rescheduled. It wakes in the same batch of the run loop as before (trio sorts each batch by
task before the seeded shuffle), so worlds, their draws and their trace hashes are the same. A sleep
is still a checkpoint an outer cancellation (a crash) interrupts. User code keeps trio's own sleeps.

``clock()`` is trio's ``MockClock`` (virtual time, autojump) read without asking the real clock:
at rate 0, the only rate a world uses, its time is exactly its virtual base. It also jumps in one pass
of the run loop where ``MockClock`` takes two: trio asks the clock how long to wait for the next
deadline only when no task can run; ``MockClock`` answers "forever", the loop polls, finds nothing, and
jumps the clock at the end of that pass, so the sleepers wake in the next. Here the clock jumps when
asked (by the same arithmetic, to the same instant) and answers "now", so they wake in the same pass.
A world has about a hundred distinct instants, and a pass costs a poll of the OS and trio's bookkeeping.

Both use trio internals (``GLOBAL_RUN_CONTEXT.runner.deadlines``, a task's ``_cancel_status``,
``MockClock._virtual_base``, ``Runner.waiting_for_idle``),
as ``sim.kernel.scheduler`` does; ``internals_present`` says whether the installed trio has them (else the
public forms are used) and ``tests/sim/test_world_throughput.py`` pins them.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import attrs
import trio
import trio.testing
from trio._core import _run as _trio_run


def internals_present() -> bool:
    """True when the installed trio has the deadline heap and clock fields used here."""
    deadlines = getattr(_trio_run, "Deadlines", None)
    clock = trio.testing.MockClock()
    task_fields = {a.name for a in attrs.fields(trio.lowlevel.Task)}
    status_fields = {a.name for a in attrs.fields(_trio_run.CancelStatus)}
    return (
        hasattr(_trio_run, "GLOBAL_RUN_CONTEXT")
        and "_cancel_status" in task_fields
        and "effectively_cancelled" in status_fields
        and callable(getattr(trio.Cancelled, "_create", None))
        and deadlines is not None
        and all(callable(getattr(deadlines, name, None)) for name in ("add", "remove", "expire", "next_deadline"))
        and isinstance(getattr(clock, "_virtual_base", None), float)
        and getattr(clock, "_rate", None) == 0.0
        and "waiting_for_idle" in {a.name for a in attrs.fields(_trio_run.Runner)}
    )


_PRESENT = internals_present()


def _virtual_now(clock: trio.testing.MockClock) -> float:
    return clock._virtual_base if clock._rate == 0.0 else clock._real_to_virtual(clock._real_clock())


#: The most instants ``_jump_to`` passes in one call before it lets the run loop take a pass of its own
#: (an empty one): a bound, so the loop still looks at its I/O now and then however long the alarms ring.
JUMPS_PER_PASS = 64


def _jump_to(clock: trio.testing.MockClock, deadline: float) -> float:
    """Asked by the run loop, with no task runnable, how long to wait for ``deadline``: jump there now
    (as ``MockClock._autojump`` would a pass later, by the same sums) and wait no time. Left to
    ``MockClock`` while a task waits in ``wait_all_tasks_blocked`` (it is woken before any jump) or
    when there is no deadline at all.

    An instant whose deadlines wake no task (a message reaching the server, a sweep: alarms only) would
    cost the run loop a pass with nothing to run, a third of a world's passes. Here such an instant is
    expired on the spot, as the run loop would in that pass, and the clock jumps on to the next deadline,
    until one wakes a task: the run loop's pass then expires nothing more and runs that batch. An empty
    pass draws nothing (an empty batch shuffles without a draw) and no instrument of a world watches
    passes, so the callbacks, batches and draws are the same, in the same order."""
    runner = _trio_run.GLOBAL_RUN_CONTEXT.runner
    if clock._rate != 0.0 or deadline == math.inf or runner.waiting_for_idle:
        return trio.testing.MockClock.deadline_to_sleep_time(clock, deadline)
    deadlines = runner.deadlines
    for _ in range(JUMPS_PER_PASS):
        while clock._virtual_base < deadline:  # a jump that falls an ulp short is taken again, as autojump does
            clock._virtual_base += deadline - clock._virtual_base
        deadlines.expire(clock._virtual_base)
        if runner.runq:
            break
        deadline = deadlines.next_deadline()
        if deadline == math.inf or runner.waiting_for_idle:
            break
    return 0.0


def clock() -> trio.testing.MockClock:
    """The clock of one world: trio's ``MockClock`` (virtual, jumping whenever every task is blocked),
    read without asking the real clock, and jumping in the pass of the run loop that finds every task
    blocked rather than the next. At rate 0, the only rate a world runs at, its time is exactly its
    virtual base; a world reads the time about a thousand times. (``MockClock`` is final: both are set
    on the instance.)"""
    mock = trio.testing.MockClock(autojump_threshold=0)
    if _PRESENT:
        mock.current_time = types.MethodType(_virtual_now, mock)  # type: ignore[method-assign]
        mock.deadline_to_sleep_time = types.MethodType(_jump_to, mock)  # type: ignore[method-assign]
    return mock


class _Wake:
    """An entry in trio's deadline heap that reschedules one sleeping task when its time comes (where
    a cancel scope's entry would cancel the scope)."""

    __slots__ = ("_registered_deadline", "deadlines", "task")

    def __init__(self, deadline: float, task: trio.lowlevel.Task, deadlines: Any) -> None:
        self._registered_deadline = deadline
        self.task = task
        self.deadlines = deadlines

    def _unregister(self) -> bool:
        if self._registered_deadline == math.inf:
            return False
        self.deadlines.remove(self._registered_deadline, self)
        self._registered_deadline = math.inf
        return True

    def _forget(self) -> None:
        self._unregister()

    def _cancel(self, reason: object = None) -> None:
        """Called by trio's run loop when the clock reaches the deadline."""
        if self._unregister():
            trio.lowlevel.reschedule(self.task)


def wake_at(deadline: float, task: trio.lowlevel.Task) -> Callable[[], None]:
    """Reschedule ``task`` (parked in ``wait_task_rescheduled``) when virtual time reaches ``deadline``, or
    now if it has; returns what forgets the wake (for the task's abort, if it is cancelled first). It needs
    trio's deadline heap whatever ``_PRESENT`` says (``sim.kernel.alarms`` requires it)."""
    if not deadline > trio.current_time():
        trio.lowlevel.reschedule(task)
        return lambda: None
    deadlines = _trio_run.GLOBAL_RUN_CONTEXT.runner.deadlines
    wake = _Wake(deadline, task, deadlines)
    deadlines.add(deadline, wake)  # type: ignore[arg-type]
    return wake._forget


async def sleep_until(deadline: float) -> None:
    """``trio.sleep_until(deadline)``, without a cancel scope when the deadline is still ahead."""
    if not _PRESENT or not deadline > trio.current_time() or deadline == math.inf:
        await trio.sleep_until(deadline)  # a passed deadline is a checkpoint; inf sleeps forever
        return
    deadlines = _trio_run.GLOBAL_RUN_CONTEXT.runner.deadlines
    wake = _Wake(deadline, trio.lowlevel.current_task(), deadlines)
    deadlines.add(deadline, wake)  # type: ignore[arg-type]

    def abort(_: Any) -> trio.lowlevel.Abort:  # cancelled from outside (a crash): forget the deadline
        wake._unregister()
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)
    if wake.task._cancel_status.effectively_cancelled:
        # Cancelled from outside in the same batch as the deadline came (a crash at that instant):
        # as a cancel scope's sleep would, unwind at once instead of running on in a dead process.
        raise trio.Cancelled._create(source="deadline")


async def sleep(seconds: float) -> None:
    """``trio.sleep(seconds)``, without a cancel scope (see ``sleep_until``)."""
    if seconds <= 0:
        await trio.sleep(seconds)
        return
    await sleep_until(trio.current_time() + seconds)
