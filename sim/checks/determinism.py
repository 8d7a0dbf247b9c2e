"""Check (7), determinism: the same world gives the same trace.

Two ways to break it: a world run twice traces differently (``determinism``, which the plugin's
``--durable-check-determinism`` and ``sim run --check-determinism`` ask for), or a world replayed
from its recorded choices asks for other choices than it recorded (``diverged``): the code changed
since, or it reads time or randomness outside ``ctx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self, TypeVar

from pytest_durable.core.records import PromiseRecord

from ..kernel.decisions import Decisions
from ..trace import Trace, decodings, event_text, first_difference
from .violations import Violation, cause_first


class Judged(Protocol):
    """What this check reads of a finished world (a ``sim.RunResult``)."""

    @property
    def trace(self) -> Trace: ...

    @property
    def promises(self) -> Sequence[PromiseRecord]: ...

    @property
    def violations(self) -> tuple[Violation, ...]: ...

    @property
    def root(self) -> PromiseRecord | None: ...

    @property
    def trace_hash(self) -> str: ...

    def with_violations(self, violations: tuple[Violation, ...]) -> Self: ...


J = TypeVar("J", bound=Judged)


def determinism(first: J, second: Judged) -> J:
    """(7) ``first`` with a violation added if ``second`` (the same world run again) traced differently."""
    if second.trace_hash == first.trace_hash:
        return first
    part, a, b = first_difference(first.trace, second.trace)
    decoded = decodings(first.promises, second.promises)
    violation = Violation(
        "determinism", f"the same world gave trace {first.trace_hash} then {second.trace_hash}; they part at event "
        f"{part}: the first run had {event_text(a, decoded)}; the second had {event_text(b, decoded)}",
        next((e.id for e in (a, b) if e is not None), ""), (part,))
    return first.with_violations(cause_first((*first.violations, violation), first.root))


def diverged(decisions: Decisions) -> list[Violation]:
    """A world replayed from recorded choices that stopped matching them."""
    where = getattr(decisions, "diverged", "")
    if not where:
        return []
    return [Violation(
        "determinism", f"the world asked for other choices than the ones it replays ({where}): the code "
        "changed since they were recorded, or it reads time or randomness outside ctx")]
