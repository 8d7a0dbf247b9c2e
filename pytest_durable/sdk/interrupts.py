"""The user's interrupts, found wherever trio put them: a ``KeyboardInterrupt`` (or a ``SystemExit`` from
outside a body) stops a run instead of being judged as its outcome; trio may hand it over inside an
exception group, or, when it landed in trio's own machinery, as the cause of a ``TrioInternalError``."""

from __future__ import annotations

import trio


def interrupt_in(exc: BaseException) -> BaseException | None:
    """The ``KeyboardInterrupt`` or ``SystemExit`` in ``exc`` (itself, in an exception group from trio,
    or the cause of a ``TrioInternalError``), if any."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = interrupt_in(inner)
            if found is not None:
                return found
    if isinstance(exc, trio.TrioInternalError) and exc.__cause__ is not None:
        return interrupt_in(exc.__cause__)
    return None


def afresh(interrupt: BaseException) -> BaseException:
    """The same interrupt as a new exception, to raise without the frames it crossed inside trio's run
    loop: some of those have no line number, and pytest's report of an interrupt fails on them
    (``tb_lineno`` is None) instead of saying "interrupted"."""
    try:
        return type(interrupt)(*interrupt.args)
    except Exception:  # an interrupt class that takes other arguments: keep it as it is
        return interrupt


__all__ = ["afresh", "interrupt_in"]
