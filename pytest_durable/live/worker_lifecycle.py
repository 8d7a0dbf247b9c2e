"""The ``worker`` command's options for its life: a stable identity, how many tasks it runs at once, and
the grace a SIGTERM gives (``--id``, ``--concurrency``, ``--grace``); checked here into one-line errors."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.errors import UsageError
from .process import DEFAULT_GRACE, default_concurrency


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, on the ``worker`` command's parser."""
    parser.add_argument(
        "--id", default=None, metavar="NAME",
        help="a stable worker identity (e.g. HOST:1): on start it takes back at once the tasks its previous "
             "run held, instead of waiting out their leases; give each live worker its own "
             "(default: a new id per start, host:pid:token)")
    parser.add_argument(
        "--concurrency", default=None, metavar="N",
        help=f"the most tasks it runs at once; it takes no more while full, so other workers take their "
             f"share (default: 4 per CPU, here {default_concurrency()})")
    parser.add_argument(
        "--grace", default=None, metavar="SECONDS",
        help=f"on SIGTERM, how long running leaves get to record their results before the worker releases "
             f"every task it holds to other workers (default {DEFAULT_GRACE:g}); a second signal stops at once")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """``serve``'s keyword arguments for the options given, or a ``UsageError`` naming the bad one."""
    out: dict[str, Any] = {}
    if args.id is not None:
        if not args.id or any(c.isspace() for c in args.id):
            raise UsageError(f"worker --id: {args.id!r} is not a worker id; give a name without spaces, e.g. myhost:1")
        out["id"] = args.id
    if args.concurrency is not None:
        try:
            concurrency = int(args.concurrency)
        except ValueError:
            concurrency = 0
        if concurrency < 1:
            raise UsageError(f"worker --concurrency: {args.concurrency!r} is not a number of tasks; "
                             "give a whole number >= 1")
        out["concurrency"] = concurrency
    if args.grace is not None:
        try:
            grace = float(args.grace)
        except ValueError:
            grace = -1.0
        if not grace >= 0 or grace == float("inf"):
            raise UsageError(f"worker --grace: {args.grace!r} is not a number of seconds; give one >= 0, e.g. 5")
        out["grace"] = grace
    return out


__all__ = ["add_arguments", "options"]
