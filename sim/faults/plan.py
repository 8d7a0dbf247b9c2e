"""``FaultPlan``: explicit fault points instead of rates ("crash w1 after child job.1 is created",
"drop the response to the 3rd settle"), each firing at most once; what crash search pins a world with."""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from pytest_durable.core.errors import UsageError

from .kinds import AT_AWAIT, CRASH_OPS, CRASH_WHEN


@attrs.frozen
class CrashAt:
    """Crash ``process`` at ``when`` (before/during/after) its ``nth`` request ``op`` about promise
    ``id`` (counting that process's requests of that op about that id from 1, over its incarnations);
    or, with ``when`` ``"await"`` (and no ``op``), at the first await in the body of promise ``id``
    that ``process`` runs."""

    process: str
    when: str
    op: str
    id: str
    nth: int = 1

    def __str__(self) -> str:
        if self.when == AT_AWAIT:
            return f"crash({self.process}, {AT_AWAIT}, {self.id})"
        nth = f", {self.nth}" if self.nth != 1 else ""
        return f"crash({self.process}, {self.when}_{self.op}, {self.id}{nth})"


@attrs.frozen
class DropAt:
    """Drop the request or the response (``side``) of the ``nth`` request ``op`` (counting from 1)."""

    side: str
    op: str
    nth: int

    def __str__(self) -> str:
        return f"drop({self.side}, {self.op}, {self.nth})"


FaultPoint = CrashAt | DropAt


class UnfiredPlanWarning(UserWarning):
    """A pinned world ran without a fault its plan names: no request matched the point, so the test
    passed without the fault it was pinned to reproduce."""


@attrs.frozen
class FaultPlan:
    """Explicit fault points, each of which fires at most once."""

    points: tuple[FaultPoint, ...] = ()

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.points)

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Read ``crash(w1, after_create, job.1); drop(response, settle, 3)``."""
        points: list[FaultPoint] = []
        for raw in re.split(r"[;\n]", text):
            item = raw.strip()
            if not item:
                continue
            m = re.fullmatch(r"crash\(\s*([\w.-]+)\s*,\s*(before|during|after)_([a-z]+)\s*,\s*(\S+?)\s*"
                             r"(?:,\s*([0-9]+)\s*)?\)", item)
            if m is not None and m.group(3) in CRASH_OPS and int(m.group(5) or 1) >= 1:
                points.append(CrashAt(m.group(1), m.group(2), m.group(3), m.group(4), int(m.group(5) or 1)))
                continue
            m = re.fullmatch(r"crash\(\s*([\w.-]+)\s*,\s*await\s*,\s*(\S+?)\s*\)", item)
            if m is not None:
                points.append(CrashAt(m.group(1), AT_AWAIT, "", m.group(2)))
                continue
            m = re.fullmatch(r"drop\(\s*(request|response)\s*,\s*([a-z]+)\s*,\s*([0-9]+)\s*\)", item)
            if m is not None and m.group(2) in CRASH_OPS and int(m.group(3)) >= 1:
                points.append(DropAt(m.group(1), m.group(2), int(m.group(3))))
                continue
            raise UsageError(
                f"fault plan: cannot read {item!r}; write crash(PROCESS, WHEN_OP, ID) or crash(PROCESS, WHEN_OP, "
                f"ID, N) (its Nth such request) with WHEN one of {'/'.join(CRASH_WHEN)} and OP one of "
                f"{', '.join(CRASH_OPS)}, crash(PROCESS, await, ID) (at the first await in the body of ID), "
                "or drop(request|response, OP, N)"
            )
        return cls(tuple(points))

    def check_processes(self, names: Sequence[str], *, where: str) -> None:
        """Every crash point names one of the scenario's processes ``names``; else one ``UsageError``
        (a point naming no process would never fire, and the world would run without it)."""
        for point in self.points:
            if isinstance(point, CrashAt) and point.process not in names:
                raise UsageError(f"{where}: {point} names process {point.process!r}, but this scenario's "
                                 f"processes are {', '.join(names)}; name one of them")
