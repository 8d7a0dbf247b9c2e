"""The checks run after every world (DESIGN §5); each names the events that break it.

Checks (1) settled-once and (6) task invariants are watched step by step by the server; the rest
read the finished world here.
"""

from __future__ import annotations

from typing import Any

from pytest_durable.core.codec import describe_call
from pytest_durable.core.records import PromiseRecord

from .result import RunResult, Violation
from .trace import Trace


def no_rerun_after_resolve(trace: Trace) -> list[Violation]:
    """(2) No body started after its promise was resolved."""
    resolved: dict[str, int] = {}
    out: list[Violation] = []
    for event in trace:
        if event.kind == "settled" and event.detail.startswith("resolved"):
            resolved.setdefault(event.id, event.seq)
        elif event.kind == "body" and event.id in resolved:
            out.append(
                Violation(
                    "no-rerun-after-resolve",
                    f"the body of {event.id} ({event.detail}) started on {event.process}#{event.incarnation} after "
                    f"its promise was resolved",
                    event.id,
                    (resolved[event.id], event.seq),
                )
            )
    return out


def same_promises(promises: tuple[PromiseRecord, ...], reference: tuple[PromiseRecord, ...]) -> list[Violation]:
    """(3) The set of promise ids equals the fault-free world's."""
    ids = {p.id for p in promises}
    want = {p.id for p in reference}
    if ids == want:
        return []
    extra = sorted(ids - want)
    missing = sorted(want - ids)
    parts = []
    if extra:
        parts.append(f"{len(extra)} extra ({', '.join(extra[:5])}{', …' if len(extra) > 5 else ''})")
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''})")
    return [
        Violation(
            "same-promises", "promise ids differ from the fault-free world: " + "; ".join(parts), (extra or missing)[0]
        )
    ]


def same_value(
    root: PromiseRecord | None, reference: tuple[str, Any] | None, expected: Any, has_expected: bool
) -> list[Violation]:
    """(4) The root's value equals the fault-free world's, or the user's expectation."""
    if root is None or not root.settled:
        return []  # liveness reports it
    if has_expected:
        from pytest_durable.sdk.outcome import result_of

        try:
            value = result_of(root)
        except Exception as exc:
            return [
                Violation(
                    "same-value", f"root {root.id} was {root.state.value} ({exc}), expected {expected!r}", root.id
                )
            ]
        if value != expected:
            return [Violation("same-value", f"root {root.id} returned {value!r}, expected {expected!r}", root.id)]
        return []
    if reference is not None and (root.state.value, root.value) != reference:
        return [
            Violation(
                "same-value",
                f"root {root.id} ended {root.state.value} {_short(root.value)}; the fault-free world ended "
                f"{reference[0]} {_short(reference[1])}",
                root.id,
            )
        ]
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


def _short(text: str | None, limit: int = 120) -> str:
    if text is None:
        return "(no value)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    return first.with_violations((*first.violations, violation))
