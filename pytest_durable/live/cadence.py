"""When a schedule's ticks fall: a cron expression (via ``croniter``) or a fixed interval, in UTC.

A tick is a whole second since the Unix epoch. A cron expression has 5 fields (minute hour day month
weekday), or 6 with seconds first (``*/10 * * * * *``), or is one of croniter's aliases (``@hourly``);
``@every 30s`` (also ``m``, ``h``, or a bare number of seconds) ticks at the multiples of the interval
since the epoch, so every worker computes the same instants without reading any state.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

import attrs
from croniter import croniter

from ..core.errors import UsageError

_EVERY = re.compile(r"@every\s+(\d+)\s*([smh]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def instant_text(t: float) -> str:
    """``2026-12-08T00:00:00Z``: a tick instant as it appears in ids and listings."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@attrs.frozen
class Cadence:
    """The ticks of one schedule: ``text`` as the user wrote it, ``every`` its interval in seconds for
    ``@every``, else ``None`` (a cron expression, ``seconds_first`` when it has 6 fields)."""

    text: str
    every: int | None = None
    seconds_first: bool = False

    def after(self, t: float) -> float:
        """The first tick strictly later than ``t``."""
        if self.every is not None:
            return float((math.floor(t / self.every) + 1) * self.every)
        return float(self._cron(math.floor(t)).get_next(float))

    def latest(self, start: float, end: float, limit: int) -> list[float]:
        """The ticks in ``(start, end]``, oldest first, at most the ``limit`` latest of them (counted
        back from ``end``, so a long window costs ``limit`` steps, not its length)."""
        found: list[float] = []
        if self.every is not None:
            t = float(math.floor(end / self.every) * self.every)
            while t > start and len(found) < limit:
                found.append(t)
                t -= self.every
        else:
            cron = self._cron(math.floor(end) + 1)  # get_prev is strictly earlier: a tick at `end` counts
            while len(found) < limit:
                t = float(cron.get_prev(float))
                if t <= start:
                    break
                found.append(t)
        found.reverse()
        return found

    def _cron(self, at: float) -> croniter:
        return croniter(self.text, datetime.fromtimestamp(at, UTC), second_at_beginning=self.seconds_first)


def parse_cadence(text: str, *, where: str) -> Cadence:
    """``text`` as a ``Cadence``, or one ``UsageError`` saying what is wrong and what to write instead."""
    hint = ("write 5 fields (minute hour day-of-month month day-of-week, e.g. '0 3 * * *'), "
            "6 with seconds first ('*/10 * * * * *'), or an interval ('@every 30s')")
    spec = " ".join(text.split())
    every = _EVERY.fullmatch(spec)
    if every is not None:
        seconds = int(every.group(1)) * _UNIT[every.group(2)]
        if seconds < 1:
            raise UsageError(f"{where}: CRON {text!r}: the interval must be at least 1 second")
        return Cadence(spec, every=seconds)
    if spec.startswith("@every"):
        raise UsageError(f"{where}: CRON {text!r}: write the interval as '@every 30s', '@every 5m' or '@every 2h'")
    fields = spec.split()
    if not spec.startswith("@") and len(fields) not in (5, 6):
        raise UsageError(f"{where}: CRON {text!r} has {len(fields)} field(s); {hint}")
    cadence = Cadence(spec, seconds_first=len(fields) == 6)
    try:
        cadence.after(0.0)
    except Exception as exc:  # croniter names the field it cannot read
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"{where}: CRON {text!r} is not a cron expression ({reason}); {hint}") from None
    return cadence


__all__ = ["Cadence", "instant_text", "parse_cadence"]
