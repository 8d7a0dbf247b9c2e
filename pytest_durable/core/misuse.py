"""Warnings for misuse the platform survives but the user should hear about, each said once per process.

A body that blocks its event loop (a synchronous ``time.sleep``, a long CPU loop) stalls every other task
of its worker, heartbeats included; a durable call built and never awaited never runs. Neither breaks a
rule the store can check, so neither is an error; staying silent would hide a bug. Each is one warning
of a named category (so ``-W error::pytest_durable.BlockingCallWarning`` can make it fatal), naming the
function at fault, said the first time only: a sweep of a thousand worlds makes one warning, not a
thousand.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class MisuseWarning(UserWarning):
    """Base of the warnings for code that works but is not what the user meant."""


class BlockingCallWarning(MisuseWarning):
    """A body blocked its worker's event loop: a synchronous ``time.sleep``, or one step that ran long."""


class UnawaitedCallWarning(MisuseWarning):
    """A durable call (``ctx.run``/``ctx.rpc``) was built but neither awaited nor spawned: it never ran."""


_said: set[tuple[type[MisuseWarning], str]] = set()
#: The warnings kept while a ``deferred`` block runs (None outside one).
_kept: list[tuple[type[MisuseWarning], str, str]] | None = None


def warn_once(category: type[MisuseWarning], key: str, message: str) -> bool:
    """Warn ``message`` unless a warning of ``category`` about ``key`` was already said in this process
    (inside a ``deferred`` block: keep it for the block's end); whether it was said or kept now."""
    if (category, key) in _said:
        return False
    _said.add((category, key))
    if _kept is not None:
        _kept.append((category, key, message))
    else:
        warnings.warn(category(message), stacklevel=2)
    return True


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block, misuse warnings are kept, and said when it ends: a simulated world says them
    after it has run, so a warning made an error (``-W error``) cannot fail the world it was found in.
    A block that raises says nothing (a later run may say it)."""
    global _kept
    if _kept is not None:  # already inside one: the outer block says them
        yield
        return
    kept: list[tuple[type[MisuseWarning], str, str]] = []
    _kept = kept
    try:
        yield
    except BaseException:
        _said.difference_update((category, key) for category, key, _ in kept)
        raise
    finally:
        _kept = None
    for category, _, message in kept:
        warnings.warn(category(message), stacklevel=3)


def forget() -> None:
    """Say every warning again from now on (for tests of the warnings themselves)."""
    _said.clear()
