"""``FaultPlan``: explicit fault points instead of rates ("crash w1 after child job.1 is created",
"drop the response to the 3rd settle", "a crash after the first settle of job.1, wherever it is"),
each firing at most once; what crash search pins a world with, and what the aimed sweep runs."""

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


@attrs.frozen
class AimAt:
    """One fault at one opportunity of a world, named as the injector meets it: fault ``kind`` at the
    ``nth`` time (from 1) the world offers it at ``op about`` (``settle job.1``, ``await job``, ``body
    job.0``), with ``how`` the fault strikes where a kind has several ways (a crash ``before``, ``during``
    or ``after`` the request; a drop of the ``request`` or the ``response``; a duplicate that lands
    ``late``; a leaf rejected ``repeatedly``, there and at each later attempt up to the kind's bound).
    What the aimed sweep runs (``sim.aim``): ``at(crash, after settle job.1)``."""

    kind: str
    how: str
    op: str
    about: str
    nth: int = 1

    @property
    def where(self) -> str:
        """The opportunity's name, as ``Decisions.flip`` is given it."""
        return f"{self.op} {self.about}"

    def __str__(self) -> str:
        how = f"{self.how} " if self.how else ""
        nth = f", {self.nth}" if self.nth != 1 else ""
        return f"at({self.kind}, {how}{self.where}{nth})"


#: A leaf rejected there and at every attempt after, up to the kind's bound: it fails for good where its
#: retries are fewer, the path a saga's compensation takes.
REPEATEDLY = "repeatedly"

#: The ways each kind may strike at an ``at(...)`` point (the first is the default when none is named).
AIM_HOWS: dict[str, tuple[str, ...]] = {
    "crash": ("", *CRASH_WHEN), "drop": ("request", "response"), "duplicate": ("", "late"),
    "delay": ("",), "reject": ("", REPEATEDLY), "store_error": ("",),
}


def _aim(kind: str, middle: str, nth: str | None) -> AimAt | None:
    """``at(KIND, [HOW] OP ABOUT[, N])`` read, or ``None`` when it does not name a point."""
    words = middle.split()
    hows = AIM_HOWS.get(kind)
    if hows is None or len(words) not in (2, 3) or (nth is not None and int(nth) < 1):
        return None
    how, op, about = ("", *words) if len(words) == 2 else words
    if how not in hows or (kind == "crash" and (how == "") != (op == AT_AWAIT)):
        return None
    return AimAt(kind, how, op, about, int(nth or 1))


FaultPoint = CrashAt | DropAt | AimAt


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
            m = re.fullmatch(r"at\(\s*([a-z_]+)\s*,\s*([^,]+?)\s*(?:,\s*([0-9]+)\s*)?\)", item)
            aim = _aim(m.group(1), m.group(2), m.group(3)) if m is not None else None
            if aim is not None:
                points.append(aim)
                continue
            raise UsageError(
                f"fault plan: cannot read {item!r}; write crash(PROCESS, WHEN_OP, ID) or crash(PROCESS, WHEN_OP, "
                f"ID, N) (its Nth such request) with WHEN one of {'/'.join(CRASH_WHEN)} and OP one of "
                f"{', '.join(CRASH_OPS)}, crash(PROCESS, await, ID) (at the first await in the body of ID), "
                "drop(request|response, OP, N), or one fault at one opportunity as the aimed sweep names it: "
                "at(crash, before|during|after OP ID), at(crash, await ID), at(drop, request|response OP ID), "
                "at(reject, [repeatedly] body ID), at(duplicate, [late] OP ID), at(delay, OP ID), "
                "at(store_error, OP ID), each with an optional N (its Nth time)"
            )
        return cls(tuple(points))

    def check_processes(self, names: Sequence[str], *, where: str) -> None:
        """Every crash point names one of the scenario's processes ``names``; else one ``UsageError``
        (a point naming no process would never fire, and the world would run without it)."""
        for point in self.points:
            if isinstance(point, CrashAt) and point.process not in names:
                raise UsageError(f"{where}: {point} names process {point.process!r}, but this scenario's "
                                 f"processes are {', '.join(names)}; name one of them")
