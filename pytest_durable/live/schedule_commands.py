"""``python -m pytest_durable schedule create|ls|delete``: the operator's face of durable schedules.

    python -m pytest_durable schedule create nightly '0 3 * * *' myapp.jobs:report '["daily"]'
    python -m pytest_durable schedule create heartbeat '@every 10s' myapp.jobs:ping
    python -m pytest_durable schedule ls
    python -m pytest_durable schedule delete nightly

The schedules themselves are promises (``live.schedules``); the workers fire them (``live.scheduler``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.errors import UsageError
from ..core.store import Store
from .argument_types import check_argument_types
from .bookkeeping import is_bookkeeping
from .cadence import instant_text
from .call_args import parse_args_json
from .loading import function_named
from .schedules import (
    CATCH_UP,
    Schedule,
    create_schedule,
    delete_schedule,
    last_fired,
    list_schedules,
    new_schedule,
    tick_id,
)


class Client(Protocol):
    """What these commands need of the CLI's client: a store and the clock it stamps time with."""

    store: Store
    clock: Clock


def add_parser(sub: Any) -> None:
    """``schedule`` and its subcommands, each taking ``--store`` after it too."""
    schedule = sub.add_parser("schedule", help="start a root per tick of a cron expression or interval")
    verbs = schedule.add_subparsers(dest="verb", required=True, metavar="{create,ls,delete}")
    c = verbs.add_parser("create", help="start MODULE:FUNCTION(ARGS) as root ID@INSTANT at every tick of CRON")
    c.add_argument("id")
    c.add_argument("cron", metavar="CRON",
                   help="5 fields, 6 with seconds first, or '@every 30s' (UTC; ticks at multiples of it)")
    c.add_argument("target", metavar="MODULE:FUNCTION")
    c.add_argument("args", nargs="?", default="[]", metavar="ARGS-JSON")
    c.add_argument("--group", default="default", help="the worker group its roots run on (default 'default')")
    c.add_argument("--catch-up", type=float, default=CATCH_UP, metavar="SECONDS",
                   help=f"a tick missed for longer is skipped (default {CATCH_UP:g}; at most 1000 ticks)")
    c.add_argument("--timeout", type=float, default=86_400.0, metavar="SECONDS",
                   help="each root's deadline from its start (default 86400)")
    verbs.add_parser("ls", help="every schedule, its last tick started and its next")
    d = verbs.add_parser("delete", help="no tick of schedule ID starts any more (its roots stay)")
    d.add_argument("id")
    for verb in verbs.choices.values():
        verb.add_argument("--store", default=argparse.SUPPRESS, help="store URL (as before the command)")


async def run(args: argparse.Namespace, client: Client, url: str) -> int:
    """Run ``schedule VERB``; an exit status as ``cli.main`` returns it."""
    if args.verb == "create":
        return await _create(args, client, url)
    if args.verb == "delete":
        return await _delete(args, client)
    return await _ls(client)


async def _create(args: argparse.Namespace, client: Client, url: str) -> int:
    where = "schedule create"
    if not args.group or is_bookkeeping(args.group):
        raise UsageError(f"{where}: --group {args.group!r} is not a worker group; e.g. --group default")
    fn = function_named(args.target, where=where)
    positional, keywords = parse_args_json(args.args, where=where)
    fn.check_arguments(tuple(positional), keywords, where=where)
    check_argument_types(fn, positional, keywords, where=where)  # as run does: a wrong type fails every tick
    schedule = new_schedule(args.id, args.cron, fn, positional, keywords, args.args, group=args.group,
                            catch_up=args.catch_up, timeout=args.timeout, where=where)
    stored, new = await create_schedule(client.store, schedule, now=client.clock.now(), where=where)
    first = tick_id(stored.id, stored.cadence.after(max(stored.created_on, client.clock.now())))
    print(f"{stored.id} {'created' if new else 'exists'}: {_what(stored)}; next root {first} ({url})")
    return 0


async def _ls(client: Client) -> int:
    now = client.clock.now()
    for schedule in await list_schedules(client.store):
        if schedule.deleted:
            print(f"{schedule.id} deleted: {_what(schedule)}")
            continue
        last = await last_fired(client.store, schedule, now)
        started = tick_id(schedule.id, last) if last is not None else f"none in the last {schedule.catch_up:g}s"
        print(f"{schedule.id} active: {_what(schedule)}; last root {started}; "
              f"next tick {instant_text(schedule.cadence.after(now))}")
    return 0


async def _delete(args: argparse.Namespace, client: Client) -> int:
    schedule, deleted = await delete_schedule(client.store, args.id, where="schedule delete")
    if not deleted:
        print(f"error: schedule delete {args.id}: it was already deleted; nothing changed", file=sys.stderr)
        return 1
    print(f"{schedule.id} deleted: no tick starts any more; the roots it started stay")
    return 0


def _what(schedule: Schedule) -> str:
    return f"{schedule.cadence.text!r} {schedule.function} {schedule.args} on group {schedule.group!r}"


__all__ = ["add_parser", "run"]
