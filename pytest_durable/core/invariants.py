"""The seven task invariants of DESIGN §3, as a pure function over a store's records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .records import PromiseRecord, TaskRecord, TaskState


def task_invariant_violations(
    tasks: Iterable[TaskRecord], promises: Mapping[str, PromiseRecord]
) -> list[str]:
    """Each broken invariant as one line naming the task; an empty list when all seven hold."""
    out: list[str] = []
    for t in tasks:
        if t.promise_id not in promises:
            out.append(f"(1) task {t.id} has no promise {t.promise_id}")
        if t.state is TaskState.PENDING and t.retry_at is None:
            out.append(f"(2) pending task {t.id} has no retry time")
        if t.state is TaskState.ACQUIRED and (t.lease_owner is None or t.lease_expires_at is None):
            out.append(f"(3) acquired task {t.id} has no lease")
        if t.state is TaskState.SUSPENDED:
            if not t.callbacks:
                out.append(f"(4) suspended task {t.id} has no callback")
            consumed = [p for p in t.callbacks if p in promises and promises[p].settled]
            if consumed:
                out.append(f"(5) suspended task {t.id} has consumed callbacks on {', '.join(consumed)}")
            if t.retry_at is not None or t.lease_expires_at is not None:
                out.append(f"(6) suspended task {t.id} has a timeout")
        if t.state is TaskState.FULFILLED and (t.retry_at is not None or t.lease_expires_at is not None):
            out.append(f"(7) fulfilled task {t.id} has a timeout")
    return out
