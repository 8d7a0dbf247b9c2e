"""Checks of ``python -m sim``'s arguments, made before any world runs: each bad one is one
``UsageError`` naming the option and what to give instead (``sim.cli.entry`` prints it, exit 2)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from pytest_durable.core.errors import UsageError

from ..faults import FaultPlan
from ..scenario import Scenario


def check_arguments(args: argparse.Namespace) -> None:
    """The options of ``args.command`` that can be judged without the target: numbers and combinations."""
    if args.command == "run":
        _check_run(args)
    elif args.command == "replay" and args.html:
        check_writable_file(args.html, where="--html")
    elif args.command == "points":
        _check_faults(args.faults)
    elif args.command == "bench":
        _check_bench(args)


#: Swarm worlds of a sweep when ``--seeds`` is not given.
DEFAULT_SEEDS = 100
#: The most worlds ``--seeds`` may ask for: a sweep of more would not end in a working day.
MAX_SEEDS = 10**7
#: Seeds are 63-bit numbers (a saved world, a store and another interpreter all take them as such).
MAX_SEED = 2**63 - 1


def _check_run(args: argparse.Namespace) -> None:
    if args.seed is not None and args.seeds is not None:
        raise UsageError("--seed N runs and shows the one world N, so --seeds does not apply: give --seed N to "
                         "see one world, or --seeds M (with --first-seed N) to sweep M worlds")
    if args.seeds is None:
        args.seeds = DEFAULT_SEEDS
    if args.seeds < 0:
        raise UsageError("--seeds must be >= 0 (swarm worlds after the aimed ones)")
    if args.seeds > MAX_SEEDS:
        raise UsageError(f"--seeds must be at most {MAX_SEEDS:,} (swarm worlds after the aimed ones), got "
                         f"{_short(args.seeds)}; run several sweeps with --first-seed for more")
    for flag, value in (("--seed", args.seed), ("--first-seed", args.first_seed)):
        if value is not None and not 0 <= value <= MAX_SEED:
            raise UsageError(f"{flag} must be a whole number from 0 to 2**63-1, got {_short(value)}")
    _check_faults(args.faults)
    if args.max_promises < 1:
        raise UsageError(f"--max-promises must be >= 1 (the most promises a world may make), got "
                         f"{_short(args.max_promises)}")
    if args.max_depth < 1:
        raise UsageError(f"--max-depth must be >= 1 (the deepest chain of calls a world may make), got "
                         f"{_short(args.max_depth)}")
    if args.pair_cap < 0:
        raise UsageError(f"--pair-cap must be >= 0 (most pairs of faults), got {args.pair_cap}")
    if args.aim_cap < 0:
        raise UsageError(f"--aim-cap must be >= 0 (most single-fault worlds), got {args.aim_cap}")
    if args.aim is not None and args.seed is not None:
        raise UsageError("--aim and --seed each name one world: give one of them")
    if args.aim is not None and args.plan:
        raise UsageError("--aim names the world's one fault: give its point there, not also --plan")
    for name in ("budget", "quiesce_after"):
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if value < 0:
            raise UsageError(f"{flag} must be a number of seconds >= 0")
        if not math.isfinite(value):
            raise UsageError(f"{flag} must be a finite number of seconds, got {value:g}; a world whose "
                             f"{'faults never stop' if name == 'quiesce_after' else 'root has no deadline'} may "
                             "never end: give a large number, e.g. 3600")
    if args.seed is None and args.aim is None:
        for flag, value in (("--out", args.out), ("--trace", args.trace)):
            if value:
                raise UsageError(f"{flag} shows one world: add --seed N or --aim POINT (a sweep writes each failing "
                                 "world with --traces-dir DIR)")
        if args.html:
            raise UsageError("--html draws one world: add --seed N or --aim POINT (a sweep prints each failing "
                             "world's)")
    for flag, file in (("--out", args.out), ("--html", args.html)):
        if file:
            check_writable_file(file, where=flag)
    if args.traces_dir:
        check_writable_dir(args.traces_dir, where="--traces-dir")


def _check_faults(faults: str) -> None:
    """An empty ``--faults`` is a mistake (a variable that expanded to nothing?), not a wish for no faults."""
    if not faults.strip():
        raise UsageError("--faults is empty: give fault kinds (e.g. crash,drop), or --faults none for worlds "
                         "without faults")


def _short(number: int) -> str:
    """A number as a line can show it: a huge one by its size (``a 21-digit number``)."""
    text = str(number)
    return text if len(text) <= 20 else f"a {len(text)}-digit number"


def _check_bench(args: argparse.Namespace) -> None:
    if args.what == "scale":
        sizes = [part.strip() for part in args.sizes.split(",")]
        if not all(part.isdigit() and int(part) >= 1 for part in sizes):
            raise UsageError(f"--sizes: write fan-out sizes >= 1 separated by commas, e.g. 100,1000; "
                             f"got {args.sizes!r}")
        if args.repeat < 1:
            raise UsageError(f"--repeat must be >= 1 (runs per size; the best is reported), got {args.repeat}")
    if args.what == "throughput":
        for flag, value in (("--seeds", args.seeds), ("--repeat", args.repeat), ("--examples", args.examples),
                            ("--shape-seeds", args.shape_seeds)):
            if value < 1:
                raise UsageError(f"{flag} must be >= 1, got {value}")
    if args.what in ("search", "live") and args.runs < 1:
        raise UsageError(f"--runs must be >= 1, got {args.runs}")
    if args.what == "search" and args.limit < 1:
        raise UsageError(f"--limit must be >= 1 (the most worlds per search), got {args.limit}")


def check_plan(plan: FaultPlan, scenario: Scenario, *, where: str = "--plan") -> None:
    """Every crash point of ``plan`` names one of ``scenario``'s processes."""
    plan.check_processes([name for name, _ in scenario.process_names()], where=where)


def check_writable_dir(directory: str, *, where: str) -> None:
    """``directory`` exists (it is made if missing) and files can be written in it."""
    _writable_folder(Path(directory), f"{where} {directory}: this folder")


def check_writable_file(file: str, *, where: str) -> None:
    """``file`` can be written: it is no folder, and its folder exists (it is made if missing) and is writable."""
    path = Path(file)
    if path.is_dir():
        example = path / ("world.html" if where.endswith("html") else "world.json")
        raise UsageError(f"{where} {file} is a folder; give a file name, e.g. {example}")
    _writable_folder(path.parent, f"{where} {file}: its folder {path.parent}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{where} {file}: this file is not writable; give another file name")


def _writable_folder(path: Path, said: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{said} cannot be made ({exc.strerror or exc}); give a place you can write in") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{said} is not writable; give a place you can write in")
