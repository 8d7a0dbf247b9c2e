"""``SlowSteps``: a trio instrument that notices a step of a body that ran long without an await.

A body that blocks (a CPU loop, a synchronous ``time.sleep``) stalls every other task of its worker, its
heartbeats included. The instrument reads the real clock around each task step and hands a step longer
than ``slow`` seconds to ``on_slow`` with the durable function it ran: the body that began during the
step (a leaf awaited by ``ctx.run`` begins and ends inside its workflow's step), else the body the task
was running. A live worker logs it (``live.process``); a simulated world says it as a warning after the
world (``sim.kernel.blocking``): a real-time measure never changes what the world does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import trio

from .dependencies import Began, current_function

#: The real clock, taken when this module loads (a world puts virtual time behind ``time`` for user code).
_wall = time.perf_counter


class SlowSteps(trio.abc.Instrument):
    """Hands ``on_slow(function, seconds)`` each step of a body that ran more than ``slow`` seconds."""

    def __init__(self, slow: float, on_slow: Callable[[str, float], None]) -> None:
        self.slow = slow
        self.on_slow = on_slow
        self._began = -1.0  # no step under way (an instrument added inside a step sees only its end)
        self._bodies = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._bodies = Began.count
        self._began = _wall()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        if self._began < 0:
            return
        took, self._began = _wall() - self._began, -1.0
        if took > self.slow:
            function = Began.function if Began.count != self._bodies else current_function(task.context)
            if function is not None:
                self.on_slow(function, took)


def slow_step_message(function: str, seconds: float, slow: float) -> str:
    """What is said of a step of ``function`` that ran ``seconds`` (over ``slow``)."""
    return (f"durable: one step of {function} ran {seconds:.2f} s of real time without an await (over {slow:g} s), "
            "which blocks its worker's event loop; move the work to a thread (`await trio.to_thread.run_sync(...)`) "
            "or await between its parts")
