"""One simulated world: a single ``trio.run`` under a MockClock and a seeded scheduler, with a server,
a network, worker processes, a client that starts the root, and the fault injector."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import trio
import trio.testing

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.codec import describe_call, encode, encode_call
from pytest_durable.core.errors import (
    MissingDependency,
    NondeterminismError,
    PlatformError,
    RegistrationError,
    StoreUnavailable,
    UsageError,
    UserBaseException,
)
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.store import TAG_ORIGIN, TAG_SCOPE
from pytest_durable.sdk import BodyHook, DurableFunction, ErrorHook

from . import checks, oracle, virtual_time
from .collector import fewer_collections
from .config import SimConfig
from .decisions import Decisions, SeededDecisions
from .faults import CRASH_OPS, CRASH_WHEN, FaultConfig, FaultPlan
from .injector import AwaitCrashes, Injector
from .interrupts import interrupt_in
from .ledger import Ledger, set_current
from .network import SimStore
from .outcomes import acceptable_outcome
from .process import SimProcess
from .result import RunResult, Violation, cause_first
from .scenario import NOT_GIVEN, Scenario
from .scheduler import deterministic_scheduling
from .script import Action
from .server import ServerDied, SimServer
from .trace import Event, Trace
from .watchdog import StuckBody, Watchdog


def _error_kind(error: BaseException) -> str:
    if isinstance(error, NondeterminismError):
        return "nondeterminism"
    if isinstance(error, RegistrationError):
        return "unregistered"
    if isinstance(error, UserBaseException):
        return "user-base-exception"
    if isinstance(error, MissingDependency):
        return "missing-dependency"
    return "error"


def _stuck(exc: BaseException) -> StuckBody | None:
    if isinstance(exc, StuckBody):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        group = exc.subgroup(StuckBody)
        if group is not None:
            return _stuck(group.exceptions[0])
    return None


class InjectedFault(Exception):
    """A transient failure the simulator injected into a leaf (fault kind ``reject``)."""


class World:
    """Everything one simulated run holds; ``run_world`` builds, runs and checks it."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        faults: FaultConfig,
        plan: FaultPlan,
        config: SimConfig,
        decisions: Decisions,
        store: InspectableStore | None = None,
        observers: Sequence[Callable[[Event], None]] = (),
        script: Sequence[Action] = (),
        stop_at: float | None = None,
    ) -> None:
        self.scenario = scenario
        names = [name for name, _ in scenario.process_names()]
        for action in script:
            if action.kind in ("crash", "restart") and action.target not in names:
                raise UsageError(f"script: {action}: no process {action.target!r}; processes are {', '.join(names)}")
            when, _, op = action.target.partition(" ")
            if action.kind == "crash_next" and (when not in CRASH_WHEN or op not in CRASH_OPS):
                raise UsageError(f"script: {action}: write the target as 'WHEN OP' with WHEN one of "
                                 f"{'/'.join(CRASH_WHEN)} and OP one of {', '.join(CRASH_OPS)}")
        self.script = sorted(script, key=lambda a: a.at)
        self.stop_at = stop_at
        self.faults = faults
        self.config = config
        self.decisions = decisions
        self.trace = Trace(observers)
        self.violations: list[Violation] = []
        self.injector = Injector(faults, plan, decisions, trio.current_time)
        self.store: InspectableStore = store if store is not None else MemoryStore(TrioClock())
        self.server = SimServer(self, self.store)
        self.ledger = Ledger(now=trio.current_time)
        self.processes = [SimProcess(self, name, group) for name, group in scenario.process_names()]
        self._partitions: dict[str, float] = {}
        self._reported: set[tuple[str, str]] = set()
        #: The world's own nursery, for what outlives the task that starts it (a late duplicate).
        self.nursery: trio.Nursery | None = None
        self.root: PromiseRecord | None = None
        self._within_budget = trio.CancelScope()
        fn = scenario.workflow
        self.root_param = encode_call(fn.name, scenario.args, scenario.kwargs, names=fn.param_names)

    # -- used by the parts ------------------------------------------------------------------------------

    def random(self) -> float:
        """Randomness for ``ctx.random()`` inside the world."""
        return self.decisions.choose("rng", 1 << 30) / (1 << 30)

    def latency(self, where: str = "") -> float:
        config = self.config
        latency = config.min_latency + config.latency_step * self.decisions.choose("latency", config.latency_steps)
        if self.injector.fire("delay", where):
            latency += config.delay * self.injector.amount("delay")
        return latency

    def partitioned(self, name: str) -> bool:
        return trio.current_time() < self._partitions.get(name, -math.inf)

    def violation(self, check: str, message: str, id: str = "", events: tuple[int, ...] = ()) -> None:
        event = self.trace.add(trio.current_time(), "checks", 0, "violation", id, f"{check}: {message}")
        self.violations.append(Violation(check, message, id, (*events, event.seq)))

    def body_hook(self, process: SimProcess) -> BodyHook:
        def on_body(id: str, fn: DurableFunction[..., Any]) -> None:
            self.trace.add(trio.current_time(), process.name, process.incarnation, "body", id, fn.name, func=fn.name,
                           workflow="yes" if fn.is_workflow else "")
            if not fn.is_workflow and self.injector.fire("reject", f"body {id}"):
                self.trace.add(trio.current_time(), process.name, process.incarnation, "reject", id, fn.name)
                raise InjectedFault(f"injected transient failure in {fn.name} ({id})")

        return on_body

    def error_hook(self, process: SimProcess) -> ErrorHook:
        """What a worker calls when a task fails with an error no retry can fix: a violation of its own
        kind naming the promise (once per kind and promise), and an event each time it happens."""
        def on_error(task_id: str, promise_id: str, error: BaseException) -> None:
            check = _error_kind(error)
            record = self.store.promise(promise_id)
            call = f" {describe_call(record.param)}" if record is not None else ""
            message = f"{promise_id}{call} (task {task_id} on {process.name}#{process.incarnation}): {error}"
            if isinstance(error, RegistrationError):
                message += "; in a world, list the function in Scenario(functions=...)"
            if isinstance(error, MissingDependency):
                message += (f"; in a world, pass Scenario(dependencies={{{error.name!r}: factory}}) or "
                            f"durable_sim.run(..., dependencies={{{error.name!r}: factory}})")
            event = self.trace.add(trio.current_time(), process.name, process.incarnation, check, promise_id,
                                   str(error))
            if (check, promise_id) not in self._reported:
                self._reported.add((check, promise_id))
                self.violation(check, message, promise_id, (event.seq,))

        return on_error

    # -- running ----------------------------------------------------------------------------------------

    async def main(self) -> None:
        set_current(self.ledger)
        if self.faults.rate("crash") > 0 or self.injector.awaits_planned:
            trio.lowlevel.add_instrument(AwaitCrashes(self.injector, self.processes))
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            nursery.start_soon(self.server.sweeper, self.config.sweep_interval)
            for process in self.processes:
                nursery.start_soon(process.run, name=f"process {process.name}")
            nursery.start_soon(self._chaos)
            if self.script:
                nursery.start_soon(self._director)
            with trio.CancelScope(deadline=self._end()) as self._within_budget:
                self.root = await self._client()
            nursery.cancel_scope.cancel()

    async def _director(self) -> None:
        """Carry out the script, each action at its time."""
        processes = {p.name: p for p in self.processes}
        for action in self.script:
            await virtual_time.sleep_until(action.at)
            now = trio.current_time()
            if action.kind in ("crash", "restart"):
                process = processes[action.target]
                if action.kind == "crash" and process.alive:
                    self.injector.count("crash")
                    process.kill("scripted")
                elif action.kind == "restart" and not process.alive:
                    process.wake()
            elif action.kind == "crash_next":
                when, _, op = action.target.partition(" ")
                self.injector.forced_crashes.append((when, op))
            elif action.kind == "drop":
                self.injector.forced_drops.append(action.target)
            else:
                value = encode(action.value, what=f"settle {action.target}")
                try:
                    ok, result = self.server.apply("director", 0, "settle", action.target, "settle_promise",
                                                   (action.target, PromiseState.RESOLVED, value), {"fence": None})
                except ServerDied:
                    ok, result = False, "the server died during the request"
                detail = "resolved" if ok else f"refused: {result}"
                self.trace.add(now, "director", 0, "settle", action.target, detail)

    def budget(self) -> float:
        """How long after faults stop the root may take to settle: the configured budget, and more
        for every promise the world has made (the work grows with the fan-out)."""
        return self.config.budget + self.config.budget_per_promise * self.store.promise_count()

    def _end(self) -> float:
        end = self.faults.quiesce_after + self.budget()
        return end if self.stop_at is None else min(end, self.stop_at)

    async def _client(self) -> PromiseRecord:
        """Start the root through the network and poll until it settles."""
        store = SimStore(self, "client", 0)
        scenario = self.scenario
        tags = {TAG_ORIGIN: scenario.root_id, TAG_SCOPE: "global"}
        while True:
            try:
                await store.create_promise(
                    scenario.root_id, self.root_param, self.config.root_timeout, tags, target=scenario.group
                )
                break
            except StoreUnavailable:
                await virtual_time.sleep(self.config.poll_interval)
        while True:
            try:
                record = await store.get_promise(scenario.root_id)
            except StoreUnavailable:
                record = None
            if record is not None and record.settled:
                return record
            self._within_budget.deadline = self._end()  # only ever later: the world has made more promises
            await virtual_time.sleep(self.config.poll_interval)

    async def _chaos(self) -> None:
        """Partitions and server restarts, one chance each per tick until faults stop."""
        config = self.config
        tick = 0
        while not self.injector.quiet:
            await virtual_time.sleep(config.fault_tick)
            tick += 1
            if self.injector.fire("partition", f"tick {tick}"):
                victim = self.processes[self.decisions.choose("partition_who", len(self.processes))]
                length = config.partition_length * self.injector.amount("partition")
                self._partitions[victim.name] = trio.current_time() + length
                self.trace.add(trio.current_time(), victim.name, victim.incarnation, "partition", "", f"{length:g} s")
            if self.server.up and self.server.dying is None and self.injector.fire("server_restart", f"tick {tick}"):
                down = config.server_down * self.injector.amount("server_restart")
                self.server.dying = down  # it dies in the middle of the next request it applies
                self.trace.add(trio.current_time(), "server", 0, "server_restart", "",
                               f"dies during its next request, then down {down:g} s")


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
    Checks (3) and (4) replay each workflow over the world's own record (``sim.oracle``), so no other
    world is needed to judge this one. ``store`` lets a test plant its own store;
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
            raise interrupt from None
        stuck = _stuck(exc)
        if stuck is not None:  # the world stopped there: only the checks that hold part-way apply
            _report_stuck(world, stuck, clock.current_time())
            stop_at = clock.current_time()
        elif isinstance(exc, (Exception, PlatformError, BaseExceptionGroup)):  # escaped the SDK: a violation
            world.trace.add(clock.current_time(), "world", 0, "error", "", f"{type(exc).__name__}: {exc}")
            world.violations.append(Violation("error", f"the world raised {type(exc).__name__}: {exc}"))
        else:
            raise
    diverged = getattr(decisions, "diverged", "")  # a replay that stopped matching its recording
    if diverged:
        world.violations.append(Violation(
            "determinism", f"the world asked for other choices than the ones it replays ({diverged}): the code "
            "changed since they were recorded, or it reads time or randomness outside ctx"))
    world.server.final_scan_at(clock.current_time())
    promises = tuple(world.store.promises())
    found = list(world.violations)
    found += checks.no_rerun_after_resolve(world.trace)
    found += oracle.check(promises, scenario, config.step_limit)
    partial = stop_at is not None and world.root is None  # part-way: the world's outcome is not known yet
    if not partial:
        if scenario.expected is not NOT_GIVEN:
            found += checks.expected_value(world.root, scenario.expected)
        if scenario.outcomes is not NOT_GIVEN:
            found += acceptable_outcome(world.root, scenario.outcomes)
        found += checks.liveness(
            world.root, scenario.root_id, fault_config.quiesce_after, world.budget(), world.root_param
        )
    result = RunResult(
        seed=seed if seeded else None,
        faults=str(fault_config),
        plan=str(fault_plan),
        root_id=scenario.root_id,
        root=world.root,
        promises=promises,
        trace=world.trace,
        fault_counts=dict(sorted(world.injector.counts.items())),
        violations=tuple(found),
        ledger=world.ledger,
        decisions=tuple(decisions.log),
        virtual_time=clock.current_time(),
        target=target,
        unfired=world.injector.unfired(),
        quiesce_after=fault_config.quiesce_after,
        budget=config.budget,
    )
    for invariant in scenario.invariants:
        for line in invariant(result):
            found.append(Violation("user", line))
    ordered = cause_first(found, world.root)  # the cause first, then its symptoms
    if ordered != result.violations:
        result = result.with_violations(ordered)
    return result


def _report_stuck(world: World, stuck: StuckBody, now: float) -> None:
    """A body stopped by the watchdog: the world ends there, with a violation naming the promise."""
    id = stuck.promise or ""
    record = world.store.promise(id) if id else None
    call = f" {describe_call(record.param)}" if record is not None else ""
    event = world.trace.add(now, "world", 0, "stuck-body", id, str(stuck))
    world.violations.append(Violation(
        "stuck-body", f"{id}{call}: {stuck}: an endless loop or a blocking call; a body must await (ctx calls, "
        "trio.sleep) to let the world go on. The world was stopped there (SimConfig.step_limit)", id, (event.seq,)))
