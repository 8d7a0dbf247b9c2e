"""A ``Scenario``: what a world runs — the root workflow and its arguments, the functions and worker
processes, and what the outcome should be."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from pytest_durable.core.errors import UsageError
from pytest_durable.sdk import DurableFunction

from .actors import Actor
from .outcomes import checked_outcomes
from .upgrade import Upgrade

#: A user invariant: given a finished world (a ``sim.RunResult``), the broken rules, one line each
#: (check 8). Typed loosely here because the result is made a layer above the scenario.
Invariant = Callable[[Any], Iterable[str]]

NOT_GIVEN: Any = object()


@attrs.frozen
class Scenario:
    """One durable workflow run as a root, with the worker processes that serve it.

    ``workers`` maps a group to its number of processes (``w1``, ``w2``, … across groups); the root
    runs on ``group``. ``expected`` (if given) is the root's value every world must reach; ``outcomes``
    (if given, instead) the outcomes it may reach, since faults may rightly change how a workflow ends:
    several values (``("completed", "refunded")``; an exception class among them accepts a root rejected
    with that error), or a predicate called with the root's value, or its ``Rejected`` error
    (``sim.scenario.outcomes``). In any case the value must be what a replay of the world's own record
    gives (``sim.checks.oracle``).

    ``isolate`` says which modules each process incarnation gets fresh copies of (``sim.scenario.isolate``):
    ``True`` (the default) the user modules that define the durable functions, ``False`` none (module
    state is then shared by all processes and survives crashes), or a tuple of module names to add to
    the default set, a name written ``"-name"`` to take one out.

    ``dependencies`` maps a name to a factory (a callable without arguments) of the object workers hand
    to bodies (``pytest_durable.dependency(name)``): each process incarnation calls it once, so a crash
    gives the restarted process a fresh client, as a real restart would. A factory defined at module
    level in an isolated module is taken from the incarnation's fresh copy of that module.

    ``actors`` are outside parties that resolve, reject or start promises at given or drawn times through
    the network (``sim.actors``: ``resolve``, ``reject``, ``start``); the world runs until each has done
    what it does and every promise with work to run (the root, rpc and detached children, what an actor
    started) has settled.

    ``upgrade`` (a ``sim.Upgrade``) deploys a second version of the functions while the world runs:
    incarnations that start after the deploy run it (``sim.scenario.upgrade``), and the checks name which
    version ran which body.
    """

    workflow: DurableFunction[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    functions: tuple[DurableFunction[..., Any], ...] = ()
    workers: Mapping[str, int] = attrs.field(factory=lambda: {"default": 2})
    group: str = "default"
    root_id: str = "root"
    expected: Any = NOT_GIVEN
    outcomes: Any = NOT_GIVEN
    invariants: tuple[Invariant, ...] = ()
    isolate: bool | tuple[str, ...] = True
    dependencies: Mapping[str, Callable[[], object]] = attrs.field(factory=dict)
    actors: tuple[Actor, ...] = ()
    upgrade: Upgrade | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.workflow, DurableFunction):
            raise UsageError(f"Scenario: workflow must be a @function, got {self.workflow!r}")
        if self.group not in self.workers or self.workers[self.group] < 1:
            raise UsageError(f"Scenario: the root's group {self.group!r} needs at least one worker in workers=")
        if not isinstance(self.isolate, bool) and not (
            isinstance(self.isolate, tuple) and all(isinstance(n, str) and n.strip("-") for n in self.isolate)
        ):
            raise UsageError(f"Scenario: isolate must be True, False or a tuple of module names (\"-name\" to "
                             f"leave one out), got {self.isolate!r}")
        if self.outcomes is not NOT_GIVEN:
            if self.expected is not NOT_GIVEN:
                raise UsageError("Scenario: give expected= (the one value the root must return) or outcomes= (the "
                                 "outcomes it may reach), not both; put the expected value among the outcomes")
            object.__setattr__(self, "outcomes", checked_outcomes(self.outcomes, "Scenario"))
        if not isinstance(self.dependencies, Mapping):
            raise UsageError(f"Scenario: dependencies must map names to factories, got {self.dependencies!r}")
        for name, factory in self.dependencies.items():
            if not isinstance(name, str) or not name or name != name.strip():
                raise UsageError(f"Scenario(dependencies=...): a dependency name must be a non-empty string "
                                 f"without surrounding spaces, got {name!r}")
            if not callable(factory):
                raise UsageError(
                    f"Scenario(dependencies=...): {name!r} must be a factory called once per process incarnation "
                    f"(a class or a function without arguments), got {factory!r}; write lambda: obj to share "
                    "one object between processes and crashes"
                )
        self._check_actors()
        self._check_upgrade()
        seen: dict[str, DurableFunction[..., Any]] = {}
        for fn in (self.workflow, *self.functions, *(a.fn for a in self.actors if a.fn is not None)):
            if not isinstance(fn, DurableFunction):
                raise UsageError(f"Scenario: functions must be @function objects, got {fn!r}")
            other = seen.setdefault(fn.name, fn)
            if other is not fn:
                raise UsageError(
                    f"Scenario: two functions are named {fn.name!r}: {_where(other)} and {_where(fn)}; a worker "
                    "runs one function per name, so give one of them another name with @function(name=...)"
                )

    def _check_actors(self) -> None:
        if isinstance(self.actors, Actor) or not isinstance(self.actors, (tuple, list)):
            raise UsageError(f"Scenario: actors= must be a tuple of sim.actors (resolve, reject, start), got "
                             f"{self.actors!r}")
        object.__setattr__(self, "actors", tuple(self.actors))
        for actor in self.actors:
            if not isinstance(actor, Actor):
                raise UsageError(f"Scenario(actors=...): {actor!r} is not an actor; make one with sim.actors.resolve, "
                                 "reject or start")
            if actor.kind == "start" and actor.id == self.root_id:
                raise UsageError(f"Scenario(actors=...): {actor} starts the root {self.root_id!r}, which the "
                                 "world's client starts; give it another id")
            if actor.group is not None and actor.group not in self.workers:
                raise UsageError(f"Scenario(actors=...): {actor} targets group {actor.group!r}, which has no "
                                 f"workers; groups are {', '.join(self.workers)}")

    def _check_upgrade(self) -> None:
        upgrade = self.upgrade
        if upgrade is None:
            return
        if not isinstance(upgrade, Upgrade):
            raise UsageError(f"Scenario: upgrade= must be a sim.Upgrade(to='module.of.version2', ...), got {upgrade!r}")
        count = sum(self.workers.values())
        if isinstance(upgrade.fleet, int) and upgrade.fleet >= count:
            raise UsageError(f"Scenario(upgrade=...): fleet={upgrade.fleet} keeps every one of the {count} workers on "
                             "the old version; keep fewer, or add workers")
        defined = upgrade.functions()
        names = [fn.name for fn in self.all_functions()]
        if not any(name in defined for name in names):
            raise UsageError(f"Upgrade(to={upgrade.to!r}): the module defines none of the scenario's durable functions "
                             f"({', '.join(names)}); name the module that holds their new version")

    def all_functions(self) -> list[DurableFunction[..., Any]]:
        """The workflow and every function (those actors start included), each once, in a stable order."""
        out: dict[str, DurableFunction[..., Any]] = {self.workflow.name: self.workflow}
        for fn in (*self.functions, *(a.fn for a in self.actors if a.fn is not None)):
            out.setdefault(fn.name, fn)
        return list(out.values())

    def process_names(self) -> list[tuple[str, str]]:
        """(process name, group) for every worker process."""
        names = []
        i = 0
        for group, count in self.workers.items():
            for _ in range(count):
                i += 1
                names.append((f"w{i}", group))
        return names


def _where(fn: DurableFunction[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
