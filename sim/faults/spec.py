"""What may go wrong in a world: rates and bounds per fault kind, and explicit fault points.

``FaultConfig`` says how often each kind happens (a probability per opportunity) and at most how
many times per world; after ``quiesce_after`` virtual seconds nothing new goes wrong, so the system
must converge. A ``FaultPlan`` names exact points instead ("crash w1 after child job.1 is created").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import attrs

from pytest_durable.core.errors import UsageError

FAULT_KINDS = ("crash", "drop", "duplicate", "delay", "partition", "server_restart", "reject", "store_error")

#: Rates used when a kind is named without one: faults are frequent enough to matter in a few
#: hundred seeds but rare enough that most requests go through.
DEFAULT_RATES: Mapping[str, float] = {
    "crash": 0.03,
    "drop": 0.03,
    "duplicate": 0.03,
    "delay": 0.05,
    "partition": 0.05,
    "server_restart": 0.03,
    "reject": 0.15,
    "store_error": 0.03,
}
DEFAULT_BOUND = 3

#: Where in a request a process may crash: before it is sent, after the server applied it but
#: before the answer arrives, or after the answer arrived (before the caller acts on it).
CRASH_WHEN = ("before", "during", "after")
#: The requests a crash point may name.
CRASH_OPS = ("create", "settle", "fulfill", "suspend", "acquire", "get", "branch", "dispatch", "heartbeat", "release")


@attrs.frozen
class FaultConfig:
    """Rates (probability per opportunity) and bounds (most per world) for each fault kind."""

    rates: Mapping[str, float] = attrs.field(factory=dict)
    bounds: Mapping[str, int] = attrs.field(factory=dict)
    quiesce_after: float = 120.0

    def __attrs_post_init__(self) -> None:
        q = self.quiesce_after
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not (math.isfinite(q) and q >= 0):
            raise UsageError(f"quiesce_after must be a finite number of seconds >= 0 (faults must stop for a "
                             f"world to settle; a large number like 3600 is fine), got {q!r}")
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise UsageError(f"FaultConfig: unknown fault kind {kind!r}; known kinds: {', '.join(FAULT_KINDS)}")
            if not 0 <= rate <= 1:
                raise UsageError(f"FaultConfig: the rate of {kind!r} must be in [0, 1], got {rate!r}")
        for kind, bound in self.bounds.items():
            if kind not in FAULT_KINDS or bound < 0:
                raise UsageError(f"FaultConfig: bad bound {kind}={bound!r}; kinds: {', '.join(FAULT_KINDS)}")

    def rate(self, kind: str) -> float:
        return self.rates.get(kind, 0.0)

    def bound(self, kind: str) -> int:
        return self.bounds.get(kind, DEFAULT_BOUND)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in FAULT_KINDS if self.rate(k) > 0)

    @classmethod
    def parse(cls, spec: str, *, quiesce_after: float = 120.0, where: str = "--faults") -> FaultConfig:
        """``"crash,drop,reject"``, ``"crash=0.1,drop"``, ``"crash:5"`` (bound), ``"all"`` or ``"none"``;
        an error names ``where`` the text came from (``--durable-faults``, a marker's ``faults=``)."""
        rates: dict[str, float] = {}
        bounds: dict[str, int] = {}
        if not isinstance(spec, str):
            raise UsageError(f"{where}: fault kinds must be a string like 'crash,drop', got {spec!r}")
        spec = spec.strip()
        if spec in ("", "none"):
            return cls(quiesce_after=quiesce_after)
        if spec == "all":
            return cls(rates=dict(DEFAULT_RATES), quiesce_after=quiesce_after)
        for part in spec.split(","):
            m = re.fullmatch(r"\s*([a-z_]+)\s*(?:=\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+))?\s*(?::\s*([0-9]+))?\s*", part)
            if m is None or m.group(1) not in FAULT_KINDS:
                raise UsageError(
                    f"{where}: cannot read {part.strip()!r}; write kinds separated by commas, each "
                    f"optionally with =rate and :bound (e.g. crash=0.05:2), from: {', '.join(FAULT_KINDS)}"
                )
            kind = m.group(1)
            rates[kind] = float(m.group(2)) if m.group(2) else DEFAULT_RATES[kind]
            if m.group(3):
                bounds[kind] = int(m.group(3))
        return cls(rates=rates, bounds=bounds, quiesce_after=quiesce_after)

    def __str__(self) -> str:
        if not self.kinds:
            return "none"
        parts = []
        for k in self.kinds:
            part = f"{k}={self.rate(k):g}"
            if k in self.bounds:
                part += f":{self.bounds[k]}"
            parts.append(part)
        return ",".join(parts)


#: The ``when`` of a crash point in the middle of a body: at its first await of its own (not inside a
#: request), with the effects before that await made and the code after it never run.
AT_AWAIT = "await"


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
