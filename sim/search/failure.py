"""A world's faults read back from its trace: as a ``FaultPlan`` (what a pin replays) and lines for
the rest, and its failure as a pin must reproduce it. It reads the events' structured fields, never
their wording, so rewording an event changes no pin."""

from __future__ import annotations

from ..faults import AT_AWAIT, CRASH_OPS, CRASH_WHEN, CrashAt, DropAt, FaultPlan
from ..reports import render
from ..world import RunResult


def plan_of(result: RunResult) -> tuple[FaultPlan, tuple[str, ...]]:
    """The faults a world had: crashes (at a request, the Nth of its kind, or at an await in a body)
    and dropped messages as ``FaultPlan`` points, and every other fault (a duplicate, delay, partition,
    server restart, rejected leaf, refused request) as a line. It reads the events' structured fields,
    never their wording."""
    points: list[CrashAt | DropAt] = []
    others: list[str] = []
    sent: dict[tuple[str, str, str], int] = {}
    per_op: dict[str, int] = {}
    asked: dict[tuple[str, str, str], int] = {}  # requests per process (all incarnations), op and id
    for event in result.trace:
        if event.kind == "send":
            op = event.get("op")
            per_op[op] = per_op.get(op, 0) + 1
            sent[(event.process, event.id, op)] = per_op[op]
            asked[(event.process, op, event.id)] = asked.get((event.process, op, event.id), 0) + 1
        elif event.kind == "crash":
            when, op, about = event.get("when"), event.get("op"), event.get("about")
            if when in CRASH_WHEN and op in CRASH_OPS:
                points.append(CrashAt(event.process, when, op, about, asked.get((event.process, op, about), 1)))
            elif when == AT_AWAIT:  # in the middle of a body: the plan names the first await there
                points.append(CrashAt(event.process, AT_AWAIT, "", about))
        elif event.kind == "drop":
            op, side = event.get("op"), event.get("side")
            nth = sent.get((event.process, event.id, op))
            if event.get("cause") == "fault" and op in CRASH_OPS and nth is not None:
                points.append(DropAt(side, op, nth))
            else:
                others.append(f"drop({event.process}, {event.detail}, {event.id})")
        elif event.kind in render.FAULT_EVENTS:  # the rest: no plan point says them
            others.append(f"{event.kind}({event.process}, {', '.join(p for p in (event.id, event.detail) if p)})")
    return FaultPlan(tuple(points)), tuple(others)


def failure_of(result: RunResult) -> frozenset[tuple[str, str]]:
    """What a world's failure is, as a pin must reproduce it: its broken checks, each with the
    promise it names (not the wording, which carries times and incarnations)."""
    return frozenset((v.check, v.id) for v in result.violations)


def same_failure(found: RunResult, again: RunResult) -> bool:
    """``again`` (a world run from a pin) fails as ``found`` did: the same broken checks by check and
    promise id (a parameter holding a fresh value may change the trace and not the bug). A world that
    broke no check can only have failed in the test's own assertions, which the world cannot see:
    then only the same trace will do."""
    if again.trace_hash == found.trace_hash:
        return True
    return bool(found.violations) and failure_of(again) == failure_of(found)


def describe_faults(result: RunResult) -> str:
    """All of a world's faults on one line: ``crash(w1, after_create, job.1); reject(w2, job.0, …)``."""
    plan, others = plan_of(result)
    return "; ".join([str(p) for p in plan.points] + list(others)) or "no faults"


def short_form(result: RunResult) -> str:
    """A world as its faults: ``World(plan="crash(w1, before_settle, checkout.1)")``, with any fault
    no plan point says after it (``others="reject(w2, job.0, …)"``)."""
    plan, others = plan_of(result)
    parts = [f'plan="{plan}"'] + ([f'others="{"; ".join(others)}"'] if others else [])
    return f"World({', '.join(parts)})"
