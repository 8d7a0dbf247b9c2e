"""One world, from seed to verdict: build it, run it, judge it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import trio

from pytest_durable.core.errors import PlatformError
from pytest_durable.core.inspection import InspectableStore

from ..checks import cause_first, diverged, judge, stuck_body, user_invariants, world_raised
from ..faults import FaultConfig, FaultPlan
from ..kernel import blocking, entropy, virtual_time
from ..kernel.collector import fewer_collections
from ..kernel.decisions import Decisions, SeededDecisions
from ..kernel.interrupts import afresh, interrupt_in
from ..kernel.scheduler import deterministic_scheduling
from ..kernel.watchdog import Watchdog, stuck_in
from ..scenario import Action, FactoryError, Scenario, SimConfig
from ..trace import Event
from ..world import RunResult, World


@attrs.frozen
class _Ran:
    """How a run ended: the virtual time, and the time it was stopped at part-way (if it was)."""

    now: float
    stopped_at: float | None


def run_world(
    scenario: Scenario,
    *,
    seed: int | None = 0,
    faults: FaultConfig | str | None = None,
    plan: FaultPlan | str | None = None,
    config: SimConfig | None = None,
    decisions: Decisions | None = None,
    store: InspectableStore | None = None,
    target: str = "",
    observers: Sequence[Callable[[Event], None]] = (),
    script: Sequence[Action] = (),
    stop_at: float | None = None,
    instruments: Sequence[trio.abc.Instrument] = (),
) -> RunResult:
    """Run ``scenario`` in one world and check it.

    ``seed`` seeds every choice (or pass ``decisions``); ``faults`` and ``plan`` say what goes wrong.
    Checks (3) and (4) replay each workflow over the world's own record where that could disagree with the run
    (``sim.checks.oracle``, ``sim.checks.replay_scope``), so no
    other world is needed to judge this one. ``store`` lets a test plant its own store;
    ``observers`` are called with every trace event as it happens. ``script`` holds actions taken
    from outside at given times; ``stop_at`` ends the world early, at that virtual time, and then
    only the checks that hold part-way (1, 2 and 6, and task invariants) are made. ``instruments``
    are trio instruments for the run (a benchmark counts task steps with one).
    """
    fault_config = FaultConfig.parse(faults) if isinstance(faults, str) else (faults or FaultConfig())
    fault_plan = FaultPlan.parse(plan) if isinstance(plan, str) else (plan or FaultPlan())
    config = config or SimConfig()
    seeded = decisions is None
    if decisions is None:
        decisions = SeededDecisions(seed if seed is not None else 0)
    world = World(
        scenario, faults=fault_config, plan=fault_plan, config=config, decisions=decisions, store=store,
        observers=observers, script=script, stop_at=stop_at,
    )
    # The judging too: the replay oracle's bodies continue the world's stream and skip synchronous sleeps.
    with entropy.seeded(decisions), blocking.watched(config.slow_step) as blocked:  # said after the world
        ran = _run(world, config, decisions, [*instruments, *blocked.instruments()], stop_at)
        return _judge(world, ran, seed=seed if seeded else None, target=target)


def _run(world: World, config: SimConfig, decisions: Decisions, instruments: Sequence[trio.abc.Instrument],
         stop_at: float | None) -> _Ran:
    """Run the world in one ``trio.run`` under the seeded scheduler (and the watchdog, if a step limit is
    set). What ends it early is the world's to report: a stopped body, an error escaping the SDK; a
    Ctrl-C is the user's and stops everything."""
    clock = virtual_time.clock()
    watchdog = Watchdog(config.step_limit) if config.step_limit > 0 else None
    try:
        with deterministic_scheduling(decisions), fewer_collections():
            if watchdog is None:
                trio.run(world.main, clock=clock, instruments=list(instruments))
            else:
                with watchdog.armed():
                    trio.run(world.main, clock=clock, instruments=[watchdog, *instruments])
    except BaseException as exc:
        interrupt = interrupt_in(exc)
        if interrupt is not None:  # the user's: it stops the run, it is not a failing world
            raise afresh(interrupt) from None
        setup = _factory_error(exc)
        if setup is not None:  # the scenario cannot run at all: the user's error, said once
            raise setup from None
        stuck = stuck_in(exc)
        if stuck is not None:  # the world stopped there: only the checks that hold part-way apply
            world.findings.add(stuck_body(stuck, world.store, world.trace, clock.current_time()))
            stop_at = clock.current_time()
        elif isinstance(exc, (Exception, PlatformError, BaseExceptionGroup)):  # escaped the SDK: a violation
            world.findings.add(world_raised(exc, world.trace, clock.current_time()))
        else:
            raise
    if world.capped_at is not None:  # too many promises: stopped there, judged as a world stopped part-way
        stop_at = world.capped_at
    for violation in diverged(decisions):  # a replay that stopped matching its recording
        world.findings.add(violation)
    world.settled_once.final_scan(world.store, clock.current_time())
    return _Ran(clock.current_time(), stop_at)


def _judge(world: World, ran: _Ran, *, seed: int | None, target: str) -> RunResult:
    """The checks of the finished world, its result, and the user's invariants given that result;
    violations cause first."""
    scenario, config, faults = world.scenario, world.config, world.faults
    promises = tuple(world.store.promises())
    finished = ran.stopped_at is None or world.root is not None  # else part-way: no outcome yet
    verdict = judge(world.findings.found, world.trace, promises, scenario, world.root, finished=finished,
                    step_limit=config.step_limit, quiesce_after=faults.quiesce_after, budget=world.budget(),
                    root_param=world.root_param, faults=world.injector.counts,
                    replay_all=config.replay_all, ends=world.ends,
                    waiting=world.waiting(promises) if ran.stopped_at is None else ())
    found = list(verdict.violations)
    result = RunResult(
        seed=seed,
        faults=str(faults),
        plan=str(world.plan),
        root_id=scenario.root_id,
        root=world.root,
        promises=promises,
        trace=world.trace,
        fault_counts=dict(sorted(world.injector.counts.items())),
        violations=tuple(found),
        ledger=world.ledger,
        decisions=tuple(world.decisions.log),
        virtual_time=ran.now,
        target=target,
        unfired=world.injector.unfired(),
        quiesce_after=faults.quiesce_after,
        budget=config.budget,
        max_promises=config.max_promises,
        max_depth=config.max_depth,
        replayed=verdict.replayed,
        unreplayed=verdict.unreplayed,
    )
    found += user_invariants(result, scenario.invariants)
    ordered = cause_first(found, world.root)  # the cause first, then its symptoms
    return result if ordered == result.violations else result.with_violations(ordered)


def _factory_error(exc: BaseException) -> FactoryError | None:
    """A dependency factory that raised, wherever trio put it (several processes may have met it)."""
    if isinstance(exc, FactoryError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _factory_error(inner)
            if found is not None:
                return found
    return None
