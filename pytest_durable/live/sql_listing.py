"""A page of a SQL store's promises for ``ls``: roots (or every promise) in creation order, filtered, each with
its task's attempts and lease owner. An inspection outside the store contract, read in one query.

Roots are found over the ``promises_by_parent`` index (``parent IS NULL``, in ``seq`` order), so a page
costs the roots it passes over, not a scan of every promise; every promise (``--all``) is read in primary
key order. The runtime's own promises (the sweeper, presence, schedules: ``live/bookkeeping.py``) are never listed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]  # public, undeclared in typeshed
from typing import Any

import attrs

from ..core.errors import UsageError
from ..core.records import PromiseState
from .bookkeeping import PREFIX
from .sql_schema import Cursor


@attrs.frozen
class ListQuery:
    """Which promises a page holds: roots only unless ``everything``; of ``state``, of the function named
    ``function``, with ids starting with ``prefix`` (each ``None``: any); created after the promise
    ``after``; at most ``limit``."""

    everything: bool = False
    state: PromiseState | None = None
    function: str | None = None
    prefix: str | None = None
    after: str | None = None
    limit: int = 50


@attrs.frozen
class Listed:
    """One promise of a page: what ``ls`` shows of it. ``attempts`` and ``owner`` are its task's (how often a
    worker took it, who holds its lease now), ``None`` for a promise without a task."""

    id: str
    state: PromiseState
    function: str
    created_on: float
    settled_on: float | None
    attempts: int | None
    owner: str | None


#: How a param written by ``codec.encode_call`` starts (the function's name follows as a JSON string), and
#: how much of it a page reads: the name, not the arguments (which may be large).
_FUNC = '{"func":"'
_HEAD = 512


def list_page(execute: Callable[..., Cursor], query: ListQuery) -> tuple[list[Listed], bool]:
    """The page ``query`` asks for, and whether more promises follow it; inside the caller's transaction.
    ``after`` naming no promise is a ``UsageError``."""
    where = ["substr(p.id, 1, ?) <> ?"]  # the runtime's own promises (live.bookkeeping), never a user's
    params: list[Any] = [len(PREFIX), PREFIX]
    if not query.everything:
        where.insert(0, "p.parent IS NULL")
    if query.state is not None:
        where.append("p.state = ?")
        params.append(query.state.value)
    if query.function is not None:  # the param starts {"func":NAME, as codec.encode_call writes it
        head = '{"func":' + json.dumps(query.function, ensure_ascii=False) + ","
        where.append("substr(p.param, 1, ?) = ?")
        params += [len(head), head]
    if query.prefix is not None:
        where.append("substr(p.id, 1, ?) = ?")
        params += [len(query.prefix), query.prefix]
    if query.after is not None:
        row = execute("SELECT seq FROM promises WHERE id = ?", query.after).fetchone()
        if row is None:
            raise UsageError(f"ls --after {query.after}: no promise with that id; give the last id of the page "
                             "before, as its last line says")
        where.append("p.seq > ?")
        params.append(int(row[0]))
    rows = execute(
        f"SELECT p.id, p.state, substr(p.param, 1, {_HEAD}), p.created_on, p.settled_on, t.attempts, t.state, "
        "t.lease_owner "
        f"FROM promises p LEFT JOIN tasks t ON t.id = p.id WHERE {' AND '.join(where)} ORDER BY p.seq LIMIT ?",
        *params, query.limit + 1,
    ).fetchall()
    page = [_listed(row) for row in rows[: query.limit]]
    return page, len(rows) > query.limit


def _listed(row: Any) -> Listed:
    id, state, param, created_on, settled_on, attempts, task_state, owner = row
    function = "-"  # a promise made by hand (an approval) records no call
    if param.startswith(_FUNC):
        with contextlib.suppress(ValueError):  # a name cut short by the query's substr: not shown
            function = str(scanstring(param, len(_FUNC))[0])
    return Listed(id=id, state=PromiseState(state), function=function, created_on=float(created_on),
                  settled_on=None if settled_on is None else float(settled_on),
                  attempts=None if attempts is None else int(attempts),
                  owner=owner if task_state == "acquired" else None)


__all__ = ["ListQuery", "Listed", "list_page"]
