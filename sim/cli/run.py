"""``python -m sim run``: sweep a target's worlds — the fault-free world, one world per single-fault point
of it, then ``--seeds`` swarm worlds (``sim.aim``) — with a line for each failing world and the command
that reproduces it, then what the sweep covered, how many failed, the faults injected, the violations,
how the roots ended and the throughput; or show the one world ``--seed`` or ``--aim`` names."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from pytest_durable.core.errors import UsageError

from ..aim import AimedSweep, Planned
from ..aim.sweep import PAIR, SWARM
from ..checks import determinism
from ..faults import FaultConfig, FaultPlan
from ..reports import RootTally, python_m, render, saved, timeline
from ..reports.diagnosis import diagnosis
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
    config = SimConfig(budget=args.budget, max_promises=args.max_promises, max_depth=args.max_depth)
    if args.aim is not None:
        aim = FaultPlan.parse(args.aim)
        usage.check_plan(aim, scenario)
        return _show_one(args, scenario, faults, aim, config, aimed=True)
    if args.seed is not None:
        return _show_one(args, scenario, faults, plan, config)
    aimed = AimedSweep(scenario, faults, config, swarm=args.seeds, first_seed=args.first_seed, cap=args.aim_cap,
                       aim=not (args.no_aim or plan.points or not faults.kinds), depth=args.depth,
                       pair_cap=args.pair_cap)
    return Sweep(args, scenario, faults, plan, config, aimed).run()


def _reproduce(args: argparse.Namespace, seed: int | None, faults: FaultConfig, plan: FaultPlan,
               env: tuple[str, ...] = (), *, aimed: bool = False) -> str:
    """The command that runs world ``seed`` of this sweep again (or, ``aimed``, the quiet world with
    ``plan``), with every setting that is not the default, for the interpreter that runs this one
    (``sim.reports.command``), quoted for the shell."""
    which = ["--aim", str(plan)] if aimed else ["--seed", str(seed)]
    words = ["run", args.target, *which, "--faults", str(faults) or "none"]
    if args.store != "memory":
        words += ["--store", args.store]
    if plan.points and not aimed:
        words += ["--plan", str(plan)]
    if args.quiesce_after != 120.0:
        words += ["--quiesce-after", f"{args.quiesce_after:g}"]
    if args.budget != SimConfig().budget:
        words += ["--budget", f"{args.budget:g}"]
    if args.max_promises != SimConfig().max_promises:
        words += ["--max-promises", str(args.max_promises)]
    if args.max_depth != SimConfig().max_depth:
        words += ["--max-depth", str(args.max_depth)]
    if args.check_determinism:
        words.append("--check-determinism")
    if args.no_isolation:
        words.append("--no-isolation")
    return python_m("sim", words, env=env)


def _world(args: argparse.Namespace, scenario: Scenario, seed: int | None, faults: FaultConfig, plan: FaultPlan,
           config: SimConfig, *, aimed: bool = False) -> RunResult:
    """One world over a fresh store of the kind ``--store`` names: seed ``seed``'s, or (``aimed``) the
    quiet world (every choice the first, the shortest, no fault drawn) with ``plan``'s faults."""
    decisions = Planned("single", faults).decisions() if aimed else None
    with world_store(args.store) as store:
        return run_world(scenario, seed=seed, faults=faults, plan=plan, config=config, target=args.target,
                         store=store, decisions=decisions)


@attrs.define
class Sweep:
    """A sweep of one scenario (``sim.aim.AimedSweep``: the fault-free world, one world per single fault,
    then swarm worlds; or, with ``--no-aim`` or a ``--plan``, ``--seeds`` worlds of the fixed fault mix):
    it runs them in order, says each failing one as it goes, and what it has seen so far (coverage,
    faults, broken checks, root outcomes, steps) for its summary."""

    args: argparse.Namespace
    scenario: Scenario
    faults: FaultConfig
    plan: FaultPlan
    config: SimConfig
    aimed: AimedSweep
    counts: Counter[str] = attrs.Factory(Counter)
    by_check: Counter[str] = attrs.Factory(Counter)
    roots: RootTally = attrs.Factory(RootTally)
    jobs: list[hashseed.Rerun] = attrs.Factory(list)
    failing: int = 0
    steps: int = 0

    def run(self) -> int:
        """Run every world (then the hash-seed check, if asked) and print the summary: 0 if no world
        failed, 1 if one did, ``INTERRUPTED`` (saying how far it got) on Ctrl-C."""
        args = self.args
        before_pairs = self.aimed.size()  # finds the points first: the quiet world runs once
        progress = Progress(before_pairs)
        ran = 0
        start = time.perf_counter()
        try:
            for done, world in enumerate(self.aimed.worlds(), 1):
                if world.phase == PAIR and progress.total == before_pairs and self.aimed.coverage.pairs:
                    progress.total = before_pairs + min(self.aimed.coverage.pairs, self.aimed.pair_cap)
                self._one(world, progress)
                ran = done
                progress.update(done, self.failing)
            if args.check_hash_seed and _check_hash_seed(args, self.scenario, self.jobs):
                self.failing += 1  # a world that passed here but traced otherwise under another hash seed
                self.by_check["hash-seed"] += 1
        except KeyboardInterrupt:  # the user's: stop at once, say how far the sweep got
            if progress.tty:
                sys.stderr.write("\n")
            print(f"interrupted: {ran} of {progress.total} worlds ran, {self.failing} failing; "
                  f"{self.aimed.coverage.line()}")
            return INTERRUPTED
        self._summary(ran, time.perf_counter() - start)
        return 1 if self.failing else 0

    def _world(self, scenario: Scenario, *, plan: FaultPlan, **kwargs: Any) -> RunResult:
        """A world as ``AimedSweep.run`` asks for it, over a fresh store of ``--store``'s kind, with the
        sweep's own ``--plan``."""
        with world_store(self.args.store) as store:
            return run_world(scenario, plan=FaultPlan((*self.plan.points, *plan.points)), target=self.args.target,
                             store=store, **kwargs)

    def _one(self, planned: Planned, progress: Progress) -> None:
        """Run ``planned`` (twice with ``--check-determinism``) and count what it did."""
        args = self.args
        result = self.aimed.run(planned, self._world)
        if args.check_determinism:
            again = self._world(self.scenario, seed=planned.seed, faults=planned.faults, plan=planned.plan,
                                decisions=None if planned.seed is not None else planned.decisions(),
                                config=self.config)
            result = determinism(result, again)
        self.counts.update(result.fault_counts)
        self.roots.add(_name(planned), result)
        self.steps += result.steps
        if args.check_hash_seed and result.ok and planned.seed is not None:
            self.jobs.append(hashseed.Rerun(planned.seed, str(planned.faults), str(self.plan), args.quiesce_after,
                                          result.trace_hash))
        if not result.ok:
            self._failed(planned, result, progress)

    def _failed(self, planned: Planned, result: RunResult, progress: Progress) -> None:
        """Say a failing world: which it is, its first violation, how to reproduce it, and save it to
        ``--traces-dir``."""
        self.failing += 1
        self.by_check.update(v.check for v in result.violations)
        if progress.tty:
            sys.stderr.write("\r")
        first = result.violations[0]
        more = f" (+{len(result.violations) - 1} more)" if len(result.violations) > 1 else ""
        named = diagnosis(result)
        print(f"{_name(planned)}: FAILED {first}{more}" + (f"\n  bug: {named}" if named else ""))
        if planned.seed is None:
            again = _reproduce(self.args, None, planned.faults, planned.plan, aimed=True)
        else:
            again = _reproduce(self.args, planned.seed, planned.faults, self.plan)
        print(f"  reproduce: {again}")
        if self.args.traces_dir:
            path = Path(self.args.traces_dir) / f"{_file_name(planned)}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(saved.dumps(result, coverage=self.aimed.coverage.line() if self.aimed.aim else ""))

    def _summary(self, worlds: int, elapsed: float) -> None:
        """The sweep's last lines: coverage, worlds and failures, faults injected, violations, roots,
        throughput; and, with ``--show-uncovered``, every point the sweep did not run and why."""
        counts, by_check, coverage = self.counts, self.by_check, self.aimed.coverage
        injected = ", ".join(f"{k} {counts[k]}" for k in sorted(counts)) or "none"
        violations = ", ".join(f"{k} {n}" for k, n in sorted(by_check.items())) or "none"
        if self.aimed.aim:
            print(coverage.line())
            for note in coverage.notes():
                print(f"  {note}")
        else:
            seeds = range(self.args.first_seed, self.args.first_seed + self.args.seeds)
            why = ("a --plan pins the faults" if self.plan.points else "--no-aim" if self.args.no_aim
                   else "no fault kinds")
            print(f"points: not aimed ({why}); seeds run: {len(seeds)} ({seeds.start}..{seeds.stop - 1})")
        if self.args.show_uncovered:
            left = self.aimed.uncovered()
            print(f"uncovered: {len(left) or 'nothing'}")
            for line in left:
                print(f"  {line}")
        hashed = f" ({self.by_check['hash-seed']} by the hash-seed check)" if self.by_check["hash-seed"] else ""
        print(f"worlds run: {worlds}; failing: {self.failing}{hashed}")
        print(f"faults injected: {injected}")
        print(f"violations: {violations}")
        for line in self.roots.lines(self.scenario):
            print(line)
        print(f"throughput: {worlds / elapsed:.1f} worlds/s, {self.steps / elapsed:,.0f} steps/s "
              f"({elapsed:.2f} s)")


def _name(planned: Planned) -> str:
    """How a failing world is named on its line: ``seed 7``, ``swarm seed 7 (crash=0.05:2)``, ``the
    fault-free world``, ``at(crash, await pay.0)``."""
    if planned.seed is not None:
        return f"swarm seed {planned.seed} (faults {planned.faults})" if planned.phase == SWARM else \
            f"seed {planned.seed}"
    return "the fault-free world" if planned.point is None else str(planned.plan)


def _file_name(planned: Planned) -> str:
    """The file a failing world is saved to in ``--traces-dir`` (without ``.json``)."""
    if planned.seed is not None:
        return f"seed-{planned.seed}"
    if planned.point is None:
        return "fault-free"
    return re.sub(r"[^\w.-]+", "-", str(planned.plan)).strip("-")


def _check_hash_seed(args: argparse.Namespace, scenario: Scenario, jobs: list[hashseed.Rerun]) -> int:
    """Re-run the passing worlds ``jobs`` under another hash seed (one subprocess); 1 if one differs."""
    spec = scenario_spec(scenario, args.target)
    spec["store"] = args.store
    if args.no_isolation:
        spec["isolate"] = False
    config = SimConfig(budget=args.budget, max_promises=args.max_promises, max_depth=args.max_depth)
    found = hashseed.first_difference(spec, config, jobs)
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
    args: argparse.Namespace, scenario: Scenario, faults: FaultConfig, plan: FaultPlan, config: SimConfig, *,
    aimed: bool = False,
) -> int:
    """Run world ``--seed`` (or, ``aimed``, the quiet world with ``--aim``'s faults) and show it (its tree,
    text trace or JSON; its summary and reproduce line); ``--out`` and ``--html`` write it too. 1 if it failed."""
    result = _world(args, scenario, args.seed, faults, plan, config, aimed=aimed)
    if args.check_determinism:
        again = _world(args, scenario, args.seed, faults, plan, config, aimed=aimed)
        result = determinism(result, again)
    if args.check_hash_seed and result.ok and not aimed:
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
            print(f"reproduce: {_reproduce(args, args.seed, faults, plan, aimed=aimed)}")
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
