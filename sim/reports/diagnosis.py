"""What kind of bug a failing world shows, named in words where its checks can tell, so a report's first
lines say it before the evidence: an effect made twice by two process incarnations across a crash ("not
idempotent across a crash at <point>"), a replay that contradicts the record ("nondeterministic workflow
body", or in an upgrade world one that the new version made: "an upgrade that breaks executions in
flight"), a platform signal caught by the workflow. Empty where the checks cannot tell."""

from __future__ import annotations

from ..world import RunResult

#: Checks whose violation means the workflow's body reads something outside ``ctx``.
_NONDETERMINISTIC = ("nondeterminism", "replay-children", "replay-value")


def diagnosis(result: RunResult) -> str:
    """The bug class of failing world ``result``, in a line, or ""."""
    checks = [v.check for v in result.violations]
    if "swallowed-signal" in checks:
        return "a platform signal swallowed: the workflow caught its own suspension or crash and went on"
    if any(check in _NONDETERMINISTIC for check in checks):
        deploys = result.trace.of_kind("deploy")
        if deploys:
            said = _upgrade(deploys[0].get("old"), deploys[0].detail, result)
            if said:
                return said
        return ("nondeterministic workflow body: a replay contradicts what the store recorded (it reads something "
                "outside ctx)")
    if "user" in checks:
        return _twice_across_a_crash(result)
    return ""


def _upgrade(old: str, new: str, result: RunResult) -> str:
    """The bug of an upgrade world whose replay contradicts the record, where a version replayed what the
    other recorded: the new one an old execution, or an old worker one the new version began."""
    messages = [v.message for v in result.violations if v.check in _NONDETERMINISTIC]
    if any(f"{old} replayed it" in m for m in messages):
        return (f"an old worker replayed an execution the new version began: {old} knows none of {new}'s new "
                "calls; finish the rollout before such executions can move to an old worker")
    if any(new in m for m in messages):
        return (f"an upgrade that breaks executions in flight: {new} calls other children than the old version "
                "recorded; guard the change with ctx.patched, or let those executions finish first")
    return ""


def _twice_across_a_crash(result: RunResult) -> str:
    """An effect recorded by one incarnation that crashed, and again by another: the first duplicate."""
    crashes = {event.who: event.detail for event in result.trace.of_kind("crash")}
    made: dict[str, str] = {}
    for entry in result.ledger.entries:
        first = made.setdefault(entry.key, entry.process)
        if first != entry.process and first in crashes:
            return (f"not idempotent across a crash at {crashes[first]}: {entry.key} made on {first} before it "
                    f"crashed, and again on {entry.process}")
    return ""


__all__ = ["diagnosis"]
