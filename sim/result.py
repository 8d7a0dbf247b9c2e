"""What a world hands back: the root's outcome, the trace, fault counts and any violations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.sdk import result_of

from .ledger import Ledger
from .trace import Trace

CHECKS = {
    "settled-once": 1,
    "no-rerun-after-resolve": 2,
    "replay-children": 3,
    "replay-value": 4,
    "expected-value": 4,
    "outcome": 4,
    "liveness": 5,
    "task-invariants": 6,
    "determinism": 7,
    "user": 8,
    "error": 0,
    # platform errors inside the world: each names the promise at fault (DESIGN §5, Fidelity)
    "nondeterminism": 9,
    "unregistered": 10,
    "user-base-exception": 11,
    "stuck-body": 12,
    "missing-dependency": 13,
}

#: Violations that are the cause of a failing world; the ones of other checks they bring about (a
#: missing promise, a root that never settles) are symptoms, listed after them.
CAUSES = ("nondeterminism", "unregistered", "user-base-exception", "stuck-body", "missing-dependency")


#: Where each check's violations stand in a failing world's list, cause first (``cause_first``): what
#: broke the run itself (a platform error, an error escaping the world, two runs of one world that
#: differ); then a broken safety rule seen at an event (a promise settled twice, a body re-run after its
#: promise resolved, a task invariant); then a workflow that disagrees with its own record (replay);
#: then the root rejected with an error (the error says why the workflow ended that way); then the
#: user's invariants (a double charge, a missing effect); then a root that returned another value than
#: the acceptable ones, which what broke earlier brought about; and last a root that never settled,
#: the symptom of nearly anything.
_RANK = {
    **{check: 0 for check in (*CAUSES, "error", "determinism")},
    "settled-once": 1, "no-rerun-after-resolve": 1, "task-invariants": 1,
    "replay-children": 2, "replay-value": 2,
    "user": 4,
    "expected-value": 5, "outcome": 5,
    "liveness": 6,
}


def cause_first(violations: Iterable[Violation], root: PromiseRecord | None) -> tuple[Violation, ...]:
    """``violations`` with the cause first and its symptoms after (``_RANK``), each rank in the order
    found; a root rejected with an error puts its outcome violation before the user's invariants."""
    rejected = root is not None and root.settled and root.state is not PromiseState.RESOLVED

    def rank(v: Violation) -> int:
        if v.check in ("expected-value", "outcome") and rejected:
            return 3
        return _RANK.get(v.check, 7)

    return tuple(sorted(violations, key=rank))


@attrs.frozen
class Violation:
    """A broken check: its name and number (DESIGN §5), what broke, and the promise and events at fault."""

    check: str
    message: str
    id: str = ""
    events: tuple[int, ...] = ()

    @property
    def number(self) -> int:
        return CHECKS.get(self.check, 0)

    def __str__(self) -> str:
        at = f" (events {', '.join(map(str, self.events))})" if self.events else ""
        return f"({self.number}) {self.check}: {self.message}{at}"


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

    @property
    def name(self) -> str:
        """``seed 7``, or ``drawn world`` for one whose choices Hypothesis made (it has no seed)."""
        return f"seed {self.seed}" if self.seed is not None else "drawn world"

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
