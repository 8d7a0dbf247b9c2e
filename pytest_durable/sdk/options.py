"""``Options``: what a caller may set on one child call (``ctx.run(...).options(...)``), and its checks."""

from __future__ import annotations

import attrs

from ..core.errors import UsageError
from .retry import RETRY_POLICIES, RetryPolicy


@attrs.frozen
class Options:
    """Per-call options: ``timeout`` seconds, leaf ``retry`` policy, explicit ``id``, rpc ``target``."""

    timeout: float | None = None
    retry: RetryPolicy | None = None
    id: str | None = None
    target: str | None = None

    def merged(
        self, *, timeout: float | None, retry: RetryPolicy | None, id: str | None, target: str | None
    ) -> Options:
        """These options with every given (not ``None``) value replaced."""
        return Options(
            timeout=self.timeout if timeout is None else timeout,
            retry=self.retry if retry is None else retry,
            id=self.id if id is None else id,
            target=self.target if target is None else target,
        )


def check_options(where: str, timeout: float | None, retry: object, id: object, target: object) -> None:
    """A ``UsageError`` naming ``where`` for the first option given a value it cannot take."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise UsageError(f"{where}.options: timeout must be a number of seconds >= 0, got {timeout!r}")
    if retry is not None and not isinstance(retry, RETRY_POLICIES):
        raise UsageError(f"{where}.options: retry must be Exponential, Linear, Constant or Never, got {retry!r}")
    if id is not None and (not isinstance(id, str) or not id or any(c.isspace() for c in id)):
        raise UsageError(f"{where}.options: id must be a non-empty string without white space, got {id!r}")
    if target is not None and (not isinstance(target, str) or not target):
        raise UsageError(f"{where}.options: target must be a non-empty group name, got {target!r}")
