"""Virtual wall clocks for user code in a world: stand-ins for the ``time`` and ``datetime`` modules.

A simulated process's fresh copies of the user's modules (``sim.kernel.isolation``) import these instead of
the real modules, so ``time.time()``, ``time.monotonic()``, ``datetime.datetime.now()`` or
``datetime.date.today()`` in a workflow body read ``EPOCH`` plus the world's virtual time: a replay
after a crash and restart sees a later time, as it would in production, and every run of a seed sees
the same times. Outside a trio run the stand-ins read the real clock. Its ``sleep`` is
``sim.kernel.blocking.sleep``: in a world, a synchronous sleep is said and skipped.
"""

from __future__ import annotations

import datetime as _datetime
import time as _time
import types
from typing import Any

import trio

from .blocking import sleep

#: The wall-clock time (seconds since 1970) at virtual time 0 of every world: 2023-11-14 22:13:20 UTC.
EPOCH = 1_700_000_000.0


def _virtual() -> float | None:
    try:
        return trio.current_time()
    except RuntimeError:  # not inside trio.run: no world, no virtual time
        return None


def wall() -> float:
    """Seconds since 1970: ``EPOCH`` plus the virtual time inside a world, else the real clock."""
    now = _virtual()
    return _time.time() if now is None else EPOCH + now


def monotonic() -> float:
    """A monotonic clock: the virtual time inside a world, else the real monotonic clock."""
    now = _virtual()
    return _time.monotonic() if now is None else now


def _time_ns() -> int:
    return int(wall() * 1e9)


def _monotonic_ns() -> int:
    return int(monotonic() * 1e9)


def _localtime(secs: float | None = None) -> _time.struct_time:
    return _time.localtime(wall() if secs is None else secs)


def _gmtime(secs: float | None = None) -> _time.struct_time:
    return _time.gmtime(wall() if secs is None else secs)


def _ctime(secs: float | None = None) -> str:
    return _time.ctime(wall() if secs is None else secs)


def _asctime(t: Any = None) -> str:
    return _time.asctime(_localtime() if t is None else t)


def _strftime(format: str, t: Any = None) -> str:
    return _time.strftime(format, _localtime() if t is None else t)


def _time_module() -> types.ModuleType:
    module = types.ModuleType("time", _time.__doc__)
    module.__dict__.update({k: v for k, v in vars(_time).items() if not k.startswith("__")})
    module.__dict__.update(
        time=wall, time_ns=_time_ns, monotonic=monotonic, monotonic_ns=_monotonic_ns, perf_counter=monotonic,
        perf_counter_ns=_monotonic_ns, localtime=_localtime, gmtime=_gmtime, ctime=_ctime, asctime=_asctime,
        strftime=_strftime, sleep=sleep,
    )
    return module


class _StandIn(type):
    """Metaclass of the stand-in classes: a real ``datetime``/``date`` is an instance of its stand-in."""

    _real: type

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls._real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls._real)


class _Datetime(_datetime.datetime, metaclass=_StandIn):
    _real = _datetime.datetime

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
        return _datetime.datetime.fromtimestamp(wall(), tz)

    @classmethod
    def utcnow(cls) -> _datetime.datetime:  # type: ignore[override]
        return _datetime.datetime.fromtimestamp(wall(), _datetime.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> _datetime.datetime:  # type: ignore[override]
        return _datetime.datetime.fromtimestamp(wall())


class _Date(_datetime.date, metaclass=_StandIn):
    _real = _datetime.date

    @classmethod
    def today(cls) -> _datetime.date:  # type: ignore[override]
        return _datetime.date.fromtimestamp(wall())


_Datetime.__name__ = _Datetime.__qualname__ = "datetime"
_Date.__name__ = _Date.__qualname__ = "date"


def _datetime_module() -> types.ModuleType:
    module = types.ModuleType("datetime", _datetime.__doc__)
    module.__dict__.update({k: v for k, v in vars(_datetime).items() if not k.startswith("__")})
    module.__dict__.update(datetime=_Datetime, date=_Date)
    return module


#: What ``import time`` / ``import datetime`` give the fresh copies of user modules.
STAND_INS: dict[str, types.ModuleType] = {"time": _time_module(), "datetime": _datetime_module()}
