"""A broken check as a record (``Violation``), the sink a running world reports them to (``Findings``),
and the order a report gives them (``cause_first``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from pytest_durable.core.records import PromiseRecord, PromiseState

from ..trace import Trace
from .catalog import NUMBERS, RANKS, REJECTED_OUTCOME_RANK, UNKNOWN_RANK


@attrs.frozen
class Violation:
    """A broken check: its name and number (``catalog.CATALOG``), what broke, and the promise and events
    at fault."""

    check: str
    message: str
    id: str = ""
    events: tuple[int, ...] = ()

    @property
    def number(self) -> int:
        return NUMBERS.get(self.check, 0)

    def __str__(self) -> str:
        at = f" (events {', '.join(map(str, self.events))})" if self.events else ""
        return f"({self.number}) {self.check}: {self.message}{at}"


class Findings:
    """The violations a world found while it ran, each also an event of its trace (on the ``checks``
    lane, at the virtual time ``now`` gives), so a timeline shows where it broke."""

    def __init__(self, trace: Trace, now: Callable[[], float]) -> None:
        self.trace = trace
        self.now = now
        self.found: list[Violation] = []

    def report(self, check: str, message: str, id: str = "", events: tuple[int, ...] = ()) -> None:
        """Add a violation of ``check`` now, naming the promise ``id`` and the ``events`` that show it."""
        event = self.trace.add(self.now(), "checks", 0, "violation", id, f"{check}: {message}")
        self.found.append(Violation(check, message, id, (*events, event.seq)))

    def add(self, violation: Violation) -> None:
        """Add a violation whose trace event, if any, is already written."""
        self.found.append(violation)


def cause_first(violations: Iterable[Violation], root: PromiseRecord | None) -> tuple[Violation, ...]:
    """``violations`` with the cause first and its symptoms after (``catalog.CATALOG``'s ranks), each
    rank in the order found; a root rejected with an error puts its outcome violation before the user's
    invariants."""
    rejected = root is not None and root.settled and root.state is not PromiseState.RESOLVED

    def rank(v: Violation) -> int:
        if v.check in ("expected-value", "outcome") and rejected:
            return REJECTED_OUTCOME_RANK
        return RANKS.get(v.check, UNKNOWN_RANK)

    return tuple(sorted(violations, key=rank))
