"""What a worker reports of the tasks it runs, for logs and metrics: frozen records handed to its
``on_task`` hook (``Worker``), in the order they happen. The hook runs on the worker's trio task, so it
must be quick and must not raise; nothing in the worker depends on it."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..core.records import PromiseRecord, TaskRecord
from ..core.store import TAG_PARENT


@attrs.frozen
class Acquired:
    """The worker acquired ``task`` (the record the acquire returned). ``taken_from`` is the worker whose
    lease on it ran out just before: this acquire took the task over; ``None`` for a first acquire or one
    after a release, suspend or resume. ``reclaimed``: the worker took it back on start from its own
    previous run under the same id (``Store.reclaim_tasks``), with no lease wait."""

    task: TaskRecord
    reclaimed: bool = False

    @property
    def taken_from(self) -> str | None:
        return self.task.lapsed_owner


@attrs.frozen
class Started:
    """An attempt at ``task`` read its promise ``promise`` and starts ``function``'s body from the top
    (a replay of what is recorded, then new work). ``root`` says whether the promise is a root (no parent):
    the others are rpc and detached children, each a task of its own."""

    task: TaskRecord
    promise: PromiseRecord
    function: str

    @property
    def root(self) -> bool:
        return TAG_PARENT not in self.promise.tags


@attrs.frozen
class Ended:
    """An attempt at ``task`` ended without an error: ``promise`` is its settled promise (settled by this
    attempt when ``settled_here``, else found settled, e.g. timed out), or ``None`` when the attempt
    suspended to wait for a remote promise (the store resumes the task later)."""

    task: TaskRecord
    promise: PromiseRecord | None
    settled_here: bool = False


@attrs.frozen
class Failed:
    """An attempt at ``task`` stopped on ``error``. ``fatal``: no retry can fix it (nondeterminism, an
    unknown function, a missing dependency, a ``BaseException`` from a body at ``culprit``); the task is
    released with the error recorded in the store. Otherwise a platform error (the store unreachable); the
    task is released for another attempt, unless ``released`` is false: its lease was lost (fenced)."""

    task: TaskRecord
    error: BaseException
    culprit: str
    fatal: bool
    released: bool


#: One of the records above.
TaskEvent = Acquired | Started | Ended | Failed

#: Called with each ``TaskEvent`` of a worker (``Worker(on_task=...)``).
TaskHook = Callable[[TaskEvent], None]

__all__ = ["Acquired", "Ended", "Failed", "Started", "TaskEvent", "TaskHook"]
