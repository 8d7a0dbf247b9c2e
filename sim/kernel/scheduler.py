"""The one place that makes trio's scheduler deterministic and seeded.

trio shuffles each batch of runnable tasks with a module-level ``random.Random`` (``_r``); when its
``_ALLOW_DETERMINISTIC_SCHEDULING`` flag is set (trio's own Hypothesis hook) it first sorts the batch
by task creation order, then calls ``_r.shuffle``. We set the flag and put in an ``_r`` whose shuffle
draws from ``Decisions``, for the length of one world, and restore both afterwards, even on error.
``tests/sim/test_scheduler_hook.py`` pins this against the installed trio so an upgrade that moves the
hook fails loudly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, MutableSequence
from contextlib import contextmanager
from typing import Any

import trio._core._run as _trio_run

from .decisions import Decisions


class DecisionsRandom(random.Random):
    """A ``random.Random`` whose ``shuffle`` picks the run order of a batch from ``Decisions``.

    Draw ``i`` picks which of the remaining tasks runs next, 0 being the oldest task; all zeros is
    FIFO. trio pops tasks from the end of the batch, so the chosen order is written reversed.
    """

    def __init__(self, decisions: Decisions) -> None:
        super().__init__(0)
        self.decisions = decisions

    def shuffle(self, x: MutableSequence[Any], *args: Any, **kwargs: Any) -> None:
        n = len(x)
        order = list(x)
        for i in range(n - 1):
            j = i + self.decisions.choose("schedule", n - i)
            order[i], order[j] = order[j], order[i]
        x[:] = order[::-1]


def hook_is_present() -> bool:
    """True when the installed trio still has the flag and the shuffling instance we swap."""
    return hasattr(_trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING") and isinstance(
        getattr(_trio_run, "_r", None), random.Random
    )


@contextmanager
def deterministic_scheduling(decisions: Decisions) -> Iterator[None]:
    """Within the block, every trio run schedules each batch in the order ``decisions`` picks."""
    if not hook_is_present():
        raise RuntimeError(
            "the installed trio no longer exposes the scheduling hook sim/kernel/scheduler.py relies on "
            f"(trio {trio_version()}); pin trio to a version the simulator supports"
        )
    saved_flag = _trio_run._ALLOW_DETERMINISTIC_SCHEDULING
    saved_r = _trio_run._r
    _trio_run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _trio_run._r = DecisionsRandom(decisions)
    try:
        yield
    finally:
        _trio_run._ALLOW_DETERMINISTIC_SCHEDULING = saved_flag  # type: ignore[misc]
        _trio_run._r = saved_r


def trio_version() -> str:
    import trio

    return str(trio.__version__)
