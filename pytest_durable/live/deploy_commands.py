"""The deploy commands of ``python -m pytest_durable``: check new code against recorded histories.

    python -m pytest_durable check-deploy myapp.workflows --store sqlite:///app.db   # every root
    python -m pytest_durable check-deploy myapp.workflows --histories histories/     # exported files
    python -m pytest_durable export --out histories/ --store sqlite:///app.db --in-flight
    python -m pytest_durable check-patch fraud-check myapp.workflows --store sqlite:///app.db

``check-deploy`` replays each root's history with the functions of the MODULEs (``sdk/replay_check.py``):
exit 0 when every root is compatible, 1 when one breaks, 2 for bad input. ``check-patch`` replays the
roots in flight and says whether any still takes a patch's old path: exit 0 when none does (the patch may
be retired), 1 naming the roots that do. A store with no root to check, or a patch no execution in flight
asked about, is not an error: the commands say so in a ``note:`` line and exit 0 (nothing recorded can
break). Bad input is one ``error:`` line: no module, a module that fails to import, a store file that
does not exist, a store that cannot be read, a missing or empty histories directory, a file that is no
history, a ``--roots`` glob that matches no root of a store that has some.

They run outside any trio run: each replay is a run of its own.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
from typing import Any

from ..core.errors import PlatformError, UsageError
from ..core.history import History
from ..core.memory_store import MemoryStore
from ..sdk import Worker
from ..sdk.function import Registry
from ..sdk.replay_check import check_history
from .histories import load_histories, read_histories, write_histories
from .loading import callable_named, functions_of
from .postgres_store import redact
from .urls import open_store, store_url


def add_parsers(sub: Any) -> None:
    """The three commands' parsers, on the CLI's subparsers ``sub``."""
    c = sub.add_parser("check-deploy", help="replay recorded histories with the code of MODULE...")
    c.add_argument("modules", nargs="+", metavar="MODULE")
    _source(c)
    _filters(c)
    e = sub.add_parser("export", help="write each root's history to a file of DIR (one per root)")
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument("--store", default=argparse.SUPPRESS, help="store URL (as the other commands take it)")
    _filters(e)
    p = sub.add_parser("check-patch", help="whether any execution in flight still takes patch PATCH_ID's old path")
    p.add_argument("patch", metavar="PATCH_ID")
    p.add_argument("modules", nargs="+", metavar="MODULE")
    _source(p)


def _source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=argparse.SUPPRESS,
                        help="store URL (default $DURABLE_STORE, else sqlite:///durable.db)")
    parser.add_argument("--setup", metavar="MODULE:FUNCTION", default=None,
                        help="called with a Worker before the replays, as the worker command's: the dependencies it "
                             "sets are handed to the replayed bodies")
    parser.add_argument("--histories", default=None, metavar="DIR",
                        help="read exported history files (a directory or one file) instead of a store")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roots", default=None, metavar="GLOB", help="only the roots whose id matches GLOB")
    parser.add_argument("--in-flight", action="store_true", help="only the roots still pending")


def check_deploy(args: argparse.Namespace) -> int:
    registry, dependencies = _new_code(args, where="check-deploy")
    histories = _histories(args, where="check-deploy", roots=args.roots, in_flight=args.in_flight)
    checks = [check_history(h, registry, dependencies=dependencies) for h in histories]
    for check in checks:
        print(check.report(), flush=True)
    broken = sum(not c.compatible for c in checks)
    flying = sum(not c.state.settled for c in checks)
    print(f"{_count(len(checks), 'root')} checked: {len(checks) - broken} compatible, {broken} broken "
          f"({flying} in flight)")
    if not checks:
        print("note: no root to check: nothing recorded can break")
    return 1 if broken else 0


def export(args: argparse.Namespace) -> int:
    histories = _store_histories(args, where="export", roots=args.roots, in_flight=args.in_flight)
    written = write_histories(args.out, histories)
    print(f"wrote {_count(len(written), 'history', 'histories')} to {args.out}")
    return 0


def check_patch(args: argparse.Namespace) -> int:
    patch = args.patch
    if not patch or any(c.isspace() or c in "./" for c in patch):
        raise UsageError(f"check-patch: {patch!r} is not a patch id (ctx.patched ids have no white space, '.' or '/')")
    registry, dependencies = _new_code(args, where="check-patch")
    histories = _histories(args, where="check-patch", roots=None, in_flight=True)
    checks = [check_history(h, registry, dependencies=dependencies) for h in histories]
    old = [c for c in checks if patch in c.old_paths]
    unsure = [c for c in checks if c not in old and c.may_take_old_path(patch)]
    broken = [c.root for c in checks if not c.compatible]
    if broken:  # a root this code cannot replay may take any path: no retirement can be vouched for
        verb = "breaks" if len(broken) == 1 else "break"
        print(f"patch {patch!r} may not be retired yet: {_count(len(broken), 'root')} in flight {verb} with this "
              f"code ({', '.join(broken[:5])}{' …' if len(broken) > 5 else ''}), so which path "
              f"{'it takes' if len(broken) == 1 else 'they take'} cannot be told; run check-deploy for why")
    if old:
        print(f"patch {patch!r} may not be retired yet: {_count(len(old), 'execution')} in flight "
              f"{'takes' if len(old) == 1 else 'take'} its old path "
              f"({len(checks)} in flight checked):")
        for c in old:
            print(f"  {c.root}" + (f"; next: {c.next_call}" if c.next_call else ""))
    if unsure:
        print(f"patch {patch!r} may not be retired yet: {_count(len(unsure), 'execution')} in flight may still "
              "take its old path: each waits on a pending child with later children recorded, so which path it "
              "takes is known only once that child settles:")
        for c in unsure:
            print(f"  {c.root}; waits in {', '.join(id for id, _ in c.short_of_record)}"
                  + (f"; next: {c.next_call}" if c.next_call else ""))
    if old or unsure or broken:
        return 1
    if checks and not any(patch in c.patches for c in checks):
        print(f"note: no execution in flight asked ctx.patched({patch!r}) yet; check the id if you expected some")
    print(f"patch {patch!r} may be retired: no execution in flight takes its old path "
          f"({len(checks)} in flight checked)")
    return 0


def _count(n: int, one: str, many: str = "") -> str:
    """``1 root``, ``2 roots``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _new_code(args: argparse.Namespace, *, where: str) -> tuple[Registry, dict[str, object]]:
    """The functions of the MODULEs, and the dependencies ``--setup`` sets on a worker of them (a worker
    over an empty store of its own: it runs nothing)."""
    registry = _registry(args.modules, where=where)
    if args.setup is None:
        return registry, {}
    setup = callable_named(args.setup, where=f"{where} --setup")
    worker = Worker(MemoryStore(), registry=registry)
    try:
        setup(worker)
    except UsageError:
        raise
    except Exception as exc:  # the user's set-up failed: say which, and what
        raise UsageError(f"{where} --setup {args.setup}: raised {type(exc).__name__}: {exc}") from None
    return registry, worker.dependencies


def _registry(modules: list[str], *, where: str) -> Registry:
    """The new code: every ``@function`` of ``modules``; a module that fails to import is one line."""
    registry = Registry()
    for fn in functions_of(modules, where=where):
        registry.register(fn)
    return registry


def _histories(args: argparse.Namespace, *, where: str, roots: str | None, in_flight: bool) -> list[History]:
    """The histories to check: from ``--histories`` files (filtered as a store's would be), else the store."""
    if args.histories is None:
        return _store_histories(args, where=where, roots=roots, in_flight=in_flight)
    if getattr(args, "store", None) is not None:
        raise UsageError(f"{where}: give --store or --histories, not both")
    loaded = load_histories(args.histories)
    return [h for h in loaded if (roots is None or fnmatch.fnmatchcase(h.root, roots))
            and not (in_flight and h.root_record.settled)]


def _store_histories(args: argparse.Namespace, *, where: str, roots: str | None, in_flight: bool) -> list[History]:
    url = store_url(getattr(args, "store", None))
    scheme, sep, rest = url.partition("://")
    if scheme == "sqlite" and sep:
        path = rest[1:] if rest.startswith("/") else rest
        if path and not os.path.isfile(path):
            raise UsageError(f"{where}: no store file {path!r} (from {url}); name an existing store with --store URL")
    try:
        store = open_store(url)
    except UsageError:
        raise
    except (Exception, PlatformError) as exc:  # the driver's error: an unreachable server, a file that is no store
        raise UsageError(f"{where}: cannot open the store {redact(url)}: {type(exc).__name__}: {exc}") from None
    try:
        chosen = read_histories(store, roots=roots, in_flight=in_flight)
        if not chosen and roots is not None:  # a glob that matches nothing is likely a typo: say so
            every = len(read_histories(store, in_flight=in_flight))
            if every:
                raise UsageError(f"{where}: --roots {roots!r} matches none of the {every} roots"
                                 f"{' in flight' if in_flight else ''} in the store")
    except UsageError:
        raise
    except (Exception, PlatformError) as exc:  # the driver's error while reading
        raise UsageError(f"{where}: cannot read the store {redact(url)}: {type(exc).__name__}: {exc}") from None
    finally:
        store.close()
    return chosen


#: The deploy commands by name: each takes the parsed arguments and returns the exit code.
COMMANDS = {"check-deploy": check_deploy, "export": export, "check-patch": check_patch}


__all__ = ["COMMANDS", "add_parsers", "check_deploy", "check_patch", "export"]
