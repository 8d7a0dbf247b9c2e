"""The checks run after every world (DESIGN §5); each names the events that break it.

Checks (1) settled-once and (6) task invariants are watched step by step by the server; (3) and (4)
replay each workflow over the store's record (``oracle``); the rest read the finished world here.
"""

from __future__ import annotations

from typing import Any

from pytest_durable.core.codec import describe_call
from pytest_durable.core.records import PromiseRecord

from .result import RunResult, Violation, cause_first
from .trace import Trace


def no_rerun_after_resolve(trace: Trace) -> list[Violation]:
    """(2) No body started after its promise was resolved."""
    resolved: dict[str, int] = {}
    out: list[Violation] = []
    for event in trace:
        if event.kind == "settled" and event.get("state") == "resolved":
            resolved.setdefault(event.id, event.seq)
        elif event.kind == "body" and event.id in resolved:
            out.append(
                Violation(
                    "no-rerun-after-resolve",
                    f"the body of {event.id} ({event.detail}) started on {event.who} after "
                    f"its promise was resolved",
                    event.id,
                    (resolved[event.id], event.seq),
                )
            )
    return out


def expected_value(root: PromiseRecord | None, expected: Any) -> list[Violation]:
    """(4) The root's value equals the user's expectation (the replay oracle, ``sim.oracle``, checks
    the rest of (4): that the value is what a replay of the record gives)."""
    if root is None or not root.settled:
        return []  # liveness reports it
    from pytest_durable.sdk import result_of

    try:
        value = result_of(root)
    except Exception as exc:
        return [Violation("expected-value", f"root {root.id} was {root.state.value} ({exc}), expected {expected!r}",
                          root.id)]
    if value != expected:
        return [Violation("expected-value", f"root {root.id} returned {value!r}, expected {expected!r}", root.id)]
    return []


def liveness(
    root: PromiseRecord | None, root_id: str, quiesce_after: float, budget: float, param: str
) -> list[Violation]:
    """(5) The root settles within the budget once faults stop."""
    if root is not None and root.settled:
        return []
    return [
        Violation(
            "liveness",
            f"root {root_id} {describe_call(param)} did not settle within {budget:g} s after faults stopped "
            f"at {quiesce_after:g} s",
            root_id,
        )
    ]


def determinism(first: RunResult, second: RunResult) -> RunResult:
    """(7) ``first`` with a violation added if ``second`` (the same world run again) traced differently."""
    if second.trace_hash == first.trace_hash:
        return first
    from . import render

    part, a, b = render.first_difference(first.trace, second.trace)
    decoded = render.decodings(first, second)
    violation = Violation(
        "determinism", f"the same world gave trace {first.trace_hash} then {second.trace_hash}; they part at event "
        f"{part}: the first run had {render.event_text(a, decoded)}; the second had {render.event_text(b, decoded)}",
        next((e.id for e in (a, b) if e is not None), ""), (part,))
    return first.with_violations(cause_first((*first.violations, violation), first.root))
