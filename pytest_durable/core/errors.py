"""The error hierarchy (docs/architecture.md, "The programming model").

Three families, kept apart on purpose:

* ``DurableError`` (an ``Exception``): what a workflow sees when a child did not give a value.
  User code may catch these; they are ordinary outcomes of durable calls.
* ``UsageError`` (an ``Exception``): the program is wrong (bad argument, unregistered function,
  misuse of a future). Raised at the call site, before anything is written to the store.
* ``PlatformError`` (a ``BaseException``): the platform itself failed (store unreachable, lease lost,
  simulated crash, nondeterminism). User code's ``except Exception`` cannot swallow these; the
  executor releases the task for a retry instead of rejecting the promise, so nothing is lost.
"""

from __future__ import annotations


class DurableError(Exception):
    """Base of the errors a workflow receives from its children."""


class Rejected(DurableError):
    """A child promise was rejected; carries the original error's type name and message. Where the
    original class is importable, the instance raised is also one of that class (``core/rejections.py``),
    so ``except CardDeclined`` catches it as ``except Rejected`` does."""

    def __init__(self, id: str, type_name: str, message: str) -> None:
        self.id = id
        self.type_name = type_name
        self.message = message
        super().__init__(f"{id} was rejected: {type_name}: {message}")

    def __str__(self) -> str:
        # the rejection's text, also where an original class derived from defines its own __str__
        return f"{self.id} was rejected: {self.type_name}: {self.message}"


class Canceled(Rejected):
    """A child promise was settled ``rejected_canceled`` from outside."""

    def __init__(self, id: str, type_name: str = "Canceled", message: str = "canceled") -> None:
        super().__init__(id, type_name, message)


class TimedOut(Rejected):
    """A child promise passed its deadline before it settled (``rejected_timedout``)."""

    def __init__(self, id: str, type_name: str = "TimedOut", message: str = "timed out") -> None:
        super().__init__(id, type_name, message)


class JoinError(DurableError):
    """A spawned child's task ended without settling its promise (it was dropped)."""

    def __init__(self, id: str) -> None:
        self.id = id
        super().__init__(f"task {id} was dropped")


class UsageError(Exception):
    """The program uses the API wrongly; the message says what to do instead."""


class EncodingError(UsageError, TypeError):
    """A value cannot be written to the store; names the function and argument at fault."""


class RegistrationError(UsageError):
    """A function name is registered twice, or a function is used without being registered."""


class PlatformError(BaseException):
    """Base of errors of the platform itself; a BaseException so user code cannot swallow it."""


class StoreError(PlatformError):
    """The store refused or could not answer a request."""


class NotFound(StoreError):
    """No promise (or task) with this id exists."""

    def __init__(self, kind: str, id: str) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"no {kind} with id {id!r}")


class Fenced(StoreError):
    """A write carried a stale task version: the writer's lease is gone (it is a zombie)."""

    def __init__(self, task_id: str, version: int, detail: str) -> None:
        self.task_id = task_id
        self.version = version
        super().__init__(f"task {task_id!r} version {version} is fenced out: {detail}")


class TaskStateError(StoreError):
    """A task operation does not fit the task's current state (e.g. acquiring a fulfilled task)."""


class StoreUnavailable(StoreError):
    """The store could not be reached; the request may or may not have been applied."""


class NondeterminismError(PlatformError):
    """A replay asked for a recorded child with a different call: the workflow code changed or
    reads something nondeterministic. Retrying cannot fix it, and rejecting would lose work, so
    the task is released and the error surfaces to whoever runs the worker."""

    def __init__(self, id: str, recorded: str, new: str, workflow: str = "") -> None:
        self.id = id
        self.recorded = recorded
        self.new = new
        #: The workflow whose replay diverged (the parent of ``id``), when known.
        self.workflow = workflow
        super().__init__(
            f"nondeterminism at child {id}: the store recorded {recorded} but the replay called "
            f"{new}. A workflow must make the same child calls, in the same order, on every run; "
            "move anything nondeterministic into ctx.run/ctx.random/ctx.now"
        )


class MissingDependency(PlatformError):
    """A body asked for a dependency its worker was not given. Retrying on the same worker cannot fix
    it and rejecting would record a configuration mistake as the function's outcome, so, like an
    unknown function, the task is released and the error reported, naming what to register."""

    def __init__(self, name: str, function: str, id: str) -> None:
        self.name = name
        self.function = function
        #: The promise whose body asked for it.
        self.id = id
        super().__init__(
            f"{function} (promise {id}) asked for dependency {name!r}, which this worker does not have; "
            f"register it with worker.set_dependency({name!r}, obj) before the worker runs"
        )


class TaskFailed(PlatformError):
    """A workflow's task was stopped by an error no worker could get past (nondeterminism, an unknown
    function, a missing dependency), as recorded in the store by the worker that met it: any process
    waiting on the workflow learns it, instead of waiting while workers hand the task around."""

    def __init__(self, id: str, error: str, failures: int) -> None:
        self.id = id
        self.error = error
        self.failures = failures
        super().__init__(f"task {id} stopped {failures} time(s); last: {error}")


class NonRetryable(Exception):
    """Raise (a subclass of) this in a leaf for an error no retry can fix: it rejects the leaf at
    once, whatever retries its policy has left."""


class AttemptTimedOut(TimeoutError):
    """An attempt of a leaf ran longer than its retry policy's ``attempt_timeout`` and was cancelled: a
    failed attempt like any other, retried by the policy; the last one's rejects the leaf (its parent can
    ``except AttemptTimedOut``). Not the leaf's own deadline, which rejects it ``TimedOut`` at once."""


class UserBaseException(PlatformError):
    """A body raised a ``BaseException`` that is not an ``Exception`` (``SystemExit``, ``GeneratorExit``,
    a ``KeyboardInterrupt`` of its own rather than the user's Ctrl-C, a class of its own). It is not an
    outcome a promise can be rejected with, and it must not stop the worker: like nondeterminism, the
    task is released and the error reported; ``error`` is the original."""

    def __init__(self, id: str, error: BaseException) -> None:
        self.id = id
        self.error = error
        super().__init__(
            f"the body of {id} raised {type(error).__name__}: {error}; a body may raise only Exception "
            "subclasses (a BaseException is not an outcome the promise can be rejected with)"
        )


class SignalSwallowed(PlatformError):
    """A workflow body caught one of the platform's own signals at one of its awaits and went on: the
    suspension that hands its task back while a child is pending, or the cancellation of a crash or of
    its deadline (``except BaseException:`` or a bare ``except:`` around a child). What it did next is no
    outcome of the workflow (under a real crash none of it would run at all), so, like nondeterminism,
    the task is released and the error reported, naming the promise."""

    def __init__(self, id: str, signal: str) -> None:
        self.id = id
        self.signal = signal
        super().__init__(
            f"the body of {id} caught the platform's {signal} signal at one of its awaits and went on (an "
            "`except BaseException:` or a bare `except:` around a child?); catch Exception instead, or re-raise "
            "what is not yours, so a suspended or crashed workflow stops there"
        )


class Interrupted(BaseException):
    """Stops a whole run at once, like ``KeyboardInterrupt``: no layer of the SDK catches, converts or
    reports it. The simulator raises one into a body that stopped yielding (its watchdog)."""
