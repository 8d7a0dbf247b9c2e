"""``cancel`` and ``retry`` of ``python -m pytest_durable``: stop a root and all under it, or run a root
that ended without a value again, keeping what it resolved.

    python -m pytest_durable cancel order-7     # order-7 canceled: 31 promises (the root, 28 children, ...)
    python -m pytest_durable retry order-7      # order-7~2 started: retries order-7 (rejected); kept 28 ...

``cancel`` settles the promise and every pending promise below it ``rejected_canceled``
(``sdk/cancellation.py``); a promise settled before is said on stderr with exit 1 (as ``resolve`` and
``reject`` say it), after what was still pending below it is canceled. ``retry`` starts a new root
``ID~n`` (``sdk/reruns.py``); a root still pending or resolved is refused in one line, exit 1. An
unknown id is exit 2, as for every command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.store import Store
from ..sdk.cancellation import cancel_branch
from ..sdk.reruns import RetryRefused, retry_root


class Client(Protocol):
    """What these commands need of the CLI's client: its store and clock."""

    store: Store
    clock: Clock


def add_parsers(sub: Any) -> None:
    """The two commands' parsers, on the CLI's subparsers ``sub``."""
    c = sub.add_parser("cancel", help="cancel promise ID and everything under it (rejected_canceled)")
    c.add_argument("id")
    r = sub.add_parser("retry", help="run root ID (rejected, canceled, timed out) again as ID~n, keeping what resolved")
    r.add_argument("id")
    for parser in (c, r):
        parser.add_argument("--store", default=argparse.SUPPRESS, help="store URL (as before the command)")


async def cancel(args: argparse.Namespace, client: Client, url: str) -> int:
    report = await cancel_branch(client.store, args.id)
    print(report.line())
    if report.was_settled:
        print(f"error: cancel {args.id}: it was already settled ({report.record.state.value}); it keeps its outcome",
              file=sys.stderr)
        return 1
    return 0


async def retry(args: argparse.Namespace, client: Client, url: str) -> int:
    try:
        report = await retry_root(client.store, args.id, client.clock)
    except RetryRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.line())
    return 0


#: The commands, as ``cli._COMMANDS`` takes them.
COMMANDS = {"cancel": cancel, "retry": retry}


__all__ = ["COMMANDS", "add_parsers"]
