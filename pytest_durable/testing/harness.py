"""``DurableSim``: the object behind the ``durable_sim`` fixture — runs a workflow in a simulated
world with the current test's seed and settings, and keeps the worlds it ran for the report."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from sim import FaultConfig, FaultPlan, RunResult, Scenario, SimConfig, run_world
from sim.checks import determinism
from sim.kernel.decisions import PinnedDecisions
from sim.scenario import NOT_GIVEN, Actor, Upgrade, checked_outcomes
from sim.search import DrawnWorld
from sim.world import stores

from ..core.codec import encode_call
from ..core.errors import UsageError
from ..core.ids import check_root_id
from ..sdk.function import DurableFunction


@attrs.define
class WorldSettings:
    """What a world of the current test runs with; ``pytest_durable_configure_world`` may change it."""

    seed: int
    faults: str
    plan: str = ""
    workers: int = 2
    quiesce_after: float = 120.0
    budget: float = 600.0
    check_determinism: bool = False
    config: SimConfig | None = None
    #: The store each world runs over: ``memory`` or ``sqlite`` (a fresh SQLite file per world).
    store: str = "memory"
    #: The root's acceptable outcomes from ``@pytest.mark.durable(outcomes=...)`` (``Scenario(outcomes=...)``),
    #: for every ``durable_sim.run`` of the test that gives neither ``expected=`` nor ``outcomes=``.
    outcomes: Any = None
    #: The quiet schedule (every choice the first, the shortest, no fault drawn): the fault-free world of an
    #: aimed sweep, and with ``plan`` one ``at(...)`` point, one of its single-fault worlds (``sim.aim``).
    quiet: bool = False


class Aimer(Protocol):
    """Where an aimed sweep puts each ``run`` of a test (``pytest_durable.testing.aiming.TestSweeps``)."""

    def place(self, scenario: Scenario, settings: WorldSettings) -> None:
        """Make ``settings`` (in place, so whoever holds them sees it) the world this call runs in: an aimed
        one (quiet, plus a point) or a swarm one (its seed's fault mix)."""

    def record(self, result: RunResult) -> None:
        """Note the world the last placed call ran."""

    def name_of(self, result: RunResult) -> str:
        """What the sweep calls the world ``result`` ran in (``one fault: at(...)``), or "" if it did not place it."""


def _actors(actors: object) -> tuple[Actor, ...]:
    """``durable_sim.run(actors=...)`` as the scenario takes it, or one line saying what it must be."""
    if isinstance(actors, Actor) or not isinstance(actors, (tuple, list)):
        raise UsageError(f"durable_sim.run: actors= must be a list of sim.actors (resolve, reject, start), "
                         f"got {actors!r}")
    return tuple(actors)


def _outcomes(expected: Any, outcomes: Any, marked: Any) -> Any:
    """The outcomes a scenario of ``durable_sim`` gets: the call's, else the marker's unless the call
    gives ``expected``, else none."""
    if outcomes is not ...:
        return outcomes
    return marked if marked is not None and expected is ... else NOT_GIVEN


class UnmarkedDurableSimWarning(UserWarning):
    """A test used ``durable_sim`` without ``@pytest.mark.durable``: it ran one seeded world, not one per seed."""


class WorldFailed(AssertionError):
    """A simulated world broke one of its checks."""

    def __init__(self, result: RunResult, name: str = "") -> None:
        self.result = result
        lines = [str(v) for v in result.violations]
        super().__init__(f"world ({name or result.name}) broke {len(lines)} check(s):\n  " + "\n  ".join(lines))


def check_run_call(workflow: object, args: tuple[Any, ...], kwargs: dict[str, Any], *, id: object,
                   functions: object, faults: object, plan: object, workers: object, check: object, world: object,
                   dependencies: object) -> None:
    """``durable_sim.run``'s arguments checked the way ``Worker.run`` checks its own, before a world
    runs: a durable function, a good root id, arguments that fit its parameters and can be stored."""
    __tracebackhide__ = True
    where = "durable_sim.run"
    if not isinstance(workflow, DurableFunction):
        raise UsageError(f"{where}: {getattr(workflow, '__qualname__', workflow)!r} is not a durable function; "
                         "decorate it with @pytest_durable.function")
    check_root_id(id, where=where)
    workflow.check_arguments(args, kwargs, where=where)
    encode_call(workflow.name, args, kwargs, names=workflow.param_names)
    if isinstance(functions, (str, bytes)) or not isinstance(functions, Sequence) or not all(
            isinstance(fn, DurableFunction) for fn in functions):
        raise UsageError(f"{where}: functions= must be a list of durable functions (@pytest_durable.function), "
                         f"got {functions!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"{where}: workers= must be a whole number >= 1, got {workers!r}")
    if not isinstance(check, bool):
        raise UsageError(f"{where}: check= must be True or False, got {check!r}")
    if world is not None and not isinstance(world, DrawnWorld):
        raise UsageError(f"{where}: world= must be a World from pytest_durable.testing.strategies (worlds() or "
                         f"pinned_world()), got {world!r}")
    if dependencies is not None and not isinstance(dependencies, Mapping):
        raise UsageError(f"{where}: dependencies= must map names to factories, got {dependencies!r}")
    for name, text in (("faults", faults), ("plan", plan)):
        if text is not None and not isinstance(text, str):
            raise UsageError(f"{where}: {name}= must be a string, got {text!r}")
    if faults is not None:
        FaultConfig.parse(str(faults), where=f"{where}(faults=...)")
    if plan is not None:
        try:
            FaultPlan.parse(str(plan))
        except UsageError as exc:
            raise UsageError(f"{where}(plan=...): {exc}") from None


def check_outcomes_call(expected: Any, outcomes: Any) -> None:
    """``durable_sim.run``'s ``outcomes=``, when given: readable, and not given with ``expected=``."""
    __tracebackhide__ = True
    if outcomes is ...:
        return
    if expected is not ...:
        raise UsageError("durable_sim.run: give expected= (the one value the root must return) or outcomes= "
                         "(the outcomes it may reach), not both")
    checked_outcomes(outcomes, "durable_sim.run")


def hide_ours(excinfo: Any) -> bool:
    """For ``__tracebackhide__``: pytest leaves out this frame when the error is the user's to read (a
    failed world, a misuse), so the traceback ends at the test's own line; an error of ours keeps it."""
    return bool(excinfo.errisinstance((WorldFailed, UsageError)))


def discover_functions(*modules: str) -> list[DurableFunction[..., Any]]:
    """Every durable function defined at module level in ``modules``, in definition order."""
    found: dict[str, DurableFunction[..., Any]] = {}
    for name in modules:
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            if isinstance(value, DurableFunction):
                found.setdefault(value.name, value)
    return list(found.values())


class DurableSim:
    """Runs durable workflows in simulated worlds for one test.

    Each ``run`` builds a fresh world, so it is safe inside Hypothesis ``@given``. The seed and
    settings come from the test's marker, the command line, the environment or the ini file.
    """

    def __init__(self, settings: Callable[[], WorldSettings], hooks: Any = None, item: Any = None,
                 test_module: str = "", aimer: Aimer | None = None) -> None:
        self._settings = settings
        self._aimer = aimer
        self._hooks = hooks
        self._item = item
        self._test_module = test_module
        self.results: list[RunResult] = []
        self._again: list[tuple[RunResult, Callable[[], RunResult]]] = []
        self._worlds: list[tuple[RunResult, DrawnWorld]] = []
        self._scenarios: list[tuple[RunResult, Scenario]] = []
        self._names: list[tuple[RunResult, str]] = []

    @property
    def seed(self) -> int:
        """The seed the next world runs with."""
        return self._settings().seed

    @property
    def last(self) -> RunResult | None:
        """The most recent world this test ran."""
        return self.results[-1] if self.results else None

    def scenario(self, workflow: DurableFunction[..., Any], *args: Any, id: str = "root",
                 functions: Sequence[DurableFunction[..., Any]] = (), expected: Any = ..., workers: int | None = None,
                 dependencies: Mapping[str, Callable[[], object]] | None = None, outcomes: Any = ...,
                 actors: Sequence[Actor] = (), upgrade: Upgrade | None = None, **kwargs: Any) -> Scenario:
        """The scenario ``run`` would run, for inspection or for ``sim.run_world``."""
        settings = self._settings()
        known = discover_functions(workflow.__module__, self._test_module)
        all_functions = {fn.name: fn for fn in [*known, *functions]}
        invariants: list[Any] = []
        if self._hooks is not None:
            for found in self._hooks.pytest_durable_invariants(item=self._item, scenario=None):
                invariants.extend(found or [])
        return Scenario(
            workflow, tuple(args), kwargs, functions=tuple(all_functions.values()),
            workers={"default": workers or settings.workers}, root_id=id,
            expected=NOT_GIVEN if expected is ... else expected, invariants=tuple(invariants),
            dependencies=dict(dependencies or {}), outcomes=_outcomes(expected, outcomes, settings.outcomes),
            actors=_actors(actors), upgrade=upgrade,
        )

    def run(self, workflow: DurableFunction[..., Any], /, *args: Any, id: str = "root",
            functions: Sequence[DurableFunction[..., Any]] = (), expected: Any = ..., faults: str | None = None,
            plan: str | None = None, workers: int | None = None, check: bool = True, world: DrawnWorld | None = None,
            dependencies: Mapping[str, Callable[[], object]] | None = None, outcomes: Any = ...,
            actors: Sequence[Actor] = (), upgrade: Upgrade | None = None, **kwargs: Any) -> RunResult:
        """Run ``workflow(*args, **kwargs)`` as root ``id`` in one world and return its ``RunResult``.

        Durable functions defined in the workflow's module and the test's module are registered on
        every worker; pass others in ``functions``. With ``check`` (the default) a world that breaks
        a check raises ``WorldFailed``; the test's report then shows the world. ``world`` (from
        ``pytest_durable.testing.strategies``) runs it in that world: its faults and choices, not the seed's.
        ``dependencies`` maps a name to a factory of what bodies read as ``pytest_durable.dependency(name)``
        (``Scenario(dependencies=...)``: called once per process incarnation, e.g. a fake client).
        ``outcomes`` names the root's acceptable outcomes (``Scenario(outcomes=...)``: several values or a
        predicate), where ``expected`` demands one value; the marker's ``outcomes=`` applies otherwise.
        ``actors`` are outside parties (``sim.actors.resolve``, ``reject``, ``start``: ``Scenario(actors=...)``).
        ``upgrade`` deploys a second version of the code while the world runs (``sim.Upgrade``:
        ``Scenario(upgrade=...)``).
        """
        __tracebackhide__ = hide_ours
        check_run_call(workflow, args, kwargs, id=id, functions=functions, faults=faults, plan=plan, workers=workers,
                       check=check, world=world, dependencies=dependencies)
        check_outcomes_call(expected, outcomes)
        settings = self._call_settings(faults=faults, plan=plan, workers=workers)
        self._configure(settings)
        scenario = self.scenario(workflow, *args, id=id, functions=functions, expected=expected,
                                 workers=settings.workers, dependencies=dependencies, outcomes=outcomes, actors=actors,
                                 upgrade=upgrade, **kwargs)
        aimer = self._aimer if world is None and plan is None and not settings.plan else None
        if aimer is not None:  # the sweep's world for this call, within the settings the hooks left: aimed, or swarm
            aimer.place(scenario, settings)
        again = self._runner(scenario, settings, world, plan_given=plan is not None)
        result = again()
        if aimer is not None:
            aimer.record(result)
            self._names.append((result, aimer.name_of(result)))
        elif settings.quiet:  # an aimed world pinned by the marker's aim=
            self._names.append((result, f"one fault: {settings.plan}" if settings.plan else "the fault-free world"))
        if settings.check_determinism:
            # a world Hypothesis drew has used up its choices: replay them pinned
            result = determinism(result, again(world.replica() if world is not None and world.drawn is not None
                                               else world))
        self._again.append((result, again))
        self.results.append(result)
        self._scenarios.append((result, scenario))
        if world is not None:
            self._worlds.append((result, world))
        if check and not result.ok:
            raise WorldFailed(result, self.name_of(result))
        return result

    def _call_settings(self, *, faults: str | None, plan: str | None, workers: int | None) -> WorldSettings:
        """The test's world settings with what the call overrides."""
        settings = self._settings()
        if faults is not None:
            settings = attrs.evolve(settings, faults=faults)
        if plan is not None:
            settings = attrs.evolve(settings, plan=plan)
        if workers is not None:
            settings = attrs.evolve(settings, workers=workers)
        return settings

    def _configure(self, settings: WorldSettings) -> None:
        """Let ``pytest_durable_configure_world`` change the world's settings (in place)."""
        __tracebackhide__ = hide_ours
        if self._hooks is not None:
            self._hooks.pytest_durable_configure_world(item=self._item, world=settings)

    def _runner(self, scenario: Scenario, settings: WorldSettings, world: DrawnWorld | None, *,
                plan_given: bool) -> Callable[..., RunResult]:
        """A function that runs the world: in ``world`` if given one (a world brings its own plan and
        choices), else with the seed, faults and plan of ``settings`` (the hooks' fault points added);
        each time over a fresh store of its kind, with the hooks seeing every event."""
        __tracebackhide__ = hide_ours
        observers: list[Any] = []
        if self._hooks is not None:
            extra = self._hooks.pytest_durable_fault_points(item=self._item, scenario=scenario)
            if extra:
                settings.plan = "; ".join(p for p in (settings.plan, str(extra)) if p)
            hooks, item = self._hooks, self._item
            observers.append(lambda event: hooks.pytest_durable_on_event(item=item, event=event))
        config = settings.config or SimConfig(budget=settings.budget)
        fault_config = FaultConfig.parse(settings.faults, quiesce_after=settings.quiesce_after)
        fault_plan = FaultPlan.parse(settings.plan)
        if world is None:  # a world brings its own plan
            fault_plan.check_processes([name for name, _ in scenario.process_names()], where=(
                "durable_sim.run(plan=...)" if plan_given else "@pytest.mark.durable(plan=...)"))

        def again(in_world: DrawnWorld | None = world) -> RunResult:
            with stores.world_store(settings.store) as store:  # looked up per world: a test may replace it
                if in_world is not None:
                    return in_world.run(scenario, config=config, observers=observers, store=store)
                if settings.quiet:
                    return run_world(scenario, faults=fault_config, plan=fault_plan, config=config, observers=observers,
                                     store=store, decisions=PinnedDecisions({}))
                return run_world(scenario, seed=settings.seed, faults=fault_config, plan=fault_plan, config=config,
                                 observers=observers, store=store)

        return again

    @property
    def seeded_runs(self) -> int:
        """How many ``run`` calls ran in the test's seeded world (no ``world=`` given)."""
        return len(self.results) - len(self._worlds)

    def name_of(self, result: RunResult) -> str:
        """The world ``result`` ran in, in words: ``one fault: at(crash, await pay.0)``, ``the fault-free world``,
        ``swarm world, seed 7 (faults ...)``; else the result's own name (``seed 7``, ``drawn world``)."""
        return next((name for produced, name in self._names if produced is result and name), result.name)

    def world_of(self, result: RunResult) -> DrawnWorld | None:
        """The ``DrawnWorld`` ``result`` ran in, if ``run`` was given one."""
        return next((w for produced, w in self._worlds if produced is result), None)

    def scenario_of(self, result: RunResult) -> Scenario | None:
        """The ``Scenario`` ``result`` ran (for a saved world to record)."""
        return next((s for produced, s in self._scenarios if produced is result), None)

    def rerun(self, result: RunResult) -> RunResult:
        """Run the world ``result`` came from again: the same call, seed and settings."""
        for produced, again in self._again:
            if produced is result:
                return again()
        raise ValueError("DurableSim.rerun: this result was not produced by this durable_sim; pass one it returned")
