"""Retry policies for leaves: how long to wait before the next attempt, and when to give up.

Retries apply to leaves only (a leaf is at-least-once); a workflow is replayed, never retried.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ..core.errors import UsageError


def _check(policy: str, **values: float) -> None:
    for key, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise UsageError(f"{policy}: {key} must be a number >= 0, got {value!r}")


@attrs.frozen
class Exponential:
    """Wait ``delay * factor**(n-1)`` seconds before retry ``n``, capped at ``max_delay``."""

    delay: float = 1.0
    factor: float = 2.0
    max_retries: int = 3
    max_delay: float = 60.0

    def __attrs_post_init__(self) -> None:
        _check("Exponential", delay=self.delay, factor=self.factor, max_retries=self.max_retries,
               max_delay=self.max_delay)

    def delay_before(self, retry: int) -> float | None:
        if retry > self.max_retries:
            return None
        return float(min(self.delay * self.factor ** (retry - 1), self.max_delay))


@attrs.frozen
class Linear:
    """Wait ``delay * n`` seconds before retry ``n``."""

    delay: float = 1.0
    max_retries: int = 3

    def __attrs_post_init__(self) -> None:
        _check("Linear", delay=self.delay, max_retries=self.max_retries)

    def delay_before(self, retry: int) -> float | None:
        return None if retry > self.max_retries else float(self.delay * retry)


@attrs.frozen
class Constant:
    """Wait ``delay`` seconds before every retry."""

    delay: float = 1.0
    max_retries: int = 3

    def __attrs_post_init__(self) -> None:
        _check("Constant", delay=self.delay, max_retries=self.max_retries)

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
