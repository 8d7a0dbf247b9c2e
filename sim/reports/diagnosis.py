"""What kind of bug a failing world shows, named in words where its checks can tell, so a report's first
lines say it before the evidence: an effect made twice by two process incarnations across a crash ("not
idempotent across a crash at <point>"), a replay that contradicts the record ("nondeterministic workflow
body"), a platform signal caught by the workflow. Empty where the checks cannot tell."""

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
        return ("nondeterministic workflow body: a replay contradicts what the store recorded (it reads something "
                "outside ctx)")
    if "user" in checks:
        return _twice_across_a_crash(result)
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
