"""How the root ended across a sweep's worlds, for its summary: ``root outcomes: resolved 480, rejected
with TypeError 20``.

A scenario without ``expected=`` or ``outcomes=`` accepts any outcome that a replay of the world's own
record agrees with, so a root rejected in every world (a ``TypeError`` in the workflow itself, say)
passes every check. The tally makes that visible, and names the first passing world whose root was
rejected and why, instead of a bare "violations: none".
"""

from __future__ import annotations

from collections import Counter

from pytest_durable.core.errors import Rejected
from pytest_durable.core.records import PromiseState
from pytest_durable.sdk import result_of

from ..scenario import NOT_GIVEN, Scenario
from ..world import RunResult


class RootTally:
    """Counts each world's root outcome and keeps the first passing world whose root was not resolved."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first_unresolved: tuple[str, str] | None = None

    def add(self, world: str, result: RunResult) -> None:
        """Count ``result``'s root; ``world`` names it in the summary (``seed 7``, ``the fault-free world``)."""
        root = result.root
        if root is None or not root.settled:
            self.counts["never settled"] += 1
            return
        if root.state is PromiseState.RESOLVED:
            self.counts["resolved"] += 1
            return
        try:
            result_of(root)
            why, kind = root.state.value, root.state.value
        except Rejected as exc:
            message = exc.message if len(exc.message) <= 300 else f"{exc.message[:300]} … (cut)"
            why = f"{exc.type_name}: {message}"
            kind = f"{root.state.value} with {exc.type_name}"
        self.counts[kind] += 1
        if result.ok and self.first_unresolved is None:
            self.first_unresolved = (world, why)

    def lines(self, scenario: Scenario) -> list[str]:
        """The summary's lines: the outcomes by count, most first; then, when the scenario judges no
        outcome and a passing world's root was rejected, that world and its error."""
        counted = ", ".join(f"{kind} {n}" for kind, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out = [f"root outcomes: {counted or 'none'}"]
        unjudged = scenario.expected is NOT_GIVEN and scenario.outcomes is NOT_GIVEN
        if unjudged and self.first_unresolved is not None:
            world, why = self.first_unresolved
            out.append(f"  not judged: the scenario gives neither expected= nor outcomes=, and {world}'s root was "
                       f"rejected ({why})")
        return out


__all__ = ["RootTally"]
