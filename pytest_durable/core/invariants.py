"""The seven task invariants of the store contract (docs/architecture.md), as a pure function over a store's records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .records import PromiseRecord, TaskRecord, TaskState


def task_invariant_violations(
    tasks: Iterable[TaskRecord], promises: Mapping[str, PromiseRecord]
) -> list[str]:
    """Each broken invariant as one line naming the task; an empty list when all seven hold."""
    return [line for _, line in task_invariant_breaks(tasks, promises)]


def task_invariant_breaks(
    tasks: Iterable[TaskRecord], promises: Mapping[str, PromiseRecord]
) -> list[tuple[str, str]]:
    """Each broken invariant as (task id, line)."""
    out: list[tuple[str, str]] = []
    for t in tasks:
        lines: list[str] = []
        if t.promise_id not in promises:
            lines.append(f"(1) task {t.id} has no promise {t.promise_id}")
        if t.state is TaskState.PENDING and t.retry_at is None:
            lines.append(f"(2) pending task {t.id} has no retry time")
        if t.state is TaskState.ACQUIRED and (t.lease_owner is None or t.lease_expires_at is None):
            lines.append(f"(3) acquired task {t.id} has no lease")
        if t.state is TaskState.SUSPENDED:
            if not t.callbacks:
                lines.append(f"(4) suspended task {t.id} has no callback")
            consumed = [p for p in t.callbacks if p in promises and promises[p].settled]
            if consumed:
                lines.append(f"(5) suspended task {t.id} has consumed callbacks on {', '.join(consumed)}")
            if t.retry_at is not None or t.lease_expires_at is not None:
                lines.append(f"(6) suspended task {t.id} has a timeout")
        if t.state is TaskState.FULFILLED and (t.retry_at is not None or t.lease_expires_at is not None):
            lines.append(f"(7) fulfilled task {t.id} has a timeout")
        out.extend((t.id, line) for line in lines)
    return out
