"""Retry policies for leaves: how long to wait before the next attempt, and when to give up.

Retries apply to leaves only (a leaf is at-least-once); a workflow is replayed, never retried. Some
errors are final whatever the policy: a ``NonRetryable``, a misuse of the platform (``UsageError``),
and the types a policy names in ``non_retryable``.
"""

from __future__ import annotations

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
    type in ``non_retryable`` are not retried (nor are ``NonRetryable`` and ``UsageError``)."""

    delay: float = 1.0
    factor: float = 2.0
    max_retries: int = 3
    max_delay: float = 60.0
    non_retryable: ErrorTypes = ()

    def __attrs_post_init__(self) -> None:
        _check("Exponential", delay=self.delay, factor=self.factor, max_retries=self.max_retries,
               max_delay=self.max_delay)
        _set_error_types(self)

    def delay_before(self, retry: int) -> float | None:
        if retry > self.max_retries:
            return None
        return float(min(self.delay * self.factor ** (retry - 1), self.max_delay))


@attrs.frozen
class Linear:
    """Wait ``delay * n`` seconds before retry ``n``; ``non_retryable`` as for ``Exponential``."""

    delay: float = 1.0
    max_retries: int = 3
    non_retryable: ErrorTypes = ()

    def __attrs_post_init__(self) -> None:
        _check("Linear", delay=self.delay, max_retries=self.max_retries)
        _set_error_types(self)

    def delay_before(self, retry: int) -> float | None:
        return None if retry > self.max_retries else float(self.delay * retry)


@attrs.frozen
class Constant:
    """Wait ``delay`` seconds before every retry; ``non_retryable`` as for ``Exponential``."""

    delay: float = 1.0
    max_retries: int = 3
    non_retryable: ErrorTypes = ()

    def __attrs_post_init__(self) -> None:
        _check("Constant", delay=self.delay, max_retries=self.max_retries)
        _set_error_types(self)

    def delay_before(self, retry: int) -> float | None:
        return None if retry > self.max_retries else float(self.delay)


@attrs.frozen
class Never:
    """Do not retry: the first error rejects the leaf's promise."""

    def delay_before(self, retry: int) -> float | None:
        return None


RetryPolicy: TypeAlias = Exponential | Linear | Constant | Never
RETRY_POLICIES = (Exponential, Linear, Constant, Never)
DEFAULT_RETRY: RetryPolicy = Exponential()


def is_final(policy: RetryPolicy, error: BaseException) -> bool:
    """Whether ``error`` ends the leaf at once, whatever retries the policy has left."""
    if isinstance(policy, Never) or isinstance(error, FINAL_ERRORS):
        return True
    return isinstance(error, policy.non_retryable)
