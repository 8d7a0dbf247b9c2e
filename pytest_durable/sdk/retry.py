"""Retry policies for leaves: how long to wait before the next attempt, and when to give up.

Retries apply to leaves only (a leaf is at-least-once); a workflow is replayed, never retried. Some
errors are final whatever the policy: a ``NonRetryable``, a misuse of the platform (``UsageError``),
and the types a policy names in ``non_retryable``.

Beside the count of retries (``max_retries``, or None for no bound), a policy may bound the total time
(``max_duration``: no retry starts later than that many seconds of store time after the leaf's promise was
made, which its first attempt follows; like a schedule-to-close limit) and each attempt
(``attempt_timeout``: an attempt running longer is cancelled and fails with ``AttemptTimedOut``). The
leaf's own deadline (its ``timeout``) still bounds everything.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import attrs

from ..core.errors import NonRetryable, UsageError

ErrorTypes: TypeAlias = tuple[type[BaseException], ...]

#: Errors no retry can fix: the user says so (``NonRetryable``), or the program misuses the platform.
FINAL_ERRORS: ErrorTypes = (NonRetryable, UsageError)


def _check(policy: str, **values: float) -> None:
    for key, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise UsageError(f"{policy}: {key} must be a number >= 0, got {value!r}")


def _check_bounds(policy: Exponential | Linear | Constant) -> None:
    """``max_retries`` a count or None; ``max_duration`` and ``attempt_timeout`` positive or None; an
    unbounded count needs a duration, and a delay, or it would retry at one instant for ever."""
    name = type(policy).__name__
    if policy.max_retries is not None:
        _check(name, max_retries=policy.max_retries)
    for key in ("max_duration", "attempt_timeout"):
        value = getattr(policy, key)
        if value is not None and (
                not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < math.inf):
            raise UsageError(f"{name}: {key} must be a number of seconds > 0, or None, got {value!r}")
    if policy.max_retries is None and policy.max_duration is None:
        raise UsageError(
            f"{name}: max_retries=None retries without bound; give max_duration=SECONDS to bound the total "
            "time, or a number of retries"
        )
    if policy.max_retries is None and policy.delay == 0:
        raise UsageError(f"{name}: max_retries=None needs delay > 0, or every retry would start at one instant")


def _set_error_types(policy: Exponential | Linear | Constant) -> None:
    """Check ``non_retryable`` and store it as a tuple (one class alone is accepted too)."""
    value: object = policy.non_retryable
    items = (value,) if isinstance(value, type) else value
    if not isinstance(items, (tuple, list)) or not all(
        isinstance(t, type) and issubclass(t, Exception) for t in items
    ):
        raise UsageError(
            f"{type(policy).__name__}: non_retryable must be a tuple of exception classes, "
            f"e.g. (ValueError, KeyError), got {value!r}"
        )
    object.__setattr__(policy, "non_retryable", tuple(items))


@attrs.frozen
class Exponential:
    """Wait ``delay * factor**(n-1)`` seconds before retry ``n``, capped at ``max_delay``; errors of a
    type in ``non_retryable`` are not retried (nor are ``NonRetryable`` and ``UsageError``).
    ``max_retries=None`` with ``max_duration`` retries until that much time has passed;
    ``attempt_timeout`` cancels an attempt that runs longer (see the module's docstring)."""

    delay: float = 1.0
    factor: float = 2.0
    max_retries: int | None = 3
    max_delay: float = 60.0
    non_retryable: ErrorTypes = ()
    max_duration: float | None = None
    attempt_timeout: float | None = None

    def __attrs_post_init__(self) -> None:
        _check("Exponential", delay=self.delay, factor=self.factor, max_delay=self.max_delay)
        _check_bounds(self)
        _set_error_types(self)

    def delay_before(self, retry: int) -> float | None:
        if self.max_retries is not None and retry > self.max_retries:
            return None
        try:
            grown = self.delay * self.factor ** (retry - 1)
        except OverflowError:  # an unbounded policy's far retries: long past max_delay
            grown = math.inf
        return float(min(grown, self.max_delay))


@attrs.frozen
class Linear:
    """Wait ``delay * n`` seconds before retry ``n``; ``non_retryable``, ``max_duration`` and
    ``attempt_timeout`` as for ``Exponential``."""

    delay: float = 1.0
    max_retries: int | None = 3
    non_retryable: ErrorTypes = ()
    max_duration: float | None = None
    attempt_timeout: float | None = None

    def __attrs_post_init__(self) -> None:
        _check("Linear", delay=self.delay)
        _check_bounds(self)
        _set_error_types(self)

    def delay_before(self, retry: int) -> float | None:
        return None if self.max_retries is not None and retry > self.max_retries else float(self.delay * retry)


@attrs.frozen
class Constant:
    """Wait ``delay`` seconds before every retry; ``non_retryable``, ``max_duration`` and
    ``attempt_timeout`` as for ``Exponential``."""

    delay: float = 1.0
    max_retries: int | None = 3
    non_retryable: ErrorTypes = ()
    max_duration: float | None = None
    attempt_timeout: float | None = None

    def __attrs_post_init__(self) -> None:
        _check("Constant", delay=self.delay)
        _check_bounds(self)
        _set_error_types(self)

    def delay_before(self, retry: int) -> float | None:
        return None if self.max_retries is not None and retry > self.max_retries else float(self.delay)


@attrs.frozen
class Never:
    """Do not retry: the first error rejects the leaf's promise."""

    def delay_before(self, retry: int) -> float | None:
        return None


RetryPolicy: TypeAlias = Exponential | Linear | Constant | Never
RETRY_POLICIES = (Exponential, Linear, Constant, Never)
DEFAULT_RETRY: RetryPolicy = Exponential()


def retry_delay(policy: RetryPolicy, retry: int, started: float, failed_at: float) -> float | None:
    """How long to wait before retry ``retry`` of a leaf whose promise was made at ``started`` and whose
    last attempt failed at ``failed_at`` (store time), or None to give up: past ``max_retries``, or where
    the retry would start after ``max_duration`` from ``started``."""
    delay = policy.delay_before(retry)
    if delay is None or isinstance(policy, Never) or policy.max_duration is None:
        return delay
    return delay if failed_at + delay <= started + policy.max_duration else None


def attempt_timeout(policy: RetryPolicy) -> float | None:
    """How long one attempt may run before it is cancelled (``AttemptTimedOut``), or None."""
    return None if isinstance(policy, Never) else policy.attempt_timeout


def is_final(policy: RetryPolicy, error: BaseException) -> bool:
    """Whether ``error`` ends the leaf at once, whatever retries the policy has left."""
    if isinstance(policy, Never) or isinstance(error, FINAL_ERRORS):
        return True
    return isinstance(error, policy.non_retryable)
