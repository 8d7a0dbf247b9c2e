"""``python -m sim run``: sweep a target's worlds over many seeds — a line for each failing world with
the command that reproduces it, then how many failed, the faults injected, the violations, how the
roots ended and the throughput — or show the one world ``--seed`` names."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import attrs

from pytest_durable.core.errors import UsageError

from ..checks import determinism
from ..faults import FaultConfig, FaultPlan
from ..reports import RootTally, python_m, render, saved, timeline
from ..runner import hashseed, run_world
from ..scenario import Scenario, SimConfig, load_scenario, scenario_spec
from ..world import RunResult, check_store_kind, world_store
from . import usage
from .sweep_progress import Progress

#: The exit status of a sweep stopped by Ctrl-C: 128 + SIGINT, as a shell reports a process it
#: interrupted (2 is taken: it means bad usage, as it does for argparse).
INTERRUPTED = 130


def cmd_run(args: argparse.Namespace) -> int:
    """Load the target with its faults and plan, then show one world (``--seed``) or sweep ``--seeds``."""
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
    return Sweep(args, scenario, faults, plan, config).run()


def _reproduce(args: argparse.Namespace, seed: int | None, faults: FaultConfig, plan: FaultPlan,
               env: tuple[str, ...] = ()) -> str:
    """The command that runs world ``seed`` of this sweep again, with every setting that is not the
    default, for the interpreter that runs this one (``sim.reports.command``), quoted for the shell."""
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


def _world(args: argparse.Namespace, scenario: Scenario, seed: int | None, faults: FaultConfig, plan: FaultPlan,
           config: SimConfig) -> RunResult:
    """One world over a fresh store of the kind ``--store`` names."""
    with world_store(args.store) as store:
        return run_world(scenario, seed=seed, faults=faults, plan=plan, config=config, target=args.target,
                         store=store)


@attrs.define
class Sweep:
    """A sweep over ``--seeds`` worlds of one scenario: it runs them in order, says each failing one as
    it goes, and what it has seen so far (faults, broken checks, root outcomes, steps) for its summary."""

    args: argparse.Namespace
    scenario: Scenario
    faults: FaultConfig
    plan: FaultPlan
    config: SimConfig
    counts: Counter[str] = attrs.Factory(Counter)
    by_check: Counter[str] = attrs.Factory(Counter)
    roots: RootTally = attrs.Factory(RootTally)
    jobs: list[hashseed.Rerun] = attrs.Factory(list)
    failing: int = 0
    steps: int = 0

    def run(self) -> int:
        """Run every seed (then the hash-seed check, if asked) and print the summary: 0 if no world
        failed, 1 if one did, ``INTERRUPTED`` (saying how far it got) on Ctrl-C."""
        args = self.args
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        progress = Progress(len(seeds))
        ran = 0
        start = time.perf_counter()
        try:
            for done, seed in enumerate(seeds, 1):
                self._one(seed, progress)
                ran = done
                progress.update(done, self.failing)
            if args.check_hash_seed:
                self.failing += _check_hash_seed(args, self.scenario, self.jobs)
        except KeyboardInterrupt:  # the user's: stop at once, say how far the sweep got
            if progress.tty:
                sys.stderr.write("\n")
            which = f" (seeds {seeds.start}..{seeds.start + ran - 1})" if ran else ""
            print(f"interrupted: {ran} of {len(seeds)} worlds ran{which}, {self.failing} failing")
            return INTERRUPTED
        self._summary(seeds, time.perf_counter() - start)
        return 1 if self.failing else 0

    def _one(self, seed: int, progress: Progress) -> None:
        """Run world ``seed`` (twice with ``--check-determinism``) and count what it did."""
        args = self.args
        result = _world(args, self.scenario, seed, self.faults, self.plan, self.config)
        if args.check_determinism:
            again = _world(args, self.scenario, seed, self.faults, self.plan, self.config)
            result = determinism(result, again)
        self.counts.update(result.fault_counts)
        self.roots.add(seed, result)
        self.steps += result.steps
        if args.check_hash_seed and result.ok:
            self.jobs.append(hashseed.Rerun(seed, str(self.faults), str(self.plan), args.quiesce_after,
                                          result.trace_hash))
        if not result.ok:
            self._failed(seed, result, progress)

    def _failed(self, seed: int, result: RunResult, progress: Progress) -> None:
        """Say a failing world: its first violation, how to reproduce it, and save it to ``--traces-dir``."""
        self.failing += 1
        self.by_check.update(v.check for v in result.violations)
        if progress.tty:
            sys.stderr.write("\r")
        first = result.violations[0]
        print(
            f"seed {seed}: FAILED {first}"
            + (f" (+{len(result.violations) - 1} more)" if len(result.violations) > 1 else "")
        )
        print(f"  reproduce: {_reproduce(self.args, seed, self.faults, self.plan)}")
        if self.args.traces_dir:
            path = Path(self.args.traces_dir) / f"seed-{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(saved.dumps(result))

    def _summary(self, seeds: range, elapsed: float) -> None:
        """The sweep's last lines: seeds and failures, faults injected, violations, roots, throughput."""
        counts, by_check = self.counts, self.by_check
        injected = ", ".join(f"{k} {counts[k]}" for k in sorted(counts)) or "none"
        violations = ", ".join(f"{k} {n}" for k, n in sorted(by_check.items())) or "none"
        print(f"seeds run: {len(seeds)} ({seeds.start}..{seeds.stop - 1}); failing: {self.failing}")
        print(f"faults injected: {injected}")
        print(f"violations: {violations}")
        for line in self.roots.lines(self.scenario):
            print(line)
        print(f"throughput: {len(seeds) / elapsed:.1f} worlds/s, {self.steps / elapsed:,.0f} steps/s "
              f"({elapsed:.2f} s)")


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
    """Run world ``--seed`` and show it (its tree, text trace or JSON; its summary and reproduce line);
    ``--out`` and ``--html`` write it too. 1 if it failed."""
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
    write_html(args.html, result)
    return 0 if result.ok else 1


def write_html(path: str | None, result: RunResult) -> None:
    """``--html PATH``: the world's timeline page (``sim.reports.timeline``), and a line saying where it is."""
    if path:
        try:
            print(f"timeline: {timeline.write(result, path)}")
        except OSError as exc:
            raise UsageError(f"--html {path}: cannot write the page ({exc.strerror or exc})") from None
