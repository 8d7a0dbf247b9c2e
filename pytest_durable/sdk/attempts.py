"""A leaf's failed attempts, recorded durably so that its retries count across crashes.

Each failed attempt that is retried becomes a child promise of the leaf, ``{leaf}.0``, ``{leaf}.1``, …,
calling ``durable.attempt`` and rejected with the attempt's error (see ``engine.run_leaf``).
"""

from __future__ import annotations

from ..core.codec import decode_call, describe_call, encode_call, encode_error
from ..core.errors import NondeterminismError
from ..core.ids import child_id
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_ORIGIN, TAG_PARENT, TAG_SCOPE
from .execution import Execution

#: The function name of the record of a failed leaf attempt (see ``engine.run_leaf``).
ATTEMPT = "durable.attempt"


class AttemptInterrupted(Exception):
    """The error a recorded leaf attempt is settled with when its process stopped before the
    attempt's own error was written."""


def recorded_attempts(ex: Execution, leaf: str) -> list[PromiseRecord]:
    """The failed attempts of ``leaf`` recorded in the branch: children ``{leaf}.0``, ``{leaf}.1``, …"""
    out: list[PromiseRecord] = []
    while True:
        record = ex.branch.get(child_id(leaf, len(out)))
        if record is None or record.tags.get(TAG_PARENT) != leaf or decode_call(record.param).func != ATTEMPT:
            return out
        out.append(record)


async def record_attempt(ex: Execution, leaf: PromiseRecord, n: int, error: BaseException) -> PromiseRecord:
    """Write failed attempt ``n`` (from 0) of ``leaf``: a child promise rejected with its error."""
    id = child_id(leaf.id, n)
    param = encode_call(ATTEMPT, (n + 1,), {})
    tags = {TAG_PARENT: leaf.id, TAG_ORIGIN: ex.origin, TAG_SCOPE: "local"}
    record = await ex.store.create_promise(id, param, leaf.timeout_at, tags, fence=ex.fence)
    if record.param != param:
        raise NondeterminismError(id, describe_call(record.param), describe_call(param))
    if not record.settled:
        record = await ex.store.settle_promise(id, PromiseState.REJECTED, encode_error(error), fence=ex.fence)
    ex.branch[id] = record
    return record


async def settle_interrupted(ex: Execution, leaf: str, last: PromiseRecord, failures: int) -> PromiseRecord:
    """Reject recorded attempt ``last`` (the ``failures``-th of ``leaf``), left pending by a process that
    stopped before writing its error, with an ``AttemptInterrupted``."""
    lost = AttemptInterrupted(f"the process stopped before attempt {failures} of {leaf} recorded its error")
    last = await ex.store.settle_promise(last.id, PromiseState.REJECTED, encode_error(lost), fence=ex.fence)
    ex.branch[last.id] = last
    return last
