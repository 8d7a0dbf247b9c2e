"""The Hypothesis strategies of crash search: ``worlds()``, worlds whose every choice Hypothesis
makes (so a failing one shrinks to fewer, earlier faults), and ``fault_plans()``, explicit plans of
crashes and drops that shrink towards the empty plan."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import hypothesis
import hypothesis.strategies as st
from hypothesis.control import current_build_context

from pytest_durable.core.errors import UsageError

from ..faults import CRASH_OPS, CRASH_WHEN, CrashAt, DropAt, FaultConfig, FaultPlan
from .case import current_case
from .drawn_world import DrawnWorld
from .draws import Draw
from .hypothesis_decisions import DEFAULT_BUDGET, HypothesisDecisions


def worlds(faults: str | FaultConfig = "crash", *, plan: str | FaultPlan | st.SearchStrategy[FaultPlan] = "",
           ops: Sequence[str] = (), ids: Sequence[str] = (), quiesce_after: float = 120.0,
           budget: int = DEFAULT_BUDGET) -> st.SearchStrategy[DrawnWorld]:
    """Worlds whose every choice Hypothesis makes: faults of the kinds in ``faults`` (each kind up to
    its bound, as in ``FaultConfig.parse``: ``"crash:1,drop"``) plus explicit points from ``plan`` (text,
    a plan or a strategy). ``ops`` and ``ids`` narrow where faults may strike: only requests of those
    ops (``create``, ``settle``, …), only about those promise ids (empty: anywhere)."""
    config = faults if isinstance(faults, FaultConfig) else FaultConfig.parse(faults, quiesce_after=quiesce_after)
    plans = plan if isinstance(plan, st.SearchStrategy) else st.just(
        plan if isinstance(plan, FaultPlan) else FaultPlan.parse(plan))
    for op in ops:
        if op not in CRASH_OPS:
            raise UsageError(f"worlds: unknown op {op!r}; ops are {', '.join(CRASH_OPS)}")
    aim = (tuple(ops), tuple(ids))

    @st.composite
    def world(draw: Draw) -> DrawnWorld:
        drawn = DrawnWorld(config, draw(plans), drawn=HypothesisDecisions(draw, budget=budget), aim=aim,
                           case=current_case())
        _insist_on_a_run(drawn)
        return drawn

    return world()


def _insist_on_a_run(world: DrawnWorld) -> None:
    """Fail a test case that ends without running ``world``: it tested nothing of the faults it drew
    (a test case that failed or was rejected on its own is left to say so)."""
    try:
        context = current_build_context()
    except hypothesis.errors.InvalidArgument:
        return
    test = getattr(context, "wrapped_test", None)
    if str(getattr(test, "__module__", "")).startswith("hypothesis."):
        return  # worlds().example() at a prompt: nothing is meant to run it

    def check() -> None:
        __tracebackhide__ = True
        if world.result is None and sys.exc_info()[1] is None:
            raise UsageError(
                f"worlds(): {getattr(test, '__name__', 'the test')} drew a world and never ran it, so it tested "
                "nothing of the faults Hypothesis drew; pass it to world.run(scenario) or "
                "durable_sim.run(workflow, ..., world=world) (run_world() or durable_sim.run() without world= "
                "run another world)"
            )

    hypothesis.control.cleanup(check)


def fault_plans(processes: Sequence[str] = ("w1", "w2"), ids: Sequence[str] = (), *,
                ops: Sequence[str] = ("create", "settle", "fulfill", "suspend", "acquire"),
                when: Sequence[str] = CRASH_WHEN, max_crashes: int = 2, max_drops: int = 0,
                max_nth: int = 20) -> st.SearchStrategy[FaultPlan]:
    """Explicit fault plans: up to ``max_crashes`` crashes of ``processes`` at any of ``when`` and ``ops`` on
    ``ids`` and up to ``max_drops`` dropped requests or responses; shrinks towards the empty plan."""
    for op in ops:
        if op not in CRASH_OPS:
            raise UsageError(f"fault_plans: unknown op {op!r}; ops are {', '.join(CRASH_OPS)}")
    for w in when:
        if w not in CRASH_WHEN:
            raise UsageError(f"fault_plans: unknown when {w!r}; use {', '.join(CRASH_WHEN)}")
    if max_crashes and not (processes and ids):
        raise UsageError("fault_plans: crashes need processes=... and ids=... (the promise ids to crash at)")
    crashes = st.builds(CrashAt, st.sampled_from(processes), st.sampled_from(when), st.sampled_from(ops),
                        st.sampled_from(ids)) if max_crashes else st.nothing()
    drops = st.builds(DropAt, st.sampled_from(("request", "response")), st.sampled_from(ops),
                      st.integers(1, max_nth)) if max_drops else st.nothing()
    return st.builds(
        lambda c, d: FaultPlan((*c, *d)),
        st.lists(crashes, max_size=max_crashes, unique=True),
        st.lists(drops, max_size=max_drops, unique=True),
    )
