"""One simulated world: a server, a network, worker processes, a client that starts the root, the
fault injector and the checks that watch it run, all in a single ``trio.run`` (``sim.runner`` runs it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import trio

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.codec import encode_call
from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.memory_store import MemoryStore
from pytest_durable.core.records import PromiseRecord, TaskState
from pytest_durable.core.store import TAG_TARGET
from pytest_durable.sdk import WorkflowEnd

from ..checks import Findings, PlatformErrors, SettledOnce, TaskInvariants, report_cap
from ..faults import AwaitCrashes, FaultConfig, FaultPlan, Injector
from ..kernel.decisions import Decisions
from ..scenario import Action, Scenario, SimConfig, versions
from ..trace import Event, Ledger, Trace, set_current
from .actors import Actors
from .bodies import body_hook
from .chaos import CHAOS_KINDS, chaos
from .client import start_and_await_root
from .deploy import Deploy
from .director import Director
from .network import Network
from .server import SimServer
from .sim_process import SimProcess, Surroundings


class World:
    """Everything one simulated run holds: built here from a scenario, run by ``main``."""

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
        self.stop_at = stop_at
        self.faults = faults
        self.plan = plan
        self.config = config
        self.decisions = decisions
        self.trace = Trace(observers)
        self.findings = Findings(self.trace, trio.current_time)
        self.injector = Injector(faults, plan, decisions, trio.current_time)
        self.store: InspectableStore = store if store is not None else MemoryStore(TrioClock())
        self.settled_once = SettledOnce(self.trace, self.findings, trio.current_time)
        self.server = SimServer(self.store, self.trace, (self.settled_once, TaskInvariants(self.store, self.findings)),
                                decisions)
        self.ledger = Ledger(now=trio.current_time)
        self.network = Network(config, decisions, self.injector, self.trace, self.server)
        errors = PlatformErrors(self.store, self.trace, self.findings, trio.current_time)
        #: How each workflow body that ended with a settlement ended, by promise (the oracle's shortcut)
        self.ends: dict[str, list[WorkflowEnd]] = {}
        code = versions(scenario)
        around = Surroundings(scenario, config, self.trace, self.network, self.injector, self.random,
                              partial(body_hook, self.trace, self.injector, trio.current_time), errors.hook,
                              self._ended, code, self._version_of)
        self.processes = [SimProcess(name, group, around) for name, group in scenario.process_names()]
        #: The deploy of the scenario's upgrade (``None`` without one).
        self.deploy = (Deploy(scenario.upgrade, code[0], code[1], self.processes, decisions, self.trace, self.server)
                       if scenario.upgrade is not None else None)
        self.director = Director(script, self.processes, self.injector, self.server, self.trace) if script else None
        self.actors = Actors(scenario, config, self.network, decisions, self.trace) if scenario.actors else None
        self.root: PromiseRecord | None = None
        #: The virtual time the world was stopped at for making too many promises (``promise_cap``).
        self.capped_at: float | None = None
        self.server.create_limit = config.max_promises
        self.server.depth_limit = config.max_depth
        self.server.over_limit = self._over_cap
        self._within_budget = trio.CancelScope()
        fn = scenario.workflow
        self.root_param = encode_call(fn.name, scenario.args, scenario.kwargs, names=fn.param_names)

    def _version_of(self, process: str) -> int:
        return 1 if self.deploy is None else self.deploy.version(process)

    def _ended(self, end: WorkflowEnd) -> None:
        self.ends.setdefault(end.id, []).append(end)

    def unsettled(self) -> list[str]:
        """The promises with work to run (a task: the root, rpc and detached children, what an actor
        started) that have not settled, in the order of their tasks. Read off the tasks, not by copying
        every promise: a world of 50,000 local children has one task."""
        store = self.store
        out = []
        for task in store.tasks():
            if task.state is TaskState.FULFILLED:
                continue
            record = store.promise(task.promise_id)
            if record is not None and not record.settled:
                out.append(record.id)
        return out

    def waiting(self, promises: Sequence[PromiseRecord]) -> list[str]:
        """What the finished world was still waiting for: actors with deliveries to do, then the promises
        with work to run (``promises``: the final records) that had not settled."""
        actors = self.actors.waiting() if self.actors is not None else []
        return actors + [p.id for p in promises if not p.settled and TAG_TARGET in p.tags]

    async def _rest_settled(self) -> None:
        """After the root settled: wait until every actor is done, every promise with work to run has
        settled, and no late duplicate is on the wire (what a stale copy does after the root settled is
        a bug production can show). Each wait wakes on the server's own steps, never by polling; a
        world whose work all ended with its root waits for nothing (not even a task step)."""
        while True:
            if self.actors is not None and not self.actors.finished.is_set():
                await self.actors.finished.wait()
            for id in self.unsettled():
                await self.server.until_settled(id)
            await self.network.landed()
            if (self.actors is None or self.actors.finished.is_set()) and not self.unsettled():
                return


    def _over_cap(self) -> None:
        """After a create past the cap of creates: if the store holds more promises than the cap, the
        world stops here, failing with a ``promise-cap`` violation."""
        too_deep = self.server.deepest > self.config.max_depth
        if self.capped_at is None and (too_deep or self.store.promise_count() > self.config.max_promises):
            self.capped_at = trio.current_time()
            report_cap(self.store, self.config, self.findings, too_deep=too_deep)
            self._within_budget.cancel()  # the client stops waiting, and main ends the world from its task

    def random(self) -> float:
        """Randomness for ``ctx.random()`` inside the world."""
        return self.decisions.choose("rng", 1 << 30) / (1 << 30)

    def budget(self) -> float:
        """How long after faults stop the root may take to settle: the configured budget, and more
        for every promise the world has made (the work grows with the fan-out)."""
        return self.config.budget + self.config.budget_per_promise * self.store.promise_count()

    def _end(self) -> float:
        end = self.faults.quiesce_after + self.budget()
        return end if self.stop_at is None else min(end, self.stop_at)

    def _budget_check(self) -> None:
        """An alarm at the end of the liveness budget: the world made more promises meanwhile, so its end
        is later (look again then), or the budget is spent and the client stops waiting."""
        end = self._end()
        if end > trio.current_time():
            self.server.alarms.at(end, self._budget_check)
        else:
            self._within_budget.cancel()

    async def main(self) -> None:
        set_current(self.ledger)
        if self.faults.rate("crash") > 0 or self.injector.awaits_planned:
            trio.lowlevel.add_instrument(AwaitCrashes(self.injector, self.processes))
        try:
            async with trio.open_nursery() as nursery:
                self.network.nursery = nursery
                self.server.start_sweeping()
                for process in self.processes:
                    nursery.start_soon(process.run, name=f"process {process.name}")
                if any(self.faults.rate(kind) > 0 for kind in CHAOS_KINDS):  # no tick for kinds that are off
                    nursery.start_soon(chaos, self.config, self.injector, self.decisions, self.trace, self.network,
                                       self.server, self.processes)
                if self.director is not None:
                    nursery.start_soon(self.director.run)
                if self.actors is not None:
                    nursery.start_soon(self.actors.run, name="actors")
                if self.deploy is not None:
                    nursery.start_soon(self.deploy.run, name="deploy")
                with trio.CancelScope() as self._within_budget:
                    self.server.alarms.at(self._end(), self._budget_check)
                    client = self.network.store_for("client", 0)
                    self.root = await start_and_await_root(client, self.scenario, self.config, self.root_param)
                    await self._rest_settled()
                self.server.alarms.close()
                nursery.cancel_scope.cancel()
        finally:
            self.server.alarms.close()  # nothing rings while the run winds down
