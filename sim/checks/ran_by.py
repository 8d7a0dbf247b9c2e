"""Which version of the code ran which body, read from an upgrade world's trace (``Scenario(upgrade=...)``).

Each incarnation's ``start`` event says the version it runs, each ``body`` event which incarnation ran a
body, so a report can say "v1 (orders_v1) ran order-1 on w1#1; v2 (orders_v2_reordered) replayed it on
w1#2", and the replay oracle can replay each workflow with the version that would replay it in production:
the one whose body ran it last, or, for one still in flight once the deploy started, the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..scenario import Version
from ..trace import Trace
from .violations import Violation


class RanBy:
    """The versions of one upgrade world's incarnations and the bodies each ran, from its trace."""

    def __init__(self, trace: Trace, versions: Sequence[Version]) -> None:
        self.versions = tuple(versions)
        self._version: dict[str, int] = {}
        self._bodies: dict[str, list[str]] = {}
        self.deployed = False
        for event in trace.events:
            if event.kind == "start":
                self._version[event.who] = int(event.get("version", "1"))
            elif event.kind == "body":
                self._bodies.setdefault(event.id, []).append(event.who)
            elif event.kind == "deploy":
                self.deployed = True

    def replayer(self, promise: str, settled: bool) -> Version:
        """The version that would replay ``promise`` in production: the one that ran its body last; for a
        promise in flight, the new one once the deploy started."""
        if not settled and self.deployed:
            return self.versions[-1]
        ran = self._bodies.get(promise)
        return self.versions[self._version.get(ran[-1], 1) - 1] if ran else self.versions[0]

    def said(self, promise: str) -> str:
        """``v1 (m1) ran order-1 on w1#1; v2 (m2) replayed it on w1#2, w2#3``: each version in turn
        and the incarnations of it that ran the promise's body."""
        runs: list[tuple[int, list[str]]] = []
        for who in self._bodies.get(promise, ()):
            number = self._version.get(who, 1)
            if runs and runs[-1][0] == number:
                if who not in runs[-1][1]:
                    runs[-1][1].append(who)
            else:
                runs.append((number, [who]))
        parts = [f"{self.versions[number - 1].label} {'ran' if i == 0 else 'replayed it'} "
                 f"{promise + ' ' if i == 0 else ''}on {', '.join(whos)}" for i, (number, whos) in enumerate(runs)]
        return "; ".join(parts)

    def named(self, violation: Violation, workflow: str = "") -> Violation:
        """A nondeterminism violation, with which version ran the body of its workflow where: the
        promise ``workflow`` (the replay oracle's), or the one the violation names (a worker's)."""
        promise = workflow or violation.id
        said = self.said(promise) if violation.check == "nondeterminism" and promise else ""
        if not said:
            return violation
        return Violation(violation.check, f"{violation.message}; {said}", violation.id, violation.events)


__all__ = ["RanBy"]
