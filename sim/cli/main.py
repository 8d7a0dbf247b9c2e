"""``python -m sim``: run worlds over many seeds, show one world, replay a saved one, benchmark."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import attrs

from pytest_durable.core.errors import UsageError

from ..checks import determinism
from ..faults import FaultConfig, FaultPlan
from ..kernel.decisions import RecordedDecisions
from ..kernel.interrupts import keep_interrupts
from ..reports import render, saved, saved_file
from ..reports.command import python_m
from ..reports.root_tally import RootTally
from ..runner import hashseed, run_world
from ..scenario import Scenario, SimConfig, load_scenario, scenario_spec
from ..trace import decodings, event_text, first_difference
from ..world import STORE_KINDS, RunResult, check_store_kind, world_store
from . import usage


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal (each hundredth), a line per tenth
    otherwise; and in either case at least every ``every`` seconds of wall-clock time, so a slow
    sweep piped into a log still shows it is alive. ``clock`` is the CLI's own (it reports on the
    sweep from outside the worlds, which never read it); tests pass a fake one."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, *, every: float = 5.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every
        self.clock = clock
        self.start = clock()
        self._shown = -1
        self._shown_at = self.start

    def update(self, done: int, failing: int) -> None:
        if self.total < 20:
            return
        step = max(1, self.total // (100 if self.tty else 10))
        now = self.clock()
        if done != self.total and done // step == self._shown and now - self._shown_at < self.every:
            return
        self._shown = done // step
        self._shown_at = now
        width = 30
        filled = width * done // self.total
        bar = "#" * filled + "." * (width - filled)
        line = f"[{bar}] {done}/{self.total} seeds, {failing} failing, {now - self.start:.1f} s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _reproduce(args: argparse.Namespace, seed: int | None, faults: FaultConfig, plan: FaultPlan,
               env: tuple[str, ...] = ()) -> str:
    """The command that runs world ``seed`` of this sweep again, with every setting that is not the
    default, for the interpreter that runs this one (``sim.command``), quoted for the shell."""
    words = ["run", args.target, "--seed", str(seed), "--faults", str(faults) or "none"]
    if args.store != "memory":
        words += ["--store", args.store]
    if plan.points:
        words += ["--plan", str(plan)]
    if args.quiesce_after != 120.0:
        words += ["--quiesce-after", f"{args.quiesce_after:g}"]
    if args.budget != SimConfig().budget:
        words += ["--budget", f"{args.budget:g}"]
    if args.check_determinism:
        words.append("--check-determinism")
    if args.no_isolation:
        words.append("--no-isolation")
    return python_m("sim", words, env=env)


#: The exit status of a sweep stopped by Ctrl-C: 128 + SIGINT, as a shell reports a process it
#: interrupted (2 is taken: it means bad usage, as it does for argparse).
INTERRUPTED = 130


def _world(args: argparse.Namespace, scenario: Scenario, seed: int | None, faults: FaultConfig, plan: FaultPlan,
           config: SimConfig) -> RunResult:
    """One world over a fresh store of the kind ``--store`` names."""
    with world_store(args.store) as store:
        return run_world(scenario, seed=seed, faults=faults, plan=plan, config=config, target=args.target,
                         store=store)


def cmd_run(args: argparse.Namespace) -> int:
    check_store_kind(args.store, where="--store")
    scenario = load_scenario(args.target)
    if args.no_isolation:
        scenario = attrs.evolve(scenario, isolate=False)
    faults = FaultConfig.parse(args.faults, quiesce_after=args.quiesce_after)
    plan = FaultPlan.parse(args.plan or "")
    usage.check_plan(plan, scenario)
    config = SimConfig(budget=args.budget)
    if args.html and args.seed is None:
        raise UsageError("--html draws one world: add --seed N (a sweep prints the seed of each failing world)")
    if args.seed is not None:
        return _show_one(args, scenario, faults, plan, config)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs: list[hashseed.Rerun] = []
    progress = Progress(len(seeds))
    counts: Counter[str] = Counter()
    by_check: Counter[str] = Counter()
    roots = RootTally()
    failing = 0
    steps = 0
    ran = 0
    start = time.perf_counter()
    try:
        for done, seed in enumerate(seeds, 1):
            result = _world(args, scenario, seed, faults, plan, config)
            if args.check_determinism:
                again = _world(args, scenario, seed, faults, plan, config)
                result = determinism(result, again)
            counts.update(result.fault_counts)
            roots.add(seed, result)
            steps += result.steps
            if args.check_hash_seed and result.ok:
                jobs.append(hashseed.Rerun(seed, str(faults), str(plan), args.quiesce_after, result.trace_hash))
            if not result.ok:
                failing += 1
                by_check.update(v.check for v in result.violations)
                if progress.tty:
                    sys.stderr.write("\r")
                first = result.violations[0]
                print(
                    f"seed {seed}: FAILED {first}"
                    + (f" (+{len(result.violations) - 1} more)" if len(result.violations) > 1 else "")
                )
                print(f"  reproduce: {_reproduce(args, seed, faults, plan)}")
                if args.traces_dir:
                    path = Path(args.traces_dir) / f"seed-{seed}.json"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(saved.dumps(result))
            ran = done
            progress.update(done, failing)
        if args.check_hash_seed:
            failing += _check_hash_seed(args, scenario, jobs)
    except KeyboardInterrupt:  # the user's: stop at once, say how far the sweep got
        if progress.tty:
            sys.stderr.write("\n")
        which = f" (seeds {seeds.start}..{seeds.start + ran - 1})" if ran else ""
        print(f"interrupted: {ran} of {len(seeds)} worlds ran{which}, {failing} failing")
        return INTERRUPTED
    elapsed = time.perf_counter() - start
    injected = ", ".join(f"{k} {counts[k]}" for k in sorted(counts)) or "none"
    violations = ", ".join(f"{k} {n}" for k, n in sorted(by_check.items())) or "none"
    print(f"seeds run: {len(seeds)} ({seeds.start}..{seeds.stop - 1}); failing: {failing}")
    print(f"faults injected: {injected}")
    print(f"violations: {violations}")
    for line in roots.lines(scenario):
        print(line)
    print(f"throughput: {len(seeds) / elapsed:.1f} worlds/s, {steps / elapsed:,.0f} steps/s ({elapsed:.2f} s)")
    return 1 if failing else 0


def _check_hash_seed(args: argparse.Namespace, scenario: Scenario, jobs: list[hashseed.Rerun]) -> int:
    """Re-run the passing worlds ``jobs`` under another hash seed (one subprocess); 1 if one differs."""
    spec = scenario_spec(scenario, args.target)
    spec["store"] = args.store
    if args.no_isolation:
        spec["isolate"] = False
    found = hashseed.first_difference(spec, SimConfig(budget=args.budget), jobs)
    if found is None:
        print(f"hash-seed check: {len(jobs)} passing world(s) traced the same under PYTHONHASHSEED="
              f"{hashseed.other_hash_seed()}")
        return 0
    print(f"seed {found.job.seed}: FAILED {found}")
    again = _reproduce(args, found.job.seed, FaultConfig.parse(found.job.faults), FaultPlan.parse(found.job.plan),
                       env=(f"PYTHONHASHSEED={found.hash_seed}",))
    print(f"  reproduce: {again} --trace text  (and again under another PYTHONHASHSEED)")
    return 1


def _show_one(
    args: argparse.Namespace, scenario: Scenario, faults: FaultConfig, plan: FaultPlan, config: SimConfig
) -> int:
    result = _world(args, scenario, args.seed, faults, plan, config)
    if args.check_determinism:
        again = _world(args, scenario, args.seed, faults, plan, config)
        result = determinism(result, again)
    if args.check_hash_seed and result.ok:
        job = hashseed.Rerun(args.seed, str(faults), str(plan), args.quiesce_after, result.trace_hash)
        if _check_hash_seed(args, scenario, [job]):
            return 1
    shown = args.trace or "tree"
    if shown == "json":
        print(saved.dumps(result))
    else:
        if shown == "text":
            print(render.text(result.trace))
        elif shown == "tree":
            print(render.world_tree(result))
        print(render.summary(result))
        if not result.ok:
            print(f"reproduce: {_reproduce(args, args.seed, faults, plan)}")
    if args.out:
        Path(args.out).write_text(saved.dumps(result))
    _write_html(args.html, result)
    return 0 if result.ok else 1


def _write_html(path: str | None, result: RunResult) -> None:
    """``--html PATH``: the world's timeline page (sim.timeline), and a line saying where it is."""
    if path:
        from ..reports import timeline

        try:
            print(f"timeline: {timeline.write(result, path)}")
        except OSError as exc:
            raise UsageError(f"--html {path}: cannot write the page ({exc.strerror or exc})") from None


def cmd_replay(args: argparse.Namespace) -> int:
    saved_world = saved_file.load(args.trace)
    data, recorded = dict(saved_world.data), saved_world.trace
    found = saved.scenario_of(data, args.trace, args.target)
    decisions = RecordedDecisions([(k, int(v)) for k, v in data["decisions"]])
    faults = FaultConfig.parse(data["faults"], quiesce_after=float(data.get("quiesce_after", 120.0)))
    config = SimConfig(budget=float(data.get("budget", SimConfig().budget)))
    result = run_world(
        found.scenario, seed=data["seed"], decisions=decisions, faults=faults, plan=data["plan"], config=config,
        target=found.target,
    )
    result = attrs.evolve(result, seed=data["seed"])  # the recorded world's seed, for its summary and page
    _write_html(args.html, result)
    same = result.trace_hash == recorded.hash()
    if same:
        print(f"match: trace {result.trace_hash}, {result.steps} events, {len(result.violations)} violations")
    else:
        first, was, now = first_difference(recorded, result.trace)
        print(
            f"differs: recorded {recorded.hash()} ({len(recorded)} events), re-run {result.trace_hash} "
            f"({result.steps} events); first difference at event {first}"
        )
        decoded = {**decodings(result.promises), **data.get("decoded", {})}
        print(f"  recorded: {event_text(was, decoded)}")
        print(f"  re-run:   {event_text(now, decoded)}")
        if decisions.diverged:
            print(f"  the re-run asked for other choices than the recorded ones from {decisions.diverged}")
    agree, verdicts = saved.compare_violations(data.get("violations", []), result.violations)
    print("\n".join(verdicts))
    if found.unchecked:
        print(f"  (the test's {found.unchecked} invariant(s) from pytest_durable_invariants are not in the file: "
              "replay does not check them)")
    return 0 if same and agree else 1


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "search":
        from ..bench.crash_search import main as search_main

        return search_main(runs=args.runs, faults=args.faults, limit=args.limit, held_out=args.held_out)
    if args.what == "throughput":
        from ..bench.throughput import main as throughput_main

        return throughput_main(seeds=args.seeds, repeat=args.repeat, examples=args.examples)
    if args.what == "live":
        from ..bench.live_workers import main as live_main

        return live_main(runs=args.runs)
    from ..bench.scale import main as bench_main

    return bench_main([int(s) for s in args.sizes.split(",")], repeat=args.repeat)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sim", description="Run durable workflows in simulated worlds.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario over many seeds, or show one world")
    run.add_argument("target", help="FILE.py:NAME or MODULE:NAME naming a sim.Scenario or a function returning one")
    run.add_argument("--seeds", type=int, default=100, help="how many seeds to sweep (default 100)")
    run.add_argument("--first-seed", type=int, default=0, help="the first seed of the sweep (default 0)")
    run.add_argument("--seed", type=int, help="run this one seed and show the world")
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
    replay = sub.add_parser("replay", help="re-run a world saved as JSON and say whether it matches")
    replay.add_argument("trace", help="a JSON file written by --out or --traces-dir")
    replay.add_argument("--target", help="override the target recorded in the file")
    replay.add_argument("--html", help="also write the re-run world's timeline as one self-contained HTML page here")
    replay.set_defaults(func=cmd_replay)
    bench = sub.add_parser("bench", help="scale: time fan-outs of growing size; search: crash search vs seed sweep; "
                           "live: a crash-recovery scenario in the simulator and with real processes")
    bench.add_argument("what", nargs="?", choices=["scale", "search", "live", "throughput"], default="scale",
                       help="default scale")
    bench.add_argument("--seeds", type=int, default=200, help="throughput: worlds per fault set (default 200)")
    bench.add_argument("--examples", type=int, default=100,
                       help="throughput: crash-search examples per bug of examples/ (default 100)")
    bench.add_argument("--sizes", default="100,1000,10000,50000",
                       help="scale: fan-out sizes (default 100,1000,10000,50000)")
    bench.add_argument("--repeat", type=int, default=3, help="scale: runs per size; the best is reported")
    bench.add_argument("--runs", type=int, default=5,
                       help="search: independent searches per bug; live: real scenarios (default 5)")
    bench.add_argument("--faults", default="crash", help="search: fault kinds (default crash)")
    bench.add_argument("--limit", type=int, default=1000, help="search: most worlds per search (default 1000)")
    bench.add_argument("--held-out", action="store_true",
                       help="search: also the held-out bugs of sim/bench_heldout.py (other shapes than examples/)")
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        usage.check_arguments(args)
        with keep_interrupts():  # a Ctrl-C that lands in a finalizer between worlds is not lost
            return int(args.func(args))
    except UsageError as exc:
        print(f"python -m sim {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"python -m sim {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
