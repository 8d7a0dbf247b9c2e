"""Actors: parties outside the workflow that take part in a world (a person who approves, a payment
provider's webhook, a scheduler that starts a workflow), as ``Scenario(actors=...)`` declares them.

Each acts ``times`` times (a webhook sender may deliver twice), each time at a virtual time given
(``at=5.0``) or drawn from a window (``at=(0.0, 120.0)``, from the world's decisions: the same seed gives
the same times, 0 the earliest), and with ``maybe=True`` it may not act at all (drawn too: a person who
never answers). It sends its request through the simulated network like any client, so drops,
duplicates and delays apply to it. A settle that reaches the store before the promise exists (the
webhook came before the workflow made its ``ctx.promise(id=...)``) is answered "not found" and sent
again with backoff from 1 s, doubling up to 60 s, for ``retry_for`` seconds, as production webhook
senders retry; a settle of a promise already settled changes nothing (the store's write-once rule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from pytest_durable.core.codec import encode, encode_call, encode_error
from pytest_durable.core.errors import UsageError
from pytest_durable.core.ids import check_root_id
from pytest_durable.sdk import DurableFunction

#: What an actor does: resolve or reject a promise, or start a workflow (create its promise and task).
ACTOR_KINDS = ("resolve", "reject", "start")

#: A drawn time lies on this many evenly spaced instants of its window (the first is its start).
WINDOW_STEPS = 32

#: How long an actor whose request found no promise (or got no answer) keeps sending it, by default.
RETRY_FOR = 300.0


@attrs.frozen
class Actor:
    """One outside party: ``kind`` on promise ``id``, with its encoded ``value`` (a resolve's value, a
    reject's error) or ``param`` (a start's call), when (``at``: seconds, or a (first, last) window to
    draw from), how often (``times``), whether it may not act at all (``maybe``), how long it retries a
    request the store could not take (``retry_for``), and for a start its target ``group`` (the
    scenario's root group if ``None``) and ``timeout``. Build one with ``resolve``, ``reject`` or ``start``."""

    kind: str
    id: str
    at: float | tuple[float, float]
    value: str | None = None
    param: str = ""
    fn: DurableFunction[..., Any] | None = None
    times: int = 1
    maybe: bool = False
    retry_for: float = RETRY_FOR
    group: str | None = None
    timeout: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}({self.id})"

    def key(self) -> str:
        """What makes two actors act alike (a sweep of the same scenario is the same sweep)."""
        return repr((self.kind, self.id, self.at, self.value, self.param, self.times, self.maybe, self.retry_for,
                     self.group, self.timeout))

    @property
    def window(self) -> tuple[float, float]:
        """The first and last instant it may act at (the same for a given time)."""
        return self.at if isinstance(self.at, tuple) else (self.at, self.at)


def _number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _checked(where: str, id: object, at: object, times: object, maybe: object,
             retry_for: object) -> float | tuple[float, float]:
    if where.startswith("actors.start"):  # it names the root it starts
        check_root_id(id, where=where)
    else:  # it names a promise a workflow of the world makes
        check_root_id(id, where=where, advice="give the id of the promise it settles, as the workflow names it "
                                              "(ctx.promise(id='approval-7', ...))")
    if _number(at) and float(at) >= 0:  # type: ignore[arg-type]
        when: float | tuple[float, float] = float(at)  # type: ignore[arg-type]
    elif (isinstance(at, tuple) and len(at) == 2 and all(_number(t) for t in at)
          and 0 <= float(at[0]) <= float(at[1])):
        when = (float(at[0]), float(at[1]))
    else:
        raise UsageError(f"{where}: at= must be a virtual time in seconds >= 0 or a window (first, last) with "
                         f"0 <= first <= last, got {at!r}")
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise UsageError(f"{where}: times= must be a whole number >= 1 (how many times it sends), got {times!r}")
    if not isinstance(maybe, bool):
        raise UsageError(f"{where}: maybe= must be True (it may never act) or False, got {maybe!r}")
    if not _number(retry_for) or float(retry_for) < 0:  # type: ignore[arg-type]
        raise UsageError(f"{where}: retry_for= must be a number of seconds >= 0, got {retry_for!r}")
    return when


def resolve(id: str, value: object = None, *, at: float | tuple[float, float] = 0.0, times: int = 1,
            maybe: bool = False, retry_for: float = RETRY_FOR) -> Actor:
    """An outside party that resolves promise ``id`` with ``value`` (an approval, a payment webhook)."""
    where = f"actors.resolve({id!r})"
    when = _checked(where, id, at, times, maybe, retry_for)
    return Actor("resolve", id, when, encode(value, what=where), times=times, maybe=maybe, retry_for=float(retry_for))


def reject(id: str, error: BaseException, *, at: float | tuple[float, float] = 0.0, times: int = 1,
           maybe: bool = False, retry_for: float = RETRY_FOR) -> Actor:
    """An outside party that rejects promise ``id`` with ``error`` (a refusal, a failed payment)."""
    where = f"actors.reject({id!r})"
    when = _checked(where, id, at, times, maybe, retry_for)
    if not isinstance(error, BaseException):
        raise UsageError(f"{where}: error must be an exception instance, e.g. ValueError('declined'), got {error!r}")
    return Actor("reject", id, when, encode_error(error), times=times, maybe=maybe, retry_for=float(retry_for))


def start(id: str, fn: DurableFunction[..., Any], args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None,
          *, at: float | tuple[float, float] = 0.0, times: int = 1, maybe: bool = False,
          group: str | None = None, timeout: float | None = None, retry_for: float = RETRY_FOR) -> Actor:
    """An outside party that starts ``fn(*args, **kwargs)`` as promise ``id`` on a worker of ``group`` (the
    scenario's root group by default), with ``timeout`` seconds to settle (``SimConfig.root_timeout`` by
    default); the world runs it to its end and judges it as it does the root."""
    where = f"actors.start({id!r})"
    when = _checked(where, id, at, times, maybe, retry_for)
    if not isinstance(fn, DurableFunction):
        raise UsageError(f"{where}: fn must be a @function, got {fn!r}")
    if not isinstance(args, tuple) or (kwargs is not None and not isinstance(kwargs, Mapping)):
        raise UsageError(f"{where}: args= must be a tuple and kwargs= a mapping, got {args!r} and {kwargs!r}")
    fn.check_arguments(args, dict(kwargs or {}), where=where)
    if group is not None and (not isinstance(group, str) or not group):
        raise UsageError(f"{where}: group= must be a worker group's name, got {group!r}")
    if timeout is not None and (not _number(timeout) or timeout <= 0):
        raise UsageError(f"{where}: timeout= must be a number of seconds > 0, got {timeout!r}")
    param = encode_call(fn.name, args, dict(kwargs or {}), names=fn.param_names)
    return Actor("start", id, when, param=param, fn=fn, times=times, maybe=maybe, retry_for=float(retry_for),
                 group=group, timeout=None if timeout is None else float(timeout))


__all__ = ["ACTOR_KINDS", "RETRY_FOR", "WINDOW_STEPS", "Actor", "reject", "resolve", "start"]
