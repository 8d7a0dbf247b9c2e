"""Check (2), no-rerun-after-resolve: no body starts after its promise was resolved.

Read from the finished trace: a ``settled`` event with state ``resolved``, then a ``body`` event for the
same promise, means a worker ran work whose result the store already held (a replay that did not look
the child up, or a stale task acquired after its promise settled).
"""

from __future__ import annotations

from ..trace import Trace
from .violations import Violation


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
