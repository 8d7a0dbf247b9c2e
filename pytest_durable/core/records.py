"""Frozen records for promises and tasks: the data the store holds (docs/architecture.md, "The store contract")."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs


class PromiseState(enum.Enum):
    """The life of a durable promise: pending, then settled exactly once."""

    PENDING = "pending"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    REJECTED_CANCELED = "rejected_canceled"
    REJECTED_TIMEDOUT = "rejected_timedout"

    @property
    def settled(self) -> bool:
        return self is not PromiseState.PENDING


def _frozen_tags(tags: Mapping[str, str]) -> Mapping[str, str]:
    return dict(tags)


@attrs.frozen
class PromiseRecord:
    """One durable promise; ``param`` and ``value`` are encoded JSON text (see ``codec``)."""

    id: str
    state: PromiseState
    param: str
    value: str | None
    timeout_at: float
    tags: Mapping[str, str] = attrs.field(converter=_frozen_tags, factory=dict)
    created_on: float = 0.0
    settled_on: float | None = None

    @property
    def settled(self) -> bool:
        return self.state is not PromiseState.PENDING  # ``state.settled``, read a dozen times per request


class TaskState(enum.Enum):
    """The life of a task: pending → acquired → (suspended → pending …) → fulfilled."""

    PENDING = "pending"
    ACQUIRED = "acquired"
    SUSPENDED = "suspended"
    FULFILLED = "fulfilled"


@attrs.frozen
class TaskRecord:
    """Work for a worker group: run the function of ``promise_id``.

    ``version`` grows on every acquire; a write carrying an older version is refused (fencing).
    ``retry_at`` is set while pending, ``lease_owner``/``lease_expires_at`` while acquired,
    ``callbacks`` (the awaited promise ids) while suspended. ``error`` is the last error no worker
    could get past (nondeterminism, an unknown function, a missing dependency), as a worker released
    it with, and ``failures`` how many times that happened: any process reading the store sees it.
    ``lapsed_owner`` is the worker whose lease ran out the last time the task left ``acquired`` (``None``
    when it left by a release, suspend or fulfill, or was never held): an acquire keeps it, so an acquired
    task with it set was taken over from that worker, which is how a worker knows it took one over.
    """

    id: str
    promise_id: str
    target: str
    state: TaskState
    version: int = 0
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    retry_at: float | None = None
    callbacks: tuple[str, ...] = ()
    attempts: int = 0
    error: str | None = None
    failures: int = 0
    lapsed_owner: str | None = None


@attrs.frozen
class Fence:
    """Proof that a write comes from the current holder of a task's lease."""

    task_id: str
    version: int


class SuspendResult(enum.Enum):
    """The answer to a suspend: parked until a callback fires, or redirected to run again now."""

    SUSPENDED = "suspended"
    REDIRECT = "redirect"
