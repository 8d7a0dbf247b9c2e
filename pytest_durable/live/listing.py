"""``python -m pytest_durable ls``: the roots of a store a page at a time, one row each.

A row is a promise's id, state, function, created and settled times (UTC), how often a worker took its task
(attempts) and who holds its lease now (owner). Roots only unless ``--all``; ``--state``, ``--function``
and ``--prefix`` filter; ``--limit`` rows a page (default 50) and ``--after ID`` the page after ``ID``,
which the last line names. The query is the SQL stores' own (``SqlStore.listing``, ``live.sql_listing``).
"""

from __future__ import annotations

import argparse
import shlex
from datetime import UTC, datetime
from typing import Any, Protocol

from ..core.errors import UsageError
from ..core.records import PromiseState
from .sql_listing import Listed, ListQuery


class _Client(Protocol):
    """What ``ls`` needs of the CLI's client: its store."""

    @property
    def store(self) -> Any: ...

#: Rows a page shows unless ``--limit`` says otherwise.
DEFAULT_LIMIT = 50
#: The header of the table, one title per column.
COLUMNS = ("ID", "STATE", "FUNCTION", "CREATED (UTC)", "SETTLED (UTC)", "ATTEMPTS", "OWNER")


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows >= 1, e.g. --limit 100")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``ls`` subcommand on ``sub`` (the CLI's subparsers)."""
    ls: argparse.ArgumentParser = sub.add_parser("ls", help="list roots (--all: every promise), a page at a time")
    ls.add_argument("--all", action="store_true", dest="everything", help="children too, not only roots")
    ls.add_argument("--state", choices=[s.value for s in PromiseState], default=None)
    ls.add_argument("--function", metavar="NAME", default=None, help="only calls of the function NAME")
    ls.add_argument("--prefix", metavar="TEXT", default=None, help="only ids that start with TEXT")
    ls.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, metavar="N",
                    help=f"rows a page (default {DEFAULT_LIMIT})")
    ls.add_argument("--after", metavar="ID", default=None, help="the page after ID (the last line names it)")
    return ls


def _time(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _row(listed: Listed) -> tuple[str, ...]:
    return (listed.id, listed.state.value, listed.function, _time(listed.created_on), _time(listed.settled_on),
            "-" if listed.attempts is None else str(listed.attempts), listed.owner or "-")


def table(page: list[Listed]) -> list[str]:
    """The page as aligned lines under a header (nothing for an empty page)."""
    if not page:
        return []
    rows = [COLUMNS, *(_row(listed) for listed in page)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def last_line(args: argparse.Namespace, page: list[Listed], more: bool) -> str:
    """How many rows were shown, and the command for the next page when there is one."""
    noun = "promise" if args.everything else "root"
    count = f"{len(page)} {noun}{'' if len(page) == 1 else 's'}"
    if not more:
        return f"{count}; no more"
    options: list[tuple[str, str | None]] = [("--all", None)] if args.everything else []
    options += [(f"--{name}", getattr(args, name)) for name in ("state", "function", "prefix")
                if getattr(args, name) is not None]
    if args.limit != DEFAULT_LIMIT:
        options.append(("--limit", str(args.limit)))
    options.append(("--after", page[-1].id))
    words = [word for option, value in options for word in ((option,) if value is None else (option, value))]
    return f"{count}; next page: python -m pytest_durable ls {shlex.join(words)}"


async def ls(args: argparse.Namespace, client: _Client, url: str) -> int:
    """Print a page of the store's roots (or promises), then the line that says how to get the next one."""
    listing = getattr(client.store, "listing", None)
    if listing is None:
        raise UsageError(f"ls: the store at {url} cannot list its promises")
    query = ListQuery(everything=args.everything, state=None if args.state is None else PromiseState(args.state),
                      function=args.function, prefix=args.prefix, after=args.after, limit=args.limit)
    page, more = await listing(query)
    for line in table(page):
        print(line)
    print(last_line(args, page, more))
    return 0


__all__ = ["DEFAULT_LIMIT", "add_parser", "last_line", "ls", "table"]
