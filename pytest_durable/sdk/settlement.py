"""How a body's end and a promise's settlement map onto each other: the ``Settlement`` a body's end is
written as, ``result_of`` that turns a settled record back into its value (or raises its error), and
``Suspended``, the signal that a workflow has no settlement yet."""

from __future__ import annotations

from ..core.codec import decode, decode_error, read_error
from ..core.errors import Canceled, TimedOut
from ..core.records import PromiseRecord, PromiseState
from ..core.rejections import rejection

#: How a body ended, as its promise is settled with: the state and the encoded value or error.
Settlement = tuple[PromiseState, str]


class Suspended(BaseException):
    """Raised inside a workflow that awaits a pending remote promise: unwinds it so the task can
    suspend. A BaseException so user code's ``except Exception`` lets it through."""


def result_of(record: PromiseRecord) -> object:
    """The value of a settled promise, or the error it was settled with, raised."""
    state = record.state
    if state is PromiseState.RESOLVED:
        return None if record.value is None else decode(record.value)
    if state is PromiseState.REJECTED:  # as the original's class too, where it can be rebuilt here
        raise rejection(record.id, read_error(record.value))
    type_name, message = decode_error(record.value)
    if state is PromiseState.REJECTED_CANCELED:
        raise Canceled(record.id) if record.value is None else Canceled(record.id, type_name, message)
    if state is PromiseState.REJECTED_TIMEDOUT:
        raise TimedOut(record.id)
    raise AssertionError(f"result_of: promise {record.id} is still pending")
