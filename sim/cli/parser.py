"""The argument parser of ``python -m sim``: the ``run``, ``replay`` and ``bench`` commands, their
options and help, each command's function as ``func``."""

from __future__ import annotations

import argparse

from ..aim.sweep import AIM_CAP, PAIR_CAP
from ..scenario import SimConfig
from ..world import STORE_KINDS
from .bench import cmd_bench
from .points import cmd_points
from .replay import cmd_replay
from .run import cmd_run


def parser() -> argparse.ArgumentParser:
    """The parser of every command; ``args.func`` runs the one given."""
    p = argparse.ArgumentParser(prog="python -m sim", description="Run durable workflows in simulated worlds.")
    sub = p.add_subparsers(dest="command", required=True)
    _run_options(sub.add_parser("run", help="run a scenario over many seeds, or show one world"))
    _points_options(sub.add_parser("points", help="list the fault points of a target's fault-free world: where the "
                                   "aimed sweep puts one fault each"))
    _replay_options(sub.add_parser("replay", help="re-run a world saved as JSON and say whether it matches"))
    _bench_options(sub.add_parser("bench", help="scale: time fan-outs of growing size; search: crash search vs seed "
                                  "sweep; live: the live runtime's latency, fan-out rate and idle cost over SQLite and "
                                  "PostgreSQL, then a crash-recovery scenario in the simulator and with real processes;"
                                  " throughput: worlds per second and task steps per promise"))
    return p


def _run_options(run: argparse.ArgumentParser) -> None:
    """``run TARGET``: the sweep, one world, faults, checks and the store."""
    run.add_argument("target", help="FILE.py:NAME or MODULE:NAME naming a sim.Scenario or a function returning one")
    run.add_argument("--seeds", type=int, default=None,
                     help="swarm worlds after the aimed ones, each drawing its own fault mix (default 100; not with "
                     "--seed, which shows one world)")
    run.add_argument("--first-seed", type=int, default=0, help="the first seed of the sweep (default 0)")
    run.add_argument("--seed", type=int, help="run this one seed and show the world")
    run.add_argument("--aim", metavar="POINT",
                     help="show the fault-free world with this one fault, as a sweep names it: "
                     "'at(crash, after settle job.1)' (python -m sim points TARGET lists them)")
    run.add_argument("--aim-cap", type=int, default=AIM_CAP,
                     help=f"most single-fault worlds a sweep runs before its swarm worlds (default {AIM_CAP})")
    run.add_argument("--depth", type=int, choices=[1, 2], default=1,
                     help="2: after the single faults, one world per pair of faults, the second at each point the "
                     "first one's world met after it (default 1)")
    run.add_argument("--pair-cap", type=int, default=PAIR_CAP, help=f"with --depth 2: most pairs (default {PAIR_CAP})")
    run.add_argument("--no-aim", action="store_true",
                     help="sample only: --seeds worlds of the --faults mix, no fault-free or single-fault worlds")
    run.add_argument("--show-uncovered", action="store_true",
                     help="after a sweep, list every fault point it did not run, and why")
    run.add_argument(
        "--faults", default="crash,drop,reject", help="fault kinds, e.g. crash=0.05:2,drop (default crash,drop,reject)"
    )
    run.add_argument("--plan", help="explicit fault points, e.g. 'crash(w1, after_create, job.1)', the n-th such "
                     "request 'crash(w2, before_dispatch, default, 57)', at an await 'crash(w1, await, pay.0)', "
                     "'drop(response, settle, 2)'")
    run.add_argument("--quiesce-after", type=float, default=120.0, help="no new faults after this virtual time")
    run.add_argument("--budget", type=float, default=SimConfig().budget,
                     help="liveness: seconds the root may take to settle after faults stop, plus "
                          f"{SimConfig().budget_per_promise:g} s per promise the world makes (default %(default)g)")
    run.add_argument("--max-depth", type=int, default=SimConfig().max_depth,
                     help="the deepest chain of calls (a child of a child ...) a world may make before it is stopped "
                     "and fails (a workflow calling itself without end; default %(default)s)")
    run.add_argument("--max-promises", type=int, default=SimConfig().max_promises,
                     help="the most promises a world may make before it is stopped and fails (a workflow calling "
                     "itself without end; default %(default)s)")
    run.add_argument(
        "--trace", choices=["text", "tree", "json"], help="with --seed: how to show the world (default tree)"
    )
    run.add_argument("--out", help="with --seed: also write the world as JSON here")
    run.add_argument("--traces-dir", help="write each failing world as JSON into this folder")
    run.add_argument("--html", help="with --seed: also write the world's timeline as one self-contained HTML page here")
    run.add_argument("--check-determinism", action="store_true", help="run every world twice and compare traces")
    run.add_argument("--check-hash-seed", action="store_true",
                     help="re-run the passing worlds in one subprocess under another PYTHONHASHSEED and fail a "
                     "world whose trace differs (it depends on the hash order of strings)")
    run.add_argument("--store", default="memory",
                     help=f"the store every world runs over: {'|'.join(STORE_KINDS)} (default memory); sqlite gives "
                     "each world a fresh SQLite file in a temporary folder, removed after it; postgres a fresh "
                     "schema in the database $DURABLE_PG_DSN names, dropped after it")
    run.add_argument("--no-isolation", action="store_true",
                     help="share the user's module state between simulated processes and incarnations "
                     "(Scenario(isolate=False)) instead of giving each incarnation fresh module copies")
    run.set_defaults(func=cmd_run)


def _points_options(points: argparse.ArgumentParser) -> None:
    """``points TARGET``."""
    points.add_argument("target", help="FILE.py:NAME or MODULE:NAME naming a sim.Scenario or a function returning one")
    points.add_argument("--faults", default="crash,drop,reject",
                        help="the fault kinds whose points to list (default crash,drop,reject)")
    points.add_argument("--quiesce-after", type=float, default=120.0, help="no new faults after this virtual time")
    points.set_defaults(func=cmd_points)


def _replay_options(replay: argparse.ArgumentParser) -> None:
    """``replay FILE``."""
    replay.add_argument("trace", help="a JSON file written by --out or --traces-dir")
    replay.add_argument("--target", help="override the target recorded in the file")
    replay.add_argument("--html", help="also write the re-run world's timeline as one self-contained HTML page here")
    replay.set_defaults(func=cmd_replay)


def _bench_options(bench: argparse.ArgumentParser) -> None:
    """``bench [WHAT]``: each option names the benchmarks it is for."""
    bench.add_argument("what", nargs="?", choices=["scale", "search", "live", "throughput"], default="scale",
                       help="default scale")
    bench.add_argument("--seeds", type=int, default=200, help="throughput: worlds per fault set (default 200)")
    bench.add_argument("--shape-seeds", type=int, default=20,
                       help="throughput: worlds per fault set of each shape (fan-out, batch, saga; default 20)")
    bench.add_argument("--examples", type=int, default=100,
                       help="throughput: crash-search examples per bug of examples/ (default 100)")
    bench.add_argument("--sizes", default="100,1000,10000,50000",
                       help="scale: fan-out sizes (default 100,1000,10000,50000)")
    bench.add_argument("--repeat", type=int, default=3, help="scale: runs per size; the best is reported")
    bench.add_argument("--runs", type=int, default=5,
                       help="search: independent searches per bug; live: runs of each live measure and real scenarios "
                       "(default 5)")
    bench.add_argument("--faults", default="crash", help="search: fault kinds (default crash)")
    bench.add_argument("--limit", type=int, default=1000, help="search: most worlds per search (default 1000)")
    bench.add_argument("--held-out", action="store_true",
                       help="search: also the held-out bugs of sim/bench/heldout.py (other shapes than examples/)")
    bench.set_defaults(func=cmd_bench)
