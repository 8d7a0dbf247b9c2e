"""Retrying a root that ended without a value: a new root, keeping what the old one resolved.

A settled promise never changes, so a retry of root ``order-7`` is a new root ``order-7~2`` (then
``order-7~3``, ...: the number after the last ``~`` counts the attempts; a retry of ``order-7~2`` is
``order-7~3``), tagged ``durable:retry-of`` with the root it retries, the same call and the same group.
Before it starts, each resolved descendant of the old root whose ancestors below the root did not
resolve (a resolved child, or a resolved grandchild of a child workflow that rejected) is recorded as
resolved under its new id (the old id with the root's prefix replaced), with its value, so the new
execution replays it and only what had not resolved runs again. A child with an id of its own
(``.options(id=...)``) has no new id: the new execution finds the old record, as any execution would.
"""

from __future__ import annotations

import attrs

from ..core.clock import Clock
from ..core.errors import NotFound, UsageError
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_ORIGIN, TAG_PARENT, TAG_TARGET, Store

#: On a root started by a retry: the id of the root it retries.
TAG_RETRY_OF = "durable:retry-of"


def attempt_base(id: str) -> tuple[str, int]:
    """``("order-7", 3)`` for ``order-7~3``, ``("order-7", 1)`` for ``order-7``."""
    head, tilde, tail = id.rpartition("~")
    if tilde and tail.isdigit() and head and int(tail) >= 2:
        return head, int(tail)
    return id, 1


def renamed(id: str, old_root: str, new_root: str) -> str | None:
    """``id`` under ``new_root`` if it derives from ``old_root`` (``order-7.3.1`` → ``order-7~2.3.1``)."""
    if id == old_root:
        return new_root
    if id.startswith(old_root + "."):
        return new_root + id[len(old_root):]
    return None


@attrs.frozen
class RetryReport:
    """One retry: the old root's record, the new root's id, and the promises kept (their new records)."""

    old: PromiseRecord
    new_id: str
    kept: tuple[PromiseRecord, ...]
    below: int

    def line(self) -> str:
        """``order-7~2 started: retries order-7 (rejected); kept 28 of 30 promises below it (resolved)``."""
        return (f"{self.new_id} started: retries {self.old.id} ({self.old.state.value}); kept {len(self.kept)} "
                f"of {self.below} promise{'' if self.below == 1 else 's'} below it (resolved), the rest runs again")


class RetryRefused(UsageError):
    """The root cannot be retried in the state it is in (pending, resolved, not a root)."""


async def next_attempt_id(store: Store, id: str) -> str:
    """The first ``{base}~n`` (n >= 2, after ``id``'s own number) that names no root yet."""
    base, n = attempt_base(id)
    while True:
        n += 1
        candidate = f"{base}~{n}"
        try:
            await store.get_promise(candidate)
        except NotFound:
            return candidate


def _kept(branch: list[PromiseRecord], root: str) -> list[PromiseRecord]:
    """The resolved descendants of ``root`` none of whose ancestors below ``root`` resolved."""
    by_id = {r.id: r for r in branch}
    out = []
    for record in branch[1:]:
        if record.state is not PromiseState.RESOLVED:
            continue
        parent = record.tags.get(TAG_PARENT)
        covered = False
        while parent is not None and parent != root and parent in by_id:
            if by_id[parent].state is PromiseState.RESOLVED:
                covered = True
                break
            parent = by_id[parent].tags.get(TAG_PARENT)
        if not covered:
            out.append(record)
    return out


async def retry_root(store: Store, id: str, clock: Clock, *, where: str = "retry") -> RetryReport:
    """Start a new attempt of root ``id`` (rejected, canceled or timed out), keeping its resolved work."""
    old = await store.get_promise(id)
    if TAG_PARENT in old.tags:
        raise RetryRefused(f"{where} {id}: it is a child of {old.tags[TAG_PARENT]}, not a root; retry the root")
    if old.state is PromiseState.PENDING:
        raise RetryRefused(f"{where} {id}: it is still pending; cancel it first (cancel {id}) or wait for it")
    if old.state is PromiseState.RESOLVED:
        raise RetryRefused(f"{where} {id}: it resolved; there is nothing to retry")
    try:
        target = (await store.get_task(id)).target
    except NotFound:
        target = old.tags.get(TAG_TARGET, "default")
    new_id = await next_attempt_id(store, id)
    branch = await store.get_branch(id)
    timeout_at = clock.now() + max(old.timeout_at - old.created_on, 0.0)
    kept = []
    for record in _kept(branch, id):
        new = renamed(record.id, id, new_id)
        if new is None:  # an id of its own: the new execution finds this very record
            continue
        tags = dict(record.tags)
        for key in (TAG_PARENT, TAG_ORIGIN):
            if key in tags:
                tags[key] = renamed(tags[key], id, new_id) or tags[key]
        await store.create_promise(new, record.param, timeout_at, tags)
        kept.append(await store.settle_promise(new, PromiseState.RESOLVED, record.value))
    tags = {**{k: v for k, v in old.tags.items() if k != TAG_RETRY_OF}, TAG_ORIGIN: new_id, TAG_RETRY_OF: id}
    await store.create_promise(new_id, old.param, timeout_at, tags, target=target)
    return RetryReport(old, new_id, tuple(kept), len(branch) - 1)


__all__ = ["TAG_RETRY_OF", "RetryRefused", "RetryReport", "attempt_base", "next_attempt_id", "renamed", "retry_root"]
