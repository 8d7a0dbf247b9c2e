"""``FaultConfig``: how often each kind of fault happens (a probability per opportunity) and at most
how many times per world; after ``quiesce_after`` virtual seconds nothing new goes wrong, so the system
must converge."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs

from pytest_durable.core.errors import UsageError

from .kinds import DEFAULT_BOUND, DEFAULT_RATES, FAULT_KINDS


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
