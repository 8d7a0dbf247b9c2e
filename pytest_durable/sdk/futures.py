"""Handles on spawned children: ``DurableFuture`` for local ones, ``RemoteFuture`` for rpc ones."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, TypeVar

import trio

from ..core.errors import JoinError, UsageError
from ..core.records import PromiseRecord
from .frame import Frame, Spawned
from .running import current_frame
from .settlement import Suspended

T = TypeVar("T")

def _check_owner(kind: str, id: str, owner: Frame) -> None:
    here = current_frame.get()
    if here is not owner:
        where = f"workflow {here.id}" if here is not None else "code outside any workflow"
        raise UsageError(
            f"{kind} {id} belongs to workflow {owner.id} but is awaited by {where}; await a future "
            "only inside the workflow that spawned it, and pass values (not futures) between workflows"
        )


class DurableFuture(Generic[T]):
    """A local child running on its own trio task; ``await`` gives its value or raises its error."""

    def __init__(self, id: str, owner: Frame, spawned: Spawned) -> None:
        self.id = id
        self._owner = owner
        self._spawned = spawned

    @property
    def owner(self) -> Frame:
        """The workflow run that spawned this child; only it may await or select it."""
        return self._owner

    @property
    def done(self) -> bool:
        """True once the child settled, suspended or was dropped."""
        return self._spawned.done.is_set()

    def settled_record(self) -> PromiseRecord | None:
        """The child's settled record once its task ended with one (None while it runs or once it
        suspended); ``JoinError`` if it was dropped (``abort``), as awaiting it would raise."""
        spawned = self._spawned
        if not spawned.done.is_set() or spawned.suspended:
            return None
        if spawned.record is None:
            raise JoinError(self.id)
        return spawned.record

    async def wait_done(self) -> None:
        """Until the child's task ended (settled, suspended or dropped)."""
        await self._spawned.done.wait()

    def abort(self) -> None:
        """Stop the child's local task without settling its promise: awaiting then raises
        ``JoinError``, and the promise stays pending, to run again on the next execution."""
        self._spawned.scope.cancel()

    def settled_as(self, record: PromiseRecord) -> None:
        """Its task was stopped and its promise settled by ``ctx.cancel``: awaiting it reads ``record``."""
        self._spawned.finish(record)

    def __await__(self) -> Generator[Any, None, T]:
        return self._wait().__await__()

    async def _wait(self) -> T:
        _check_owner("DurableFuture", self.id, self._owner)
        try:
            await self._spawned.done.wait()
        except trio.Cancelled as exc:
            self._owner.note_signal(exc)
            raise
        if self._spawned.suspended:
            signal = Suspended()
            self._owner.note_signal(signal)
            raise signal
        if self._spawned.record is None:
            raise JoinError(self.id)
        return self._owner.outcome(self._spawned.record)  # type: ignore[return-value]

    def __repr__(self) -> str:
        record = self._spawned.record
        state = record.state.value if record else ("done" if self.done else "running")
        return f"<DurableFuture {self.id} {state}>"


class RemoteFuture(Generic[T]):
    """A child settled elsewhere (an rpc child, a timer, an external promise).

    Awaiting it while it is pending suspends the workflow: the worker gives the task back and the
    store resumes it when the child settles.
    """

    def __init__(self, id: str, owner: Frame, record: PromiseRecord) -> None:
        self.id = id
        self._owner = owner
        self._record = record

    @property
    def owner(self) -> Frame:
        """The workflow run that made this promise; only it may await or select it."""
        return self._owner

    def settled_record(self) -> PromiseRecord | None:
        """The promise's record as last read, if it was settled then."""
        return self._record if self._record.settled else None

    async def refresh(self, wait: float = 0.0) -> PromiseRecord | None:
        """Read the promise again (with ``wait`` > 0, a long poll that returns once it settles or after
        ``wait`` seconds); its record if settled."""
        execution = self._owner.execution
        self._record = await execution.store.await_settled(self.id, wait=wait)
        execution.branch[self.id] = self._record
        return self.settled_record()

    def settled_as(self, record: PromiseRecord) -> None:
        """Its promise was settled by ``ctx.cancel``: awaiting it reads ``record``."""
        self._record = record
        self._owner.execution.branch[self.id] = record

    def __await__(self) -> Generator[Any, None, T]:
        return self._wait().__await__()

    async def _wait(self) -> T:
        _check_owner("RemoteFuture", self.id, self._owner)
        if not self._record.settled:
            try:
                self._record = await self._owner.execution.refresh(self.id)
            except trio.Cancelled as exc:
                self._owner.note_signal(exc)
                raise
        if self._record.settled:
            return self._owner.outcome(self._record)  # type: ignore[return-value]
        self._owner.execution.awaiting[self.id] = None
        signal = Suspended()
        self._owner.note_signal(signal)
        raise signal

    def __repr__(self) -> str:
        return f"<RemoteFuture {self.id} {self._record.state.value}>"
