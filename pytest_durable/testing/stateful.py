"""``DurableMachine``: a Hypothesis state machine that drives one simulated world step by step —
start the workflow, let time pass, crash a worker, restart it, drop the next message, settle a
promise from outside — with the simulator's checks as invariants after every step.

    class CheckoutMachine(DurableMachine):
        scenario = side_effect_bug.fixed()

    TestCheckout = CheckoutMachine.TestCase

Each step re-runs the world from the start with the actions so far (a world is deterministic, so
this is the same world, one step further); worlds already run are kept, for the step prefixes
Hypothesis tries again. Part-way, the checks that hold at any moment are made
(each promise settles once and never changes, no body runs after its promise resolved, the task
invariants); at teardown the world runs to its end with no further actions and must pass them all.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis import note
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sim import Decisions, PinnedDecisions, RunResult, Scenario, SeededDecisions, run_world
from sim.faults import CRASH_WHEN
from sim.reports import render
from sim.scenario import Action

from ..core.codec import decode_call

STEPS = (0.01, 0.1, 1.0, 5.0)

#: Worlds already run, by (scenario, seed, actions so far, stop time), least recently used first. A
#: world is deterministic, and Hypothesis runs the same step prefixes again and again as it generates
#: and shrinks (about three runs in five in the checkout machines), so a kept world is that world.
_WORLDS: OrderedDict[tuple[Any, ...], tuple[Scenario, RunResult]] = OrderedDict()
WORLDS_KEPT = 1024


class DurableMachine(RuleBasedStateMachine):
    """Subclass it and set ``scenario``; use ``YourMachine.TestCase`` as the test."""

    scenario: ClassVar[Scenario]

    def __init__(self) -> None:
        super().__init__()
        if not isinstance(getattr(type(self), "scenario", None), Scenario):
            raise TypeError(f"{type(self).__name__}: set the class attribute scenario = sim.Scenario(...)")
        self.now = 0.0
        self.script: list[Action] = []
        self.seed: int | None = None
        self.world: RunResult | None = None
        self.started = False
        self._future_of: tuple[tuple[Action, ...], RunResult] | None = None

    # -- running -----------------------------------------------------------------------------------------

    def _decisions(self) -> Decisions:
        return PinnedDecisions({}) if self.seed is None else SeededDecisions(self.seed)

    def _run(self, stop_at: float | None) -> RunResult:
        key = (id(self.scenario), self.seed, tuple(self.script), stop_at)
        try:
            kept = _WORLDS.get(key)
        except TypeError:  # a settle value that cannot be hashed: run it, keep nothing
            return self._run_anew(stop_at)
        if kept is not None and kept[0] is self.scenario:
            _WORLDS.move_to_end(key)
            return kept[1]
        result = _WORLDS[key] = (self.scenario, self._run_anew(stop_at))
        if len(_WORLDS) > WORLDS_KEPT:
            _WORLDS.popitem(last=False)
        return result[1]

    def _run_anew(self, stop_at: float | None) -> RunResult:
        return run_world(self.scenario, decisions=self._decisions(), script=self.script, stop_at=stop_at)

    def _future(self) -> RunResult:
        """The world run to its end with the steps so far (cached until the next action)."""
        key = tuple(self.script)
        if self._future_of is None or self._future_of[0] != key:
            self._future_of = (key, self._run(None))
        return self._future_of[1]

    def _advance(self, seconds: float) -> None:
        self.now += seconds
        self.world = self._run(self.now)

    @property
    def processes(self) -> list[str]:
        """The worker processes, the one that sent a message last first: a crash drawn from this list
        shrinks towards the process doing the work."""
        names = [name for name, _ in self.scenario.process_names()]
        last: dict[str, int] = {}
        for event in self.world.trace.of_kind("send") if self.world is not None else ():
            if event.process in names:
                last[event.process] = event.seq
        return sorted(names, key=lambda name: -last.get(name, -1))

    def pending_external(self) -> list[str]:
        """Promises made with ``ctx.promise()`` that are still pending, which a step may settle."""
        if self.world is None:
            return []
        return [p.id for p in self.world.promises
                if not p.settled and decode_call(p.param).func == "durable.promise"]

    # -- rules -----------------------------------------------------------------------------------------

    @initialize(seed=st.none() | st.integers(0, 2**32 - 1))
    def start_workflow(self, seed: int | None) -> None:
        """Start the root; ``seed`` None keeps the schedule straight (first in order, shortest delay)."""
        self.seed = seed
        self.started = True
        self._advance(0.0)

    @rule(seconds=st.sampled_from(STEPS))
    def advance_time(self, seconds: float) -> None:
        self._advance(seconds)

    @rule(events=st.integers(1, 30))
    def step(self, events: int) -> None:
        """Let the world go on until ``events`` more things have happened in it."""
        times = [e.time for e in self._future().trace if e.time > self.now]
        if times:
            self._advance(times[min(events, len(times)) - 1] - self.now)

    @rule(data=st.data())
    def crash_worker(self, data: st.DataObject) -> None:
        process = data.draw(st.sampled_from(self.processes), label="process")
        self.script.append(Action(self.now, "crash", process))
        self._advance(0.0)

    @rule(when=st.sampled_from(CRASH_WHEN), op=st.sampled_from(("create", "settle", "fulfill", "suspend")))
    def crash_at_next_request(self, when: str, op: str) -> None:
        """Crash whichever worker next sends an ``op`` request, ``when`` in it (before it is sent,
        after the server applied it, or after the answer came back)."""
        self.script.append(Action(self.now, "crash_next", f"{when} {op}"))
        self._advance(0.0)

    @rule(data=st.data())
    def restart_worker(self, data: st.DataObject) -> None:
        process = data.draw(st.sampled_from(self.processes), label="process")
        self.script.append(Action(self.now, "restart", process))
        self._advance(0.0)

    @rule(side=st.sampled_from(["request", "response"]))
    def drop_next_message(self, side: str) -> None:
        self.script.append(Action(self.now, "drop", side))
        self._advance(0.0)

    @precondition(lambda self: bool(self.pending_external()))
    @rule(data=st.data(), value=st.integers(0, 3))
    def settle_external_promise(self, data: st.DataObject, value: int) -> None:
        target = data.draw(st.sampled_from(self.pending_external()), label="promise")
        self.script.append(Action(self.now, "settle", target, value))
        self._advance(0.05)

    # -- checks ----------------------------------------------------------------------------------------

    @invariant()
    def checks_hold_so_far(self) -> None:
        if self.world is not None and not self.world.ok:
            note(self.describe(self.world))
            raise AssertionError("a check broke part-way:\n  " + "\n  ".join(map(str, self.world.violations)))

    def teardown(self) -> None:
        if not self.started:
            return
        final = self.final_world()
        if not final.ok:
            note(self.describe(final))
            raise AssertionError("the world broke a check once it ran to its end:\n  "
                                 + "\n  ".join(map(str, final.violations)))

    def final_world(self) -> RunResult:
        """The world run to its end: the steps so far, then nothing more from outside."""
        settles = [a for a in self.script if a.kind == "settle"]
        if self.pending_external() and not settles:
            # a workflow waiting on an outside promise nobody settles cannot finish; settle it once
            self.script += [Action(self.now, "settle", pid, 0) for pid in self.pending_external()]
        return self._run(None)

    def describe(self, world: RunResult) -> str:
        steps = "; ".join(map(str, self.script)) or "no actions"
        return "\n".join([f"durable: steps: {steps}", render.summary(world),
                          render.world_tree(world)])


def machine_for(scenario: Scenario, name: str = "Machine", **attributes: Any) -> type[DurableMachine]:
    """A ``DurableMachine`` subclass for ``scenario`` (for tests that build machines on the fly)."""
    return type(name, (DurableMachine,), {"scenario": scenario, **attributes})
