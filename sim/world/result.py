"""What a world hands back: the root's outcome, the trace, fault counts and any violations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pytest_durable.core.records import PromiseRecord
from pytest_durable.sdk import result_of

from ..checks import Violation
from ..trace import Ledger, Trace


@attrs.frozen(eq=False)
class RunResult:
    """One finished world."""

    seed: int | None
    faults: str
    plan: str
    root_id: str
    root: PromiseRecord | None
    promises: tuple[PromiseRecord, ...]
    trace: Trace
    fault_counts: Mapping[str, int]
    violations: tuple[Violation, ...]
    ledger: Ledger
    decisions: tuple[tuple[str, int], ...]
    virtual_time: float
    target: str = ""
    #: Explicit plan points that never fired (``crash(w2, after_create, job.1)`` when w1 did the work).
    unfired: tuple[str, ...] = ()
    #: When faults stopped, and the liveness budget configured (before it grows with the work): a
    #: saved world needs both to run again the same way.
    quiesce_after: float = 120.0
    budget: float = 600.0
    #: The promise caps the world ran under (``SimConfig.max_promises``, ``max_depth``): a saved world
    #: needs them too.
    max_promises: int = 100_000
    max_depth: int = 2_000
    #: Workflow promises the replay oracle replayed, and those it left out because it provably could
    #: not disagree there (``sim.checks.replay_scope``).
    replayed: int = 0
    unreplayed: int = 0

    @property
    def name(self) -> str:
        """``seed 7``; ``aimed world at(crash, await pay.0)`` for the quiet world with the aimed sweep's
        fault (its plan is at-points only); else ``drawn world`` (choices Hypothesis made, or pinned)."""
        if self.seed is not None:
            return f"seed {self.seed}"
        if self.plan.startswith("at(") and all(part.strip().startswith("at(") for part in self.plan.split(";")):
            return f"aimed world {self.plan}"
        return "drawn world"

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def trace_hash(self) -> str:
        return self.trace.hash()

    @property
    def steps(self) -> int:
        return len(self.trace)

    @property
    def settled(self) -> bool:
        return self.root is not None and self.root.settled

    @property
    def value(self) -> Any:
        """The root's value; raises its error if it was rejected, ``AssertionError`` if it never settled."""
        if self.root is None or not self.root.settled:
            raise AssertionError(f"root {self.root_id} did not settle in this world (seed {self.seed})")
        return result_of(self.root)

    def with_violations(self, violations: tuple[Violation, ...]) -> RunResult:
        """This result with ``violations`` instead of its own."""
        return attrs.evolve(self, violations=violations)

    def outcome(self) -> tuple[str, Any]:
        """(state, value or error text) of the root, comparable across worlds."""
        if self.root is None or not self.root.settled:
            return ("pending", None)
        return (self.root.state.value, self.root.value)
