"""``DrawnWorld``: the faults and every choice of one simulated world, to run a scenario in — drawn
by Hypothesis (``worlds()``) or pinned from text (``pinned_world()``) — and, once run, its report
and the ``@durable_example`` line that replays it. (Not ``sim.world.world``'s running world: this is
what decides how that one goes.)"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import hypothesis

from pytest_durable.core.errors import UsageError
from pytest_durable.core.inspection import InspectableStore

from ..faults import FaultConfig, FaultPlan, UnfiredPlanWarning
from ..kernel.decisions import Decisions, PinnedDecisions
from ..reports import render
from ..scenario import Scenario, SimConfig
from ..trace import Event
from ..world import RunResult
from .case import guide, is_final
from .choices import choices_text, parse_choices
from .failure import describe_faults, plan_of, same_failure, short_form
from .hypothesis_decisions import HypothesisDecisions
from .known_worlds import KNOWN_WORLDS
from .opportunities import aimed, opportunities
from .seen_faults import SEEN_FAULTS


@attrs.define(eq=False)
class DrawnWorld:
    """The faults and every choice of one simulated world, to run a scenario in.

    Drawn by ``worlds()`` (choices from Hypothesis; such a world runs once) or made by
    ``pinned_world()`` (choices from text; it runs the same way every time). After a run, ``result``
    holds the ``RunResult``, ``report()`` describes it and ``pinned()`` gives the line that replays it.
    """

    faults: FaultConfig
    plan: FaultPlan
    drawn: HypothesisDecisions | None = None
    pinned_values: dict[int, int] | None = None
    pinned_from: str = ""
    aim: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    result: RunResult | None = None
    scenario: Scenario | None = None
    config: SimConfig | None = None
    #: The drawn world this one replays (``replica()``); its plan points may rightly not fire.
    replica_of: DrawnWorld | None = None
    #: The Hypothesis test case a drawn world takes its choices from (to remember its faults by them).
    case: Any = None

    def run(self, scenario: Scenario, *, config: SimConfig | None = None,
            observers: Sequence[Callable[[Event], None]] = (), store: InspectableStore | None = None) -> RunResult:
        """Run ``scenario`` in this world and check it (over ``store``, a fresh ``MemoryStore`` if not given)."""
        from ..runner import run_world

        decisions = self._decisions(scenario, config)
        self.scenario, self.config = scenario, config
        # A drawn world whose choices answer every question of a world run before is that world:
        # Hypothesis, shrinking, tries many such choice sequences (not with a store or observers to feed).
        # The world Hypothesis reports runs for real: a workflow that reads state outside ctx (so the
        # same choices give another world) is still caught there as inconsistent data generation.
        known = (id(scenario), str(self.faults), str(self.plan), config, self.drawn.budget, self.aim) \
            if self.drawn is not None and store is None and not observers and not is_final() else None
        found_before = None
        if known is not None and self.drawn is not None:
            found_before = self.drawn.known(KNOWN_WORLDS, known, scenario)
            self.drawn.raise_stopped()
        if found_before is not None and found_before.verified:
            self.result = found_before.result
        else:
            self.result = run_world(scenario, faults=self.faults, plan=self.plan, config=config,
                                    decisions=decisions, observers=observers, store=store)
        if found_before is not None:  # run a second time: the same world (else Hypothesis says it is not)
            found_before.verified = found_before.result.trace_hash == self.result.trace_hash
        elif known is not None and self.drawn is not None:
            KNOWN_WORLDS.add(known, scenario, self.drawn.asked, [v for _, v in self.drawn.log], self.result)
        if self.drawn is not None:
            self._close(self.drawn, self.result)
        elif self.result.unfired and self.replica_of is None:
            warnings.warn(UnfiredPlanWarning(
                f"{self.pinned_from or 'a pinned world'}: the plan point(s) {'; '.join(self.result.unfired)} never "
                "fired (no request matched), so this world ran without them; re-pin from a fresh search"
            ), stacklevel=2)
        return self.result

    def _decisions(self, scenario: Scenario, config: SimConfig | None) -> Decisions:
        """The choices of this world's run: a drawn world draws its faults (aimed at the opportunities
        of ``scenario``) and its schedule block now, once; a pinned world reads its pinned values."""
        if self.drawn is None:
            return PinnedDecisions(dict(self.pinned_values or {}))
        if self.result is not None:
            raise UsageError("World.run: a drawn world runs once (its choices are used up); "
                             "draw another, or pin it with world.pinned()")
        found = opportunities(scenario, self.faults, config)
        keys = aimed(found.every, *self.aim)
        timeline = {kind: [p for p in points if p[0] in keys.get(kind, ())]
                    for kind, points in found.timeline.items()}
        self.drawn.begin(self.faults, keys, timeline=timeline, span=found.span)
        self.drawn.raise_stopped()
        return self.drawn

    def _close(self, drawn: HypothesisDecisions, result: RunResult) -> None:
        """After a drawn world's run: seal its choices (so a replay that makes another world is caught),
        remember its faults for Hypothesis's print of it, steer the search, and report it on the final run."""
        drawn.seal()
        drawn.raise_stopped()
        SEEN_FAULTS.remember(self.case, short_form(result))
        guide(result)
        if is_final():
            hypothesis.note(self.report())

    def report(self) -> str:
        """The world in our words: its faults on one line, its summary and tree, and how to pin it."""
        result = self._ran("report")
        lines = [f"durable: faults: {describe_faults(result)}", render.summary(result),
                 render.world_tree(result),
                 f"durable: pin it: {self.pinned()}"]
        return "\n".join(lines)

    def replica(self) -> DrawnWorld:
        """A pinned world with this world's faults, plan and every non-zero choice of its run: running
        the same scenario in it must give the same trace (how a drawn world, whose choices are used
        up, is checked for determinism)."""
        result = self._ran("replica")
        return DrawnWorld(self.faults, self.plan,
                          pinned_values={i: v for i, (_, v) in enumerate(result.decisions) if v},
                          pinned_from=f"replica of {self!r}", replica_of=self)

    def pinned(self) -> str:
        """``@durable_example(...)`` that replays this world's failure without Hypothesis: its fault
        plan alone when a trial run shows that the plan reproduces it (``same_failure``), else its
        faults and every non-zero choice (which replays the world itself)."""
        result = self._ran("pinned")
        plan, others = plan_of(result)
        quiesce = self.faults.quiesce_after
        extra = f", quiesce_after={quiesce:g}" if quiesce != FaultConfig().quiesce_after else ""
        if (plan.points or not others) and self.scenario is not None:
            with warnings.catch_warnings():  # a trial: a point that does not fire just means "no"
                warnings.simplefilter("ignore", UnfiredPlanWarning)
                again = pinned_world(plan=str(plan), quiesce_after=quiesce).run(self.scenario, config=self.config)
            if same_failure(result, again):
                return f'@durable_example(plan="{plan}"{extra})'
        spec = f'faults="{self.faults}"' + (f', plan="{self.plan}"' if self.plan.points else "")
        return f'@durable_example({spec}, choices="{choices_text(result.decisions)}"{extra})'

    def _ran(self, what: str) -> RunResult:
        """The result of this world's run, which ``what`` needs (a ``UsageError`` before any run)."""
        if self.result is None:
            raise UsageError(f"World.{what}: run a scenario in this world first (world.run(scenario))")
        return self.result

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis prints a world in a failing example: the short form, not every field."""
        printer.text(repr(self))

    def __repr__(self) -> str:
        if self.pinned_from:
            return self.pinned_from
        if self.result is not None:
            return short_form(self.result)
        # Hypothesis prints a failing example before it runs it again: a drawn world that is not run yet
        # shows the faults the same choices gave when they last ran, if they did.
        return SEEN_FAULTS.recall(self.case) or f"World(faults={str(self.faults)!r})"


def pinned_world(*, plan: str = "", faults: str = "none", choices: str = "",
                 quiesce_after: float = 120.0) -> DrawnWorld:
    """The world a ``pinned()`` line names: its faults, explicit points and non-zero choices (every
    other choice is 0). Bad text is a ``UsageError`` naming the part that cannot be read."""
    text = ", ".join(f"{k}={v!r}" for k, v in (("plan", plan), ("faults", faults), ("choices", choices)) if v)
    return DrawnWorld(FaultConfig.parse(faults, quiesce_after=quiesce_after), FaultPlan.parse(plan),
                      pinned_values=parse_choices(choices), pinned_from=f"pinned_world({text})")
