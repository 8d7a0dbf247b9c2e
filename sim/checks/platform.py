"""Platform errors inside a world, each a violation of its own kind that names the promise at fault.

A real worker that meets a nondeterministic replay, a function it does not know, a ``BaseException`` a
body raised, a dependency it was not given or a body that caught the platform's own signal cannot
finish the task: the task stalls. In a world that
would be a silent liveness failure, so each is reported where it happens, naming the promise, the call
and the process (``PlatformErrors``). A body the watchdog stopped (``stuck_body``) and an error that
escaped the world itself (``world_raised``) end the world, with a violation that says so.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_durable.core.codec import describe_call
from pytest_durable.core.errors import (
    MissingDependency,
    NondeterminismError,
    RegistrationError,
    SignalSwallowed,
    UserBaseException,
)
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.sdk import ErrorHook

from ..kernel.watchdog import StuckBody
from ..trace import Trace
from .violations import Findings, Violation


def error_kind(error: BaseException) -> str:
    """The check a platform error inside a world breaks (``error`` for one of no kind of its own)."""
    if isinstance(error, NondeterminismError):
        return "nondeterminism"
    if isinstance(error, RegistrationError):
        return "unregistered"
    if isinstance(error, UserBaseException):
        return "user-base-exception"
    if isinstance(error, MissingDependency):
        return "missing-dependency"
    if isinstance(error, SignalSwallowed):
        return "swallowed-signal"
    return "error"


class PlatformErrors:
    """The error hook of every simulated worker: an event each time a task fails with an error no retry
    can fix, and a violation of its kind naming the promise (once per kind and promise)."""

    def __init__(self, store: InspectableStore, trace: Trace, findings: Findings, now: Callable[[], float]) -> None:
        self.store = store
        self.trace = trace
        self.findings = findings
        self.now = now
        self._reported: set[tuple[str, str]] = set()

    def hook(self, process: str, incarnation: int) -> ErrorHook:
        """The hook for the worker of one process incarnation."""
        def on_error(task_id: str, promise_id: str, error: BaseException) -> None:
            check = error_kind(error)
            message = f"{self._call(promise_id)} (task {task_id} on {process}#{incarnation}): {error}{_hint(error)}"
            event = self.trace.add(self.now(), process, incarnation, check, promise_id, str(error))
            if (check, promise_id) not in self._reported:
                self._reported.add((check, promise_id))
                self.findings.report(check, message, promise_id, (event.seq,))

        return on_error

    def _call(self, promise_id: str) -> str:
        record = self.store.promise(promise_id)
        return f"{promise_id} {describe_call(record.param)}" if record is not None else promise_id


def _hint(error: BaseException) -> str:
    """What to do about an error that only a world's setup can cause."""
    if isinstance(error, RegistrationError):
        return "; in a world, list the function in Scenario(functions=...)"
    if isinstance(error, MissingDependency):
        return (f"; in a world, pass Scenario(dependencies={{{error.name!r}: factory}}) or "
                f"durable_sim.run(..., dependencies={{{error.name!r}: factory}})")
    return ""


def stuck_body(stuck: StuckBody, store: InspectableStore, trace: Trace, now: float) -> Violation:
    """A body stopped by the watchdog: the world ends there, with a violation naming the promise."""
    id = stuck.promise or ""
    record = store.promise(id) if id else None
    call = f" {describe_call(record.param)}" if record is not None else ""
    event = trace.add(now, "world", 0, "stuck-body", id, str(stuck))
    return Violation(
        "stuck-body", f"{id}{call}: {stuck}: an endless loop or a blocking call; a body must await (ctx calls, "
        "trio.sleep) to let the world go on. The world was stopped there (SimConfig.step_limit)", id, (event.seq,))


def world_raised(error: BaseException, trace: Trace, now: float) -> Violation:
    """An error that escaped the SDK and the world: the simulator or a store broke, not the workflow."""
    trace.add(now, "world", 0, "error", "", f"{type(error).__name__}: {error}")
    return Violation("error", f"the world raised {type(error).__name__}: {error}")
