"""``python -m pytest_durable``: run workers over a shared store and talk to it from any process.

    python -m pytest_durable worker myapp.workflows               # serve every @function of the module
    python -m pytest_durable run order-42 myapp.workflows:checkout '[{"id": "order-42"}]' --wait
    python -m pytest_durable get order-42                          # state and decoded value or error
    python -m pytest_durable tree order-42                         # the execution tree from the store
    python -m pytest_durable resolve approval-7 '"yes"'            # settle an external promise
    python -m pytest_durable ls --state pending
    python -m pytest_durable cancel order-42                       # the root and everything under it
    python -m pytest_durable retry order-42                        # again as order-42~2, keeping what resolved
    python -m pytest_durable check-deploy myapp.workflows            # replay the store's histories with this code
    python -m pytest_durable export --out histories/                 # one history file per root
    python -m pytest_durable check-patch fraud-check myapp.workflows  # may the patch's old path go?
    python -m pytest_durable schedule create nightly '0 3 * * *' myapp.jobs:report  # a root per tick

Every command takes ``--store URL`` (default ``$DURABLE_STORE``, else ``sqlite:///durable.db``). Errors
are one line on stderr: exit 2 for bad input, 1 for a workflow that failed (``get``/``run --wait``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence

import trio

from ..core.clock import Clock, WallClock
from ..core.codec import encode, encode_call, encode_error
from ..core.display import outcome_text
from ..core.errors import DurableError, NotFound, PlatformError, Rejected, UsageError
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_TARGET, Store
from ..core.tree import tree
from ..sdk import Worker, result_of
from ..sdk.worker import root_conflict
from . import cancel_commands, deploy_commands, listing, schedule_commands, worker_lifecycle, worker_log
from .argument_types import check_argument_types
from .call_args import parse_args_json
from .cli_parser import PROG, OneLineParser, group_name
from .loading import callable_named, function_named, functions_of
from .metrics import WorkerMetrics
from .postgres_store import redact
from .presence import waiting_notes
from .process import serve
from .timed_store import TimedStore
from .urls import open_store, store_url


def describe(record: PromiseRecord) -> str:
    """``order-42 resolved → "..."``: a promise's state and its decoded value or error, one line."""
    if record.state is PromiseState.PENDING:
        return f"{record.id} pending"
    if record.state is PromiseState.RESOLVED:  # as data: the value's classes need not import here
        return f"{record.id} {record.state.value} → {outcome_text(record)}"
    try:
        result_of(record)
    except Rejected as exc:
        return f"{record.id} {record.state.value}: {exc.type_name}: {exc.message}"
    raise AssertionError(f"describe: {record.id} is {record.state.value} but result_of raised nothing")


async def stopped_by(store: Store, record: PromiseRecord) -> str | None:
    """What stopped the task of a pending promise, as its worker recorded it in the store, if anything."""
    if TAG_TARGET not in record.tags:
        return None
    try:
        task = await store.get_task(record.id)
    except NotFound:
        return None
    if task.error is None:
        return None
    return f"its task stopped {task.failures} time(s), last: {task.error}"


class Client:
    """What the client commands need: a store and the clock it stamps time with."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def wait(self, id: str, poll: float = 30.0) -> PromiseRecord:
        """``id``'s record once it settles: one long poll of the store (``await_settled``) after another,
        each at most ``poll`` seconds; the store answers as soon as the promise settles."""
        while True:
            record = await self.store.await_settled(id, wait=poll)
            if record.settled:
                return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n")[0])  # a bad command line is one line
    parser.add_argument("--store", default=None, help="store URL (default $DURABLE_STORE, else sqlite:///durable.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="serve the @functions of MODULE... for tasks of a group")
    w.add_argument("modules", nargs="+", metavar="MODULE")
    w.add_argument("--group", default="default", type=group_name)
    w.add_argument("--ttl", type=float, default=30.0, help="lease in seconds (default 30)")
    w.add_argument("--poll", type=float, default=30.0,
                   help="the longest one long poll for due tasks waits, in seconds; a task that falls due "
                        "is taken at once, so this bounds only how long a missed change waits (default 30)")
    w.add_argument("--setup", metavar="MODULE:FUNCTION", default=None,
                   help="called with the Worker before it serves, e.g. to set_dependency(...) clients")
    worker_lifecycle.add_arguments(w)
    w.add_argument("--log-level", default="INFO", choices=worker_log.LEVELS, type=str.upper,
                   help="INFO: roots started and finished, failures, takeovers; DEBUG adds every task (default INFO)")
    w.add_argument("--log-format", default="text", choices=worker_log.FORMATS,
                   help="text lines, or one JSON object per line (default text)")
    w.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                   help="serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port)")
    w.add_argument("--metrics-host", default="0.0.0.0", metavar="HOST", help="address to serve metrics on")
    r = sub.add_parser("run", help="start workflow ID as MODULE:FUNCTION(ARGS)")
    r.add_argument("id")
    r.add_argument("target", metavar="MODULE:FUNCTION")
    r.add_argument("args", nargs="?", default="[]", metavar="ARGS-JSON")
    r.add_argument("--group", default="default", type=group_name)
    r.add_argument("--wait", action="store_true", help="wait for the outcome and print it")
    g = sub.add_parser("get", help="a promise's state and decoded value or error")
    g.add_argument("id")
    g.add_argument("--wait", action="store_true", help="wait until it settles")
    t = sub.add_parser("tree", help="the execution tree under ID")
    t.add_argument("id")
    settlers = []
    for name, what in (("resolve", "resolve promise ID with VALUE-JSON"), ("reject", "reject promise ID")):
        s = sub.add_parser(name, help=what)
        settlers.append(s)
        s.add_argument("id")
        s.add_argument("value", nargs="?", default="null", metavar="VALUE-JSON" if name == "resolve" else "MESSAGE")
    ls = listing.add_parser(sub)
    deploy_commands.add_parsers(sub)
    schedule_commands.add_parser(sub)
    cancel_commands.add_parsers(sub)
    for command in (w, r, g, t, *settlers, ls):  # --store after the command too (the deploy commands have theirs)
        command.add_argument("--store", default=argparse.SUPPRESS, help="store URL (as before the command)")
    args = parser.parse_args(argv)
    try:
        if args.command in deploy_commands.COMMANDS:  # outside trio: each replay is a trio run of its own
            return deploy_commands.COMMANDS[args.command](args)
        return trio.run(_command, args)
    except NotFound as exc:  # an id mistyped, or a store other than the one meant
        print(f"error: {args.command}: {_one_line(exc)} in {redact(store_url(args.store))}; `{PROG} ls --all` "
              "lists the ids it holds", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except PlatformError as exc:
        print(f"error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    """An error's text on one line: a driver's message may carry its own line breaks and tabs."""
    return " ".join(str(exc).split())


async def _command(args: argparse.Namespace) -> int:
    url = store_url(args.store)
    client = Client(open_store(url), WallClock())
    return await _COMMANDS[args.command](args, client, url)


async def _worker(args: argparse.Namespace, client: Client, url: str) -> int:
    fns = functions_of(args.modules, where="worker")
    setup = callable_named(args.setup, where="worker --setup") if args.setup else None
    worker_log.configure(args.log_level, args.log_format)
    store, metrics = client.store, None
    if args.metrics_port is not None:  # served before the worker starts, so a port in use stops it at once
        metrics = WorkerMetrics(args.group)
        store = TimedStore(client.store, metrics.observe_request)
        _, port = metrics.serve(args.metrics_port, args.metrics_host)

    def set_up(worker: Worker) -> None:
        if metrics is not None:
            metrics.bind(worker, getattr(getattr(client.store, "engine", None), "count_due", None))
            worker_log.WorkerLog(worker.id).say("metrics", f"durable worker {worker.id} serving metrics on "
                                                f"http://{args.metrics_host}:{port}/metrics", port=port)
        if setup is not None:
            setup(worker)

    await serve(store, fns, clock=client.clock, group=args.group, ttl=args.ttl, poll_interval=args.poll,
                say=None, setup=set_up, on_task=metrics, **worker_lifecycle.options(args))
    return 0


async def _run(args: argparse.Namespace, client: Client, url: str) -> int:
    fn = function_named(args.target, where="run")
    positional, keywords = parse_args_json(args.args, where="run")
    fn.check_arguments(tuple(positional), keywords, where="run")
    check_argument_types(fn, positional, keywords, where="run")
    param = encode_call(fn.name, positional, keywords, names=fn.param_names)
    try:
        existing = await client.store.get_promise(args.id)
    except NotFound:
        existing = None
    if existing is not None and existing.param != param:
        raise UsageError(root_conflict(args.id, existing.param, param, where="run"))
    worker = Worker(client.store, group=args.group, clock=client.clock)
    worker.register(fn)
    await worker.run(args.id, fn, *positional, **keywords)
    if existing is not None and not args.wait:
        print(f"{args.id} was started before: {describe(existing)}")
        return 0
    if not args.wait:
        print(f"{args.id} started: {fn.name} on group {args.group!r} ({url})")
        return 0
    record = await client.wait(args.id)
    print(describe(record))
    return 0 if record.state is PromiseState.RESOLVED else 1


async def _get(args: argparse.Namespace, client: Client, url: str) -> int:
    store = client.store
    record = await (client.wait(args.id) if args.wait else store.get_promise(args.id))
    stopped = await stopped_by(store, record) if not record.settled else None
    waiting = await waiting_notes(store, [record], client.clock.now())  # live.presence: nobody serves its group
    print(describe(record) + "".join(f" ({note})" for note in waiting.values()) + (f"; {stopped}" if stopped else ""))
    if stopped:
        return 1
    return 0 if record.state in (PromiseState.RESOLVED, PromiseState.PENDING) else 1


async def _tree(args: argparse.Namespace, client: Client, url: str) -> int:
    records = await client.store.get_branch(args.id)
    waiting = await waiting_notes(client.store, records, client.clock.now())  # live.presence
    print(tree(records, as_data=True, suffix={id: f" ({note})" for id, note in waiting.items()}))
    failed = 0
    for record in records:
        stopped = await stopped_by(client.store, record) if not record.settled else None
        if stopped:
            print(f"!! {record.id}: {stopped}")
            failed = 1  # a task no worker can get past, as `get` says with its exit status too
    return failed


async def _resolve(args: argparse.Namespace, client: Client, url: str) -> int:
    try:
        value = json.loads(args.value)
    except json.JSONDecodeError as exc:
        raise UsageError(f"resolve: VALUE is not JSON ({exc.msg}); quote a string: '\"yes\"'") from None
    encoded = encode(value, what=f"the value for {args.id}")
    return await _settle(client, "resolve", args.id, PromiseState.RESOLVED, encoded)


async def _reject(args: argparse.Namespace, client: Client, url: str) -> int:
    return await _settle(client, "reject", args.id, PromiseState.REJECTED, encode_error(DurableError(args.value)))


async def _settle(client: Client, how: str, id: str, state: PromiseState, payload: str) -> int:
    """Settle ``id`` and print what it holds; settling is write-once, so one settled before (by anyone)
    keeps its outcome, and that is said on stderr with exit 1."""
    before = await client.store.get_promise(id)
    record = await client.store.settle_promise(id, state, payload)
    print(describe(record))
    if before.settled or record.state is not state or record.value != payload:
        print(f"error: {how} {id}: it was already settled ({record.state.value}); nothing changed", file=sys.stderr)
        return 1
    return 0


#: Each command of ``main``: called with the parsed arguments, a client on the store and the store's URL.
_COMMANDS: dict[str, Callable[[argparse.Namespace, Client, str], Awaitable[int]]] = {
    "worker": _worker, "run": _run, "get": _get, "tree": _tree, "resolve": _resolve, "reject": _reject,
    "ls": listing.ls, "schedule": schedule_commands.run,
    **cancel_commands.COMMANDS,
}


__all__ = ["main"]
